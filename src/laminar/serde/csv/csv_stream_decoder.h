// CSV from a byte stream (files): feed chunks as they are read; every complete record is
// decoded, the incomplete tail is kept for the next call, and each row reports the byte
// offset of its record so that a source can checkpoint "file + offset of the next record"
// and resume exactly (ResetAt). The header and skip_rows are handled once per stream.
// One thread at a time.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "laminar/core/config.h"
#include "laminar/serde/csv/csv_options.h"
#include "laminar/serde/csv/csv_tokenizer.h"

namespace laminar::serde {

class CsvRowBuilder;

struct StreamRecordError {
  size_t index = 0;         // record number within this Decode call (rows and errors counted)
  int64_t byte_offset = 0;  // of the record in the stream
  int64_t line = 0;         // 1-based line the record starts on
  std::string position;     // "line N"
  std::string message;      // "line N: column 'x': ..."
  std::string raw;          // the record's bytes without its line break (for dead letters)
};

struct StreamDecodeResult {
  std::shared_ptr<arrow::RecordBatch> batch;  // never null; may have 0 rows
  std::vector<int64_t> row_offsets;           // per row: stream byte offset of its record
  std::vector<int64_t> row_indexes;           // per row: its record number within this call
  std::vector<StreamRecordError> errors;      // in stream order
  int64_t skipped_rows = 0;                   // field_count_mismatch=skip drops
  // Bytes of `chunk` taken (decoded, or kept as the incomplete tail). Pass the rest of the
  // chunk again, followed by the next bytes.
  int64_t bytes_consumed = 0;
  // Checkpoint these three: where the first record not yet decoded starts.
  int64_t next_offset = 0;
  int64_t next_line = 1;
  bool header_done = false;
  bool finished = false;  // `last` was set and every byte has been decoded
};

class CsvStreamDecoder {
 public:
  // format.has_header defaults to true here. Config errors as for MakeCsvDecoder.
  static arrow::Result<std::unique_ptr<CsvStreamDecoder>> Make(const ConnectorConfig& config,
                                                               std::shared_ptr<arrow::Schema> schema);
  ~CsvStreamDecoder();

  // `chunk` continues the stream where the previous call's consumed bytes ended. Decodes
  // up to `max_rows` records (rows plus errors; >= 1); `last`: no bytes follow the chunk,
  // so the final record may lack a line break (and an unterminated quote is a record error
  // covering the rest of the stream). The header and skip_rows rows are consumed as one
  // unit: until all of them are complete, next_offset stays at the stream start.
  arrow::Result<StreamDecodeResult> Decode(std::string_view chunk, bool last, int64_t max_rows);

  // Restore: the next chunk starts at `byte_offset`, which is on line `line`. header_done:
  // the header and skip_rows rows are behind that offset.
  void ResetAt(int64_t byte_offset, int64_t line, bool header_done);

  const std::shared_ptr<arrow::Schema>& schema() const;

 private:
  CsvStreamDecoder(CsvOptions options, std::unique_ptr<CsvRowBuilder> rows);

  enum class Stop { kNeedMore, kMaxRows, kEnd };
  // Decodes the records of pending_ + chunk; *consumed: bytes of chunk taken.
  arrow::Result<Stop> Scan(std::string_view chunk, bool last, int64_t max_rows, int64_t* records, size_t* consumed,
                           StreamDecodeResult* result);

  CsvOptions options_;
  CsvTokenizer tokenizer_;
  std::unique_ptr<CsvRowBuilder> rows_;
  std::string pending_;  // the incomplete tail from earlier calls, starting at next_offset_
  int64_t next_offset_ = 0;
  int64_t next_line_ = 1;
  bool header_done_ = false;
};

}  // namespace laminar::serde
