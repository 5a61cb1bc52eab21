#include "laminar/core/json_util.h"

#include <boost/json.hpp>

namespace laminar {

boost::json::object StringMapToJson(const std::map<std::string, std::string>& map) {
  boost::json::object out;
  for (const auto& [key, value] : map) out[key] = value;
  return out;
}

arrow::Result<std::map<std::string, std::string>> StringMapFromJson(const boost::json::value& value,
                                                                    const char* field) {
  if (!value.is_object()) return arrow::Status::Invalid("field '", field, "' must be an object");
  std::map<std::string, std::string> out;
  for (const auto& [key, entry] : value.as_object()) {
    if (!entry.is_string()) {
      return arrow::Status::Invalid("field '", field, ".", std::string(key), "' must be a string");
    }
    out.emplace(std::string(key), std::string(entry.as_string()));
  }
  return out;
}

boost::json::value CheckpointToJsonValue(const SourceCheckpoint& checkpoint) {
  boost::json::object out;
  out["epoch"] = checkpoint.epoch();
  out["offsets"] = StringMapToJson(checkpoint.offsets());
  out["metadata"] = StringMapToJson(checkpoint.metadata());
  return out;
}

arrow::Result<const boost::json::value*> RequireField(const boost::json::object& object, const char* field) {
  auto it = object.find(field);
  if (it == object.end()) return arrow::Status::Invalid("missing field '", field, "'");
  return &it->value();
}

arrow::Result<uint64_t> RequireUInt(const boost::json::object& object, const char* field) {
  ARROW_ASSIGN_OR_RAISE(auto value, RequireField(object, field));
  if (value->is_uint64()) return value->as_uint64();
  if (value->is_int64() && value->as_int64() >= 0) return static_cast<uint64_t>(value->as_int64());
  return arrow::Status::Invalid("field '", field, "' must be a non-negative integer");
}

arrow::Result<std::string> RequireString(const boost::json::object& object, const char* field) {
  ARROW_ASSIGN_OR_RAISE(auto value, RequireField(object, field));
  if (!value->is_string()) return arrow::Status::Invalid("field '", field, "' must be a string");
  return std::string(value->as_string());
}

arrow::Result<SourceCheckpoint> CheckpointFromJsonValue(const boost::json::value& value) {
  if (!value.is_object()) return arrow::Status::Invalid("source checkpoint must be a JSON object");
  const auto& object = value.as_object();
  ARROW_ASSIGN_OR_RAISE(auto epoch, RequireUInt(object, "epoch"));
  SourceCheckpoint checkpoint(epoch);
  ARROW_ASSIGN_OR_RAISE(auto offsets_value, RequireField(object, "offsets"));
  ARROW_ASSIGN_OR_RAISE(auto offsets, StringMapFromJson(*offsets_value, "offsets"));
  for (auto& [key, offset] : offsets) checkpoint.SetOffset(key, offset);
  if (auto it = object.find("metadata"); it != object.end()) {
    ARROW_ASSIGN_OR_RAISE(auto metadata, StringMapFromJson(it->value(), "metadata"));
    for (auto& [key, entry] : metadata) checkpoint.SetMetadata(key, entry);
  }
  return checkpoint;
}

}  // namespace laminar
