#include "laminar/serde/json/text_values_internal.h"

#include <arrow/result.h>
#include <arrow/type.h>
#include <arrow/util/key_value_metadata.h>

#include <array>
#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

namespace laminar::serde::text {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `n` digits at `pos`.
bool ReadDigits(std::string_view text, size_t& pos, int n, int* value) {
  if (pos + static_cast<size_t>(n) > text.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    const char c = text[pos + static_cast<size_t>(i)];
    if (!IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  pos += static_cast<size_t>(n);
  *value = v;
  return true;
}

bool Consume(std::string_view text, size_t& pos, char c) {
  if (pos < text.size() && text[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

// 1-9 digits of a fraction (more are read and truncated) -> nanoseconds.
bool ReadFraction(std::string_view text, size_t& pos, int32_t* nanos) {
  int32_t value = 0;
  int digits = 0;
  while (pos < text.size() && IsDigit(text[pos])) {
    if (digits < 9) {
      value = value * 10 + (text[pos] - '0');
      ++digits;
    } else if (digits >= 18) {
      return false;  // absurdly long fractions are not timestamps
    }
    ++pos;
  }
  if (digits == 0) return false;
  for (int i = digits; i < 9; ++i) value *= 10;
  *nanos = value;
  return true;
}

// "Z", "z", "±hh", "±hhmm", "±hh:mm" -> offset seconds east of UTC.
bool ReadOffset(std::string_view text, size_t& pos, int64_t* offset_seconds) {
  if (Consume(text, pos, 'Z') || Consume(text, pos, 'z')) {
    *offset_seconds = 0;
    return true;
  }
  if (pos >= text.size() || (text[pos] != '+' && text[pos] != '-')) return false;
  const bool negative = text[pos] == '-';
  ++pos;
  int hours = 0, minutes = 0;
  if (!ReadDigits(text, pos, 2, &hours) || hours > 23) return false;
  if (pos < text.size()) {
    Consume(text, pos, ':');
    if (!ReadDigits(text, pos, 2, &minutes) || minutes > 59) return false;
  }
  *offset_seconds = (negative ? -1 : 1) * (hours * 3600 + minutes * 60);
  return true;
}

bool ReadDate(std::string_view text, size_t& pos, int64_t* days) {
  int year = 0, month = 0, day = 0;
  if (!ReadDigits(text, pos, 4, &year) || !Consume(text, pos, '-') || !ReadDigits(text, pos, 2, &month) ||
      !Consume(text, pos, '-') || !ReadDigits(text, pos, 2, &day)) {
    return false;
  }
  auto d = DaysFromCivil(year, month, day);
  if (!d) return false;
  *days = *d;
  return true;
}

// "HH:MM[:SS[.f]]" -> seconds of the day and nanos.
bool ReadTimeOfDay(std::string_view text, size_t& pos, int64_t* seconds, int32_t* nanos) {
  int h = 0, m = 0, s = 0;
  *nanos = 0;
  if (!ReadDigits(text, pos, 2, &h) || h > 23 || !Consume(text, pos, ':') || !ReadDigits(text, pos, 2, &m) ||
      m > 59) {
    return false;
  }
  if (Consume(text, pos, ':')) {
    if (!ReadDigits(text, pos, 2, &s) || s > 59) return false;
    if (Consume(text, pos, '.') || Consume(text, pos, ',')) {
      if (!ReadFraction(text, pos, nanos)) return false;
    }
  }
  *seconds = h * 3600 + m * 60 + s;
  return true;
}

constexpr int64_t kNanosPerUnit[] = {1000000000, 1000000, 1000, 1};  // s, ms, us, ns
constexpr int64_t kUnitsPerSecond[] = {1, 1000, 1000000, 1000000000};

}  // namespace

std::optional<int32_t> DaysFromCivil(int year, int month, int day) {
  using namespace std::chrono;
  if (month < 1 || month > 12 || day < 1 || day > 31) return std::nullopt;
  const year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                           std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;
  return static_cast<int32_t>(sys_days{ymd}.time_since_epoch().count());
}

std::optional<int32_t> ParseDate(std::string_view text) {
  size_t pos = 0;
  int64_t days = 0;
  if (!ReadDate(text, pos, &days) || pos != text.size()) return std::nullopt;
  return static_cast<int32_t>(days);
}

std::optional<int64_t> ParseTimeMicros(std::string_view text) {
  size_t pos = 0;
  int64_t seconds = 0;
  int32_t nanos = 0;
  if (!ReadTimeOfDay(text, pos, &seconds, &nanos) || pos != text.size()) return std::nullopt;
  return seconds * 1000000 + nanos / 1000;
}

namespace {

// The shape nearly every producer writes, "YYYY-MM-DDTHH:MM:SS[.f...]Z", read at fixed
// positions. nullopt for anything else, out-of-range fields included: the general
// reader then decides, so the two never disagree.
// Eight bytes at `p` whose `separators` bytes were checked already: true when the others
// are ASCII digits; *pairs then holds, in byte k, the two-digit number that starts at
// byte k (digit k * 10 + digit k+1; a separator counts as 0).
[[gnu::always_inline]] inline bool EightDigits(const char* p, uint64_t separators, uint64_t* pairs) {
  static_assert(std::endian::native == std::endian::little);
  uint64_t w;
  std::memcpy(&w, p, 8);
  w = (w & ~separators) | (0x3030303030303030ULL & separators);
  if (((w & 0xF0F0F0F0F0F0F0F0ULL) | (((w + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) !=
      0x3333333333333333ULL) {
    return false;
  }
  const uint64_t digits = w - 0x3030303030303030ULL;  // each byte 0..9: no borrow, no carry below
  *pairs = digits * 10 + (digits >> 8);
  return true;
}

inline int PairAt(uint64_t pairs, int byte) { return static_cast<int>((pairs >> (8 * byte)) & 0xFF); }

std::optional<Instant> ParseUtcTimestampFast(std::string_view t) {
  if (t.size() < 20 || t.back() != 'Z' || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' ||
      t[16] != ':') {
    return std::nullopt;
  }
  // The fourteen digits, eight bytes at a time: the separators (checked above) are
  // replaced by '0' and each word must then be eight ASCII digits.
  uint64_t date = 0, day_time = 0, time = 0;  // "YYYY-MM-", "DDTHH:MM", "HH:MM:SS"
  if (!EightDigits(t.data(), 0xFF0000FF00000000ULL, &date) ||
      !EightDigits(t.data() + 8, 0x0000FF0000FF0000ULL, &day_time) ||
      !EightDigits(t.data() + 11, 0x0000FF0000FF0000ULL, &time)) {
    return std::nullopt;
  }
  const int year = PairAt(date, 0) * 100 + PairAt(date, 2), month = PairAt(date, 5), day = PairAt(day_time, 0);
  const int hour = PairAt(time, 0), minute = PairAt(time, 3), second = PairAt(time, 6);
  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
  int32_t nanos = 0;
  if (t.size() > 20) {
    if (t[19] != '.' || t.size() > 20 + 9 + 1) return std::nullopt;  // ',' or long fractions: general reader
    const size_t digits = t.size() - 21;
    if (digits == 0) return std::nullopt;
    for (size_t i = 20; i + 1 < t.size(); ++i) {
      if (!IsDigit(t[i])) return std::nullopt;
      nanos = nanos * 10 + (t[i] - '0');
    }
    static constexpr int32_t kToNanos[10] = {0, 100000000, 10000000, 1000000, 100000, 10000, 1000, 100, 10, 1};
    nanos *= kToNanos[digits];
  }
  const auto days = DaysFromCivil(year, month, day);
  if (!days) return std::nullopt;
  return Instant{int64_t{*days} * 86400 + hour * 3600 + minute * 60 + second, nanos};
}

}  // namespace

std::optional<Instant> ParseIsoTimestamp(std::string_view text) {
  if (auto fast = ParseUtcTimestampFast(text)) return fast;
  size_t pos = 0;
  int64_t days = 0;
  if (!ReadDate(text, pos, &days)) return std::nullopt;
  Instant out{days * 86400, 0};
  if (pos == text.size()) return out;
  if (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ') return std::nullopt;
  ++pos;
  int64_t seconds = 0;
  if (!ReadTimeOfDay(text, pos, &seconds, &out.nanos)) return std::nullopt;
  out.seconds += seconds;
  if (pos < text.size()) {
    int64_t offset = 0;
    if (!ReadOffset(text, pos, &offset) || pos != text.size()) return std::nullopt;
    out.seconds -= offset;
  }
  return out;
}

arrow::Result<TimestampPattern> TimestampPattern::Make(std::string pattern) {
  TimestampPattern out;
  if (pattern == "iso8601") {
    out.iso_ = true;
  } else {
    for (size_t i = 0; i < pattern.size(); ++i) {
      if (pattern[i] != '%') continue;
      if (i + 1 >= pattern.size() || std::string_view("YmdHMSfzTF%").find(pattern[i + 1]) == std::string_view::npos) {
        return arrow::Status::Invalid("timestamp pattern '", pattern, "': unsupported directive at position ", i,
                                      " (supported: %Y %m %d %H %M %S %f %z %T %F %%)");
      }
      ++i;
    }
    if (pattern.empty()) return arrow::Status::Invalid("empty timestamp pattern");
  }
  out.pattern_ = std::move(pattern);
  return out;
}

std::optional<Instant> TimestampPattern::Parse(std::string_view text) const {
  if (iso_) return ParseIsoTimestamp(text);
  int year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  int32_t nanos = 0;
  int64_t offset = 0;
  size_t pos = 0;
  const std::string_view p = pattern_;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] != '%') {
      if (!Consume(text, pos, p[i])) return std::nullopt;
      continue;
    }
    bool ok = true;
    switch (p[++i]) {
      case 'Y': ok = ReadDigits(text, pos, 4, &year); break;
      case 'm': ok = ReadDigits(text, pos, 2, &month); break;
      case 'd': ok = ReadDigits(text, pos, 2, &day); break;
      case 'H': ok = ReadDigits(text, pos, 2, &hour) && hour < 24; break;
      case 'M': ok = ReadDigits(text, pos, 2, &minute) && minute < 60; break;
      case 'S': ok = ReadDigits(text, pos, 2, &second) && second < 60; break;
      case 'f': ok = ReadFraction(text, pos, &nanos); break;
      case 'z': ok = ReadOffset(text, pos, &offset); break;
      case 'T':
        ok = ReadDigits(text, pos, 2, &hour) && hour < 24 && Consume(text, pos, ':') &&
             ReadDigits(text, pos, 2, &minute) && minute < 60 && Consume(text, pos, ':') &&
             ReadDigits(text, pos, 2, &second) && second < 60;
        break;
      case 'F':
        ok = ReadDigits(text, pos, 4, &year) && Consume(text, pos, '-') && ReadDigits(text, pos, 2, &month) &&
             Consume(text, pos, '-') && ReadDigits(text, pos, 2, &day);
        break;
      case '%': ok = Consume(text, pos, '%'); break;
      default: ok = false;
    }
    if (!ok) return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  auto days = DaysFromCivil(year, month, day);
  if (!days) return std::nullopt;
  return Instant{int64_t{*days} * 86400 + hour * 3600 + minute * 60 + second - offset, nanos};
}

std::optional<int64_t> InstantToUnit(const Instant& instant, arrow::TimeUnit::type unit) {
  const int u = static_cast<int>(unit);
  int64_t out = 0;
  if (__builtin_mul_overflow(instant.seconds, kUnitsPerSecond[u], &out)) return std::nullopt;
  if (__builtin_add_overflow(out, instant.nanos / kNanosPerUnit[u], &out)) return std::nullopt;
  return out;
}

std::optional<int64_t> MillisToUnit(int64_t millis, arrow::TimeUnit::type unit) {
  switch (unit) {
    case arrow::TimeUnit::SECOND: return millis >= 0 ? millis / 1000 : -((-(millis + 1)) / 1000) - 1;
    case arrow::TimeUnit::MILLI: return millis;
    case arrow::TimeUnit::MICRO:
    case arrow::TimeUnit::NANO: {
      int64_t out = 0;
      if (__builtin_mul_overflow(millis, unit == arrow::TimeUnit::MICRO ? 1000 : 1000000, &out)) return std::nullopt;
      return out;
    }
  }
  return std::nullopt;
}

bool ParseDecimal(std::string_view text, int32_t precision, int32_t scale, arrow::Decimal128* out,
                  const char** reason) {
  using u128 = unsigned __int128;
  size_t pos = 0;
  bool negative = false;
  if (pos < text.size() && (text[pos] == '-' || text[pos] == '+')) negative = text[pos++] == '-';
  u128 acc = 0;
  int significant = 0;   // digits in acc
  int64_t exponent = 0;  // value = acc * 10^exponent
  bool any_digit = false;
  bool in_fraction = false;
  *reason = "not a decimal number";
  for (; pos < text.size(); ++pos) {
    const char c = text[pos];
    if (c == '.' && !in_fraction) {
      in_fraction = true;
      continue;
    }
    if (!IsDigit(c)) break;
    any_digit = true;
    const int d = c - '0';
    if (in_fraction) --exponent;
    if (acc == 0 && d == 0) continue;
    if (significant < 38) {
      acc = acc * 10 + static_cast<unsigned>(d);
      ++significant;
    } else if (d == 0) {
      ++exponent;  // a zero we cannot hold: keep it as a power of ten
    } else {
      *reason = "more than 38 significant digits";
      return false;
    }
  }
  if (!any_digit) return false;
  if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    ++pos;
    bool exp_negative = false;
    if (pos < text.size() && (text[pos] == '-' || text[pos] == '+')) exp_negative = text[pos++] == '-';
    int64_t e = 0;
    bool exp_digit = false;
    for (; pos < text.size() && IsDigit(text[pos]); ++pos) {
      exp_digit = true;
      if (e < 100000) e = e * 10 + (text[pos] - '0');
    }
    if (!exp_digit) return false;
    exponent += exp_negative ? -e : e;
  }
  if (pos != text.size()) return false;
  int64_t shift = exponent + scale;
  if (acc != 0) {
    while (shift < 0) {
      if (acc % 10 != 0) {
        *reason = "more fractional digits than the scale allows";
        return false;
      }
      acc /= 10;
      ++shift;
    }
    u128 limit = 1;
    for (int i = 0; i < precision; ++i) limit *= 10;
    for (; shift > 0; --shift) {
      if (acc >= limit) break;
      acc *= 10;
    }
    if (shift > 0 || acc >= limit) {
      *reason = "too many digits for the precision";
      return false;
    }
  }
  arrow::Decimal128 value(static_cast<int64_t>(static_cast<uint64_t>(acc >> 64)), static_cast<uint64_t>(acc));
  if (negative) value.Negate();
  *out = value;
  return true;
}

bool DecodeBase64(std::string_view text, std::string* out) {
  static const auto kTable = [] {
    std::array<int8_t, 256> table{};
    table.fill(-1);
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) table[static_cast<uint8_t>(alphabet[i])] = static_cast<int8_t>(i);
    table['-'] = 62;
    table['_'] = 63;
    return table;
  }();
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : text) {
    const int v = kTable[c];
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

std::optional<int64_t> ParseInt64Text(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<uint64_t> ParseUInt64Text(std::string_view text) {
  uint64_t value = 0;
  if (text.empty() || text[0] == '-') return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<double> ParseDoubleText(std::string_view text) {
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "Infinity") return std::numeric_limits<double>::infinity();
  if (text == "-Infinity") return -std::numeric_limits<double>::infinity();
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::string SqlTypeName(const arrow::Field& field) {
  bool json = false;
  if (field.metadata()) {
    auto v = field.metadata()->Get("laminar.type");
    json = v.ok() && *v == "json";
  }
  return SqlTypeName(*field.type(), json);
}

std::string SqlTypeName(const arrow::DataType& type, bool json) {
  static const char* kPrecision[] = {"0", "3", "6", "9"};
  switch (type.id()) {
    case arrow::Type::BOOL: return "BOOLEAN";
    case arrow::Type::INT8: return "TINYINT";
    case arrow::Type::INT16: return "SMALLINT";
    case arrow::Type::INT32: return "INT";
    case arrow::Type::INT64: return "BIGINT";
    case arrow::Type::UINT8: return "TINYINT UNSIGNED";
    case arrow::Type::UINT16: return "SMALLINT UNSIGNED";
    case arrow::Type::UINT32: return "INT UNSIGNED";
    case arrow::Type::UINT64: return "BIGINT UNSIGNED";
    case arrow::Type::FLOAT: return "REAL";
    case arrow::Type::DOUBLE: return "DOUBLE";
    case arrow::Type::DECIMAL128: {
      const auto& d = static_cast<const arrow::Decimal128Type&>(type);
      return "DECIMAL(" + std::to_string(d.precision()) + "," + std::to_string(d.scale()) + ")";
    }
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING: return json ? "JSON" : "VARCHAR";
    case arrow::Type::BINARY:
    case arrow::Type::LARGE_BINARY: return "BYTEA (base64)";
    case arrow::Type::DATE32: return "DATE";
    case arrow::Type::TIME64: return "TIME";
    case arrow::Type::TIMESTAMP: {
      const auto& t = static_cast<const arrow::TimestampType&>(type);
      std::string out = std::string("TIMESTAMP(") + kPrecision[static_cast<int>(t.unit())] + ")";
      if (!t.timezone().empty()) out += " WITH TIME ZONE";
      return out;
    }
    case arrow::Type::LIST: {
      const auto& l = static_cast<const arrow::ListType&>(type);
      return "ARRAY<" + SqlTypeName(*l.value_field()) + ">";
    }
    case arrow::Type::STRUCT: return "STRUCT";
    default: return type.ToString();
  }
}

std::string Truncated(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "...";
}

}  // namespace laminar::serde::text
