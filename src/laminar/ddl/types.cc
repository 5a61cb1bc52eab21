// The SQL type table. Every name the DDL accepts is listed here once, next to the Arrow
// type it becomes and the text the README and `--help` show for it.

#include "laminar/ddl/types.h"

#include <algorithm>
#include <cctype>

namespace laminar::ddl {
namespace {

using arrow::DataType;

const std::vector<SqlTypeInfo>& TypeTable() {
  static const std::vector<SqlTypeInfo> table = {
      {{"BOOLEAN", "BOOL"}, SqlTypeKind::kScalar, [] { return arrow::boolean(); }, false, false,
       "BOOLEAN, BOOL", "bool"},
      {{"TINYINT"}, SqlTypeKind::kScalar, [] { return arrow::int8(); }, false, false, "TINYINT",
       "int8"},
      {{"SMALLINT"}, SqlTypeKind::kScalar, [] { return arrow::int16(); }, false, false,
       "SMALLINT", "int16"},
      {{"INT", "INTEGER"}, SqlTypeKind::kScalar, [] { return arrow::int32(); }, false, false,
       "INT, INTEGER", "int32"},
      {{"BIGINT"}, SqlTypeKind::kScalar, [] { return arrow::int64(); }, false, false, "BIGINT",
       "int64"},
      {{"TINYINT UNSIGNED", "UTINYINT"}, SqlTypeKind::kScalar, [] { return arrow::uint8(); },
       false, false, "TINYINT UNSIGNED, UTINYINT", "uint8"},
      {{"SMALLINT UNSIGNED", "USMALLINT"}, SqlTypeKind::kScalar, [] { return arrow::uint16(); },
       false, false, "SMALLINT UNSIGNED, USMALLINT", "uint16"},
      {{"INT UNSIGNED", "INTEGER UNSIGNED", "UINTEGER"}, SqlTypeKind::kScalar,
       [] { return arrow::uint32(); }, false, false, "INT UNSIGNED, INTEGER UNSIGNED, UINTEGER",
       "uint32"},
      {{"BIGINT UNSIGNED", "UBIGINT"}, SqlTypeKind::kScalar, [] { return arrow::uint64(); }, false,
       false, "BIGINT UNSIGNED, UBIGINT", "uint64"},
      {{"REAL", "FLOAT", "FLOAT4"}, SqlTypeKind::kScalar, [] { return arrow::float32(); }, false,
       false, "REAL, FLOAT, FLOAT4", "float32"},
      {{"DOUBLE", "DOUBLE PRECISION", "FLOAT8"}, SqlTypeKind::kScalar,
       [] { return arrow::float64(); }, false, false, "DOUBLE, DOUBLE PRECISION, FLOAT8",
       "float64"},
      {{"DECIMAL", "NUMERIC"}, SqlTypeKind::kDecimal, nullptr, false, false,
       "DECIMAL(p, s), NUMERIC(p, s)", "decimal128(p, s), 1 <= p <= 38, 0 <= s <= p"},
      // Rows without names only document another form of the row above.
      {{}, SqlTypeKind::kDecimal, nullptr, false, false, "DECIMAL(p), NUMERIC(p)",
       "decimal128(p, 0)"},
      {{}, SqlTypeKind::kDecimal, nullptr, false, false, "DECIMAL, NUMERIC", "decimal128(38, 9)"},
      {{"VARCHAR", "TEXT", "STRING", "CHAR"}, SqlTypeKind::kScalar, [] { return arrow::utf8(); },
       true, false, "VARCHAR, VARCHAR(n), TEXT, STRING, CHAR(n)", "utf8 (n is not enforced)"},
      {{"BYTEA", "VARBINARY", "BLOB", "BINARY"}, SqlTypeKind::kScalar,
       [] { return arrow::binary(); }, true, false, "BYTEA, VARBINARY[(n)], BLOB, BINARY[(n)]",
       "binary (n is not enforced)"},
      {{"DATE"}, SqlTypeKind::kScalar, [] { return arrow::date32(); }, false, false, "DATE",
       "date32"},
      {{"TIME"}, SqlTypeKind::kScalar, [] { return arrow::time64(arrow::TimeUnit::MICRO); }, false,
       false, "TIME", "time64(us)"},
      {{"TIMESTAMP"}, SqlTypeKind::kTimestamp, nullptr, false, false,
       "TIMESTAMP [WITHOUT TIME ZONE]", "timestamp(us)"},
      {{}, SqlTypeKind::kTimestamp, nullptr, false, false, "TIMESTAMP(p) [WITHOUT TIME ZONE]",
       "timestamp(unit), p 0: s, 1-3: ms, 4-6: us, 7-9: ns"},
      {{"TIMESTAMPTZ"}, SqlTypeKind::kTimestamp, nullptr, false, true,
       "TIMESTAMP[(p)] WITH TIME ZONE, TIMESTAMPTZ[(p)]", "timestamp(unit, \"UTC\"), unit as above"},
      {{"JSON", "JSONB"}, SqlTypeKind::kJson, [] { return arrow::utf8(); }, false, false,
       "JSON, JSONB", "utf8, field metadata laminar.type = json"},
      {{"ARRAY"}, SqlTypeKind::kArray, nullptr, false, false, "T[], ARRAY<T>",
       "list<item: T> (nestable)"},
      {{"STRUCT"}, SqlTypeKind::kStruct, nullptr, false, false, "STRUCT<name T [NOT NULL], ...>",
       "struct<name: T, ...>"},
      {{"INTERVAL"}, SqlTypeKind::kUnsupported, nullptr, false, false, "INTERVAL",
       "not supported: store durations as BIGINT (e.g. microseconds)"},
  };
  return table;
}

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Levenshtein distance; names are short, so the quadratic table is fine.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitute = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, substitute});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

const SqlTypeInfo* FindSqlType(std::string_view name) {
  const std::string upper = Upper(name);
  for (const SqlTypeInfo& info : TypeTable()) {
    for (std::string_view candidate : info.names) {
      if (candidate == upper) return &info;
    }
  }
  return nullptr;
}

bool IsSqlTypePrefix(std::string_view words) {
  const std::string prefix = Upper(words) + " ";
  for (const SqlTypeInfo& info : TypeTable()) {
    for (std::string_view candidate : info.names) {
      if (candidate.substr(0, prefix.size()) == prefix) return true;
    }
  }
  return false;
}

std::string SuggestSqlType(std::string_view name) {
  const std::string upper = Upper(name);
  // Short names are close to too many others for a suggestion to mean anything.
  if (upper.size() < 3) return "";
  std::string_view best;
  size_t best_distance = 3;
  for (const SqlTypeInfo& info : TypeTable()) {
    if (info.kind == SqlTypeKind::kUnsupported) continue;
    for (std::string_view candidate : info.names) {
      const size_t distance = EditDistance(upper, candidate);
      if (distance < best_distance) {
        best_distance = distance;
        best = candidate;
      }
    }
  }
  return std::string(best);
}

arrow::Status CheckDecimalPrecision(int64_t precision) {
  if (precision < 1 || precision > 38) {
    return arrow::Status::Invalid("precision must be between 1 and 38, got ", precision);
  }
  return arrow::Status::OK();
}

arrow::Status CheckDecimalScale(int64_t precision, int64_t scale) {
  if (scale < 0 || scale > precision) {
    return arrow::Status::Invalid("scale must be between 0 and the precision (", precision,
                                  "), got ", scale);
  }
  return arrow::Status::OK();
}

arrow::Result<std::shared_ptr<DataType>> MakeDecimalType(int64_t precision, int64_t scale) {
  if (arrow::Status status = CheckDecimalPrecision(precision); !status.ok()) {
    return arrow::Status::Invalid("DECIMAL ", status.message());
  }
  if (arrow::Status status = CheckDecimalScale(precision, scale); !status.ok()) {
    return arrow::Status::Invalid("DECIMAL ", status.message());
  }
  return arrow::decimal128(static_cast<int32_t>(precision), static_cast<int32_t>(scale));
}

arrow::Result<arrow::TimeUnit::type> TimestampUnitForPrecision(int64_t precision) {
  if (precision == 0) return arrow::TimeUnit::SECOND;
  if (precision >= 1 && precision <= 3) return arrow::TimeUnit::MILLI;
  if (precision >= 4 && precision <= 6) return arrow::TimeUnit::MICRO;
  if (precision >= 7 && precision <= 9) return arrow::TimeUnit::NANO;
  return arrow::Status::Invalid("TIMESTAMP precision must be between 0 and 9, got ", precision);
}

std::shared_ptr<const arrow::KeyValueMetadata> JsonTypeMetadata() {
  static const auto metadata =
      arrow::key_value_metadata({kTypeMetadataKey}, {kJsonTypeName});
  return metadata;
}

bool IsJsonField(const arrow::Field& field) {
  const auto& metadata = field.metadata();
  if (!metadata) return false;
  const int index = metadata->FindKey(kTypeMetadataKey);
  return index >= 0 && metadata->value(index) == kJsonTypeName;
}

std::string DescribeSqlTypes() {
  const std::string_view sql_header = "SQL type";
  const std::string_view arrow_header = "Arrow type";
  size_t sql_width = sql_header.size();
  size_t arrow_width = arrow_header.size();
  for (const SqlTypeInfo& info : TypeTable()) {
    sql_width = std::max(sql_width, info.sql.size());
    arrow_width = std::max(arrow_width, info.arrow.size());
  }
  auto row = [&](std::string_view sql, std::string_view arrow) {
    std::string line = "| ";
    line += sql;
    line.append(sql_width - sql.size(), ' ');
    line += " | ";
    line += arrow;
    line.append(arrow_width - arrow.size(), ' ');
    line += " |\n";
    return line;
  };
  std::string out = row(sql_header, arrow_header);
  out += "|" + std::string(sql_width + 2, '-') + "|" + std::string(arrow_width + 2, '-') + "|\n";
  for (const SqlTypeInfo& info : TypeTable()) out += row(info.sql, info.arrow);
  return out;
}

}  // namespace laminar::ddl
