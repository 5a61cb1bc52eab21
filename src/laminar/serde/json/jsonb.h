// JSONB: the binary JSON layout of spec §16.3, byte-compatible with upstream.
//
// Little-endian. Every value starts with a one-byte tag:
//   0x00 null | 0x01 false | 0x02 true
//   0x03 int64:   8 bytes                       (integers that fit in int64)
//   0x04 float64: 8 bytes IEEE-754              (every other number, incl. large unsigned)
//   0x05 string:  u32 byte length, UTF-8 bytes
//   0x06 array:   u32 count N, N x u32 element offset, then the elements
//   0x07 object:  u32 count N, N x (u32 key offset, u32 value offset), then per field
//                 u16 key length, key bytes, the value
// Offsets count from the first byte after the offset table. Object keys are sorted by
// bytes (a repeated key keeps its last value), so lookups binary-search.
//
// Ours beyond upstream: keys over 65535 bytes, strings or containers over 4 GiB and
// nesting deeper than kMaxDepth are rejected instead of truncated; views are bounded (a
// value view ends where the value ends, not at the end of the buffer); ToJsonText
// validates every offset. Encoders and views are not thread-safe; use one per thread.
#pragma once

#include <arrow/result.h>
#include <arrow/status.h>

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace laminar::serde::jsonb {

enum class Tag : uint8_t {
  kNull = 0x00,
  kFalse = 0x01,
  kTrue = 0x02,
  kInt64 = 0x03,
  kFloat64 = 0x04,
  kString = 0x05,
  kArray = 0x06,
  kObject = 0x07,
};

inline constexpr int kMaxDepth = 256;

// JSON text or parsed values -> JSONB, appended to `out`. Holds one reusable parser.
class Encoder {
 public:
  // Fails with Invalid on malformed JSON or a limit above.
  arrow::Status EncodeText(std::string_view json, std::string* out);
  arrow::Status EncodeElement(simdjson::dom::element element, std::string* out);

 private:
  arrow::Status Encode(simdjson::dom::element element, int depth, std::string* out);
  simdjson::dom::parser parser_;
};

// One-shot helper: JSON text -> JSONB bytes.
arrow::Result<std::string> FromJsonText(std::string_view json);

// JSONB -> compact JSON text (object keys in their stored, sorted order; float64 values
// that are integral keep a ".0" so that they read back as float64; NaN/Inf as null).
// Fails with Invalid when the bytes are not well-formed JSONB.
arrow::Result<std::string> ToJsonText(std::string_view jsonb);
arrow::Status AppendJsonText(std::string_view jsonb, std::string* out);

// A bounded view of one JSONB value. Accessors never allocate and fail soft (nullopt)
// on a wrong tag or bytes that are too short.
class Value {
 public:
  Value() = default;
  explicit Value(std::string_view bytes) : bytes_(bytes) {}

  std::string_view bytes() const { return bytes_; }
  std::optional<Tag> tag() const;

  bool is_null() const;
  std::optional<bool> AsBool() const;
  std::optional<int64_t> AsInt64() const;
  std::optional<double> AsDouble() const;  // float64 only, as upstream's as_f64
  std::optional<std::string_view> AsString() const;
  std::optional<uint32_t> ArrayLength() const;
  std::optional<Value> ArrayGet(uint32_t index) const;
  std::optional<uint32_t> ObjectLength() const;
  // Binary search by key; nullopt when not an object, empty, or no such key.
  std::optional<Value> GetField(std::string_view name) const;
  // The i-th field in key order.
  std::optional<std::pair<std::string_view, Value>> ObjectGet(uint32_t index) const;

 private:
  std::string_view bytes_;
};

}  // namespace laminar::serde::jsonb
