// Avro binary -> Arrow, compiled: a writer schema is resolved once against the reader's
// Arrow columns (and optionally a reader Avro schema, for defaults, aliases and enum
// defaults) into a flat program of ops that reads the bytes straight into column buffers.
// One AvroRowDecoder is used by one thread at a time; a program is immutable and belongs
// to the decoder that compiled it (it writes into that decoder's columns).
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "laminar/serde/avro/avro_schema.h"
#include "laminar/serde/codec.h"

namespace laminar::serde::avro {

struct DecodeProgram;
struct ColumnTree;

// Resolution rules (Avro 1.11 "Schema Resolution", with Arrow columns as the reader):
//   - record fields match columns by name (or a reader Avro field's aliases); writer-only
//     fields are skipped; a column the writer lacks takes the reader Avro field's default,
//     else null when nullable, else Compile fails naming the column;
//   - promotions int -> long/float/double, long -> float/double, float -> double,
//     string <-> bytes (bytes -> string checks UTF-8); integers also narrow into smaller
//     integer columns with a range check per value;
//   - enums map by symbol (column utf8 or dictionary<int32, utf8>); an unknown symbol takes
//     the reader enum's default, else is a record error;
//   - a writer union resolves branch by branch (a branch that cannot be resolved is a record
//     error only when it occurs); null goes to a nullable column, else is a record error;
//   - temporal logical types convert between units exactly (a value that would lose
//     precision is a record error); timestamp-* and local-timestamp-* both fill any
//     timestamp column; decimals need equal scale and are checked against the precision.
class AvroRowDecoder {
 public:
  ~AvroRowDecoder();

  // `columns`: the output schema. `reader`: optional Avro reader schema whose root record
  // describes the same columns (for defaults / aliases / enum defaults).
  static arrow::Result<std::unique_ptr<AvroRowDecoder>> Make(std::shared_ptr<arrow::Schema> columns,
                                                              std::shared_ptr<const AvroSchema> reader = nullptr);

  const std::shared_ptr<arrow::Schema>& schema() const { return schema_; }

  // Resolves `writer` against the columns. Fails (Invalid, naming the column) when the
  // schemas cannot be resolved at all.
  arrow::Result<std::shared_ptr<const DecodeProgram>> Compile(std::shared_ptr<const AvroSchema> writer) const;

  // Appends the row encoded in exactly `datum` (trailing bytes are an error). On failure
  // nothing is appended and *error says why: `Avro decode error: column 'x' (avro type
  // 'long'): truncated varint`. Throws std::bad_alloc only when memory runs out.
  bool DecodeDatum(const DecodeProgram& program, std::string_view datum, std::string* error);

  // Appends `count` datums stored back to back in `block` (an object container block).
  // The first bad datum ends the block with an Invalid status; rows before it are kept.
  arrow::Status DecodeBlock(const DecodeProgram& program, std::string_view block, int64_t count);

  int64_t num_rows() const;
  // The rows appended since the last Flush, as one batch (possibly empty).
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> Flush();

 private:
  AvroRowDecoder() = default;
  std::shared_ptr<arrow::Schema> schema_;
  std::shared_ptr<const AvroSchema> reader_;
  std::unique_ptr<ColumnTree> columns_;
};

// RecordDecoder for plain binary messages: each message is one datum written with `writer`.
// `columns` null means the writer schema's own Arrow mapping (AvroToArrowSchema).
arrow::Result<std::unique_ptr<RecordDecoder>> MakePlainDecoder(std::shared_ptr<const AvroSchema> writer,
                                                               std::shared_ptr<arrow::Schema> columns,
                                                               std::shared_ptr<const AvroSchema> reader = nullptr);

}  // namespace laminar::serde::avro
