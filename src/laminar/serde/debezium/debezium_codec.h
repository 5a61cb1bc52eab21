// The `debezium` format: Debezium change events (JSON) -> changelog rows.
//
// Accepts the envelope bare ({"before":..,"after":..,"op":..,"source":..}) or wrapped by
// the JSON converter with schemas enabled ({"schema":..,"payload":{...}}). A null message,
// the JSON literal null, or a null payload is a tombstone: skipped and counted. `before`
// and `after` are decoded against the declared columns by the JSON rules (json_codec.h,
// same format.* options). Output columns: the declared ones, then (with
// format.debezium.include_metadata=true) `_source_ts_ms` BIGINT (source.ts_ms) and
// `_source_table` VARCHAR (source.table), then the changelog column `_op`
// (core/changelog.h). A declared column `_ts_ms` (BIGINT, or TIMESTAMP of any unit) takes
// the envelope's own `ts_ms` (when Debezium processed the event; null when absent, a
// record error for NOT NULL) instead of a field of before/after:
//   c (create), r (snapshot read)  -> +I from `after`
//   u (update)                     -> -U from `before`, then +U from `after`;
//                                     +U alone when `before` is null or absent, or
//                                     with format.debezium.updates = 'upsert' (for
//                                     sinks that replace rows by key)
//   d (delete)                     -> -D from `before`
//   t (truncate)                   -> no row; skipped (DecodedBatch::skipped, DebeziumTruncateCount):
//                                     a changelog has no "delete every row", so a sink
//                                     that must mirror truncates needs another path
// A missing `after` for c/r/u or `before` for d, an unknown op, or a row that fails to
// decode is a record error naming the part ("in 'after': column 'id': ..."); an update
// whose second row fails yields neither row.
//
// Semantic types. With the `schema` block, the semantic type name of each field of
// `before`/`after` says how its value is encoded, and it is converted into the declared
// column's unit exactly (to a coarser unit: floored, as timestamp text is):
//   io.debezium.time.Timestamp / MicroTimestamp / NanoTimestamp, Connect's Timestamp:
//       epoch ms / us / ns / ms -> TIMESTAMP of any unit
//   io.debezium.time.ZonedTimestamp: ISO-8601 text with offset -> TIMESTAMP (whatever
//       format.timestamp_formats says)
//   io.debezium.time.Date, Connect's Date: epoch days -> DATE, or TIMESTAMP at midnight UTC
//   io.debezium.time.Time / MicroTime / NanoTime, Connect's Time: ms / us / ns since
//       midnight -> TIME
//   org.apache.kafka.connect.data.Decimal: base64 big-endian two's-complement unscaled
//       bytes at parameters.scale -> DECIMAL (rescaled exactly: digits it would lose, or
//       more than its precision, are a type mismatch), DOUBLE/REAL, or VARCHAR text
// A BIGINT/VARCHAR column takes the value as sent; a temporal column of another kind
// (a MicroTimestamp into DATE) is a type mismatch naming the semantic type. Without the
// schema block the rules are the JSON ones: integers in timestamp columns are epoch
// milliseconds, in TIME columns the column's unit, in DATE columns days.
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

// Truncate events a Debezium decoder skipped since it was made (0 for other decoders).
int64_t DebeziumTruncateCount(const RecordDecoder& decoder);

}  // namespace laminar::serde
