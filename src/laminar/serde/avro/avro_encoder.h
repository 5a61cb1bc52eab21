// Arrow rows -> Avro binary per a given Avro schema. The plan (which column feeds which
// field, unit conversions, union branches) is built once in Make; EncodeRow is then a
// walk over it. One encoder per thread.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <memory>
#include <string>

#include "laminar/serde/avro/avro_schema.h"
#include "laminar/serde/codec.h"

namespace laminar::serde::avro {

struct EncodePlan;

// Mapping rules (the decoder's, reversed):
//   - record fields take the column of the same name; a field without a column is written
//     with its default (Make fails when it has none);
//   - integers of any width into int/long (range-checked per value), floats into
//     float/double, utf8/binary/fixed_size_binary into string/bytes/fixed, strings or
//     dictionary<*, utf8> into enums (an unknown symbol is an error);
//   - date/time/timestamp columns into the temporal logical types with exact unit
//     conversion; decimal128 into decimal bytes/fixed (scale must match);
//     month_day_nano_interval into duration (whole milliseconds, not negative);
//   - a null goes to the union's null branch; into a non-union type it is an error;
//   - dense union columns map member by member to the union's branches.
// Bytes decimals use fastavro's width: (bit_length(|unscaled|) + 8) / 8 bytes.
class AvroEncoder {
 public:
  ~AvroEncoder();
  static arrow::Result<std::unique_ptr<AvroEncoder>> Make(const arrow::Schema& columns,
                                                          std::shared_ptr<const AvroSchema> schema);

  // Appends the binary encoding of `row` to *out. On failure *out may hold a partial
  // datum past its old size (callers truncate); the status names the row and the column.
  arrow::Status EncodeRow(const arrow::RecordBatch& batch, int64_t row, std::string* out) const;

  const std::shared_ptr<const AvroSchema>& avro_schema() const { return schema_; }

 private:
  AvroEncoder() = default;
  std::shared_ptr<const AvroSchema> schema_;
  std::unique_ptr<EncodePlan> plan_;
};

// A RecordEncoder writing one message per row: `prefix` (e.g. a Confluent header) followed
// by the datum.
arrow::Result<std::unique_ptr<RecordEncoder>> MakePlainEncoder(const arrow::Schema& columns,
                                                               std::shared_ptr<const AvroSchema> schema,
                                                               std::string prefix = "");

}  // namespace laminar::serde::avro
