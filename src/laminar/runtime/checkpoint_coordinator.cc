#include "laminar/runtime/checkpoint_coordinator.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "laminar/core/secrets.h"
#include "laminar/runtime/fault_points.h"

namespace laminar::runtime {

namespace {
int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

const char* PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kCreated: return "Created";
    case Phase::kRecovering: return "Recovering";
    case Phase::kRunning: return "Running";
    case Phase::kSnapshotting: return "Snapshotting";
    case Phase::kPreCommitting: return "PreCommitting";
    case Phase::kPersisting: return "Persisting";
    case Phase::kCommitting: return "Committing";
    case Phase::kRollingBack: return "RollingBack";
    case Phase::kReplaying: return "Replaying";
    case Phase::kStopped: return "Stopped";
    case Phase::kFailed: return "Failed";
  }
  return "?";
}

bool IsValidTransition(Phase from, Phase to) {
  if (to == Phase::kFailed) return from != Phase::kStopped;
  switch (from) {
    case Phase::kCreated: return to == Phase::kRecovering;
    case Phase::kRecovering: return to == Phase::kRunning || to == Phase::kReplaying;
    case Phase::kReplaying: return to == Phase::kRunning;
    case Phase::kRunning: return to == Phase::kSnapshotting || to == Phase::kRollingBack || to == Phase::kStopped;
    case Phase::kSnapshotting: return to == Phase::kPreCommitting || to == Phase::kRollingBack;
    case Phase::kPreCommitting: return to == Phase::kPersisting || to == Phase::kRollingBack;
    // Once the manifest is durable the epoch is decided: there is no way back to rollback.
    case Phase::kPersisting: return to == Phase::kCommitting || to == Phase::kRollingBack;
    // A sink that lost the decided epoch: it is replayed at the cut, then running resumes.
    case Phase::kCommitting: return to == Phase::kRunning || to == Phase::kReplaying;
    case Phase::kRollingBack: return to == Phase::kRunning;
    case Phase::kStopped:
    case Phase::kFailed: return false;
  }
  return false;
}

CheckpointCoordinator::CheckpointCoordinator(CoordinatorOptions options, ManifestStore* store,
                                             std::vector<SourceHandle> sources, std::vector<SinkHandle> sinks)
    : options_(std::move(options)), store_(store), sources_(std::move(sources)), sinks_(std::move(sinks)) {}

arrow::Status CheckpointCoordinator::TransitionTo(Phase next) {
  const Phase current = phase_.load();
  if (!IsValidTransition(current, next)) {
    return arrow::Status::Invalid("checkpoint coordinator: invalid transition ", PhaseName(current), " -> ",
                                  PhaseName(next));
  }
  phase_.store(next);
  return arrow::Status::OK();
}

void CheckpointCoordinator::MarkStopped() {
  if (IsValidTransition(phase_.load(), Phase::kStopped)) phase_.store(Phase::kStopped);
}
void CheckpointCoordinator::MarkFailed() {
  if (IsValidTransition(phase_.load(), Phase::kFailed)) phase_.store(Phase::kFailed);
}

arrow::Status CheckpointCoordinator::BeginEpochOnSinks() {
  for (auto& sink : sinks_) {
    if (!sink.exactly_once) continue;
    auto status = sink.connector->BeginEpoch(epoch_.load());
    if (!status.ok()) return status.WithMessage("sink '", sink.name, "': begin epoch ", epoch_.load(), ": ", status.message());
  }
  return arrow::Status::OK();
}

arrow::Status CheckpointCoordinator::RewindSources() {
  for (auto& source : sources_) {
    SourceCheckpoint checkpoint;
    if (last_manifest_) {
      auto it = last_manifest_->source_offsets.find(source.name);
      if (it != last_manifest_->source_offsets.end()) checkpoint = it->second;
    }
    auto status = source.connector->Restore(checkpoint);
    if (!status.ok()) {
      return FatalError("runtime", "source '" + source.name + "': cannot restore to its checkpoint " +
                                       checkpoint.ToJson() + ": " + status.ToString());
    }
  }
  return arrow::Status::OK();
}

arrow::Status CheckpointCoordinator::CommitDecided(const std::string& sink_name, SinkConnector* sink, uint64_t epoch) {
  // The decision is durable; giving up is not an option, so every error is retried.
  sdk::RetryPolicy policy = options_.commit_retry;
  arrow::Status last;
  for (int attempt = 0; attempt <= policy.max_retries; ++attempt) {
    if (attempt > 0) options_.sleep(policy.DelayForAttempt(attempt, sdk::DefaultUnitRandom()));
    last = sink->CommitEpoch(epoch);
    if (last.ok()) return last;
    if (KindOf(last) == ErrorKind::kEpochLost) {
      // Retrying cannot bring the output back; only a replay can (see Recover).
      return last.WithMessage("sink '", sink_name, "': decided epoch ", epoch, " is lost: ", last.message());
    }
    spdlog::warn("sink '{}': commit of epoch {} failed (attempt {} of {}): {}", sink_name, epoch, attempt + 1,
                 policy.max_retries + 1, last.ToString());
  }
  return FatalError("runtime", "sink '" + sink_name + "': epoch " + std::to_string(epoch) +
                                   " is decided but could not be committed; a restart will commit it: " +
                                   last.ToString());
}

arrow::Status CheckpointCoordinator::Recover() {
  ARROW_RETURN_NOT_OK(TransitionTo(Phase::kRecovering));
  auto loaded = store_->LoadLatest();
  if (!loaded.ok()) {
    MarkFailed();
    return FatalError("runtime", "recovery from " + store_->Describe() + " failed: " + loaded.status().message());
  }
  last_manifest_ = std::move(*loaded);
  if (last_manifest_ && !last_manifest_->pipeline.empty() && last_manifest_->pipeline != options_.pipeline_name) {
    MarkFailed();
    return FatalError("runtime", "checkpoint directory " + store_->Describe() + " belongs to pipeline '" +
                                     last_manifest_->pipeline + "', not '" + options_.pipeline_name + "'");
  }
  uint64_t decided = last_manifest_ ? last_manifest_->epoch : 0;
  if (!last_manifest_) {
    // No checkpoint, yet a sink may hold epochs of an earlier run of this pipeline (its
    // checkpoint directory is new or was deleted). Number epochs after them: the sources
    // start over, so this is new input, not a replay a sink may skip.
    for (auto& sink : sinks_) {
      if (!sink.exactly_once) continue;
      auto last = sink.connector->LastCommittedEpoch();
      if (!last.ok()) {
        MarkFailed();
        return FatalError("runtime", "sink '" + sink.name + "': cannot read its last committed epoch: " +
                                         last.status().ToString());
      }
      if (*last && **last > decided) {
        spdlog::warn("sink '{}' already holds epoch {} from an earlier run without a checkpoint here; "
                     "epochs continue at {} (the sources start from their beginning)",
                     sink.name, **last, **last + 1);
        decided = **last;
      }
    }
  }
  if (last_manifest_) {
    spdlog::info("recovering from checkpoint {} (epoch {})", last_manifest_->checkpoint_id, decided);
    for (auto& source : sources_) {
      if (!last_manifest_->source_offsets.count(source.name)) {
        spdlog::warn("source '{}' has no entry in checkpoint {}: it starts from its configured beginning",
                     source.name, last_manifest_->checkpoint_id);
      }
    }
  }
  if (auto status = RewindSources(); !status.ok()) {
    MarkFailed();
    return status;
  }
  bool statuses_changed = false;
  std::vector<size_t> lost;
  for (size_t i = 0; i < sinks_.size(); ++i) {
    auto& sink = sinks_[i];
    if (!sink.exactly_once) continue;
    if (last_manifest_) {
      auto it = last_manifest_->sinks.find(sink.name);
      if (it != last_manifest_->sinks.end() && it->second.status != SinkCommitStatus::kCommitted) {
        // Decided but maybe not visible: roll forward (never back: the sources have moved on).
        spdlog::info("sink '{}': finishing decided epoch {}", sink.name, it->second.epoch);
        if (auto status = CommitDecided(sink.name, sink.connector, it->second.epoch); !status.ok()) {
          if (KindOf(status) != ErrorKind::kEpochLost || it->second.epoch != decided) {
            MarkFailed();
            return status;
          }
          spdlog::warn("{}; replaying the epoch's input into it", status.message());
          lost.push_back(i);
        } else {
          it->second.status = SinkCommitStatus::kCommitted;
          it->second.message.clear();
          statuses_changed = true;
        }
      }
    }
    // Output of the undecided epoch a dead process was writing.
    if (auto status = sink.connector->RollbackEpoch(decided + 1); !status.ok()) {
      MarkFailed();
      return FatalError("runtime", "sink '" + sink.name + "': cannot discard undecided epoch " +
                                       std::to_string(decided + 1) + ": " + status.ToString());
    }
  }
  if (statuses_changed) {
    if (auto status = store_->Save(*last_manifest_); !status.ok()) {
      spdlog::warn("could not record commit statuses after recovery: {}", status.ToString());
    }
  }
  if (!lost.empty()) {
    if (auto status = StartReplay(decided, lost); !status.ok()) {
      MarkFailed();
      return status;
    }
    return TransitionTo(Phase::kReplaying);
  }
  return FinishRecovery(decided);
}

arrow::Status CheckpointCoordinator::FinishRecovery(uint64_t decided) {
  epoch_.store(decided + 1);
  if (last_manifest_) {
    for (auto& source : sources_) {
      ARROW_RETURN_NOT_OK(source.connector->OnCheckpointCommitted(decided));
    }
  }
  if (auto status = BeginEpochOnSinks(); !status.ok()) {
    MarkFailed();
    return status;
  }
  return TransitionTo(Phase::kRunning);
}

arrow::Status CheckpointCoordinator::StartReplay(uint64_t epoch, const std::vector<size_t>& lost_sinks) {
  replay_sink_indices_ = lost_sinks;
  replay_sink_names_.clear();
  replay_source_names_.clear();
  for (size_t index : lost_sinks) {
    const auto& sink = sinks_[index];
    replay_sink_names_.push_back(sink.name);
    if (std::find(replay_source_names_.begin(), replay_source_names_.end(), sink.source) ==
        replay_source_names_.end()) {
      replay_source_names_.push_back(sink.source);
    }
  }
  const std::string why = "sink '" + replay_sink_names_.front() + "' lost decided epoch " + std::to_string(epoch);
  for (auto& source : sources_) {
    if (std::find(replay_source_names_.begin(), replay_source_names_.end(), source.name) ==
        replay_source_names_.end()) {
      continue;
    }
    auto start = last_manifest_->epoch_start.find(source.name);
    if (start == last_manifest_->epoch_start.end()) {
      return FatalError("runtime", why + ", and checkpoint " + std::to_string(last_manifest_->checkpoint_id) +
                                       " does not record where source '" + source.name +
                                       "' stood when that epoch began (it predates epoch replay), so it "
                                       "cannot be replayed");
    }
    SourceCheckpoint end;
    if (auto it = last_manifest_->source_offsets.find(source.name); it != last_manifest_->source_offsets.end()) {
      end = it->second;
    }
    if (auto status = source.connector->SetReplayEnd(end); !status.ok()) {
      return FatalError("runtime", why + ", and its source '" + source.name +
                                       "' cannot replay that epoch: " + status.ToString());
    }
    if (auto status = source.connector->Restore(start->second); !status.ok()) {
      return FatalError("runtime", why + ", and its source '" + source.name + "' cannot go back to " +
                                       start->second.ToJson() + ": " + status.ToString());
    }
    spdlog::info("replaying epoch {} of source '{}' from {} to {}", epoch, source.name, start->second.ToJson(),
                 end.ToJson());
  }
  epoch_.store(epoch);
  for (size_t index : replay_sink_indices_) {
    auto& sink = sinks_[index];
    if (auto status = sink.connector->BeginEpoch(epoch); !status.ok()) {
      return FatalError("runtime", "sink '" + sink.name + "': begin of replayed epoch " + std::to_string(epoch) +
                                       ": " + status.ToString());
    }
  }
  return arrow::Status::OK();
}

arrow::Status CheckpointCoordinator::FinishReplay() {
  if (phase_.load() != Phase::kReplaying) return arrow::Status::Invalid("checkpoint coordinator: no replay pending");
  const uint64_t epoch = epoch_.load();
  auto fail = [&](const arrow::Status& status) {
    MarkFailed();
    return FatalError("runtime", "replay of epoch " + std::to_string(epoch) + " failed (the next start replays it "
                                 "again): " + status.ToString());
  };
  for (size_t index : replay_sink_indices_) {
    auto& sink = sinks_[index];
    if (auto status = sink.connector->PreCommit(epoch); !status.ok()) {
      return fail(status.WithMessage("sink '", sink.name, "': pre-commit: ", status.message()));
    }
  }
  FaultPoint("replay.after_pre_commit");
  for (size_t index : replay_sink_indices_) {
    auto& sink = sinks_[index];
    if (auto status = CommitDecided(sink.name, sink.connector, epoch); !status.ok()) return fail(status);
    last_manifest_->sinks[sink.name].status = SinkCommitStatus::kCommitted;
    last_manifest_->sinks[sink.name].message.clear();
    spdlog::info("sink '{}': replayed epoch {} committed", sink.name, epoch);
  }
  FaultPoint("replay.after_commit");
  if (auto status = store_->Save(*last_manifest_); !status.ok()) {
    spdlog::warn("could not record commit statuses after the replay: {}", status.ToString());
  }
  for (auto& source : sources_) {
    if (std::find(replay_source_names_.begin(), replay_source_names_.end(), source.name) ==
        replay_source_names_.end()) {
      continue;
    }
    if (auto status = source.connector->SetReplayEnd(std::nullopt); !status.ok()) return fail(status);
  }
  if (auto status = RewindSources(); !status.ok()) return fail(status);
  replay_sink_indices_.clear();
  replay_sink_names_.clear();
  replay_source_names_.clear();
  // Phase kReplaying -> kRunning happens in FinishRecovery.
  return FinishRecovery(epoch);
}

arrow::Status CheckpointCoordinator::FailBeforeDecision(const arrow::Status& cause) {
  failed_.fetch_add(1);
  ARROW_RETURN_NOT_OK(AbortEpoch(cause));
  return NeedsAbortError("runtime", "checkpoint of epoch " + std::to_string(epoch_.load()) +
                                        " failed and was rolled back: " + cause.ToString());
}

arrow::Status CheckpointCoordinator::Checkpoint() {
  const auto started = std::chrono::steady_clock::now();
  const uint64_t epoch = epoch_.load();
  ARROW_RETURN_NOT_OK(TransitionTo(Phase::kSnapshotting));
  FaultPoint("checkpoint.after_drain");

  Manifest manifest;
  manifest.checkpoint_id = last_checkpoint_id() + 1;
  manifest.epoch = epoch;
  manifest.timestamp_ms = NowUnixMs();
  manifest.pipeline = options_.pipeline_name;
  for (auto& source : sources_) {
    SourceCheckpoint checkpoint = source.connector->Checkpoint();
    checkpoint.set_epoch(epoch);
    manifest.source_offsets.emplace(source.name, std::move(checkpoint));
    // The epoch began where the last decision left the source (every rewind goes there).
    SourceCheckpoint start;
    if (last_manifest_) {
      if (auto it = last_manifest_->source_offsets.find(source.name); it != last_manifest_->source_offsets.end()) {
        start = it->second;
      }
    }
    manifest.epoch_start.emplace(source.name, std::move(start));
  }

  ARROW_RETURN_NOT_OK(TransitionTo(Phase::kPreCommitting));
  for (auto& sink : sinks_) {
    arrow::Status status = sink.exactly_once ? sink.connector->PreCommit(epoch) : sink.connector->Flush();
    if (!status.ok()) {
      return FailBeforeDecision(status.WithMessage("sink '", sink.name, "': pre-commit: ", status.message()));
    }
    if (sink.exactly_once) manifest.sinks[sink.name] = SinkState{epoch, SinkCommitStatus::kPending, ""};
  }
  FaultPoint("checkpoint.after_pre_commit");

  ARROW_RETURN_NOT_OK(TransitionTo(Phase::kPersisting));
  if (auto status = store_->Save(manifest); !status.ok()) {
    return FailBeforeDecision(status.WithMessage("saving checkpoint manifest to ", store_->Describe(), ": ",
                                                 status.message()));
  }
  // The epoch is decided from here on.
  last_manifest_ = manifest;
  FaultPoint("checkpoint.after_persist");

  ARROW_RETURN_NOT_OK(TransitionTo(Phase::kCommitting));
  bool first = true;
  std::vector<size_t> lost;
  for (size_t i = 0; i < sinks_.size(); ++i) {
    auto& sink = sinks_[i];
    if (!sink.exactly_once) continue;
    if (auto status = CommitDecided(sink.name, sink.connector, epoch); !status.ok()) {
      if (KindOf(status) == ErrorKind::kEpochLost) {
        // Stays Pending in the manifest: if the process dies before the replay below
        // commits, the next start replays.
        spdlog::warn("{}; replaying the epoch's input into it", status.message());
        lost.push_back(i);
        continue;
      }
      last_manifest_->sinks[sink.name].status = SinkCommitStatus::kFailed;
      last_manifest_->sinks[sink.name].message = Scrub(status.message());  // the manifest is a file on disk
      (void)store_->Save(*last_manifest_);
      MarkFailed();
      return status;
    }
    last_manifest_->sinks[sink.name].status = SinkCommitStatus::kCommitted;
    if (first) FaultPoint("checkpoint.after_first_sink_commit");
    first = false;
  }
  FaultPoint("checkpoint.after_commit");
  if (!last_manifest_->sinks.empty()) {
    // Only a record: recovery re-commits idempotently when this write is lost.
    if (auto status = store_->Save(*last_manifest_); !status.ok()) {
      spdlog::warn("could not record commit statuses of checkpoint {}: {}", manifest.checkpoint_id, status.ToString());
    }
  }
  FaultPoint("checkpoint.after_status_persist");
  if (!lost.empty()) {
    completed_.fetch_add(1);
    last_checkpoint_unix_ms_.store(NowUnixMs());
    ARROW_RETURN_NOT_OK(TransitionTo(Phase::kReplaying));
    if (auto status = StartReplay(epoch, lost); !status.ok()) {
      MarkFailed();
      return status;
    }
    // The caller (Pipeline) sees replay_pending(), replays at the cut and calls FinishReplay.
    return arrow::Status::OK();
  }
  for (auto& source : sources_) {
    if (auto status = source.connector->OnCheckpointCommitted(epoch); !status.ok()) {
      // The data is safe; the acknowledgement is repeated at the next checkpoint.
      spdlog::warn("source '{}': acknowledging epoch {} failed: {}", source.name, epoch, status.ToString());
    }
  }
  epoch_.store(epoch + 1);
  completed_.fetch_add(1);
  last_duration_us_.store(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count());
  last_checkpoint_unix_ms_.store(NowUnixMs());
  ARROW_RETURN_NOT_OK(TransitionTo(Phase::kRunning));
  if (auto status = BeginEpochOnSinks(); !status.ok()) {
    // Nothing of the new epoch was written yet; treat like any failed epoch.
    return FailBeforeDecision(status);
  }
  return arrow::Status::OK();
}

arrow::Status CheckpointCoordinator::AbortEpoch(const arrow::Status& cause) {
  const uint64_t epoch = epoch_.load();
  spdlog::warn("epoch {} failed, rolling back and replaying from the last checkpoint: {}", epoch, cause.ToString());
  ARROW_RETURN_NOT_OK(TransitionTo(Phase::kRollingBack));
  for (auto& sink : sinks_) {
    if (!sink.exactly_once) continue;
    if (auto status = sink.connector->RollbackEpoch(epoch); !status.ok()) {
      MarkFailed();
      return FatalError("runtime", "sink '" + sink.name + "': rollback of epoch " + std::to_string(epoch) +
                                       " failed: " + status.ToString());
    }
  }
  if (auto status = RewindSources(); !status.ok()) {
    MarkFailed();
    return status;
  }
  ARROW_RETURN_NOT_OK(TransitionTo(Phase::kRunning));
  if (auto status = BeginEpochOnSinks(); !status.ok()) {
    MarkFailed();
    return FatalError("runtime", "after rollback: " + status.ToString());
  }
  return arrow::Status::OK();
}

}  // namespace laminar::runtime
