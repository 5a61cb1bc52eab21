// The project's one changelog convention, used by every source that emits changes (CDC,
// Debezium, Delta change feeds) and every sink that applies them (upsert modes).
//
// A changelog batch is an ordinary batch plus one trailing column named `_op`, Int8, not
// null, holding the row kind (Flink's RowKind, the same four values):
//   0  +I  insert
//   1  -U  update-before: retracts the previous version of a row
//   2  +U  update-after: the new version of a row
//   3  -D  delete: retracts a row
// An update arrives as -U then +U (both rows, in that order) when the source knows the old
// row, or as +U alone when it does not. Weight, for Z-set style consumers: +1 for +I/+U,
// -1 for -U/-D.
#pragma once

#include <arrow/type.h>

#include <cstdint>
#include <memory>

namespace laminar {

inline constexpr const char* kChangelogColumn = "_op";

enum class RowKind : int8_t { kInsert = 0, kUpdateBefore = 1, kUpdateAfter = 2, kDelete = 3 };

inline int Weight(RowKind kind) { return kind == RowKind::kInsert || kind == RowKind::kUpdateAfter ? 1 : -1; }

inline const char* RowKindShortName(RowKind kind) {
  switch (kind) {
    case RowKind::kInsert: return "+I";
    case RowKind::kUpdateBefore: return "-U";
    case RowKind::kUpdateAfter: return "+U";
    case RowKind::kDelete: return "-D";
  }
  return "?";
}

inline std::shared_ptr<arrow::Field> ChangelogField() {
  return arrow::field(kChangelogColumn, arrow::int8(), /*nullable=*/false);
}

// True when the schema carries the changelog column (last).
inline bool IsChangelogSchema(const arrow::Schema& schema) {
  return schema.num_fields() > 0 && schema.field(schema.num_fields() - 1)->name() == kChangelogColumn &&
         schema.field(schema.num_fields() - 1)->type()->id() == arrow::Type::INT8;
}

}  // namespace laminar
