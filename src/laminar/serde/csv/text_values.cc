#include "laminar/serde/csv/text_values.h"

#include <arrow/type.h>

#include <charconv>
#include <cmath>
#include <limits>

namespace laminar::serde {

namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != b[i]) return false;
  }
  return true;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads between min and max digits at *pos; returns false when fewer than min are there.
bool ReadDigits(std::string_view text, size_t* pos, int min, int max, int64_t* value, int* count = nullptr) {
  int n = 0;
  int64_t v = 0;
  while (n < max && *pos < text.size() && IsDigit(text[*pos])) {
    v = v * 10 + (text[*pos] - '0');
    ++*pos;
    ++n;
  }
  if (n < min) return false;
  *value = v;
  if (count) *count = n;
  return true;
}

// Reads 1-9 fraction digits into nanoseconds.
bool ReadFraction(std::string_view text, size_t* pos, int32_t* nanos, int* digits) {
  int64_t v = 0;
  int n = 0;
  if (!ReadDigits(text, pos, 1, 9, &v, &n)) return false;
  if (*pos < text.size() && IsDigit(text[*pos])) return false;  // more than 9 digits
  for (int i = n; i < 9; ++i) v *= 10;
  *nanos = static_cast<int32_t>(v);
  *digits = n;
  return true;
}

// Z, +hh, +hhmm, +hh:mm (require_colon: only +hh:mm). Returns the offset in seconds.
bool ReadOffset(std::string_view text, size_t* pos, bool require_colon, int64_t* offset_seconds) {
  if (*pos >= text.size()) return false;
  const char c = text[*pos];
  if (c == 'Z' || c == 'z') {
    ++*pos;
    *offset_seconds = 0;
    return true;
  }
  if (c != '+' && c != '-') return false;
  ++*pos;
  int64_t hh = 0, mm = 0;
  if (!ReadDigits(text, pos, 2, 2, &hh)) return false;
  if (*pos < text.size() && text[*pos] == ':') {
    ++*pos;
    if (!ReadDigits(text, pos, 2, 2, &mm)) return false;
  } else if (require_colon) {
    return false;
  } else if (*pos < text.size() && IsDigit(text[*pos])) {
    if (!ReadDigits(text, pos, 2, 2, &mm)) return false;
  }
  if (hh > 23 || mm > 59) return false;
  *offset_seconds = (hh * 3600 + mm * 60) * (c == '-' ? -1 : 1);
  return true;
}

struct Fields {
  int64_t year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  int32_t nanos = 0;
  int digits = 0;
  int64_t offset = 0;
  bool has_offset = false;
  bool has_time = false;
  std::optional<int64_t> epoch_seconds;
};

std::optional<EpochTime> Assemble(const Fields& f) {
  EpochTime t;
  t.nanos = f.nanos;
  t.fraction_digits = f.digits;
  t.has_time = f.has_time;
  t.has_offset = f.has_offset;
  if (f.epoch_seconds) {
    t.seconds = *f.epoch_seconds;
    return t;
  }
  if (f.month < 1 || f.month > 12 || f.day < 1 ||
      !IsValidDate(f.year, static_cast<unsigned>(f.month), static_cast<unsigned>(f.day))) {
    return std::nullopt;
  }
  if (f.hour > 23 || f.minute > 59 || f.second > 59) return std::nullopt;
  const int64_t days = DaysFromCivil(f.year, static_cast<unsigned>(f.month), static_cast<unsigned>(f.day));
  t.seconds = days * 86400 + f.hour * 3600 + f.minute * 60 + f.second - f.offset;
  return t;
}

}  // namespace

std::string_view TrimBlanks(std::string_view text) {
  size_t b = 0, e = text.size();
  while (b < e && (text[b] == ' ' || text[b] == '\t')) ++b;
  while (e > b && (text[e - 1] == ' ' || text[e - 1] == '\t')) --e;
  return text.substr(b, e - b);
}

std::optional<bool> ParseBoolText(std::string_view text) {
  static constexpr std::string_view kTrue[] = {"true", "1", "yes", "t", "y"};
  static constexpr std::string_view kFalse[] = {"false", "0", "no", "f", "n"};
  for (auto s : kTrue) {
    if (EqualsNoCase(text, s)) return true;
  }
  for (auto s : kFalse) {
    if (EqualsNoCase(text, s)) return false;
  }
  return std::nullopt;
}

std::optional<int64_t> ParseInt64Text(std::string_view text) {
  const char* b = text.data();
  const char* e = b + text.size();
  if (b != e && *b == '+') {
    ++b;
    if (b != e && *b == '-') return std::nullopt;
  }
  if (b == e) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(b, e, v);
  if (ec != std::errc() || p != e) return std::nullopt;
  return v;
}

std::optional<uint64_t> ParseUInt64Text(std::string_view text) {
  const char* b = text.data();
  const char* e = b + text.size();
  if (b != e && *b == '+') ++b;
  if (b == e || *b == '-') return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(b, e, v);
  if (ec != std::errc() || p != e) return std::nullopt;
  return v;
}

namespace {
template <typename T>
std::optional<T> ParseFloating(std::string_view text) {
  const char* b = text.data();
  const char* e = b + text.size();
  if (b != e && *b == '+') {
    ++b;
    if (b != e && *b == '-') return std::nullopt;
  }
  if (b == e) return std::nullopt;
  T v = 0;
  auto [p, ec] = std::from_chars(b, e, v, std::chars_format::general);
  if (ec != std::errc() || p != e) return std::nullopt;
  return v;
}
}  // namespace

std::optional<double> ParseDoubleText(std::string_view text) { return ParseFloating<double>(text); }
std::optional<float> ParseFloatText(std::string_view text) { return ParseFloating<float>(text); }

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  // Shift the year to start in March so that the leap day is the last day of the year.
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t mp = m > 2 ? m - 3 : m + 9;
  const int64_t doy = (153 * mp + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t* year, unsigned* month, unsigned* day) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  *year = yoe + era * 400 + (m <= 2 ? 1 : 0);
  *month = static_cast<unsigned>(m);
  *day = static_cast<unsigned>(d);
}

bool IsValidDate(int64_t year, unsigned month, unsigned day) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1) return false;
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  const unsigned max = month == 2 && leap ? 29 : kDays[month - 1];
  return day <= max;
}

std::optional<EpochTime> ParseIsoTimestamp(std::string_view text) {
  Fields f;
  size_t pos = 0;
  if (!ReadDigits(text, &pos, 4, 4, &f.year)) return std::nullopt;
  if (pos >= text.size() || text[pos++] != '-') return std::nullopt;
  if (!ReadDigits(text, &pos, 2, 2, &f.month)) return std::nullopt;
  if (pos >= text.size() || text[pos++] != '-') return std::nullopt;
  if (!ReadDigits(text, &pos, 2, 2, &f.day)) return std::nullopt;
  if (pos < text.size()) {
    if (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ') return std::nullopt;
    ++pos;
    f.has_time = true;
    if (!ReadDigits(text, &pos, 2, 2, &f.hour)) return std::nullopt;
    if (pos >= text.size() || text[pos++] != ':') return std::nullopt;
    if (!ReadDigits(text, &pos, 2, 2, &f.minute)) return std::nullopt;
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      if (!ReadDigits(text, &pos, 2, 2, &f.second)) return std::nullopt;
      if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
        ++pos;
        if (!ReadFraction(text, &pos, &f.nanos, &f.digits)) return std::nullopt;
      }
    }
    if (pos < text.size()) {
      if (!ReadOffset(text, &pos, false, &f.offset)) return std::nullopt;
      f.has_offset = true;
    }
    if (pos != text.size()) return std::nullopt;
  }
  return Assemble(f);
}

std::optional<int32_t> ParseIsoDate(std::string_view text) {
  if (text.size() != 10) return std::nullopt;
  auto t = ParseIsoTimestamp(text);
  if (!t) return std::nullopt;
  return static_cast<int32_t>(t->seconds / 86400);
}

std::optional<int64_t> ParseTimeOfDayNanos(std::string_view text) {
  size_t pos = 0;
  int64_t h = 0, m = 0, s = 0;
  int32_t nanos = 0;
  int digits = 0;
  if (!ReadDigits(text, &pos, 2, 2, &h)) return std::nullopt;
  if (pos >= text.size() || text[pos++] != ':') return std::nullopt;
  if (!ReadDigits(text, &pos, 2, 2, &m)) return std::nullopt;
  if (pos < text.size() && text[pos] == ':') {
    ++pos;
    if (!ReadDigits(text, &pos, 2, 2, &s)) return std::nullopt;
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      if (!ReadFraction(text, &pos, &nanos, &digits)) return std::nullopt;
    }
  }
  if (pos != text.size() || h > 23 || m > 59 || s > 59) return std::nullopt;
  return ((h * 60 + m) * 60 + s) * 1000000000LL + nanos;
}

arrow::Result<DateTimePattern> DateTimePattern::Compile(std::string_view pattern) {
  DateTimePattern out;
  out.text_ = std::string(pattern);
  auto add = [&](Op op) { out.steps_.push_back(Step{op, 0}); };
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c != '%') {
      out.steps_.push_back(Step{Op::kLiteral, c});
      continue;
    }
    if (++i >= pattern.size()) return arrow::Status::Invalid("pattern '", pattern, "' ends with a lone %");
    switch (pattern[i]) {
      case 'Y':
        add(Op::kYear);
        break;
      case 'm':
        add(Op::kMonth);
        break;
      case 'd':
        add(Op::kDay);
        break;
      case 'H':
        add(Op::kHour);
        break;
      case 'M':
        add(Op::kMinute);
        break;
      case 'S':
        add(Op::kSecond);
        break;
      case 'f':
        add(Op::kFraction);
        break;
      case 'z':
        add(Op::kOffset);
        break;
      case 's':
        add(Op::kEpochSeconds);
        break;
      case '%':
        out.steps_.push_back(Step{Op::kLiteral, '%'});
        break;
      case 'T':
        add(Op::kHour), out.steps_.push_back(Step{Op::kLiteral, ':'}), add(Op::kMinute);
        out.steps_.push_back(Step{Op::kLiteral, ':'}), add(Op::kSecond);
        break;
      case 'F':
        add(Op::kYear), out.steps_.push_back(Step{Op::kLiteral, '-'}), add(Op::kMonth);
        out.steps_.push_back(Step{Op::kLiteral, '-'}), add(Op::kDay);
        break;
      case '.':
        if (i + 1 < pattern.size() && pattern[i + 1] == 'f') {
          ++i;
          add(Op::kOptFraction);
          break;
        }
        return arrow::Status::Invalid("pattern '", pattern, "' has unknown directive %.");
      case ':':
        if (i + 1 < pattern.size() && pattern[i + 1] == 'z') {
          ++i;
          add(Op::kOffsetColon);
          break;
        }
        return arrow::Status::Invalid("pattern '", pattern, "' has unknown directive %:");
      default:
        return arrow::Status::Invalid("pattern '", pattern, "' has unsupported directive %", pattern[i],
                                      " (supported: %Y %m %d %H %M %S %f %.f %z %:z %T %F %s %%)");
    }
  }
  return out;
}

std::optional<EpochTime> DateTimePattern::Parse(std::string_view text) const {
  Fields f;
  size_t pos = 0;
  for (const Step& step : steps_) {
    switch (step.op) {
      case Op::kLiteral:
        if (pos >= text.size() || text[pos] != step.literal) return std::nullopt;
        ++pos;
        break;
      case Op::kYear: {
        bool negative = false;
        if (pos < text.size() && (text[pos] == '-' || text[pos] == '+')) negative = text[pos++] == '-';
        if (!ReadDigits(text, &pos, 4, 4, &f.year)) return std::nullopt;
        if (negative) f.year = -f.year;
        break;
      }
      case Op::kMonth:
        if (!ReadDigits(text, &pos, 1, 2, &f.month)) return std::nullopt;
        break;
      case Op::kDay:
        if (!ReadDigits(text, &pos, 1, 2, &f.day)) return std::nullopt;
        break;
      case Op::kHour:
        f.has_time = true;
        if (!ReadDigits(text, &pos, 1, 2, &f.hour)) return std::nullopt;
        break;
      case Op::kMinute:
        f.has_time = true;
        if (!ReadDigits(text, &pos, 1, 2, &f.minute)) return std::nullopt;
        break;
      case Op::kSecond:
        f.has_time = true;
        if (!ReadDigits(text, &pos, 1, 2, &f.second)) return std::nullopt;
        break;
      case Op::kFraction:
        if (!ReadFraction(text, &pos, &f.nanos, &f.digits)) return std::nullopt;
        break;
      case Op::kOptFraction:
        if (pos < text.size() && text[pos] == '.') {
          ++pos;
          if (!ReadFraction(text, &pos, &f.nanos, &f.digits)) return std::nullopt;
        }
        break;
      case Op::kOffset:
      case Op::kOffsetColon:
        if (!ReadOffset(text, &pos, step.op == Op::kOffsetColon, &f.offset)) return std::nullopt;
        f.has_offset = true;
        break;
      case Op::kEpochSeconds: {
        size_t start = pos;
        if (pos < text.size() && text[pos] == '-') ++pos;
        while (pos < text.size() && IsDigit(text[pos])) ++pos;
        auto v = ParseInt64Text(text.substr(start, pos - start));
        if (!v) return std::nullopt;
        f.epoch_seconds = *v;
        f.has_time = true;
        break;
      }
    }
  }
  if (pos != text.size()) return std::nullopt;
  auto t = Assemble(f);
  if (t && f.epoch_seconds) t->seconds -= f.offset;
  return t;
}

std::optional<int64_t> ToUnit(const EpochTime& time, arrow::TimeUnit::type unit) {
  int64_t per_second = 1;
  int64_t nanos_per_tick = 1000000000;
  switch (unit) {
    case arrow::TimeUnit::SECOND:
      per_second = 1, nanos_per_tick = 1000000000;
      break;
    case arrow::TimeUnit::MILLI:
      per_second = 1000, nanos_per_tick = 1000000;
      break;
    case arrow::TimeUnit::MICRO:
      per_second = 1000000, nanos_per_tick = 1000;
      break;
    case arrow::TimeUnit::NANO:
      per_second = 1000000000, nanos_per_tick = 1;
      break;
  }
  if (time.nanos % nanos_per_tick != 0) return std::nullopt;
  int64_t out = 0;
  if (__builtin_mul_overflow(time.seconds, per_second, &out)) return std::nullopt;
  if (__builtin_add_overflow(out, time.nanos / nanos_per_tick, &out)) return std::nullopt;
  return out;
}

namespace {
void AppendPadded(int64_t value, int width, std::string* out) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), value < 0 ? -value : value);
  (void)ec;
  const int n = static_cast<int>(p - buf);
  if (value < 0) out->push_back('-');
  for (int i = n; i < width; ++i) out->push_back('0');
  out->append(buf, p);
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0); }

void UnitScale(arrow::TimeUnit::type unit, int64_t* per_second, int* digits) {
  switch (unit) {
    case arrow::TimeUnit::SECOND:
      *per_second = 1, *digits = 0;
      return;
    case arrow::TimeUnit::MILLI:
      *per_second = 1000, *digits = 3;
      return;
    case arrow::TimeUnit::MICRO:
      *per_second = 1000000, *digits = 6;
      return;
    case arrow::TimeUnit::NANO:
      *per_second = 1000000000, *digits = 9;
      return;
  }
}

void AppendClock(int64_t seconds_of_day, int64_t fraction, int digits, std::string* out) {
  AppendPadded(seconds_of_day / 3600, 2, out);
  out->push_back(':');
  AppendPadded(seconds_of_day / 60 % 60, 2, out);
  out->push_back(':');
  AppendPadded(seconds_of_day % 60, 2, out);
  if (digits > 0) {
    out->push_back('.');
    AppendPadded(fraction, digits, out);
  }
}
}  // namespace

void AppendDate(int64_t days, std::string* out) {
  int64_t y = 0;
  unsigned m = 0, d = 0;
  CivilFromDays(days, &y, &m, &d);
  AppendPadded(y, 4, out);
  out->push_back('-');
  AppendPadded(m, 2, out);
  out->push_back('-');
  AppendPadded(d, 2, out);
}

void AppendTimeOfDay(int64_t value, arrow::TimeUnit::type unit, std::string* out) {
  int64_t per_second = 1;
  int digits = 0;
  UnitScale(unit, &per_second, &digits);
  const int64_t seconds = FloorDiv(value, per_second);
  AppendClock(seconds, value - seconds * per_second, digits, out);
}

void AppendTimestamp(int64_t value, arrow::TimeUnit::type unit, std::string* out) {
  int64_t per_second = 1;
  int digits = 0;
  UnitScale(unit, &per_second, &digits);
  const int64_t seconds = FloorDiv(value, per_second);
  const int64_t days = FloorDiv(seconds, 86400);
  AppendDate(days, out);
  out->push_back(' ');
  AppendClock(seconds - days * 86400, value - seconds * per_second, digits, out);
}

}  // namespace laminar::serde
