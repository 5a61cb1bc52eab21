// The `delta-lake` sink: writes Parquet data files through Arrow and commits them to the
// Delta log itself, one commit per epoch.
//
// Exactly-once protocol:
//   write_batch  rows go to Parquet files at their final paths; the log does not name them
//                yet, so readers cannot see them.
//   pre_commit   files closed and fsynced; their add actions are written to a staging record
//                `_laminar/<writer>/epoch-<E>.json` (hidden from Delta readers), so a restarted
//                process can still commit the epoch.
//   commit_epoch one log entry `_delta_log/<v>.json`: add actions, commitInfo and
//                txn{appId = writer.id, version = E}, created only if absent; on a conflict the
//                newer commits are read, and if this writer's txn already covers E it is done,
//                otherwise it retries at the next version (appends never conflict with appends).
//   rollback     deletes the epoch's files and staging record, and orphans a dead process left.
// An epoch at or below the table's txn version for writer.id is skipped whole, writes included.
//
// Application watermarks (CommitWatermarksOf; a Kafka source feeding the sink, see
// builtin_connectors.cc): the epoch's commit also carries one txn{appId, version} per entry
// the provider gives at pre-commit (the source's next offset per partition it read), in the
// same log entry as the rows, so they become visible exactly with them. An entry may name
// the largest version the table may hold for it already (where the source began reading);
// a table further on means another writer delivered those rows: pre-commit refuses the
// epoch (NeedsAbort), and a commit that finds it so answers kEpochLost (the runtime
// replays the epoch; the source then starts after the other writer's rows).
// ReadTxnVersions re-reads the log for the sources' side.
#pragma once

#include <arrow/record_batch.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <optional>
#include <string>
#include <vector>

#include "laminar/core/connector.h"
#include "laminar/core/registry.h"
#include "laminar/delta/delta_log.h"
#include "laminar/storage/storage_options.h"

namespace laminar::delta {

void RegisterDeltaSink(ConnectorRegistry& registry);
std::vector<ConfigKeySpec> DeltaSinkKeySpecs();

enum class WriteMode { kAppend, kOverwrite, kUpsert };

struct DeltaSinkOptions {
  storage::StorageOptions storage;
  std::vector<std::string> partition_columns;
  int64_t target_file_size = 134217728;
  int64_t max_buffer_records = 100000;  // rows per Parquet row group
  int64_t max_buffer_duration_ms = 60000;
  int64_t checkpoint_interval = 10;
  bool schema_evolution = false;
  WriteMode write_mode = WriteMode::kAppend;
  std::vector<std::string> merge_key_columns;
  bool exactly_once = true;
  std::string compression = "zstd";
  std::string writer_id;  // default: derived from the pipeline and sink names
  bool writer_id_set = false;  // given by the 'writer.id' option
  bool allow_unsafe_commit = false;  // object stores without conditional put
  bool compaction_enabled = false;
  int64_t compaction_min_files = 10;
  int64_t compaction_interval_ms = 300000;
  int64_t vacuum_retention_hours = 168;

  static arrow::Result<DeltaSinkOptions> FromConfig(const ConnectorConfig& config);
};

class DeltaSink : public SinkConnector {
 public:
  DeltaSink();
  ~DeltaSink() override;

  arrow::Status Open(const ConnectorConfig& config) override;
  SinkCapabilities capabilities() const override;
  arrow::Status BeginEpoch(uint64_t epoch) override;
  arrow::Result<WriteResult> WriteBatch(const std::shared_ptr<arrow::RecordBatch>& batch) override;
  arrow::Status PreCommit(uint64_t epoch) override;
  arrow::Status CommitEpoch(uint64_t epoch) override;
  arrow::Status RollbackEpoch(uint64_t epoch) override;
  arrow::Status Flush() override;
  arrow::Result<std::optional<uint64_t>> LastCommittedEpoch() override;
  HealthStatus Health() const override;
  ConnectorMetrics Metrics() const override;
  arrow::Status Close() override;

  const DeltaSinkOptions& options() const { return options_; }

  struct AppWatermark {
    std::string app_id;
    int64_t version = 0;
    std::optional<int64_t> expected_at_most;  // the commit is refused if the table is further
  };
  // Before the first epoch begins (after Open).
  void CommitWatermarksOf(std::function<std::vector<AppWatermark>()> provider) { watermarks_ = std::move(provider); }
  // Replaces the default writer.id with `<default>:<suffix>` (a member identity); after
  // Open, before recovery.
  void SuffixDefaultWriterId(const std::string& suffix);
  // The txn versions of `app_ids` in the newest version of the table (the log is read
  // again, so commits of other processes count). Thread-safe; absent ids are left out.
  arrow::Result<std::map<std::string, int64_t>> ReadTxnVersions(const std::vector<std::string>& app_ids);
  // The table version after the last commit this sink made or saw.
  int64_t table_version() const { return snapshot_ ? snapshot_->version() : -1; }

 private:
  struct OpenFile;
  struct Layout;

  arrow::Status CreateOrCheckTable(const std::shared_ptr<arrow::Schema>& input);
  arrow::Result<OpenFile*> FileFor(const PartitionValues& values, const std::string& key);
  arrow::Status FinishFile(OpenFile* file);
  arrow::Status FinishAllFiles();
  arrow::Status WriteRows(const std::shared_ptr<arrow::RecordBatch>& batch);
  arrow::Status WriteStorageRows(const std::shared_ptr<arrow::RecordBatch>& batch);
  // Writes rows already in file form (no partition columns) to the partition `values`.
  arrow::Status WriteFileRows(const std::shared_ptr<arrow::RecordBatch>& rows, const PartitionValues& values);
  // Upsert: folds the epoch's changelog by key (last change wins, in source order), writes
  // the surviving rows, and rewrites the live files holding any changed key.
  arrow::Status StageUpsert();
  arrow::Status FoldAndRewrite();  // StageUpsert's work, which it undoes on failure
  // Writes one log entry holding `adds` (and the txn when epoch is set), retrying on conflicts.
  arrow::Status CommitAdds(CommitActions staged, std::optional<uint64_t> epoch, const char* operation);
  std::string StagingRecordPath(uint64_t epoch) const;
  // The closed files and rewrites of the open epoch (plus a pending schema change when it
  // has files), leaving the epoch's state empty.
  CommitActions TakeStaged();
  arrow::Status WriteStagingRecord(uint64_t epoch, const CommitActions& staged);
  arrow::Result<std::optional<CommitActions>> ReadStagingRecord(uint64_t epoch);
  arrow::Status DeleteOrphans(uint64_t from_epoch);
  // log_->Update of snapshot_, refusing when another process committed as writer.id.
  arrow::Result<int> UpdateSnapshot();
  // The table's writer protocol and properties, possibly changed by another writer, still
  // allow this sink's writes (a fatal error naming the feature otherwise).
  arrow::Status CheckTableStillWritable();
  // Upsert: what, among the commits after `version` up to snapshot_, invalidates rewrites
  // computed at `version` (rows added, or a file of `rewritten` replaced); "" when nothing.
  arrow::Result<std::string> UpsertConflictSince(int64_t version, const std::vector<RemoveAction>& rewritten);
  void Count(const std::string& name, int64_t delta = 1);
  // Background compaction + vacuum, every compaction.interval.ms; a run does not start while
  // an epoch is staged and not yet committed (an upsert epoch's rewrites name the files it
  // replaces; one that compaction replaced anyway is merged again).
  void MaintenanceLoop();
  void StartLogCheckpoint();
  void StopLogCheckpoints();
  void StopMaintenance();

  DeltaSinkOptions options_;
  std::string where_;
  std::unique_ptr<DeltaLog> log_;
  std::optional<Snapshot> snapshot_;
  // Schema evolution waits for the first data commit, so the new columns and their data
  // arrive in one version.
  std::optional<MetadataAction> pending_metadata_;
  std::unique_ptr<Layout> layout_;
  std::string writer_tag_;  // 8 hex digits of writer.id, in file names
  uint64_t epoch_ = 0;
  bool skipping_epoch_ = false;
  bool orphans_checked_ = false;
  int file_seq_ = 0;
  std::map<std::string, std::unique_ptr<OpenFile>> open_files_;  // by partition key
  std::vector<AddAction> finished_;                               // closed files of the open epoch
  std::vector<RemoveAction> rewritten_;                           // upsert: files the open epoch replaces
  std::vector<std::shared_ptr<arrow::RecordBatch>> changes_;      // upsert: the open epoch's input
  std::optional<int64_t> upsert_read_version_;                    // upsert: the version its rewrites read
  std::map<uint64_t, CommitActions> staged_;                      // pre-committed, not yet committed
  std::function<std::vector<AppWatermark>()> watermarks_;
  std::optional<int64_t> own_txn_;                                // writer.id's txn as this process knows it
  std::optional<int64_t> committing_epoch_;                       // the epoch CommitAdds is committing
  std::string process_token_;                                     // random, per sink object
  // "<process token>:<epoch>", in commitInfo: tells this process's commits from others'.
  std::string CommitToken(uint64_t epoch) const;
  std::optional<std::pair<uint64_t, CommitActions>> lost_;        // an epoch refused at commit, to clean up
  std::mutex txn_read_mu_;                                        // ReadTxnVersions
  std::optional<Snapshot> txn_snapshot_;
  int64_t first_write_ms_ = 0;                                    // at-least-once buffer age
  int64_t buffered_rows_ = 0;                                     // at-least-once rows not committed
  std::optional<CommitActions> failed_flush_;                     // at-least-once: to commit first
  mutable std::mutex metrics_mu_;
  ConnectorMetrics metrics_;
  std::mutex maintenance_mu_;  // held by pre-commit/commit/rollback and by a maintenance run
  std::condition_variable maintenance_cv_;
  bool stop_maintenance_ = false;
  std::thread maintenance_;
  std::thread checkpoint_thread_;  // writes log checkpoints, see StartLogCheckpoint
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  std::optional<Snapshot> checkpoint_pending_;
  bool checkpoint_busy_ = false;
  bool stop_checkpoints_ = false;
};

}  // namespace laminar::delta
