// The SQL type table. Every name the DDL accepts is listed here once, next to the Arrow
// type it becomes and the text the README and `--help` show for it.

#include "laminar/ddl/types.h"

#include <algorithm>
#include <cctype>
#include <utility>

namespace laminar::ddl {
namespace {

using arrow::DataType;

SqlTypeInfo Scalar(std::vector<std::string_view> names, std::shared_ptr<DataType> type, std::string_view sql,
                   std::string_view arrow) {
  SqlTypeInfo info;
  info.names = std::move(names);
  info.type = std::move(type);
  info.sql = sql;
  info.arrow = arrow;
  return info;
}

// A scalar that also accepts an ignored length: VARCHAR(n).
SqlTypeInfo Sized(std::vector<std::string_view> names, std::shared_ptr<DataType> type, std::string_view sql,
                  std::string_view arrow) {
  SqlTypeInfo info = Scalar(std::move(names), std::move(type), sql, arrow);
  info.takes_length = true;
  return info;
}

// A type the parser builds itself (DECIMAL, TIMESTAMP, ARRAY, ...).
SqlTypeInfo Special(std::vector<std::string_view> names, SqlTypeKind kind, std::string_view sql,
                    std::string_view arrow) {
  SqlTypeInfo info = Scalar(std::move(names), nullptr, sql, arrow);
  info.kind = kind;
  return info;
}

// A row without names only documents another form of a row above it.
SqlTypeInfo Form(std::string_view sql, std::string_view arrow) { return Special({}, SqlTypeKind::kScalar, sql, arrow); }

const std::vector<SqlTypeInfo>& TypeTable() {
  using arrow::TimeUnit;
  static const std::vector<SqlTypeInfo> table = [] {
    SqlTypeInfo tz =
        Special({"TIMESTAMPTZ"}, SqlTypeKind::kTimestamp, "TIMESTAMP[(p)] WITH TIME ZONE, TIMESTAMPTZ[(p)]",
                "timestamp(unit, \"UTC\"), unit as above");
    tz.utc = true;
    SqlTypeInfo json =
        Scalar({"JSON", "JSONB"}, arrow::utf8(), "JSON, JSONB", "utf8, field metadata laminar.type = json");
    json.kind = SqlTypeKind::kJson;
    return std::vector<SqlTypeInfo>{
        Scalar({"BOOLEAN", "BOOL"}, arrow::boolean(), "BOOLEAN, BOOL", "bool"),
        Scalar({"TINYINT"}, arrow::int8(), "TINYINT", "int8"),
        Scalar({"SMALLINT"}, arrow::int16(), "SMALLINT", "int16"),
        Scalar({"INT", "INTEGER"}, arrow::int32(), "INT, INTEGER", "int32"),
        Scalar({"BIGINT"}, arrow::int64(), "BIGINT", "int64"),
        Scalar({"TINYINT UNSIGNED", "UTINYINT"}, arrow::uint8(), "TINYINT UNSIGNED, UTINYINT", "uint8"),
        Scalar({"SMALLINT UNSIGNED", "USMALLINT"}, arrow::uint16(), "SMALLINT UNSIGNED, USMALLINT", "uint16"),
        Scalar({"INT UNSIGNED", "INTEGER UNSIGNED", "UINTEGER"}, arrow::uint32(),
               "INT UNSIGNED, INTEGER UNSIGNED, UINTEGER", "uint32"),
        Scalar({"BIGINT UNSIGNED", "UBIGINT"}, arrow::uint64(), "BIGINT UNSIGNED, UBIGINT", "uint64"),
        Scalar({"REAL", "FLOAT", "FLOAT4"}, arrow::float32(), "REAL, FLOAT, FLOAT4", "float32"),
        Scalar({"DOUBLE", "DOUBLE PRECISION", "FLOAT8"}, arrow::float64(), "DOUBLE, DOUBLE PRECISION, FLOAT8",
               "float64"),
        Special({"DECIMAL", "NUMERIC"}, SqlTypeKind::kDecimal, "DECIMAL(p, s), NUMERIC(p, s)",
                "decimal128(p, s), 1 <= p <= 38, 0 <= s <= p"),
        Form("DECIMAL(p), NUMERIC(p)", "decimal128(p, 0)"),
        Form("DECIMAL, NUMERIC", "decimal128(38, 9)"),
        Sized({"VARCHAR", "TEXT", "STRING", "CHAR"}, arrow::utf8(), "VARCHAR, VARCHAR(n), TEXT, STRING, CHAR(n)",
              "utf8 (n is not enforced)"),
        Sized({"BYTEA", "VARBINARY", "BLOB", "BINARY"}, arrow::binary(), "BYTEA, VARBINARY[(n)], BLOB, BINARY[(n)]",
              "binary (n is not enforced)"),
        Scalar({"DATE"}, arrow::date32(), "DATE", "date32"),
        Scalar({"TIME"}, arrow::time64(TimeUnit::MICRO), "TIME", "time64(us)"),
        Special({"TIMESTAMP"}, SqlTypeKind::kTimestamp, "TIMESTAMP [WITHOUT TIME ZONE]", "timestamp(us)"),
        Form("TIMESTAMP(p) [WITHOUT TIME ZONE]", "timestamp(unit), p 0: s, 1-3: ms, 4-6: us, 7-9: ns"),
        tz,
        json,
        Special({"ARRAY"}, SqlTypeKind::kArray, "T[], ARRAY<T>", "list<item: T> (nestable)"),
        Special({"STRUCT"}, SqlTypeKind::kStruct, "STRUCT<name T [NOT NULL], ...>", "struct<name: T, ...>"),
        Special({"INTERVAL"}, SqlTypeKind::kUnsupported, "INTERVAL",
                "not supported: store durations as BIGINT (e.g. microseconds)"),
    };
  }();
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
    return arrow::Status::Invalid("scale must be between 0 and the precision (", precision, "), got ", scale);
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
  static const auto metadata = arrow::key_value_metadata({kTypeMetadataKey}, {kJsonTypeName});
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
