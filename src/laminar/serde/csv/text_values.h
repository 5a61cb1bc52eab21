// Strict text -> value parsers shared by the CSV decoder and schema inference: booleans,
// integers with range checks, floats, dates, times and timestamps (a strftime-like pattern
// with an ISO-8601 fallback). Pure functions and immutable compiled patterns; any thread.
#pragma once

#include <arrow/result.h>
#include <arrow/type_fwd.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace laminar::serde {

// Drops leading and trailing spaces and tabs.
std::string_view TrimBlanks(std::string_view text);

// true/1/yes/t/y and false/0/no/f/n, any case; nullopt for anything else.
std::optional<bool> ParseBoolText(std::string_view text);

// Whole text, optional leading '+' ('-' for signed only), decimal digits, no blanks.
std::optional<int64_t> ParseInt64Text(std::string_view text);
std::optional<uint64_t> ParseUInt64Text(std::string_view text);
// Decimal or exponent notation, "nan", "inf", "infinity" (any case, optional sign). Out of
// range (1e400) is nullopt, never a silent infinity.
std::optional<double> ParseDoubleText(std::string_view text);
std::optional<float> ParseFloatText(std::string_view text);

// Days since 1970-01-01 of a proleptic Gregorian date, and back.
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);
void CivilFromDays(int64_t days, int64_t* year, unsigned* month, unsigned* day);
bool IsValidDate(int64_t year, unsigned month, unsigned day);

// A point in time split into whole seconds since the epoch (UTC) and nanoseconds.
struct EpochTime {
  int64_t seconds = 0;
  int32_t nanos = 0;        // 0..999,999,999
  int fraction_digits = 0;  // digits of the fraction as written (to pick a unit in inference)
  bool has_time = false;    // a time of day was present (not a bare date)
  bool has_offset = false;  // Z or +hh:mm was present; the value has been moved to UTC
};

// ISO-8601 / RFC 3339: "YYYY-MM-DD", then optionally 'T' or ' ' and "HH:MM[:SS[.f{1,9}]]",
// then optionally "Z", "+HH", "+HHMM" or "+HH:MM". A value with an offset is moved to UTC.
std::optional<EpochTime> ParseIsoTimestamp(std::string_view text);
// "YYYY-MM-DD" only.
std::optional<int32_t> ParseIsoDate(std::string_view text);
// "HH:MM[:SS[.f{1,9}]]" as nanoseconds since midnight.
std::optional<int64_t> ParseTimeOfDayNanos(std::string_view text);

// A compiled strftime-like pattern. Directives: %Y (year, 4 digits, optional sign), %m %d
// %H %M %S (1 or 2 digits), %f (1-9 fraction digits), %.f (optional '.' + 1-9 digits),
// %z (Z, +hh, +hhmm, +hh:mm), %:z (+hh:mm), %T (= %H:%M:%S), %F (= %Y-%m-%d), %s (signed
// seconds since the epoch), %% (a literal %). Any other character matches itself.
class DateTimePattern {
 public:
  // An unknown directive or a dangling % is an Invalid status naming it.
  static arrow::Result<DateTimePattern> Compile(std::string_view pattern);
  // The whole text must match. Fields the pattern lacks default to 1970-01-01 00:00:00 UTC.
  std::optional<EpochTime> Parse(std::string_view text) const;
  const std::string& text() const { return text_; }

 private:
  enum class Op : char {
    kLiteral,
    kYear,
    kMonth,
    kDay,
    kHour,
    kMinute,
    kSecond,
    kFraction,
    kOptFraction,
    kOffset,
    kOffsetColon,
    kEpochSeconds
  };
  struct Step {
    Op op;
    char literal = 0;
  };
  std::vector<Step> steps_;
  std::string text_;
};

// Converts to a count of `unit` since the epoch; nullopt when the value overflows int64 or
// has a nonzero fraction finer than the unit (no silent truncation).
std::optional<int64_t> ToUnit(const EpochTime& time, arrow::TimeUnit::type unit);

// Formatting, the inverse of the ISO parsers: "YYYY-MM-DD", "HH:MM:SS[.ffffff]",
// "YYYY-MM-DD HH:MM:SS[.f]" with as many fraction digits as the unit has, trailing zero
// groups kept so the text width is fixed per unit.
void AppendDate(int64_t days, std::string* out);
void AppendTimeOfDay(int64_t value, arrow::TimeUnit::type unit, std::string* out);
void AppendTimestamp(int64_t value, arrow::TimeUnit::type unit, std::string* out);

}  // namespace laminar::serde
