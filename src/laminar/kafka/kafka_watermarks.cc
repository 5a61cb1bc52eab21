#include "laminar/kafka/kafka_watermarks.h"

#include <algorithm>
#include <limits>

namespace laminar::kafka {

void PartitionWatermarks::Update(const TopicPartition& tp, int64_t event_time_ms, Clock::time_point now) {
  Partition& p = partitions_[tp];
  ++counters_.updates;
  p.last_activity = now;
  if (p.idle) {
    p.idle = false;
    ++counters_.active_transitions;
  }
  if (!p.max_event_ms || event_time_ms > *p.max_event_ms) {
    p.max_event_ms = event_time_ms;
    // Saturating: a tiny event time must not wrap around.
    const int64_t bound = event_time_ms < std::numeric_limits<int64_t>::min() + out_of_orderness_ms_
                              ? std::numeric_limits<int64_t>::min()
                              : event_time_ms - out_of_orderness_ms_;
    p.watermark_ms = std::max(p.watermark_ms, bound);
  }
  Recompute();
}

void PartitionWatermarks::CheckIdle(Clock::time_point now) {
  bool changed = false;
  for (auto& [tp, p] : partitions_) {
    if (!p.idle && now - p.last_activity > idle_timeout_) {
      p.idle = true;
      ++counters_.idle_transitions;
      changed = true;
    }
  }
  if (changed) Recompute();
}

void PartitionWatermarks::Remove(const TopicPartition& tp) {
  if (partitions_.erase(tp) > 0) Recompute();
}

void PartitionWatermarks::Add(const TopicPartition& tp, Clock::time_point now) {
  auto [it, inserted] = partitions_.try_emplace(tp);
  it->second.last_activity = now;
  it->second.idle = false;
}

int PartitionWatermarks::idle_partitions() const {
  return static_cast<int>(std::count_if(partitions_.begin(), partitions_.end(),
                                        [](const auto& entry) { return entry.second.idle; }));
}

void PartitionWatermarks::Recompute() {
  std::optional<int64_t> combined;
  for (const auto& [tp, p] : partitions_) {
    if (p.idle || !p.max_event_ms) continue;
    combined = combined ? std::min(*combined, p.watermark_ms) : p.watermark_ms;
  }
  // Every partition idle (or none with events): hold the last value.
  if (combined && (!emitted_ || *combined > *emitted_)) {
    emitted_ = combined;
    ++counters_.advances;
  }
}

}  // namespace laminar::kafka
