#include "laminar/serde/json/json_writer.h"

#include <arrow/api.h>
#include <arrow/util/decimal.h>
#include <arrow/util/key_value_metadata.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace laminar::serde {

namespace {

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

template <typename T>
void AppendFloat(T value, std::string* out) {
  if (!std::isfinite(value)) {
    out->append("null");  // JSON has no NaN/Infinity
    return;
  }
  AppendNumber(value, out);
}

// ".ddd" with exactly `digits` digits (digits <= 9).
void AppendFraction(int64_t fraction, int digits, std::string* out) {
  char buf[16];
  buf[0] = '.';
  for (int i = digits; i >= 1; --i, fraction /= 10) buf[i] = char('0' + fraction % 10);
  out->append(buf, static_cast<size_t>(digits) + 1);
}

void AppendDate(int64_t days, std::string* out) {
  using namespace std::chrono;
  const year_month_day ymd{sys_days{std::chrono::days{days}}};
  char buf[32];
  const int n = std::snprintf(buf, sizeof(buf), "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                              static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  out->append(buf, static_cast<size_t>(n));
}

void AppendTimestamp(int64_t value, arrow::TimeUnit::type unit, bool utc, std::string* out) {
  static constexpr int64_t kPerSecond[] = {1, 1000, 1000000, 1000000000};
  static constexpr int kDigits[] = {0, 3, 6, 9};
  const int64_t per_second = kPerSecond[static_cast<int>(unit)];
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
  out->push_back('"');
  AppendDate(days, out);
  char buf[32];
  const int n = std::snprintf(buf, sizeof(buf), "T%02lld:%02lld:%02lld", static_cast<long long>(rem / 3600),
                              static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60));
  out->append(buf, static_cast<size_t>(n));
  if (kDigits[static_cast<int>(unit)] > 0) AppendFraction(fraction, kDigits[static_cast<int>(unit)], out);
  if (utc) out->push_back('Z');
  out->push_back('"');
}

void AppendTimeOfDay(int64_t value, int64_t per_second, int digits, std::string* out) {
  const int64_t seconds = value / per_second;
  char buf[48];
  const int n = std::snprintf(buf, sizeof(buf), "\"%02lld:%02lld:%02lld", static_cast<long long>(seconds / 3600),
                              static_cast<long long>(seconds / 60 % 60), static_cast<long long>(seconds % 60));
  out->append(buf, static_cast<size_t>(n));
  if (digits > 0) AppendFraction(value % per_second, digits, out);
  out->push_back('"');
}

bool IsJsonField(const arrow::Field& field) {
  auto metadata = field.metadata();
  if (!metadata) return false;
  auto value = metadata->Get("laminar.type");
  return value.ok() && *value == "json";
}

arrow::Status AppendValue(const arrow::Array& array, int64_t i, const arrow::Field& field, std::string* out) {
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
      if (IsJsonField(field)) {
        out->append(view.data(), view.size());
      } else {
        AppendJsonString(view, out);
      }
      break;
    }
    case arrow::Type::LARGE_STRING: {
      auto view = static_cast<const arrow::LargeStringArray&>(array).GetView(i);
      if (IsJsonField(field)) {
        out->append(view.data(), view.size());
      } else {
        AppendJsonString(view, out);
      }
      break;
    }
    case arrow::Type::BINARY: AppendBase64(static_cast<const arrow::BinaryArray&>(array).GetView(i), out); break;
    case arrow::Type::LARGE_BINARY:
      AppendBase64(static_cast<const arrow::LargeBinaryArray&>(array).GetView(i), out);
      break;
    case arrow::Type::DECIMAL128:
      AppendJsonString(static_cast<const arrow::Decimal128Array&>(array).FormatValue(i), out);
      break;
    case arrow::Type::DATE32:
      out->push_back('"');
      AppendDate(static_cast<const arrow::Date32Array&>(array).Value(i), out);
      out->push_back('"');
      break;
    case arrow::Type::DATE64: {
      const int64_t ms = static_cast<const arrow::Date64Array&>(array).Value(i);
      out->push_back('"');
      AppendDate(ms >= 0 ? ms / 86400000 : -((-ms - 1) / 86400000) - 1, out);
      out->push_back('"');
      break;
    }
    case arrow::Type::TIME32: {
      const bool millis = static_cast<const arrow::Time32Type&>(*array.type()).unit() == arrow::TimeUnit::MILLI;
      AppendTimeOfDay(static_cast<const arrow::Time32Array&>(array).Value(i), millis ? 1000 : 1, millis ? 3 : 0, out);
      break;
    }
    case arrow::Type::TIME64: {
      const bool nanos = static_cast<const arrow::Time64Type&>(*array.type()).unit() == arrow::TimeUnit::NANO;
      AppendTimeOfDay(static_cast<const arrow::Time64Array&>(array).Value(i), nanos ? 1000000000 : 1000000,
                      nanos ? 9 : 6, out);
      break;
    }
    case arrow::Type::TIMESTAMP: {
      const auto& type = static_cast<const arrow::TimestampType&>(*array.type());
      AppendTimestamp(static_cast<const arrow::TimestampArray&>(array).Value(i), type.unit(), !type.timezone().empty(),
                      out);
      break;
    }
    case arrow::Type::LIST: {
      const auto& list = static_cast<const arrow::ListArray&>(array);
      const auto& item = *list.list_type()->value_field();
      out->push_back('[');
      const auto& values = *list.values();
      for (int32_t j = list.value_offset(i); j < list.value_offset(i + 1); ++j) {
        if (j > list.value_offset(i)) out->push_back(',');
        ARROW_RETURN_NOT_OK(AppendValue(values, j, item, out));
      }
      out->push_back(']');
      break;
    }
    case arrow::Type::STRUCT: {
      const auto& st = static_cast<const arrow::StructArray&>(array);
      out->push_back('{');
      for (int f = 0; f < st.num_fields(); ++f) {
        if (f > 0) out->push_back(',');
        const auto& child = *st.struct_type()->field(f);
        AppendJsonString(child.name(), out);
        out->push_back(':');
        ARROW_RETURN_NOT_OK(AppendValue(*st.field(f), i, child, out));
      }
      out->push_back('}');
      break;
    }
    default:
      return arrow::Status::NotImplemented("JSON encoding of type ", array.type()->ToString(), " (column '",
                                           field.name(), "')");
  }
  return arrow::Status::OK();
}

}  // namespace

void AppendJsonString(std::string_view text, std::string* out) {
  out->push_back('"');
  size_t run = 0;  // start of the pending run of bytes that need no escaping
  for (size_t k = 0; k < text.size(); ++k) {
    const unsigned char c = static_cast<unsigned char>(text[k]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(text.data() + run, k - run);
    run = k + 1;
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        out->append(buf);
      }
    }
  }
  out->append(text.data() + run, text.size() - run);
  out->push_back('"');
}

JsonRowWriter::JsonRowWriter(const arrow::Schema& schema) {
  for (const auto& field : schema.fields()) {
    std::string key;
    AppendJsonString(field->name(), &key);
    keys_.push_back(key + ":");
  }
}

arrow::Status JsonRowWriter::AppendRow(const arrow::RecordBatch& batch, int64_t row, std::string* out) const {
  const auto& schema = *batch.schema();
  out->push_back('{');
  for (int c = 0; c < batch.num_columns(); ++c) {
    if (c > 0) out->push_back(',');
    if (static_cast<size_t>(c) < keys_.size()) {
      out->append(keys_[static_cast<size_t>(c)]);
    } else {
      AppendJsonString(schema.field(c)->name(), out);
      out->push_back(':');
    }
    auto status = AppendValue(*batch.column(c), row, *schema.field(c), out);
    if (!status.ok()) return status.WithMessage("row ", row, ": ", status.message());
  }
  out->push_back('}');
  return arrow::Status::OK();
}

}  // namespace laminar::serde
