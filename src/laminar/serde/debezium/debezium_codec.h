// The `debezium` format: Debezium change events (JSON) -> changelog rows.
//
// Accepts the envelope bare ({"before":..,"after":..,"op":..,"source":..}) or wrapped by
// the JSON converter with schemas enabled ({"schema":..,"payload":{...}}). A null message,
// the JSON literal null, or a null payload is a tombstone: skipped and counted. `before`
// and `after` are decoded against the declared columns by the JSON rules (json_codec.h,
// same format.* options). Output columns: the declared ones, then (with
// format.debezium.include_metadata=true) `_source_ts_ms` BIGINT (source.ts_ms) and
// `_source_table` VARCHAR (source.table), then the changelog column `_op`
// (core/changelog.h):
//   c (create), r (snapshot read)  -> +I from `after`
//   u (update)                     -> -U from `before`, then +U from `after`;
//                                     +U alone when `before` is null or absent
//   d (delete)                     -> -D from `before`
//   t (truncate)                   -> record error "truncate events are not supported"
// A missing `after` for c/r/u or `before` for d, an unknown op, or a row that fails to
// decode is a record error naming the part ("in 'after': column 'id': ..."); an update
// whose second row fails yields neither row. Integers in timestamp columns are epoch
// milliseconds (io.debezium.time.Timestamp); MicroTimestamp/NanoTimestamp columns should be
// declared BIGINT.
#pragma once

#include <arrow/result.h>
#include <arrow/type_fwd.h>

#include <memory>
#include <vector>

#include "laminar/core/config.h"
#include "laminar/serde/codec.h"

namespace laminar::serde {

std::vector<ConfigKeySpec> DebeziumKeySpecs();

// `schema`: the declared columns (a trailing `_op` column, if given, is taken as the
// changelog column and not decoded).
arrow::Result<std::unique_ptr<RecordDecoder>> MakeDebeziumDecoder(const ConnectorConfig& config,
                                                                  std::shared_ptr<arrow::Schema> schema);

}  // namespace laminar::serde
