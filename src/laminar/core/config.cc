#include "laminar/core/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "laminar/core/secrets.h"

namespace laminar {

const char* ConfigTypeName(ConfigType type) {
  switch (type) {
    case ConfigType::kString: return "string";
    case ConfigType::kInt: return "integer";
    case ConfigType::kUInt: return "unsigned integer";
    case ConfigType::kDouble: return "number";
    case ConfigType::kBool: return "boolean (true|false)";
    case ConfigType::kEnum: return "one of";
  }
  return "?";
}

ConfigKeySpec ConfigKeySpec::Required(std::string key, ConfigType type, std::string description) {
  ConfigKeySpec spec;
  spec.key = std::move(key);
  spec.type = type;
  spec.required = true;
  spec.description = std::move(description);
  spec.secret = IsSecretKey(spec.key);
  return spec;
}

ConfigKeySpec ConfigKeySpec::Optional(std::string key, ConfigType type, std::string default_value,
                                      std::string description) {
  ConfigKeySpec spec;
  spec.key = std::move(key);
  spec.type = type;
  spec.default_value = std::move(default_value);
  spec.description = std::move(description);
  spec.secret = IsSecretKey(spec.key);
  return spec;
}

ConfigKeySpec ConfigKeySpec::Unset(std::string key, ConfigType type, std::string description) {
  ConfigKeySpec spec;
  spec.key = std::move(key);
  spec.type = type;
  spec.description = std::move(description);
  spec.secret = IsSecretKey(spec.key);
  return spec;
}

ConfigKeySpec ConfigKeySpec::Enum(std::string key, std::vector<std::string> values,
                                  std::string default_value, std::string description) {
  ConfigKeySpec spec = Optional(std::move(key), ConfigType::kEnum, std::move(default_value),
                                std::move(description));
  spec.allowed_values = std::move(values);
  return spec;
}

ConfigKeySpec&& ConfigKeySpec::Secret() && {
  secret = true;
  return std::move(*this);
}

bool ConfigKeySpec::Matches(const std::string& candidate) const {
  const auto star = key.find('*');
  if (star == std::string::npos) return key == candidate;
  const std::string prefix = key.substr(0, star);
  const std::string suffix = key.substr(star + 1);
  if (candidate.size() <= prefix.size() + suffix.size()) return false;
  return candidate.compare(0, prefix.size(), prefix) == 0 &&
         candidate.compare(candidate.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool IsSecretKey(const std::string& key) {
  std::string lower = key;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const char* kMarkers[] = {"secret",      "password",    "passwd",       "account_key",
                                   "private_key", "sas_token",   "session_token", "client_secret",
                                   "service_account_key", "token", "api_key",     "apikey",
                                   "credential"};
  for (const char* marker : kMarkers) {
    if (lower.find(marker) != std::string::npos) return true;
  }
  return false;
}

namespace {
template <typename T>
arrow::Result<T> ParseIntegral(const std::string& text, const char* what) {
  T value{};
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  if (!text.empty() && text[0] == '+') ++begin;
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (text.empty() || ec != std::errc() || ptr != end || begin == end) {
    return arrow::Status::Invalid("'", text, "' is not a valid ", what);
  }
  return value;
}
}  // namespace

arrow::Result<int64_t> ParseInt64(const std::string& text) { return ParseIntegral<int64_t>(text, "integer"); }
arrow::Result<uint64_t> ParseUInt64(const std::string& text) {
  if (!text.empty() && text[0] == '-') return arrow::Status::Invalid("'", text, "' is not a valid unsigned integer");
  return ParseIntegral<uint64_t>(text, "unsigned integer");
}

arrow::Result<double> ParseDouble(const std::string& text) {
  double value = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(value)) {
    return arrow::Status::Invalid("'", text, "' is not a valid number");
  }
  return value;
}

arrow::Result<bool> ParseBool(const std::string& text) {
  if (text == "true") return true;
  if (text == "false") return false;
  return arrow::Status::Invalid("'", text, "' is not a boolean (expected true or false)");
}

ConnectorConfig::ConnectorConfig(std::string connector_type, std::map<std::string, std::string> properties)
    : connector_type_(std::move(connector_type)), properties_(std::move(properties)) {}

std::optional<std::string> ConnectorConfig::Get(const std::string& key) const {
  auto it = properties_.find(key);
  if (it == properties_.end()) return std::nullopt;
  return it->second;
}

std::map<std::string, std::string> ConnectorConfig::PropertiesWithPrefix(const std::string& prefix) const {
  std::map<std::string, std::string> out;
  for (auto it = properties_.lower_bound(prefix); it != properties_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    out.emplace(it->first.substr(prefix.size()), it->second);
  }
  return out;
}

std::string ConnectorConfig::Where() const {
  std::string where = instance_name_.empty() ? "connector" : "'" + instance_name_ + "'";
  if (!connector_type_.empty()) where += " (" + connector_type_ + ")";
  return where;
}

arrow::Status ConnectorConfig::InvalidValue(const std::string& key, const std::string& expected) const {
  const auto value = Get(key).value_or("");
  const std::string shown = IsSecretKey(key) ? "(secret value hidden)" : "'" + value + "'";
  return ConfigError(Where(), "option '" + key + "' = " + shown + " is not a valid " + expected);
}

arrow::Result<std::string> ConnectorConfig::Require(const std::string& key) const {
  auto value = Get(key);
  if (!value) return ConfigError(Where(), "missing required option '" + key + "'");
  return *value;
}

arrow::Result<std::string> ConnectorConfig::GetString(const std::string& key, const std::string& fallback) const {
  return Get(key).value_or(fallback);
}

arrow::Result<int64_t> ConnectorConfig::GetInt64(const std::string& key, int64_t fallback) const {
  ARROW_ASSIGN_OR_RAISE(auto value, GetOptionalInt64(key));
  return value.value_or(fallback);
}

arrow::Result<std::optional<int64_t>> ConnectorConfig::GetOptionalInt64(const std::string& key) const {
  auto text = Get(key);
  if (!text) return std::optional<int64_t>();
  auto parsed = ParseInt64(*text);
  if (!parsed.ok()) return InvalidValue(key, "integer");
  return std::optional<int64_t>(*parsed);
}

arrow::Result<uint64_t> ConnectorConfig::GetUInt64(const std::string& key, uint64_t fallback) const {
  auto text = Get(key);
  if (!text) return fallback;
  auto parsed = ParseUInt64(*text);
  if (!parsed.ok()) return InvalidValue(key, "unsigned integer");
  return *parsed;
}

arrow::Result<double> ConnectorConfig::GetDouble(const std::string& key, double fallback) const {
  auto text = Get(key);
  if (!text) return fallback;
  auto parsed = ParseDouble(*text);
  if (!parsed.ok()) return InvalidValue(key, "number");
  return *parsed;
}

arrow::Result<bool> ConnectorConfig::GetBool(const std::string& key, bool fallback) const {
  auto text = Get(key);
  if (!text) return fallback;
  auto parsed = ParseBool(*text);
  if (!parsed.ok()) return InvalidValue(key, "boolean (expected true or false)");
  return *parsed;
}

arrow::Status ConnectorConfig::Validate(const std::vector<ConfigKeySpec>& specs) {
  // Every connector's config passes here before it is used: register its secrets so that
  // Scrub masks them in whatever a library later says about them.
  for (const auto& entry : properties_) {
    const std::string& key = entry.first;
    const bool secret_spec =
        std::any_of(specs.begin(), specs.end(), [&](const ConfigKeySpec& s) { return s.secret && s.Matches(key); });
    if (secret_spec || IsSecretKey(key)) RegisterSecret(entry.second);
  }
  for (const auto& [property, value] : properties_) {
    const std::string& key = property;  // a plain reference: lambdas may capture it (clang 14)
    auto spec = std::find_if(specs.begin(), specs.end(), [&](const ConfigKeySpec& s) { return s.Matches(key); });
    if (spec == specs.end()) {
      return ConfigError(Where(), "unknown option '" + key +
                                      "' (run `laminar-connect connectors` for the options of '" +
                                      connector_type_ + "')");
    }
    arrow::Status parsed;
    switch (spec->type) {
      case ConfigType::kString: break;
      case ConfigType::kInt: parsed = ParseInt64(value).status(); break;
      case ConfigType::kUInt: parsed = ParseUInt64(value).status(); break;
      case ConfigType::kDouble: parsed = ParseDouble(value).status(); break;
      case ConfigType::kBool: parsed = ParseBool(value).status(); break;
      case ConfigType::kEnum:
        if (std::find(spec->allowed_values.begin(), spec->allowed_values.end(), value) ==
            spec->allowed_values.end()) {
          std::string allowed;
          for (const auto& v : spec->allowed_values) allowed += (allowed.empty() ? "" : ", ") + v;
          return InvalidValue(key, "value; expected one of: " + allowed);
        }
        break;
    }
    if (!parsed.ok()) return InvalidValue(key, ConfigTypeName(spec->type));
  }
  for (const auto& spec : specs) {
    if (spec.key.find('*') != std::string::npos || Has(spec.key)) continue;
    if (spec.required) return ConfigError(Where(), "missing required option '" + spec.key + "'");
    if (spec.default_value) properties_[spec.key] = *spec.default_value;
  }
  return arrow::Status::OK();
}

std::string ConnectorConfig::DisplayRedacted() const {
  std::string out;
  for (const auto& [key, value] : properties_) {
    if (!out.empty()) out += ", ";
    out += key + "=" + (IsSecretKey(key) ? "***" : value);
  }
  return out;
}

}  // namespace laminar
