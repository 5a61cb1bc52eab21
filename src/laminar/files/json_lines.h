// Arrow -> JSON lines, one object per row, for the files sink and dead letters. Dates
// and timestamps become ISO-8601 text, decimals exact strings, binary base64, columns
// tagged laminar.type=json are embedded as JSON rather than quoted.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/status.h>

#include <string>

namespace laminar::files {

arrow::Status AppendJsonLines(const arrow::RecordBatch& batch, std::string* out);

}  // namespace laminar::files
