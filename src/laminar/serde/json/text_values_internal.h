// Text -> value parsers shared by the JSON and Debezium decoders (and usable by CSV):
// ISO-8601 dates, times and timestamps, small strftime-like patterns, exact decimals and
// base64. Pure functions; no allocation on the success path. Not installed.
#pragma once

#include <arrow/type_fwd.h>
#include <arrow/util/decimal.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace laminar::serde::text {

// Seconds since the epoch plus a nanosecond fraction [0, 1e9).
struct Instant {
  int64_t seconds = 0;
  int32_t nanos = 0;
};

// Days since 1970-01-01 of a proleptic Gregorian date; nullopt when the date is invalid.
std::optional<int32_t> DaysFromCivil(int year, int month, int day);

// "YYYY-MM-DD" -> days since the epoch.
std::optional<int32_t> ParseDate(std::string_view text);

// "HH:MM[:SS[.fffffffff]]" -> microseconds since midnight (digits beyond µs truncated).
std::optional<int64_t> ParseTimeMicros(std::string_view text);

// RFC 3339 / ISO-8601: "YYYY-MM-DD", then optionally 'T', 't' or ' ' and
// "HH:MM[:SS[.f{1,9}]]", then optionally 'Z', 'z', "±hh", "±hhmm" or "±hh:mm".
// No offset means UTC.
std::optional<Instant> ParseIsoTimestamp(std::string_view text);

// A small strftime-like pattern: %Y (4 digits), %m %d %H %M %S (2 digits), %f (1-9
// fraction digits, after the '.' the pattern spells out), %z (Z or ±hh[:]mm, applied),
// %T (= %H:%M:%S), %F (= %Y-%m-%d), %% (a percent sign); every other character matches
// itself. Fields not given default to 1970-01-01 00:00:00 UTC.
class TimestampPattern {
 public:
  // "iso8601" names the ISO parser above; anything else must be a valid pattern.
  static arrow::Result<TimestampPattern> Make(std::string pattern);
  std::optional<Instant> Parse(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  bool iso_ = false;
};

// Converts an instant to a count of `unit`s (fraction truncated toward the past);
// nullopt on int64 overflow.
std::optional<int64_t> InstantToUnit(const Instant& instant, arrow::TimeUnit::type unit);
// Epoch milliseconds to `unit` (floor division for s); nullopt on overflow.
std::optional<int64_t> MillisToUnit(int64_t millis, arrow::TimeUnit::type unit);

// An exact decimal literal ("-12.50", "1e3", "0.5E-1", as JSON numbers or strings; no
// spaces) scaled to `scale`. Fails with a short reason: not a number, more fractional
// digits than the scale (non-zero ones; trailing zeros are fine), or more than
// `precision` digits.
bool ParseDecimal(std::string_view text, int32_t precision, int32_t scale, arrow::Decimal128* out,
                  const char** reason);

// Standard or URL-safe base64, padding optional. Appends to `out`; false on bad input.
bool DecodeBase64(std::string_view text, std::string* out);

// Strict integer/float parsers for coerced strings (whole text, no spaces).
std::optional<int64_t> ParseInt64Text(std::string_view text);
std::optional<uint64_t> ParseUInt64Text(std::string_view text);
std::optional<double> ParseDoubleText(std::string_view text);  // also NaN, Infinity, -Infinity

// The SQL spelling of an Arrow type as the DDL declares it (BIGINT, DECIMAL(10,2),
// TIMESTAMP(3) WITH TIME ZONE, ARRAY<INT>, JSON for a JSON-tagged field).
std::string SqlTypeName(const arrow::Field& field);
std::string SqlTypeName(const arrow::DataType& type, bool json);

// `text` cut to about `max_bytes` at a UTF-8 boundary, with "..." when cut.
std::string Truncated(std::string_view text, size_t max_bytes = 60);

}  // namespace laminar::serde::text
