#include "laminar/serde/csv/csv_stream_decoder.h"

#include <arrow/type.h>

#include <algorithm>

#include "laminar/serde/csv/csv_columns_internal.h"

namespace laminar::serde {

arrow::Result<std::unique_ptr<CsvStreamDecoder>> CsvStreamDecoder::Make(const ConnectorConfig& config,
                                                                        std::shared_ptr<arrow::Schema> schema) {
  ARROW_ASSIGN_OR_RAISE(auto options, CsvOptions::FromConfig(config));
  if (!options.has_header) options.has_header = true;
  ARROW_ASSIGN_OR_RAISE(auto rows, CsvRowBuilder::Make(std::move(schema), options, config.Where()));
  return std::unique_ptr<CsvStreamDecoder>(new CsvStreamDecoder(std::move(options), std::move(rows)));
}

CsvStreamDecoder::CsvStreamDecoder(CsvOptions options, std::unique_ptr<CsvRowBuilder> rows)
    : options_(std::move(options)), tokenizer_(options_.dialect), rows_(std::move(rows)) {
  ResetAt(0, 1, false);
}

CsvStreamDecoder::~CsvStreamDecoder() = default;

const std::shared_ptr<arrow::Schema>& CsvStreamDecoder::schema() const { return rows_->schema(); }

void CsvStreamDecoder::ResetAt(int64_t byte_offset, int64_t line, bool header_done) {
  pending_.clear();
  next_offset_ = byte_offset;
  next_line_ = line;
  header_done_ = header_done || (!options_.has_header.value_or(true) && options_.skip_rows == 0);
}

arrow::Result<StreamDecodeResult> CsvStreamDecoder::Decode(std::string_view chunk, bool last, int64_t max_rows) {
  if (max_rows < 1) return arrow::Status::Invalid("CsvStreamDecoder::Decode: max_rows must be at least 1");
  StreamDecodeResult result;
  int64_t records = 0;
  size_t offset = 0;  // bytes of `chunk` handled so far
  size_t step = 0;
  for (;;) {
    std::string_view piece = chunk.substr(offset);
    if (!pending_.empty() && !piece.empty()) {
      // Finish the pending record with as few bytes as possible (up to the next line break,
      // growing geometrically for quoted line breaks), so that the rest of the chunk is
      // decoded in place instead of being copied behind the tail.
      const size_t newline = piece.find('\n');
      step = std::max(newline == std::string_view::npos ? piece.size() : newline + 1, step * 2);
      piece = piece.substr(0, std::min(step, piece.size()));
    }
    const bool piece_last = last && offset + piece.size() == chunk.size();
    size_t consumed = 0;
    ARROW_ASSIGN_OR_RAISE(Stop stop, Scan(piece, piece_last, max_rows, &records, &consumed, &result));
    offset += consumed;
    if (stop != Stop::kNeedMore || offset >= chunk.size()) {
      result.finished = stop == Stop::kEnd;
      break;
    }
  }
  result.bytes_consumed = static_cast<int64_t>(offset);
  result.next_offset = next_offset_;
  result.next_line = next_line_;
  result.header_done = header_done_;
  ARROW_ASSIGN_OR_RAISE(result.batch, rows_->Flush());
  return result;
}

arrow::Result<CsvStreamDecoder::Stop> CsvStreamDecoder::Scan(std::string_view chunk, bool last, int64_t max_rows,
                                                             int64_t* records, size_t* consumed,
                                                             StreamDecodeResult* result) {
  const size_t prefix = pending_.size();
  std::string_view view = chunk;
  if (prefix > 0) {
    pending_.append(chunk);
    view = pending_;
  }
  const bool single_column = rows_->schema()->num_fields() == 1;
  size_t pos = 0;
  int64_t line = next_line_;
  int64_t preamble_left = header_done_ ? 0 : (options_.has_header.value_or(true) ? 1 : 0) + options_.skip_rows;
  Stop stop = Stop::kMaxRows;
  std::string error;
  while (*records < max_rows) {
    const size_t start = pos;
    const CsvScan scan = tokenizer_.Next(view, &pos, last);
    if (scan == CsvScan::kNeedMore) {
      stop = Stop::kNeedMore;
      break;
    }
    if (scan == CsvScan::kEnd) {
      stop = Stop::kEnd;
      break;
    }
    const int64_t record_line = line;
    line += tokenizer_.line_breaks();
    if (scan == CsvScan::kComment || (scan == CsvScan::kBlank && !single_column)) continue;
    if (!header_done_) {
      if (--preamble_left == 0) header_done_ = true;
      continue;
    }
    const size_t index = static_cast<size_t>((*records)++);
    const int64_t offset = next_offset_ + static_cast<int64_t>(start);
    auto add_error = [&](const std::string& message) {
      StreamRecordError e;
      e.index = index;
      e.byte_offset = offset;
      e.line = record_line;
      e.position = "line " + std::to_string(record_line);
      e.message = e.position + ": " + message;
      std::string_view raw = view.substr(start, pos - start);
      while (!raw.empty() && (raw.back() == '\n' || raw.back() == '\r')) raw.remove_suffix(1);
      e.raw = std::string(raw);
      result->errors.push_back(std::move(e));
    };
    if (!tokenizer_.error().empty()) {
      add_error(tokenizer_.error());
      continue;
    }
    ARROW_ASSIGN_OR_RAISE(RowOutcome outcome, rows_->AddRow(tokenizer_.fields(), &error));
    switch (outcome) {
      case RowOutcome::kAppended:
        result->row_offsets.push_back(offset);
        result->row_indexes.push_back(static_cast<int64_t>(index));
        break;
      case RowOutcome::kError:
        add_error(error);
        break;
      case RowOutcome::kSkipped:
        ++result->skipped_rows;
        break;
    }
  }

  switch (stop) {
    case Stop::kNeedMore: {
      // Keep the incomplete tail. An unfinished preamble is kept whole and scanned again,
      // so a checkpoint never lands between the header and the skipped rows.
      const size_t keep_from = header_done_ ? pos : 0;
      std::string tail(view.substr(keep_from));
      pending_ = std::move(tail);
      *consumed = chunk.size();
      next_offset_ += static_cast<int64_t>(keep_from);
      if (header_done_) next_line_ = line;
      break;
    }
    case Stop::kMaxRows:
      if (pos >= prefix) {
        *consumed = pos - prefix;
        pending_.clear();
      } else {
        pending_ = pending_.substr(pos, prefix - pos);
        *consumed = 0;
      }
      next_offset_ += static_cast<int64_t>(pos);
      next_line_ = line;
      break;
    case Stop::kEnd:
      pending_.clear();
      *consumed = chunk.size();
      next_offset_ += static_cast<int64_t>(pos);
      next_line_ = line;
      break;
  }
  return stop;
}

}  // namespace laminar::serde
