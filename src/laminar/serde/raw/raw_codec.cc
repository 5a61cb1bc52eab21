#include "laminar/serde/raw/raw_codec.h"

#include <arrow/api.h>

#include <simdjson.h>

#include "laminar/core/status.h"

namespace laminar::serde {

namespace {

struct RawLayout {
  std::shared_ptr<arrow::Schema> schema;
  int value_index = 0;
  int key_index = -1;
};

bool IsBytesType(const arrow::DataType& type) {
  return type.id() == arrow::Type::BINARY || type.id() == arrow::Type::STRING;
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
  for (int i = 0; i < schema->num_fields(); ++i) {
    const auto& field = *schema->field(i);
    if (!IsBytesType(*field.type())) {
      return ConfigError(config.Where(), "format 'raw': column '" + field.name() + "' must be BYTEA or VARCHAR, not " +
                                             field.type()->ToString());
    }
    if (key_column && field.name() == *key_column) {
      layout.key_index = i;
    } else if (layout.value_index >= 0) {
      return ConfigError(config.Where(), "format 'raw' takes one value column (and the key column named by "
                                         "'format.key_column'); found '" + schema->field(layout.value_index)->name() +
                                             "' and '" + field.name() + "'");
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

class RawDecoder final : public RecordDecoder {
 public:
  explicit RawDecoder(RawLayout layout) : layout_(std::move(layout)) {}

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
        ARROW_RETURN_NOT_OK(r.key ? keys.Append(*r.key) : keys.AppendNull());
      }
      ARROW_RETURN_NOT_OK(values.Append(r.value));
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
    out.batch = arrow::RecordBatch::Make(layout_.schema, n, std::move(columns));
    return out;
  }

 private:
  RawLayout layout_;
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
