// The Kafka source's positions: for every topic-partition it has read from (or been
// assigned and resolved a start for), the next offset to read, plus which of them the
// consumer group currently assigns to this member. A revoked partition keeps its position:
// the rows read from it are still in the open epoch, and the checkpoint must cover them.
// Touched by the poll thread (PollBatch, the rebalance callback inside it) and the driver
// thread (Checkpoint/Restore while the poll thread is parked); a mutex keeps Metrics safe.
#pragma once

#include <arrow/result.h>

#include <atomic>
#include <compare>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "laminar/core/checkpoint.h"

namespace laminar::kafka {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const TopicPartition&) const = default;
  std::string ToString() const;  // "<topic>-<partition>"
};

using Positions = std::map<TopicPartition, int64_t>;

class OffsetTracker {
 public:
  // A message at `offset` was returned: the next one to read is offset + 1.
  void Consumed(const TopicPartition& tp, int64_t offset);
  void SetNext(const TopicPartition& tp, int64_t next);
  std::optional<int64_t> Next(const TopicPartition& tp) const;
  // Replaces every position (Restore); assignment is unchanged.
  void Replace(Positions positions);
  Positions positions() const;

  void Assigned(const std::vector<TopicPartition>& partitions);
  void Revoked(const std::vector<TopicPartition>& partitions);
  // Drops the positions of partitions handed over to another member: once their offsets
  // are committed to the group, the group's offset is the truth, not a copy kept here.
  void Forget(const std::vector<TopicPartition>& partitions);
  std::set<TopicPartition> assigned() const;
  bool IsAssigned(const TopicPartition& tp) const;
  int64_t rebalances() const;
  // Counts every change but Consumed: a caller that looked up IsAssigned/Next may keep
  // the answers while this stays the same.
  uint64_t changes() const { return changes_.load(); }

  // Offsets {"<topic>-<partition>": "<next offset>"}, metadata {"connector": "kafka"}.
  SourceCheckpoint ToCheckpoint() const;
  // The inverse; a key or value that does not parse is an error naming it (a checkpoint
  // this source cannot read is never taken as "start from scratch").
  static arrow::Result<Positions> FromCheckpoint(const SourceCheckpoint& checkpoint);

 private:
  mutable std::mutex mu_;
  Positions next_;
  std::set<TopicPartition> assigned_;
  int64_t rebalances_ = 0;
  std::atomic<uint64_t> changes_{0};
};

}  // namespace laminar::kafka
