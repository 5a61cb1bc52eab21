#include "laminar/dlq/dead_letter_sink.h"

#include "laminar/core/status.h"

namespace laminar::dlq {

arrow::Status DeadLetterSink::BeginEpoch(uint64_t epoch) {
  epoch_ = epoch;
  epoch_rows_ = 0;
  return inner_->BeginEpoch(epoch);
}

arrow::Result<WriteResult> DeadLetterSink::WriteBatch(const std::shared_ptr<arrow::RecordBatch>& batch) {
  auto result = inner_->WriteBatch(batch);
  if (!result.ok()) {
    write_failed_.fetch_add(batch ? batch->num_rows() : 0);
    return result;
  }
  epoch_rows_ += batch ? batch->num_rows() : 0;
  return result;
}

arrow::Status DeadLetterSink::PreCommit(uint64_t epoch) {
  auto status = inner_->PreCommit(epoch);
  if (!status.ok()) {
    write_failed_.fetch_add(epoch_rows_);
    epoch_rows_ = 0;
    return status;
  }
  staged_[epoch] += epoch_rows_;
  epoch_rows_ = 0;
  return status;
}

arrow::Status DeadLetterSink::Flush() {
  auto status = inner_->Flush();
  if (inner_->capabilities().exactly_once) return status;
  (status.ok() ? written_ : write_failed_).fetch_add(epoch_rows_);
  epoch_rows_ = 0;
  return status;
}

arrow::Status DeadLetterSink::CommitEpoch(uint64_t epoch) {
  auto status = inner_->CommitEpoch(epoch);
  if (KindOf(status) == ErrorKind::kEpochLost) {
    // Gone (a Kafka transaction aborted under us): a failed attempt. The runtime replays the
    // epoch into this sink, which stages its dead letters again.
    if (auto it = staged_.find(epoch); it != staged_.end()) {
      write_failed_.fetch_add(it->second);
      staged_.erase(it);
    }
    return status;
  }
  ARROW_RETURN_NOT_OK(status);
  // A commit after a restart finishes an epoch another process staged: its count is unknown.
  if (auto it = staged_.find(epoch); it != staged_.end()) {
    written_.fetch_add(it->second);
    staged_.erase(it);
  }
  return arrow::Status::OK();
}

arrow::Status DeadLetterSink::RollbackEpoch(uint64_t epoch) {
  staged_.erase(staged_.lower_bound(epoch), staged_.end());
  if (epoch <= epoch_) epoch_rows_ = 0;
  return inner_->RollbackEpoch(epoch);
}

ConnectorMetrics DeadLetterSink::Metrics() const {
  ConnectorMetrics metrics = inner_->Metrics();
  metrics.AddCustom("dlq_written", static_cast<double>(written_.load()));
  metrics.AddCustom("dlq_write_failed", static_cast<double>(write_failed_.load()));
  return metrics;
}

}  // namespace laminar::dlq
