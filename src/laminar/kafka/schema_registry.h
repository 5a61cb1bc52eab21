// A client of the Confluent Schema Registry REST API (also served by Apicurio's ccompat
// API and Redpanda): writer schemas by id, registration, compatibility checks and levels.
// Requests go through libcurl with a deadline each; bodies are JSON (Boost.JSON). The
// client is safe to share between threads (one mutex around its caches); every call may
// block for up to the request timeout.
#pragma once

#include <arrow/result.h>
#include <arrow/status.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "laminar/core/config.h"

namespace laminar::kafka {

// The registry's compatibility levels (`schema.compatibility`).
enum class Compatibility {
  kNone,
  kBackward,
  kBackwardTransitive,
  kForward,
  kForwardTransitive,
  kFull,
  kFullTransitive,
};
const char* CompatibilityName(Compatibility level);  // "BACKWARD_TRANSITIVE"
// Case-insensitive, '-' accepted for '_'; nullopt for anything else.
std::optional<Compatibility> ParseCompatibility(const std::string& text);

// How the sink names the subject it registers its schema under
// (`schema.registry.subject.strategy`), as Confluent's serializers do.
enum class SubjectStrategy {
  kTopicName,        // "<topic>-value"
  kRecordName,       // "<namespace>.<name>" of the record
  kTopicRecordName,  // "<topic>-<namespace>.<name>"
};
std::optional<SubjectStrategy> ParseSubjectStrategy(const std::string& text);
// `record_full_name` is the Avro record's full name (namespace.name, or name alone).
std::string SubjectName(SubjectStrategy strategy, const std::string& topic, const std::string& record_full_name);

// Percent-encodes everything but RFC 3986's unreserved characters, so that a subject
// with '/', ' ', '%' or '?' stays one path segment.
std::string EscapePathSegment(const std::string& text);

// schema.registry.* keys (and schema.compatibility) both Kafka connectors accept; the sink
// adds its subject keys (SchemaRegistrySinkKeySpecs).
std::vector<ConfigKeySpec> SchemaRegistryKeySpecs();
std::vector<ConfigKeySpec> SchemaRegistrySinkKeySpecs();

struct SchemaRegistryOptions {
  std::string url;  // base URL, no trailing '/': http://host:8081 or .../apis/ccompat/v7
  std::string username;
  std::string password;  // never printed
  std::string ca_location;
  std::string certificate_location;
  std::string key_location;
  std::string key_password;                  // never printed
  std::chrono::milliseconds timeout{30000};  // per request, connecting included
  // A request without an answer, or answered 408/429/5xx, is sent up to 3 times, pausing
  // retry_pause, then twice that: a registry restart should not stop a pipeline.
  std::chrono::milliseconds retry_pause{250};
  std::optional<Compatibility> compatibility;

  // nullopt when schema.registry.url is not set. Errors (config kind) name the key:
  // username without password (or the reverse), a URL that is not http(s), an unknown level.
  static arrow::Result<std::optional<SchemaRegistryOptions>> FromConfig(const ConnectorConfig& config);
  // The URL with any user:password@ part replaced by ***@, for messages.
  std::string DisplayUrl() const;
};

// Whether the connector's format is Avro with the Confluent framing (format avro or
// confluent-avro, format.avro.wire confluent), the only one a registry serves.
bool UsesConfluentAvro(const ConnectorConfig& config);

// Config check shared by the source and sink options: Confluent Avro with neither a
// registry nor a pinned schema is a config error naming schema.registry.url. The source
// is pinned by format.avro.schema, the sink by format.avro.schema.id.
arrow::Status CheckRegistryNeeded(const ConnectorConfig& config, bool sink);

struct HttpRequest {
  std::string method;  // GET, POST, PUT
  std::string url;
  std::string body;  // empty: none
};

struct HttpResponse {
  long status = 0;
  std::string body;
};

// Sends one request; a non-OK status only when no HTTP answer came (connection refused,
// TLS failure, timeout). Tests plug in fakes; the default is libcurl (CurlTransport).
using HttpTransport = std::function<arrow::Result<HttpResponse>(const HttpRequest&)>;

// libcurl with the options' credentials, TLS files, headers and timeout.
HttpTransport CurlTransport(const SchemaRegistryOptions& options);

class SchemaRegistryClient {
 public:
  explicit SchemaRegistryClient(SchemaRegistryOptions options);
  SchemaRegistryClient(SchemaRegistryOptions options, HttpTransport transport);

  // GET /schemas/ids/{id}: the schema text. Cached for good (an id never changes meaning).
  // KeyError when the registry answers 404 (or the schema is not Avro); IOError when it
  // cannot be reached or answers 5xx (after retries); other failures per StatusOf.
  arrow::Result<std::string> SchemaById(int32_t id);

  // POST /subjects/{subject}/versions: the schema's id (an existing identical version
  // gives its id again). Cached per (subject, schema text). 409/422: an Invalid status
  // naming the subject and quoting the registry.
  arrow::Result<int32_t> Register(const std::string& subject, const std::string& schema);

  // POST /compatibility/subjects/{subject}/versions/latest. OK when compatible or when the
  // subject has no version yet (404); otherwise an Invalid status naming the subject and
  // quoting the registry's reasons.
  arrow::Status CheckCompatibility(const std::string& subject, const std::string& schema);

  // PUT /config/{subject}.
  arrow::Status SetCompatibility(const std::string& subject, Compatibility level);

  // The compatibility check, then registration: what the sink does at Open.
  arrow::Result<int32_t> CheckAndRegister(const std::string& subject, const std::string& schema);

  const SchemaRegistryOptions& options() const { return options_; }

  // The status for an answer that is not 2xx: 404 -> KeyError, 409/422 -> Invalid (the
  // schema was refused), 401/403 -> fatal, 408/429/5xx -> IOError (transient), others
  // fatal. The text says what was asked (`what`), the status and the registry's message,
  // with the password masked.
  arrow::Status StatusOf(const std::string& what, const HttpResponse& response) const;

  // `text` with the password (and the Basic credentials built from it) replaced by ***.
  std::string Mask(std::string text) const;

 private:
  arrow::Result<HttpResponse> Send(const std::string& method, const std::string& path, const std::string& body);

  SchemaRegistryOptions options_;
  HttpTransport transport_;
  std::mutex mutex_;  // guards the caches
  std::map<int32_t, std::string> schemas_by_id_;
  std::map<std::pair<std::string, std::string>, int32_t> ids_by_subject_schema_;
};

}  // namespace laminar::kafka
