// Connector configuration: the key/value options of one CREATE SOURCE/SINK, the schema the
// DDL declared, and the declared key specs every connector publishes. Validation, help
// text (`laminar-connect connectors`) and secret masking all come from the one spec table.
#pragma once

#include <arrow/result.h>
#include <arrow/type_fwd.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "laminar/core/status.h"

namespace laminar {

enum class ConfigType { kString, kInt, kUInt, kDouble, kBool, kEnum };

const char* ConfigTypeName(ConfigType type);

// One option a connector accepts. A key may contain one `*` segment standing for any
// name (`fields.*.kind`), for per-column options.
struct ConfigKeySpec {
  std::string key;
  ConfigType type = ConfigType::kString;
  std::optional<std::string> default_value;
  bool required = false;
  bool secret = false;
  std::string description;
  std::vector<std::string> allowed_values;  // kEnum only

  static ConfigKeySpec Required(std::string key, ConfigType type, std::string description);
  static ConfigKeySpec Optional(std::string key, ConfigType type, std::string default_value,
                                std::string description);
  // Optional with no default: absent means "not set".
  static ConfigKeySpec Unset(std::string key, ConfigType type, std::string description);
  static ConfigKeySpec Enum(std::string key, std::vector<std::string> values,
                            std::string default_value, std::string description);
  ConfigKeySpec&& Secret() &&;

  bool Matches(const std::string& candidate) const;
};

// True for keys whose values must never be shown: the lower-cased key contains secret,
// password, token, api_key, account_key, private_key, sas_token, session_token, ...
bool IsSecretKey(const std::string& key);

// Strict scalar parsers: whole string, no whitespace, no locale, no trailing garbage.
arrow::Result<int64_t> ParseInt64(const std::string& text);
arrow::Result<uint64_t> ParseUInt64(const std::string& text);
arrow::Result<double> ParseDouble(const std::string& text);
arrow::Result<bool> ParseBool(const std::string& text);  // exactly "true" or "false"

class ConnectorConfig {
 public:
  ConnectorConfig() = default;
  ConnectorConfig(std::string connector_type, std::map<std::string, std::string> properties = {});

  // Canonical connector name, e.g. "delta-lake".
  const std::string& connector_type() const { return connector_type_; }
  // The DDL object this config belongs to ("orders"); used in error messages.
  const std::string& instance_name() const { return instance_name_; }
  void set_instance_name(std::string name) { instance_name_ = std::move(name); }
  // The name of the pipeline (DDL file) this connector runs in; stable across restarts.
  const std::string& pipeline_name() const { return pipeline_name_; }
  void set_pipeline_name(std::string name) { pipeline_name_ = std::move(name); }

  // Columns declared in the DDL (sources) or the input schema (sinks); null when none.
  const std::shared_ptr<arrow::Schema>& schema() const { return schema_; }
  void set_schema(std::shared_ptr<arrow::Schema> schema) { schema_ = std::move(schema); }

  void Set(const std::string& key, std::string value) { properties_[key] = std::move(value); }
  std::optional<std::string> Get(const std::string& key) const;
  bool Has(const std::string& key) const { return properties_.count(key) != 0; }
  const std::map<std::string, std::string>& properties() const { return properties_; }
  // Keys starting with prefix, with the prefix removed.
  std::map<std::string, std::string> PropertiesWithPrefix(const std::string& prefix) const;

  // "where" text for errors: "source 'orders' (kafka)".
  std::string Where() const;

  arrow::Result<std::string> Require(const std::string& key) const;
  // Typed getters: absent -> the spec default passed in; present and unparsable -> config
  // error naming the key and the connector (never the value of a secret key).
  arrow::Result<std::string> GetString(const std::string& key, const std::string& fallback) const;
  arrow::Result<int64_t> GetInt64(const std::string& key, int64_t fallback) const;
  arrow::Result<std::optional<int64_t>> GetOptionalInt64(const std::string& key) const;
  arrow::Result<uint64_t> GetUInt64(const std::string& key, uint64_t fallback) const;
  arrow::Result<double> GetDouble(const std::string& key, double fallback) const;
  arrow::Result<bool> GetBool(const std::string& key, bool fallback) const;

  // Checks every property against specs: unknown key, wrong type, value outside an enum,
  // missing required key. Fills in defaults for absent optional keys. The first problem is
  // returned; its message names the key and the connector and never echoes a secret.
  arrow::Status Validate(const std::vector<ConfigKeySpec>& specs);

  // "k=v, k2=***" sorted by key, secrets masked.
  std::string DisplayRedacted() const;

 private:
  arrow::Status InvalidValue(const std::string& key, const std::string& expected) const;

  std::string connector_type_;
  std::string instance_name_;
  std::string pipeline_name_;
  std::map<std::string, std::string> properties_;
  std::shared_ptr<arrow::Schema> schema_;
};

}  // namespace laminar
