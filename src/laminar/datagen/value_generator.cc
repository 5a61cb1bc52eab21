// The datagen value generators: integers, floats, decimals, strings, JSON text, lists and
// structs, plus the parsing of min/max/start/end/values into the column type.
#include "laminar/datagen/value_generator_internal.h"

#include <arrow/api.h>
#include <arrow/array/data.h>
#include <arrow/extension_type.h>
#include <arrow/util/decimal.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "laminar/core/config.h"
#include "laminar/core/status.h"

namespace laminar::datagen {

namespace {

constexpr int64_t kDefaultStringLength = 10;
constexpr int64_t kDefaultListLength = 3;

uint64_t Fnv1a(std::string_view text) {
  uint64_t hash = 0xCBF29CE484222325ULL;
  for (unsigned char c : text) hash = (hash ^ c) * 0x100000001B3ULL;
  return hash;
}

// The stream of a column or nested path; the name (not the position) keys it, so adding a
// column leaves the others' data unchanged.
uint64_t StreamFor(uint64_t seed, const std::string& path) {
  return Mix64(Mix64(seed + kGolden) ^ Fnv1a(path));
}

constexpr char kAlphanumeric[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

// Errors about `fields.<column>.<option>`, naming the key.
class OptionErrors {
 public:
  explicit OptionErrors(std::string where) : where_(std::move(where)) {}
  arrow::Status Bad(const std::string& column, const std::string& option, const std::string& message) const {
    return ConfigError(where_, "option 'fields." + column + "." + option + "' " + message);
  }
  const std::string& where() const { return where_; }

 private:
  std::string where_;
};

std::string Trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

}  // namespace

bool IsJsonField(const arrow::Field& field) {
  if (field.type()->id() == arrow::Type::EXTENSION &&
      static_cast<const arrow::ExtensionType&>(*field.type()).extension_name() == "arrow.json") {
    return true;
  }
  if (!field.metadata()) return false;
  auto tag = field.metadata()->Get("laminar.type");
  return tag.ok() && (*tag == "json" || *tag == "jsonb");
}

namespace {

// Integers and the integer-backed temporal types: uniform in [min, max], or start + row for
// a sequence. Bounds are kept as two's-complement offsets so one code path serves signed
// and unsigned widths.
template <typename ArrowType>
class IntegerGenerator : public ColumnGenerator {
 public:
  using T = typename ArrowType::c_type;
  using Builder = typename arrow::TypeTraits<ArrowType>::BuilderType;

  IntegerGenerator(arrow::ArrayBuilder* builder, uint64_t stream, double null_rate, T min, T max,
                   bool sequence)
      : ColumnGenerator(builder, stream, null_rate),
        typed_(static_cast<Builder*>(builder)),
        min_(static_cast<uint64_t>(min)),
        span_(static_cast<uint64_t>(max) - static_cast<uint64_t>(min) + 1),
        sequence_(sequence) {}

  arrow::Status AppendRows(int64_t first_row, int64_t count) override {
    ARROW_RETURN_NOT_OK(typed_->Reserve(count));
    for (int64_t i = 0; i < count; ++i) {
      const auto row = static_cast<uint64_t>(first_row + i);
      if (IsNull(row)) {
        typed_->UnsafeAppendNull();
      } else {
        typed_->UnsafeAppend(ValueAt(row));
      }
    }
    return arrow::Status::OK();
  }

  std::optional<int64_t> sequence_rows() const override {
    if (!sequence_) return std::nullopt;
    // span_ 0 stands for 2^64 values; either way more rows than an int64 can count.
    if (span_ == 0 || span_ > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return std::numeric_limits<int64_t>::max();
    }
    return static_cast<int64_t>(span_);
  }

 protected:
  arrow::Status AppendValue(uint64_t cell) override { return typed_->Append(ValueAt(cell)); }

 private:
  T ValueAt(uint64_t cell) const {
    const uint64_t offset = sequence_ ? cell : Below(Draw(stream_, cell, kSaltValue), span_);
    return static_cast<T>(min_ + offset);
  }

  Builder* typed_;
  uint64_t min_;
  uint64_t span_;  // max - min + 1; 0 means the whole 64-bit range
  bool sequence_;
};

template <typename ArrowType>
class FloatGenerator : public ColumnGenerator {
 public:
  using T = typename ArrowType::c_type;
  using Builder = typename arrow::TypeTraits<ArrowType>::BuilderType;

  FloatGenerator(arrow::ArrayBuilder* builder, uint64_t stream, double null_rate, double min, double max)
      : ColumnGenerator(builder, stream, null_rate),
        typed_(static_cast<Builder*>(builder)),
        min_(min),
        width_(max - min) {}

  arrow::Status AppendRows(int64_t first_row, int64_t count) override {
    ARROW_RETURN_NOT_OK(typed_->Reserve(count));
    for (int64_t i = 0; i < count; ++i) {
      const auto row = static_cast<uint64_t>(first_row + i);
      if (IsNull(row)) {
        typed_->UnsafeAppendNull();
      } else {
        typed_->UnsafeAppend(ValueAt(row));
      }
    }
    return arrow::Status::OK();
  }

 protected:
  arrow::Status AppendValue(uint64_t cell) override { return typed_->Append(ValueAt(cell)); }

 private:
  T ValueAt(uint64_t cell) const {
    return static_cast<T>(min_ + UnitInterval(Draw(stream_, cell, kSaltValue)) * width_);
  }

  Builder* typed_;
  double min_;
  double width_;
};

class BooleanGenerator : public ColumnGenerator {
 public:
  using ColumnGenerator::ColumnGenerator;

 protected:
  arrow::Status AppendValue(uint64_t cell) override {
    return static_cast<arrow::BooleanBuilder*>(builder_)->Append((Draw(stream_, cell, kSaltValue) >> 63) !=
                                                                 0);
  }
};

inline __int128 ToInt128(const arrow::Decimal128& value) {
  const auto high = static_cast<unsigned __int128>(static_cast<uint64_t>(value.high_bits()));
  return static_cast<__int128>((high << 64) | value.low_bits());
}

// Unscaled values uniform in [min, max]; 128-bit because precision goes up to 38 digits.
class DecimalGenerator : public ColumnGenerator {
 public:
  DecimalGenerator(arrow::ArrayBuilder* builder, uint64_t stream, double null_rate, __int128 min,
                   __int128 max)
      : ColumnGenerator(builder, stream, null_rate),
        min_(min),
        // Unsigned: max - min of decimal(38) overflows a signed 128-bit integer.
        span_(static_cast<unsigned __int128>(max) - static_cast<unsigned __int128>(min) + 1) {}

 protected:
  arrow::Status AppendValue(uint64_t cell) override {
    const unsigned __int128 random = (static_cast<unsigned __int128>(Draw(stream_, cell, kSaltValue)) << 64) |
                                     Draw(stream_, cell, kSaltValue2);
    const auto value = static_cast<__int128>(static_cast<unsigned __int128>(min_) + random % span_);
    const auto bits = static_cast<unsigned __int128>(value);
    return static_cast<arrow::Decimal128Builder*>(builder_)->Append(arrow::Decimal128(
        static_cast<int64_t>(static_cast<uint64_t>(bits >> 64)), static_cast<uint64_t>(bits)));
  }

 private:
  __int128 min_;
  unsigned __int128 span_;
};

// Writes `length` random bytes (text: alphanumeric characters) for `cell` into `out`.
void FillRandom(uint64_t stream, uint64_t cell, bool text, int64_t length, char* out) {
  uint64_t word_index = 0;
  if (text) {
    // Ten base-62 digits per 64-bit word, peeled off by multiply-high.
    for (int64_t k = 0; k < length;) {
      uint64_t x = Draw(stream, cell, kSaltWord + word_index++);
      for (int digit = 0; digit < 10 && k < length; ++digit, ++k) {
        const unsigned __int128 product = static_cast<unsigned __int128>(x) * 62;
        out[k] = kAlphanumeric[static_cast<uint64_t>(product >> 64)];
        x = static_cast<uint64_t>(product);
      }
    }
    return;
  }
  for (int64_t k = 0; k < length; k += 8) {
    const uint64_t x = Draw(stream, cell, kSaltWord + word_index++);
    std::memcpy(out + k, &x, static_cast<size_t>(std::min<int64_t>(8, length - k)));
  }
}

enum class StringMode { kText, kBytes, kJson };

// utf8 / binary and their large variants: `length` characters (or bytes), or a small JSON
// object for JSON-tagged columns.
template <typename Builder>
class StringGenerator : public ColumnGenerator {
 public:
  StringGenerator(arrow::ArrayBuilder* builder, uint64_t stream, double null_rate, StringMode mode,
                  int64_t length)
      : ColumnGenerator(builder, stream, null_rate),
        typed_(static_cast<Builder*>(builder)),
        mode_(mode),
        length_(length) {}

  arrow::Status AppendRows(int64_t first_row, int64_t count) override {
    const int64_t per_row = length_ + (mode_ == StringMode::kJson ? 64 : 0);
    ARROW_RETURN_NOT_OK(typed_->ReserveData(per_row * count));
    return ColumnGenerator::AppendRows(first_row, count);
  }

 protected:
  arrow::Status AppendValue(uint64_t cell) override {
    if (mode_ != StringMode::kJson) {
      scratch_.resize(static_cast<size_t>(length_));
      FillRandom(stream_, cell, mode_ == StringMode::kText, length_, scratch_.data());
      return typed_->Append(scratch_.data(), static_cast<int64_t>(scratch_.size()));
    }
    const uint64_t score = Below(Draw(stream_, cell, kSaltValue2), 100000);
    const char cents[3] = {static_cast<char>('0' + score % 100 / 10), static_cast<char>('0' + score % 10), 0};
    scratch_ = "{\"id\":" + std::to_string(Below(Draw(stream_, cell, kSaltValue), 1000000)) + ",\"name\":\"";
    const size_t name_at = scratch_.size();
    scratch_.resize(name_at + static_cast<size_t>(length_));
    FillRandom(stream_, cell, true, length_, scratch_.data() + name_at);
    scratch_ += "\",\"score\":" + std::to_string(score / 100) + "." + cents +
                ",\"active\":" + ((Draw(stream_, cell, kSaltValue3) >> 63) != 0 ? "true" : "false") + "}";
    return typed_->Append(scratch_.data(), static_cast<int64_t>(scratch_.size()));
  }

 private:
  Builder* typed_;
  StringMode mode_;
  int64_t length_;
  std::string scratch_;  // reused so a row costs no allocation
};

class FixedSizeBinaryGenerator : public ColumnGenerator {
 public:
  FixedSizeBinaryGenerator(arrow::ArrayBuilder* builder, uint64_t stream, double null_rate)
      : ColumnGenerator(builder, stream, null_rate),
        typed_(static_cast<arrow::FixedSizeBinaryBuilder*>(builder)),
        scratch_(static_cast<size_t>(typed_->byte_width()), '\0') {}

 protected:
  arrow::Status AppendValue(uint64_t cell) override {
    FillRandom(stream_, cell, false, typed_->byte_width(), scratch_.data());
    return typed_->Append(scratch_.data());
  }

 private:
  arrow::FixedSizeBinaryBuilder* typed_;
  std::string scratch_;
};

// Draws from a fixed list (`fields.<col>.values`), held as an array of the column type.
class ValuesGenerator : public ColumnGenerator {
 public:
  ValuesGenerator(arrow::ArrayBuilder* builder, uint64_t stream, double null_rate,
                  std::shared_ptr<arrow::Array> values)
      : ColumnGenerator(builder, stream, null_rate), values_(std::move(values)), span_(*values_->data()) {}

 protected:
  arrow::Status AppendValue(uint64_t cell) override {
    const auto index = Below(Draw(stream_, cell, kSaltValue), static_cast<uint64_t>(values_->length()));
    return builder_->AppendArraySlice(span_, static_cast<int64_t>(index), 1);
  }

 private:
  std::shared_ptr<arrow::Array> values_;
  arrow::ArraySpan span_;
};

// list / large_list (fixed `length` elements) and fixed_size_list (its declared size).
template <typename Builder>
class ListGenerator : public ColumnGenerator {
 public:
  ListGenerator(arrow::ArrayBuilder* builder, uint64_t stream, double null_rate,
                std::unique_ptr<ColumnGenerator> element, int64_t length)
      : ColumnGenerator(builder, stream, null_rate), element_(std::move(element)), length_(length) {}

 protected:
  arrow::Status AppendValue(uint64_t cell) override {
    ARROW_RETURN_NOT_OK(static_cast<Builder*>(builder_)->Append());
    for (int64_t j = 0; j < length_; ++j) {
      ARROW_RETURN_NOT_OK(element_->Append(Draw(stream_, cell, kSaltElement + static_cast<uint64_t>(j))));
    }
    return arrow::Status::OK();
  }

 private:
  std::unique_ptr<ColumnGenerator> element_;
  int64_t length_;
};

class StructGenerator : public ColumnGenerator {
 public:
  StructGenerator(arrow::ArrayBuilder* builder, uint64_t stream, double null_rate,
                  std::vector<std::unique_ptr<ColumnGenerator>> children)
      : ColumnGenerator(builder, stream, null_rate), children_(std::move(children)) {}

 protected:
  arrow::Status AppendValue(uint64_t cell) override {
    for (auto& child : children_) ARROW_RETURN_NOT_OK(child->Append(cell));
    return static_cast<arrow::StructBuilder*>(builder_)->Append();
  }

 private:
  std::vector<std::unique_ptr<ColumnGenerator>> children_;
};

template <typename ArrowType>
arrow::Result<typename ArrowType::c_type> ParseIntegerLike(const std::shared_ptr<arrow::DataType>& type,
                                                           const std::string& text) {
  using T = typename ArrowType::c_type;
  if constexpr (std::is_unsigned_v<T>) {
    auto parsed = ParseUInt64(text);
    if (parsed.ok() && *parsed <= std::numeric_limits<T>::max()) return static_cast<T>(*parsed);
  } else {
    auto parsed = ParseInt64(text);
    if (parsed.ok() && *parsed >= std::numeric_limits<T>::min() && *parsed <= std::numeric_limits<T>::max()) {
      return static_cast<T>(*parsed);
    }
  }
  if constexpr (arrow::is_temporal_type<ArrowType>::value) {
    // Dates, times and timestamps also take ISO text.
    auto scalar = arrow::Scalar::Parse(type, text);
    if (scalar.ok()) {
      return static_cast<const typename arrow::TypeTraits<ArrowType>::ScalarType&>(**scalar).value;
    }
  }
  return arrow::Status::Invalid("'", text, "' is not a valid ", type->ToString(), " value");
}

arrow::Result<arrow::Decimal128> ParseDecimal(const arrow::Decimal128Type& type, const std::string& text) {
  arrow::Decimal128 value;
  int32_t precision = 0;
  int32_t scale = 0;
  const auto invalid = [&] {
    return arrow::Status::Invalid("'", text, "' is not a valid ", type.ToString(), " value");
  };
  if (!arrow::Decimal128::FromString(text, &value, &precision, &scale).ok()) return invalid();
  if (scale != type.scale()) {
    auto rescaled = value.Rescale(scale, type.scale());
    if (!rescaled.ok()) return invalid();
    value = *rescaled;
  }
  if (!value.FitsInPrecision(type.precision())) return invalid();
  return value;
}

// One item of a `values` list as a scalar of the column type.
arrow::Result<std::shared_ptr<arrow::Scalar>> ParseScalar(const std::shared_ptr<arrow::DataType>& type,
                                                          const std::string& text) {
  switch (type->id()) {
    case arrow::Type::DECIMAL128: {
      ARROW_ASSIGN_OR_RAISE(auto value, ParseDecimal(static_cast<const arrow::Decimal128Type&>(*type), text));
      return std::make_shared<arrow::Decimal128Scalar>(value, type);
    }
    case arrow::Type::DATE32: {
      ARROW_ASSIGN_OR_RAISE(auto value, ParseIntegerLike<arrow::Date32Type>(type, text));
      return std::make_shared<arrow::Date32Scalar>(value);
    }
    case arrow::Type::TIME32: {
      ARROW_ASSIGN_OR_RAISE(auto value, ParseIntegerLike<arrow::Time32Type>(type, text));
      return std::make_shared<arrow::Time32Scalar>(value, type);
    }
    case arrow::Type::TIME64: {
      ARROW_ASSIGN_OR_RAISE(auto value, ParseIntegerLike<arrow::Time64Type>(type, text));
      return std::make_shared<arrow::Time64Scalar>(value, type);
    }
    case arrow::Type::TIMESTAMP: {
      ARROW_ASSIGN_OR_RAISE(auto value, ParseIntegerLike<arrow::TimestampType>(type, text));
      return std::make_shared<arrow::TimestampScalar>(value, type);
    }
    default: return arrow::Scalar::Parse(type, text);
  }
}

// Which per-column options a type takes.
enum OptionMask : unsigned {
  kTakesMinMax = 1,
  kTakesLength = 2,
  kTakesValues = 4,
  kTakesSequence = 8,
};

unsigned OptionsFor(const arrow::DataType& type) {
  if (arrow::is_integer(type.id())) return kTakesMinMax | kTakesValues | kTakesSequence;
  switch (type.id()) {
    case arrow::Type::FLOAT:
    case arrow::Type::DOUBLE:
    case arrow::Type::DECIMAL128:
    case arrow::Type::DATE32:
    case arrow::Type::TIME32:
    case arrow::Type::TIME64:
    case arrow::Type::TIMESTAMP: return kTakesMinMax | kTakesValues;
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
    case arrow::Type::BINARY:
    case arrow::Type::LARGE_BINARY: return kTakesLength | kTakesValues;
    case arrow::Type::BOOL:
    case arrow::Type::FIXED_SIZE_BINARY: return kTakesValues;
    case arrow::Type::LIST:
    case arrow::Type::LARGE_LIST: return kTakesLength;
    default: return 0;
  }
}

// Builds the generator tree of one top-level column, checking its options against its type.
class GeneratorFactory {
 public:
  GeneratorFactory(uint64_t seed, const OptionErrors& errors) : seed_(seed), errors_(errors) {}

  arrow::Result<std::unique_ptr<ColumnGenerator>> Make(const std::shared_ptr<arrow::DataType>& type,
                                                       arrow::ArrayBuilder* builder, const std::string& path,
                                                       const FieldOptions& options, bool json) {
    ARROW_RETURN_NOT_OK(CheckApplicable(*type, path, options));
    const uint64_t stream = StreamFor(seed_, path);
    const double null_rate = options.null_rate;
    if (options.values) {
      ARROW_ASSIGN_OR_RAISE(auto values, ParseValues(type, path, *options.values));
      return std::make_unique<ValuesGenerator>(builder, stream, null_rate, std::move(values));
    }
    const int64_t length = options.length.value_or(kDefaultStringLength);
    switch (type->id()) {
      case arrow::Type::BOOL: return std::make_unique<BooleanGenerator>(builder, stream, null_rate);
      case arrow::Type::INT8: return MakeInteger<arrow::Int8Type>(type, builder, stream, path, options);
      case arrow::Type::INT16: return MakeInteger<arrow::Int16Type>(type, builder, stream, path, options);
      case arrow::Type::INT32: return MakeInteger<arrow::Int32Type>(type, builder, stream, path, options);
      case arrow::Type::INT64: return MakeInteger<arrow::Int64Type>(type, builder, stream, path, options);
      case arrow::Type::UINT8: return MakeInteger<arrow::UInt8Type>(type, builder, stream, path, options);
      case arrow::Type::UINT16: return MakeInteger<arrow::UInt16Type>(type, builder, stream, path, options);
      case arrow::Type::UINT32: return MakeInteger<arrow::UInt32Type>(type, builder, stream, path, options);
      case arrow::Type::UINT64: return MakeInteger<arrow::UInt64Type>(type, builder, stream, path, options);
      // Temporal defaults: 2000-01-01 .. 2030-12-31, any time of day.
      case arrow::Type::DATE32:
        return MakeInteger<arrow::Date32Type>(type, builder, stream, path, options, 10957, 22279);
      case arrow::Type::TIME32: {
        const int32_t per_second = UnitsPerSecond(static_cast<const arrow::Time32Type&>(*type).unit());
        return MakeInteger<arrow::Time32Type>(type, builder, stream, path, options, 0,
                                              86400 * per_second - 1);
      }
      case arrow::Type::TIME64: {
        const int64_t per_second = UnitsPerSecond(static_cast<const arrow::Time64Type&>(*type).unit());
        return MakeInteger<arrow::Time64Type>(type, builder, stream, path, options, 0,
                                              86400 * per_second - 1);
      }
      case arrow::Type::TIMESTAMP: {
        const int64_t per_second = UnitsPerSecond(static_cast<const arrow::TimestampType&>(*type).unit());
        return MakeInteger<arrow::TimestampType>(type, builder, stream, path, options, 946684800 * per_second,
                                                 1924992000 * per_second - 1);
      }
      case arrow::Type::FLOAT: return MakeFloat<arrow::FloatType>(builder, stream, path, options);
      case arrow::Type::DOUBLE: return MakeFloat<arrow::DoubleType>(builder, stream, path, options);
      case arrow::Type::DECIMAL128: return MakeDecimal(type, builder, stream, path, options);
      case arrow::Type::STRING:
        return std::make_unique<StringGenerator<arrow::StringBuilder>>(
            builder, stream, null_rate, json ? StringMode::kJson : StringMode::kText, length);
      case arrow::Type::LARGE_STRING:
        return std::make_unique<StringGenerator<arrow::LargeStringBuilder>>(
            builder, stream, null_rate, json ? StringMode::kJson : StringMode::kText, length);
      case arrow::Type::BINARY:
        return std::make_unique<StringGenerator<arrow::BinaryBuilder>>(builder, stream, null_rate,
                                                                       StringMode::kBytes, length);
      case arrow::Type::LARGE_BINARY:
        return std::make_unique<StringGenerator<arrow::LargeBinaryBuilder>>(builder, stream, null_rate,
                                                                            StringMode::kBytes, length);
      case arrow::Type::FIXED_SIZE_BINARY:
        return std::make_unique<FixedSizeBinaryGenerator>(builder, stream, null_rate);
      case arrow::Type::LIST:
        return MakeList<arrow::ListBuilder>(type, builder, stream, path, options,
                                            options.length.value_or(kDefaultListLength));
      case arrow::Type::LARGE_LIST:
        return MakeList<arrow::LargeListBuilder>(type, builder, stream, path, options,
                                                 options.length.value_or(kDefaultListLength));
      case arrow::Type::FIXED_SIZE_LIST:
        return MakeList<arrow::FixedSizeListBuilder>(
            type, builder, stream, path, options,
            static_cast<const arrow::FixedSizeListType&>(*type).list_size());
      case arrow::Type::STRUCT: return MakeStruct(type, builder, stream, path, options);
      default:
        return ConfigError(errors_.where(),
                           "datagen cannot generate column '" + path + "' of type " + type->ToString());
    }
  }

 private:
  static int64_t UnitsPerSecond(arrow::TimeUnit::type unit) {
    switch (unit) {
      case arrow::TimeUnit::SECOND: return 1;
      case arrow::TimeUnit::MILLI: return 1000;
      case arrow::TimeUnit::MICRO: return 1000000;
      case arrow::TimeUnit::NANO: return 1000000000;
    }
    return 1;
  }

  arrow::Status CheckApplicable(const arrow::DataType& type, const std::string& path,
                                const FieldOptions& options) const {
    const unsigned takes = OptionsFor(type);
    const std::string type_text = "column '" + path + "' of type " + type.ToString();
    if (options.sequence && !(takes & kTakesSequence)) {
      return errors_.Bad(path, "kind", "= 'sequence' needs an integer column, not " + type_text);
    }
    if (!options.sequence) {
      if (options.start) return errors_.Bad(path, "start", "applies only with kind=sequence");
      if (options.end) return errors_.Bad(path, "end", "applies only with kind=sequence");
    }
    const std::pair<const char*, bool> uses[] = {{"min", options.min.has_value()},
                                                 {"max", options.max.has_value()},
                                                 {"length", options.length.has_value()}};
    for (const auto& [option, used] : uses) {
      if (!used) continue;
      const bool applies =
          std::string_view(option) == "length" ? (takes & kTakesLength) : (takes & kTakesMinMax);
      if (!applies) return errors_.Bad(path, option, "does not apply to " + type_text);
      if (options.sequence) return errors_.Bad(path, option, "cannot be combined with kind=sequence");
      if (options.values) {
        return errors_.Bad(path, option, "cannot be combined with fields." + path + ".values");
      }
    }
    if (options.values) {
      if (!(takes & kTakesValues)) return errors_.Bad(path, "values", "does not apply to " + type_text);
      if (options.sequence) return errors_.Bad(path, "values", "cannot be combined with kind=sequence");
    }
    return arrow::Status::OK();
  }

  arrow::Result<std::shared_ptr<arrow::Array>> ParseValues(const std::shared_ptr<arrow::DataType>& type,
                                                           const std::string& path, const std::string& list) {
    const bool textual = arrow::is_base_binary_like(type->id());
    ARROW_ASSIGN_OR_RAISE(auto builder, arrow::MakeBuilder(type));
    size_t begin = 0;
    while (true) {
      const size_t comma = list.find(',', begin);
      std::string item = list.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin);
      if (!textual) item = Trim(item);
      auto scalar = ParseScalar(type, item);
      if (!scalar.ok()) {
        return errors_.Bad(path, "values",
                           "has '" + item + "', which is not a valid " + type->ToString() + " value");
      }
      ARROW_RETURN_NOT_OK(builder->AppendScalar(**scalar));
      if (comma == std::string::npos) break;
      begin = comma + 1;
    }
    return builder->Finish();
  }

  template <typename ArrowType>
  arrow::Result<typename ArrowType::c_type> ParseBound(const std::shared_ptr<arrow::DataType>& type,
                                                       const std::string& path, const char* option,
                                                       const std::string& text) const {
    auto parsed = ParseIntegerLike<ArrowType>(type, text);
    if (!parsed.ok()) {
      return errors_.Bad(path, option, "= '" + text + "' is not a valid " + type->ToString() + " value");
    }
    return *parsed;
  }

  template <typename ArrowType>
  arrow::Result<std::unique_ptr<ColumnGenerator>> MakeInteger(
      const std::shared_ptr<arrow::DataType>& type, arrow::ArrayBuilder* builder, uint64_t stream,
      const std::string& path, const FieldOptions& options,
      typename ArrowType::c_type low = std::numeric_limits<typename ArrowType::c_type>::lowest(),
      typename ArrowType::c_type high = std::numeric_limits<typename ArrowType::c_type>::max()) {
    using T = typename ArrowType::c_type;
    if (options.sequence) {
      T start = 0;
      T end = std::numeric_limits<T>::max();
      if (options.start) {
        ARROW_ASSIGN_OR_RAISE(start, ParseBound<ArrowType>(type, path, "start", *options.start));
      }
      if (options.end) {
        ARROW_ASSIGN_OR_RAISE(end, ParseBound<ArrowType>(type, path, "end", *options.end));
      }
      if (start > end) {
        return errors_.Bad(path, "end",
                           "(" + options.end.value_or("max") + ") is below fields." + path + ".start (" +
                               options.start.value_or("0") + ")");
      }
      return std::make_unique<IntegerGenerator<ArrowType>>(builder, stream, options.null_rate, start, end,
                                                           true);
    }
    if (options.min) {
      ARROW_ASSIGN_OR_RAISE(low, ParseBound<ArrowType>(type, path, "min", *options.min));
    }
    if (options.max) {
      ARROW_ASSIGN_OR_RAISE(high, ParseBound<ArrowType>(type, path, "max", *options.max));
    }
    if (low > high) return MinAboveMax(path, options);
    return std::make_unique<IntegerGenerator<ArrowType>>(builder, stream, options.null_rate, low, high,
                                                         false);
  }

  template <typename ArrowType>
  arrow::Result<std::unique_ptr<ColumnGenerator>> MakeFloat(arrow::ArrayBuilder* builder, uint64_t stream,
                                                            const std::string& path,
                                                            const FieldOptions& options) {
    double low = 0;
    double high = 1;
    if (options.min) {
      ARROW_ASSIGN_OR_RAISE(low, ParseNumber(path, "min", *options.min));
    }
    if (options.max) {
      ARROW_ASSIGN_OR_RAISE(high, ParseNumber(path, "max", *options.max));
    }
    if (low > high) return MinAboveMax(path, options);
    return std::make_unique<FloatGenerator<ArrowType>>(builder, stream, options.null_rate, low, high);
  }

  arrow::Result<double> ParseNumber(const std::string& path, const char* option,
                                    const std::string& text) const {
    auto parsed = ParseDouble(text);
    if (!parsed.ok()) return errors_.Bad(path, option, "= '" + text + "' is not a valid number");
    return *parsed;
  }

  arrow::Result<std::unique_ptr<ColumnGenerator>> MakeDecimal(const std::shared_ptr<arrow::DataType>& type,
                                                              arrow::ArrayBuilder* builder, uint64_t stream,
                                                              const std::string& path,
                                                              const FieldOptions& options) {
    const auto& decimal = static_cast<const arrow::Decimal128Type&>(*type);
    // Default: every unscaled value the precision allows.
    __int128 high = ToInt128(arrow::Decimal128::GetMaxValue(decimal.precision()));
    __int128 low = -high;
    const std::pair<const char*, const std::optional<std::string>*> bounds[] = {{"min", &options.min},
                                                                                {"max", &options.max}};
    for (const auto& [option, text] : bounds) {
      if (!*text) continue;
      auto parsed = ParseDecimal(decimal, **text);
      if (!parsed.ok()) {
        return errors_.Bad(path, option, "= '" + **text + "' is not a valid " + type->ToString() + " value");
      }
      (std::string_view(option) == "min" ? low : high) = ToInt128(*parsed);
    }
    if (low > high) return MinAboveMax(path, options);
    return std::make_unique<DecimalGenerator>(builder, stream, options.null_rate, low, high);
  }

  arrow::Status MinAboveMax(const std::string& path, const FieldOptions& options) const {
    return errors_.Bad(path, "min",
                       "(" + options.min.value_or("default") + ") is greater than fields." + path + ".max (" +
                           options.max.value_or("default") + ")");
  }

  template <typename Builder>
  arrow::Result<std::unique_ptr<ColumnGenerator>> MakeList(const std::shared_ptr<arrow::DataType>& type,
                                                           arrow::ArrayBuilder* builder, uint64_t stream,
                                                           const std::string& path,
                                                           const FieldOptions& options, int64_t length) {
    const auto& value_field = static_cast<const arrow::BaseListType&>(*type).value_field();
    auto* typed = static_cast<Builder*>(builder);
    ARROW_ASSIGN_OR_RAISE(auto element, Make(value_field->type(), typed->value_builder(), path + "[]",
                                             FieldOptions{}, IsJsonField(*value_field)));
    return std::make_unique<ListGenerator<Builder>>(builder, stream, options.null_rate, std::move(element),
                                                    length);
  }

  arrow::Result<std::unique_ptr<ColumnGenerator>> MakeStruct(const std::shared_ptr<arrow::DataType>& type,
                                                             arrow::ArrayBuilder* builder, uint64_t stream,
                                                             const std::string& path,
                                                             const FieldOptions& options) {
    auto* typed = static_cast<arrow::StructBuilder*>(builder);
    std::vector<std::unique_ptr<ColumnGenerator>> children;
    for (int i = 0; i < type->num_fields(); ++i) {
      const auto& child = type->field(i);
      ARROW_ASSIGN_OR_RAISE(auto generator,
                            Make(child->type(), typed->field_builder(i), path + "." + child->name(),
                                 FieldOptions{}, IsJsonField(*child)));
      children.push_back(std::move(generator));
    }
    return std::make_unique<StructGenerator>(builder, stream, options.null_rate, std::move(children));
  }

  uint64_t seed_;
  const OptionErrors& errors_;
};

}  // namespace

arrow::Result<std::unique_ptr<ColumnGenerator>> MakeColumnGenerator(
    const std::shared_ptr<arrow::DataType>& type, arrow::ArrayBuilder* builder, const std::string& name,
    const FieldOptions& options, bool json, uint64_t seed, const std::string& where) {
  const OptionErrors errors(where);
  GeneratorFactory factory(seed, errors);
  return factory.Make(type, builder, name, options, json);
}

}  // namespace laminar::datagen
