// The Delta transaction log (PROTOCOL.md of delta-io/delta): actions, replay of
// `_delta_log/` from the newest Parquet checkpoint into a snapshot, atomic creation of the
// next commit file, and writing checkpoints. The table's files are kept as a map from path
// to its add action; replay reads only what is newer than the checkpoint.
#pragma once

#include <arrow/filesystem/filesystem.h>
#include <arrow/result.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "laminar/storage/storage_options.h"

namespace laminar::delta {

using PartitionValues = std::map<std::string, std::optional<std::string>>;

struct AddAction {
  std::string path;  // relative to the table root, percent-encoded as in the log
  PartitionValues partition_values;
  int64_t size = 0;
  int64_t modification_time = 0;  // ms since the epoch
  bool data_change = true;
  std::string stats;  // JSON text; empty when none
};

struct RemoveAction {
  std::string path;
  int64_t deletion_timestamp = 0;
  bool data_change = true;
  PartitionValues partition_values;
  int64_t size = 0;
};

struct MetadataAction {
  std::string id;
  std::string schema_string;
  std::vector<std::string> partition_columns;
  std::map<std::string, std::string> configuration;
  int64_t created_time = 0;
};

struct ProtocolAction {
  int min_reader_version = 1;
  int min_writer_version = 2;
  std::vector<std::string> reader_features;  // only with reader version 3
  std::vector<std::string> writer_features;  // only with writer version 7
};

struct TxnAction {
  std::string app_id;
  int64_t version = 0;
  int64_t last_updated = 0;
};

// What one commit file holds, in order of appearance.
struct CommitActions {
  std::optional<ProtocolAction> protocol;
  std::optional<MetadataAction> metadata;
  std::vector<TxnAction> txns;
  std::vector<AddAction> adds;
  std::vector<RemoveAction> removes;
  std::string commit_info_json;  // the whole commitInfo object, written as is
};

// "_delta_log/00000000000000000007.json"
std::string CommitFileName(int64_t version);
// One commit file's newline-delimited JSON.
std::string SerializeCommit(const CommitActions& actions);
arrow::Result<CommitActions> ParseCommit(const std::string& text, const std::string& file);

// The table as of one version.
class Snapshot {
 public:
  int64_t version() const { return version_; }
  const ProtocolAction& protocol() const { return protocol_; }
  const MetadataAction& metadata() const { return metadata_; }
  const std::map<std::string, AddAction>& files() const { return files_; }
  // The last txn version of an application, if it ever committed.
  std::optional<int64_t> TxnVersion(const std::string& app_id) const;
  const std::map<std::string, TxnAction>& txns() const { return txns_; }
  // Files removed from the table (path -> deletion time, ms); vacuum keeps them for the
  // retention period so readers of older versions still find them.
  const std::map<std::string, int64_t>& tombstones() const { return tombstones_; }

  // Applies one commit on top (version must be version() + 1).
  void Apply(int64_t version, const CommitActions& actions);

 private:
  friend class DeltaLog;
  int64_t version_ = -1;
  ProtocolAction protocol_;
  MetadataAction metadata_;
  std::map<std::string, AddAction> files_;
  std::map<std::string, TxnAction> txns_;
  std::map<std::string, int64_t> tombstones_;
};

class DeltaLog {
 public:
  explicit DeltaLog(storage::TableLocation location) : location_(std::move(location)) {}

  const storage::TableLocation& location() const { return location_; }

  // The latest snapshot, or nullopt when the table has no commit yet. Starts from
  // `_last_checkpoint` (or the newest checkpoint file) and replays the commits after it.
  // Refuses tables needing reader features it does not implement, naming the feature.
  arrow::Result<std::optional<Snapshot>> Load() { return LoadAt(std::nullopt); }
  // The snapshot as of `version` (nullopt: the latest); fails when the log no longer
  // holds what is needed to rebuild it.
  arrow::Result<std::optional<Snapshot>> LoadAt(std::optional<int64_t> version);
  // The newest version whose commitInfo timestamp (else file time) is <= millis, or
  // nullopt when every version is newer.
  arrow::Result<std::optional<int64_t>> VersionAtOrBefore(int64_t millis);
  // Replays the commits after snapshot->version() that exist now; returns how many.
  arrow::Result<int> Update(Snapshot* snapshot);
  // Reads one commit file.
  arrow::Result<CommitActions> ReadCommit(int64_t version);

  // Creates the commit file for `version` only if no file of that name exists. Returns
  // false (and writes nothing visible) when another writer got there first.
  arrow::Result<bool> PutCommitIfAbsent(int64_t version, const std::string& contents);

  // Replaces the file at `path` (absolute in the table's filesystem) with `contents` so
  // that a reader sees the old or the new contents, never a part: local files go through
  // a fsynced temporary, a rename and a fsync of the directory; object stores write whole
  // objects anyway.
  arrow::Status ReplaceFile(const std::string& path, const std::string& contents);
  // The whole file at `path`.
  arrow::Result<std::string> ReadFile(const std::string& path);

  // Writes `<version>.checkpoint.parquet` for the snapshot and points _last_checkpoint at it.
  arrow::Status WriteCheckpoint(const Snapshot& snapshot);

  // Reader features this implementation supports (none beyond the basic protocol and
  // timestampNtz).
  static arrow::Status CheckReadable(const ProtocolAction& protocol);
  // Table settings that change how files are read; refuses column mapping (files name
  // their columns by physical ids, which read by name would come back as nulls).
  static arrow::Status CheckReadableMetadata(const MetadataAction& metadata);

 private:
  arrow::Result<std::optional<int64_t>> LatestCheckpointVersion();
  arrow::Status ReadCheckpoint(int64_t version, Snapshot* snapshot);

  storage::TableLocation location_;
};

// Delta's partition value text for a path segment: percent-encoding of the characters Hive
// escapes, e.g. ' ' stays, '/' -> %2F, '=' -> %3D.
std::string EscapePartitionValue(const std::string& value);
// Percent-encodes what a URI path must not hold raw (used for add.path).
std::string EncodePath(const std::string& path);
std::string DecodePath(const std::string& path);

}  // namespace laminar::delta
