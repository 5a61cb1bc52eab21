// The `raw` format: each message's bytes are one value, unparsed.
//
// Columns: one value column, BYTEA (binary) or VARCHAR (utf8, strictly validated: invalid
// UTF-8 is a record error), plus optionally the message key in the column named by
// `format.key_column` (BYTEA or VARCHAR; a null key gives null). With no declared columns
// the schema is `value BYTEA NOT NULL` (and the key column as nullable BYTEA when named).
// With more than one declared column, these names take the message's metadata instead of
// its bytes: `key` (BYTEA or VARCHAR, unless format.key_column names another column),
// `partition` (VARCHAR, INTEGER or BIGINT), `offset` (VARCHAR or BIGINT), `timestamp`
// (BIGINT epoch ms, or TIMESTAMP of any unit) and `headers` (ARRAY<ROW(key VARCHAR,
// value BYTEA)>, either part VARCHAR or BYTEA). Missing metadata gives null (a record
// error for NOT NULL), as does a partition or offset that a numeric column cannot hold.
// Tombstones (null values) are skipped and counted. Encoding writes the value column's
// bytes, one message per row; a null value becomes an empty message; the key column is
// not part of the message (sinks that have keys read it themselves).
#pragma once

#include <arrow/result.h>
#include <arrow/type_fwd.h>

#include <memory>
#include <vector>

#include "laminar/core/config.h"
#include "laminar/serde/codec.h"

namespace laminar::serde {

std::vector<ConfigKeySpec> RawKeySpecs();

arrow::Result<std::unique_ptr<RecordDecoder>> MakeRawDecoder(const ConnectorConfig& config,
                                                             std::shared_ptr<arrow::Schema> schema);
arrow::Result<std::unique_ptr<RecordEncoder>> MakeRawEncoder(const ConnectorConfig& config,
                                                             std::shared_ptr<arrow::Schema> schema);

}  // namespace laminar::serde
