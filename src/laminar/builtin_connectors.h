// The one list of every connector this build contains. Adding a connector adds one line
// here, under its build option.
#pragma once

#include "laminar/core/connector.h"
#include "laminar/core/registry.h"

namespace laminar {

void RegisterBuiltinConnectors(ConnectorRegistry& registry);

// Called for every sink with the source it reads: lets a sink commit that source's read
// positions atomically with its own output where both support it (an exactly-once Kafka
// sink fed by a Kafka source commits the group's offsets in its transaction). Both must be
// open; the source must outlive the sink's use.
void LinkConnectors(SourceConnector& source, SinkConnector& sink);

}  // namespace laminar
