// SQL type names of the DDL and the Arrow types they map to. One table drives lookup,
// the README and `--help` (DescribeSqlTypes), so the three cannot drift apart. The
// recursive forms (ARRAY<T>, T[], STRUCT<...>) are parsed by ddl.cc; this file only names them.
#pragma once

#include <arrow/result.h>
#include <arrow/type.h>
#include <arrow/util/key_value_metadata.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace laminar::ddl {

// Field metadata key/value that marks a utf8 column as holding JSON text (SQL JSON/JSONB).
inline constexpr const char* kTypeMetadataKey = "laminar.type";
inline constexpr const char* kJsonTypeName = "json";

enum class SqlTypeKind {
  kScalar,       // fixed Arrow type, optionally with an ignored length: INT, VARCHAR(n)
  kDecimal,      // DECIMAL[(p[, s])]
  kTimestamp,    // TIMESTAMP[(p)] [WITH[OUT] TIME ZONE], TIMESTAMPTZ[(p)]
  kJson,         // utf8 + kTypeMetadataKey metadata
  kArray,        // ARRAY<T>
  kStruct,       // STRUCT<name T, ...>
  kUnsupported,  // known to SQL, rejected with `note` as the reason
};

// One row of the type table.
struct SqlTypeInfo {
  std::vector<std::string_view> names;  // upper case; multi-word names single-spaced
  SqlTypeKind kind = SqlTypeKind::kScalar;
  std::shared_ptr<arrow::DataType> type;  // kScalar and kJson only
  bool takes_length = false;              // accepts "(n)", n >= 1, which is checked and then ignored
  bool utc = false;                       // kTimestamp: always "UTC" (TIMESTAMPTZ)
  std::string_view sql;                   // the spelling shown in the table
  std::string_view arrow;                 // the Arrow type shown in the table (or why it is rejected)
};

// The row naming `name` (any case, words separated by single spaces); nullptr if unknown.
const SqlTypeInfo* FindSqlType(std::string_view name);

// True when `words` followed by more words may still name a type ("DOUBLE" -> "DOUBLE
// PRECISION"), so the parser knows whether to read the next word as part of the name.
bool IsSqlTypePrefix(std::string_view words);

// A known type name close to `name` (a likely typo), or "" when none is close.
std::string SuggestSqlType(std::string_view name);

// DECIMAL bounds, checked separately so that an error can point at the bad number. The
// messages ("precision must be ...") leave the type name to the caller.
arrow::Status CheckDecimalPrecision(int64_t precision);
arrow::Status CheckDecimalScale(int64_t precision, int64_t scale);
// decimal128(precision, scale) after both checks.
arrow::Result<std::shared_ptr<arrow::DataType>> MakeDecimalType(int64_t precision, int64_t scale);
// The defaults of a bare DECIMAL.
inline constexpr int64_t kDefaultDecimalPrecision = 38;
inline constexpr int64_t kDefaultDecimalScale = 9;

// TIMESTAMP(p): 0 -> s, 1-3 -> ms, 4-6 -> us, 7-9 -> ns; anything else is an error.
arrow::Result<arrow::TimeUnit::type> TimestampUnitForPrecision(int64_t precision);

// {kTypeMetadataKey: kJsonTypeName}, the metadata every JSON field carries.
std::shared_ptr<const arrow::KeyValueMetadata> JsonTypeMetadata();
// True for fields declared JSON/JSONB.
bool IsJsonField(const arrow::Field& field);

// The type table as an aligned Markdown table, for `--help` and the README.
std::string DescribeSqlTypes();

}  // namespace laminar::ddl
