// A running pipeline: one poll thread per source feeding a bounded queue, and a driver
// thread (the caller of Run) that routes batches to the sinks that name their source and
// holds the consistent cut for each checkpoint.
#pragma once

#include <arrow/status.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "laminar/core/connector.h"
#include "laminar/runtime/bounded_queue.h"
#include "laminar/runtime/checkpoint_coordinator.h"
#include "laminar/runtime/manifest.h"
#include "laminar/sdk/retry_policy.h"

namespace laminar::runtime {

struct PipelineOptions {
  std::string name = "pipeline";
  // 0 = checkpoint only at the end (bounded sources) or on stop.
  std::chrono::milliseconds checkpoint_interval{10000};
  size_t queue_capacity = 8;  // batches in flight between sources and sinks
  int64_t max_batch_rows = 8192;
  std::chrono::milliseconds poll_timeout{100};
  sdk::RetryPolicy poll_retry = sdk::RetryPolicy::Exponential(3, std::chrono::milliseconds(100));
  sdk::RetryPolicy write_retry = sdk::RetryPolicy::Exponential(3, std::chrono::milliseconds(100));
  sdk::RetryPolicy commit_retry = sdk::RetryPolicy::Exponential(5, std::chrono::milliseconds(100));
  // A failed epoch is rolled back and replayed; this many failures in a row stop the pipeline.
  int max_consecutive_epoch_failures = 3;
  // Replay of a lost decided epoch (see CheckpointCoordinator::Recover): a source that
  // returns nothing for this long before reaching the epoch's end fails the start.
  std::chrono::milliseconds replay_stall_timeout{60000};
};

struct ConnectorStats {
  std::string name;
  std::string connector_type;
  bool is_source = false;
  int64_t rows = 0;
  int64_t bytes = 0;
  int64_t batches = 0;
  int64_t errors = 0;
  std::string health;
  // Connector-specific counters (ConnectorMetrics::custom): decoded, skipped, dead_lettered, ...
  std::vector<std::pair<std::string, double>> custom;
};

struct PipelineStats {
  int64_t rows_in = 0;
  int64_t rows_out = 0;
  uint64_t epoch = 0;
  std::string phase;
  int64_t checkpoints_completed = 0;
  int64_t checkpoints_failed = 0;
  int64_t epochs_rolled_back = 0;
  int64_t last_checkpoint_unix_ms = 0;
  int64_t last_checkpoint_duration_us = 0;
  int64_t queue_depth = 0;
  std::vector<ConnectorStats> connectors;
};

class Pipeline {
 public:
  Pipeline(PipelineOptions options, std::unique_ptr<ManifestStore> store);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Connectors must be opened already. Names are unique per kind.
  void AddSource(std::string name, std::string connector_type, std::unique_ptr<SourceConnector> source);
  // The sink receives the batches of `from_source` only.
  void AddSink(std::string name, std::string connector_type, std::string from_source,
               std::unique_ptr<SinkConnector> sink);
  // The sink receives the dead letters of `from_source` (SourceBatch::dead_letters), in the
  // same epochs as the data, so dead letters are exactly-once too.
  void AddDeadLetterSink(std::string name, std::string connector_type, std::string from_source,
                         std::unique_ptr<SinkConnector> sink);

  // Recovers, then moves data until every source has finished (final checkpoint, OK), a
  // stop is requested (final checkpoint, OK), or an error stops it (returned). Closes
  // every connector before returning. Blocks the calling thread.
  arrow::Status Run(const std::atomic<bool>& stop_requested);

  // Thread-safe snapshot for the status line and /metrics.
  PipelineStats Stats() const;

 private:
  struct QueueItem {
    size_t source = 0;
    std::shared_ptr<arrow::RecordBatch> batch;
    std::shared_ptr<arrow::RecordBatch> dead_letters;
    arrow::Status error;
    bool end = false;
  };
  struct SourceSlot;
  struct SinkSlot;

  void SourceLoop(SourceSlot& slot, size_t index);
  void StartSources();
  void StopSources();
  // Parks every source thread at a batch boundary while writing what they already polled.
  void HoldCut();
  void ReleaseCut(bool rewound);
  void Process(QueueItem item, bool discard);
  arrow::Status WriteToSinks(const QueueItem& item);
  arrow::Status WriteToSink(SinkSlot& sink, const std::shared_ptr<arrow::RecordBatch>& batch);
  arrow::Status CheckpointAtCut();
  arrow::Status ReplayLostEpoch(const std::atomic<bool>& stop_requested);
  arrow::Status HandleEpochFailure(const arrow::Status& cause);
  void CloseAll();

  PipelineOptions options_;
  std::unique_ptr<ManifestStore> store_;
  std::vector<std::unique_ptr<SourceSlot>> sources_;
  std::vector<std::unique_ptr<SinkSlot>> sinks_;
  std::unique_ptr<CheckpointCoordinator> coordinator_;
  std::atomic<const CheckpointCoordinator*> coordinator_view_{nullptr};  // for Stats()
  BoundedQueue<QueueItem> queue_;

  std::mutex control_mu_;
  std::condition_variable control_cv_;
  bool hold_ = false;
  bool shutdown_ = false;

  // Driver-thread state.
  const std::atomic<bool>* stop_requested_ = nullptr;  // Run's argument
  arrow::Status epoch_error_;
  size_t finished_sources_ = 0;
  int consecutive_failures_ = 0;
  int64_t epoch_rows_ = 0;  // rows written in the open epoch

  std::atomic<int64_t> rows_in_{0};
  std::atomic<int64_t> rows_out_{0};
  std::atomic<int64_t> rolled_back_{0};
};

}  // namespace laminar::runtime
