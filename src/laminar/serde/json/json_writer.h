// Arrow rows -> JSON objects, used by the JSON encoder, the files sink (JSON lines) and
// dead letters. Keys in schema order; dates and timestamps as ISO-8601 text (with a `Z`
// when the column has a time zone), decimals as exact strings, binary as base64, float
// NaN/Infinity as null, columns tagged laminar.type=json (at any depth) embedded as JSON.
// Everything it writes, the JSON decoder reads back to the same values.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/status.h>

#include <string>
#include <string_view>
#include <vector>

namespace laminar::serde {

class JsonRowWriter {
 public:
  explicit JsonRowWriter(const arrow::Schema& schema);
  // Appends row `row` of `batch` (whose schema has the same field names) as one object,
  // without a trailing newline. Fails naming the column for a type it cannot write.
  arrow::Status AppendRow(const arrow::RecordBatch& batch, int64_t row, std::string* out) const;

 private:
  std::vector<std::string> keys_;  // "\"name\":"
};

// Appends `text` as a JSON string literal (quotes included).
void AppendJsonString(std::string_view text, std::string* out);

}  // namespace laminar::serde
