// JSON object -> one row of Arrow columns, shared by the JSON and Debezium decoders.
// Values go straight into growable column buffers (no arrow builders), so that a bad
// record can be rolled back by truncating every column to the previous row count: a
// record is appended whole or not at all. One instance per decoder; single-threaded.
// Not installed.
#pragma once

#include <arrow/array.h>
#include <arrow/result.h>
#include <arrow/type.h>

#include <simdjson.h>

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "laminar/core/config.h"
#include "laminar/serde/json/jsonb.h"
#include "laminar/serde/json/text_values_internal.h"

namespace laminar::serde::json_internal {

// kCollect: top-level fields that are not columns go, as one JSONB object, into the extra
// column `_extra` (binary, tagged laminar.type=jsonb); null when a record has none.
enum class UnknownFields { kIgnore, kReject, kCollect };

inline constexpr const char* kExtraColumn = "_extra";
enum class TypeMismatch { kError, kNull };

struct DecodeOptions {
  UnknownFields unknown_fields = UnknownFields::kIgnore;
  TypeMismatch type_mismatch = TypeMismatch::kError;
  // format.type_mismatch.<column path>: the strategy for that column and what it nests.
  std::map<std::string, TypeMismatch> column_type_mismatch;
  bool nested_as_jsonb = false;  // BYTEA columns take any JSON value, as JSONB
  bool coerce = true;
  std::vector<text::TimestampPattern> timestamp_formats;  // tried in order; empty: iso8601
};

// The `format.*` keys of DecodeOptions, and reading them (bad values: config error naming the key).
std::vector<ConfigKeySpec> DecodeOptionKeySpecs();
arrow::Result<DecodeOptions> DecodeOptionsFromConfig(const ConnectorConfig& config);

// How a producer encoded a top-level column's values, when it says so (the semantic type
// names of a Debezium / Kafka Connect schema block). kDefault decodes by the column's type
// alone. The others apply to the temporal or decimal columns they can fill exactly; a
// column of another kind (BIGINT for a timestamp, say) takes the value as it is by its
// own type, and a temporal column of the wrong kind is a type mismatch.
struct ValueEncoding {
  enum class Kind : uint8_t {
    kDefault,
    kEpoch,            // integer count of `unit` since the epoch -> TIMESTAMP (any unit)
    kEpochDays,        // integer days since the epoch -> DATE, TIMESTAMP
    kTimeOfDay,        // integer count of `unit` since midnight -> TIME
    kIsoTimestamp,     // ISO-8601 text with offset, whatever format.timestamp_formats says -> TIMESTAMP
    kUnscaledDecimal,  // base64 big-endian two's-complement unscaled value at `scale` -> DECIMAL, DOUBLE, VARCHAR
  };
  Kind kind = Kind::kDefault;
  arrow::TimeUnit::type unit = arrow::TimeUnit::MILLI;
  int32_t scale = 0;
  std::string name;  // the producer's type name, for messages
};

struct Column;

class RowDecoder {
 public:
  // Fails (config error) for a column type the DDL cannot produce.
  static arrow::Result<std::unique_ptr<RowDecoder>> Make(const arrow::FieldVector& fields, DecodeOptions options,
                                                         const std::string& where);
  ~RowDecoder();

  // Makes room for about `rows` more rows.
  void Reserve(int64_t rows);
  // Appends the object as one row. On failure returns false, sets *error (naming the
  // column and what was found) and leaves every column as it was. `encodings`: empty, or
  // one per top-level column (in the order given to Make).
  bool AppendObject(simdjson::ondemand::object& object, std::string* error,
                    std::span<const ValueEncoding> encodings = {});
  int64_t rows() const { return rows_; }
  // Drops the rows after the first `rows` (used to undo a row the caller rejects later).
  void Truncate(int64_t rows);
  // The field of the extra column (kCollect), appended after the declared columns.
  static std::shared_ptr<arrow::Field> ExtraField();
  // The columns built so far (plus `_extra` under kCollect); starts over with 0 rows.
  arrow::Result<arrow::ArrayVector> Finish();
  // Values turned into nulls under TypeMismatch::kNull, since Make.
  int64_t type_mismatches() const { return mismatches_; }

 private:
  RowDecoder() = default;
  bool AppendValue(Column& column, simdjson::ondemand::value value);
  bool AppendEncoded(Column& column, simdjson::ondemand::value value, const ValueEncoding& encoding);
  bool AppendStructFields(Column& column, simdjson::ondemand::object& object);
  bool Mismatch(Column& column, simdjson::ondemand::value& value, simdjson::ondemand::json_type type,
                const char* why);
  bool Malformed(simdjson::error_code code);

  std::unique_ptr<Column> root_;
  std::unique_ptr<Column> extra_;  // kCollect only
  std::string collected_;          // the record's unknown fields as JSON object text
  jsonb::Encoder jsonb_;
  DecodeOptions options_;
  int64_t rows_ = 0;
  int64_t mismatches_ = 0;
  std::string* error_ = nullptr;
  std::span<const ValueEncoding> encodings_;  // of the row being appended
  std::string scratch_;                       // decoded decimal / base64 bytes
};

// One simdjson parser and one reused padded copy buffer.
class PaddedParser {
 public:
  simdjson::simdjson_result<simdjson::ondemand::document> Iterate(std::string_view bytes);

 private:
  simdjson::ondemand::parser parser_;
  std::unique_ptr<char[]> buffer_;
  size_t capacity_ = 0;
};

// "malformed JSON: <simdjson's reason>".
std::string MalformedMessage(simdjson::error_code code);
// "an object", "string \"abc\"", "number 1.5" ... for error messages.
std::string DescribeJsonType(simdjson::ondemand::json_type type);

}  // namespace laminar::serde::json_internal
