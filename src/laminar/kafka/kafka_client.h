// What the Kafka source and sink share: one RAII owner per librdkafka handle, the one
// place librdkafka errors become statuses, the client properties handed to librdkafka
// (with the user's option each came from, so errors name it, and secrets masked), and the
// connection options (bootstrap, security, `properties.*` pass-through) both declare.
// Nothing here blocks except where a timeout is passed.
#pragma once

#include <librdkafka/rdkafka.h>

#include <arrow/result.h>
#include <arrow/status.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "laminar/core/config.h"
#include "laminar/core/status.h"

namespace laminar::kafka {

// Destroys a client and forgets what the error callback recorded for it.
void DestroyClient(rd_kafka_t* rk);

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { DestroyClient(rk); }
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
  void operator()(rd_kafka_topic_t* rkt) const { rd_kafka_topic_destroy(rkt); }
  void operator()(rd_kafka_topic_partition_list_t* list) const { rd_kafka_topic_partition_list_destroy(list); }
  void operator()(rd_kafka_error_t* error) const { rd_kafka_error_destroy(error); }
  void operator()(rd_kafka_message_t* message) const { rd_kafka_message_destroy(message); }
  void operator()(rd_kafka_queue_t* queue) const { rd_kafka_queue_destroy(queue); }
  void operator()(rd_kafka_consumer_group_metadata_t* cgmd) const { rd_kafka_consumer_group_metadata_destroy(cgmd); }
  void operator()(const rd_kafka_metadata_t* metadata) const { rd_kafka_metadata_destroy(metadata); }
};

using KafkaHandle = std::unique_ptr<rd_kafka_t, HandleDeleter>;
using ConfHandle = std::unique_ptr<rd_kafka_conf_t, HandleDeleter>;
using TopicHandle = std::unique_ptr<rd_kafka_topic_t, HandleDeleter>;
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, HandleDeleter>;
using ErrorHandle = std::unique_ptr<rd_kafka_error_t, HandleDeleter>;
using MessageHandle = std::unique_ptr<rd_kafka_message_t, HandleDeleter>;
using QueueHandle = std::unique_ptr<rd_kafka_queue_t, HandleDeleter>;
using GroupMetadataHandle = std::unique_ptr<rd_kafka_consumer_group_metadata_t, HandleDeleter>;
using MetadataHandle = std::unique_ptr<const rd_kafka_metadata_t, HandleDeleter>;

inline PartitionList NewPartitionList(int size = 1) { return PartitionList(rd_kafka_topic_partition_list_new(size)); }

// The kind an rd_kafka_resp_err_t calls for: broker/network trouble and timeouts are
// transient; fencing is kFenced; authorization, unknown topics and invalid configuration
// are fatal.
ErrorKind KindOfResponse(rd_kafka_resp_err_t err);

// A status for a failed librdkafka call: "<what>: <librdkafka's text> (<ERR_NAME>)",
// origin "librdkafka", native code = err.
arrow::Status ResponseError(rd_kafka_resp_err_t err, const std::string& what);

// The same for an error object (transactional API, produceva, incremental assign); takes
// ownership. Fatal -> kFatal (kFenced when fenced); txn_requires_abort -> kNeedsAbort;
// retriable -> kTransient; otherwise by its code. OK for nullptr.
arrow::Status ErrorObjectStatus(rd_kafka_error_t* error, const std::string& what);

// An authentication or TLS failure librdkafka reported for `rk` through the error callback
// that InstallLogging sets (a refused SASL login, a certificate that does not verify).
// librdkafka retries these forever, but they never heal without a configuration change,
// so the connectors stop with this error (kFatal) instead of timing out.
std::optional<arrow::Status> SecurityFailureOf(rd_kafka_t* rk, const std::string& what);

// The instance's fatal error (rd_kafka_fatal_error), if one was raised.
std::optional<arrow::Status> FatalErrorOf(rd_kafka_t* rk, const std::string& what);

// True for librdkafka property names whose values must never be printed: IsSecretKey()
// plus PEM/keystore material that carries no "password" in its name.
bool IsSecretClientProperty(const std::string& name);

// The properties handed to librdkafka, in the order they are set (later wins), each with
// the connector option it came from so that librdkafka's refusal names the user's key.
class ClientProperties {
 public:
  void Set(const std::string& name, std::string value, std::string from_option = "");
  std::optional<std::string> Get(const std::string& name) const;
  bool Has(const std::string& name) const { return Get(name).has_value(); }
  // "option 'x'" for the option that set `name` last, or "librdkafka property 'name'".
  std::string DescribeOrigin(const std::string& name) const;
  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }

  // rd_kafka_conf_set for each; a refusal is a config error naming the option (or the
  // property when it has no option) and librdkafka's reason, never the value of a secret.
  arrow::Result<ConfHandle> MakeConf(const std::string& where) const;
  // "name=value, ..." in order, secrets as ***.
  std::string DisplayRedacted() const;

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
  std::vector<std::string> origins_;
};

// bootstrap.servers, security.protocol, sasl.mechanism/username/password, ssl.*,
// properties.* (pass-through; `kafka.*` is accepted too).
std::vector<ConfigKeySpec> ConnectionKeySpecs();

// Connection and security properties from the options, validated: a SASL protocol needs
// sasl.mechanism; PLAIN and SCRAM need username and password. Errors name the option.
arrow::Status AddConnectionProperties(const ConnectorConfig& config, ClientProperties* properties);

// `properties.<name>` and `kafka.<name>` options, applied last (they may override what
// the connector derived). `reserved` lists properties the connector must own (callbacks,
// transactional.id): setting them is a config error naming the option.
arrow::Status AddPassthroughProperties(const ConnectorConfig& config, ClientProperties* properties,
                                       const std::vector<std::string>& reserved = {});

// Whether a librdkafka property concerns the connection to the cluster (security, sockets,
// metadata, logging) rather than the producer or the consumer alone, so that another client
// of the same cluster (the sink's epoch-marker consumer, a source's dead-letter producer)
// takes it over.
bool IsClientWideProperty(const std::string& name);

// librdkafka's log lines and its error callback go to spdlog, tagged with the client name.
void InstallLogging(rd_kafka_conf_t* conf);

// rd_kafka_new from the properties (which it consumes). Errors name the offending option
// where librdkafka says which property it refused.
arrow::Result<KafkaHandle> NewClient(rd_kafka_type_t type, ConfHandle conf, const std::string& where);

// Partition count of `topic` from cluster metadata, or an error (unknown topic: fatal,
// naming it).
arrow::Result<int> PartitionCount(rd_kafka_t* rk, const std::string& topic, std::chrono::milliseconds timeout);

// "<topic>-<partition>": the key of a partition in checkpoints and dead letters. The
// topic is what precedes the last '-'.
std::string PartitionKey(const std::string& topic, int32_t partition);
std::optional<std::pair<std::string, int32_t>> ParsePartitionKey(const std::string& key);

int TimeoutMs(std::chrono::milliseconds timeout);

}  // namespace laminar::kafka
