#include "laminar/testing/test_connectors.h"

#include <arrow/api.h>

#include <algorithm>
#include <thread>

namespace laminar::testing {

SequenceSource::SequenceSource(int64_t total_rows, int64_t batch_rows, std::chrono::milliseconds poll_delay)
    : schema_(arrow::schema({arrow::field("id", arrow::int64(), /*nullable=*/false)})),
      total_rows_(total_rows),
      batch_rows_(batch_rows),
      poll_delay_(poll_delay) {}

void SequenceSource::FailPollAt(int call, arrow::Status error) { poll_failures_[call] = std::move(error); }

arrow::Result<std::optional<SourceBatch>> SequenceSource::PollBatch(int64_t max_records, std::chrono::milliseconds) {
  ++poll_calls_;
  if (auto it = poll_failures_.find(poll_calls_); it != poll_failures_.end()) return it->second;
  if (next_ >= total_rows_) return std::optional<SourceBatch>();
  const int64_t end = replay_end_ ? std::min(*replay_end_, total_rows_) : total_rows_;
  if (next_ >= end) return std::optional<SourceBatch>();
  if (poll_delay_.count() > 0) std::this_thread::sleep_for(poll_delay_);
  const int64_t n = std::min({batch_rows_, max_records, end - next_});
  arrow::Int64Builder builder;
  ARROW_RETURN_NOT_OK(builder.Reserve(n));
  for (int64_t i = 0; i < n; ++i) builder.UnsafeAppend(next_ + i);
  ARROW_ASSIGN_OR_RAISE(auto ids, builder.Finish());
  SourceBatch batch;
  batch.records = arrow::RecordBatch::Make(schema_, n, {ids});
  batch.partition = PartitionInfo{"0", std::to_string(next_)};
  next_ += n;
  return std::optional<SourceBatch>(std::move(batch));
}

SourceCheckpoint SequenceSource::Checkpoint() const {
  SourceCheckpoint checkpoint;
  checkpoint.SetOffset("next", std::to_string(next_));
  return checkpoint;
}

arrow::Status SequenceSource::Restore(const SourceCheckpoint& checkpoint) {
  ++restores_;
  auto offset = checkpoint.GetOffset("next");
  if (!offset) {
    next_ = 0;
    return arrow::Status::OK();
  }
  int64_t value = std::stoll(*offset);
  if (value < 0 || value > total_rows_) return arrow::Status::Invalid("position ", value, " is unreachable");
  next_ = value;
  return arrow::Status::OK();
}

arrow::Status SequenceSource::SetReplayEnd(const std::optional<SourceCheckpoint>& end) {
  if (!end) {
    replay_end_.reset();
    return arrow::Status::OK();
  }
  auto offset = end->GetOffset("next");
  replay_end_ = offset ? std::stoll(*offset) : 0;
  return arrow::Status::OK();
}

arrow::Status SequenceSource::OnCheckpointCommitted(uint64_t epoch) {
  acknowledged_.push_back(epoch);
  return arrow::Status::OK();
}

std::vector<int64_t> StagingStore::Visible() {
  std::lock_guard<std::mutex> lock(mu);
  return visible;
}

std::vector<std::string> StagingStore::Calls() {
  std::lock_guard<std::mutex> lock(mu);
  return calls;
}

arrow::Status StagingSink::BeginEpoch(uint64_t epoch) {
  std::lock_guard<std::mutex> lock(store_->mu);
  store_->calls.push_back("begin " + std::to_string(epoch));
  epoch_ = epoch;
  in_epoch_ = true;
  return arrow::Status::OK();
}

arrow::Result<WriteResult> StagingSink::WriteBatch(const std::shared_ptr<arrow::RecordBatch>& batch) {
  ++write_calls_;
  if (auto it = write_failures_.find(write_calls_); it != write_failures_.end()) return it->second;
  std::lock_guard<std::mutex> lock(store_->mu);
  if (!in_epoch_) return arrow::Status::Invalid("write before begin_epoch");
  store_->calls.push_back("write " + std::to_string(epoch_));
  auto ids = std::static_pointer_cast<arrow::Int64Array>(batch->column(0));
  auto& staged = store_->staged[epoch_];
  for (int64_t i = 0; i < ids->length(); ++i) staged.push_back(ids->Value(i));
  return WriteResult{batch->num_rows(), batch->num_rows() * 8};
}

arrow::Status StagingSink::PreCommit(uint64_t epoch) {
  ++pre_commit_calls_;
  if (auto it = pre_commit_failures_.find(pre_commit_calls_); it != pre_commit_failures_.end()) return it->second;
  std::lock_guard<std::mutex> lock(store_->mu);
  store_->calls.push_back("pre_commit " + std::to_string(epoch));
  if (epoch != epoch_) return arrow::Status::Invalid("pre_commit of epoch ", epoch, " while in epoch ", epoch_);
  auto& prepared = store_->prepared[epoch];
  auto& staged = store_->staged[epoch];
  prepared.insert(prepared.end(), staged.begin(), staged.end());
  store_->staged.erase(epoch);
  return arrow::Status::OK();
}

arrow::Status StagingSink::CommitEpoch(uint64_t epoch) {
  if (commit_failures_left_ > 0) {
    --commit_failures_left_;
    return arrow::Status::IOError("injected commit failure");
  }
  std::lock_guard<std::mutex> lock(store_->mu);
  store_->calls.push_back("commit " + std::to_string(epoch));
  if (store_->committed_epochs.count(epoch)) return arrow::Status::OK();  // idempotent
  auto it = store_->prepared.find(epoch);
  if (it == store_->prepared.end()) {
    // Nothing prepared: an empty epoch, or data a crash lost before pre-commit (a bug the
    // tests would see as missing rows).
    store_->committed_epochs.insert(epoch);
    return arrow::Status::OK();
  }
  store_->visible.insert(store_->visible.end(), it->second.begin(), it->second.end());
  store_->prepared.erase(it);
  store_->committed_epochs.insert(epoch);
  in_epoch_ = false;
  return arrow::Status::OK();
}

arrow::Status StagingSink::RollbackEpoch(uint64_t epoch) {
  std::lock_guard<std::mutex> lock(store_->mu);
  store_->calls.push_back("rollback " + std::to_string(epoch));
  for (auto it = store_->staged.lower_bound(epoch); it != store_->staged.end();) it = store_->staged.erase(it);
  for (auto it = store_->prepared.lower_bound(epoch); it != store_->prepared.end();) it = store_->prepared.erase(it);
  in_epoch_ = false;
  return arrow::Status::OK();
}

FencingSink::FencingSink(std::shared_ptr<StagingStore> store) : store_(std::move(store)) {
  std::lock_guard<std::mutex> lock(store_->mu);
  store_->calls.push_back("fence");
  store_->staged.clear();
  store_->prepared.clear();
}

arrow::Status FencingSink::BeginEpoch(uint64_t epoch) {
  std::lock_guard<std::mutex> lock(store_->mu);
  store_->calls.push_back("begin " + std::to_string(epoch));
  epoch_ = epoch;
  in_epoch_ = true;
  prepared_.erase(epoch);
  store_->staged.erase(epoch);
  return arrow::Status::OK();
}

arrow::Result<WriteResult> FencingSink::WriteBatch(const std::shared_ptr<arrow::RecordBatch>& batch) {
  std::lock_guard<std::mutex> lock(store_->mu);
  if (!in_epoch_) return arrow::Status::Invalid("write before begin_epoch");
  store_->calls.push_back("write " + std::to_string(epoch_));
  auto ids = std::static_pointer_cast<arrow::Int64Array>(batch->column(0));
  auto& staged = store_->staged[epoch_];
  for (int64_t i = 0; i < ids->length(); ++i) staged.push_back(ids->Value(i));
  return WriteResult{batch->num_rows(), batch->num_rows() * 8};
}

arrow::Status FencingSink::PreCommit(uint64_t epoch) {
  std::lock_guard<std::mutex> lock(store_->mu);
  store_->calls.push_back("pre_commit " + std::to_string(epoch));
  if (epoch != epoch_ || !in_epoch_) return arrow::Status::Invalid("pre_commit of epoch ", epoch, " not begun");
  auto& prepared = prepared_[epoch];
  auto& staged = store_->staged[epoch];
  prepared.insert(prepared.end(), staged.begin(), staged.end());
  store_->prepared[epoch] = prepared;
  store_->staged.erase(epoch);
  return arrow::Status::OK();
}

arrow::Status FencingSink::CommitEpoch(uint64_t epoch) {
  std::lock_guard<std::mutex> lock(store_->mu);
  store_->calls.push_back("commit " + std::to_string(epoch));
  if (store_->committed_epochs.count(epoch)) return arrow::Status::OK();
  if (++commit_calls_ == lose_commit_at_ && prepared_.count(epoch)) {
    prepared_.erase(epoch);
    store_->prepared.erase(epoch);
    in_epoch_ = false;
    return EpochLostError("test", "the broker aborted the transaction of epoch " + std::to_string(epoch));
  }
  auto it = prepared_.find(epoch);
  if (it == prepared_.end()) {
    return EpochLostError("test", "epoch " + std::to_string(epoch) + " was aborted by the fencing of its producer");
  }
  store_->visible.insert(store_->visible.end(), it->second.begin(), it->second.end());
  store_->committed_epochs.insert(epoch);
  store_->prepared.erase(epoch);
  prepared_.erase(it);
  in_epoch_ = false;
  return arrow::Status::OK();
}

arrow::Status FencingSink::RollbackEpoch(uint64_t epoch) {
  std::lock_guard<std::mutex> lock(store_->mu);
  store_->calls.push_back("rollback " + std::to_string(epoch));
  for (auto it = prepared_.lower_bound(epoch); it != prepared_.end();) it = prepared_.erase(it);
  for (auto it = store_->staged.lower_bound(epoch); it != store_->staged.end();) it = store_->staged.erase(it);
  for (auto it = store_->prepared.lower_bound(epoch); it != store_->prepared.end();) it = store_->prepared.erase(it);
  in_epoch_ = false;
  return arrow::Status::OK();
}

arrow::Result<std::optional<uint64_t>> FencingSink::LastCommittedEpoch() {
  std::lock_guard<std::mutex> lock(store_->mu);
  if (store_->committed_epochs.empty()) return std::optional<uint64_t>();
  return std::optional<uint64_t>(*store_->committed_epochs.rbegin());
}

}  // namespace laminar::testing
