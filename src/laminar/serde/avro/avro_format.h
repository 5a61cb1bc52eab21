// The `avro` format as the connectors see it: its config keys and the decoder / encoder
// factories (the format table in serde/codec.cc calls these).
//
//   format.avro.wire           confluent (default) | plain
//   format.avro.schema         writer schema JSON. plain: required to decode; confluent: a
//                              pinned writer schema used when no registry is plugged in
//                              (for the id in format.avro.schema.id, or any id if unset).
//                              Encoding: the schema to write (default: derived from columns).
//   format.avro.schema.id      confluent: the id of format.avro.schema; the id the encoder
//                              writes (required to encode confluent without a registry:
//                              the Kafka sink registers and sets it, kafka_avro_registry.h).
//   format.avro.reader.schema  reader schema JSON: defaults, aliases and enum defaults for
//                              resolution; also the columns when the DDL declares none.
//   format.avro.record.name    record name of a schema derived from columns (default record)
//   format.avro.namespace      its namespace (default none)
#pragma once

#include <arrow/result.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "laminar/core/config.h"
#include "laminar/serde/codec.h"

namespace laminar::serde {

// Writer schema JSON by Confluent schema id; KeyError = unknown id (see avro/confluent.h).
using SchemaLookup = std::function<arrow::Result<std::string>(int32_t id)>;

std::vector<ConfigKeySpec> AvroKeySpecs();

arrow::Result<std::unique_ptr<RecordDecoder>> MakeAvroDecoder(const ConnectorConfig& config,
                                                              std::shared_ptr<arrow::Schema> schema);
// Confluent wire format with writer schemas from `lookup` (a schema registry client).
arrow::Result<std::unique_ptr<RecordDecoder>> MakeConfluentAvroDecoder(const ConnectorConfig& config,
                                                                       std::shared_ptr<arrow::Schema> schema,
                                                                       SchemaLookup lookup);
arrow::Result<std::unique_ptr<RecordEncoder>> MakeAvroEncoder(const ConnectorConfig& config,
                                                              std::shared_ptr<arrow::Schema> schema);

}  // namespace laminar::serde
