// Name -> factory + key specs for every connector this build knows. Connectors are added
// by explicit Register* calls (see laminar/builtin_connectors.h), never by static
// initialisers. Lookup is case-insensitive and treats '_' like '-' (DELTA_LAKE = delta-lake).
#pragma once

#include <arrow/result.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "laminar/core/config.h"
#include "laminar/core/connector.h"

namespace laminar {

struct ConnectorInfo {
  std::string name;  // canonical: lower case, '-' separated
  std::string description;
  std::vector<ConfigKeySpec> config_keys;
};

using SourceFactory = std::function<std::unique_ptr<SourceConnector>()>;
using SinkFactory = std::function<std::unique_ptr<SinkConnector>()>;

class ConnectorRegistry {
 public:
  // Lower case, '_' -> '-'.
  static std::string CanonicalName(const std::string& name);

  // Re-registering a name replaces it.
  void RegisterSource(ConnectorInfo info, SourceFactory factory);
  void RegisterSink(ConnectorInfo info, SinkFactory factory);

  const ConnectorInfo* SourceInfo(const std::string& name) const;
  const ConnectorInfo* SinkInfo(const std::string& name) const;
  std::vector<std::string> ListSources() const;
  std::vector<std::string> ListSinks() const;

  // Validates config against the connector's key specs (filling defaults), then creates an
  // unopened instance. Unknown name: a config error that lists the known ones.
  arrow::Result<std::unique_ptr<SourceConnector>> CreateSource(ConnectorConfig& config) const;
  arrow::Result<std::unique_ptr<SinkConnector>> CreateSink(ConnectorConfig& config) const;

 private:
  struct SourceEntry {
    ConnectorInfo info;
    SourceFactory factory;
  };
  struct SinkEntry {
    ConnectorInfo info;
    SinkFactory factory;
  };
  std::map<std::string, SourceEntry> sources_;
  std::map<std::string, SinkEntry> sinks_;
};

}  // namespace laminar
