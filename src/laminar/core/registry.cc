#include "laminar/core/registry.h"

#include <algorithm>
#include <cctype>

namespace laminar {

std::string ConnectorRegistry::CanonicalName(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

void ConnectorRegistry::RegisterSource(ConnectorInfo info, SourceFactory factory) {
  info.name = CanonicalName(info.name);
  const std::string name = info.name;
  sources_[name] = SourceEntry{std::move(info), std::move(factory)};
}

void ConnectorRegistry::RegisterSink(ConnectorInfo info, SinkFactory factory) {
  info.name = CanonicalName(info.name);
  const std::string name = info.name;
  sinks_[name] = SinkEntry{std::move(info), std::move(factory)};
}

const ConnectorInfo* ConnectorRegistry::SourceInfo(const std::string& name) const {
  auto it = sources_.find(CanonicalName(name));
  return it == sources_.end() ? nullptr : &it->second.info;
}

const ConnectorInfo* ConnectorRegistry::SinkInfo(const std::string& name) const {
  auto it = sinks_.find(CanonicalName(name));
  return it == sinks_.end() ? nullptr : &it->second.info;
}

namespace {
template <typename Map>
std::vector<std::string> Keys(const Map& map) {
  std::vector<std::string> out;
  for (const auto& [name, entry] : map) out.push_back(name);
  return out;
}

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "(none)" : out;
}
}  // namespace

std::vector<std::string> ConnectorRegistry::ListSources() const { return Keys(sources_); }
std::vector<std::string> ConnectorRegistry::ListSinks() const { return Keys(sinks_); }

arrow::Result<std::unique_ptr<SourceConnector>> ConnectorRegistry::CreateSource(ConnectorConfig& config) const {
  auto it = sources_.find(CanonicalName(config.connector_type()));
  if (it == sources_.end()) {
    return ConfigError(config.Where(), "unknown source connector type '" + config.connector_type() +
                                           "'; known sources: " + Join(ListSources()));
  }
  ARROW_RETURN_NOT_OK(config.Validate(it->second.info.config_keys));
  return it->second.factory();
}

arrow::Result<std::unique_ptr<SinkConnector>> ConnectorRegistry::CreateSink(ConnectorConfig& config) const {
  auto it = sinks_.find(CanonicalName(config.connector_type()));
  if (it == sinks_.end()) {
    return ConfigError(config.Where(), "unknown sink connector type '" + config.connector_type() +
                                           "'; known sinks: " + Join(ListSinks()));
  }
  ARROW_RETURN_NOT_OK(config.Validate(it->second.info.config_keys));
  return it->second.factory();
}

}  // namespace laminar
