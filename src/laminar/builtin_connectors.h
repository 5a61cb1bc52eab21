// The one list of every connector this build contains. Adding a connector adds one line
// here, under its build option.
#pragma once

#include "laminar/core/registry.h"

namespace laminar {

void RegisterBuiltinConnectors(ConnectorRegistry& registry);

}  // namespace laminar
