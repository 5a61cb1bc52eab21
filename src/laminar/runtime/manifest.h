// The checkpoint manifest — the commit decision for one epoch — and the store that keeps
// it durable. Written by the checkpoint coordinator only (driver thread).
#pragma once

#include <arrow/result.h>
#include <arrow/status.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "laminar/core/checkpoint.h"

namespace laminar::runtime {

enum class SinkCommitStatus { kPending, kCommitted, kFailed };
const char* SinkCommitStatusName(SinkCommitStatus status);

struct SinkState {
  uint64_t epoch = 0;
  SinkCommitStatus status = SinkCommitStatus::kPending;
  std::string message;  // why it failed, for kFailed
  bool operator==(const SinkState&) const = default;
};

struct Manifest {
  static constexpr uint32_t kFormatVersion = 1;

  uint32_t version = kFormatVersion;
  uint64_t checkpoint_id = 0;  // 1, 2, ... per checkpoint directory
  uint64_t epoch = 0;          // the epoch this manifest decides
  int64_t timestamp_ms = 0;
  std::string pipeline;        // pipeline name, to catch a directory reused by another pipeline
  std::map<std::string, SourceCheckpoint> source_offsets;
  // Where each source stood when the epoch began (the previous manifest's offsets; empty
  // for the configured start), so that an epoch a sink lost can be replayed. Absent in
  // manifests written before replay existed ("epoch_start" is optional in the JSON).
  std::map<std::string, SourceCheckpoint> epoch_start;
  std::map<std::string, SinkState> sinks;  // exactly-once sinks only

  std::string ToJson() const;
  static arrow::Result<Manifest> FromJson(const std::string& json);
  bool operator==(const Manifest&) const = default;
};

// Durable manifest storage. Save is atomic: after a crash a reader sees either the old or
// the new content of a checkpoint, never a mix. Saving an id again overwrites it (used to
// record commit statuses). Implementations for object storage use a conditional put.
class ManifestStore {
 public:
  virtual ~ManifestStore() = default;
  // The manifest with the highest checkpoint id, or nullopt when there is none. A manifest
  // that cannot be read or parsed is an error naming the file, never "no manifest".
  virtual arrow::Result<std::optional<Manifest>> LoadLatest() = 0;
  virtual arrow::Status Save(const Manifest& manifest) = 0;
  // Human-readable location for messages.
  virtual std::string Describe() const = 0;
};

// One file per checkpoint, `checkpoint-<id>.json`, written as temp file + fsync + rename +
// fsync of the directory. Keeps the newest `max_retained` files.
class LocalManifestStore : public ManifestStore {
 public:
  // Creates the directory if it is missing.
  static arrow::Result<std::unique_ptr<LocalManifestStore>> Open(std::string directory, int max_retained = 3);

  arrow::Result<std::optional<Manifest>> LoadLatest() override;
  arrow::Status Save(const Manifest& manifest) override;
  std::string Describe() const override { return directory_; }

  static std::string FileName(uint64_t checkpoint_id);

 private:
  LocalManifestStore(std::string directory, int max_retained)
      : directory_(std::move(directory)), max_retained_(max_retained) {}
  arrow::Status Prune();

  std::string directory_;
  int max_retained_;
};

// Writes `contents` to `path` atomically and durably (temp, fsync, rename, fsync dir).
arrow::Status WriteFileAtomic(const std::string& path, const std::string& contents);
// fsync of a directory, so a rename or create inside it survives a power cut.
arrow::Status SyncDirectory(const std::string& directory);

}  // namespace laminar::runtime
