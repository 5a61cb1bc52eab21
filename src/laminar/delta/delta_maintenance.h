// Table maintenance, off the write path: compaction bin-packs a partition's small files
// into files near the target size, committed as remove+add with dataChange=false (readers
// of the change feed see nothing); vacuum deletes files no version within the retention
// period can reach. Both are safe next to a concurrent appender: compaction commits with
// put-if-absent and gives up when a file it rewrites was removed meanwhile.
#pragma once

#include <arrow/result.h>

#include <cstdint>
#include <string>

#include "laminar/delta/delta_log.h"

namespace laminar::delta {

struct CompactionOptions {
  int64_t target_file_size = 128LL << 20;  // bytes on disk
  int64_t min_files = 10;                  // small files a partition needs before it is compacted
  std::string compression = "zstd";
};

struct CompactionResult {
  int64_t files_removed = 0;
  int64_t files_added = 0;
  int64_t version = -1;  // the commit, or -1 when nothing was compacted
};

arrow::Result<CompactionResult> Compact(DeltaLog& log, const CompactionOptions& options);

struct VacuumOptions {
  int64_t retention_hours = 168;
  // Refuse a retention below the table's delta.deletedFileRetentionDuration (default one
  // week) unless this is false: readers of older versions would lose files.
  bool enforce_retention_check = true;
  bool dry_run = false;
};

struct VacuumResult {
  int64_t files_deleted = 0;
};

// The table's delta.deletedFileRetentionDuration in hours (default one week).
int64_t MinimumRetentionHours(const Snapshot& snapshot);

arrow::Result<VacuumResult> Vacuum(DeltaLog& log, const VacuumOptions& options);

}  // namespace laminar::delta
