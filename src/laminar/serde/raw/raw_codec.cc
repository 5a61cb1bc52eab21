#include "laminar/serde/raw/raw_codec.h"

#include <arrow/api.h>

#include <simdjson.h>

#include <optional>
#include <vector>

#include "laminar/core/status.h"

namespace laminar::serde {

namespace {

// The metadata columns a declared schema may add, by name (spec 10 §14.5: raw keeps the
// message's metadata next to its bytes).
enum class Meta { kPartition, kOffset, kTimestamp, kHeaders };

struct MetaColumn {
  Meta meta;
  int index;
};

struct RawLayout {
  std::shared_ptr<arrow::Schema> schema;
  int value_index = 0;
  int key_index = -1;
  std::vector<MetaColumn> metadata;
};

bool IsBytesType(const arrow::DataType& type) {
  return type.id() == arrow::Type::BINARY || type.id() == arrow::Type::STRING;
}

bool IsHeadersType(const arrow::DataType& type) {
  if (type.id() != arrow::Type::LIST) return false;
  const auto& item = *static_cast<const arrow::ListType&>(type).value_type();
  if (item.id() != arrow::Type::STRUCT || item.num_fields() != 2) return false;
  return item.field(0)->name() == "key" && IsBytesType(*item.field(0)->type()) && item.field(1)->name() == "value" &&
         IsBytesType(*item.field(1)->type());
}

// The type a metadata column must have; empty when `field` has one of them.
std::string MetaTypeError(Meta meta, const arrow::Field& field) {
  const auto id = field.type()->id();
  switch (meta) {
    case Meta::kPartition:
      if (id == arrow::Type::STRING || id == arrow::Type::INT32 || id == arrow::Type::INT64) return "";
      return "VARCHAR, INTEGER or BIGINT";
    case Meta::kOffset:
      if (id == arrow::Type::STRING || id == arrow::Type::INT64) return "";
      return "VARCHAR or BIGINT";
    case Meta::kTimestamp:
      if (id == arrow::Type::INT64 || id == arrow::Type::TIMESTAMP) return "";
      return "BIGINT (epoch milliseconds) or TIMESTAMP";
    case Meta::kHeaders:
      if (IsHeadersType(*field.type())) return "";
      return "ARRAY<ROW(key VARCHAR, value BYTEA)> (key and value may be VARCHAR or BYTEA)";
  }
  return "";
}

arrow::Result<RawLayout> ResolveLayout(const ConnectorConfig& config, std::shared_ptr<arrow::Schema> schema) {
  const auto key_column = config.Get("format.key_column");
  RawLayout layout;
  if (!schema || schema->num_fields() == 0) {
    arrow::FieldVector fields{arrow::field("value", arrow::binary(), /*nullable=*/false)};
    if (key_column) {
      fields.push_back(arrow::field(*key_column, arrow::binary()));
      layout.key_index = 1;
    }
    layout.schema = arrow::schema(std::move(fields));
    return layout;
  }
  layout.schema = schema;
  layout.value_index = -1;
  // With more than one column, the names key, partition, offset, timestamp and headers
  // are the message's metadata; the one other column is the value.
  const bool named_metadata = schema->num_fields() > 1;
  for (int i = 0; i < schema->num_fields(); ++i) {
    const auto& field = *schema->field(i);
    const std::string& name = field.name();
    std::optional<Meta> meta;
    if (named_metadata && name == "partition") meta = Meta::kPartition;
    if (named_metadata && name == "offset") meta = Meta::kOffset;
    if (named_metadata && name == "timestamp") meta = Meta::kTimestamp;
    if (named_metadata && name == "headers") meta = Meta::kHeaders;
    if (meta) {
      if (auto want = MetaTypeError(*meta, field); !want.empty()) {
        return ConfigError(config.Where(), "format 'raw': the metadata column '" + name + "' must be " + want +
                                               ", not " + field.type()->ToString());
      }
      layout.metadata.push_back(MetaColumn{*meta, i});
      continue;
    }
    if (!IsBytesType(*field.type())) {
      return ConfigError(config.Where(), "format 'raw': column '" + name + "' must be BYTEA or VARCHAR, not " +
                                             field.type()->ToString());
    }
    if (key_column ? name == *key_column : (named_metadata && name == "key")) {
      layout.key_index = i;
    } else if (layout.value_index >= 0) {
      return ConfigError(config.Where(), "format 'raw' takes one value column (plus the metadata columns key, "
                                         "partition, offset, timestamp, headers, or the key column named by "
                                         "'format.key_column'); found '" + schema->field(layout.value_index)->name() +
                                             "' and '" + name + "'");
    } else {
      layout.value_index = i;
    }
  }
  if (key_column && layout.key_index < 0) {
    return ConfigError(config.Where(), "option 'format.key_column' names '" + *key_column + "', which is not a column");
  }
  if (layout.value_index < 0) return ConfigError(config.Where(), "format 'raw' needs a value column");
  return layout;
}

// Epoch milliseconds in `unit`; false on overflow.
bool MillisTo(int64_t millis, arrow::TimeUnit::type unit, int64_t* out) {
  switch (unit) {
    case arrow::TimeUnit::SECOND:
      *out = millis / 1000 - (millis % 1000 < 0 ? 1 : 0);
      return true;
    case arrow::TimeUnit::MILLI: *out = millis; return true;
    case arrow::TimeUnit::MICRO: return !__builtin_mul_overflow(millis, int64_t{1000}, out);
    case arrow::TimeUnit::NANO: return !__builtin_mul_overflow(millis, int64_t{1000000}, out);
  }
  return false;
}

class RawDecoder final : public RecordDecoder {
 public:
  explicit RawDecoder(RawLayout layout) : layout_(std::move(layout)) {
    for (const auto& m : layout_.metadata) {
      builders_.push_back(arrow::MakeBuilder(layout_.schema->field(m.index)->type()).ValueOrDie());
    }
  }

  const std::shared_ptr<arrow::Schema>& schema() const override { return layout_.schema; }

  arrow::Result<DecodedBatch> Decode(std::span<const RawRecord> records) override {
    const auto& value_field = *layout_.schema->field(layout_.value_index);
    const bool value_utf8 = value_field.type()->id() == arrow::Type::STRING;
    const arrow::Field* key_field = layout_.key_index >= 0 ? layout_.schema->field(layout_.key_index).get() : nullptr;
    const bool key_utf8 = key_field && key_field->type()->id() == arrow::Type::STRING;

    arrow::BinaryBuilder values;
    arrow::BinaryBuilder keys;
    int64_t bytes = 0;
    for (const auto& r : records) bytes += static_cast<int64_t>(r.value.size());
    ARROW_RETURN_NOT_OK(values.Reserve(static_cast<int64_t>(records.size())));
    ARROW_RETURN_NOT_OK(values.ReserveData(bytes));
    DecodedBatch out;
    std::string error;
    for (size_t i = 0; i < records.size(); ++i) {
      const RawRecord& r = records[i];
      if (r.is_tombstone()) {
        ++out.tombstones;
        continue;
      }
      if (value_utf8 && !simdjson::validate_utf8(r.value.data(), r.value.size())) {
        out.errors.push_back({i, "column '" + value_field.name() + "': invalid UTF-8"});
        continue;
      }
      if (key_field) {
        if (!r.key) {
          if (!key_field->nullable()) {
            out.errors.push_back({i, "column '" + key_field->name() + "': null key, but the column is NOT NULL"});
            continue;
          }
        } else if (key_utf8 && !simdjson::validate_utf8(r.key->data(), r.key->size())) {
          out.errors.push_back({i, "column '" + key_field->name() + "': invalid UTF-8"});
          continue;
        }
      }
      // Metadata is checked whole before anything is appended: a record adds all of its
      // row or nothing.
      if (!CheckMetadata(r, &error)) {
        out.errors.push_back({i, std::move(error)});
        continue;
      }
      if (key_field) ARROW_RETURN_NOT_OK(r.key ? keys.Append(*r.key) : keys.AppendNull());
      ARROW_RETURN_NOT_OK(values.Append(r.value));
      ARROW_RETURN_NOT_OK(AppendMetadata(r));
    }
    const int64_t n = values.length();
    arrow::ArrayVector columns(static_cast<size_t>(layout_.schema->num_fields()));
    // The builders make binary arrays; utf8 columns view the same buffers.
    ARROW_ASSIGN_OR_RAISE(auto value_array, values.Finish());
    ARROW_ASSIGN_OR_RAISE(columns[static_cast<size_t>(layout_.value_index)], value_array->View(value_field.type()));
    if (key_field) {
      ARROW_ASSIGN_OR_RAISE(auto key_array, keys.Finish());
      ARROW_ASSIGN_OR_RAISE(columns[static_cast<size_t>(layout_.key_index)], key_array->View(key_field->type()));
    }
    for (size_t m = 0; m < layout_.metadata.size(); ++m) {
      ARROW_RETURN_NOT_OK(builders_[m]->Finish(&columns[static_cast<size_t>(layout_.metadata[m].index)]));
    }
    out.batch = arrow::RecordBatch::Make(layout_.schema, n, std::move(columns));
    return out;
  }

 private:
  const arrow::Field& FieldOf(const MetaColumn& m) const { return *layout_.schema->field(m.index); }

  bool CheckMetadata(const RawRecord& r, std::string* error) {
    for (const auto& m : layout_.metadata) {
      const auto& field = FieldOf(m);
      const auto id = field.type()->id();
      auto missing = [&] {
        *error = "column '" + field.name() + "': the message has no " + field.name() + ", but the column is NOT NULL";
        return false;
      };
      switch (m.meta) {
        case Meta::kPartition:
        case Meta::kOffset: {
          const std::string_view text = m.meta == Meta::kPartition ? r.partition : r.offset;
          if (text.empty()) {
            if (!field.nullable()) return missing();
            break;
          }
          if (id != arrow::Type::STRING) {
            auto number = ParseInt64(std::string(text));
            if (!number.ok() || (id == arrow::Type::INT32 && (*number < INT32_MIN || *number > INT32_MAX))) {
              *error = "column '" + field.name() + "': '" + std::string(text) + "' is not a " +
                       field.type()->ToString() + " " + field.name();
              return false;
            }
          }
          break;
        }
        case Meta::kTimestamp: {
          if (r.timestamp_ms < 0) {
            if (!field.nullable()) return missing();
            break;
          }
          int64_t scaled = 0;
          if (id == arrow::Type::TIMESTAMP &&
              !MillisTo(r.timestamp_ms, static_cast<const arrow::TimestampType&>(*field.type()).unit(), &scaled)) {
            *error = "column '" + field.name() + "': timestamp " + std::to_string(r.timestamp_ms) +
                     " ms overflows " + field.type()->ToString();
            return false;
          }
          break;
        }
        case Meta::kHeaders: {
          if (r.headers == nullptr) {
            if (!field.nullable()) return missing();
            break;
          }
          const auto& item = *static_cast<const arrow::ListType&>(*field.type()).value_type();
          for (const auto& [k, v] : *r.headers) {
            if ((item.field(0)->type()->id() == arrow::Type::STRING && !simdjson::validate_utf8(k.data(), k.size())) ||
                (item.field(1)->type()->id() == arrow::Type::STRING && !simdjson::validate_utf8(v.data(), v.size()))) {
              *error = "column '" + field.name() + "': header '" + (simdjson::validate_utf8(k.data(), k.size()) ? k : "?") +
                       "': invalid UTF-8";
              return false;
            }
          }
          break;
        }
      }
    }
    return true;
  }

  arrow::Status AppendMetadata(const RawRecord& r) {
    for (size_t i = 0; i < layout_.metadata.size(); ++i) {
      const auto& m = layout_.metadata[i];
      const auto& field = FieldOf(m);
      arrow::ArrayBuilder& builder = *builders_[i];
      const auto id = field.type()->id();
      switch (m.meta) {
        case Meta::kPartition:
        case Meta::kOffset: {
          const std::string_view text = m.meta == Meta::kPartition ? r.partition : r.offset;
          if (text.empty()) {
            ARROW_RETURN_NOT_OK(builder.AppendNull());
          } else if (id == arrow::Type::STRING) {
            ARROW_RETURN_NOT_OK(static_cast<arrow::StringBuilder&>(builder).Append(text));
          } else {
            const int64_t number = *ParseInt64(std::string(text));  // checked
            if (id == arrow::Type::INT32) {
              ARROW_RETURN_NOT_OK(static_cast<arrow::Int32Builder&>(builder).Append(static_cast<int32_t>(number)));
            } else {
              ARROW_RETURN_NOT_OK(static_cast<arrow::Int64Builder&>(builder).Append(number));
            }
          }
          break;
        }
        case Meta::kTimestamp: {
          if (r.timestamp_ms < 0) {
            ARROW_RETURN_NOT_OK(builder.AppendNull());
            break;
          }
          int64_t value = r.timestamp_ms;
          if (id == arrow::Type::TIMESTAMP) {
            MillisTo(r.timestamp_ms, static_cast<const arrow::TimestampType&>(*field.type()).unit(), &value);
            ARROW_RETURN_NOT_OK(static_cast<arrow::TimestampBuilder&>(builder).Append(value));
          } else {
            ARROW_RETURN_NOT_OK(static_cast<arrow::Int64Builder&>(builder).Append(value));
          }
          break;
        }
        case Meta::kHeaders: {
          auto& list = static_cast<arrow::ListBuilder&>(builder);
          if (r.headers == nullptr) {
            ARROW_RETURN_NOT_OK(list.AppendNull());
            break;
          }
          ARROW_RETURN_NOT_OK(list.Append());
          auto& entry = static_cast<arrow::StructBuilder&>(*list.value_builder());
          // utf8 and binary builders share BinaryBuilder's layout and Append.
          auto& key = static_cast<arrow::BinaryBuilder&>(*entry.field_builder(0));
          auto& value = static_cast<arrow::BinaryBuilder&>(*entry.field_builder(1));
          for (const auto& [k, v] : *r.headers) {
            ARROW_RETURN_NOT_OK(entry.Append());
            ARROW_RETURN_NOT_OK(key.Append(k));
            ARROW_RETURN_NOT_OK(value.Append(v));
          }
          break;
        }
      }
    }
    return arrow::Status::OK();
  }

  RawLayout layout_;
  std::vector<std::unique_ptr<arrow::ArrayBuilder>> builders_;  // per metadata column
};

class RawEncoder final : public RecordEncoder {
 public:
  explicit RawEncoder(std::string value_column) : value_column_(std::move(value_column)) {}

  arrow::Status Encode(const arrow::RecordBatch& batch, std::vector<std::string>* out) override {
    auto column = batch.GetColumnByName(value_column_);
    if (!column || !IsBytesType(*column->type())) {
      return arrow::Status::Invalid("format 'raw': the batch has no BYTEA or VARCHAR column '", value_column_, "'");
    }
    const auto& values = static_cast<const arrow::BinaryArray&>(*column);
    out->reserve(out->size() + static_cast<size_t>(batch.num_rows()));
    for (int64_t i = 0; i < batch.num_rows(); ++i) {
      out->emplace_back(values.IsNull(i) ? std::string_view() : values.GetView(i));
    }
    return arrow::Status::OK();
  }

 private:
  std::string value_column_;
};

}  // namespace

std::vector<ConfigKeySpec> RawKeySpecs() {
  return {ConfigKeySpec::Unset("format.key_column", ConfigType::kString,
                               "column that receives the message key (BYTEA or VARCHAR); unset: the key is dropped")};
}

arrow::Result<std::unique_ptr<RecordDecoder>> MakeRawDecoder(const ConnectorConfig& config,
                                                             std::shared_ptr<arrow::Schema> schema) {
  ARROW_ASSIGN_OR_RAISE(auto layout, ResolveLayout(config, std::move(schema)));
  return std::unique_ptr<RecordDecoder>(new RawDecoder(std::move(layout)));
}

arrow::Result<std::unique_ptr<RecordEncoder>> MakeRawEncoder(const ConnectorConfig& config,
                                                             std::shared_ptr<arrow::Schema> schema) {
  ARROW_ASSIGN_OR_RAISE(auto layout, ResolveLayout(config, std::move(schema)));
  return std::unique_ptr<RecordEncoder>(new RawEncoder(layout.schema->field(layout.value_index)->name()));
}

}  // namespace laminar::serde
