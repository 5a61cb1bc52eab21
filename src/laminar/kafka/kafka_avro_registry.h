// The Kafka connectors' decoders and encoders, with the schema registry plugged into Avro:
// with schema.registry.url and format avro (Confluent wire), the source's decoder fetches
// writer schemas by the id in each message, and the sink registers its schema under its
// subject and writes the id it gets. Any other format is serde::MakeDecoder/MakeEncoder.
// Called from Open; registration blocks on the registry (bounded by its timeout).
#pragma once

#include <arrow/result.h>

#include <memory>
#include <string>

#include "laminar/core/config.h"
#include "laminar/kafka/schema_registry.h"
#include "laminar/serde/codec.h"

namespace laminar::kafka {

// The value decoder of the `kafka` source. Ids the registry does not know (404) become
// record errors `schema not found: schema ID <id>` (on.error decides); an unreachable
// registry fails the Decode call. A pinned format.avro.schema with format.avro.schema.id
// answers its own id without asking the registry.
arrow::Result<std::unique_ptr<serde::RecordDecoder>> MakeKafkaDecoder(const ConnectorConfig& config,
                                                                      std::shared_ptr<arrow::Schema> schema);

// The value encoder of the `kafka` sink. With a registry and no pinned
// format.avro.schema.id: the writer schema (format.avro.schema, else derived from the
// columns) is checked against the subject's latest version and registered (after
// PUT /config when schema.compatibility is set); a refusal is an error naming the
// subject. The subject: schema.registry.subject, else the strategy's name.
arrow::Result<std::unique_ptr<serde::RecordEncoder>> MakeKafkaEncoder(const ConnectorConfig& config,
                                                                      std::shared_ptr<arrow::Schema> schema);

// The subject the sink registers `record_full_name` under for `config`.
arrow::Result<std::string> SinkSubject(const ConnectorConfig& config, const std::string& record_full_name);

}  // namespace laminar::kafka
