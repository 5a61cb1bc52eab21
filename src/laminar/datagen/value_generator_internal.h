// Value generators of the datagen source: one per column, recursive for lists and structs.
// Every value is a pure function of (seed, column path, cell) through a counter-based hash;
// no generator keeps RNG state. Internal to laminar/datagen; used on the poll thread only.
#pragma once

#include <arrow/array/builder_base.h>
#include <arrow/result.h>
#include <arrow/status.h>
#include <arrow/type_fwd.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "laminar/datagen/datagen_source.h"

namespace laminar::datagen {

inline constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;
inline constexpr uint64_t kSaltStep = 0xD1B54A32D192ED03ULL;

// What each draw of a cell is for; far apart so that word and element indexes never meet.
inline constexpr uint64_t kSaltValue = 0;
inline constexpr uint64_t kSaltNull = 1;
inline constexpr uint64_t kSaltValue2 = 2;
inline constexpr uint64_t kSaltValue3 = 3;
inline constexpr uint64_t kSaltWord = 1ULL << 20;
inline constexpr uint64_t kSaltElement = 1ULL << 40;

// splitmix64's finaliser: a bijection with full avalanche.
inline uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// One random word for (stream, cell, salt). Deliberately not a stateful RNG: any cell can
// be computed on its own, which is what makes a restore replay identical rows.
inline uint64_t Draw(uint64_t stream, uint64_t cell, uint64_t salt) {
  return Mix64(stream + cell * kGolden + salt * kSaltStep);
}

// Uniform in [0, span) by multiply-high (no modulo bias worth the name); span 0 means 2^64.
inline uint64_t Below(uint64_t draw, uint64_t span) {
  if (span == 0) return draw;
  return static_cast<uint64_t>((static_cast<unsigned __int128>(draw) * span) >> 64);
}

inline double UnitInterval(uint64_t draw) { return static_cast<double>(draw >> 11) * 0x1.0p-53; }

// One column (or nested field) of generated values, appending into a builder it does not
// own. A cell is the row index for a top-level column and a key derived from the parent
// cell for list elements; struct fields share their parent's cell.
class ColumnGenerator {
 public:
  ColumnGenerator(arrow::ArrayBuilder* builder, uint64_t stream, double null_rate)
      : builder_(builder), stream_(stream), null_rate_(null_rate) {}
  virtual ~ColumnGenerator() = default;

  arrow::Status Append(uint64_t cell) {
    if (IsNull(cell)) return builder_->AppendNull();
    return AppendValue(cell);
  }

  // Appends `count` consecutive top-level rows; the hot types override it with an unchecked
  // loop over reserved memory.
  virtual arrow::Status AppendRows(int64_t first_row, int64_t count) {
    ARROW_RETURN_NOT_OK(builder_->Reserve(count));
    for (int64_t i = 0; i < count; ++i) ARROW_RETURN_NOT_OK(Append(static_cast<uint64_t>(first_row + i)));
    return arrow::Status::OK();
  }

  // The number of rows a sequence column allows; nullopt for everything else.
  virtual std::optional<int64_t> sequence_rows() const { return std::nullopt; }

 protected:
  virtual arrow::Status AppendValue(uint64_t cell) = 0;

  bool IsNull(uint64_t cell) const {
    return null_rate_ > 0 && UnitInterval(Draw(stream_, cell, kSaltNull)) < null_rate_;
  }

  arrow::ArrayBuilder* builder_;
  uint64_t stream_;
  double null_rate_;
};

// True for JSON columns: utf8 tagged {"laminar.type": "json"} by the DDL, or arrow.json.
bool IsJsonField(const arrow::Field& field);

// The generator of top-level column `name`, appending into `builder` (made by
// arrow::MakeBuilder for `type`, not owned). Checks the column's options against its type:
// a misapplied or unparsable option is a config error naming its key, prefixed by `where`.
arrow::Result<std::unique_ptr<ColumnGenerator>> MakeColumnGenerator(
    const std::shared_ptr<arrow::DataType>& type, arrow::ArrayBuilder* builder, const std::string& name,
    const FieldOptions& options, bool json, uint64_t seed, const std::string& where);

}  // namespace laminar::datagen
