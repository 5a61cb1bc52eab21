// Schema inference from sample records: one engine for JSON and CSV samples (and the fixed
// raw schema), with the older "samples + hints" API of the SDK as a thin wrapper over it.
// Pure functions; any thread.
#pragma once

#include <arrow/result.h>
#include <arrow/type_fwd.h>

#include <cstddef>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "laminar/serde/csv/csv_tokenizer.h"

namespace laminar::schema {

enum class InferenceFormat { kJson, kCsv, kRaw };

// "json", "debezium" (its payload is JSON), "csv", "raw"/"bytes", any case. Anything else is
// an error naming the format.
arrow::Result<InferenceFormat> ParseInferenceFormat(std::string_view name);

enum class NumberInference {
  kPreferLarger,    // integers -> int64, any fraction -> float64 (default)
  kPreferSmallest,  // integers -> the narrowest of int8/16/32/64 holding every sample
  kAlwaysFloat64,   // every number -> float64
};

enum class ArrayInference {
  kUtf8,  // arrays become utf8 holding JSON text, marked laminar.type=json (default)
  kList,  // list<element type inferred from all elements>
};

struct InferenceOptions {
  NumberInference number_inference = NumberInference::kPreferLarger;
  ArrayInference array_inference = ArrayInference::kUtf8;
  size_t max_samples = 1000;    // JSON: samples used; CSV: data rows used
  double min_confidence = 0.8;  // below it (and without a hint) a column falls back to utf8
  std::map<std::string, std::shared_ptr<arrow::DataType>> type_hints;  // by column name
  bool empty_as_null = false;  // "" (JSON string, quoted CSV field) counts as null
  // Opt-in: strings that are all ISO-8601 dates become date32, all dates/timestamps become
  // timestamp (us, or ns when a sample has more than 6 fraction digits; "UTC" when a sample
  // carries an offset).
  bool detect_temporal = false;

  // CSV samples: each sample is CSV text holding one or more whole rows.
  serde::CsvDialect csv_dialect;
  bool csv_has_header = true;                // the first row of the first sample names the columns
  std::string csv_null_string;               // an unquoted field equal to it is null (as the decoder)
  size_t csv_skip_rows = 0;                  // rows after the header that are not data (format.skip_rows)
  std::vector<std::string> csv_field_names;  // names when there is no header (else column_1, ...)
};

struct FieldInference {
  std::string name;
  double confidence = 1.0;  // share of non-null samples whose own type is the chosen one; 0.5 when all null
  int64_t non_null = 0;
  int64_t nulls = 0;  // null values plus samples lacking the field
  bool hint_applied = false;
};

struct InferenceResult {
  std::shared_ptr<arrow::Schema> schema;
  std::vector<FieldInference> fields;  // parallel to schema
  size_t sample_count = 0;             // samples (JSON) or data rows (CSV) used
  double confidence = 1.0;             // mean of the field confidences
  std::vector<std::string> warnings;
};

// Rules (JSON): each sample must be an object; fields in order of first appearance; per
// field, nulls are ignored; only booleans -> bool; only numbers -> per number_inference
// (a fraction or exponent anywhere -> float64; integers above int64 -> uint64 when none is
// negative); only strings -> utf8 (or date/timestamp with detect_temporal); arrays ->
// array_inference; objects -> utf8 JSON text; any mix of kinds -> utf8. A field is
// nullable when a sample had null or lacked it; all-null -> nullable utf8. CSV: the same
// value kinds read from text (true/false any case; integers; decimal numbers). Zero samples,
// an unparsable sample (named by index) or no fields at all is an error.
arrow::Result<InferenceResult> InferSchemaDetailed(InferenceFormat format, std::span<const std::string_view> samples,
                                                   const InferenceOptions& options);

arrow::Result<std::shared_ptr<arrow::Schema>> InferSchema(InferenceFormat format,
                                                          std::span<const std::string_view> samples,
                                                          const InferenceOptions& options);

// The SDK's sample-based discovery (§12.6), as a wrapper over the engine above.
struct SchemaHints {
  std::vector<std::string> field_names;  // result order and subset; for CSV: the column names (no header)
  std::map<std::string, std::shared_ptr<arrow::DataType>> type_hints;
  std::set<std::string> nullable_fields;  // forced nullable
  bool empty_as_null = false;
  bool prefer_larger_types = true;    // accepted, ignored (numbers are always int64/float64)
  size_t large_string_threshold = 0;  // accepted, ignored
};

// format: json, debezium, csv (first sample = header unless hints.field_names). raw and avro
// are errors. No samples: a config error.
arrow::Result<std::shared_ptr<arrow::Schema>> InferSchemaFromSamples(std::span<const std::string_view> samples,
                                                                     std::string_view format, const SchemaHints& hints);

}  // namespace laminar::schema
