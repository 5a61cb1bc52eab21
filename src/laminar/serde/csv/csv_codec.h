// CSV format: option table, message-per-record decoder, encoder. Each RawRecord holds one
// CSV row (quoted line breaks allowed); for files, where records span read chunks, use
// CsvStreamDecoder (csv_stream_decoder.h). See README.md in this folder for the semantics.
#pragma once

#include <arrow/result.h>
#include <arrow/type_fwd.h>

#include <memory>
#include <vector>

#include "laminar/core/config.h"
#include "laminar/serde/codec.h"

namespace laminar::serde {

// The format.* keys: delimiter, quote, escape, has_header, null_string, comment,
// skip_rows, timestamp_format, date_format, field_count_mismatch (default reject).
std::vector<ConfigKeySpec> CsvKeySpecs();

// Decodes one CSV row per RawRecord into `schema` (required: CSV carries no types).
// format.has_header=true and format.skip_rows > 0 are config errors naming the key: the
// decoder would have to remember across restarts that the header is behind it, and only
// the files source's CsvStreamDecoder checkpoints that. A record holding more than one
// row is a record error. Nested columns, or a column of a type CSV cannot hold, are a
// config error naming the column.
arrow::Result<std::unique_ptr<RecordDecoder>> MakeCsvDecoder(const ConnectorConfig& config,
                                                             std::shared_ptr<arrow::Schema> schema);

// One message per row, RFC 4180, no line terminator. With format.has_header=true the first
// message of the encoder's life is the header row.
arrow::Result<std::unique_ptr<RecordEncoder>> MakeCsvEncoder(const ConnectorConfig& config,
                                                             std::shared_ptr<arrow::Schema> schema);

}  // namespace laminar::serde
