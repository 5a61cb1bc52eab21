// Event-time watermarks of the Kafka source (spec 20 §1.8): each partition's watermark is
// its largest event time minus the allowed out-of-orderness; the source's watermark is the
// smallest over partitions that are active and have seen an event. A partition silent for
// the idle timeout stops holding the others back, and comes back when it has data again.
// Unlike upstream, the emitted watermark never moves backwards: a partition returning from
// idle with older events cannot pull it back, since downstream may already have closed
// windows up to it. Only the poll thread touches a tracker; the counters are for metrics.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>

#include "laminar/kafka/kafka_offset_tracker.h"

namespace laminar::kafka {

struct WatermarkCounters {
  int64_t updates = 0;             // events seen
  int64_t advances = 0;            // times the emitted watermark moved forward
  int64_t idle_transitions = 0;    // partitions that went idle
  int64_t active_transitions = 0;  // idle partitions that had data again
};

class PartitionWatermarks {
 public:
  using Clock = std::chrono::steady_clock;

  PartitionWatermarks(std::chrono::milliseconds out_of_orderness, std::chrono::milliseconds idle_timeout)
      : out_of_orderness_ms_(out_of_orderness.count()), idle_timeout_(idle_timeout) {}

  // An event of `tp` at `event_time_ms`, seen at `now`.
  void Update(const TopicPartition& tp, int64_t event_time_ms, Clock::time_point now);
  // Partitions silent for longer than the idle timeout become idle.
  void CheckIdle(Clock::time_point now);
  // A partition this member no longer reads (revoked): it holds nothing back any more.
  void Remove(const TopicPartition& tp);
  // A partition just assigned: active, without an event yet (it holds nothing back until
  // its first event, so an empty partition does not stall the watermark).
  void Add(const TopicPartition& tp, Clock::time_point now);

  // The emitted watermark: nullopt until some partition has an event.
  std::optional<int64_t> current() const { return emitted_; }
  const WatermarkCounters& counters() const { return counters_; }
  int idle_partitions() const;

 private:
  struct Partition {
    std::optional<int64_t> max_event_ms;
    int64_t watermark_ms = std::numeric_limits<int64_t>::min();  // meaningful once max_event_ms is set
    Clock::time_point last_activity;
    bool idle = false;
  };
  void Recompute();

  int64_t out_of_orderness_ms_;
  std::chrono::milliseconds idle_timeout_;
  std::map<TopicPartition, Partition> partitions_;
  std::optional<int64_t> emitted_;
  WatermarkCounters counters_;
};

}  // namespace laminar::kafka
