#include "laminar/kafka/kafka_metadata_columns.h"

#include <arrow/api.h>

#include "laminar/core/status.h"

namespace laminar::kafka {

namespace {

struct MetadataName {
  const char* name;
  MetadataKind kind;
  bool headers;  // enabled by include.headers rather than include.metadata
};

constexpr MetadataName kNames[] = {
    {"_key", MetadataKind::kKey, false},
    {"_partition", MetadataKind::kPartition, false},
    {"_offset", MetadataKind::kOffset, false},
    {"_timestamp", MetadataKind::kTimestamp, false},
    {"_headers", MetadataKind::kHeaders, true},
};

std::shared_ptr<arrow::DataType> DefaultType(MetadataKind kind) {
  switch (kind) {
    case MetadataKind::kKey: return arrow::utf8();
    case MetadataKind::kPartition: return arrow::int32();
    case MetadataKind::kOffset: return arrow::int64();
    case MetadataKind::kTimestamp: return arrow::timestamp(arrow::TimeUnit::MILLI, "UTC");
    case MetadataKind::kHeaders: return MetadataColumns::HeadersType();
  }
  return arrow::null();
}

bool TypeAllowed(MetadataKind kind, const arrow::DataType& type) {
  switch (kind) {
    case MetadataKind::kKey: return type.id() == arrow::Type::STRING || type.id() == arrow::Type::BINARY;
    case MetadataKind::kPartition: return type.id() == arrow::Type::INT32 || type.id() == arrow::Type::INT64;
    case MetadataKind::kOffset: return type.id() == arrow::Type::INT64;
    case MetadataKind::kTimestamp: return type.id() == arrow::Type::TIMESTAMP || type.id() == arrow::Type::INT64;
    case MetadataKind::kHeaders: return type.Equals(*MetadataColumns::HeadersType(), /*check_metadata=*/false);
  }
  return false;
}

const char* Expected(MetadataKind kind) {
  switch (kind) {
    case MetadataKind::kKey: return "VARCHAR or BYTEA";
    case MetadataKind::kPartition: return "INT or BIGINT";
    case MetadataKind::kOffset: return "BIGINT";
    case MetadataKind::kTimestamp: return "TIMESTAMP[(p)] [WITH TIME ZONE] or BIGINT (milliseconds)";
    case MetadataKind::kHeaders: return "ARRAY<STRUCT<key VARCHAR NOT NULL, value BYTEA>>";
  }
  return "?";
}

int64_t ConvertMillis(int64_t ms, const arrow::DataType& type) {
  if (type.id() != arrow::Type::TIMESTAMP) return ms;
  switch (static_cast<const arrow::TimestampType&>(type).unit()) {
    case arrow::TimeUnit::SECOND: return ms / 1000;
    case arrow::TimeUnit::MILLI: return ms;
    case arrow::TimeUnit::MICRO: return ms * 1000;
    case arrow::TimeUnit::NANO: return ms * 1000000;
  }
  return ms;
}

}  // namespace

std::shared_ptr<arrow::DataType> MetadataColumns::HeadersType() {
  static const auto type = arrow::list(
      arrow::struct_({arrow::field("key", arrow::utf8(), false), arrow::field("value", arrow::binary())}));
  return type;
}

arrow::Result<MetadataColumns> MetadataColumns::Make(const std::shared_ptr<arrow::Schema>& declared,
                                                     bool include_metadata, bool include_headers,
                                                     const std::string& where) {
  MetadataColumns columns;
  std::vector<std::shared_ptr<arrow::Field>> values;
  std::vector<bool> taken(declared ? static_cast<size_t>(declared->num_fields()) : 0, false);
  for (const auto& name : kNames) {
    if (!(name.headers ? include_headers : include_metadata)) continue;
    Slot slot{name.kind, arrow::field(name.name, DefaultType(name.kind)), -1};
    const int index = declared ? declared->GetFieldIndex(name.name) : -1;
    if (index >= 0) {
      const auto& field = declared->field(index);
      if (!TypeAllowed(name.kind, *field->type())) {
        return ConfigError(where, "metadata column '" + std::string(name.name) + "' is declared as " +
                                      field->type()->ToString() + "; it must be " + Expected(name.kind));
      }
      slot.field = field;
      slot.declared_index = index;
      taken[static_cast<size_t>(index)] = true;
    }
    if (name.kind == MetadataKind::kKey) columns.key_is_text_ = slot.field->type()->id() == arrow::Type::STRING;
    columns.slots_.push_back(std::move(slot));
  }
  if (declared) {
    for (int i = 0; i < declared->num_fields(); ++i) {
      if (!taken[static_cast<size_t>(i)]) values.push_back(declared->field(i));
    }
    columns.value_schema_ = arrow::schema(values, declared->metadata());
  }
  return columns;
}

arrow::Result<std::shared_ptr<arrow::Schema>> MetadataColumns::OutputSchema(
    const std::shared_ptr<arrow::Schema>& decoded) const {
  if (slots_.empty()) return decoded;
  std::vector<std::shared_ptr<arrow::Field>> fields;
  int next_value = 0;
  // Declared positions first: each declared slot at its place, value columns around them.
  int declared_total = value_schema_ ? value_schema_->num_fields() : 0;
  for (const auto& slot : slots_) {
    if (slot.declared_index >= 0) ++declared_total;
  }
  for (int position = 0; position < declared_total; ++position) {
    auto slot = std::find_if(slots_.begin(), slots_.end(), [&](const Slot& s) { return s.declared_index == position; });
    if (slot != slots_.end()) {
      fields.push_back(slot->field);
    } else if (next_value < decoded->num_fields()) {
      fields.push_back(decoded->field(next_value++));
    }
  }
  while (next_value < decoded->num_fields()) fields.push_back(decoded->field(next_value++));
  for (const auto& slot : slots_) {
    if (slot.declared_index < 0) fields.push_back(slot.field);
  }
  return arrow::schema(fields, decoded->metadata());
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> MetadataColumns::Assemble(
    const std::shared_ptr<arrow::Schema>& output, const arrow::RecordBatch& decoded,
    const std::vector<MessageMetadata>& rows) const {
  if (static_cast<int64_t>(rows.size()) != decoded.num_rows()) {
    return arrow::Status::Invalid("metadata columns: ", rows.size(), " messages for ", decoded.num_rows(), " rows");
  }
  std::vector<std::shared_ptr<arrow::Array>> arrays;
  for (const auto& field : output->fields()) {
    auto slot = std::find_if(slots_.begin(), slots_.end(), [&](const Slot& s) { return s.field->name() == field->name(); });
    if (slot == slots_.end()) {
      auto column = decoded.GetColumnByName(field->name());
      if (!column) return arrow::Status::Invalid("metadata columns: decoded batch has no column '", field->name(), "'");
      arrays.push_back(column);
      continue;
    }
    const auto& type = *slot->field->type();
    std::shared_ptr<arrow::Array> array;
    switch (slot->kind) {
      case MetadataKind::kKey: {
        if (type.id() == arrow::Type::STRING) {
          arrow::StringBuilder builder;
          for (const auto& row : rows) ARROW_RETURN_NOT_OK(row.key ? builder.Append(*row.key) : builder.AppendNull());
          ARROW_RETURN_NOT_OK(builder.Finish(&array));
        } else {
          arrow::BinaryBuilder builder;
          for (const auto& row : rows) ARROW_RETURN_NOT_OK(row.key ? builder.Append(*row.key) : builder.AppendNull());
          ARROW_RETURN_NOT_OK(builder.Finish(&array));
        }
        break;
      }
      case MetadataKind::kPartition: {
        if (type.id() == arrow::Type::INT32) {
          arrow::Int32Builder builder;
          for (const auto& row : rows) ARROW_RETURN_NOT_OK(builder.Append(row.partition));
          ARROW_RETURN_NOT_OK(builder.Finish(&array));
        } else {
          arrow::Int64Builder builder;
          for (const auto& row : rows) ARROW_RETURN_NOT_OK(builder.Append(row.partition));
          ARROW_RETURN_NOT_OK(builder.Finish(&array));
        }
        break;
      }
      case MetadataKind::kOffset: {
        arrow::Int64Builder builder;
        for (const auto& row : rows) ARROW_RETURN_NOT_OK(builder.Append(row.offset));
        ARROW_RETURN_NOT_OK(builder.Finish(&array));
        break;
      }
      case MetadataKind::kTimestamp: {
        // Built as int64 (the layout every timestamp shares) and viewed as the declared type below.
        arrow::Int64Builder builder;
        for (const auto& row : rows) {
          if (row.timestamp_ms < 0) {
            ARROW_RETURN_NOT_OK(builder.AppendNull());
          } else {
            ARROW_RETURN_NOT_OK(builder.Append(ConvertMillis(row.timestamp_ms, type)));
          }
        }
        ARROW_RETURN_NOT_OK(builder.Finish(&array));
        break;
      }
      case MetadataKind::kHeaders: {
        std::unique_ptr<arrow::ArrayBuilder> generic;
        ARROW_RETURN_NOT_OK(arrow::MakeBuilder(arrow::default_memory_pool(), HeadersType(), &generic));
        auto& list = static_cast<arrow::ListBuilder&>(*generic);
        auto& entry = static_cast<arrow::StructBuilder&>(*list.value_builder());
        auto& key = static_cast<arrow::StringBuilder&>(*entry.field_builder(0));
        auto& value = static_cast<arrow::BinaryBuilder&>(*entry.field_builder(1));
        for (const auto& row : rows) {
          ARROW_RETURN_NOT_OK(list.Append());  // no headers: an empty list
          if (row.headers == nullptr) continue;
          for (const auto& [k, v] : *row.headers) {
            ARROW_RETURN_NOT_OK(entry.Append());
            ARROW_RETURN_NOT_OK(key.Append(k));
            ARROW_RETURN_NOT_OK(value.Append(v));
          }
        }
        ARROW_RETURN_NOT_OK(generic->Finish(&array));
        break;
      }
    }
    if (!array->type()->Equals(*field->type())) {
      // Same physical layout, declared logical type (a timestamp's zone, a field's name).
      ARROW_ASSIGN_OR_RAISE(array, array->View(field->type()));
    }
    arrays.push_back(std::move(array));
  }
  return arrow::RecordBatch::Make(output, decoded.num_rows(), std::move(arrays));
}

}  // namespace laminar::kafka
