#include "laminar/files/json_lines.h"

#include <arrow/api.h>
#include <arrow/util/decimal.h>

#include <charconv>
#include <cmath>
#include <chrono>
#include <cstdio>

namespace laminar::files {

namespace {

void AppendEscaped(std::string_view text, std::string* out) {
  out->push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

void AppendBase64(std::string_view bytes, std::string* out) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out->push_back('"');
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out->push_back(kAlphabet[(v >> shift) & 63]);
  }
  if (i < bytes.size()) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= uint8_t(bytes[i + 1]) << 8;
    out->push_back(kAlphabet[(v >> 18) & 63]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
    out->push_back(i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out->push_back('=');
  }
  out->push_back('"');
}

template <typename T>
void AppendNumber(T value, std::string* out) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out->append(buf, static_cast<size_t>(end - buf));
}

void AppendFloat(double value, std::string* out) {
  if (!std::isfinite(value)) {
    out->append("null");  // JSON has no NaN/Infinity
    return;
  }
  AppendNumber(value, out);
}

// ".ddd" with exactly `digits` digits (digits <= 9).
std::string FractionDigits(int64_t fraction, int digits) {
  std::string out(static_cast<size_t>(digits) + 1, '0');
  out[0] = '.';
  for (int i = digits; i >= 1 && fraction > 0; --i, fraction /= 10) out[static_cast<size_t>(i)] = char('0' + fraction % 10);
  return out;
}

// days since epoch -> "YYYY-MM-DD"
std::string FormatDate(int64_t days) {
  using namespace std::chrono;
  const year_month_day ymd{sys_days{std::chrono::days{days}}};
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return buf;
}

std::string FormatTimestamp(int64_t value, arrow::TimeUnit::type unit, bool utc) {
  int64_t per_second = 1;
  int digits = 0;
  switch (unit) {
    case arrow::TimeUnit::SECOND: per_second = 1; digits = 0; break;
    case arrow::TimeUnit::MILLI: per_second = 1000; digits = 3; break;
    case arrow::TimeUnit::MICRO: per_second = 1000000; digits = 6; break;
    case arrow::TimeUnit::NANO: per_second = 1000000000; digits = 9; break;
  }
  int64_t seconds = value / per_second;
  int64_t fraction = value % per_second;
  if (fraction < 0) {
    fraction += per_second;
    --seconds;
  }
  int64_t days = seconds / 86400;
  int64_t rem = seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  char buf[64];
  int n = std::snprintf(buf, sizeof(buf), "%sT%02lld:%02lld:%02lld", FormatDate(days).c_str(),
                        static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                        static_cast<long long>(rem % 60));
  std::string out(buf, static_cast<size_t>(n));
  if (digits > 0) out += FractionDigits(fraction, digits);
  if (utc) out += "Z";
  return out;
}

std::string FormatTimeOfDay(int64_t value, int64_t per_second, int digits) {
  int64_t seconds = value / per_second;
  char buf[48];
  int n = std::snprintf(buf, sizeof(buf), "%02lld:%02lld:%02lld", static_cast<long long>(seconds / 3600),
                        static_cast<long long>(seconds / 60 % 60), static_cast<long long>(seconds % 60));
  std::string out(buf, static_cast<size_t>(n));
  if (digits > 0) out += FractionDigits(value % per_second, digits);
  return out;
}

arrow::Status AppendValue(const arrow::Array& array, int64_t i, bool embed_json, std::string* out);

arrow::Status AppendValue(const arrow::Array& array, int64_t i, bool embed_json, std::string* out) {
  if (array.IsNull(i)) {
    out->append("null");
    return arrow::Status::OK();
  }
  switch (array.type_id()) {
    case arrow::Type::BOOL:
      out->append(static_cast<const arrow::BooleanArray&>(array).Value(i) ? "true" : "false");
      break;
    case arrow::Type::INT8: AppendNumber(static_cast<const arrow::Int8Array&>(array).Value(i), out); break;
    case arrow::Type::INT16: AppendNumber(static_cast<const arrow::Int16Array&>(array).Value(i), out); break;
    case arrow::Type::INT32: AppendNumber(static_cast<const arrow::Int32Array&>(array).Value(i), out); break;
    case arrow::Type::INT64: AppendNumber(static_cast<const arrow::Int64Array&>(array).Value(i), out); break;
    case arrow::Type::UINT8: AppendNumber(static_cast<const arrow::UInt8Array&>(array).Value(i), out); break;
    case arrow::Type::UINT16: AppendNumber(static_cast<const arrow::UInt16Array&>(array).Value(i), out); break;
    case arrow::Type::UINT32: AppendNumber(static_cast<const arrow::UInt32Array&>(array).Value(i), out); break;
    case arrow::Type::UINT64: AppendNumber(static_cast<const arrow::UInt64Array&>(array).Value(i), out); break;
    case arrow::Type::FLOAT: AppendFloat(static_cast<const arrow::FloatArray&>(array).Value(i), out); break;
    case arrow::Type::DOUBLE: AppendFloat(static_cast<const arrow::DoubleArray&>(array).Value(i), out); break;
    case arrow::Type::STRING: {
      auto view = static_cast<const arrow::StringArray&>(array).GetView(i);
      if (embed_json) {
        out->append(view.data(), view.size());
      } else {
        AppendEscaped(view, out);
      }
      break;
    }
    case arrow::Type::LARGE_STRING:
      AppendEscaped(static_cast<const arrow::LargeStringArray&>(array).GetView(i), out);
      break;
    case arrow::Type::BINARY: AppendBase64(static_cast<const arrow::BinaryArray&>(array).GetView(i), out); break;
    case arrow::Type::LARGE_BINARY:
      AppendBase64(static_cast<const arrow::LargeBinaryArray&>(array).GetView(i), out);
      break;
    case arrow::Type::DECIMAL128: {
      const auto& decimals = static_cast<const arrow::Decimal128Array&>(array);
      AppendEscaped(decimals.FormatValue(i), out);
      break;
    }
    case arrow::Type::DATE32:
      AppendEscaped(FormatDate(static_cast<const arrow::Date32Array&>(array).Value(i)), out);
      break;
    case arrow::Type::DATE64:
      AppendEscaped(FormatDate(static_cast<const arrow::Date64Array&>(array).Value(i) / 86400000), out);
      break;
    case arrow::Type::TIME32: {
      const auto& times = static_cast<const arrow::Time32Array&>(array);
      const bool millis = static_cast<const arrow::Time32Type&>(*array.type()).unit() == arrow::TimeUnit::MILLI;
      AppendEscaped(FormatTimeOfDay(times.Value(i), millis ? 1000 : 1, millis ? 3 : 0), out);
      break;
    }
    case arrow::Type::TIME64: {
      const auto& times = static_cast<const arrow::Time64Array&>(array);
      const bool nanos = static_cast<const arrow::Time64Type&>(*array.type()).unit() == arrow::TimeUnit::NANO;
      AppendEscaped(FormatTimeOfDay(times.Value(i), nanos ? 1000000000 : 1000000, nanos ? 9 : 6), out);
      break;
    }
    case arrow::Type::TIMESTAMP: {
      const auto& type = static_cast<const arrow::TimestampType&>(*array.type());
      AppendEscaped(FormatTimestamp(static_cast<const arrow::TimestampArray&>(array).Value(i), type.unit(),
                                    !type.timezone().empty()),
                    out);
      break;
    }
    case arrow::Type::LIST: {
      const auto& list = static_cast<const arrow::ListArray&>(array);
      out->push_back('[');
      const auto values = list.values();
      for (int32_t j = list.value_offset(i); j < list.value_offset(i + 1); ++j) {
        if (j > list.value_offset(i)) out->push_back(',');
        ARROW_RETURN_NOT_OK(AppendValue(*values, j, false, out));
      }
      out->push_back(']');
      break;
    }
    case arrow::Type::STRUCT: {
      const auto& st = static_cast<const arrow::StructArray&>(array);
      out->push_back('{');
      for (int f = 0; f < st.num_fields(); ++f) {
        if (f > 0) out->push_back(',');
        AppendEscaped(st.struct_type()->field(f)->name(), out);
        out->push_back(':');
        ARROW_RETURN_NOT_OK(AppendValue(*st.field(f), i, false, out));
      }
      out->push_back('}');
      break;
    }
    default:
      return arrow::Status::NotImplemented("JSON encoding of type ", array.type()->ToString());
  }
  return arrow::Status::OK();
}

bool IsJsonColumn(const arrow::Field& field) {
  auto metadata = field.metadata();
  if (!metadata) return false;
  auto value = metadata->Get("laminar.type");
  return value.ok() && *value == "json";
}

}  // namespace

arrow::Status AppendJsonLines(const arrow::RecordBatch& batch, std::string* out) {
  const auto& schema = *batch.schema();
  std::vector<std::string> keys;
  std::vector<bool> embed;
  for (const auto& field : schema.fields()) {
    std::string key;
    AppendEscaped(field->name(), &key);
    keys.push_back(key + ":");
    embed.push_back(IsJsonColumn(*field));
  }
  for (int64_t row = 0; row < batch.num_rows(); ++row) {
    out->push_back('{');
    for (int c = 0; c < batch.num_columns(); ++c) {
      if (c > 0) out->push_back(',');
      out->append(keys[static_cast<size_t>(c)]);
      ARROW_RETURN_NOT_OK(AppendValue(*batch.column(c), row, embed[static_cast<size_t>(c)], out));
    }
    out->append("}\n");
  }
  return arrow::Status::OK();
}

}  // namespace laminar::files
