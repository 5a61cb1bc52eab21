// The Confluent wire format: byte 0 = magic 0x00, bytes 1-4 = schema id (big-endian,
// signed 32-bit), then one Avro binary datum (no container header, no sync markers).
// The decoder fetches writer schemas by id through a SchemaLookup and caches the compiled
// program per id (also failures, so a bad id does not hit the registry per message).
#pragma once

#include <arrow/result.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "laminar/serde/avro/avro_schema.h"
#include "laminar/serde/codec.h"

namespace laminar::serde::avro {

constexpr size_t kConfluentHeaderSize = 5;

// Returns the writer schema JSON for an id. A KeyError status means "no such id" (a record
// error: `schema not found: schema ID <id>`); any other failure (registry unreachable) fails
// the whole Decode call with that status.
using SchemaLookup = std::function<arrow::Result<std::string>(int32_t id)>;

// The id of a framed message; nullopt when shorter than 5 bytes or the magic byte is not 0.
std::optional<int32_t> ExtractConfluentSchemaId(std::string_view message);

// The id and the payload, or an Invalid status with the §5.2 text:
// `invalid Confluent header: expected 0x00, got 0xff`, or `malformed input: ...` when short.
arrow::Result<std::pair<int32_t, std::string_view>> ParseConfluentHeader(std::string_view message);

std::string ConfluentHeader(int32_t schema_id);

// `columns` null: the reader schema's Arrow mapping (reader then required).
arrow::Result<std::unique_ptr<RecordDecoder>> MakeConfluentDecoder(std::shared_ptr<arrow::Schema> columns,
                                                                   std::shared_ptr<const AvroSchema> reader,
                                                                   SchemaLookup lookup);

}  // namespace laminar::serde::avro
