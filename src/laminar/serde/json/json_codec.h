// The `json` format: one JSON object per message <-> one row.
//
// Decoding (simdjson On-Demand, straight into column buffers; one decoder per thread):
// - the top level must be an object; keys are matched to columns by exact name; a missing
//   key or JSON null gives null; a key given twice: the last one wins;
// - a record that fails (malformed JSON, a value that cannot become its column type, null
//   or missing for a NOT NULL column, an unknown key under format.unknown_fields=reject)
//   adds no row and one RecordError, e.g. `column 'amount': expected DECIMAL(10,2),
//   found string "abc" (not a decimal number)`. Tombstones (null values) are skipped.
//
// Accepted JSON per column type (coerce = with format.coerce=true, the default):
// | column                 | accepted                                                      | coerce adds                       |
// |------------------------|---------------------------------------------------------------|-----------------------------------|
// | BOOLEAN                | true / false                                                  | "true"/"false", any case          |
// | integers, unsigned     | integers in range                                             | integer strings; integral floats  |
// | REAL, DOUBLE           | any number (REAL: within float range)                         | numeric strings, "NaN", "Infinity"|
// | DECIMAL(p,s)           | number or string, exact (no float round trip); more than p    |                                   |
// |                        | digits, or non-zero digits beyond s, is an error              |                                   |
// | VARCHAR                | string                                                        | numbers and booleans as their text|
// | JSON                   | any value, stored as compact JSON text (a string keeps quotes)|                                   |
// | BYTEA                  | base64 string (standard or URL-safe, padding optional)        |                                   |
// | DATE                   | "YYYY-MM-DD", or integer days since 1970-01-01                |                                   |
// | TIME                   | "HH:MM[:SS[.ffffff]]", or integer microseconds since midnight |                                   |
// | TIMESTAMP(p) [WITH TZ] | text: ISO-8601 / RFC 3339 ('T' or space, fraction up to ns,   |                                   |
// |                        | Z or ±hh[:mm]; no offset = UTC) or format.timestamp_formats;  |                                   |
// |                        | integer or float = epoch MILLISECONDS (§16.1), scaled to the  |                                   |
// |                        | column unit; finer digits than the unit are truncated         |                                   |
// | ARRAY<T>               | array, elements by T's rules                                  |                                   |
// | STRUCT<...>            | object, fields by these rules (unknown_fields applies)        |                                   |
//
// Options (`format.<name>`): unknown_fields = ignore (default) | reject; type_mismatch =
// error (default: a record error) | null (a nullable column gets null, counted in
// TypeMismatchCount; NOT NULL columns still fail); coerce = true (default) | false;
// timestamp_formats = "iso8601;%d/%m/%Y %H:%M:%S" (tried in order; default iso8601).
//
// Encoding: one object per row, see json_writer.h.
#pragma once

#include <arrow/result.h>
#include <arrow/type_fwd.h>

#include <memory>
#include <vector>

#include "laminar/core/config.h"
#include "laminar/serde/codec.h"

namespace laminar::serde {

std::vector<ConfigKeySpec> JsonKeySpecs();

// `schema` is required (the declared columns). Bad options or a column type JSON cannot
// decode: config error naming the key or column.
arrow::Result<std::unique_ptr<RecordDecoder>> MakeJsonDecoder(const ConnectorConfig& config,
                                                              std::shared_ptr<arrow::Schema> schema);
arrow::Result<std::unique_ptr<RecordEncoder>> MakeJsonEncoder(const ConnectorConfig& config,
                                                              std::shared_ptr<arrow::Schema> schema);

// Values a JSON or Debezium decoder turned into nulls under format.type_mismatch=null
// since it was made; 0 for other decoders.
int64_t TypeMismatchCount(const RecordDecoder& decoder);

}  // namespace laminar::serde
