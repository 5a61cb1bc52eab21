// Fault-injecting test doubles for protocol tests: a source of sequential ids that can be
// told to fail, and a sink with real staging (pending per epoch, visible only on commit,
// dropped on rollback) whose "external system" outlives a sink instance, so a test can
// crash a pipeline and recover with a new one.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "laminar/core/connector.h"

namespace laminar::testing {

// Rows {id: int64 not null} = 0, 1, 2, ... total_rows-1, in batches of batch_rows.
class SequenceSource : public SourceConnector {
 public:
  // poll_delay: each PollBatch sleeps this long, so that checkpoints fall between batches.
  SequenceSource(int64_t total_rows, int64_t batch_rows,
                 std::chrono::milliseconds poll_delay = std::chrono::milliseconds(0));

  // The n-th PollBatch call (1-based, counted over the instance's life) fails with `error`.
  void FailPollAt(int call, arrow::Status error);

  arrow::Status Open(const ConnectorConfig&) override { return arrow::Status::OK(); }
  std::shared_ptr<arrow::Schema> schema() const override { return schema_; }
  arrow::Result<std::optional<SourceBatch>> PollBatch(int64_t max_records, std::chrono::milliseconds timeout) override;
  bool finished() const override { return next_ >= total_rows_; }
  SourceCheckpoint Checkpoint() const override;
  arrow::Status Restore(const SourceCheckpoint& checkpoint) override;
  arrow::Status OnCheckpointCommitted(uint64_t epoch) override;
  arrow::Status SetReplayEnd(const std::optional<SourceCheckpoint>& end) override;
  bool ReplayReachedEnd() const override { return replay_end_ && next_ >= *replay_end_; }
  arrow::Status Close() override { return arrow::Status::OK(); }

  int64_t next() const { return next_; }
  int restores() const { return restores_; }
  const std::vector<uint64_t>& acknowledged() const { return acknowledged_; }

 private:
  std::shared_ptr<arrow::Schema> schema_;
  int64_t total_rows_;
  int64_t batch_rows_;
  std::chrono::milliseconds poll_delay_;
  int64_t next_ = 0;
  std::optional<int64_t> replay_end_;
  int poll_calls_ = 0;
  int restores_ = 0;
  std::map<int, arrow::Status> poll_failures_;
  std::vector<uint64_t> acknowledged_;
};

// The external system behind StagingSink: survives sink instances (a "restart").
struct StagingStore {
  std::mutex mu;
  std::map<uint64_t, std::vector<int64_t>> staged;      // epoch -> ids written, not visible
  std::map<uint64_t, std::vector<int64_t>> prepared;    // epoch -> ids pre-committed
  std::vector<int64_t> visible;                         // committed ids, in commit order
  std::set<uint64_t> committed_epochs;
  std::vector<std::string> calls;                       // "begin 1", "write 1", "pre_commit 1", ...

  std::vector<int64_t> Visible();
  std::vector<std::string> Calls();
};

class StagingSink : public SinkConnector {
 public:
  explicit StagingSink(std::shared_ptr<StagingStore> store) : store_(std::move(store)) {}

  // Fault injection, counted over this instance's life (1-based).
  void FailWriteAt(int call, arrow::Status error) { write_failures_[call] = std::move(error); }
  void FailPreCommitAt(int call, arrow::Status error) { pre_commit_failures_[call] = std::move(error); }
  void FailCommitTimes(int times) { commit_failures_left_ = times; }

  arrow::Status Open(const ConnectorConfig&) override { return arrow::Status::OK(); }
  SinkCapabilities capabilities() const override {
    return SinkCapabilities().WithExactlyOnce().WithTwoPhaseCommit();
  }
  arrow::Status BeginEpoch(uint64_t epoch) override;
  arrow::Result<WriteResult> WriteBatch(const std::shared_ptr<arrow::RecordBatch>& batch) override;
  arrow::Status PreCommit(uint64_t epoch) override;
  arrow::Status CommitEpoch(uint64_t epoch) override;
  arrow::Status RollbackEpoch(uint64_t epoch) override;
  arrow::Status Close() override { return arrow::Status::OK(); }

 private:
  std::shared_ptr<StagingStore> store_;
  uint64_t epoch_ = 0;
  bool in_epoch_ = false;
  int write_calls_ = 0;
  int pre_commit_calls_ = 0;
  int commit_failures_left_ = 0;
  std::map<int, arrow::Status> write_failures_;
  std::map<int, arrow::Status> pre_commit_failures_;
};

// A sink like Kafka's transactional producer: an epoch pre-committed by one instance is
// aborted when the next instance starts (init_transactions fences the dead producer), so a
// restarted pipeline cannot commit it and CommitEpoch answers kEpochLost; the runtime must
// replay the epoch. Shares StagingStore with StagingSink for the visible rows.
class FencingSink : public SinkConnector {
 public:
  // Constructing an instance is the restart: it discards what earlier instances prepared.
  explicit FencingSink(std::shared_ptr<StagingStore> store);

  // The n-th CommitEpoch call (1-based) finds its transaction aborted by the broker: the
  // prepared rows are dropped and it answers kEpochLost, as a Kafka commit that failed.
  void LoseCommitAt(int call) { lose_commit_at_ = call; }

  arrow::Status Open(const ConnectorConfig&) override { return arrow::Status::OK(); }
  SinkCapabilities capabilities() const override {
    return SinkCapabilities().WithExactlyOnce().WithTwoPhaseCommit();
  }
  arrow::Status BeginEpoch(uint64_t epoch) override;
  arrow::Result<WriteResult> WriteBatch(const std::shared_ptr<arrow::RecordBatch>& batch) override;
  arrow::Status PreCommit(uint64_t epoch) override;
  arrow::Status CommitEpoch(uint64_t epoch) override;
  arrow::Status RollbackEpoch(uint64_t epoch) override;
  arrow::Result<std::optional<uint64_t>> LastCommittedEpoch() override;
  arrow::Status Close() override { return arrow::Status::OK(); }

 private:
  std::shared_ptr<StagingStore> store_;
  uint64_t epoch_ = 0;
  bool in_epoch_ = false;
  std::map<uint64_t, std::vector<int64_t>> prepared_;  // this instance's prepared epochs
  int commit_calls_ = 0;
  int lose_commit_at_ = 0;
};

}  // namespace laminar::testing
