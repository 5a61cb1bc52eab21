#include "laminar/kafka/kafka_offset_tracker.h"

#include "laminar/core/config.h"
#include "laminar/core/status.h"
#include "laminar/kafka/kafka_client.h"

namespace laminar::kafka {

std::string TopicPartition::ToString() const { return PartitionKey(topic, partition); }

void OffsetTracker::Consumed(const TopicPartition& tp, int64_t offset) {
  std::lock_guard<std::mutex> lock(mu_);
  next_[tp] = offset + 1;
}

void OffsetTracker::SetNext(const TopicPartition& tp, int64_t next) {
  std::lock_guard<std::mutex> lock(mu_);
  next_[tp] = next;
  changes_.fetch_add(1);
}

std::optional<int64_t> OffsetTracker::Next(const TopicPartition& tp) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = next_.find(tp);
  if (it == next_.end()) return std::nullopt;
  return it->second;
}

void OffsetTracker::Replace(Positions positions) {
  std::lock_guard<std::mutex> lock(mu_);
  next_ = std::move(positions);
  changes_.fetch_add(1);
}

Positions OffsetTracker::positions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return next_;
}

void OffsetTracker::Assigned(const std::vector<TopicPartition>& partitions) {
  std::lock_guard<std::mutex> lock(mu_);
  assigned_.insert(partitions.begin(), partitions.end());
  ++rebalances_;
  changes_.fetch_add(1);
}

void OffsetTracker::Revoked(const std::vector<TopicPartition>& partitions) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& tp : partitions) assigned_.erase(tp);
  ++rebalances_;
  changes_.fetch_add(1);
}

void OffsetTracker::Forget(const std::vector<TopicPartition>& partitions) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& tp : partitions) next_.erase(tp);
  changes_.fetch_add(1);
}

std::set<TopicPartition> OffsetTracker::assigned() const {
  std::lock_guard<std::mutex> lock(mu_);
  return assigned_;
}

bool OffsetTracker::IsAssigned(const TopicPartition& tp) const {
  std::lock_guard<std::mutex> lock(mu_);
  return assigned_.count(tp) != 0;
}

int64_t OffsetTracker::rebalances() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rebalances_;
}

SourceCheckpoint OffsetTracker::ToCheckpoint() const {
  SourceCheckpoint checkpoint;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [tp, next] : next_) {
    if (next >= 0) checkpoint.SetOffset(tp.ToString(), std::to_string(next));
  }
  checkpoint.SetMetadata("connector", "kafka");
  return checkpoint;
}

arrow::Result<Positions> OffsetTracker::FromCheckpoint(const SourceCheckpoint& checkpoint) {
  Positions positions;
  for (const auto& [key, value] : checkpoint.offsets()) {
    auto tp = ParsePartitionKey(key);
    if (!tp) return FatalError("kafka", "checkpoint key '" + key + "' is not <topic>-<partition>");
    auto next = ParseInt64(value);
    if (!next.ok() || *next < 0) {
      return FatalError("kafka", "checkpoint offset " + key + "='" + value + "' is not a non-negative offset");
    }
    positions[TopicPartition{tp->first, tp->second}] = *next;
  }
  return positions;
}

}  // namespace laminar::kafka
