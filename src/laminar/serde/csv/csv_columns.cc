#include <arrow/api.h>
#include <arrow/util/decimal.h>
#include <arrow/util/utf8.h>

#include <limits>

#include "laminar/core/status.h"
#include "laminar/serde/csv/csv_columns_internal.h"
#include "laminar/serde/csv/text_values.h"

namespace laminar::serde {

// One column: parse into a pending slot, then append it (or a null).
class CsvColumn {
 public:
  virtual ~CsvColumn() = default;
  // False with *error saying what was wrong (the caller adds the column name).
  virtual bool Parse(std::string_view text, std::string* error) = 0;
  // Append* may assume Reserve made room for the row (fixed-width builders append unchecked).
  virtual arrow::Status AppendPending() = 0;
  virtual arrow::Status AppendNull() = 0;
  virtual arrow::Status Reserve(int64_t rows) = 0;
  virtual arrow::Result<std::shared_ptr<arrow::Array>> Finish() = 0;
};

namespace {

// The value as shown in an error: at most 40 bytes, so a huge field never floods a log.
std::string Shown(std::string_view text) {
  constexpr size_t kMax = 40;
  if (text.size() <= kMax) return "'" + std::string(text) + "'";
  return "'" + std::string(text.substr(0, kMax)) + "...'";
}

template <typename Builder>
class BuilderColumn : public CsvColumn {
 public:
  explicit BuilderColumn(std::shared_ptr<arrow::DataType> type)
      : builder_(std::move(type), arrow::default_memory_pool()) {}
  arrow::Status AppendNull() override {
    builder_.UnsafeAppendNull();
    return arrow::Status::OK();
  }
  arrow::Status Reserve(int64_t rows) override { return builder_.Reserve(rows); }
  arrow::Result<std::shared_ptr<arrow::Array>> Finish() override {
    std::shared_ptr<arrow::Array> out;
    ARROW_RETURN_NOT_OK(builder_.Finish(&out));
    return out;
  }

 protected:
  Builder builder_;
};

template <typename ArrowType>
class IntColumn : public BuilderColumn<typename arrow::TypeTraits<ArrowType>::BuilderType> {
  using C = typename ArrowType::c_type;

 public:
  using BuilderColumn<typename arrow::TypeTraits<ArrowType>::BuilderType>::BuilderColumn;
  bool Parse(std::string_view raw, std::string* error) override {
    const std::string_view text = TrimBlanks(raw);
    if constexpr (std::is_signed_v<C>) {
      auto v = ParseInt64Text(text);
      if (!v) return Fail(raw, error);
      if (*v < std::numeric_limits<C>::min() || *v > std::numeric_limits<C>::max()) return Range(raw, error);
      pending_ = static_cast<C>(*v);
    } else {
      auto v = ParseUInt64Text(text);
      if (!v) return Fail(raw, error);
      if (*v > std::numeric_limits<C>::max()) return Range(raw, error);
      pending_ = static_cast<C>(*v);
    }
    return true;
  }
  arrow::Status AppendPending() override {
    this->builder_.UnsafeAppend(pending_);
    return arrow::Status::OK();
  }

 private:
  bool Fail(std::string_view raw, std::string* error) {
    *error = Shown(raw) + " is not a valid " + ArrowType::type_name();
    return false;
  }
  bool Range(std::string_view raw, std::string* error) {
    *error = Shown(raw) + " is out of range for " + ArrowType::type_name();
    return false;
  }
  C pending_{};
};

template <typename ArrowType>
class FloatColumn : public BuilderColumn<typename arrow::TypeTraits<ArrowType>::BuilderType> {
  using C = typename ArrowType::c_type;

 public:
  using BuilderColumn<typename arrow::TypeTraits<ArrowType>::BuilderType>::BuilderColumn;
  bool Parse(std::string_view raw, std::string* error) override {
    std::optional<C> v;
    if constexpr (std::is_same_v<C, float>) {
      v = ParseFloatText(TrimBlanks(raw));
    } else {
      v = ParseDoubleText(TrimBlanks(raw));
    }
    if (!v) {
      *error = Shown(raw) + " is not a valid " + ArrowType::type_name() + " (or is out of its range)";
      return false;
    }
    pending_ = *v;
    return true;
  }
  arrow::Status AppendPending() override {
    this->builder_.UnsafeAppend(pending_);
    return arrow::Status::OK();
  }

 private:
  C pending_{};
};

class BoolColumn : public BuilderColumn<arrow::BooleanBuilder> {
 public:
  BoolColumn() : BuilderColumn(arrow::boolean()) {}
  bool Parse(std::string_view raw, std::string* error) override {
    auto v = ParseBoolText(TrimBlanks(raw));
    if (!v) {
      *error = Shown(raw) + " is not a boolean (true/t/yes/y/1 or false/f/no/n/0)";
      return false;
    }
    pending_ = *v;
    return true;
  }
  arrow::Status AppendPending() override {
    builder_.UnsafeAppend(pending_);
    return arrow::Status::OK();
  }

 private:
  bool pending_ = false;
};

class DecimalColumn : public BuilderColumn<arrow::Decimal128Builder> {
 public:
  explicit DecimalColumn(std::shared_ptr<arrow::DataType> type)
      : BuilderColumn(type),
        precision_(static_cast<const arrow::Decimal128Type&>(*type).precision()),
        scale_(static_cast<const arrow::Decimal128Type&>(*type).scale()) {}
  bool Parse(std::string_view raw, std::string* error) override {
    const std::string_view text = TrimBlanks(raw);
    arrow::Decimal128 value;
    int32_t precision = 0, scale = 0;
    if (text.empty() || !arrow::Decimal128::FromString(text, &value, &precision, &scale).ok()) {
      *error = Shown(raw) + " is not a valid decimal";
      return false;
    }
    if (scale != scale_) {
      auto rescaled = value.Rescale(scale, scale_);
      if (!rescaled.ok()) {
        *error = Shown(raw) + " has more than " + std::to_string(scale_) + " fraction digits (no rounding)";
        return false;
      }
      value = *rescaled;
    }
    if (!value.FitsInPrecision(precision_)) {
      *error = Shown(raw) + " does not fit decimal(" + std::to_string(precision_) + ", " + std::to_string(scale_) + ")";
      return false;
    }
    pending_ = value;
    return true;
  }
  arrow::Status AppendPending() override {
    builder_.UnsafeAppend(pending_);
    return arrow::Status::OK();
  }

 private:
  int32_t precision_;
  int32_t scale_;
  arrow::Decimal128 pending_;
};

template <typename Builder, bool kUtf8>
class BytesColumn : public BuilderColumn<Builder> {
 public:
  using BuilderColumn<Builder>::BuilderColumn;
  bool Parse(std::string_view raw, std::string* error) override {
    if constexpr (kUtf8) {
      if (!arrow::util::ValidateUTF8(raw)) {
        // Say where the bad bytes start (found by bisection), never echo them.
        size_t lo = 0, hi = raw.size();  // raw[0, lo) is valid, raw[0, hi) is not
        while (hi - lo > 1) {
          const size_t mid = lo + (hi - lo) / 2;
          (arrow::util::ValidateUTF8(raw.substr(0, mid)) ? lo : hi) = mid;
        }
        *error = "invalid UTF-8 near byte " + std::to_string(lo) + " of the field";
        return false;
      }
    }
    pending_ = raw;
    return true;
  }
  // Checked: the value bytes may outgrow the reserved data buffer.
  arrow::Status AppendPending() override { return this->builder_.Append(pending_); }

 private:
  std::string_view pending_;
};

class DateColumn : public BuilderColumn<arrow::Date32Builder> {
 public:
  explicit DateColumn(DateTimePattern pattern) : BuilderColumn(arrow::date32()), pattern_(std::move(pattern)) {}
  bool Parse(std::string_view raw, std::string* error) override {
    const std::string_view text = TrimBlanks(raw);
    std::optional<int64_t> days;
    if (auto t = pattern_.Parse(text)) {
      days = t->seconds >= 0 ? t->seconds / 86400 : (t->seconds - 86399) / 86400;
    } else if (auto d = ParseIsoDate(text)) {
      days = *d;
    }
    if (!days || *days < std::numeric_limits<int32_t>::min() || *days > std::numeric_limits<int32_t>::max()) {
      *error = Shown(raw) + " is not a date (format '" + pattern_.text() + "' or YYYY-MM-DD)";
      return false;
    }
    pending_ = static_cast<int32_t>(*days);
    return true;
  }
  arrow::Status AppendPending() override {
    builder_.UnsafeAppend(pending_);
    return arrow::Status::OK();
  }

 private:
  DateTimePattern pattern_;
  int32_t pending_ = 0;
};

template <typename ArrowType>
class TimeColumn : public BuilderColumn<typename arrow::TypeTraits<ArrowType>::BuilderType> {
  using C = typename ArrowType::c_type;

 public:
  explicit TimeColumn(std::shared_ptr<arrow::DataType> type)
      : BuilderColumn<typename arrow::TypeTraits<ArrowType>::BuilderType>(type),
        unit_(static_cast<const ArrowType&>(*type).unit()) {}
  bool Parse(std::string_view raw, std::string* error) override {
    auto nanos = ParseTimeOfDayNanos(TrimBlanks(raw));
    int64_t divisor = 1;
    switch (unit_) {
      case arrow::TimeUnit::SECOND:
        divisor = 1000000000;
        break;
      case arrow::TimeUnit::MILLI:
        divisor = 1000000;
        break;
      case arrow::TimeUnit::MICRO:
        divisor = 1000;
        break;
      case arrow::TimeUnit::NANO:
        divisor = 1;
        break;
    }
    if (!nanos) {
      *error = Shown(raw) + " is not a time of day (HH:MM[:SS[.fraction]])";
      return false;
    }
    if (*nanos % divisor != 0) {
      *error = Shown(raw) + " is finer than the column's unit";
      return false;
    }
    pending_ = static_cast<C>(*nanos / divisor);
    return true;
  }
  arrow::Status AppendPending() override {
    this->builder_.UnsafeAppend(pending_);
    return arrow::Status::OK();
  }

 private:
  arrow::TimeUnit::type unit_;
  C pending_{};
};

class TimestampColumn : public BuilderColumn<arrow::TimestampBuilder> {
 public:
  TimestampColumn(std::shared_ptr<arrow::DataType> type, DateTimePattern pattern)
      : BuilderColumn(type),
        unit_(static_cast<const arrow::TimestampType&>(*type).unit()),
        pattern_(std::move(pattern)) {}
  bool Parse(std::string_view raw, std::string* error) override {
    const std::string_view text = TrimBlanks(raw);
    std::optional<EpochTime> t = pattern_.Parse(text);
    if (!t) t = ParseIsoTimestamp(text);
    if (!t) {
      *error = Shown(raw) + " is not a timestamp (format '" + pattern_.text() + "' or ISO-8601)";
      return false;
    }
    auto v = ToUnit(*t, unit_);
    if (!v) {
      *error = Shown(raw) + " does not fit " + arrow::TimestampType(unit_).ToString() +
               " (out of range or finer than the unit)";
      return false;
    }
    pending_ = *v;
    return true;
  }
  arrow::Status AppendPending() override {
    builder_.UnsafeAppend(pending_);
    return arrow::Status::OK();
  }

 private:
  arrow::TimeUnit::type unit_;
  DateTimePattern pattern_;
  int64_t pending_ = 0;
};

arrow::Result<std::unique_ptr<CsvColumn>> MakeColumn(const arrow::Field& field, const DateTimePattern& ts_pattern,
                                                     const DateTimePattern& date_pattern) {
  const auto& type = field.type();
  switch (type->id()) {
    case arrow::Type::BOOL:
      return std::make_unique<BoolColumn>();
    case arrow::Type::INT8:
      return std::make_unique<IntColumn<arrow::Int8Type>>(type);
    case arrow::Type::INT16:
      return std::make_unique<IntColumn<arrow::Int16Type>>(type);
    case arrow::Type::INT32:
      return std::make_unique<IntColumn<arrow::Int32Type>>(type);
    case arrow::Type::INT64:
      return std::make_unique<IntColumn<arrow::Int64Type>>(type);
    case arrow::Type::UINT8:
      return std::make_unique<IntColumn<arrow::UInt8Type>>(type);
    case arrow::Type::UINT16:
      return std::make_unique<IntColumn<arrow::UInt16Type>>(type);
    case arrow::Type::UINT32:
      return std::make_unique<IntColumn<arrow::UInt32Type>>(type);
    case arrow::Type::UINT64:
      return std::make_unique<IntColumn<arrow::UInt64Type>>(type);
    case arrow::Type::FLOAT:
      return std::make_unique<FloatColumn<arrow::FloatType>>(type);
    case arrow::Type::DOUBLE:
      return std::make_unique<FloatColumn<arrow::DoubleType>>(type);
    case arrow::Type::DECIMAL128:
      return std::make_unique<DecimalColumn>(type);
    case arrow::Type::STRING:
      return std::make_unique<BytesColumn<arrow::StringBuilder, true>>(type);
    case arrow::Type::LARGE_STRING:
      return std::make_unique<BytesColumn<arrow::LargeStringBuilder, true>>(type);
    case arrow::Type::BINARY:
      return std::make_unique<BytesColumn<arrow::BinaryBuilder, false>>(type);
    case arrow::Type::LARGE_BINARY:
      return std::make_unique<BytesColumn<arrow::LargeBinaryBuilder, false>>(type);
    case arrow::Type::DATE32:
      return std::make_unique<DateColumn>(date_pattern);
    case arrow::Type::TIME32:
      return std::make_unique<TimeColumn<arrow::Time32Type>>(type);
    case arrow::Type::TIME64:
      return std::make_unique<TimeColumn<arrow::Time64Type>>(type);
    case arrow::Type::TIMESTAMP:
      return std::make_unique<TimestampColumn>(type, ts_pattern);
    default:
      break;
  }
  return nullptr;
}

}  // namespace

CsvRowBuilder::~CsvRowBuilder() = default;

arrow::Result<std::unique_ptr<CsvRowBuilder>> CsvRowBuilder::Make(std::shared_ptr<arrow::Schema> schema,
                                                                  const CsvOptions& options, const std::string& where) {
  if (!schema || schema->num_fields() == 0) {
    return ConfigError(where, "format 'csv' needs declared columns (CSV carries no types)");
  }
  auto ts = DateTimePattern::Compile(options.timestamp_format);
  if (!ts.ok()) return ConfigError(where, "option 'format.timestamp_format': " + ts.status().message());
  auto date = DateTimePattern::Compile(options.date_format);
  if (!date.ok()) return ConfigError(where, "option 'format.date_format': " + date.status().message());
  arrow::util::InitializeUTF8();  // ValidateUTF8's tables; idempotent
  std::unique_ptr<CsvRowBuilder> out(new CsvRowBuilder());
  out->schema_ = schema;
  out->options_ = options;
  for (const auto& field : schema->fields()) {
    ARROW_ASSIGN_OR_RAISE(auto column, MakeColumn(*field, *ts, *date));
    if (!column) {
      const bool nested = arrow::is_nested(field->type()->id());
      return ConfigError(where, "format 'csv' cannot hold column '" + field->name() + "' of type " +
                                    field->type()->ToString() +
                                    (nested ? " (nested types need a format such as json or avro)" : ""));
    }
    out->columns_.push_back(std::move(column));
  }
  out->pending_null_.resize(out->columns_.size());
  return out;
}

arrow::Result<RowOutcome> CsvRowBuilder::AddRow(std::span<const CsvField> fields, std::string* error) {
  const size_t ncols = columns_.size();
  if (fields.size() != ncols) {
    switch (options_.field_count_mismatch) {
      case FieldCountMismatch::kReject:
        *error = "field count mismatch: expected " + std::to_string(ncols) + ", got " + std::to_string(fields.size());
        return RowOutcome::kError;
      case FieldCountMismatch::kSkip:
        return RowOutcome::kSkipped;
      case FieldCountMismatch::kNull:
        break;
    }
  }
  for (size_t i = 0; i < ncols; ++i) {
    const arrow::Field& field = *schema_->field(static_cast<int>(i));
    const bool is_null = i >= fields.size() || (!fields[i].quoted && fields[i].text == options_.null_string);
    if (is_null) {
      if (!field.nullable()) {
        *error = "column '" + field.name() + "' is NOT NULL but the value is null";
        return RowOutcome::kError;
      }
      pending_null_[i] = 1;
      continue;
    }
    pending_null_[i] = 0;
    std::string why;
    if (!columns_[i]->Parse(fields[i].text, &why)) {
      *error = "column '" + field.name() + "': " + why;
      return RowOutcome::kError;
    }
  }
  if (num_rows_ == reserved_) {
    constexpr int64_t kBlock = 1024;
    for (auto& column : columns_) ARROW_RETURN_NOT_OK(column->Reserve(kBlock));
    reserved_ += kBlock;
  }
  for (size_t i = 0; i < ncols; ++i) {
    ARROW_RETURN_NOT_OK(pending_null_[i] ? columns_[i]->AppendNull() : columns_[i]->AppendPending());
  }
  ++num_rows_;
  return RowOutcome::kAppended;
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> CsvRowBuilder::Flush() {
  std::vector<std::shared_ptr<arrow::Array>> arrays;
  arrays.reserve(columns_.size());
  for (auto& column : columns_) {
    ARROW_ASSIGN_OR_RAISE(auto array, column->Finish());
    arrays.push_back(std::move(array));
  }
  auto batch = arrow::RecordBatch::Make(schema_, num_rows_, std::move(arrays));
  num_rows_ = 0;
  reserved_ = 0;
  return batch;
}

}  // namespace laminar::serde
