#include "laminar/kafka/kafka_source_options.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <thread>

#include "laminar/dlq/error_router.h"
#include "laminar/serde/codec.h"

namespace laminar::kafka {

namespace {

std::string Normalized(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  std::replace(text.begin(), text.end(), '_', '-');
  return text;
}

std::string Trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  const auto end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

}  // namespace

const char* StartupModeName(StartupMode mode) {
  switch (mode) {
    case StartupMode::kGroupOffsets: return "group-offsets";
    case StartupMode::kEarliest: return "earliest";
    case StartupMode::kLatest: return "latest";
    case StartupMode::kSpecificOffsets: return "specific-offsets";
    case StartupMode::kTimestamp: return "timestamp";
  }
  return "?";
}

std::vector<ConfigKeySpec> KafkaSourceKeySpecs() {
  std::vector<ConfigKeySpec> specs = ConnectionKeySpecs();
  std::vector<ConfigKeySpec> own = {
      ConfigKeySpec::Unset("topic", ConfigType::kString, "Topic(s) to read, comma-separated (or use topic.pattern)."),
      ConfigKeySpec::Unset("topic.pattern", ConfigType::kString,
                           "Regular expression of topics to read (anchored with ^); wins over topic."),
      ConfigKeySpec::Required("group.id", ConfigType::kString,
                              "Consumer group. Partitions are shared among its members (cooperative-sticky); "
                              "offsets are committed to it only after a checkpoint is durable."),
      ConfigKeySpec::Unset("startup.mode", ConfigType::kString,
                           "Where a partition the checkpoint does not name starts: group-offsets (the default: the "
                           "group's committed offset, else auto.offset.reset), earliest, latest, specific-offsets "
                           "(implied by startup.specific.offsets), timestamp (implied by startup.timestamp.ms)."),
      ConfigKeySpec::Unset("startup.specific.offsets", ConfigType::kString,
                           "'partition:offset,...' or 'topic:partition:offset,...' (startup.mode specific-offsets); "
                           "partitions not listed follow auto.offset.reset."),
      ConfigKeySpec::Unset("startup.timestamp.ms", ConfigType::kInt,
                           "Milliseconds since the epoch (startup.mode timestamp): the first message at or after it."),
      ConfigKeySpec::Optional("auto.offset.reset", ConfigType::kString, "earliest",
                              "No committed offset (or none listed): earliest, latest, or none (an error)."),
      ConfigKeySpec::Optional("isolation.level", ConfigType::kString, "read_committed",
                              "read_committed (skip aborted transactions) or read_uncommitted."),
      ConfigKeySpec::Optional("max.poll.records", ConfigType::kInt, "1000", "Messages decoded per poll, at most."),
      ConfigKeySpec::Unset("decode.threads", ConfigType::kInt,
                           "1 or 2. With 2 (the default on a machine with two or more cores; csv always uses 1), "
                           "a poll's messages decode on a second thread while the next poll runs, and are returned "
                           "by that next poll."),
      ConfigKeySpec::Optional("poll.timeout.ms", ConfigType::kInt, "100",
                              "How long one poll waits for the first message."),
      ConfigKeySpec::Optional("partition.assignment.strategy", ConfigType::kString, "cooperative-sticky",
                              "cooperative-sticky, range or roundrobin."),
      ConfigKeySpec::Unset("fetch.min.bytes", ConfigType::kInt, "librdkafka fetch.min.bytes."),
      ConfigKeySpec::Unset("fetch.max.bytes", ConfigType::kInt, "librdkafka fetch.max.bytes."),
      ConfigKeySpec::Unset("fetch.max.wait.ms", ConfigType::kInt, "librdkafka fetch.wait.max.ms."),
      ConfigKeySpec::Unset("max.partition.fetch.bytes", ConfigType::kInt, "librdkafka max.partition.fetch.bytes."),
      ConfigKeySpec::Optional("include.metadata", ConfigType::kBool, "false",
                              "Add columns _key, _partition, _offset, _timestamp (declare them to choose their "
                              "place and type)."),
      ConfigKeySpec::Optional("include.headers", ConfigType::kBool, "false",
                              "Add column _headers: ARRAY<STRUCT<key VARCHAR NOT NULL, value BYTEA>>."),
      ConfigKeySpec::Optional("request.timeout.ms", ConfigType::kInt, "30000",
                              "Bound of the blocking calls the source makes itself (committed offsets, watermarks, "
                              "offsets for a timestamp, seek, offset commit)."),
      ConfigKeySpec::Optional("enable.watermark.tracking", ConfigType::kBool, "false",
                              "Track per-partition event-time watermarks (metric watermark_ms, and the batches' "
                              "watermark)."),
      ConfigKeySpec::Unset("event.time.column", ConfigType::kString,
                           "Column holding the event time (TIMESTAMP, or BIGINT milliseconds); default: the "
                           "message timestamp."),
      ConfigKeySpec::Optional("max.out.of.orderness.ms", ConfigType::kInt, "5000",
                              "How far behind the largest event time of a partition its watermark stays."),
      ConfigKeySpec::Optional("idle.timeout.ms", ConfigType::kInt, "30000",
                              "A partition without messages this long stops holding the watermark back."),
      ConfigKeySpec::Unset("alignment.group.id", ConfigType::kString,
                           "Sources of this process with the same id keep their watermarks within "
                           "alignment.max.drift.ms of the slowest (needs enable.watermark.tracking)."),
      ConfigKeySpec::Optional("alignment.max.drift.ms", ConfigType::kInt, "300000",
                              "How far this source's watermark may run ahead of its alignment group's slowest."),
      ConfigKeySpec::Optional("alignment.mode", ConfigType::kString, "pause",
                              "pause (stop fetching until back within the drift), warn-only, or drop-excess "
                              "(drop rows whose event time is past the bound)."),
      ConfigKeySpec::Optional("backpressure.high.watermark", ConfigType::kDouble, "0.8",
                              "Fill of the pipeline's queue (0..1) at which fetching pauses."),
      ConfigKeySpec::Optional("backpressure.low.watermark", ConfigType::kDouble, "0.5",
                              "Fill at which paused fetching resumes; below the high watermark."),
      ConfigKeySpec::Optional("format", ConfigType::kString, "json",
                              "How message values are decoded: json, csv, avro, raw, debezium (format.* options)."),
  };
  specs.insert(specs.end(), own.begin(), own.end());
  for (auto& spec : SchemaRegistryKeySpecs()) specs.push_back(std::move(spec));
  for (auto& spec : dlq::ErrorKeySpecs()) specs.push_back(std::move(spec));
  for (auto& spec : serde::FormatKeySpecs()) specs.push_back(std::move(spec));
  return specs;
}

arrow::Result<std::map<std::pair<std::string, int32_t>, int64_t>> ParseSpecificOffsets(const std::string& text) {
  std::map<std::pair<std::string, int32_t>, int64_t> offsets;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string item = Trim(text.substr(start, end - start));
    start = end + 1;
    if (item.empty()) continue;
    std::vector<std::string> parts;
    size_t from = 0;
    while (true) {
      const size_t colon = item.find(':', from);
      parts.push_back(Trim(item.substr(from, colon == std::string::npos ? std::string::npos : colon - from)));
      if (colon == std::string::npos) break;
      from = colon + 1;
    }
    if (parts.size() != 2 && parts.size() != 3) {
      return arrow::Status::Invalid("'", item, "' is not partition:offset or topic:partition:offset");
    }
    const std::string topic = parts.size() == 3 ? parts[0] : "";
    auto partition = ParseInt64(parts[parts.size() - 2]);
    auto offset = ParseInt64(parts.back());
    if (!partition.ok() || *partition < 0 || *partition > INT32_MAX || !offset.ok() || *offset < 0) {
      return arrow::Status::Invalid("'", item, "' needs a partition and an offset that are non-negative integers");
    }
    if (parts.size() == 3 && topic.empty()) return arrow::Status::Invalid("'", item, "' has an empty topic");
    offsets[{topic, static_cast<int32_t>(*partition)}] = *offset;
  }
  if (offsets.empty()) return arrow::Status::Invalid("no partition:offset entry");
  return offsets;
}

arrow::Result<KafkaSourceOptions> KafkaSourceOptions::FromConfig(const ConnectorConfig& config) {
  const std::string where = config.Where();
  auto bad = [&](const std::string& key, const std::string& why) { return ConfigError(where, "option '" + key + "' " + why); };
  KafkaSourceOptions o;
  if (auto pattern = config.Get("topic.pattern")) {
    std::string p = Trim(*pattern);
    if (p.empty()) return bad("topic.pattern", "must not be empty");
    if (p[0] != '^') p = "^" + p;
    try {
      std::regex check(p.substr(1));
    } catch (const std::regex_error& e) {
      return bad("topic.pattern", "is not a valid regular expression: " + std::string(e.what()));
    }
    o.pattern = p;
  } else if (auto topics = config.Get("topic")) {
    size_t start = 0;
    while (start <= topics->size()) {
      size_t end = topics->find(',', start);
      if (end == std::string::npos) end = topics->size();
      const std::string topic = Trim(topics->substr(start, end - start));
      if (topic.empty()) return bad("topic", "has an empty entry ('" + *topics + "')");
      o.topics.push_back(topic);
      start = end + 1;
    }
  } else {
    return ConfigError(where, "missing required option 'topic' (or 'topic.pattern')");
  }
  ARROW_ASSIGN_OR_RAISE(o.group_id, config.Require("group.id"));
  if (o.group_id.empty()) return bad("group.id", "must not be empty");

  const bool has_specific = config.Has("startup.specific.offsets");
  const bool has_timestamp = config.Has("startup.timestamp.ms");
  std::string mode = Normalized(config.Get("startup.mode").value_or(
      has_specific ? "specific-offsets" : has_timestamp ? "timestamp" : "group-offsets"));
  if (mode == "group-offsets" || mode == "group") o.startup = StartupMode::kGroupOffsets;
  else if (mode == "earliest") o.startup = StartupMode::kEarliest;
  else if (mode == "latest") o.startup = StartupMode::kLatest;
  else if (mode == "specific-offsets") o.startup = StartupMode::kSpecificOffsets;
  else if (mode == "timestamp") o.startup = StartupMode::kTimestamp;
  else return bad("startup.mode", "= '" + mode + "' is not one of group-offsets, earliest, latest, specific-offsets, timestamp");
  if (o.startup == StartupMode::kSpecificOffsets) {
    if (!has_specific) return bad("startup.specific.offsets", "is required with startup.mode = 'specific-offsets'");
    auto offsets = ParseSpecificOffsets(*config.Get("startup.specific.offsets"));
    if (!offsets.ok()) return bad("startup.specific.offsets", offsets.status().message());
    o.specific_offsets = std::move(*offsets);
  } else if (has_specific) {
    return bad("startup.specific.offsets", "needs startup.mode = 'specific-offsets', not '" + mode + "'");
  }
  if (o.startup == StartupMode::kTimestamp) {
    if (!has_timestamp) return bad("startup.timestamp.ms", "is required with startup.mode = 'timestamp'");
    ARROW_ASSIGN_OR_RAISE(o.startup_timestamp_ms, config.GetInt64("startup.timestamp.ms", 0));
    if (o.startup_timestamp_ms < 0) return bad("startup.timestamp.ms", "must not be negative");
  } else if (has_timestamp) {
    return bad("startup.timestamp.ms", "needs startup.mode = 'timestamp', not '" + mode + "'");
  }
  const std::string reset = Normalized(config.Get("auto.offset.reset").value_or("earliest"));
  if (reset == "earliest" || reset == "beginning" || reset == "smallest") o.reset = OffsetReset::kEarliest;
  else if (reset == "latest" || reset == "end" || reset == "largest") o.reset = OffsetReset::kLatest;
  else if (reset == "none" || reset == "error") o.reset = OffsetReset::kError;
  else return bad("auto.offset.reset", "= '" + reset + "' is not one of earliest, latest, none");
  const std::string isolation = Normalized(config.Get("isolation.level").value_or("read_committed"));
  if (isolation == "read-committed") o.read_committed = true;
  else if (isolation == "read-uncommitted") o.read_committed = false;
  else return bad("isolation.level", "= '" + isolation + "' is not one of read_committed, read_uncommitted");
  ARROW_ASSIGN_OR_RAISE(o.max_poll_records, config.GetInt64("max.poll.records", 1000));
  if (o.max_poll_records < 1) return bad("max.poll.records", "must be at least 1");
  ARROW_ASSIGN_OR_RAISE(o.decode_threads,
                        config.GetInt64("decode.threads", std::thread::hardware_concurrency() >= 2 ? 2 : 1));
  if (o.decode_threads != 1 && o.decode_threads != 2) return bad("decode.threads", "must be 1 or 2");
  ARROW_ASSIGN_OR_RAISE(auto poll_timeout, config.GetInt64("poll.timeout.ms", 100));
  if (poll_timeout < 0) return bad("poll.timeout.ms", "must not be negative");
  o.poll_timeout = std::chrono::milliseconds(poll_timeout);
  ARROW_ASSIGN_OR_RAISE(auto request_timeout, config.GetInt64("request.timeout.ms", 30000));
  if (request_timeout < 1) return bad("request.timeout.ms", "must be positive");
  o.request_timeout = std::chrono::milliseconds(request_timeout);
  ARROW_ASSIGN_OR_RAISE(o.include_metadata, config.GetBool("include.metadata", false));
  ARROW_ASSIGN_OR_RAISE(o.include_headers, config.GetBool("include.headers", false));
  o.format = config.Get("format").value_or("json");
  if (o.format == "debezium" && (o.include_metadata || o.include_headers)) {
    return bad("include.metadata", "cannot be used with format 'debezium' (one message may become two rows)");
  }
  ARROW_ASSIGN_OR_RAISE(o.watermarks, config.GetBool("enable.watermark.tracking", false));
  ARROW_ASSIGN_OR_RAISE(auto out_of_orderness, config.GetInt64("max.out.of.orderness.ms", 5000));
  if (out_of_orderness < 0) return bad("max.out.of.orderness.ms", "must not be negative");
  o.max_out_of_orderness = std::chrono::milliseconds(out_of_orderness);
  ARROW_ASSIGN_OR_RAISE(auto idle, config.GetInt64("idle.timeout.ms", 30000));
  if (idle < 1) return bad("idle.timeout.ms", "must be positive");
  o.idle_timeout = std::chrono::milliseconds(idle);
  if (auto column = config.Get("event.time.column")) {
    o.event_time_column = Trim(*column);
    if (o.event_time_column.empty()) return bad("event.time.column", "must not be empty");
    if (!o.watermarks) return bad("event.time.column", "needs enable.watermark.tracking = 'true'");
  }
  if (auto group = config.Get("alignment.group.id")) {
    o.alignment_group = Trim(*group);
    if (o.alignment_group.empty()) return bad("alignment.group.id", "must not be empty");
    if (!o.watermarks) return bad("alignment.group.id", "needs enable.watermark.tracking = 'true'");
  }
  ARROW_ASSIGN_OR_RAISE(auto drift, config.GetInt64("alignment.max.drift.ms", 300000));
  if (drift < 0) return bad("alignment.max.drift.ms", "must not be negative");
  o.alignment_max_drift = std::chrono::milliseconds(drift);
  const std::string alignment = Normalized(config.Get("alignment.mode").value_or("pause"));
  if (alignment == "pause") o.alignment_mode = AlignmentMode::kPause;
  else if (alignment == "warn-only" || alignment == "warnonly" || alignment == "warn") o.alignment_mode = AlignmentMode::kWarnOnly;
  else if (alignment == "drop-excess" || alignment == "dropexcess" || alignment == "drop") o.alignment_mode = AlignmentMode::kDropExcess;
  else return bad("alignment.mode", "= '" + alignment + "' is not one of pause, warn-only, drop-excess");
  ARROW_ASSIGN_OR_RAISE(o.backpressure_high, config.GetDouble("backpressure.high.watermark", 0.8));
  ARROW_ASSIGN_OR_RAISE(o.backpressure_low, config.GetDouble("backpressure.low.watermark", 0.5));
  for (const auto& [key, value] : {std::pair{"backpressure.high.watermark", o.backpressure_high},
                                   std::pair{"backpressure.low.watermark", o.backpressure_low}}) {
    if (!(value >= 0.0 && value <= 1.0)) return bad(key, "must be between 0 and 1");
  }
  if (o.backpressure_low >= o.backpressure_high) {
    return bad("backpressure.low.watermark", "must be below backpressure.high.watermark");
  }
  ARROW_ASSIGN_OR_RAISE(o.registry, SchemaRegistryOptions::FromConfig(config));
  ARROW_RETURN_NOT_OK(CheckRegistryNeeded(config, /*sink=*/false));
  std::string strategy = Normalized(config.Get("partition.assignment.strategy").value_or("cooperative-sticky"));
  if (strategy == "round-robin") strategy = "roundrobin";
  if (strategy != "cooperative-sticky" && strategy != "range" && strategy != "roundrobin") {
    return bad("partition.assignment.strategy", "= '" + strategy + "' is not one of cooperative-sticky, range, roundrobin");
  }

  ClientProperties& p = o.consumer;
  ARROW_RETURN_NOT_OK(AddConnectionProperties(config, &p));
  p.Set("client.id", "laminar-" + (config.pipeline_name().empty() ? "" : config.pipeline_name() + "-") +
                         config.instance_name());
  p.Set("group.id", o.group_id, "group.id");
  // Offsets reach the group only from OnCheckpointCommitted, never on their own.
  p.Set("enable.auto.commit", "false");
  p.Set("enable.auto.offset.store", "false");
  p.Set("enable.partition.eof", "false");
  p.Set("partition.assignment.strategy", strategy, "partition.assignment.strategy");
  p.Set("isolation.level", o.read_committed ? "read_committed" : "read_uncommitted", "isolation.level");
  p.Set("auto.offset.reset", o.reset == OffsetReset::kEarliest ? "earliest"
                             : o.reset == OffsetReset::kLatest ? "latest"
                                                               : "error",
        "auto.offset.reset");
  const std::pair<const char*, const char*> fetch[] = {{"fetch.min.bytes", "fetch.min.bytes"},
                                                       {"fetch.max.bytes", "fetch.max.bytes"},
                                                       {"fetch.max.wait.ms", "fetch.wait.max.ms"},
                                                       {"max.partition.fetch.bytes", "max.partition.fetch.bytes"}};
  for (const auto& [option, property] : fetch) {
    if (auto value = config.Get(option)) p.Set(property, *value, option);
  }
  ARROW_RETURN_NOT_OK(AddPassthroughProperties(config, &p, {"enable.auto.commit", "group.id"}));
  return o;
}

}  // namespace laminar::kafka
