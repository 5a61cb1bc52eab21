#include "laminar/dlq/error_router.h"

#include <arrow/api.h>

#include <algorithm>
#include <chrono>

namespace laminar::dlq {

std::vector<ConfigKeySpec> ErrorKeySpecs() {
  return {
      ConfigKeySpec::Enum("on.error", {"fail", "skip", "dead_letter"}, "fail",
                          "What to do with a record that cannot be decoded or breaks a NOT NULL column: fail "
                          "(stop, naming the record), skip (count and drop), dead_letter (write it to "
                          "dead_letter.path or dead_letter.topic)."),
      ConfigKeySpec::Unset("dead_letter.path", ConfigType::kString,
                           "Directory for dead letters (JSON lines, committed with each epoch)."),
      ConfigKeySpec::Unset("dead_letter.topic", ConfigType::kString,
                           "Kafka topic for dead letters: each one is the original key and value with "
                           "laminar.error.* headers, produced in the epoch of its record."),
      ConfigKeySpec::Unset("dead_letter.bootstrap.servers", ConfigType::kString,
                           "Brokers of dead_letter.topic; required unless the source is a Kafka source, whose "
                           "connection and security settings the dead-letter producer otherwise shares."),
      ConfigKeySpec::Unset("dead_letter.properties.*", ConfigType::kString,
                           "librdkafka property of the dead-letter producer, applied last "
                           "(dead_letter.properties.security.protocol = 'sasl_ssl')."),
      ConfigKeySpec::Unset("dead_letter.delivery.guarantee", ConfigType::kString,
                           "exactly-once (the default: one Kafka transaction per epoch; read the topic with "
                           "isolation.level=read_committed) or at-least-once."),
      ConfigKeySpec::Unset("dead_letter.transactional.id", ConfigType::kString,
                           "Transactional id of the dead-letter producer (exactly-once); default "
                           "laminar-<pipeline>-<source>.dlq."),
      ConfigKeySpec::Optional("dead_letter.max-per-second", ConfigType::kDouble, "100",
                              "Dead letters per second; beyond it bad records are dropped and counted (0 = no limit)."),
      ConfigKeySpec::Optional("dead_letter.max-raw-bytes", ConfigType::kInt, std::to_string(1 << 20),
                              "Raw payload bytes kept per dead letter; longer ones are truncated and flagged."),
  };
}

arrow::Result<ErrorOptions> ErrorOptions::FromConfig(const ConnectorConfig& config) {
  ErrorOptions options;
  ARROW_ASSIGN_OR_RAISE(auto policy, config.GetString("on.error", "fail"));
  if (policy == "fail") options.policy = ErrorPolicy::kFail;
  else if (policy == "skip") options.policy = ErrorPolicy::kSkip;
  else if (policy == "dead_letter") options.policy = ErrorPolicy::kDeadLetter;
  else return ConfigError(config.Where(), "option 'on.error' = '" + policy + "' is not one of fail, skip, dead_letter");
  options.dead_letter_path = config.Get("dead_letter.path").value_or("");
  options.dead_letter_topic = config.Get("dead_letter.topic").value_or("");
  ARROW_ASSIGN_OR_RAISE(options.max_per_second, config.GetDouble("dead_letter.max-per-second", 100));
  ARROW_ASSIGN_OR_RAISE(options.max_raw_bytes, config.GetInt64("dead_letter.max-raw-bytes", 1 << 20));
  if (options.max_per_second < 0) return ConfigError(config.Where(), "option 'dead_letter.max-per-second' must be >= 0");
  if (options.max_raw_bytes < 0) return ConfigError(config.Where(), "option 'dead_letter.max-raw-bytes' must be >= 0");
  if (config.Has("dead_letter.path") && options.dead_letter_path.empty()) {
    return ConfigError(config.Where(), "option 'dead_letter.path' must not be empty");
  }
  if (config.Has("dead_letter.topic") && options.dead_letter_topic.empty()) {
    return ConfigError(config.Where(), "option 'dead_letter.topic' must not be empty");
  }
  if (options.policy == ErrorPolicy::kDeadLetter) {
    if (options.dead_letter_path.empty() && options.dead_letter_topic.empty()) {
      return ConfigError(config.Where(), "option 'on.error' = 'dead_letter' needs 'dead_letter.path' or 'dead_letter.topic'");
    }
    if (!options.dead_letter_path.empty() && !options.dead_letter_topic.empty()) {
      return ConfigError(config.Where(), "option 'dead_letter.topic' and option 'dead_letter.path' are both set; dead "
                                         "letters go to one place: keep one of them");
    }
  } else if (!options.dead_letter_path.empty() || !options.dead_letter_topic.empty()) {
    return ConfigError(config.Where(), "option 'dead_letter.path'/'dead_letter.topic' is set but 'on.error' is not 'dead_letter'");
  }
  // The producer's own options mean nothing without a topic.
  const bool producer_options = !config.PropertiesWithPrefix("dead_letter.properties.").empty();
  for (const char* key : {"dead_letter.bootstrap.servers", "dead_letter.delivery.guarantee", "dead_letter.transactional.id"}) {
    if (config.Has(key) && options.dead_letter_topic.empty()) {
      return ConfigError(config.Where(), "option '" + std::string(key) + "' needs 'dead_letter.topic'");
    }
  }
  if (producer_options && options.dead_letter_topic.empty()) {
    return ConfigError(config.Where(), "options 'dead_letter.properties.*' need 'dead_letter.topic'");
  }
  if (!options.dead_letter_topic.empty() && config.connector_type() != "kafka" &&
      !config.Has("dead_letter.bootstrap.servers")) {
    return ConfigError(config.Where(), "option 'dead_letter.topic' needs 'dead_letter.bootstrap.servers': a " +
                                           config.connector_type() +
                                           " source has no Kafka connection for the dead-letter producer to share");
  }
  return options;
}

std::shared_ptr<arrow::Schema> DeadLetterSchema() {
  static const auto schema = arrow::schema({
      arrow::field("source", arrow::utf8(), false),
      arrow::field("partition", arrow::utf8()),
      arrow::field("offset", arrow::utf8(), false),
      arrow::field("error", arrow::utf8(), false),
      arrow::field("key", arrow::binary()),
      arrow::field("value", arrow::binary()),
      arrow::field("value_truncated", arrow::boolean(), false),
      arrow::field("headers", arrow::list(arrow::struct_({arrow::field("key", arrow::utf8(), false),
                                                          arrow::field("value", arrow::binary())}))),
      arrow::field("timestamp_ms", arrow::int64()),
      arrow::field("dead_lettered_at_ms", arrow::int64(), false),
  });
  return schema;
}

ErrorRouter::ErrorRouter(std::string source_name, ErrorOptions options, sdk::Clock* clock)
    : source_(std::move(source_name)), options_(std::move(options)) {
  if (options_.policy == ErrorPolicy::kDeadLetter && options_.max_per_second > 0) {
    limiter_ = std::make_unique<sdk::TokenBucket>(options_.max_per_second, std::max(options_.max_per_second, 1.0), clock);
  }
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> ErrorRouter::Route(const serde::DecodedBatch& decoded,
                                                                      std::span<const serde::RawRecord> records) {
  // Records, not rows: whatever is neither an error nor dropped on purpose was decoded.
  const int64_t dropped = decoded.tombstones + decoded.skipped;
  const int64_t bad = static_cast<int64_t>(decoded.errors.size());
  counters_.decoded.fetch_add(std::max<int64_t>(0, static_cast<int64_t>(records.size()) - dropped - bad));
  counters_.skipped.fetch_add(dropped);
  counters_.tombstones.fetch_add(decoded.tombstones);
  counters_.errors.fetch_add(bad);
  if (decoded.errors.empty()) return nullptr;
  switch (options_.policy) {
    case ErrorPolicy::kFail: {
      const auto& first = decoded.errors.front();
      const std::string position = first.index < records.size() ? records[first.index].Position() : "?";
      // Fatal: the same bytes fail the same way on every replay.
      return FatalError("decode", "source '" + source_ + "': cannot decode the record at " + position + ": " +
                                      first.message + " (on.error = fail; set on.error = 'skip' or 'dead_letter' to go on)");
    }
    case ErrorPolicy::kSkip:
      counters_.skipped.fetch_add(static_cast<int64_t>(decoded.errors.size()));
      return nullptr;
    case ErrorPolicy::kDeadLetter: break;
  }
  const auto schema = DeadLetterSchema();
  std::unique_ptr<arrow::ArrayBuilder> builder;
  ARROW_RETURN_NOT_OK(arrow::MakeBuilder(arrow::default_memory_pool(), arrow::struct_(schema->fields()), &builder));
  auto& row = static_cast<arrow::StructBuilder&>(*builder);
  auto& source = static_cast<arrow::StringBuilder&>(*row.field_builder(0));
  auto& partition = static_cast<arrow::StringBuilder&>(*row.field_builder(1));
  auto& offset = static_cast<arrow::StringBuilder&>(*row.field_builder(2));
  auto& error = static_cast<arrow::StringBuilder&>(*row.field_builder(3));
  auto& key = static_cast<arrow::BinaryBuilder&>(*row.field_builder(4));
  auto& value = static_cast<arrow::BinaryBuilder&>(*row.field_builder(5));
  auto& truncated = static_cast<arrow::BooleanBuilder&>(*row.field_builder(6));
  auto& headers = static_cast<arrow::ListBuilder&>(*row.field_builder(7));
  auto& header = static_cast<arrow::StructBuilder&>(*headers.value_builder());
  auto& header_key = static_cast<arrow::StringBuilder&>(*header.field_builder(0));
  auto& header_value = static_cast<arrow::BinaryBuilder&>(*header.field_builder(1));
  auto& timestamp = static_cast<arrow::Int64Builder&>(*row.field_builder(8));
  auto& lettered_at = static_cast<arrow::Int64Builder&>(*row.field_builder(9));
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  int64_t letters = 0;
  for (const auto& e : decoded.errors) {
    if (limiter_ && !limiter_->TryAcquire(1)) {
      counters_.dlq_dropped.fetch_add(1);
      continue;
    }
    if (e.index >= records.size()) return arrow::Status::Invalid("decoder reported record ", e.index, " of ", records.size());
    const auto& record = records[e.index];
    ARROW_RETURN_NOT_OK(row.Append());
    ARROW_RETURN_NOT_OK(source.Append(source_));
    ARROW_RETURN_NOT_OK(record.partition.empty() ? partition.AppendNull() : partition.Append(record.partition));
    ARROW_RETURN_NOT_OK(offset.Append(record.offset));
    ARROW_RETURN_NOT_OK(error.Append(e.message));
    ARROW_RETURN_NOT_OK(record.key ? key.Append(*record.key) : key.AppendNull());
    const bool cut = static_cast<int64_t>(record.value.size()) > options_.max_raw_bytes;
    if (record.is_tombstone()) {
      ARROW_RETURN_NOT_OK(value.AppendNull());
    } else {
      ARROW_RETURN_NOT_OK(value.Append(record.value.substr(0, cut ? static_cast<size_t>(options_.max_raw_bytes)
                                                                  : record.value.size())));
    }
    ARROW_RETURN_NOT_OK(truncated.Append(cut));
    if (record.headers != nullptr) {
      ARROW_RETURN_NOT_OK(headers.Append());
      for (const auto& [k, v] : *record.headers) {
        ARROW_RETURN_NOT_OK(header.Append());
        ARROW_RETURN_NOT_OK(header_key.Append(k));
        ARROW_RETURN_NOT_OK(header_value.Append(v));
      }
    } else {
      ARROW_RETURN_NOT_OK(headers.AppendNull());
    }
    ARROW_RETURN_NOT_OK(record.timestamp_ms >= 0 ? timestamp.Append(record.timestamp_ms) : timestamp.AppendNull());
    ARROW_RETURN_NOT_OK(lettered_at.Append(now_ms));
    ++letters;
  }
  counters_.dead_lettered.fetch_add(letters);
  if (letters == 0) return nullptr;
  std::shared_ptr<arrow::Array> rows;
  ARROW_RETURN_NOT_OK(builder->Finish(&rows));
  ARROW_ASSIGN_OR_RAISE(auto batch, arrow::RecordBatch::FromStructArray(rows));
  return batch->ReplaceSchema(schema);
}

}  // namespace laminar::dlq
