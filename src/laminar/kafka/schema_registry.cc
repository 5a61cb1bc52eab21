#include "laminar/kafka/schema_registry.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <thread>

#include "laminar/core/status.h"
#include "laminar/serde/codec.h"

namespace laminar::kafka {

namespace json = boost::json;

namespace {

constexpr const char* kOrigin = "schema-registry";
constexpr const char* kMediaType = "application/vnd.schemaregistry.v1+json";
constexpr int kAttempts = 3;  // see SchemaRegistryOptions::retry_pause

struct LevelName {
  Compatibility level;
  const char* name;
};
constexpr LevelName kLevels[] = {
    {Compatibility::kNone, "NONE"},
    {Compatibility::kBackward, "BACKWARD"},
    {Compatibility::kBackwardTransitive, "BACKWARD_TRANSITIVE"},
    {Compatibility::kForward, "FORWARD"},
    {Compatibility::kForwardTransitive, "FORWARD_TRANSITIVE"},
    {Compatibility::kFull, "FULL"},
    {Compatibility::kFullTransitive, "FULL_TRANSITIVE"},
};

std::string Upper(std::string text) {
  for (char& c : text) c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

std::string Base64(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t n = (uint32_t{static_cast<uint8_t>(in[i])} << 16) |
                       (uint32_t{static_cast<uint8_t>(in[i + 1])} << 8) | static_cast<uint8_t>(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(n >> shift) & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t n = uint32_t{static_cast<uint8_t>(in[i])} << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t n = (uint32_t{static_cast<uint8_t>(in[i])} << 16) | (uint32_t{static_cast<uint8_t>(in[i + 1])} << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

void ReplaceAll(std::string* text, const std::string& what, const std::string& with) {
  if (what.empty()) return;
  for (size_t at = text->find(what); at != std::string::npos; at = text->find(what, at + with.size())) {
    text->replace(at, what.size(), with);
  }
}

// The registry's own words: the "message" of its JSON error body, else the body itself
// (shortened: an HTML error page from a proxy is not worth quoting whole).
std::string RegistryMessage(const std::string& body) {
  boost::system::error_code ec;
  const json::value parsed = json::parse(body, ec);
  if (!ec && parsed.is_object()) {
    const auto& object = parsed.as_object();
    if (const auto* message = object.if_contains("message"); message && message->is_string()) {
      return std::string(message->as_string());
    }
  }
  std::string text = body.substr(0, 300);
  if (body.size() > 300) text += "...";
  return text.empty() ? "(empty answer)" : text;
}

arrow::Result<json::object> ParseObject(const std::string& what, const std::string& body) {
  boost::system::error_code ec;
  json::value parsed = json::parse(body, ec);
  if (ec || !parsed.is_object()) {
    return FatalError(kOrigin, what + ": the registry's answer is not a JSON object: " + RegistryMessage(body));
  }
  return std::move(parsed.as_object());
}

size_t Collect(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

}  // namespace

const char* CompatibilityName(Compatibility level) {
  for (const auto& entry : kLevels) {
    if (entry.level == level) return entry.name;
  }
  return "?";
}

std::optional<Compatibility> ParseCompatibility(const std::string& text) {
  const std::string upper = Upper(text);
  for (const auto& entry : kLevels) {
    if (upper == entry.name) return entry.level;
  }
  return std::nullopt;
}

std::optional<SubjectStrategy> ParseSubjectStrategy(const std::string& text) {
  std::string lower = text;
  for (char& c : lower) c = c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "topic_name" || lower == "topicnamestrategy") return SubjectStrategy::kTopicName;
  if (lower == "record_name" || lower == "recordnamestrategy") return SubjectStrategy::kRecordName;
  if (lower == "topic_record_name" || lower == "topicrecordnamestrategy") return SubjectStrategy::kTopicRecordName;
  return std::nullopt;
}

std::string SubjectName(SubjectStrategy strategy, const std::string& topic, const std::string& record_full_name) {
  switch (strategy) {
    case SubjectStrategy::kTopicName:
      return topic + "-value";
    case SubjectStrategy::kRecordName:
      return record_full_name;
    case SubjectStrategy::kTopicRecordName:
      return topic + "-" + record_full_name;
  }
  return topic + "-value";
}

std::string EscapePathSegment(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::vector<ConfigKeySpec> SchemaRegistryKeySpecs() {
  // All Unset: a key the user did not write must stay absent, so that registry keys
  // without schema.registry.url can be refused.
  return {
      ConfigKeySpec::Unset("schema.registry.url", ConfigType::kString,
                           "Confluent-API schema registry (http(s)://host:port, or Apicurio's .../apis/ccompat/v7): "
                           "writer schemas of format avro (Confluent wire) by id; the sink registers its schema."),
      ConfigKeySpec::Unset("schema.registry.username", ConfigType::kString,
                           "Basic-auth user of the registry (with schema.registry.password)."),
      ConfigKeySpec::Unset("schema.registry.password", ConfigType::kString,
                           "Basic-auth password of the registry (with schema.registry.username).")
          .Secret(),
      ConfigKeySpec::Unset("schema.registry.ssl.ca.location", ConfigType::kString,
                           "CA certificate file (PEM) the registry's TLS certificate is checked against."),
      ConfigKeySpec::Unset("schema.registry.ssl.certificate.location", ConfigType::kString,
                           "Client certificate file (PEM) for TLS client authentication to the registry."),
      ConfigKeySpec::Unset("schema.registry.ssl.key.location", ConfigType::kString,
                           "Private key file (PEM) of the client certificate."),
      ConfigKeySpec::Unset("schema.registry.ssl.key.password", ConfigType::kString,
                           "Password of schema.registry.ssl.key.location.")
          .Secret(),
      ConfigKeySpec::Unset("schema.registry.timeout.ms", ConfigType::kInt,
                           "Deadline of one registry request, connecting included (default 30000)."),
      ConfigKeySpec::Unset("schema.compatibility", ConfigType::kString,
                           "Compatibility level the sink sets on its subject before registering: NONE, BACKWARD, "
                           "BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE (default: "
                           "the registry's)."),
  };
}

std::vector<ConfigKeySpec> SchemaRegistrySinkKeySpecs() {
  return {
      ConfigKeySpec::Unset("schema.registry.subject.strategy", ConfigType::kString,
                           "Subject the sink registers under: topic_name (default, '<topic>-value'), record_name "
                           "('<namespace>.<name>' of the record), topic_record_name ('<topic>-<namespace>.<name>')."),
      ConfigKeySpec::Unset("schema.registry.subject", ConfigType::kString,
                           "Subject the sink registers under, instead of the strategy's."),
  };
}

arrow::Result<std::optional<SchemaRegistryOptions>> SchemaRegistryOptions::FromConfig(const ConnectorConfig& config) {
  const std::string where = config.Where();
  auto url = config.Get("schema.registry.url");
  if (!url) {
    for (const auto& [key, value] : config.properties()) {
      if (key.rfind("schema.registry.", 0) == 0 || key == "schema.compatibility") {
        return ConfigError(where, "option '" + key + "' needs option 'schema.registry.url'");
      }
    }
    return std::nullopt;
  }
  SchemaRegistryOptions o;
  o.url = *url;
  while (!o.url.empty() && o.url.back() == '/') o.url.pop_back();
  std::string scheme = o.url.substr(0, o.url.find("://"));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  if ((scheme != "http" && scheme != "https") || o.url.find("://") == std::string::npos ||
      o.url.size() <= scheme.size() + 3) {
    return ConfigError(where,
                       "option 'schema.registry.url' = '" + o.DisplayUrl() + "' is not an http:// or https:// URL");
  }
  const bool has_user = config.Has("schema.registry.username");
  const bool has_password = config.Has("schema.registry.password");
  if (has_user != has_password) {
    return ConfigError(where,
                       std::string("option '") + (has_user ? "schema.registry.username" : "schema.registry.password") +
                           "' needs option '" + (has_user ? "schema.registry.password" : "schema.registry.username") +
                           "': set both or neither");
  }
  o.username = config.Get("schema.registry.username").value_or("");
  o.password = config.Get("schema.registry.password").value_or("");
  if (has_user && o.username.empty()) {
    return ConfigError(where, "option 'schema.registry.username' must not be empty");
  }
  o.ca_location = config.Get("schema.registry.ssl.ca.location").value_or("");
  o.certificate_location = config.Get("schema.registry.ssl.certificate.location").value_or("");
  o.key_location = config.Get("schema.registry.ssl.key.location").value_or("");
  o.key_password = config.Get("schema.registry.ssl.key.password").value_or("");
  if (!o.key_location.empty() && o.certificate_location.empty()) {
    return ConfigError(where,
                       "option 'schema.registry.ssl.key.location' needs option "
                       "'schema.registry.ssl.certificate.location'");
  }
  ARROW_ASSIGN_OR_RAISE(auto timeout, config.GetInt64("schema.registry.timeout.ms", 30000));
  if (timeout < 1) return ConfigError(where, "option 'schema.registry.timeout.ms' must be positive");
  o.timeout = std::chrono::milliseconds(timeout);
  if (auto level = config.Get("schema.compatibility")) {
    o.compatibility = ParseCompatibility(*level);
    if (!o.compatibility) {
      return ConfigError(where, "option 'schema.compatibility' = '" + *level +
                                    "' is not one of NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, "
                                    "FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE");
    }
  }
  return o;
}

std::string SchemaRegistryOptions::DisplayUrl() const {
  const size_t scheme_end = url.find("://");
  const size_t authority = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  const size_t at = url.find('@', authority);
  const size_t path = url.find('/', authority);
  if (at == std::string::npos || (path != std::string::npos && at > path)) return url;
  return url.substr(0, authority) + "***" + url.substr(at);
}

bool UsesConfluentAvro(const ConnectorConfig& config) {
  const auto format = serde::CanonicalFormatName(config.Get("format").value_or("json"));
  return format == "avro" && config.Get("format.avro.wire").value_or("confluent") == "confluent";
}

arrow::Status CheckRegistryNeeded(const ConnectorConfig& config, bool sink) {
  if (!UsesConfluentAvro(config) || config.Has("schema.registry.url")) return arrow::Status::OK();
  const char* pin = sink ? "format.avro.schema.id" : "format.avro.schema";
  if (config.Has(pin)) return arrow::Status::OK();
  return ConfigError(config.Where(),
                     std::string("option 'schema.registry.url' is required for format avro with the Confluent wire "
                                 "format (") +
                         (sink ? "the sink registers its schema there and writes the id it gets"
                               : "writer schemas are fetched from it by the id in each message") +
                         "); without a registry, pin the schema with '" + pin + "'" +
                         (sink ? " and 'format.avro.schema'" : "") + ", or set 'format.avro.wire' = 'plain'");
}

HttpTransport CurlTransport(const SchemaRegistryOptions& options) {
  return [options](const HttpRequest& request) -> arrow::Result<HttpResponse> {
    static const bool initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    if (!initialised) return FatalError(kOrigin, "libcurl could not be initialised");
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) return FatalError(kOrigin, "libcurl: no handle");
    struct curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, (std::string("Accept: ") + kMediaType + ", application/json").c_str());
    if (!request.body.empty())
      headers = curl_slist_append(headers, (std::string("Content-Type: ") + kMediaType).c_str());
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_guard(headers, curl_slist_free_all);
    HttpResponse response;
    char error[CURL_ERROR_SIZE] = {0};
    CURL* h = curl.get();
    curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (!request.body.empty() || request.method != "GET") {
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    if (!options.username.empty()) {
      curl_easy_setopt(h, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
      curl_easy_setopt(h, CURLOPT_USERNAME, options.username.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, options.password.c_str());
    }
    if (!options.ca_location.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, options.ca_location.c_str());
    if (!options.certificate_location.empty()) {
      curl_easy_setopt(h, CURLOPT_SSLCERT, options.certificate_location.c_str());
    }
    if (!options.key_location.empty()) curl_easy_setopt(h, CURLOPT_SSLKEY, options.key_location.c_str());
    if (!options.key_password.empty()) curl_easy_setopt(h, CURLOPT_KEYPASSWD, options.key_password.c_str());
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, Collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min<int64_t>(options.timeout.count(), 10000)));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM in a multi-threaded process
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    const CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
      const std::string detail = error[0] != 0 ? error : curl_easy_strerror(rc);
      const bool tls = rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM ||
                       rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR;
      return MakeError(tls ? ErrorKind::kFatal : ErrorKind::kTransient, kOrigin,
                       request.method + " " + request.url + ": no answer: " + detail, static_cast<int>(rc));
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    return response;
  };
}

SchemaRegistryClient::SchemaRegistryClient(SchemaRegistryOptions options)
    : options_(std::move(options)), transport_(CurlTransport(options_)) {}

SchemaRegistryClient::SchemaRegistryClient(SchemaRegistryOptions options, HttpTransport transport)
    : options_(std::move(options)), transport_(std::move(transport)) {}

std::string SchemaRegistryClient::Mask(std::string text) const {
  if (!options_.password.empty()) {
    ReplaceAll(&text, Base64(options_.username + ":" + options_.password), "***");
    ReplaceAll(&text, options_.password, "***");
  }
  if (!options_.key_password.empty()) ReplaceAll(&text, options_.key_password, "***");
  const std::string display = options_.DisplayUrl();
  if (display != options_.url) ReplaceAll(&text, options_.url, display);
  return text;
}

arrow::Status SchemaRegistryClient::StatusOf(const std::string& what, const HttpResponse& response) const {
  const std::string text =
      Mask(what + ": HTTP " + std::to_string(response.status) + ": " + RegistryMessage(response.body));
  const int code = static_cast<int>(response.status);
  switch (response.status) {
    case 404:
      return arrow::Status::KeyError(text);
    case 409:
    case 422:
      return arrow::Status::Invalid(text);
    case 401:
    case 403:
      return FatalError(
          kOrigin,
          text + (options_.username.empty() ? " (no credentials were sent)" : " (as user '" + options_.username + "')"),
          code);
    case 408:
    case 429:
      return TransientError(kOrigin, text, code);
    default:
      break;
  }
  if (response.status >= 500) return TransientError(kOrigin, text, code);
  return FatalError(kOrigin, text, code);
}

arrow::Result<HttpResponse> SchemaRegistryClient::Send(const std::string& method, const std::string& path,
                                                       const std::string& body) {
  HttpRequest request{method, options_.url + path, body};
  arrow::Result<HttpResponse> response;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    response = transport_(request);
    const bool retry = !response.ok() ? IsRetryable(response.status())
                                      : response->status >= 500 || response->status == 408 || response->status == 429;
    if (!retry || attempt == kAttempts) break;
    spdlog::warn("schema registry: {} {} failed ({}); retrying", method, Mask(request.url),
                 response.ok() ? "HTTP " + std::to_string(response->status) : Mask(response.status().message()));
    std::this_thread::sleep_for(options_.retry_pause * attempt);
  }
  if (!response.ok()) return response.status().WithMessage(Mask(response.status().message()));
  return response;
}

arrow::Result<std::string> SchemaRegistryClient::SchemaById(int32_t id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = schemas_by_id_.find(id); it != schemas_by_id_.end()) return it->second;
  }
  const std::string what = "schema registry " + options_.DisplayUrl() + ": schema ID " + std::to_string(id);
  ARROW_ASSIGN_OR_RAISE(auto response, Send("GET", "/schemas/ids/" + std::to_string(id), ""));
  if (response.status != 200) return StatusOf(what, response);
  ARROW_ASSIGN_OR_RAISE(auto object, ParseObject(what, response.body));
  const auto* schema = object.if_contains("schema");
  if (schema == nullptr || !schema->is_string()) {
    return FatalError(kOrigin, what + ": the answer has no \"schema\" string");
  }
  if (const auto* type = object.if_contains("schemaType"); type && type->is_string() && type->as_string() != "AVRO") {
    return arrow::Status::KeyError(what, " is a ", std::string(type->as_string()), " schema, not Avro");
  }
  std::string text(schema->as_string());
  std::lock_guard<std::mutex> lock(mutex_);
  schemas_by_id_.emplace(id, text);
  return text;
}

arrow::Result<int32_t> SchemaRegistryClient::Register(const std::string& subject, const std::string& schema) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = ids_by_subject_schema_.find({subject, schema}); it != ids_by_subject_schema_.end()) {
      return it->second;
    }
  }
  const std::string what =
      "schema registry " + options_.DisplayUrl() + ": registering the schema under subject '" + subject + "'";
  const std::string body = json::serialize(json::object{{"schema", schema}});
  ARROW_ASSIGN_OR_RAISE(auto response, Send("POST", "/subjects/" + EscapePathSegment(subject) + "/versions", body));
  if (response.status == 409) {
    return arrow::Status::Invalid(
        Mask("schema registry " + options_.DisplayUrl() + " refused the schema for subject '" + subject +
             "' as incompatible with its earlier versions (HTTP 409): " + RegistryMessage(response.body)));
  }
  if (response.status == 422) {
    return arrow::Status::Invalid(Mask("schema registry " + options_.DisplayUrl() +
                                       " refused the schema for subject '" + subject +
                                       "' as invalid (HTTP 422): " + RegistryMessage(response.body)));
  }
  if (response.status != 200) return StatusOf(what, response);
  ARROW_ASSIGN_OR_RAISE(auto object, ParseObject(what, response.body));
  const auto* id = object.if_contains("id");
  if (id == nullptr || !id->is_int64() || id->as_int64() < INT32_MIN || id->as_int64() > INT32_MAX) {
    return FatalError(kOrigin, what + ": the answer has no 32-bit \"id\": " + RegistryMessage(response.body));
  }
  const auto result = static_cast<int32_t>(id->as_int64());
  std::lock_guard<std::mutex> lock(mutex_);
  ids_by_subject_schema_[{subject, schema}] = result;
  schemas_by_id_.emplace(result, schema);
  return result;
}

arrow::Status SchemaRegistryClient::CheckCompatibility(const std::string& subject, const std::string& schema) {
  const std::string what =
      "schema registry " + options_.DisplayUrl() + ": compatibility check of subject '" + subject + "'";
  const std::string body = json::serialize(json::object{{"schema", schema}});
  ARROW_ASSIGN_OR_RAISE(
      auto response,
      Send("POST", "/compatibility/subjects/" + EscapePathSegment(subject) + "/versions/latest?verbose=true", body));
  if (response.status == 404) return arrow::Status::OK();  // no version yet: anything goes
  if (response.status == 409 || response.status == 422) {
    return arrow::Status::Invalid(Mask("schema registry " + options_.DisplayUrl() + " finds the schema for subject '" +
                                       subject + "' incompatible (HTTP " + std::to_string(response.status) +
                                       "): " + RegistryMessage(response.body)));
  }
  if (response.status != 200) return StatusOf(what, response);
  ARROW_ASSIGN_OR_RAISE(auto object, ParseObject(what, response.body));
  const auto* compatible = object.if_contains("is_compatible");
  if (compatible == nullptr || !compatible->is_bool()) {
    return FatalError(kOrigin, what + ": the answer has no \"is_compatible\": " + RegistryMessage(response.body));
  }
  if (compatible->as_bool()) return arrow::Status::OK();
  // Confluent lists "messages" (with ?verbose=true); Apicurio gives one "reason".
  std::string reasons;
  if (const auto* reason = object.if_contains("reason"); reason && reason->is_string()) {
    reasons = std::string(reason->as_string());
  }
  if (const auto* messages = object.if_contains("messages"); messages && messages->is_array()) {
    for (const auto& message : messages->as_array()) {
      reasons += (reasons.empty() ? "" : "; ") +
                 (message.is_string() ? std::string(message.as_string()) : json::serialize(message));
    }
  }
  return arrow::Status::Invalid(Mask("schema registry " + options_.DisplayUrl() + " finds the schema for subject '" +
                                     subject + "' incompatible with its latest version" +
                                     (reasons.empty() ? std::string() : ": " + reasons)));
}

arrow::Status SchemaRegistryClient::SetCompatibility(const std::string& subject, Compatibility level) {
  const std::string what = "schema registry " + options_.DisplayUrl() + ": setting compatibility " +
                           CompatibilityName(level) + " on subject '" + subject + "'";
  const std::string body = json::serialize(json::object{{"compatibility", CompatibilityName(level)}});
  ARROW_ASSIGN_OR_RAISE(auto response, Send("PUT", "/config/" + EscapePathSegment(subject), body));
  if (response.status != 200) return StatusOf(what, response);
  return arrow::Status::OK();
}

arrow::Result<int32_t> SchemaRegistryClient::CheckAndRegister(const std::string& subject, const std::string& schema) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = ids_by_subject_schema_.find({subject, schema}); it != ids_by_subject_schema_.end()) {
      return it->second;
    }
  }
  ARROW_RETURN_NOT_OK(CheckCompatibility(subject, schema));
  return Register(subject, schema);
}

}  // namespace laminar::kafka
