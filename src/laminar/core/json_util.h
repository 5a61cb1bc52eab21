// Boost.JSON helpers shared by the checkpoint and manifest (de)serialisers. Not installed.
#pragma once

#include <arrow/result.h>

#include <boost/json/value.hpp>

#include <map>
#include <string>

#include "laminar/core/checkpoint.h"

namespace laminar {

boost::json::object StringMapToJson(const std::map<std::string, std::string>& map);
arrow::Result<std::map<std::string, std::string>> StringMapFromJson(const boost::json::value& value,
                                                                    const char* field);
boost::json::value CheckpointToJsonValue(const SourceCheckpoint& checkpoint);
arrow::Result<SourceCheckpoint> CheckpointFromJsonValue(const boost::json::value& value);

// Field accessors that fail with a message naming the missing or mistyped field.
arrow::Result<const boost::json::value*> RequireField(const boost::json::object& object, const char* field);
arrow::Result<uint64_t> RequireUInt(const boost::json::object& object, const char* field);
arrow::Result<std::string> RequireString(const boost::json::object& object, const char* field);

}  // namespace laminar
