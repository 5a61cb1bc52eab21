// Where the Kafka sink puts each row: key-hash (the Java client's murmur2 placement, done
// by librdkafka's `murmur2_random` partitioner so that the topic's live partition count
// is used), round-robin or sticky over the partition count from metadata. Used on the
// sink's thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <arrow/result.h>

namespace laminar::kafka {

// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2): 32-bit, seed 0x9747b28c.
int32_t Murmur2(std::string_view key);

// The Java producer's partition for a key: (murmur2(key) & 0x7fffffff) % partitions.
int32_t JavaKeyPartition(std::string_view key, int32_t partitions);

enum class PartitionerKind { kKeyHash, kRoundRobin, kSticky };

arrow::Result<PartitionerKind> ParsePartitioner(const std::string& text);
const char* PartitionerName(PartitionerKind kind);

class Partitioner {
 public:
  // Rows a sticky partitioner sends to one partition before moving to the next.
  static constexpr int64_t kStickyBatch = 100;

  explicit Partitioner(PartitionerKind kind) : kind_(kind) {}

  // The partition for the next row, or nullopt to let librdkafka place it (key-hash:
  // librdkafka's murmur2_random does the Java placement for keyed rows and spreads
  // unkeyed ones). `partitions` > 0.
  std::optional<int32_t> Next(int32_t partitions);
  // Called at the start of each epoch: sticky starts a fresh run on its current partition.
  void Reset() { in_run_ = 0; }

  PartitionerKind kind() const { return kind_; }

 private:
  PartitionerKind kind_;
  uint64_t counter_ = 0;
  int32_t current_ = 0;
  int64_t in_run_ = 0;
};

}  // namespace laminar::kafka
