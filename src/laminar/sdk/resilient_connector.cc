#include "laminar/sdk/resilient_connector.h"

namespace laminar::sdk {

namespace {
arrow::Status RetryGuarded(Resilience& r, const std::function<arrow::Status()>& op) {
  auto attempt = [&]() -> arrow::Status {
    if (r.breaker) return WithCircuitBreaker(*r.breaker, op);
    return op();
  };
  return WithRetry(r.retry, attempt, {}, [&](std::chrono::milliseconds d) { r.clock->SleepFor(d); });
}

HealthStatus BreakerHealth(const Resilience& r, HealthStatus inner) {
  if (!r.breaker) return inner;
  switch (r.breaker->state()) {
    case CircuitState::kOpen: return HealthStatus::Unhealthy("circuit breaker open");
    case CircuitState::kHalfOpen: return HealthStatus::Degraded("circuit breaker probing");
    case CircuitState::kClosed: break;
  }
  return inner;
}
}  // namespace

ResilientSource::ResilientSource(std::unique_ptr<SourceConnector> inner, Resilience resilience)
    : inner_(std::move(inner)), resilience_(std::move(resilience)) {}

arrow::Status ResilientSource::Guarded(const std::function<arrow::Status()>& op) {
  return RetryGuarded(resilience_, op);
}

arrow::Status ResilientSource::Open(const ConnectorConfig& config) {
  return Guarded([&] { return inner_->Open(config); });
}

arrow::Result<std::optional<SourceBatch>> ResilientSource::PollBatch(int64_t max_records,
                                                                     std::chrono::milliseconds timeout) {
  if (resilience_.limiter && !resilience_.limit_per_record) resilience_.limiter->Acquire(1);
  std::optional<SourceBatch> batch;
  ARROW_RETURN_NOT_OK(Guarded([&] {
    auto result = inner_->PollBatch(max_records, timeout);
    if (!result.ok()) return result.status();
    batch = std::move(*result);
    return arrow::Status::OK();
  }));
  if (batch && resilience_.limiter && resilience_.limit_per_record && batch->num_rows() > 0) {
    resilience_.limiter->Acquire(batch->num_rows());
  }
  return batch;
}

arrow::Status ResilientSource::Restore(const SourceCheckpoint& checkpoint) {
  return Guarded([&] { return inner_->Restore(checkpoint); });
}

arrow::Status ResilientSource::OnCheckpointCommitted(uint64_t epoch) {
  return Guarded([&] { return inner_->OnCheckpointCommitted(epoch); });
}

HealthStatus ResilientSource::Health() const { return BreakerHealth(resilience_, inner_->Health()); }

ResilientSink::ResilientSink(std::unique_ptr<SinkConnector> inner, Resilience resilience)
    : inner_(std::move(inner)), resilience_(std::move(resilience)) {}

arrow::Status ResilientSink::Guarded(const std::function<arrow::Status()>& op) {
  return RetryGuarded(resilience_, op);
}

arrow::Status ResilientSink::Open(const ConnectorConfig& config) {
  return Guarded([&] { return inner_->Open(config); });
}

arrow::Status ResilientSink::BeginEpoch(uint64_t epoch) {
  return Guarded([&] { return inner_->BeginEpoch(epoch); });
}

arrow::Result<WriteResult> ResilientSink::WriteBatch(const std::shared_ptr<arrow::RecordBatch>& batch) {
  if (resilience_.limiter) {
    resilience_.limiter->Acquire(resilience_.limit_per_record ? std::max<int64_t>(batch->num_rows(), 1) : 1);
  }
  WriteResult written;
  ARROW_RETURN_NOT_OK(Guarded([&] {
    auto result = inner_->WriteBatch(batch);
    if (!result.ok()) return result.status();
    written = *result;
    return arrow::Status::OK();
  }));
  return written;
}

arrow::Status ResilientSink::PreCommit(uint64_t epoch) {
  return Guarded([&] { return inner_->PreCommit(epoch); });
}
arrow::Status ResilientSink::CommitEpoch(uint64_t epoch) {
  return Guarded([&] { return inner_->CommitEpoch(epoch); });
}
arrow::Status ResilientSink::RollbackEpoch(uint64_t epoch) {
  return Guarded([&] { return inner_->RollbackEpoch(epoch); });
}
arrow::Status ResilientSink::Flush() {
  return Guarded([&] { return inner_->Flush(); });
}

HealthStatus ResilientSink::Health() const { return BreakerHealth(resilience_, inner_->Health()); }

}  // namespace laminar::sdk
