// Shared pieces of the decoder fuzz targets: a column set that exercises every type the
// DDL can declare, and a helper that runs one decoder over the input split into records.
#pragma once

#include <arrow/api.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "laminar/serde/codec.h"

namespace laminar::fuzz {

inline std::shared_ptr<arrow::Schema> EveryTypeSchema() {
  return arrow::schema({
      arrow::field("id", arrow::int64(), false), arrow::field("flag", arrow::boolean()),
      arrow::field("i8", arrow::int8()), arrow::field("u16", arrow::uint16()), arrow::field("u64", arrow::uint64()),
      arrow::field("f", arrow::float32()), arrow::field("d", arrow::float64()),
      arrow::field("price", arrow::decimal128(12, 3)), arrow::field("name", arrow::utf8()),
      arrow::field("blob", arrow::binary()), arrow::field("day", arrow::date32()),
      arrow::field("clock", arrow::time64(arrow::TimeUnit::MICRO)),
      arrow::field("ts", arrow::timestamp(arrow::TimeUnit::NANO, "UTC")),
      arrow::field("ts_ms", arrow::timestamp(arrow::TimeUnit::MILLI)),
      arrow::field("tags", arrow::list(arrow::utf8())),
      arrow::field("point", arrow::struct_({arrow::field("x", arrow::float64()), arrow::field("y", arrow::int32(), false)})),
  });
}

// Flat schema for CSV, which has no nested values.
inline std::shared_ptr<arrow::Schema> FlatSchema() {
  arrow::FieldVector fields;
  const auto every = EveryTypeSchema();  // keep it alive: fields() refers into it
  for (const auto& f : every->fields()) {
    if (!arrow::is_nested(f->type()->id())) fields.push_back(f);
  }
  return arrow::schema(fields);
}

// Splits on '\n' into records (so one input exercises batches of many records), decodes,
// and checks the decoder's promises: a valid batch, one row per good record at most
// (Debezium: two), every error index in range.
inline void DecodeLines(serde::RecordDecoder& decoder, std::string_view data, int rows_per_record = 1) {
  std::vector<serde::RawRecord> records;
  size_t start = 0;
  while (start <= data.size() && records.size() < 256) {
    size_t end = data.find('\n', start);
    if (end == std::string_view::npos) end = data.size();
    serde::RawRecord record;
    record.value = data.substr(start, end - start);
    record.offset = "0";
    records.push_back(record);
    start = end + 1;
  }
  auto decoded = decoder.Decode(records);
  if (!decoded.ok()) return;  // a non-record failure is allowed to be reported
  if (auto valid = decoded->batch->ValidateFull(); !valid.ok()) {
    std::fprintf(stderr, "decoder produced an invalid batch: %s\n", valid.ToString().c_str());
    std::abort();
  }
  if (decoded->batch->num_rows() > static_cast<int64_t>(records.size()) * rows_per_record) std::abort();
  for (const auto& e : decoded->errors) {
    if (e.index >= records.size()) std::abort();
  }
}

}  // namespace laminar::fuzz
