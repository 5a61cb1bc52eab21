// Dead letters to a Kafka topic (`dead_letter.topic`): the configuration of a source's
// dead-letter producer, derived from the source's own options, and the mapping of a
// dead-letter batch (dlq::DeadLetterSchema) to messages the way Kafka Connect's dead-letter
// queue writes them: the record's original key and value bytes and its original headers,
// plus the error's context in `laminar.error.*` headers. The producer is a KafkaSink with a
// DeadLetterMapper, wrapped in a dlq::DeadLetterSink; it runs on the pipeline's driver
// thread like any sink.
#pragma once

#include <arrow/result.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "laminar/core/config.h"
#include "laminar/core/connector.h"
#include "laminar/dlq/error_router.h"
#include "laminar/kafka/kafka_message.h"
#include "laminar/kafka/kafka_sink_options.h"

namespace laminar::kafka {

// Headers each dead letter carries after the record's own headers (values are UTF-8 text).
inline constexpr char kErrorMessageHeader[] = "laminar.error.message";      // the decoder's complaint
inline constexpr char kErrorSourceHeader[] = "laminar.error.source";        // the DDL source's name
inline constexpr char kErrorConnectorHeader[] = "laminar.error.connector";  // its type: kafka, files, ...
inline constexpr char kErrorTopicHeader[] = "laminar.error.topic";          // Kafka sources only
// Kafka sources: the partition number; other sources: their partition text (the file of
// the files source), absent when they have none.
inline constexpr char kErrorPartitionHeader[] = "laminar.error.partition";
inline constexpr char kErrorOffsetHeader[] = "laminar.error.offset";              // offset, line or byte position
inline constexpr char kErrorTruncatedHeader[] = "laminar.error.value.truncated";  // "true", only when cut
inline constexpr char kErrorTimestampHeader[] = "laminar.error.timestamp";        // when it was dead-lettered, ms
// A Kafka sink's dead letters (dlq.topic) carry these too.
inline constexpr char kErrorCodeHeader[] = "laminar.error.code";    // ENCODE, KEY, or librdkafka's error name
inline constexpr char kErrorSinkHeader[] = "laminar.error.sink";    // the DDL sink's name
inline constexpr char kErrorEpochHeader[] = "laminar.error.epoch";  // exactly-once: the epoch of the row

// One message per dead letter: key = the original key (none when it had none), value = the
// original bytes (cut at dead_letter.max-raw-bytes; none for a record without value), the
// original headers in their order, then the laminar.error.* headers; the message timestamp
// is the record's own when it had one.
class DeadLetterMapper : public KafkaMessageMapper {
 public:
  // `source_connector`: the type of the source whose dead letters these are; for "kafka"
  // the "<topic>-<partition>" position splits into the topic and partition headers.
  explicit DeadLetterMapper(std::string source_connector) : source_connector_(std::move(source_connector)) {}

  // Refuses any schema but dlq::DeadLetterSchema().
  arrow::Status Bind(const arrow::Schema& schema) override;
  arrow::Status Map(const arrow::RecordBatch& batch, std::vector<KafkaMessage>* messages) override;

 private:
  std::string source_connector_;
};

// "laminar-<pipeline>-<source>.dlq": the dead-letter producer's default transactional.id.
// A data sink's default id is laminar-<pipeline>-<sink>; the ".dlq" suffix keeps them apart
// (a sink named "<source>.dlq" in quotes would not be, which the CLI refuses).
std::string DeadLetterTransactionalId(const std::string& pipeline, const std::string& source);

// The `kafka` sink configuration of a source's dead-letter producer, and where each of its
// options came from in the source's.
struct DeadLetterProducerConfig {
  std::string source_where;  // the source's (or the data sink's) ConnectorConfig::Where()
  ConnectorConfig config;    // instance "<source>.dead_letters", schema dlq::DeadLetterSchema()
  KafkaSinkOptions options;
  std::vector<std::pair<std::string, std::string>> origins;  // sink option -> source option

  // `status` (about `config`) told in terms of the source and its options, so that an error
  // names the option the user wrote (dead_letter.properties.x, not properties.x).
  arrow::Status Explain(const arrow::Status& status) const;
  // Sets a producer option that comes from the owner's option `from` ("" = derived).
  void Set(const std::string& key, const std::string& value, const std::string& from);
};

// Derives and validates (no I/O) the producer's configuration from `source`'s options:
//   topic                 dead_letter.topic
//   connection            a Kafka source without dead_letter.bootstrap.servers: the source's
//                         bootstrap.servers, security.protocol, sasl.*, ssl.* and its
//                         client-wide properties.* / kafka.* (IsClientWideProperty); otherwise
//                         dead_letter.bootstrap.servers alone
//   properties.*          then dead_letter.properties.*, which win
//   delivery.guarantee    dead_letter.delivery.guarantee, default exactly-once
//   transactional.id      dead_letter.transactional.id, default DeadLetterTransactionalId
// A Kafka source sharing its cluster may not dead-letter into a topic it reads. Errors are
// config errors naming the source's options.
arrow::Result<DeadLetterProducerConfig> MakeDeadLetterProducerConfig(const ConnectorConfig& source,
                                                                     const dlq::ErrorOptions& errors);

// A KafkaSink with a DeadLetterMapper; Open it with MakeDeadLetterProducerConfig's config.
std::unique_ptr<SinkConnector> MakeDeadLetterProducer(const std::string& source_connector);

// ---- A Kafka sink's own dead letters (dlq.topic) ----

// A row a Kafka sink cannot deliver for a reason of its own: its value could not be
// encoded, its key could not be rendered, librdkafka refused the message (too large), or
// (at-least-once) the broker refused it for good, alone in its batch.
struct SinkDeadLetter {
  std::optional<std::string> key;    // the row's key, when it has one that could be rendered
  std::optional<std::string> value;  // the encoded value; none when encoding failed
  std::string error;                 // why, naming the row
  std::string code;                  // ENCODE, KEY, or librdkafka's name (MSG_SIZE_TOO_LARGE, INVALID_RECORD ...)
  std::optional<int32_t> partition;  // where the broker refused it, when it got that far
};

// The dead letter as a message to dlq.topic: the original key and value, then the headers
// laminar.error.message, .code, .sink, .connector (kafka), .topic (the sink's topic),
// .partition (when known), .epoch (when known: exactly-once), .value.truncated (only when
// the value was cut to `max_value_bytes`), .timestamp (`now_ms`). The message points into
// `letter`, which must outlive it.
KafkaMessage SinkDeadLetterMessage(const SinkDeadLetter& letter, const std::string& sink, const std::string& topic,
                                   std::optional<uint64_t> epoch, int64_t now_ms, size_t max_value_bytes);

// The `kafka` sink configuration of a Kafka sink's dead-letter producer (instance
// "<sink>.dead_letters", no input schema: it is given whole messages):
//   topic                 dlq.topic
//   connection            without dlq.bootstrap.servers: the sink's bootstrap.servers,
//                         security.protocol, sasl.*, ssl.* and its client-wide properties.* /
//                         kafka.* (IsClientWideProperty: not message.max.bytes, linger.ms ...);
//                         otherwise dlq.bootstrap.servers alone
//   properties.*          then dlq.properties.*, which win
//   delivery.guarantee    the sink's; transaction.timeout.ms and delivery.timeout.ms too
//   transactional.id      dlq.transactional.id, default the sink's transactional.id + ".dlq"
// Errors name the sink's options. `sink` must have dlq.topic.
arrow::Result<DeadLetterProducerConfig> MakeSinkDeadLetterProducerConfig(const ConnectorConfig& sink,
                                                                         const KafkaSinkOptions& sink_options);

}  // namespace laminar::kafka
