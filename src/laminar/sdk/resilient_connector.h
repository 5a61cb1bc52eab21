// Wrappers that apply a retry policy, an optional rate limiter and an optional circuit
// breaker to a connector's I/O calls (open, poll, write, commit), so a connector author
// gets them by construction: `ResilientSource(std::move(source), policy)`.
// The wrapped connector keeps its own contract; the wrapper adds no buffering.
#pragma once

#include <memory>
#include <optional>

#include "laminar/core/connector.h"
#include "laminar/sdk/circuit_breaker.h"
#include "laminar/sdk/rate_limiter.h"
#include "laminar/sdk/retry_policy.h"

namespace laminar::sdk {

struct Resilience {
  RetryPolicy retry = RetryPolicy::Exponential(3, std::chrono::milliseconds(100));
  std::shared_ptr<RateLimiter> limiter;    // null: no limit
  bool limit_per_record = true;            // permits per row (true) or per call (false)
  std::optional<CircuitBreaker> breaker;   // none: no breaker
  Clock* clock = SystemClock::Instance();  // sleeps between retries go through it
};

class ResilientSource : public SourceConnector {
 public:
  ResilientSource(std::unique_ptr<SourceConnector> inner, Resilience resilience);

  arrow::Status Open(const ConnectorConfig& config) override;
  std::shared_ptr<arrow::Schema> schema() const override { return inner_->schema(); }
  // Permits are taken for the rows returned, before returning them.
  arrow::Result<std::optional<SourceBatch>> PollBatch(int64_t max_records, std::chrono::milliseconds timeout) override;
  bool finished() const override { return inner_->finished(); }
  SourceCheckpoint Checkpoint() const override { return inner_->Checkpoint(); }
  arrow::Status Restore(const SourceCheckpoint& checkpoint) override;
  arrow::Status OnCheckpointCommitted(uint64_t epoch) override;
  HealthStatus Health() const override;
  ConnectorMetrics Metrics() const override { return inner_->Metrics(); }
  arrow::Status Close() override { return inner_->Close(); }

  SourceConnector& inner() { return *inner_; }

 private:
  arrow::Status Guarded(const std::function<arrow::Status()>& op);
  std::unique_ptr<SourceConnector> inner_;
  Resilience resilience_;
};

class ResilientSink : public SinkConnector {
 public:
  ResilientSink(std::unique_ptr<SinkConnector> inner, Resilience resilience);

  arrow::Status Open(const ConnectorConfig& config) override;
  SinkCapabilities capabilities() const override { return inner_->capabilities(); }
  arrow::Status BeginEpoch(uint64_t epoch) override;
  // Retried only on transient errors, which by contract mean the batch was not taken.
  arrow::Result<WriteResult> WriteBatch(const std::shared_ptr<arrow::RecordBatch>& batch) override;
  arrow::Status PreCommit(uint64_t epoch) override;
  arrow::Status CommitEpoch(uint64_t epoch) override;
  arrow::Status RollbackEpoch(uint64_t epoch) override;
  arrow::Status Flush() override;
  arrow::Result<std::optional<uint64_t>> LastCommittedEpoch() override { return inner_->LastCommittedEpoch(); }
  HealthStatus Health() const override;
  ConnectorMetrics Metrics() const override { return inner_->Metrics(); }
  arrow::Status Close() override { return inner_->Close(); }

 private:
  arrow::Status Guarded(const std::function<arrow::Status()>& op);
  std::unique_ptr<SinkConnector> inner_;
  Resilience resilience_;
};

}  // namespace laminar::sdk
