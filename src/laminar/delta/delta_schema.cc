#include "laminar/delta/delta_schema.h"

#include <arrow/array/util.h>
#include <arrow/compute/api.h>
#include <arrow/util/key_value_metadata.h>

#include <boost/json.hpp>

#include <regex>

namespace laminar::delta {

namespace json = boost::json;

namespace {

arrow::Result<json::value> TypeToJson(const std::shared_ptr<arrow::DataType>& type, const std::string& column,
                                      bool* ntz) {
  switch (type->id()) {
    case arrow::Type::BOOL: return json::value("boolean");
    case arrow::Type::INT8: return json::value("byte");
    case arrow::Type::INT16: return json::value("short");
    case arrow::Type::INT32: return json::value("integer");
    case arrow::Type::INT64: return json::value("long");
    case arrow::Type::FLOAT: return json::value("float");
    case arrow::Type::DOUBLE: return json::value("double");
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
    case arrow::Type::STRING_VIEW: return json::value("string");
    case arrow::Type::BINARY:
    case arrow::Type::LARGE_BINARY:
    case arrow::Type::BINARY_VIEW:
    case arrow::Type::FIXED_SIZE_BINARY: return json::value("binary");
    case arrow::Type::DATE32: return json::value("date");
    case arrow::Type::TIMESTAMP: {
      const auto& ts = static_cast<const arrow::TimestampType&>(*type);
      if (ts.timezone().empty()) {
        *ntz = true;
        return json::value("timestamp_ntz");
      }
      return json::value("timestamp");
    }
    case arrow::Type::DECIMAL128: {
      const auto& d = static_cast<const arrow::Decimal128Type&>(*type);
      return json::value("decimal(" + std::to_string(d.precision()) + "," + std::to_string(d.scale()) + ")");
    }
    case arrow::Type::LIST:
    case arrow::Type::LARGE_LIST: {
      const auto& item = type->field(0);
      ARROW_ASSIGN_OR_RAISE(auto element, TypeToJson(item->type(), column + "[]", ntz));
      return json::value{{"type", "array"}, {"elementType", element}, {"containsNull", item->nullable()}};
    }
    case arrow::Type::MAP: {
      const auto& map = static_cast<const arrow::MapType&>(*type);
      ARROW_ASSIGN_OR_RAISE(auto key, TypeToJson(map.key_type(), column + ".key", ntz));
      ARROW_ASSIGN_OR_RAISE(auto value, TypeToJson(map.item_type(), column + ".value", ntz));
      return json::value{{"type", "map"}, {"keyType", key}, {"valueType", value},
                         {"valueContainsNull", map.item_field()->nullable()}};
    }
    case arrow::Type::STRUCT: {
      json::array fields;
      for (const auto& child : type->fields()) {
        ARROW_ASSIGN_OR_RAISE(auto child_type, TypeToJson(child->type(), column + "." + child->name(), ntz));
        fields.push_back(json::object{{"name", child->name()}, {"type", child_type}, {"nullable", child->nullable()},
                                      {"metadata", json::object{}}});
      }
      return json::value{{"type", "struct"}, {"fields", fields}};
    }
    case arrow::Type::UINT8: return json::value("short");
    case arrow::Type::UINT16: return json::value("integer");
    case arrow::Type::UINT32: return json::value("long");
    case arrow::Type::UINT64: return json::value("decimal(20,0)");
    default:
      return arrow::Status::Invalid("column '", column, "' has type ", type->ToString(),
                                    ", which Delta Lake cannot store (cast it to VARCHAR or BIGINT)");
  }
}

arrow::Result<std::shared_ptr<arrow::DataType>> TypeFromJson(const json::value& value, const std::string& column);

arrow::Result<std::shared_ptr<arrow::Field>> FieldFromJson(const json::value& value) {
  if (!value.is_object()) return arrow::Status::Invalid("Delta schema: a field is not an object");
  const auto& o = value.as_object();
  const auto* name = o.if_contains("name");
  const auto* type = o.if_contains("type");
  if (name == nullptr || !name->is_string() || type == nullptr) {
    return arrow::Status::Invalid("Delta schema: a field lacks 'name' or 'type'");
  }
  const std::string column(name->as_string());
  ARROW_ASSIGN_OR_RAISE(auto arrow_type, TypeFromJson(*type, column));
  const auto* nullable = o.if_contains("nullable");
  return arrow::field(column, arrow_type, nullable == nullptr || !nullable->is_bool() || nullable->as_bool());
}

arrow::Result<std::shared_ptr<arrow::DataType>> TypeFromJson(const json::value& value, const std::string& column) {
  if (value.is_string()) {
    const std::string name(value.as_string());
    if (name == "string") return arrow::utf8();
    if (name == "long") return arrow::int64();
    if (name == "integer") return arrow::int32();
    if (name == "short") return arrow::int16();
    if (name == "byte") return arrow::int8();
    if (name == "float") return arrow::float32();
    if (name == "double") return arrow::float64();
    if (name == "boolean") return arrow::boolean();
    if (name == "binary") return arrow::binary();
    if (name == "date") return arrow::date32();
    if (name == "timestamp") return arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
    if (name == "timestamp_ntz") return arrow::timestamp(arrow::TimeUnit::MICRO);
    static const std::regex kDecimal(R"(decimal\(\s*(\d+)\s*,\s*(\d+)\s*\))");
    std::smatch m;
    if (std::regex_match(name, m, kDecimal)) return arrow::decimal128(std::stoi(m[1]), std::stoi(m[2]));
    return arrow::Status::NotImplemented("column '", column, "': Delta type '", name, "' is not supported");
  }
  if (!value.is_object()) return arrow::Status::Invalid("Delta schema: type of '", column, "' is malformed");
  const auto& o = value.as_object();
  const auto* kind = o.if_contains("type");
  const std::string k = kind != nullptr && kind->is_string() ? std::string(kind->as_string()) : "";
  if (k == "struct") {
    const auto* fields = o.if_contains("fields");
    if (fields == nullptr || !fields->is_array()) return arrow::Status::Invalid("Delta schema: struct without fields");
    arrow::FieldVector out;
    for (const auto& f : fields->as_array()) {
      ARROW_ASSIGN_OR_RAISE(auto field, FieldFromJson(f));
      out.push_back(std::move(field));
    }
    return arrow::struct_(out);
  }
  if (k == "array") {
    const auto* element = o.if_contains("elementType");
    if (element == nullptr) return arrow::Status::Invalid("Delta schema: array without elementType");
    ARROW_ASSIGN_OR_RAISE(auto item, TypeFromJson(*element, column + "[]"));
    const auto* contains_null = o.if_contains("containsNull");
    return arrow::list(arrow::field("element", item, contains_null == nullptr || contains_null->as_bool()));
  }
  if (k == "map") {
    const auto* key = o.if_contains("keyType");
    const auto* val = o.if_contains("valueType");
    if (key == nullptr || val == nullptr) return arrow::Status::Invalid("Delta schema: map without key/value types");
    ARROW_ASSIGN_OR_RAISE(auto key_type, TypeFromJson(*key, column + ".key"));
    ARROW_ASSIGN_OR_RAISE(auto value_type, TypeFromJson(*val, column + ".value"));
    const auto* contains_null = o.if_contains("valueContainsNull");
    return arrow::map(key_type, arrow::field("value", value_type, contains_null == nullptr || contains_null->as_bool()));
  }
  return arrow::Status::NotImplemented("column '", column, "': Delta type '", json::serialize(value),
                                       "' is not supported");
}

}  // namespace

arrow::Result<DeltaSchema> ToDeltaSchema(const arrow::Schema& schema) {
  DeltaSchema out;
  json::array fields;
  for (const auto& field : schema.fields()) {
    ARROW_ASSIGN_OR_RAISE(auto type, TypeToJson(field->type(), field->name(), &out.uses_timestamp_ntz));
    fields.push_back(json::object{{"name", field->name()}, {"type", type}, {"nullable", field->nullable()},
                                  {"metadata", json::object{}}});
  }
  out.schema_string = json::serialize(json::object{{"type", "struct"}, {"fields", fields}});
  return out;
}

arrow::Result<std::shared_ptr<arrow::Schema>> FromDeltaSchemaString(const std::string& schema_string) {
  boost::system::error_code ec;
  json::value parsed = json::parse(schema_string, ec);
  if (ec) return arrow::Status::Invalid("Delta schemaString is not JSON: ", ec.message());
  ARROW_ASSIGN_OR_RAISE(auto type, TypeFromJson(parsed, "<table>"));
  if (type->id() != arrow::Type::STRUCT) return arrow::Status::Invalid("Delta schemaString is not a struct");
  return arrow::schema(type->fields());
}

arrow::Result<std::shared_ptr<arrow::DataType>> StorageType(const std::shared_ptr<arrow::DataType>& type,
                                                            const std::string& column) {
  switch (type->id()) {
    case arrow::Type::UINT8: return arrow::int16();
    case arrow::Type::UINT16: return arrow::int32();
    case arrow::Type::UINT32: return arrow::int64();
    case arrow::Type::UINT64: return arrow::decimal128(20, 0);
    case arrow::Type::TIMESTAMP: {
      const auto& ts = static_cast<const arrow::TimestampType&>(*type);
      return arrow::timestamp(arrow::TimeUnit::MICRO, ts.timezone().empty() ? "" : "UTC");
    }
    case arrow::Type::LIST: {
      const auto& item = type->field(0);
      ARROW_ASSIGN_OR_RAISE(auto t, StorageType(item->type(), column + "[]"));
      return arrow::list(item->WithType(t));
    }
    case arrow::Type::STRUCT: {
      arrow::FieldVector fields;
      for (const auto& child : type->fields()) {
        ARROW_ASSIGN_OR_RAISE(auto t, StorageType(child->type(), column + "." + child->name()));
        fields.push_back(child->WithType(t));
      }
      return arrow::struct_(fields);
    }
    default: {
      bool ignored = false;
      ARROW_RETURN_NOT_OK(TypeToJson(type, column, &ignored).status());
      return type;
    }
  }
}

arrow::Result<std::shared_ptr<arrow::Schema>> StorageSchema(const arrow::Schema& schema) {
  arrow::FieldVector fields;
  for (const auto& field : schema.fields()) {
    ARROW_ASSIGN_OR_RAISE(auto type, StorageType(field->type(), field->name()));
    fields.push_back(arrow::field(field->name(), type, field->nullable()));
  }
  return arrow::schema(fields);
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> ConformToSchema(const std::shared_ptr<arrow::RecordBatch>& batch,
                                                                   const std::shared_ptr<arrow::Schema>& schema) {
  arrow::ArrayVector columns;
  for (const auto& field : schema->fields()) {
    auto column = batch->GetColumnByName(field->name());
    if (!column) {
      ARROW_ASSIGN_OR_RAISE(column, arrow::MakeArrayOfNull(field->type(), batch->num_rows()));
    } else if (!column->type()->Equals(*field->type())) {
      ARROW_ASSIGN_OR_RAISE(auto cast, arrow::compute::Cast(*column, field->type()));
      column = cast;
    }
    columns.push_back(std::move(column));
  }
  return arrow::RecordBatch::Make(schema, batch->num_rows(), std::move(columns));
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> ToStorage(const std::shared_ptr<arrow::RecordBatch>& batch,
                                                             const std::shared_ptr<arrow::Schema>& storage) {
  arrow::ArrayVector columns;
  columns.reserve(static_cast<size_t>(batch->num_columns()));
  for (int i = 0; i < batch->num_columns(); ++i) {
    const auto& target = storage->field(i)->type();
    if (batch->column(i)->type()->Equals(*target)) {
      columns.push_back(batch->column(i));
      continue;
    }
    arrow::compute::CastOptions options = arrow::compute::CastOptions::Safe(target);
    options.allow_time_truncate = true;  // nanoseconds: Delta keeps microseconds
    ARROW_ASSIGN_OR_RAISE(auto cast, arrow::compute::Cast(*batch->column(i), target, options));
    columns.push_back(std::move(cast));
  }
  return arrow::RecordBatch::Make(storage, batch->num_rows(), std::move(columns));
}

arrow::Result<std::vector<std::shared_ptr<arrow::Field>>> CompareWithTable(const arrow::Schema& table,
                                                                           const arrow::Schema& input) {
  std::vector<std::shared_ptr<arrow::Field>> added;
  for (const auto& field : input.fields()) {
    auto existing = table.GetFieldByName(field->name());
    if (!existing) {
      added.push_back(field);
      continue;
    }
    bool a = false, b = false;
    ARROW_ASSIGN_OR_RAISE(auto want, TypeToJson(existing->type(), field->name(), &a));
    ARROW_ASSIGN_OR_RAISE(auto have, TypeToJson(field->type(), field->name(), &b));
    if (want != have) {
      return arrow::Status::Invalid("column '", field->name(), "' is ", json::serialize(want),
                                    " in the table but the input has ", json::serialize(have));
    }
    if (!existing->nullable() && field->nullable()) {
      return arrow::Status::Invalid("column '", field->name(),
                                    "' is NOT NULL in the table but nullable in the input; declare it NOT NULL");
    }
  }
  for (const auto& field : table.fields()) {
    if (!input.GetFieldByName(field->name()) && !field->nullable()) {
      return arrow::Status::Invalid("table column '", field->name(), "' is NOT NULL but the input does not have it");
    }
  }
  return added;
}

}  // namespace laminar::delta
