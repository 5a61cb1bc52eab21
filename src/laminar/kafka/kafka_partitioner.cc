#include "laminar/kafka/kafka_partitioner.h"

#include <algorithm>
#include <cstring>

#include "laminar/core/status.h"

namespace laminar::kafka {

int32_t Murmur2(std::string_view key) {
  constexpr uint32_t kSeed = 0x9747b28c;
  constexpr uint32_t kM = 0x5bd1e995;
  constexpr int kR = 24;
  const auto* data = reinterpret_cast<const uint8_t*>(key.data());
  const size_t length = key.size();
  uint32_t h = kSeed ^ static_cast<uint32_t>(length);
  const size_t blocks = length / 4;
  for (size_t i = 0; i < blocks; ++i) {
    uint32_t k = static_cast<uint32_t>(data[4 * i]) | static_cast<uint32_t>(data[4 * i + 1]) << 8 |
                 static_cast<uint32_t>(data[4 * i + 2]) << 16 | static_cast<uint32_t>(data[4 * i + 3]) << 24;
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h *= kM;
    h ^= k;
  }
  const uint8_t* tail = data + 4 * blocks;
  switch (length & 3) {
    case 3: h ^= static_cast<uint32_t>(tail[2]) << 16; [[fallthrough]];
    case 2: h ^= static_cast<uint32_t>(tail[1]) << 8; [[fallthrough]];
    case 1:
      h ^= tail[0];
      h *= kM;
  }
  h ^= h >> 13;
  h *= kM;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

int32_t JavaKeyPartition(std::string_view key, int32_t partitions) {
  return static_cast<int32_t>((static_cast<uint32_t>(Murmur2(key)) & 0x7fffffffu) % static_cast<uint32_t>(partitions));
}

arrow::Result<PartitionerKind> ParsePartitioner(const std::string& text) {
  std::string t = text;
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::replace(t.begin(), t.end(), '_', '-');
  if (t == "key-hash" || t == "keyhash" || t == "hash") return PartitionerKind::kKeyHash;
  if (t == "round-robin" || t == "roundrobin") return PartitionerKind::kRoundRobin;
  if (t == "sticky") return PartitionerKind::kSticky;
  return arrow::Status::Invalid("'", text, "' is not one of key-hash, round-robin, sticky");
}

const char* PartitionerName(PartitionerKind kind) {
  switch (kind) {
    case PartitionerKind::kKeyHash: return "key-hash";
    case PartitionerKind::kRoundRobin: return "round-robin";
    case PartitionerKind::kSticky: return "sticky";
  }
  return "?";
}

std::optional<int32_t> Partitioner::Next(int32_t partitions) {
  switch (kind_) {
    case PartitionerKind::kKeyHash:
      return std::nullopt;
    case PartitionerKind::kRoundRobin:
      return static_cast<int32_t>(counter_++ % static_cast<uint64_t>(partitions));
    case PartitionerKind::kSticky:
      if (current_ >= partitions) current_ = 0;  // the topic shrank under us (it cannot), or first use
      if (in_run_ >= kStickyBatch) {
        current_ = (current_ + 1) % partitions;
        in_run_ = 0;
      }
      ++in_run_;
      return current_;
  }
  return std::nullopt;
}

}  // namespace laminar::kafka
