// The `files` sink: Parquet (default), JSON lines or CSV files in a directory, committed
// exactly once per epoch. Files of an epoch are written under `_staging/epoch-<e>/`, where
// readers do not look (names starting with '_' are hidden from pyarrow, duckdb, Spark),
// and become visible on CommitEpoch by atomic renames into the directory.
#pragma once

#include <arrow/io/file.h>
#include <arrow/status.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "laminar/core/connector.h"
#include "laminar/core/registry.h"

namespace laminar::files {

void RegisterFilesSink(ConnectorRegistry& registry);
std::vector<ConfigKeySpec> FilesSinkKeySpecs();

enum class FileFormat { kParquet, kJsonLines, kCsv };

struct FilesSinkOptions {
  std::string path;
  FileFormat format = FileFormat::kParquet;
  int64_t max_file_bytes = 128LL << 20;  // roll to a new file past this many (uncompressed) bytes
  std::string compression = "zstd";      // parquet only
  int64_t row_group_rows = 128 * 1024;   // parquet only

  static arrow::Result<FilesSinkOptions> FromConfig(const ConnectorConfig& config);
  std::string Extension() const;
};

class FileWriter;

class FilesSink : public SinkConnector {
 public:
  FilesSink();
  ~FilesSink() override;

  arrow::Status Open(const ConnectorConfig& config) override;
  SinkCapabilities capabilities() const override {
    return SinkCapabilities().WithExactlyOnce().WithTwoPhaseCommit().WithIdempotent();
  }
  arrow::Status BeginEpoch(uint64_t epoch) override;
  arrow::Result<WriteResult> WriteBatch(const std::shared_ptr<arrow::RecordBatch>& batch) override;
  arrow::Status PreCommit(uint64_t epoch) override;
  arrow::Status CommitEpoch(uint64_t epoch) override;
  arrow::Status RollbackEpoch(uint64_t epoch) override;
  ConnectorMetrics Metrics() const override {
    std::lock_guard<std::mutex> lock(metrics_mu_);
    return metrics_;
  }
  arrow::Status Close() override;

  // Where an epoch's files wait for their commit.
  std::string StagingDirectory(uint64_t epoch) const;
  // The visible name of the seq-th file of an epoch: part-<epoch>-<seq>.<ext>.
  std::string FinalName(uint64_t epoch, int seq) const;

 private:
  arrow::Status FinishCurrentFile();

  FilesSinkOptions options_;
  std::string where_;
  std::shared_ptr<arrow::Schema> schema_;
  uint64_t epoch_ = 0;
  bool epoch_open_ = false;
  int next_seq_ = 0;
  std::unique_ptr<FileWriter> writer_;
  std::vector<std::string> finished_files_;  // staged files of the open epoch, not yet synced
  mutable std::mutex metrics_mu_;  // Metrics() runs on the metrics thread
  ConnectorMetrics metrics_;
};

}  // namespace laminar::files
