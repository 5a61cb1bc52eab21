// The `catalog.*` keys of the delta-lake sink and source (spec 30 §5.1, §6.1): declared and
// checked once so both connectors accept and refuse the same configurations. Tables are
// addressed by `table.path`; glue and unity are validated, then refused as not supported.
#pragma once

#include <arrow/status.h>

#include <vector>

#include "laminar/core/config.h"

namespace laminar::delta {

std::vector<ConfigKeySpec> CatalogKeySpecs();
// OK for catalog.type none (or absent); a config error naming the missing key or the
// unsupported catalog otherwise.
arrow::Status CheckCatalogOptions(const ConnectorConfig& config);

}  // namespace laminar::delta
