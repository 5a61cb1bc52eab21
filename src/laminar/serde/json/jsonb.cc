#include "laminar/serde/json/jsonb.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "laminar/serde/json/json_writer.h"

namespace laminar::serde::jsonb {

namespace {

constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();

void PutU32(std::string* out, size_t at, uint32_t v) {
  char b[4] = {char(v & 0xff), char((v >> 8) & 0xff), char((v >> 16) & 0xff), char((v >> 24) & 0xff)};
  std::memcpy(out->data() + at, b, 4);
}
void AppendU32(std::string* out, uint32_t v) {
  out->append(4, '\0');
  PutU32(out, out->size() - 4, v);
}
void AppendU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(char((v >> (8 * i)) & 0xff));
}
uint32_t ReadU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t(u[0]) | uint32_t(u[1]) << 8 | uint32_t(u[2]) << 16 | uint32_t(u[3]) << 24;
}
uint16_t ReadU16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint16_t(u[0] | u[1] << 8);
}
uint64_t ReadU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(p[i]);
  return v;
}

arrow::Status CheckSize(size_t size, const char* what) {
  if (size > kMaxU32) return arrow::Status::Invalid("JSONB: ", what, " larger than 4 GiB");
  return arrow::Status::OK();
}

void AppendDouble(double d, std::string* out) {
  if (!std::isfinite(d)) {
    out->append("null");
    return;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d);
  const std::string_view text(buf, static_cast<size_t>(end - buf));
  out->append(text);
  if (text.find_first_of(".e") == std::string_view::npos) out->append(".0");
}

// Validates the value in [p, end) and writes its JSON text.
arrow::Status Write(std::string_view v, int depth, std::string* out) {
  auto bad = [](const char* why) { return arrow::Status::Invalid("malformed JSONB: ", why); };
  if (v.empty()) return bad("empty value");
  if (depth > kMaxDepth) return bad("nested too deeply");
  const char* p = v.data();
  switch (static_cast<Tag>(v[0])) {
    case Tag::kNull: out->append("null"); return arrow::Status::OK();
    case Tag::kFalse: out->append("false"); return arrow::Status::OK();
    case Tag::kTrue: out->append("true"); return arrow::Status::OK();
    case Tag::kInt64: {
      if (v.size() < 9) return bad("truncated int64");
      char buf[32];
      auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(ReadU64(p + 1)));
      out->append(buf, static_cast<size_t>(end - buf));
      return arrow::Status::OK();
    }
    case Tag::kFloat64: {
      if (v.size() < 9) return bad("truncated float64");
      double d;
      const uint64_t bits = ReadU64(p + 1);
      std::memcpy(&d, &bits, 8);
      AppendDouble(d, out);
      return arrow::Status::OK();
    }
    case Tag::kString: {
      if (v.size() < 5) return bad("truncated string");
      const uint32_t n = ReadU32(p + 1);
      if (v.size() - 5 < n) return bad("string longer than its buffer");
      AppendJsonString(v.substr(5, n), out);
      return arrow::Status::OK();
    }
    case Tag::kArray: {
      Value view(v);
      auto n = view.ArrayLength();
      if (!n || v.size() < 5 + uint64_t{*n} * 4) return bad("truncated array");
      out->push_back('[');
      for (uint32_t i = 0; i < *n; ++i) {
        auto element = view.ArrayGet(i);
        if (!element) return bad("array offset out of bounds");
        if (i > 0) out->push_back(',');
        ARROW_RETURN_NOT_OK(Write(element->bytes(), depth + 1, out));
      }
      out->push_back(']');
      return arrow::Status::OK();
    }
    case Tag::kObject: {
      Value view(v);
      auto n = view.ObjectLength();
      if (!n || v.size() < 5 + uint64_t{*n} * 8) return bad("truncated object");
      out->push_back('{');
      for (uint32_t i = 0; i < *n; ++i) {
        auto field = view.ObjectGet(i);
        if (!field) return bad("object offset out of bounds");
        if (i > 0) out->push_back(',');
        AppendJsonString(field->first, out);
        out->push_back(':');
        ARROW_RETURN_NOT_OK(Write(field->second.bytes(), depth + 1, out));
      }
      out->push_back('}');
      return arrow::Status::OK();
    }
  }
  return bad("unknown tag");
}

}  // namespace

arrow::Status Encoder::EncodeText(std::string_view json, std::string* out) {
  simdjson::dom::element element;
  if (auto code = parser_.parse(json.data(), json.size()).get(element)) {
    return arrow::Status::Invalid("malformed JSON: ", simdjson::error_message(code));
  }
  return Encode(element, 0, out);
}

arrow::Status Encoder::EncodeElement(simdjson::dom::element element, std::string* out) {
  return Encode(element, 0, out);
}

arrow::Status Encoder::Encode(simdjson::dom::element element, int depth, std::string* out) {
  if (depth > kMaxDepth) return arrow::Status::Invalid("JSONB: nesting deeper than ", kMaxDepth);
  using simdjson::dom::element_type;
  switch (element.type()) {
    case element_type::NULL_VALUE: out->push_back(char(Tag::kNull)); break;
    case element_type::BOOL:
      out->push_back(char(element.get_bool().value_unsafe() ? Tag::kTrue : Tag::kFalse));
      break;
    case element_type::INT64:
      out->push_back(char(Tag::kInt64));
      AppendU64(out, static_cast<uint64_t>(element.get_int64().value_unsafe()));
      break;
    case element_type::UINT64:
    case element_type::DOUBLE: {
      double d = element.type() == element_type::UINT64 ? static_cast<double>(element.get_uint64().value_unsafe())
                                                         : element.get_double().value_unsafe();
      uint64_t bits;
      std::memcpy(&bits, &d, 8);
      out->push_back(char(Tag::kFloat64));
      AppendU64(out, bits);
      break;
    }
    case element_type::STRING: {
      std::string_view s = element.get_string().value_unsafe();
      ARROW_RETURN_NOT_OK(CheckSize(s.size(), "string"));
      out->push_back(char(Tag::kString));
      AppendU32(out, static_cast<uint32_t>(s.size()));
      out->append(s);
      break;
    }
    case element_type::ARRAY: {
      simdjson::dom::array array = element.get_array().value_unsafe();
      const size_t n = array.size();
      ARROW_RETURN_NOT_OK(CheckSize(n, "array"));
      out->push_back(char(Tag::kArray));
      AppendU32(out, static_cast<uint32_t>(n));
      const size_t table = out->size();
      out->append(n * 4, '\0');
      const size_t data = out->size();
      size_t i = 0;
      for (simdjson::dom::element child : array) {
        ARROW_RETURN_NOT_OK(CheckSize(out->size() - data, "array"));
        PutU32(out, table + 4 * i++, static_cast<uint32_t>(out->size() - data));
        ARROW_RETURN_NOT_OK(Encode(child, depth + 1, out));
      }
      ARROW_RETURN_NOT_OK(CheckSize(out->size() - data, "array"));
      break;
    }
    case element_type::OBJECT: {
      std::vector<std::pair<std::string_view, simdjson::dom::element>> fields;
      // A named object, not the temporary result: ranging over value_unsafe() of a
      // temporary dangles (found by the JSONB fuzzer under ASan).
      simdjson::dom::object object = element.get_object().value_unsafe();
      for (auto field : object) {
        if (field.key.size() > 0xffff) return arrow::Status::Invalid("JSONB: object key longer than 65535 bytes");
        fields.emplace_back(field.key, field.value);
      }
      std::stable_sort(fields.begin(), fields.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      // A repeated key keeps its last value.
      std::vector<std::pair<std::string_view, simdjson::dom::element>> unique;
      unique.reserve(fields.size());
      for (size_t i = 0; i < fields.size(); ++i) {
        if (i + 1 < fields.size() && fields[i + 1].first == fields[i].first) continue;
        unique.push_back(fields[i]);
      }
      const size_t n = unique.size();
      out->push_back(char(Tag::kObject));
      AppendU32(out, static_cast<uint32_t>(n));
      const size_t table = out->size();
      out->append(n * 8, '\0');
      const size_t data = out->size();
      for (size_t i = 0; i < n; ++i) {
        ARROW_RETURN_NOT_OK(CheckSize(out->size() - data, "object"));
        PutU32(out, table + 8 * i, static_cast<uint32_t>(out->size() - data));
        const auto& key = unique[i].first;
        out->push_back(char(key.size() & 0xff));
        out->push_back(char(key.size() >> 8));
        out->append(key);
        ARROW_RETURN_NOT_OK(CheckSize(out->size() - data, "object"));
        PutU32(out, table + 8 * i + 4, static_cast<uint32_t>(out->size() - data));
        ARROW_RETURN_NOT_OK(Encode(unique[i].second, depth + 1, out));
      }
      ARROW_RETURN_NOT_OK(CheckSize(out->size() - data, "object"));
      break;
    }
  }
  return arrow::Status::OK();
}

arrow::Result<std::string> FromJsonText(std::string_view json) {
  Encoder encoder;
  std::string out;
  ARROW_RETURN_NOT_OK(encoder.EncodeText(json, &out));
  return out;
}

arrow::Status AppendJsonText(std::string_view jsonb, std::string* out) { return Write(jsonb, 0, out); }

arrow::Result<std::string> ToJsonText(std::string_view jsonb) {
  std::string out;
  Value root(jsonb);
  ARROW_RETURN_NOT_OK(Write(jsonb, 0, &out));
  return out;
}

std::optional<Tag> Value::tag() const {
  if (bytes_.empty() || static_cast<uint8_t>(bytes_[0]) > 0x07) return std::nullopt;
  return static_cast<Tag>(bytes_[0]);
}

bool Value::is_null() const { return !bytes_.empty() && bytes_[0] == char(Tag::kNull); }

std::optional<bool> Value::AsBool() const {
  if (bytes_.empty()) return std::nullopt;
  if (bytes_[0] == char(Tag::kFalse)) return false;
  if (bytes_[0] == char(Tag::kTrue)) return true;
  return std::nullopt;
}

std::optional<int64_t> Value::AsInt64() const {
  if (bytes_.size() < 9 || bytes_[0] != char(Tag::kInt64)) return std::nullopt;
  return static_cast<int64_t>(ReadU64(bytes_.data() + 1));
}

std::optional<double> Value::AsDouble() const {
  if (bytes_.size() < 9 || bytes_[0] != char(Tag::kFloat64)) return std::nullopt;
  const uint64_t bits = ReadU64(bytes_.data() + 1);
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

std::optional<std::string_view> Value::AsString() const {
  if (bytes_.size() < 5 || bytes_[0] != char(Tag::kString)) return std::nullopt;
  const uint32_t n = ReadU32(bytes_.data() + 1);
  if (bytes_.size() - 5 < n) return std::nullopt;
  return bytes_.substr(5, n);
}

std::optional<uint32_t> Value::ArrayLength() const {
  if (bytes_.size() < 5 || bytes_[0] != char(Tag::kArray)) return std::nullopt;
  return ReadU32(bytes_.data() + 1);
}

std::optional<Value> Value::ArrayGet(uint32_t index) const {
  auto n = ArrayLength();
  if (!n || index >= *n) return std::nullopt;
  const uint64_t data = 5 + uint64_t{*n} * 4;
  if (bytes_.size() < data) return std::nullopt;
  const uint64_t begin = data + ReadU32(bytes_.data() + 5 + uint64_t{index} * 4);
  const uint64_t end = index + 1 < *n ? data + ReadU32(bytes_.data() + 5 + uint64_t{index + 1} * 4) : bytes_.size();
  if (begin >= end || end > bytes_.size()) return std::nullopt;
  return Value(bytes_.substr(begin, end - begin));
}

std::optional<uint32_t> Value::ObjectLength() const {
  if (bytes_.size() < 5 || bytes_[0] != char(Tag::kObject)) return std::nullopt;
  return ReadU32(bytes_.data() + 1);
}

std::optional<std::pair<std::string_view, Value>> Value::ObjectGet(uint32_t index) const {
  auto n = ObjectLength();
  if (!n || index >= *n) return std::nullopt;
  const uint64_t data = 5 + uint64_t{*n} * 8;
  if (bytes_.size() < data) return std::nullopt;
  const char* entry = bytes_.data() + 5 + uint64_t{index} * 8;
  const uint64_t key_at = data + ReadU32(entry);
  const uint64_t value_at = data + ReadU32(entry + 4);
  const uint64_t end = index + 1 < *n ? data + ReadU32(entry + 8) : bytes_.size();
  if (key_at + 2 > bytes_.size()) return std::nullopt;
  const uint16_t key_length = ReadU16(bytes_.data() + key_at);
  if (key_at + 2 + key_length != value_at || value_at >= end || end > bytes_.size()) return std::nullopt;
  return std::make_pair(bytes_.substr(key_at + 2, key_length), Value(bytes_.substr(value_at, end - value_at)));
}

std::optional<Value> Value::GetField(std::string_view name) const {
  auto n = ObjectLength();
  if (!n || *n == 0) return std::nullopt;
  uint32_t lo = 0, hi = *n;
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    auto field = ObjectGet(mid);
    if (!field) return std::nullopt;
    const int cmp = field->first.compare(name);
    if (cmp == 0) return field->second;
    if (cmp < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return std::nullopt;
}

}  // namespace laminar::serde::jsonb
