// The `delta-lake` source: a table's snapshot at a start version (or time, or the latest),
// then each new version's own changes: the files its commit adds with dataChange=true,
// never a re-read of the table. Removes with dataChange=true (deletes, updates,
// overwrites) are deletes in changelog mode and an error in append mode unless ignored.
//
// Position = (phase, version, file index, row offset): phase "snapshot" walks the start
// version's live files in path order; phase "changes" walks version v's data-change
// actions in log order. A restore resumes at the exact row.
#pragma once

#include <arrow/record_batch.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "laminar/core/connector.h"
#include "laminar/core/registry.h"
#include "laminar/delta/delta_log.h"
#include "laminar/storage/storage_options.h"

namespace laminar::delta {

void RegisterDeltaSource(ConnectorRegistry& registry);
std::vector<ConfigKeySpec> DeltaSourceKeySpecs();

struct DeltaSourceOptions {
  storage::StorageOptions storage;
  std::optional<int64_t> starting_version;
  std::optional<int64_t> starting_timestamp_ms;
  bool include_snapshot = true;  // startup.mode = snapshot | changes
  bool changelog = false;        // read.mode = changelog: `_op` column, removes as deletes
  bool ignore_removes = false;   // append mode: skip removes instead of failing
  std::chrono::milliseconds poll_interval{1000};

  static arrow::Result<DeltaSourceOptions> FromConfig(const ConnectorConfig& config);
};

class DeltaSource : public SourceConnector {
 public:
  DeltaSource();
  ~DeltaSource() override;

  arrow::Status Open(const ConnectorConfig& config) override;
  std::shared_ptr<arrow::Schema> schema() const override { return schema_; }
  arrow::Result<std::optional<SourceBatch>> PollBatch(int64_t max_records, std::chrono::milliseconds timeout) override;
  // {"phase": "snapshot"|"changes", "version": v, "file": i, "row": r}
  SourceCheckpoint Checkpoint() const override;
  arrow::Status Restore(const SourceCheckpoint& checkpoint) override;
  ConnectorMetrics Metrics() const override;
  arrow::Status Close() override;

 private:
  struct Unit {  // one file to read: an add, or (changelog) a remove
    std::string path;
    PartitionValues partition_values;
    bool remove = false;
  };
  struct Position {
    bool snapshot = true;
    int64_t version = 0;
    int64_t file = 0;
    int64_t row = 0;
  };

  // The units of the current phase/version, loading them when needed; false when the
  // version does not exist yet.
  arrow::Result<bool> LoadUnits();
  // A version's metaData action while following: refuses what would make its files read
  // wrong (column mapping, a read column dropped or retyped, a column this source's schema
  // cannot carry).
  arrow::Status CheckNewMetadata(const MetadataAction& metadata);
  arrow::Status OpenUnit();
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> Shape(const std::shared_ptr<arrow::RecordBatch>& file_batch,
                                                           const Unit& unit);
  arrow::Status ResetToStart();

  std::string where_;
  DeltaSourceOptions options_;
  std::unique_ptr<DeltaLog> log_;
  std::shared_ptr<arrow::Schema> schema_;        // what batches carry (with `_op` in changelog mode)
  std::shared_ptr<arrow::Schema> data_schema_;   // schema_ without `_op`
  bool declared_schema_ = false;                 // data_schema_ came from the DDL, not the table
  int64_t opened_version_ = 0;                   // the table's latest version when the source opened
  int64_t start_version_ = 0;
  Position position_;
  bool units_loaded_ = false;
  std::vector<Unit> units_;
  std::unique_ptr<arrow::RecordBatchReader> reader_;
  std::shared_ptr<void> reader_owner_;  // keeps the parquet reader alive behind reader_
  std::shared_ptr<arrow::RecordBatch> pending_;  // rest of a batch larger than the poll's hint
  int64_t rows_to_skip_ = 0;
  std::chrono::steady_clock::time_point next_poll_{};
  std::atomic<uint64_t> records_total_{0};
  std::atomic<int64_t> version_read_{-1};
  std::atomic<uint64_t> log_lookups_{0};  // looks for a next commit file (poll.interval.ms throttles them)
};

}  // namespace laminar::delta
