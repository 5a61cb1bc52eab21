// The sink a source's dead letters go to: a `files` directory (dead_letter.path) or a
// Kafka topic (dead_letter.topic, kafka/kafka_dead_letter.h), wrapped to count what
// happens to the dead letters it is given. Called like any sink, from the pipeline's
// driver thread; Metrics() from the metrics thread.
//
// A failed write of dead letters is an ordinary sink failure: it fails the epoch, the
// runtime rolls it back and replays it, and the source reads (and counts) the same
// records again, so no dead letter is lost; dlq_write_failed counts the dead letters of
// each failed attempt (WriteBatch, PreCommit of the epoch's dead letters, or a CommitEpoch
// that finds the epoch lost, which the runtime then replays into this sink).
#pragma once

#include <atomic>
#include <map>
#include <memory>

#include "laminar/core/connector.h"

namespace laminar::dlq {

class DeadLetterSink : public SinkConnector {
 public:
  explicit DeadLetterSink(std::unique_ptr<SinkConnector> inner) : inner_(std::move(inner)) {}

  arrow::Status Open(const ConnectorConfig& config) override { return inner_->Open(config); }
  SinkCapabilities capabilities() const override { return inner_->capabilities(); }
  arrow::Status BeginEpoch(uint64_t epoch) override;
  arrow::Result<WriteResult> WriteBatch(const std::shared_ptr<arrow::RecordBatch>& batch) override;
  arrow::Status PreCommit(uint64_t epoch) override;
  arrow::Status CommitEpoch(uint64_t epoch) override;
  arrow::Status RollbackEpoch(uint64_t epoch) override;
  // At-least-once inner sinks (no epochs): the checkpoint's flush is where the dead letters
  // written since the last one are delivered or fail.
  arrow::Status Flush() override;
  arrow::Result<std::optional<uint64_t>> LastCommittedEpoch() override { return inner_->LastCommittedEpoch(); }
  HealthStatus Health() const override { return inner_->Health(); }
  // The inner sink's metrics plus dlq_written (dead letters committed) and
  // dlq_write_failed (dead letters of failed write attempts).
  ConnectorMetrics Metrics() const override;
  arrow::Status Close() override { return inner_->Close(); }

  int64_t dlq_written() const { return written_.load(); }
  int64_t dlq_write_failed() const { return write_failed_.load(); }

 private:
  std::unique_ptr<SinkConnector> inner_;
  uint64_t epoch_ = 0;
  int64_t epoch_rows_ = 0;                 // dead letters written in the open epoch (or since the last flush)
  std::map<uint64_t, int64_t> staged_;     // pre-committed epoch -> dead letters
  std::atomic<int64_t> written_{0};
  std::atomic<int64_t> write_failed_{0};
};

}  // namespace laminar::dlq
