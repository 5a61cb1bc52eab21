// The one list of every connector this build contains. Adding a connector adds one line
// here, under its build option.
#pragma once

#include "laminar/core/connector.h"
#include "laminar/core/registry.h"

namespace laminar {

void RegisterBuiltinConnectors(ConnectorRegistry& registry);

// Called for every sink with the source it reads: lets a sink commit that source's read
// positions atomically with its own output where both support it. Both must be open; the
// source must outlive the sink's use. Refuses a combination it cannot make exactly-once.
//   - An exactly-once Kafka sink fed by a Kafka source commits the group's offsets in its
//     transaction.
//   - An exactly-once Delta sink fed by a Kafka source commits the source's next offsets of
//     each epoch in the epoch's own log entry, one txn{appId =
//     "kafka-offsets:<group.id>:<topic>:<partition>", version = next offset} per partition
//     read, and the source starts assigned partitions no earlier than those. The Delta
//     writer.id must then be per member (see ResolveDeltaWriterId in the .cc).
arrow::Status LinkConnectors(SourceConnector& source, SinkConnector& sink);

// The same refusals from the configurations alone, before anything connects (a consumer
// closed while joining its group can crash librdkafka 2.0.2, issue 4312); `validate` too.
arrow::Status CheckLink(const ConnectorConfig& source, const ConnectorConfig& sink);

}  // namespace laminar
