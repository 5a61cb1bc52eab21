// The two connector contracts the runtime drives: SourceConnector and SinkConnector, and
// the value types they exchange.
//
// Threading: the runtime calls one instance from one thread at a time (a source's poll
// thread, or the pipeline's driver thread for sinks); calls never overlap. Connectors
// that own sockets may run their own I/O threads inside. No call may block longer than
// the timeout it is given or, where none is given, than the connector's own configured
// I/O timeout.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>
#include <arrow/status.h>

#include <chrono>
#include <functional>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "laminar/core/checkpoint.h"
#include "laminar/core/config.h"
#include "laminar/core/health.h"

namespace laminar {

// Where a batch came from inside its source: a Kafka partition and offset, a CDC slot and
// LSN, a file and byte offset. Text form "<id>@<offset>".
struct PartitionInfo {
  std::string id;
  std::string offset;
  std::string ToString() const { return id + "@" + offset; }
  bool operator==(const PartitionInfo&) const = default;
};

struct SourceBatch {
  std::shared_ptr<arrow::RecordBatch> records;
  std::optional<PartitionInfo> partition;
  // Records of this poll that could not be decoded, routed to the source's dead-letter
  // sink in the same epoch as `records` (schema: dlq::DeadLetterSchema()). May be null.
  std::shared_ptr<arrow::RecordBatch> dead_letters;
  // The source's event-time watermark after this batch (milliseconds since the epoch), for
  // sources that track one: no later row should carry an earlier event time. Never
  // decreases within a run.
  std::optional<int64_t> watermark_ms;
  int64_t num_rows() const { return records ? records->num_rows() : 0; }
};

struct WriteResult {
  int64_t records_written = 0;
  int64_t bytes_written = 0;
};

// Static per instance after Open.
struct SinkCapabilities {
  bool exactly_once = false;      // takes part in the epoch protocol
  bool idempotent = false;        // rewriting the same rows is harmless
  bool upsert = false;
  bool changelog = false;
  bool two_phase_commit = false;  // PreCommit really separates durable from visible
  bool schema_evolution = false;
  bool partitioned = false;

  SinkCapabilities& WithExactlyOnce() { exactly_once = true; return *this; }
  SinkCapabilities& WithIdempotent() { idempotent = true; return *this; }
  SinkCapabilities& WithUpsert() { upsert = true; return *this; }
  SinkCapabilities& WithChangelog() { changelog = true; return *this; }
  SinkCapabilities& WithTwoPhaseCommit() { two_phase_commit = true; return *this; }
  SinkCapabilities& WithSchemaEvolution() { schema_evolution = true; return *this; }
  SinkCapabilities& WithPartitioned() { partitioned = true; return *this; }
};

class SourceConnector {
 public:
  virtual ~SourceConnector() = default;

  // Connects and prepares; called once, before Restore and the first PollBatch. The config
  // has been validated against the connector's key specs. Failure: the pipeline does not
  // start.
  virtual arrow::Status Open(const ConnectorConfig& config) = 0;

  // The connector's own option checks (combinations, formats, values) without connecting
  // or touching files: what `laminar-connect validate` runs beyond the key specs. Open
  // must make the same checks. The default has none beyond the key specs.
  virtual arrow::Status CheckConfig(const ConnectorConfig& /*config*/) const { return arrow::Status::OK(); }

  // The schema of every batch this source returns. Valid after Open.
  virtual std::shared_ptr<arrow::Schema> schema() const = 0;

  // Returns the next batch of at most `max_records` rows (a hint), or nullopt when nothing
  // is available within `timeout`. Blocks at most `timeout`. After it returns a batch,
  // Checkpoint() covers that batch. A transient error may be retried by the caller with
  // the same position; any other error fails the epoch.
  virtual arrow::Result<std::optional<SourceBatch>> PollBatch(int64_t max_records,
                                                              std::chrono::milliseconds timeout) = 0;

  // True when a bounded source has returned its last row and will never return more.
  virtual bool finished() const { return false; }

  // The position just after the last row PollBatch returned. Cheap, no I/O: it is taken
  // while the pipeline holds its barrier.
  virtual SourceCheckpoint Checkpoint() const = 0;

  // Seeks so that the next PollBatch returns the first row after `checkpoint`. An empty
  // checkpoint means "the configured start". Called after Open, and again whenever the
  // runtime rewinds an epoch. An unreachable position is an error, never a silent reset.
  virtual arrow::Status Restore(const SourceCheckpoint& checkpoint) = 0;

  // The checkpoint of `epoch` is durable and every sink has committed it: the source may
  // acknowledge upstream (commit Kafka offsets, confirm an LSN). Idempotent.
  virtual arrow::Status OnCheckpointCommitted(uint64_t /*epoch*/) { return arrow::Status::OK(); }

  // Bounded replay, for a sink that lost an epoch already decided (its CommitEpoch returned
  // kEpochLost: a Kafka transaction the broker aborted when the process died). The runtime
  // calls SetReplayEnd(end) and then Restore(start), where start and end are checkpoints
  // this source produced at the epoch's two boundaries; PollBatch must then return exactly
  // the rows between them (in any batching) and nothing after `end`, and ReplayReachedEnd()
  // turns true once every row up to `end` was returned. SetReplayEnd(nullopt) leaves replay
  // mode; the runtime then calls Restore(end). Only sources that re-read the same rows for
  // the same positions can do this; the default says NotImplemented, and a pipeline that
  // needs a replay from such a source stops with an error naming it.
  virtual arrow::Status SetReplayEnd(const std::optional<SourceCheckpoint>& /*end*/) {
    return arrow::Status::NotImplemented("this source cannot replay a bounded range of its input");
  }
  virtual bool ReplayReachedEnd() const { return false; }

  // Downstream pressure: the runtime hands over a probe of how full the queue between the
  // poll threads and the sinks is (0 = empty, 1 = full), before the first PollBatch. A
  // source that can stop fetching without stopping to serve its protocol (Kafka pauses its
  // partitions and keeps polling, so the group does not evict it) uses it; the default
  // ignores it and the poll thread simply blocks on a full queue.
  virtual void SetBackpressureProbe(std::function<double()> /*fill*/) {}

  // Health and Metrics are the exceptions to the one-caller rule: the metrics thread calls
  // them while the connector runs, so they must be thread-safe and must not block.
  virtual HealthStatus Health() const { return HealthStatus::Healthy(); }
  virtual ConnectorMetrics Metrics() const { return {}; }

  // Releases resources. Idempotent. Data returned by PollBatch but not covered by a
  // committed checkpoint is replayed after a restart.
  virtual arrow::Status Close() = 0;
};

class SinkConnector {
 public:
  virtual ~SinkConnector() = default;

  // Connects and prepares. config.schema() is the schema of the batches it will receive.
  virtual arrow::Status Open(const ConnectorConfig& config) = 0;

  // The connector's own option checks (combinations, formats, values) without connecting
  // or touching files: what `laminar-connect validate` runs beyond the key specs. Open
  // must make the same checks. The default has none beyond the key specs.
  virtual arrow::Status CheckConfig(const ConnectorConfig& /*config*/) const { return arrow::Status::OK(); }

  virtual SinkCapabilities capabilities() const = 0;

  // Starts epoch `epoch`; called before the first WriteBatch of every epoch on
  // exactly-once sinks. Epochs increase; a rewound epoch is begun again with the same number
  // after RollbackEpoch.
  virtual arrow::Status BeginEpoch(uint64_t /*epoch*/) { return arrow::Status::OK(); }

  // Writes or buffers one batch of the current epoch. Nothing written becomes visible to
  // readers before CommitEpoch (exactly-once sinks). An error fails the epoch: the
  // runtime rolls it back and replays the data.
  virtual arrow::Result<WriteResult> WriteBatch(const std::shared_ptr<arrow::RecordBatch>& batch) = 0;

  // Phase one: make everything written in `epoch` durable but not visible, so that
  // CommitEpoch can finish it even after a crash and restart. Must not make data visible.
  // Failure: the runtime rolls the epoch back and rewinds the sources.
  virtual arrow::Status PreCommit(uint64_t /*epoch*/) { return Flush(); }

  // Phase two: make the epoch visible. Called only after the manifest that decides the
  // epoch is durable, and again after a restart if the sink may not have finished it, so
  // it must be idempotent: committing an epoch already committed is a no-op. A failure
  // may have committed the epoch or not; the runtime retries. The one exception is a
  // kEpochLost error (EpochLostError): the sink knows the epoch is not committed and its
  // staged output is gone for good (Kafka aborts the open transaction of a producer that
  // died, and cannot re-commit it). After a restart the runtime then replays the epoch's
  // input into this sink alone (BeginEpoch, WriteBatch..., PreCommit, CommitEpoch with the
  // same epoch number); during a run it does the same at the checkpoint's cut.
  virtual arrow::Status CommitEpoch(uint64_t /*epoch*/) { return arrow::Status::OK(); }

  // Discards everything staged for `epoch` (and any later epoch). Idempotent; called for
  // an epoch that is not decided, also after a restart for output a dead process staged.
  virtual arrow::Status RollbackEpoch(uint64_t /*epoch*/) { return arrow::Status::OK(); }

  // Pushes buffered data out (at-least-once sinks: this is their durability point).
  virtual arrow::Status Flush() { return arrow::Status::OK(); }

  // The last epoch this sink knows to be committed in the external system, where it can
  // tell (Delta txn action, Kafka transactional state); nullopt when it cannot.
  virtual arrow::Result<std::optional<uint64_t>> LastCommittedEpoch() { return std::optional<uint64_t>(); }

  // Thread-safe, non-blocking (called from the metrics thread).
  virtual HealthStatus Health() const { return HealthStatus::Healthy(); }
  virtual ConnectorMetrics Metrics() const { return {}; }

  // Releases resources without committing anything. Idempotent.
  virtual arrow::Status Close() = 0;
};

}  // namespace laminar
