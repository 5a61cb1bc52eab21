// A message as the Kafka sink produces it (key, value, headers, timestamp), and the
// interface of a mapper that builds whole messages from rows itself instead of the sink's
// format encoder and `key.column`: the dead-letter producer (kafka_dead_letter.h) is one.
// Both are used on the sink's thread only.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/status.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace laminar::kafka {

struct KafkaMessage {
  // Views into the batch being written (or into memory the mapper owns) that stay valid
  // until the batch is enqueued; librdkafka copies them.
  std::optional<std::string_view> key;    // nullopt: no key
  std::optional<std::string_view> value;  // nullopt: no value (a tombstone)
  // Owned: a mapper makes some of them up (error texts, numbers). A nullopt value is a
  // header with a null value.
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  int64_t timestamp_ms = 0;  // 0: the producer's clock
};

class KafkaMessageMapper {
 public:
  virtual ~KafkaMessageMapper() = default;
  // At the sink's Open, with its input schema: an error (a config error) refuses the sink.
  virtual arrow::Status Bind(const arrow::Schema& schema) = 0;
  // One message per row of `batch`, in row order, appended to `messages`. An error fails
  // the write before anything of the batch is enqueued.
  virtual arrow::Status Map(const arrow::RecordBatch& batch, std::vector<KafkaMessage>* messages) = 0;
};

}  // namespace laminar::kafka
