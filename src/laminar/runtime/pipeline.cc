#include "laminar/runtime/pipeline.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace laminar::runtime {

struct Pipeline::SourceSlot {
  std::string name;
  std::string type;
  std::unique_ptr<SourceConnector> connector;
  std::thread thread;
  // Guarded by control_mu_.
  bool parked = false;
  bool blocked = false;  // sent an error or its end marker: waits for a rewind or shutdown
  std::atomic<int64_t> rows{0};
  std::atomic<int64_t> bytes{0};
  std::atomic<int64_t> batches{0};
  std::atomic<int64_t> errors{0};
};

struct Pipeline::SinkSlot {
  std::string name;
  std::string type;
  std::string from;
  size_t source_index = 0;
  std::unique_ptr<SinkConnector> connector;
  bool exactly_once = false;
  bool dead_letters = false;  // receives the source's dead letters, not its data
  std::atomic<int64_t> rows{0};
  std::atomic<int64_t> bytes{0};
  std::atomic<int64_t> batches{0};
  std::atomic<int64_t> errors{0};
};

Pipeline::Pipeline(PipelineOptions options, std::unique_ptr<ManifestStore> store)
    : options_(std::move(options)), store_(std::move(store)), queue_(options_.queue_capacity) {}

Pipeline::~Pipeline() { StopSources(); }

void Pipeline::AddSource(std::string name, std::string connector_type, std::unique_ptr<SourceConnector> source) {
  auto slot = std::make_unique<SourceSlot>();
  slot->name = std::move(name);
  slot->type = std::move(connector_type);
  slot->connector = std::move(source);
  sources_.push_back(std::move(slot));
}

void Pipeline::AddSink(std::string name, std::string connector_type, std::string from_source,
                       std::unique_ptr<SinkConnector> sink) {
  auto slot = std::make_unique<SinkSlot>();
  slot->name = std::move(name);
  slot->type = std::move(connector_type);
  slot->from = std::move(from_source);
  slot->connector = std::move(sink);
  slot->exactly_once = slot->connector->capabilities().exactly_once;
  sinks_.push_back(std::move(slot));
}

void Pipeline::AddDeadLetterSink(std::string name, std::string connector_type, std::string from_source,
                                 std::unique_ptr<SinkConnector> sink) {
  AddSink(std::move(name), std::move(connector_type), std::move(from_source), std::move(sink));
  sinks_.back()->dead_letters = true;
}

void Pipeline::SourceLoop(SourceSlot& slot, size_t index) {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(control_mu_);
      if (hold_ || slot.blocked) {
        slot.parked = true;
        control_cv_.notify_all();
        control_cv_.wait(lock, [&] { return shutdown_ || (!hold_ && !slot.blocked); });
        slot.parked = false;
      }
      if (shutdown_) return;
    }
    std::optional<SourceBatch> batch;
    arrow::Status status = sdk::WithRetry(
        options_.poll_retry,
        [&] {
          auto result = slot.connector->PollBatch(options_.max_batch_rows, options_.poll_timeout);
          if (!result.ok()) return result.status();
          batch = std::move(*result);
          return arrow::Status::OK();
        },
        [&](int attempt, const arrow::Status& error) {
          slot.errors.fetch_add(1);
          spdlog::warn("source '{}': poll failed (attempt {}): {}", slot.name, attempt + 1, error.ToString());
        });
    if (!status.ok()) {
      {
        std::lock_guard<std::mutex> lock(control_mu_);
        slot.blocked = true;
      }
      queue_.Push(QueueItem{index, nullptr, nullptr,
                            status.WithMessage("source '", slot.name, "': poll: ", status.message()), false});
      continue;
    }
    if (batch && (batch->num_rows() > 0 || batch->dead_letters)) {
      slot.rows.fetch_add(batch->num_rows());
      slot.batches.fetch_add(1);
      rows_in_.fetch_add(batch->num_rows());
      if (batch->dead_letters) slot.errors.fetch_add(batch->dead_letters->num_rows());
      if (!queue_.Push(QueueItem{index, std::move(batch->records), std::move(batch->dead_letters),
                                 arrow::Status::OK(), false})) {
        return;
      }
    }
    if (slot.connector->finished()) {
      {
        std::lock_guard<std::mutex> lock(control_mu_);
        slot.blocked = true;
      }
      if (!queue_.Push(QueueItem{index, nullptr, nullptr, arrow::Status::OK(), true})) return;
    }
  }
}

void Pipeline::StartSources() {
  for (size_t i = 0; i < sources_.size(); ++i) {
    SourceSlot* s = sources_[i].get();
    s->connector->SetBackpressureProbe(
        [this] { return static_cast<double>(queue_.size()) / static_cast<double>(queue_.capacity()); });
    s->thread = std::thread([this, s, i] { SourceLoop(*s, i); });
  }
}

void Pipeline::StopSources() {
  {
    std::lock_guard<std::mutex> lock(control_mu_);
    shutdown_ = true;
  }
  control_cv_.notify_all();
  queue_.Close();
  for (auto& slot : sources_) {
    if (slot->thread.joinable()) slot->thread.join();
  }
}

void Pipeline::HoldCut() {
  {
    std::lock_guard<std::mutex> lock(control_mu_);
    hold_ = true;
  }
  // Keep draining while waiting: a source may be blocked pushing into a full queue.
  const bool discard = !epoch_error_.ok();
  while (true) {
    {
      std::lock_guard<std::mutex> lock(control_mu_);
      if (std::all_of(sources_.begin(), sources_.end(), [](const auto& s) { return s->parked; })) break;
    }
    if (auto item = queue_.PopFor(std::chrono::milliseconds(5))) Process(std::move(*item), discard);
  }
  while (auto item = queue_.TryPop()) Process(std::move(*item), !epoch_error_.ok());
}

void Pipeline::ReleaseCut(bool rewound) {
  {
    std::lock_guard<std::mutex> lock(control_mu_);
    hold_ = false;
    if (rewound) {
      for (auto& slot : sources_) slot->blocked = false;
    }
  }
  if (rewound) finished_sources_ = 0;
  epoch_rows_ = 0;
  control_cv_.notify_all();
}

void Pipeline::Process(QueueItem item, bool discard) {
  if (!item.error.ok()) {
    if (epoch_error_.ok()) epoch_error_ = item.error;
    return;
  }
  if (item.end) {
    ++finished_sources_;
    return;
  }
  // Once the epoch has failed everything it still carries is replayed after the rewind.
  if (discard || !epoch_error_.ok()) return;
  if (auto status = WriteToSinks(item); !status.ok()) epoch_error_ = status;
}

arrow::Status Pipeline::WriteToSink(SinkSlot& sink, const std::shared_ptr<arrow::RecordBatch>& batch) {
  arrow::Status status = sdk::WithRetry(
      options_.write_retry,
      [&] {
        auto result = sink.connector->WriteBatch(batch);
        if (!result.ok()) return result.status();
        sink.bytes.fetch_add(result->bytes_written);
        return arrow::Status::OK();
      },
      [&](int attempt, const arrow::Status& error) {
        sink.errors.fetch_add(1);
        spdlog::warn("sink '{}': write failed (attempt {}): {}", sink.name, attempt + 1, error.ToString());
      });
  if (!status.ok()) return status.WithMessage("sink '", sink.name, "': write: ", status.message());
  sink.rows.fetch_add(batch->num_rows());
  sink.batches.fetch_add(1);
  return arrow::Status::OK();
}

arrow::Status Pipeline::WriteToSinks(const QueueItem& item) {
  for (auto& sink : sinks_) {
    if (sink->source_index != item.source) continue;
    const auto& batch = sink->dead_letters ? item.dead_letters : item.batch;
    if (!batch || batch->num_rows() == 0) continue;
    ARROW_RETURN_NOT_OK(WriteToSink(*sink, batch));
    if (!sink->dead_letters) rows_out_.fetch_add(batch->num_rows());
  }
  if (item.batch) epoch_rows_ += item.batch->num_rows();
  if (item.dead_letters) epoch_rows_ += item.dead_letters->num_rows();
  return arrow::Status::OK();
}

// A decided epoch that a sink lost (found by recovery, or by a commit at a cut): poll the
// sources that feed it on this thread (no poll thread runs yet, or all are parked at the
// cut) until each reaches the epoch's end, write their batches
// to the lost sinks only (the others committed the epoch already), then let the
// coordinator commit it and rewind every source to the decision.
arrow::Status Pipeline::ReplayLostEpoch(const std::atomic<bool>& stop_requested) {
  const auto& sink_names = coordinator_->replay_sinks();
  const uint64_t epoch = coordinator_->current_epoch();
  auto replayed = [&](const SinkSlot& sink) {
    return std::find(sink_names.begin(), sink_names.end(), sink.name) != sink_names.end();
  };
  for (size_t index = 0; index < sources_.size(); ++index) {
    SourceSlot& slot = *sources_[index];
    const auto& names = coordinator_->replay_sources();
    if (std::find(names.begin(), names.end(), slot.name) == names.end()) continue;
    int64_t rows = 0;
    auto last_progress = std::chrono::steady_clock::now();
    while (!slot.connector->ReplayReachedEnd()) {
      if (stop_requested.load()) {
        return arrow::Status::Cancelled("stopped while replaying epoch ", epoch, "; the next start replays it");
      }
      std::optional<SourceBatch> batch;
      ARROW_RETURN_NOT_OK(sdk::WithRetry(
          options_.poll_retry,
          [&] {
            auto result = slot.connector->PollBatch(options_.max_batch_rows, options_.poll_timeout);
            if (!result.ok()) return result.status();
            batch = std::move(*result);
            return arrow::Status::OK();
          },
          [&](int attempt, const arrow::Status& error) {
            slot.errors.fetch_add(1);
            spdlog::warn("source '{}': poll failed while replaying (attempt {}): {}", slot.name, attempt + 1,
                         error.ToString());
          }));
      const auto now = std::chrono::steady_clock::now();
      if (batch && (batch->num_rows() > 0 || batch->dead_letters)) {
        last_progress = now;
        rows += batch->num_rows();
        for (auto& sink : sinks_) {
          if (sink->source_index != index || !replayed(*sink)) continue;
          const auto& data = sink->dead_letters ? batch->dead_letters : batch->records;
          if (!data || data->num_rows() == 0) continue;
          ARROW_RETURN_NOT_OK(WriteToSink(*sink, data));
          if (!sink->dead_letters) rows_out_.fetch_add(data->num_rows());
        }
        continue;
      }
      if (slot.connector->finished() && !slot.connector->ReplayReachedEnd()) {
        return FatalError("runtime", "source '" + slot.name + "' ended before reaching the end of epoch " +
                                         std::to_string(epoch) + ", which it must replay");
      }
      if (now - last_progress > options_.replay_stall_timeout) {
        return FatalError("runtime", "replay of epoch " + std::to_string(epoch) + ": source '" + slot.name +
                                         "' returned nothing for " +
                                         std::to_string(options_.replay_stall_timeout.count()) +
                                         " ms before reaching the epoch's end (its input may be gone)");
      }
    }
    spdlog::info("source '{}': replayed {} rows of epoch {}", slot.name, rows, epoch);
  }
  return coordinator_->FinishReplay();
}

// With the cut held: roll the epoch back, rewind, and let the sources go again.
arrow::Status Pipeline::HandleEpochFailure(const arrow::Status& cause) {
  rolled_back_.fetch_add(1);
  if (KindOf(cause) == ErrorKind::kFatal) {
    // Replaying cannot help (a record that does not decode, a sink that refuses the
    // schema): discard the epoch and stop; a restart resumes from the last checkpoint.
    ARROW_RETURN_NOT_OK(coordinator_->AbortEpoch(cause));
    return cause;
  }
  if (++consecutive_failures_ > options_.max_consecutive_epoch_failures) {
    return FatalError("runtime", "giving up after " + std::to_string(consecutive_failures_) +
                                     " failed epochs in a row; last error: " + cause.ToString());
  }
  ARROW_RETURN_NOT_OK(coordinator_->AbortEpoch(cause));
  epoch_error_ = arrow::Status::OK();
  ReleaseCut(/*rewound=*/true);
  return arrow::Status::OK();
}

arrow::Status Pipeline::CheckpointAtCut() {
  HoldCut();
  if (!epoch_error_.ok()) return HandleEpochFailure(epoch_error_);
  arrow::Status status = coordinator_->Checkpoint();
  if (status.ok() && coordinator_->replay_pending()) {
    // A sink lost the epoch just decided: replay it now, with the poll threads still
    // parked at the cut (this thread is the only caller of the sources meanwhile).
    if (auto replayed = ReplayLostEpoch(*stop_requested_); !replayed.ok()) {
      coordinator_->MarkFailed();
      return replayed;
    }
    if (epoch_rows_ > 0) consecutive_failures_ = 0;
    ReleaseCut(/*rewound=*/true);  // every source was restored (to the cut itself)
    return status;
  }
  if (status.ok()) {
    // Only an epoch that carried data proves the failure is gone; an empty one does not.
    if (epoch_rows_ > 0) consecutive_failures_ = 0;
    ReleaseCut(/*rewound=*/false);
    return status;
  }
  if (KindOf(status) != ErrorKind::kNeedsAbort) return status;
  // The coordinator already rolled back and rewound.
  rolled_back_.fetch_add(1);
  if (++consecutive_failures_ > options_.max_consecutive_epoch_failures) {
    return FatalError("runtime", "giving up after " + std::to_string(consecutive_failures_) +
                                     " failed checkpoints in a row; last error: " + status.ToString());
  }
  epoch_error_ = arrow::Status::OK();
  ReleaseCut(/*rewound=*/true);
  return arrow::Status::OK();
}

arrow::Status Pipeline::Run(const std::atomic<bool>& stop_requested) {
  std::vector<SourceHandle> source_handles;
  for (auto& slot : sources_) source_handles.push_back({slot->name, slot->connector.get()});
  std::vector<SinkHandle> sink_handles;
  for (auto& sink : sinks_) {
    auto it = std::find_if(sources_.begin(), sources_.end(), [&](const auto& s) { return s->name == sink->from; });
    if (it == sources_.end()) {
      CloseAll();
      return ConfigError("sink '" + sink->name + "'", "reads from unknown source '" + sink->from + "'");
    }
    sink->source_index = static_cast<size_t>(it - sources_.begin());
    sink_handles.push_back({sink->name, sink->connector.get(), sink->exactly_once, sink->from});
  }
  CoordinatorOptions coordinator_options;
  coordinator_options.pipeline_name = options_.name;
  coordinator_options.commit_retry = options_.commit_retry;
  coordinator_ = std::make_unique<CheckpointCoordinator>(coordinator_options, store_.get(), std::move(source_handles),
                                                         std::move(sink_handles));
  coordinator_view_.store(coordinator_.get());
  if (auto status = coordinator_->Recover(); !status.ok()) {
    CloseAll();
    return status;
  }
  if (coordinator_->replay_pending()) {
    if (auto status = ReplayLostEpoch(stop_requested); !status.ok()) {
      coordinator_->MarkFailed();
      CloseAll();
      return status;
    }
  }
  stop_requested_ = &stop_requested;
  StartSources();
  auto last_checkpoint = std::chrono::steady_clock::now();
  arrow::Status result;
  while (true) {
    if (!epoch_error_.ok()) {
      HoldCut();
      if (result = HandleEpochFailure(epoch_error_); !result.ok()) break;
      continue;
    }
    const bool stopping = stop_requested.load() || finished_sources_ == sources_.size();
    const auto now = std::chrono::steady_clock::now();
    const bool interval_due = options_.checkpoint_interval.count() > 0 &&
                              now - last_checkpoint >= options_.checkpoint_interval;
    if (stopping || interval_due) {
      const uint64_t epoch_before = coordinator_->current_epoch();
      if (result = CheckpointAtCut(); !result.ok()) break;
      last_checkpoint = std::chrono::steady_clock::now();
      // Stop only once the final epoch is really committed (a failed one is replayed first).
      if (stopping && coordinator_->current_epoch() > epoch_before &&
          (stop_requested.load() || finished_sources_ == sources_.size())) {
        break;
      }
      continue;
    }
    if (auto item = queue_.PopFor(std::chrono::milliseconds(20))) Process(std::move(*item), false);
  }
  StopSources();
  if (result.ok()) {
    coordinator_->MarkStopped();
  } else {
    coordinator_->MarkFailed();
  }
  CloseAll();
  return result;
}

void Pipeline::CloseAll() {
  for (auto& slot : sources_) {
    if (auto status = slot->connector->Close(); !status.ok()) {
      spdlog::warn("source '{}': close: {}", slot->name, status.ToString());
    }
  }
  for (auto& sink : sinks_) {
    if (auto status = sink->connector->Close(); !status.ok()) {
      spdlog::warn("sink '{}': close: {}", sink->name, status.ToString());
    }
  }
}

PipelineStats Pipeline::Stats() const {
  PipelineStats stats;
  stats.rows_in = rows_in_.load();
  stats.rows_out = rows_out_.load();
  stats.epochs_rolled_back = rolled_back_.load();
  stats.queue_depth = static_cast<int64_t>(queue_.size());
  if (const CheckpointCoordinator* c = coordinator_view_.load()) {
    stats.epoch = c->current_epoch();
    stats.phase = PhaseName(c->phase());
    stats.checkpoints_completed = c->checkpoints_completed();
    stats.checkpoints_failed = c->checkpoints_failed();
    stats.last_checkpoint_unix_ms = c->last_checkpoint_unix_ms();
    stats.last_checkpoint_duration_us = c->last_checkpoint_duration_us();
  } else {
    stats.phase = PhaseName(Phase::kCreated);
  }
  for (const auto& s : sources_) {
    stats.connectors.push_back({s->name, s->type, true, s->rows.load(), s->bytes.load(), s->batches.load(),
                                s->errors.load(), s->connector->Health().ToString(), s->connector->Metrics().custom});
  }
  for (const auto& s : sinks_) {
    stats.connectors.push_back({s->name, s->type, false, s->rows.load(), s->bytes.load(), s->batches.load(),
                                s->errors.load(), s->connector->Health().ToString(), s->connector->Metrics().custom});
  }
  return stats;
}

}  // namespace laminar::runtime
