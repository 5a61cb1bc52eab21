#include "laminar/core/checkpoint.h"

#include <boost/json.hpp>

#include "laminar/core/json_util.h"

namespace laminar {

std::optional<std::string> SourceCheckpoint::GetOffset(const std::string& key) const {
  auto it = offsets_.find(key);
  return it == offsets_.end() ? std::nullopt : std::optional<std::string>(it->second);
}

std::optional<std::string> SourceCheckpoint::GetMetadata(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? std::nullopt : std::optional<std::string>(it->second);
}

std::string SourceCheckpoint::ToJson() const {
  return boost::json::serialize(CheckpointToJsonValue(*this));
}

arrow::Result<SourceCheckpoint> SourceCheckpoint::FromJson(const std::string& json) {
  boost::system::error_code ec;
  auto value = boost::json::parse(json, ec);
  if (ec) return arrow::Status::Invalid("source checkpoint is not valid JSON: ", ec.message());
  return CheckpointFromJsonValue(value);
}

}  // namespace laminar
