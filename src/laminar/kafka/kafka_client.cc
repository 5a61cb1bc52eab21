#include "laminar/kafka/kafka_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <string_view>

#include "laminar/core/secrets.h"

namespace laminar::kafka {

namespace {

constexpr const char* kOrigin = "librdkafka";

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string Upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
  return text;
}

}  // namespace

int TimeoutMs(std::chrono::milliseconds timeout) {
  return static_cast<int>(std::clamp<int64_t>(timeout.count(), 0, 1 << 30));
}

ErrorKind KindOfResponse(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR__IN_PROGRESS:
    case RD_KAFKA_RESP_ERR__RETRY:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    case RD_KAFKA_RESP_ERR_FETCH_SESSION_ID_NOT_FOUND:
    case RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT:
      return ErrorKind::kTransient;
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID:
      return ErrorKind::kFenced;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PROTOCOL:
      return ErrorKind::kConfig;
    default:
      return ErrorKind::kFatal;
  }
}

arrow::Status ResponseError(rd_kafka_resp_err_t err, const std::string& what) {
  return MakeError(KindOfResponse(err), kOrigin,
                   what + ": " + rd_kafka_err2str(err) + " (" + rd_kafka_err2name(err) + ")", static_cast<int>(err));
}

arrow::Status ErrorObjectStatus(rd_kafka_error_t* error, const std::string& what) {
  if (error == nullptr) return arrow::Status::OK();
  ErrorHandle owned(error);
  const rd_kafka_resp_err_t code = rd_kafka_error_code(error);
  const std::string text = what + ": " + rd_kafka_error_string(error) + " (" + rd_kafka_error_name(error) + ")";
  ErrorKind kind = KindOfResponse(code);
  if (rd_kafka_error_is_fatal(error)) {
    kind = kind == ErrorKind::kFenced ? ErrorKind::kFenced : ErrorKind::kFatal;
  } else if (rd_kafka_error_txn_requires_abort(error)) {
    kind = ErrorKind::kNeedsAbort;
  } else if (rd_kafka_error_is_retriable(error)) {
    kind = ErrorKind::kTransient;
  }
  return MakeError(kind, kOrigin, text, static_cast<int>(code));
}

std::optional<arrow::Status> FatalErrorOf(rd_kafka_t* rk, const std::string& what) {
  char reason[512];
  const rd_kafka_resp_err_t err = rd_kafka_fatal_error(rk, reason, sizeof(reason));
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return std::nullopt;
  const ErrorKind kind = KindOfResponse(err) == ErrorKind::kFenced ? ErrorKind::kFenced : ErrorKind::kFatal;
  return MakeError(kind, kOrigin, what + ": fatal client error: " + reason + " (" + rd_kafka_err2name(err) + ")",
                   static_cast<int>(err));
}

bool IsSecretClientProperty(const std::string& name) {
  if (IsSecretKey(name)) return true;
  static const char* kSecret[] = {"ssl.key.pem", "ssl_key", "ssl.keystore.location", "sasl.oauthbearer.config",
                                  "sasl.kerberos.keytab"};
  const std::string lower = Lower(name);
  return std::any_of(std::begin(kSecret), std::end(kSecret), [&](const char* s) { return lower == s; });
}

void ClientProperties::Set(const std::string& name, std::string value, std::string from_option) {
  // Every librdkafka property passes here, derived ones too; librdkafka may log them.
  if (IsSecretClientProperty(name)) RegisterSecret(value);
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].first == name) {
      entries_[i].second = std::move(value);
      origins_[i] = std::move(from_option);
      return;
    }
  }
  entries_.emplace_back(name, std::move(value));
  origins_.push_back(std::move(from_option));
}

std::optional<std::string> ClientProperties::Get(const std::string& name) const {
  for (const auto& [key, value] : entries_) {
    if (key == name) return value;
  }
  return std::nullopt;
}

std::string ClientProperties::DescribeOrigin(const std::string& name) const {
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].first == name) {
      return origins_[i].empty() ? "librdkafka property '" + name + "'" : "option '" + origins_[i] + "'";
    }
  }
  return "librdkafka property '" + name + "'";
}

arrow::Result<ConfHandle> ClientProperties::MakeConf(const std::string& where) const {
  ConfHandle conf(rd_kafka_conf_new());
  char reason[512];
  for (size_t i = 0; i < entries_.size(); ++i) {
    const auto& [name, value] = entries_[i];
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), reason, sizeof(reason)) != RD_KAFKA_CONF_OK) {
      return ConfigError(where, DescribeOrigin(name) + " is refused by librdkafka: " + reason);
    }
  }
  return conf;
}

std::string ClientProperties::DisplayRedacted() const {
  std::string out;
  for (const auto& [name, value] : entries_) {
    if (!out.empty()) out += ", ";
    out += name + "=" + (IsSecretClientProperty(name) ? "***" : value);
  }
  return out;
}

std::vector<ConfigKeySpec> ConnectionKeySpecs() {
  return {
      ConfigKeySpec::Required("bootstrap.servers", ConfigType::kString, "Kafka brokers, host:port[,host:port...]."),
      ConfigKeySpec::Optional("security.protocol", ConfigType::kString, "plaintext",
                              "plaintext, ssl, sasl_plaintext or sasl_ssl (case and '-'/'_' do not matter)."),
      ConfigKeySpec::Unset("sasl.mechanism", ConfigType::kString,
                           "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, GSSAPI or OAUTHBEARER; required with a sasl_* protocol."),
      ConfigKeySpec::Unset("sasl.username", ConfigType::kString, "SASL user (PLAIN, SCRAM)."),
      ConfigKeySpec::Unset("sasl.password", ConfigType::kString, "SASL password (PLAIN, SCRAM)."),
      ConfigKeySpec::Unset("ssl.ca.location", ConfigType::kString, "CA certificate file for TLS."),
      ConfigKeySpec::Unset("ssl.certificate.location", ConfigType::kString, "Client certificate file for TLS."),
      ConfigKeySpec::Unset("ssl.key.location", ConfigType::kString, "Client private key file for TLS."),
      ConfigKeySpec::Unset("ssl.key.password", ConfigType::kString, "Password of the client private key."),
      ConfigKeySpec::Unset("properties.*", ConfigType::kString,
                           "Any librdkafka property, passed through after the connector's own settings "
                           "(properties.session.timeout.ms = '6000'); secrets are masked in logs."),
      ConfigKeySpec::Unset("kafka.*", ConfigType::kString, "Same as properties.* (the upstream spelling)."),
  };
}

arrow::Status AddConnectionProperties(const ConnectorConfig& config, ClientProperties* properties) {
  const std::string where = config.Where();
  ARROW_ASSIGN_OR_RAISE(auto bootstrap, config.Require("bootstrap.servers"));
  if (bootstrap.find_first_not_of(" \t") == std::string::npos) {
    return ConfigError(where, "option 'bootstrap.servers' must not be empty");
  }
  properties->Set("bootstrap.servers", bootstrap, "bootstrap.servers");

  std::string protocol = Lower(config.Get("security.protocol").value_or("plaintext"));
  std::replace(protocol.begin(), protocol.end(), '-', '_');
  if (protocol != "plaintext" && protocol != "ssl" && protocol != "sasl_plaintext" && protocol != "sasl_ssl") {
    return ConfigError(where, "option 'security.protocol' = '" + protocol +
                                  "' is not one of plaintext, ssl, sasl_plaintext, sasl_ssl");
  }
  properties->Set("security.protocol", protocol, "security.protocol");

  const bool sasl = protocol.rfind("sasl_", 0) == 0;
  auto mechanism_option = config.Get("sasl.mechanism");
  if (mechanism_option) {
    std::string mechanism = Upper(*mechanism_option);
    std::replace(mechanism.begin(), mechanism.end(), '_', '-');
    if (mechanism == "SCRAM-SHA256") mechanism = "SCRAM-SHA-256";
    if (mechanism == "SCRAM-SHA512") mechanism = "SCRAM-SHA-512";
    if (mechanism == "KERBEROS") mechanism = "GSSAPI";
    if (mechanism == "OAUTH") mechanism = "OAUTHBEARER";
    static const char* kMechanisms[] = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", "OAUTHBEARER"};
    if (std::none_of(std::begin(kMechanisms), std::end(kMechanisms), [&](const char* m) { return mechanism == m; })) {
      return ConfigError(where, "option 'sasl.mechanism' = '" + mechanism +
                                    "' is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, GSSAPI, OAUTHBEARER");
    }
    if (!sasl) {
      return ConfigError(where, "option 'sasl.mechanism' needs security.protocol sasl_plaintext or sasl_ssl, not " +
                                    protocol);
    }
    properties->Set("sasl.mechanisms", mechanism, "sasl.mechanism");
    if (mechanism == "PLAIN" || mechanism.rfind("SCRAM", 0) == 0) {
      if (!config.Has("sasl.username") || !config.Has("sasl.password")) {
        return ConfigError(where, "sasl.mechanism " + mechanism +
                                      " needs both 'sasl.username' and 'sasl.password'");
      }
    }
  } else if (sasl) {
    return ConfigError(where, "security.protocol " + protocol + " needs option 'sasl.mechanism'");
  }
  for (const char* key : {"sasl.username", "sasl.password"}) {
    if (auto value = config.Get(key)) properties->Set(key, *value, key);
  }
  const bool tls = protocol == "ssl" || protocol == "sasl_ssl";
  for (const char* key : {"ssl.ca.location", "ssl.certificate.location", "ssl.key.location", "ssl.key.password"}) {
    auto value = config.Get(key);
    if (!value) continue;
    if (!tls) {
      return ConfigError(where, "option '" + std::string(key) + "' needs security.protocol ssl or sasl_ssl, not " +
                                    protocol);
    }
    if (value->empty()) return ConfigError(where, "option '" + std::string(key) + "' must not be empty");
    properties->Set(key, *value, key);
  }
  return arrow::Status::OK();
}

arrow::Status AddPassthroughProperties(const ConnectorConfig& config, ClientProperties* properties,
                                       const std::vector<std::string>& reserved) {
  for (const char* prefix : {"kafka.", "properties."}) {
    for (const auto& [name, value] : config.PropertiesWithPrefix(prefix)) {
      const std::string option = prefix + name;
      if (name.empty()) return ConfigError(config.Where(), "option '" + option + "' names no property");
      if (std::find(reserved.begin(), reserved.end(), name) != reserved.end()) {
        return ConfigError(config.Where(), "option '" + option + "' cannot be passed through: the connector sets '" +
                                               name + "' itself");
      }
      properties->Set(name, value, option);
    }
  }
  return arrow::Status::OK();
}

bool IsClientWideProperty(const std::string& name) {
  static const char* kPrefixes[] = {"sasl.", "ssl.", "ssl_", "socket.", "broker.", "client.", "security.",
                                    "api.", "metadata.", "reconnect.", "retry.", "topic.metadata.", "debug",
                                    "log", "connections.", "enable.ssl.", "allow.auto.create.topics"};
  return std::any_of(std::begin(kPrefixes), std::end(kPrefixes),
                     [&](const char* prefix) { return name.rfind(prefix, 0) == 0; });
}

namespace {

void LogCallback(const rd_kafka_t* rk, int level, const char* facility, const char* line) {
  const char* name = rk != nullptr ? rd_kafka_name(rk) : "rdkafka";
  if (level <= 2) {
    spdlog::error("{} {}: {}", name, facility, line);
  } else if (level <= 4) {  // LOG_ERR includes connection failures, which librdkafka retries
    spdlog::warn("{} {}: {}", name, facility, line);
  } else {
    spdlog::debug("{} {}: {}", name, facility, line);
  }
}

// The first authentication/TLS failure of each live client (see SecurityFailureOf).
std::mutex security_failures_mu;
std::map<const rd_kafka_t*, std::string>& SecurityFailures() {
  static std::map<const rd_kafka_t*, std::string> failures;
  return failures;
}

void ErrorCallback(rd_kafka_t* rk, int err, const char* reason, void* /*opaque*/) {
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  // TLS failures often arrive as transport errors; their text tells them apart.
  const std::string_view text = reason != nullptr ? reason : "";
  const bool tls_refused = text.find("SSL handshake failed") != std::string_view::npos ||
                           text.find("certificate verify failed") != std::string_view::npos;
  if (code == RD_KAFKA_RESP_ERR__AUTHENTICATION || code == RD_KAFKA_RESP_ERR__SSL || tls_refused) {
    std::lock_guard<std::mutex> lock(security_failures_mu);
    SecurityFailures().try_emplace(rk, reason != nullptr ? reason : rd_kafka_err2str(code));
  }
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    spdlog::error("{}: fatal: {}", rd_kafka_name(rk), reason);
  } else if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || code == RD_KAFKA_RESP_ERR__TRANSPORT) {
    spdlog::debug("{}: {} ({})", rd_kafka_name(rk), reason, rd_kafka_err2name(code));
  } else {
    spdlog::warn("{}: {} ({})", rd_kafka_name(rk), reason, rd_kafka_err2name(code));
  }
}

}  // namespace

void DestroyClient(rd_kafka_t* rk) {
  rd_kafka_destroy(rk);
  std::lock_guard<std::mutex> lock(security_failures_mu);
  SecurityFailures().erase(rk);
}

std::optional<arrow::Status> SecurityFailureOf(rd_kafka_t* rk, const std::string& what) {
  std::lock_guard<std::mutex> lock(security_failures_mu);
  auto it = SecurityFailures().find(rk);
  if (it == SecurityFailures().end()) return std::nullopt;
  return FatalError(kOrigin, what + ": the broker refused the connection's security settings (check sasl.*, "
                                    "ssl.* and security.protocol): " + it->second);
}

void InstallLogging(rd_kafka_conf_t* conf) {
  rd_kafka_conf_set_log_cb(conf, LogCallback);
  rd_kafka_conf_set_error_cb(conf, ErrorCallback);
}

arrow::Result<KafkaHandle> NewClient(rd_kafka_type_t type, ConfHandle conf, const std::string& where) {
  char reason[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), reason, sizeof(reason));
  if (rk == nullptr) {
    // rd_kafka_new keeps the conf on failure; ours frees it.
    return ConfigError(where, std::string("librdkafka refuses the client configuration: ") + reason);
  }
  (void)conf.release();  // owned by rk now
  return KafkaHandle(rk);
}

arrow::Result<int> PartitionCount(rd_kafka_t* rk, const std::string& topic, std::chrono::milliseconds timeout) {
  TopicHandle rkt(rd_kafka_topic_new(rk, topic.c_str(), nullptr));
  if (!rkt) return arrow::Status::Invalid("cannot create a handle for topic '", topic, "'");
  const rd_kafka_metadata_t* raw = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt.get(), &raw, TimeoutMs(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return ResponseError(err, "metadata of topic '" + topic + "'");
  MetadataHandle metadata(raw);
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const auto& t = metadata->topics[i];
    if (topic != t.topic) continue;
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) return ResponseError(t.err, "topic '" + topic + "'");
    if (t.partition_cnt <= 0) return FatalError(kOrigin, "topic '" + topic + "' has no partitions");
    return t.partition_cnt;
  }
  return FatalError(kOrigin, "topic '" + topic + "' is not in the cluster metadata");
}

std::string PartitionKey(const std::string& topic, int32_t partition) {
  return topic + "-" + std::to_string(partition);
}

std::optional<std::pair<std::string, int32_t>> ParsePartitionKey(const std::string& key) {
  const auto dash = key.rfind('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 >= key.size()) return std::nullopt;
  auto partition = ParseInt64(key.substr(dash + 1));
  if (!partition.ok() || *partition < 0 || *partition > INT32_MAX) return std::nullopt;
  return std::make_pair(key.substr(0, dash), static_cast<int32_t>(*partition));
}

}  // namespace laminar::kafka
