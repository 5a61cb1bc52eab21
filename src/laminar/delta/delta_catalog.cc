#include "laminar/delta/delta_catalog.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "laminar/core/status.h"

namespace laminar::delta {

std::vector<ConfigKeySpec> CatalogKeySpecs() {
  return {
      ConfigKeySpec::Optional("catalog.type", ConfigType::kString, "none",
                              "none (tables are addressed by table.path); glue and unity are refused."),
      ConfigKeySpec::Unset("catalog.database", ConfigType::kString, "Glue database."),
      ConfigKeySpec::Unset("catalog.name", ConfigType::kString, "Unity catalog name."),
      ConfigKeySpec::Unset("catalog.schema", ConfigType::kString, "Unity schema."),
      ConfigKeySpec::Unset("catalog.workspace_url", ConfigType::kString, "Unity workspace URL."),
      ConfigKeySpec::Unset("catalog.access_token", ConfigType::kString, "Unity access token.").Secret(),
      ConfigKeySpec::Unset("catalog.prop.*", ConfigType::kString, "Catalog properties."),
  };
}

arrow::Status CheckCatalogOptions(const ConnectorConfig& config) {
  const std::string where = config.Where();
  ARROW_ASSIGN_OR_RAISE(auto catalog, config.GetString("catalog.type", "none"));
  std::transform(catalog.begin(), catalog.end(), catalog.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // The keys a catalog needs are checked first, so a user learns everything that is wrong
  // with the configuration, not only that the catalog is unsupported.
  if (catalog == "glue") {
    if (!config.Get("catalog.database")) return ConfigError(where, "catalog.type 'glue' needs 'catalog.database'");
    return ConfigError(where, "catalog.type 'glue' is not supported: address the table by 'table.path'");
  }
  if (catalog == "unity") {
    for (const char* key : {"catalog.name", "catalog.schema", "catalog.workspace_url", "catalog.access_token"}) {
      if (!config.Get(key)) return ConfigError(where, std::string("catalog.type 'unity' needs '") + key + "'");
    }
    return ConfigError(where, "catalog.type 'unity' is not supported: address the table by 'table.path'");
  }
  if (!catalog.empty() && catalog != "none") {
    return ConfigError(where, "option 'catalog.type' = '" + catalog + "' is not one of none, glue, unity");
  }
  return arrow::Status::OK();
}

}  // namespace laminar::delta
