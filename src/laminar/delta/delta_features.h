// What this implementation honours of a table's writer protocol (PROTOCOL.md, "Writer
// Requirements" and "Table Features"). A table whose protocol or properties need more of a
// writer than we do is refused with an error naming the feature or property: writing it
// anyway would silently break what its other writers and readers rely on (constraints,
// generated values, row ids, the change feed, column mapping).
#pragma once

#include <arrow/status.h>

#include "laminar/delta/delta_log.h"

namespace laminar::delta {

// How a write changes the table.
struct WriteIntent {
  bool removes_data = false;    // removes with dataChange = true (overwrite, upsert)
  bool rewrites_files = false;  // reads live files and writes them again (upsert, compaction)
};

// OK when a writer that only appends Parquet files (plus the removes of `intent`) and
// writes classic single-file checkpoints may commit to this table version.
arrow::Status CheckWritable(const Snapshot& snapshot, const WriteIntent& intent);

}  // namespace laminar::delta
