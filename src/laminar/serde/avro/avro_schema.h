// Avro schemas (specification 1.11): the parsed schema tree, Parsing Canonical Form, the
// CRC-64-AVRO fingerprint, and the mappings Avro <-> Arrow. Immutable after Parse; safe to
// share between threads.
#pragma once

#include <arrow/result.h>
#include <arrow/type_fwd.h>

#include <boost/json/value.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace laminar::serde::avro {

enum class AvroType : uint8_t {
  kNull, kBoolean, kInt, kLong, kFloat, kDouble, kBytes, kString,
  kRecord, kEnum, kArray, kMap, kUnion, kFixed,
};

// Logical types this library understands. Unknown or invalid ones are ignored, as the
// specification asks (the node keeps its underlying type, `logical` stays kNone).
enum class LogicalType : uint8_t {
  kNone, kDecimal, kUuid, kDate, kTimeMillis, kTimeMicros,
  kTimestampMillis, kTimestampMicros, kTimestampNanos,
  kLocalTimestampMillis, kLocalTimestampMicros, kLocalTimestampNanos,
  kDuration,  // fixed(12): months, days, milliseconds as unsigned 32-bit little-endian
};

const char* AvroTypeName(AvroType type);          // "long", "record", ...
const char* LogicalTypeName(LogicalType logical);  // "timestamp-micros", "" for kNone

struct AvroNode;

struct AvroField {
  std::string name;
  std::vector<std::string> aliases;
  const AvroNode* type = nullptr;
  std::optional<boost::json::value> default_json;  // as written in the schema
  std::string default_binary;  // default_json in the binary encoding of `type` (when present)
  std::string doc;
  std::string order;  // "" (ascending), "descending", "ignore"
  size_t position = 0;
};

struct AvroNode {
  AvroType type = AvroType::kNull;
  LogicalType logical = LogicalType::kNone;
  std::string logical_name;  // as written, also for logical types we ignore
  int32_t precision = 0;     // decimal
  int32_t scale = 0;         // decimal
  // Named types (record, enum, fixed).
  std::string name;       // short name
  std::string full_name;  // namespace.name
  std::string space;      // namespace ("" for the null namespace)
  std::vector<std::string> aliases;  // full names
  std::string doc;
  std::vector<AvroField> fields;         // record
  std::vector<std::string> symbols;      // enum
  std::optional<std::string> enum_default;
  const AvroNode* items = nullptr;       // array
  const AvroNode* values = nullptr;      // map
  std::vector<const AvroNode*> branches; // union
  int32_t size = 0;                      // fixed

  bool is_named() const {
    return type == AvroType::kRecord || type == AvroType::kEnum || type == AvroType::kFixed;
  }
  // The name used in error texts: "long", "timestamp-micros", "record com.x.Order".
  std::string Describe() const;
  // For unions: the index of the "null" branch, or -1.
  int NullBranch() const;
  // For unions [null, T] / [T, null]: T; otherwise nullptr.
  const AvroNode* NullableValue() const;
  const AvroField* FindField(std::string_view name) const;
};

class AvroSchema {
 public:
  // Parses a schema from its JSON text. Errors are Invalid statuses that start with
  // "invalid Avro schema: " and name the path to the problem ("field 'a.b': ...").
  static arrow::Result<std::shared_ptr<const AvroSchema>> Parse(std::string_view json);

  const AvroNode& root() const { return *root_; }
  // Named types by full name.
  const AvroNode* FindNamed(const std::string& full_name) const;

  // Parsing Canonical Form (spec "Parsing Canonical Form for Schemas").
  const std::string& CanonicalForm() const { return canonical_; }
  // CRC-64-AVRO (Rabin) of the canonical form.
  uint64_t Fingerprint64() const;
  // The full schema as JSON (logical types, defaults, aliases and docs kept).
  std::string ToJson() const;

  AvroSchema(const AvroSchema&) = delete;
  AvroSchema& operator=(const AvroSchema&) = delete;
  AvroSchema() = default;

 private:
  friend class SchemaParser;
  std::vector<std::unique_ptr<AvroNode>> nodes_;
  std::map<std::string, const AvroNode*> named_;
  const AvroNode* root_ = nullptr;
  std::string canonical_;
};

// The CRC-64-AVRO fingerprint of arbitrary bytes.
uint64_t Rabin64(std::string_view bytes);

// Avro -> Arrow. Unions [null, T] are nullable T; [T] is T; other unions with several
// non-null branches become dense unions whose children are named after the branch types.
// Records are structs, enums dictionary<int32, utf8>, maps map<utf8, T>, logical types
// their Arrow counterparts (see README.md). `nullable` says whether the value may be null.
struct ArrowTypeAndNullability {
  std::shared_ptr<arrow::DataType> type;
  bool nullable = false;
};
arrow::Result<ArrowTypeAndNullability> AvroToArrowType(const AvroNode& node);
// The root must be a record; its fields become the schema's fields.
arrow::Result<std::shared_ptr<arrow::Schema>> AvroToArrowSchema(const AvroSchema& schema);

// Arrow -> Avro schema JSON: a record named `record_name` in `space`; nested structs get
// unique names `<parent>_<field>`; nullable fields become ["null", T] with default null.
arrow::Result<std::string> ArrowToAvroSchemaJson(const arrow::Schema& schema,
                                                 const std::string& record_name = "record",
                                                 const std::string& space = "");

// Encodes a JSON value (the form defaults are written in) in Avro binary per `node`.
arrow::Status EncodeJsonDefault(const AvroNode& node, const boost::json::value& json,
                                std::string* out);

}  // namespace laminar::serde::avro
