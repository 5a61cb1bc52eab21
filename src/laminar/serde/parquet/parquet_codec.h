// Parquet as a message format (spec 10 §19): each record is one whole Parquet file, as a
// lookup table refresh or an object-store notification delivers it. The decoder projects
// columns, picks row groups, and skips row groups whose statistics rule out
// `format.predicate`; the encoder writes one self-contained file per batch.
#pragma once

#include <arrow/result.h>

#include <memory>
#include <string>
#include <vector>

#include "laminar/core/config.h"
#include "laminar/serde/codec.h"

namespace laminar::serde {

std::vector<ConfigKeySpec> ParquetKeySpecs();
// schema: the declared columns (projected by name, types must match); null: the file's.
arrow::Result<std::unique_ptr<RecordDecoder>> MakeParquetDecoder(const ConnectorConfig& config,
                                                                 std::shared_ptr<arrow::Schema> schema);
arrow::Result<std::unique_ptr<RecordEncoder>> MakeParquetEncoder(const ConnectorConfig& config,
                                                                 std::shared_ptr<arrow::Schema> schema);

// A row-group filter over column statistics:
//   predicate := term { (AND | OR) term }     (AND binds tighter than OR)
//   term      := column (= | > | < | >= | <=) 'literal' | column BETWEEN 'lo' AND 'hi' | '(' predicate ')'
// The literal is parsed as the column's type (dates 'YYYY-MM-DD', times 'HH:MM:SS[.f]',
// timestamps ISO 8601, UTC unless the literal has an offset) and compared exactly: dates,
// times and timestamps by their integer value in the column's unit. A row group is
// skipped only when its min/max prove no row can match; without statistics, or when the
// values cannot be ordered, it is always read.
class RowGroupPredicate {
 public:
  static arrow::Result<std::shared_ptr<RowGroupPredicate>> Parse(const std::string& text);
  virtual ~RowGroupPredicate() = default;
  // min/max of the named column in a row group, or null scalars when unknown.
  using StatsLookup = std::function<std::pair<std::shared_ptr<arrow::Scalar>, std::shared_ptr<arrow::Scalar>>(
      const std::string& column)>;
  // False only when the statistics prove that no row of the group can match.
  virtual bool MayMatch(const StatsLookup& stats) const = 0;
};

}  // namespace laminar::serde
