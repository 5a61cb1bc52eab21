#include "laminar/serde/csv/csv_tokenizer.h"

namespace laminar::serde {

CsvTokenizer::CsvTokenizer(CsvDialect dialect) : dialect_(dialect) {
  for (auto& c : classes_) c = kPlain;
  classes_[static_cast<uint8_t>('\n')] = kNewline;
  classes_[static_cast<uint8_t>('\r')] = kNewline;
  classes_[static_cast<uint8_t>(dialect_.delimiter)] = kDelimiter;
  if (dialect_.escape) classes_[static_cast<uint8_t>(*dialect_.escape)] = kEscape;
}

CsvScan CsvTokenizer::Next(std::string_view data, size_t* pos_inout, bool last) {
  const size_t n = data.size();
  const char* d = data.data();
  size_t p = *pos_inout;
  fields_.clear();
  error_.clear();
  line_breaks_ = 0;
  if (p >= n) return last ? CsvScan::kEnd : CsvScan::kNeedMore;

  // Consumes the line break at p (d[p] is \r or \n). False: need the next byte to decide.
  auto consume_break = [&](size_t* q) -> bool {
    if (d[*q] == '\r') {
      if (*q + 1 >= n) {
        if (!last) return false;
        ++*q;
      } else {
        *q += d[*q + 1] == '\n' ? 2 : 1;
      }
    } else {
      ++*q;
    }
    ++line_breaks_;
    return true;
  };

  const char first = d[p];
  if (dialect_.comment && first == *dialect_.comment) {
    size_t q = p;
    while (q < n && d[q] != '\n' && d[q] != '\r') ++q;
    if (q >= n) {
      if (!last) return CsvScan::kNeedMore;
    } else if (!consume_break(&q)) {
      line_breaks_ = 0;
      return CsvScan::kNeedMore;
    }
    *pos_inout = q;
    return CsvScan::kComment;
  }
  if (first == '\n' || first == '\r') {
    size_t q = p;
    if (!consume_break(&q)) return CsvScan::kNeedMore;
    fields_.push_back(CsvField{std::string_view(d + p, 0), false});
    *pos_inout = q;
    return CsvScan::kBlank;
  }

  scratch_.clear();
  bool scratch_ready = false;
  auto ensure_scratch = [&]() {
    // Unescaped text is never longer than the raw bytes, so after this reserve the scratch
    // buffer does not move and earlier field views into it stay valid.
    if (!scratch_ready) {
      scratch_.reserve(n - *pos_inout);
      scratch_ready = true;
    }
  };
  auto need_more = [&]() {
    fields_.clear();
    error_.clear();
    line_breaks_ = 0;
    return CsvScan::kNeedMore;
  };
  auto set_error = [&](std::string message) {
    if (error_.empty()) error_ = std::move(message);
  };

  const bool quoting = dialect_.quote.has_value();
  const char quote = quoting ? *dialect_.quote : 0;
  for (;;) {
    // At the start of a field.
    if (quoting && p < n && d[p] == quote) {
      ++p;
      size_t seg = p;
      bool copied = false;
      size_t copy_start = 0;
      bool closed = false;
      while (p < n) {
        const char c = d[p];
        if (c == quote) {
          if (p + 1 >= n && !last) return need_more();
          if (p + 1 < n && d[p + 1] == quote) {
            ensure_scratch();
            if (!copied) copy_start = scratch_.size(), copied = true;
            scratch_.append(d + seg, p + 1 - seg);
            p += 2;
            seg = p;
            continue;
          }
          closed = true;
          break;
        }
        if (dialect_.escape && c == *dialect_.escape) {
          if (p + 1 >= n) {
            if (!last) return need_more();
            set_error("escape character at the end of the input");
            ++p;
            break;
          }
          ensure_scratch();
          if (!copied) copy_start = scratch_.size(), copied = true;
          scratch_.append(d + seg, p - seg);
          scratch_.push_back(d[p + 1]);
          if (d[p + 1] == '\n' || (d[p + 1] == '\r' && (p + 2 >= n || d[p + 2] != '\n'))) ++line_breaks_;
          p += 2;
          seg = p;
          continue;
        }
        if (c == '\n' || (c == '\r' && (p + 1 >= n || d[p + 1] != '\n'))) {
          if (c == '\r' && p + 1 >= n && !last) return need_more();
          ++line_breaks_;
        }
        ++p;
      }
      if (!closed && p >= n) {
        if (!last) return need_more();
        set_error("unterminated quoted field");
      }
      std::string_view text;
      if (copied) {
        scratch_.append(d + seg, p - seg);
        text = std::string_view(scratch_.data() + copy_start, scratch_.size() - copy_start);
      } else {
        text = std::string_view(d + seg, p - seg);
      }
      fields_.push_back(CsvField{text, true});
      if (closed) ++p;  // the closing quote
      if (p < n && classes_[static_cast<uint8_t>(d[p])] != kDelimiter &&
          classes_[static_cast<uint8_t>(d[p])] != kNewline) {
        set_error("unexpected text after the closing quote of field " + std::to_string(fields_.size()));
        while (p < n && classes_[static_cast<uint8_t>(d[p])] != kDelimiter &&
               classes_[static_cast<uint8_t>(d[p])] != kNewline) {
          ++p;
        }
      }
    } else {
      const size_t start = p;
      bool copied = false;
      size_t copy_start = 0;
      size_t seg = p;
      while (p < n) {
        const Class cls = classes_[static_cast<uint8_t>(d[p])];
        if (cls == kPlain) {
          ++p;
          continue;
        }
        if (cls != kEscape) break;
        if (p + 1 >= n) {
          if (!last) return need_more();
          set_error("escape character at the end of the input");
          break;
        }
        ensure_scratch();
        if (!copied) copy_start = scratch_.size(), copied = true;
        scratch_.append(d + seg, p - seg);
        scratch_.push_back(d[p + 1]);
        if (d[p + 1] == '\n' || (d[p + 1] == '\r' && (p + 2 >= n || d[p + 2] != '\n'))) ++line_breaks_;
        p += 2;
        seg = p;
      }
      if (p >= n && !last) return need_more();
      if (copied) {
        scratch_.append(d + seg, p - seg);
        fields_.push_back(
            CsvField{std::string_view(scratch_.data() + copy_start, scratch_.size() - copy_start), false});
      } else {
        fields_.push_back(CsvField{std::string_view(d + start, p - start), false});
      }
    }
    // After a field: delimiter, line break or end of data.
    if (p >= n) {
      if (!last) return need_more();
      *pos_inout = p;
      return CsvScan::kRecord;
    }
    if (d[p] == dialect_.delimiter) {
      ++p;
      if (p >= n) {
        if (!last) return need_more();
        fields_.push_back(CsvField{std::string_view(d + p, 0), false});
        *pos_inout = p;
        return CsvScan::kRecord;
      }
      continue;
    }
    // A line break ends the record.
    if (!consume_break(&p)) return need_more();
    *pos_inout = p;
    return CsvScan::kRecord;
  }
}

}  // namespace laminar::serde
