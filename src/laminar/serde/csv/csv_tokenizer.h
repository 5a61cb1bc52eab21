// RFC 4180 tokenizer: splits CSV bytes into records and fields (quotes, doubled quotes, an
// optional escape character, embedded delimiters and line breaks, CRLF / LF / CR, comment
// lines). It never copies unless a field needs unescaping. One instance per thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace laminar::serde {

struct CsvDialect {
  char delimiter = ',';
  std::optional<char> quote = '"';  // nullopt: no quoting at all
  std::optional<char> escape;       // inside or outside quotes: the next byte is literal
  std::optional<char> comment;      // a line starting with it (at a record start) is skipped
};

struct CsvField {
  std::string_view text;  // unescaped, without the surrounding quotes
  bool quoted = false;    // was written in quotes: "" is an empty string, never null
};

enum class CsvScan {
  kRecord,    // fields() holds one record
  kBlank,     // an empty line; fields() holds one empty unquoted field
  kComment,   // a comment line was consumed
  kNeedMore,  // the record may continue past the end of the data (only when !last)
  kEnd,       // no bytes left (only when last)
};

class CsvTokenizer {
 public:
  explicit CsvTokenizer(CsvDialect dialect);

  // Scans the record starting at data[*pos]. `last`: no bytes follow `data`, so a record
  // may end without a line break. On kRecord/kBlank/kComment *pos moves past the record and
  // its line break; on kNeedMore it is left unchanged. Field views point into `data` or into
  // this tokenizer's scratch space and stay valid until the next call.
  CsvScan Next(std::string_view data, size_t* pos, bool last);

  const std::vector<CsvField>& fields() const { return fields_; }
  // Non-empty when the record is malformed (unterminated quote, text after a closing
  // quote); the record's extent is still known, so scanning can go on after it.
  const std::string& error() const { return error_; }
  // Line breaks consumed by the last call (inside quoted fields and the terminator).
  int64_t line_breaks() const { return line_breaks_; }
  const CsvDialect& dialect() const { return dialect_; }

 private:
  enum Class : uint8_t { kPlain = 0, kDelimiter, kNewline, kEscape };

  CsvDialect dialect_;
  Class classes_[256];
  std::vector<CsvField> fields_;
  std::string scratch_;
  std::string error_;
  int64_t line_breaks_ = 0;
};

}  // namespace laminar::serde
