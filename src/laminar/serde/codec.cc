#include "laminar/serde/codec.h"

namespace laminar::serde {

std::string RawRecord::Position() const {
  std::string out;
  if (!partition.empty()) out += "partition " + std::string(partition) + " ";
  out += "offset " + std::string(offset);
  return out;
}

std::vector<ConfigKeySpec> FormatKeySpecs() {
  std::vector<ConfigKeySpec> specs;
  return specs;
}

arrow::Result<std::unique_ptr<RecordDecoder>> MakeDecoder(const ConnectorConfig& config,
                                                          std::shared_ptr<arrow::Schema> /*schema*/,
                                                          const std::string& default_format) {
  const std::string format = config.Get("format").value_or(default_format);
  return ConfigError(config.Where(), "unsupported format '" + format + "'");
}

arrow::Result<std::unique_ptr<RecordEncoder>> MakeEncoder(const ConnectorConfig& config,
                                                          std::shared_ptr<arrow::Schema> /*schema*/,
                                                          const std::string& default_format) {
  const std::string format = config.Get("format").value_or(default_format);
  return ConfigError(config.Where(), "unsupported format '" + format + "'");
}

}  // namespace laminar::serde
