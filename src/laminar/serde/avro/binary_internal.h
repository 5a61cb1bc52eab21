// Avro binary encoding primitives (zigzag varints, little-endian floats) shared by the
// encoder, the decoder, defaults and the object container code. Not installed.
#pragma once

#include <arrow/type_fwd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace laminar::serde::avro::internal {

inline void WriteLong(int64_t value, std::string* out) {
  uint64_t n = (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
  char buf[10];
  int len = 0;
  while (n >= 0x80) {
    buf[len++] = static_cast<char>((n & 0x7f) | 0x80);
    n >>= 7;
  }
  buf[len++] = static_cast<char>(n);
  out->append(buf, len);
}

inline void WriteFloat(float value, std::string* out) {
  char buf[4];
  std::memcpy(buf, &value, 4);  // little-endian hosts only (x86-64, aarch64)
  out->append(buf, 4);
}

inline void WriteDouble(double value, std::string* out) {
  char buf[8];
  std::memcpy(buf, &value, 8);
  out->append(buf, 8);
}

inline void WriteBytes(std::string_view bytes, std::string* out) {
  WriteLong(static_cast<int64_t>(bytes.size()), out);
  out->append(bytes);
}

enum class ReadStatus : uint8_t { kOk, kTruncated, kOverlong };

// Reads one zigzag varint; advances `p` on success.
[[gnu::always_inline]] inline ReadStatus ReadLong(const uint8_t*& p, const uint8_t* end, int64_t* out) {
  const uint8_t* q = p;
  uint64_t n = 0;
  int shift = 0;
  while (true) {
    if (q == end) return ReadStatus::kTruncated;
    const uint8_t b = *q++;
    n |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) break;
    shift += 7;
    if (shift > 63) return ReadStatus::kOverlong;
  }
  p = q;
  *out = static_cast<int64_t>((n >> 1) ^ (~(n & 1) + 1));
  return ReadStatus::kOk;
}

inline int64_t Pow10(int n) {
  int64_t v = 1;
  while (n-- > 0) v *= 10;
  return v;
}

// Time units as powers of ten of seconds: s = 0, ms = 3, us = 6, ns = 9.
inline int UnitDigits(arrow::TimeUnit::type unit) {
  switch (unit) {
    case arrow::TimeUnit::SECOND: return 0;
    case arrow::TimeUnit::MILLI: return 3;
    case arrow::TimeUnit::MICRO: return 6;
    case arrow::TimeUnit::NANO: return 9;
  }
  return 0;
}

}  // namespace laminar::serde::avro::internal
