#include "laminar/kafka/kafka_dead_letter.h"

#include <arrow/api.h>

#include <algorithm>
#include <regex>

#include "laminar/core/status.h"
#include "laminar/kafka/kafka_client.h"
#include "laminar/kafka/kafka_sink.h"
#include "laminar/kafka/kafka_source_options.h"

namespace laminar::kafka {

namespace {

// Columns of dlq::DeadLetterSchema(), in its order (Bind and Map check the schema).
enum Column : int {
  kSource = 0,
  kPartition,
  kOffset,
  kError,
  kKey,
  kValue,
  kValueTruncated,
  kHeaders,
  kTimestamp,
  kDeadLetteredAt,
};

}  // namespace

arrow::Status DeadLetterMapper::Bind(const arrow::Schema& schema) {
  if (!schema.Equals(*dlq::DeadLetterSchema(), /*check_metadata=*/false)) {
    return ConfigError("dead-letter producer", "its input must be dead letters (" +
                                                   dlq::DeadLetterSchema()->ToString() + "), not " + schema.ToString());
  }
  return arrow::Status::OK();
}

arrow::Status DeadLetterMapper::Map(const arrow::RecordBatch& batch, std::vector<KafkaMessage>* messages) {
  if (!batch.schema()->Equals(*dlq::DeadLetterSchema(), /*check_metadata=*/false)) {
    return arrow::Status::Invalid("dead-letter producer: a batch of ", batch.schema()->ToString(),
                                  " is not a batch of dead letters");
  }
  const auto& source = static_cast<const arrow::StringArray&>(*batch.column(kSource));
  const auto& partition = static_cast<const arrow::StringArray&>(*batch.column(kPartition));
  const auto& offset = static_cast<const arrow::StringArray&>(*batch.column(kOffset));
  const auto& error = static_cast<const arrow::StringArray&>(*batch.column(kError));
  const auto& key = static_cast<const arrow::BinaryArray&>(*batch.column(kKey));
  const auto& value = static_cast<const arrow::BinaryArray&>(*batch.column(kValue));
  const auto& truncated = static_cast<const arrow::BooleanArray&>(*batch.column(kValueTruncated));
  const auto& headers = static_cast<const arrow::ListArray&>(*batch.column(kHeaders));
  const auto& timestamp = static_cast<const arrow::Int64Array&>(*batch.column(kTimestamp));
  const auto& lettered_at = static_cast<const arrow::Int64Array&>(*batch.column(kDeadLetteredAt));
  // value_offset() indexes the list's values array; field() applies the struct's own offset.
  const auto& header_fields = static_cast<const arrow::StructArray&>(*headers.values());
  const auto header_names = std::static_pointer_cast<arrow::StringArray>(header_fields.field(0));
  const auto header_values = std::static_pointer_cast<arrow::BinaryArray>(header_fields.field(1));

  const bool kafka_source = source_connector_ == "kafka";
  for (int64_t row = 0; row < batch.num_rows(); ++row) {
    KafkaMessage& message = messages->emplace_back();
    if (key.IsValid(row)) message.key = key.GetView(row);
    if (value.IsValid(row)) message.value = value.GetView(row);
    if (timestamp.IsValid(row) && timestamp.Value(row) > 0) message.timestamp_ms = timestamp.Value(row);
    auto& out = message.headers;
    if (headers.IsValid(row)) {
      for (int64_t i = headers.value_offset(row); i < headers.value_offset(row + 1); ++i) {
        out.emplace_back(header_names->GetString(i), header_values->IsValid(i)
                                                         ? std::optional<std::string>(header_values->GetString(i))
                                                         : std::nullopt);
      }
    }
    out.emplace_back(kErrorMessageHeader, error.GetString(row));
    out.emplace_back(kErrorSourceHeader, source.GetString(row));
    out.emplace_back(kErrorConnectorHeader, source_connector_);
    if (partition.IsValid(row)) {
      const std::string text = partition.GetString(row);
      auto topic_partition = kafka_source ? ParsePartitionKey(text) : std::nullopt;
      if (topic_partition) {
        out.emplace_back(kErrorTopicHeader, topic_partition->first);
        out.emplace_back(kErrorPartitionHeader, std::to_string(topic_partition->second));
      } else {
        out.emplace_back(kErrorPartitionHeader, text);
      }
    }
    out.emplace_back(kErrorOffsetHeader, offset.GetString(row));
    if (truncated.Value(row)) out.emplace_back(kErrorTruncatedHeader, "true");
    out.emplace_back(kErrorTimestampHeader, std::to_string(lettered_at.Value(row)));
  }
  return arrow::Status::OK();
}

std::string DeadLetterTransactionalId(const std::string& pipeline, const std::string& source) {
  return DefaultTransactionalId(pipeline, source + ".dlq");
}

arrow::Status DeadLetterProducerConfig::Explain(const arrow::Status& status) const {
  if (status.ok()) return status;
  // "option 'properties.x'" -> "option 'dead_letter.properties.x'", in one pass.
  const std::string& text = status.message();
  static const std::string kOption = "option '";
  std::string explained;
  size_t at = 0;
  while (true) {
    const size_t found = text.find(kOption, at);
    const size_t name_end = found == std::string::npos ? std::string::npos : text.find('\'', found + kOption.size());
    if (name_end == std::string::npos) break;
    const std::string name = text.substr(found + kOption.size(), name_end - found - kOption.size());
    auto origin = std::find_if(origins.begin(), origins.end(), [&](const auto& entry) { return entry.first == name; });
    explained += text.substr(at, found + kOption.size() - at);
    explained += origin != origins.end() && !origin->second.empty() ? origin->second : name;
    at = name_end;
  }
  explained += text.substr(at);
  // The sink's "where" names an object the user never declared.
  const std::string sink_where = config.Where();
  explained = explained.rfind(sink_where, 0) == 0 ? explained.substr(sink_where.size()) : ": " + explained;
  return status.WithMessage(source_where, ": dead-letter producer for topic '", options.topic, "'", explained);
}

void DeadLetterProducerConfig::Set(const std::string& key, const std::string& value, const std::string& from) {
  config.Set(key, value);
  origins.erase(std::remove_if(origins.begin(), origins.end(), [&](const auto& entry) { return entry.first == key; }),
                origins.end());
  origins.emplace_back(key, from);
}

namespace {

// The producer's configuration for `owner` (a source or a data sink): its name, the
// dead-letter topic (from the owner's option `topic_key`) and the rows' schema.
DeadLetterProducerConfig StartProducerConfig(const ConnectorConfig& owner, std::shared_ptr<arrow::Schema> schema,
                                             const std::string& topic, const std::string& topic_key) {
  DeadLetterProducerConfig out;
  out.source_where = owner.Where();
  out.config = ConnectorConfig("kafka");
  out.config.set_instance_name(owner.instance_name() + ".dead_letters");
  out.config.set_pipeline_name(owner.pipeline_name());
  out.config.set_schema(std::move(schema));
  out.options.topic = topic;  // for Explain until the options are parsed
  out.Set("topic", topic, topic_key);
  return out;
}

// The owner's Kafka connection: bootstrap servers, security, client-wide properties.
void ShareConnection(const ConnectorConfig& owner, DeadLetterProducerConfig* out) {
  for (const auto& spec : ConnectionKeySpecs()) {
    if (spec.key.find('*') != std::string::npos) continue;
    if (auto value = owner.Get(spec.key)) out->Set(spec.key, *value, spec.key);
  }
  // In AddPassthroughProperties' order: kafka.* first, properties.* wins.
  for (const std::string prefix : {"kafka.", "properties."}) {
    for (const auto& [name, value] : owner.PropertiesWithPrefix(prefix)) {
      if (IsClientWideProperty(name)) out->Set("properties." + name, value, prefix + name);
    }
  }
}

}  // namespace

arrow::Result<DeadLetterProducerConfig> MakeDeadLetterProducerConfig(const ConnectorConfig& source,
                                                                     const dlq::ErrorOptions& errors) {
  if (errors.dead_letter_topic.empty()) {
    return arrow::Status::Invalid(source.Where(), ": no dead_letter.topic to make a dead-letter producer for");
  }
  DeadLetterProducerConfig out =
      StartProducerConfig(source, dlq::DeadLetterSchema(), errors.dead_letter_topic, "dead_letter.topic");
  ConnectorConfig& config = out.config;
  auto set = [&out](const std::string& key, const std::string& value, const std::string& from) {
    out.Set(key, value, from);
  };
  if (auto servers = source.Get("dead_letter.bootstrap.servers")) {
    // Another cluster (or a non-Kafka source): nothing of the source's applies.
    set("bootstrap.servers", *servers, "dead_letter.bootstrap.servers");
  } else if (source.connector_type() == "kafka") {
    // Dead letters the source reads again would fail again, forever.
    ARROW_ASSIGN_OR_RAISE(auto subscription, KafkaSourceOptions::FromConfig(source));
    const auto& topics = subscription.topics;
    const bool read_back = subscription.pattern.empty()
                               ? std::find(topics.begin(), topics.end(), errors.dead_letter_topic) != topics.end()
                               : std::regex_search(errors.dead_letter_topic, std::regex(subscription.pattern));
    if (read_back) {
      return ConfigError(source.Where(), "option 'dead_letter.topic' = '" + errors.dead_letter_topic +
                                             "' is a topic this source reads: its dead letters would come back");
    }
    ShareConnection(source, &out);
  } else {
    return ConfigError(source.Where(), "option 'dead_letter.topic' needs 'dead_letter.bootstrap.servers': a " +
                                           source.connector_type() +
                                           " source has no Kafka connection for the dead-letter producer to share");
  }
  for (const auto& [name, value] : source.PropertiesWithPrefix("dead_letter.properties.")) {
    set("properties." + name, value, "dead_letter.properties." + name);
  }
  set("delivery.guarantee", source.Get("dead_letter.delivery.guarantee").value_or("exactly-once"),
      "dead_letter.delivery.guarantee");
  if (auto id = source.Get("dead_letter.transactional.id"))
    set("transactional.id", *id, "dead_letter.transactional.id");

  ARROW_RETURN_NOT_OK(out.Explain(config.Validate(KafkaSinkKeySpecs())));
  auto options = KafkaSinkOptions::FromConfig(config);
  if (!options.ok()) return out.Explain(options.status());
  if (options->exactly_once && !config.Has("transactional.id")) {
    set("transactional.id", DeadLetterTransactionalId(source.pipeline_name(), source.instance_name()), "");
    options = KafkaSinkOptions::FromConfig(config);
    if (!options.ok()) return out.Explain(options.status());
  }
  out.options = std::move(*options);
  return out;
}

KafkaMessage SinkDeadLetterMessage(const SinkDeadLetter& letter, const std::string& sink, const std::string& topic,
                                   std::optional<uint64_t> epoch, int64_t now_ms, size_t max_value_bytes) {
  KafkaMessage message;
  if (letter.key) message.key = *letter.key;
  bool truncated = false;
  if (letter.value) {
    std::string_view value = *letter.value;
    if (value.size() > max_value_bytes) {
      value = value.substr(0, max_value_bytes);
      truncated = true;
    }
    message.value = value;
  }
  auto& out = message.headers;
  out.emplace_back(kErrorMessageHeader, letter.error);
  out.emplace_back(kErrorCodeHeader, letter.code);
  out.emplace_back(kErrorSinkHeader, sink);
  out.emplace_back(kErrorConnectorHeader, "kafka");
  out.emplace_back(kErrorTopicHeader, topic);
  if (letter.partition) out.emplace_back(kErrorPartitionHeader, std::to_string(*letter.partition));
  if (epoch) out.emplace_back(kErrorEpochHeader, std::to_string(*epoch));
  if (truncated) out.emplace_back(kErrorTruncatedHeader, "true");
  out.emplace_back(kErrorTimestampHeader, std::to_string(now_ms));
  return message;
}

arrow::Result<DeadLetterProducerConfig> MakeSinkDeadLetterProducerConfig(const ConnectorConfig& sink,
                                                                         const KafkaSinkOptions& sink_options) {
  if (sink_options.dlq_topic.empty()) {
    return arrow::Status::Invalid(sink.Where(), ": no dlq.topic to make a dead-letter producer for");
  }
  DeadLetterProducerConfig out =
      StartProducerConfig(sink, arrow::schema(arrow::FieldVector{}), sink_options.dlq_topic, "dlq.topic");
  ConnectorConfig& config = out.config;
  auto set = [&out](const std::string& key, const std::string& value, const std::string& from) {
    out.Set(key, value, from);
  };
  if (auto servers = sink.Get("dlq.bootstrap.servers")) {
    // Another cluster: nothing of the sink's connection applies.
    set("bootstrap.servers", *servers, "dlq.bootstrap.servers");
  } else {
    ShareConnection(sink, &out);
  }
  for (const auto& [name, value] : sink.PropertiesWithPrefix("dlq.properties.")) {
    set("properties." + name, value, "dlq.properties." + name);
  }
  set("delivery.guarantee", sink_options.exactly_once ? "exactly-once" : "at-least-once", "delivery.guarantee");
  for (const char* key : {"transaction.timeout.ms", "delivery.timeout.ms"}) {
    if (auto value = sink.Get(key); value && (sink_options.exactly_once || std::string(key) != "transaction.timeout.ms")) {
      set(key, *value, key);
    }
  }
  if (sink_options.exactly_once) {
    if (auto id = sink.Get("dlq.transactional.id")) {
      set("transactional.id", *id, "dlq.transactional.id");
    } else {
      set("transactional.id", sink_options.transactional_id + ".dlq", "");
    }
  } else if (sink.Has("dlq.transactional.id")) {
    return ConfigError(sink.Where(), "option 'dlq.transactional.id' needs delivery.guarantee = 'exactly-once'");
  }
  ARROW_RETURN_NOT_OK(out.Explain(config.Validate(KafkaSinkKeySpecs())));
  auto options = KafkaSinkOptions::FromConfig(config);
  if (!options.ok()) return out.Explain(options.status());
  if (options->exactly_once && options->transactional_id == sink_options.transactional_id) {
    return ConfigError(sink.Where(), "option 'dlq.transactional.id' = '" + options->transactional_id +
                                         "' is the sink's own transactional.id: the two producers would fence "
                                         "each other");
  }
  out.options = std::move(*options);
  return out;
}

std::unique_ptr<SinkConnector> MakeDeadLetterProducer(const std::string& source_connector) {
  return std::make_unique<KafkaSink>(std::make_unique<DeadLetterMapper>(source_connector));
}

}  // namespace laminar::kafka
