// The `format.*` options of the CSV format, parsed once from a ConnectorConfig into a typed
// struct (the key table itself is CsvKeySpecs() in csv_codec.h). Immutable after FromConfig.
#pragma once

#include <arrow/result.h>

#include <cstdint>
#include <optional>
#include <string>

#include "laminar/core/config.h"
#include "laminar/serde/csv/csv_tokenizer.h"

namespace laminar::serde {

enum class FieldCountMismatch {
  kNull,    // pad missing fields with null, ignore extra fields (extra text is dropped)
  kSkip,    // drop the row, counted as skipped (not an error)
  kReject,  // the row is a record error (default: nothing is lost without a trace)
};

struct CsvOptions {
  CsvDialect dialect;
  // Unset: true for a stream of file bytes (CsvStreamDecoder), false for message-per-record
  // decoding (where true is rejected: a restart would eat a data row as a "header") and
  // encoding.
  std::optional<bool> has_header;
  std::string null_string;  // an UNQUOTED field equal to this is null; "" by default
  int64_t skip_rows = 0;    // data rows skipped after the header, once per stream
  std::string timestamp_format = "%Y-%m-%d %H:%M:%S%.f";
  std::string date_format = "%Y-%m-%d";
  FieldCountMismatch field_count_mismatch = FieldCountMismatch::kReject;

  // Reads the format.* keys of `config`. A format.* key CSV does not know, a bad value or
  // clashing characters (delimiter == quote) is a config error naming the key.
  static arrow::Result<CsvOptions> FromConfig(const ConnectorConfig& config);
};

}  // namespace laminar::serde
