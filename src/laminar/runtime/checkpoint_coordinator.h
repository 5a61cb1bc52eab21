// Drives the exactly-once protocol (spec 10 §8.6) over the sources and sinks of one
// pipeline: recovery, pre-commit, the durable decision, commit, rewind. It assumes the
// caller (Pipeline) has established a consistent cut before each call: source threads
// parked, every polled batch written. Runs on the pipeline's driver thread only.
#pragma once

#include <arrow/status.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "laminar/core/connector.h"
#include "laminar/runtime/manifest.h"
#include "laminar/sdk/retry_policy.h"

namespace laminar::runtime {

// Observable states. Every change goes through IsValidTransition.
enum class Phase {
  kCreated,
  kRecovering,
  kRunning,        // epoch open, data flowing
  kSnapshotting,   // cut held, taking source checkpoints
  kPreCommitting,
  kPersisting,     // writing the manifest: the commit decision
  kCommitting,     // decision durable, making output visible
  kRollingBack,    // undecided epoch failed: discard output, rewind sources
  kReplaying,      // re-producing a decided epoch that a sink lost (Pipeline drives it)
  kStopped,
  kFailed,
};

const char* PhaseName(Phase phase);
// The protocol as one table: which phase may follow which.
bool IsValidTransition(Phase from, Phase to);

struct SourceHandle {
  std::string name;
  SourceConnector* connector = nullptr;
};

struct SinkHandle {
  std::string name;
  SinkConnector* connector = nullptr;
  bool exactly_once = false;
  std::string source;  // the source whose batches it receives (replays rewind only those)
};

struct CoordinatorOptions {
  std::string pipeline_name;
  // Commit of a decided epoch: retried on any error (the decision cannot be undone), then
  // the pipeline fails and a restart rolls the epoch forward.
  sdk::RetryPolicy commit_retry = sdk::RetryPolicy::Exponential(5, std::chrono::milliseconds(100));
  sdk::Sleeper sleep = sdk::DefaultSleep;
};

class CheckpointCoordinator {
 public:
  CheckpointCoordinator(CoordinatorOptions options, ManifestStore* store, std::vector<SourceHandle> sources,
                        std::vector<SinkHandle> sinks);

  // Loads the newest manifest; restores every source to it; re-commits its epoch on every
  // exactly-once sink that may not have finished it; discards output staged for the next
  // epoch; begins that epoch. No manifest: fresh start at epoch 1. Any failure is returned
  // (fatal): start-up stops, it never falls back to a fresh start.
  //
  // A sink whose re-commit says kEpochLost (the decided epoch's output is gone) is not a
  // failure: the coordinator sets up a replay of that epoch and returns OK in phase
  // kReplaying (replay_pending()). The sources that feed the lost sinks are put in replay
  // mode (SetReplayEnd(decided offsets), Restore(epoch start)), the lost sinks begin the
  // epoch again, and the caller must poll those sources until ReplayReachedEnd(), write
  // their batches to replay_sinks() only, then call FinishReplay().
  arrow::Status Recover();

  bool replay_pending() const { return phase_.load() == Phase::kReplaying; }
  // Names of the sinks being replayed into; valid while replay_pending().
  const std::vector<std::string>& replay_sinks() const { return replay_sink_names_; }
  // Sources to poll for the replay (those feeding a replayed sink).
  const std::vector<std::string>& replay_sources() const { return replay_source_names_; }
  // Pre-commits and commits the replayed epoch on the lost sinks, records them Committed,
  // leaves replay mode, restores every source to the decided checkpoint, acknowledges it
  // and begins the next epoch. A failure is fatal: the next start replays again.
  arrow::Status FinishReplay();

  // Runs one checkpoint at a consistent cut: snapshot sources, pre-commit, persist the
  // decision, commit, acknowledge sources, begin the next epoch. A sink whose commit says
  // kEpochLost is replayed as in Recover: Checkpoint returns OK with replay_pending(), and
  // the caller replays at the same cut and calls FinishReplay.
  // Returns OK; or a kNeedsAbort error when the epoch failed before its decision (it has
  // been rolled back and the sources rewound — the caller resumes and may retry); or a
  // fatal error when a decided epoch could not be committed (restart rolls it forward).
  arrow::Status Checkpoint();

  // The open epoch failed (write or poll error): rolls it back on every exactly-once sink,
  // rewinds every source to the last decision, and begins the same epoch again. Needs the
  // cut held. Returns a fatal error if rollback or rewind fails.
  arrow::Status AbortEpoch(const arrow::Status& cause);

  // After Checkpoint()/AbortEpoch(): close without committing anything further.
  void MarkStopped();
  void MarkFailed();

  uint64_t current_epoch() const { return epoch_.load(); }
  uint64_t last_checkpoint_id() const { return last_manifest_ ? last_manifest_->checkpoint_id : 0; }
  Phase phase() const { return phase_.load(); }
  int64_t checkpoints_completed() const { return completed_.load(); }
  int64_t checkpoints_failed() const { return failed_.load(); }
  int64_t last_checkpoint_duration_us() const { return last_duration_us_.load(); }
  int64_t last_checkpoint_unix_ms() const { return last_checkpoint_unix_ms_.load(); }

 private:
  arrow::Status TransitionTo(Phase next);
  arrow::Status BeginEpochOnSinks();
  arrow::Status RewindSources();
  arrow::Status CommitDecided(const std::string& sink_name, SinkConnector* sink, uint64_t epoch);
  arrow::Status StartReplay(uint64_t epoch, const std::vector<size_t>& lost_sinks);
  arrow::Status FinishRecovery(uint64_t decided);
  arrow::Status FailBeforeDecision(const arrow::Status& cause);

  CoordinatorOptions options_;
  ManifestStore* store_;
  std::vector<SourceHandle> sources_;
  std::vector<SinkHandle> sinks_;
  std::optional<Manifest> last_manifest_;
  std::vector<size_t> replay_sink_indices_;
  std::vector<std::string> replay_sink_names_;
  std::vector<std::string> replay_source_names_;
  std::atomic<uint64_t> epoch_{0};
  std::atomic<Phase> phase_{Phase::kCreated};
  std::atomic<int64_t> completed_{0};
  std::atomic<int64_t> failed_{0};
  std::atomic<int64_t> last_duration_us_{0};
  std::atomic<int64_t> last_checkpoint_unix_ms_{0};
};

}  // namespace laminar::runtime
