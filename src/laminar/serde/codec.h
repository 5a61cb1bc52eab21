// The one decode/encode interface every format implements (JSON, CSV, raw, Debezium,
// Avro): whole batches of messages in, one Arrow RecordBatch out, with per-message
// positions so that an error names the record it is about. Decoders are used by one
// thread at a time; they may keep state across calls (CSV header, Avro schema cache).
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "laminar/core/config.h"

namespace laminar::serde {

using Header = std::pair<std::string, std::string>;

// One message as a source received it. Views into memory the caller keeps alive for
// the duration of Decode.
struct RawRecord {
  std::string_view value;
  std::optional<std::string_view> key;  // null key: nullopt; tombstone: value.data() == nullptr
  // Where it came from, for errors and dead letters: Kafka partition/offset, CDC slot/LSN,
  // file name and line or byte offset. `partition` may be empty.
  std::string_view partition;
  std::string_view offset;
  std::string_view partition_label = "partition";  // "file" for the files source
  int64_t timestamp_ms = -1;
  const std::vector<Header>* headers = nullptr;

  bool is_tombstone() const { return value.data() == nullptr; }
  // "partition 3 offset 42", "file a.jsonl offset 17", "offset 17", used in error texts.
  std::string Position() const;
};

// A record that produced no row, and why.
struct RecordError {
  size_t index = 0;       // into the span given to Decode
  std::string message;    // names the field and what was wrong, never the whole payload
};

struct DecodedBatch {
  std::shared_ptr<arrow::RecordBatch> batch;  // never null; may have 0 rows
  std::vector<RecordError> errors;            // in input order
  int64_t tombstones = 0;                     // records skipped as tombstones (not errors)
  // Records that yielded no row by the format's rules, neither errors nor tombstones: an
  // empty or comment-only CSV message, a CSV row dropped by field_count_mismatch=skip, a
  // Debezium truncate event. Every other record that is not in `errors` yielded its row(s).
  int64_t skipped = 0;
};

class RecordDecoder {
 public:
  virtual ~RecordDecoder() = default;

  // The schema of every batch Decode returns (the declared columns, plus the changelog
  // column for changelog formats).
  virtual const std::shared_ptr<arrow::Schema>& schema() const = 0;

  // Decodes `records` in order. A good record yields its row(s) in input order (Debezium
  // updates may yield two: retract, then insert). A record that cannot be decoded —
  // malformed bytes, a value that cannot become its column's type after the documented
  // coercions, a null for a NOT NULL column — yields no row at all (never half a row) and
  // is listed in `errors`. A non-OK status is only for failures that are not one
  // record's fault (out of memory, a broken schema registry).
  virtual arrow::Result<DecodedBatch> Decode(std::span<const RawRecord> records) = 0;
};

class RecordEncoder {
 public:
  virtual ~RecordEncoder() = default;
  // One message per row, appended to `out`. Fails naming the row and column it cannot encode.
  virtual arrow::Status Encode(const arrow::RecordBatch& batch, std::vector<std::string>* out) = 0;
};

// The canonical name of a format name, case-insensitively, with the aliases of spec 10
// §14.1: json; csv; raw | bytes; debezium | debezium-json; avro | confluent-avro (avro
// with the Confluent framing, its default wire); parquet. nullopt for any other name.
std::optional<std::string> CanonicalFormatName(std::string_view name);

// The formats, by their canonical names: json, csv, raw, debezium, avro.
// Format options live in the connector config as `format.<name>` (e.g. `format.delimiter`).
std::vector<ConfigKeySpec> FormatKeySpecs();

// Builds the decoder for config's `format` key (default `default_format`) with its
// `format.*` options, producing `schema` (the declared columns; nullptr where the format
// can infer them). Unknown format, options of another format, or bad values: a config
// error naming the key.
arrow::Result<std::unique_ptr<RecordDecoder>> MakeDecoder(const ConnectorConfig& config,
                                                          std::shared_ptr<arrow::Schema> schema,
                                                          const std::string& default_format = "json");
arrow::Result<std::unique_ptr<RecordEncoder>> MakeEncoder(const ConnectorConfig& config,
                                                          std::shared_ptr<arrow::Schema> schema,
                                                          const std::string& default_format = "json");

}  // namespace laminar::serde
