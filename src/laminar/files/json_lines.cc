#include "laminar/files/json_lines.h"

#include "laminar/serde/json/json_writer.h"

namespace laminar::files {

// The row format lives with the JSON codec (serde/json/json_writer.h) so that the files
// sink, dead letters and the `json` format write exactly the same objects.
arrow::Status AppendJsonLines(const arrow::RecordBatch& batch, std::string* out) {
  const serde::JsonRowWriter writer(*batch.schema());
  for (int64_t row = 0; row < batch.num_rows(); ++row) {
    ARROW_RETURN_NOT_OK(writer.AppendRow(batch, row, out));
    out->push_back('\n');
  }
  return arrow::Status::OK();
}

}  // namespace laminar::files
