// The `kafka` source's options (spec 20 §1.2): subscription, consumer group, where a
// partition starts when no checkpoint names it, formats, metadata columns, and the
// librdkafka consumer properties derived from them.
#pragma once

#include <arrow/result.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "laminar/core/config.h"
#include "laminar/kafka/kafka_client.h"
#include "laminar/kafka/schema_registry.h"

namespace laminar::kafka {

std::vector<ConfigKeySpec> KafkaSourceKeySpecs();

// Where a partition that no checkpoint names starts.
enum class StartupMode { kGroupOffsets, kEarliest, kLatest, kSpecificOffsets, kTimestamp };
const char* StartupModeName(StartupMode mode);

// What happens when a partition has no committed group offset (group-offsets) or no
// entry in startup.specific.offsets: auto.offset.reset.
enum class OffsetReset { kEarliest, kLatest, kError };

enum class AlignmentMode { kPause, kWarnOnly, kDropExcess };

// "p:o,p:o" (every subscribed topic) or "topic:p:o,..." entries. Spaces around items are
// allowed; at least one entry. Key: (topic or "" for any topic, partition).
arrow::Result<std::map<std::pair<std::string, int32_t>, int64_t>> ParseSpecificOffsets(const std::string& text);

struct KafkaSourceOptions {
  std::vector<std::string> topics;  // explicit subscription
  std::string pattern;              // regex subscription ("^..."), wins over topics
  std::string group_id;
  StartupMode startup = StartupMode::kGroupOffsets;
  std::map<std::pair<std::string, int32_t>, int64_t> specific_offsets;
  int64_t startup_timestamp_ms = 0;
  OffsetReset reset = OffsetReset::kEarliest;
  bool read_committed = true;
  int64_t max_poll_records = 1000;
  int64_t decode_threads = 1;  // 2: decoding beside polling (kafka_source.h)
  std::chrono::milliseconds poll_timeout{100};
  std::chrono::milliseconds request_timeout{30000};  // committed offsets, watermarks, seek
  bool include_metadata = false;
  bool include_headers = false;
  std::string format = "json";
  // Event-time watermarks (§1.8): off unless enable.watermark.tracking. Event time is
  // event.time.column when set (a TIMESTAMP or BIGINT milliseconds column), else the
  // message timestamp.
  bool watermarks = false;
  std::string event_time_column;
  std::chrono::milliseconds max_out_of_orderness{5000};
  std::chrono::milliseconds idle_timeout{30000};
  // Sources sharing an alignment group keep their watermarks within max drift of the
  // slowest one (§1.8): pause the fast one, warn, or drop its rows past the bound.
  std::string alignment_group;
  std::chrono::milliseconds alignment_max_drift{300000};
  AlignmentMode alignment_mode = AlignmentMode::kPause;
  // Pause fetching at this fill of the runtime's queue, resume at the low mark (§1.6).
  double backpressure_high = 0.8;
  double backpressure_low = 0.5;
  // schema.registry.* (nullopt without schema.registry.url): Avro writer schemas by id.
  std::optional<SchemaRegistryOptions> registry;
  ClientProperties consumer;

  static arrow::Result<KafkaSourceOptions> FromConfig(const ConnectorConfig& config);
};

}  // namespace laminar::kafka
