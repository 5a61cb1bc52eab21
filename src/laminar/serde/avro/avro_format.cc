// Config keys and factories of the avro format.
#include "laminar/serde/avro/avro_format.h"

#include <arrow/type.h>

#include "laminar/core/status.h"
#include "laminar/serde/avro/avro_decoder.h"
#include "laminar/serde/avro/avro_encoder.h"
#include "laminar/serde/avro/avro_schema.h"
#include "laminar/serde/avro/confluent.h"

namespace laminar::serde {

namespace {

constexpr const char* kWire = "format.avro.wire";
constexpr const char* kSchema = "format.avro.schema";
constexpr const char* kSchemaId = "format.avro.schema.id";
constexpr const char* kReaderSchema = "format.avro.reader.schema";
constexpr const char* kRecordName = "format.avro.record.name";
constexpr const char* kNamespace = "format.avro.namespace";

arrow::Result<std::shared_ptr<const avro::AvroSchema>> SchemaKey(const ConnectorConfig& config, const char* key) {
  auto text = config.Get(key);
  if (!text) return nullptr;
  auto parsed = avro::AvroSchema::Parse(*text);
  if (!parsed.ok()) return ConfigError(config.Where(), std::string(key) + ": " + parsed.status().message());
  return *parsed;
}

arrow::Result<bool> IsConfluent(const ConnectorConfig& config) {
  ARROW_ASSIGN_OR_RAISE(std::string wire, config.GetString(kWire, "confluent"));
  if (wire == "confluent") return true;
  if (wire == "plain") return false;
  return ConfigError(config.Where(), std::string(kWire) + " must be confluent or plain, got '" + wire + "'");
}

arrow::Status AsConfig(const ConnectorConfig& config, const arrow::Status& st) {
  if (st.ok()) return st;
  return ConfigError(config.Where(), "format avro: " + st.message());
}

}  // namespace

std::vector<ConfigKeySpec> AvroKeySpecs() {
  return {
      ConfigKeySpec::Enum(kWire, {"confluent", "plain"}, "confluent",
                          "message framing: confluent (magic byte 0 + 4-byte schema id + datum) or plain "
                          "(the bare binary datum)"),
      ConfigKeySpec::Unset(kSchema, ConfigType::kString,
                           "Avro writer schema (JSON). plain: required to decode; confluent: pinned writer "
                           "schema when no registry is used. Encoding: the schema written (default: derived "
                           "from the columns)"),
      ConfigKeySpec::Unset(kSchemaId, ConfigType::kInt,
                           "confluent: schema id of format.avro.schema, and the id the encoder writes"),
      ConfigKeySpec::Unset(kReaderSchema, ConfigType::kString,
                           "Avro reader schema (JSON) for resolution: field defaults, aliases, enum defaults; "
                           "also gives the columns when none are declared"),
      ConfigKeySpec::Optional(kRecordName, ConfigType::kString, "record",
                              "record name of the Avro schema derived from the columns"),
      ConfigKeySpec::Unset(kNamespace, ConfigType::kString, "namespace of the derived Avro schema"),
  };
}

arrow::Result<std::unique_ptr<RecordDecoder>> MakeConfluentAvroDecoder(const ConnectorConfig& config,
                                                                       std::shared_ptr<arrow::Schema> schema,
                                                                       SchemaLookup lookup) {
  ARROW_ASSIGN_OR_RAISE(auto reader, SchemaKey(config, kReaderSchema));
  if (schema == nullptr && reader == nullptr) {
    return ConfigError(config.Where(), "format avro (confluent): declare the columns or set " +
                                           std::string(kReaderSchema));
  }
  auto decoder = avro::MakeConfluentDecoder(schema, reader, std::move(lookup));
  ARROW_RETURN_NOT_OK(AsConfig(config, decoder.status()));
  return decoder;
}

arrow::Result<std::unique_ptr<RecordDecoder>> MakeAvroDecoder(const ConnectorConfig& config,
                                                              std::shared_ptr<arrow::Schema> schema) {
  ARROW_ASSIGN_OR_RAISE(bool confluent, IsConfluent(config));
  ARROW_ASSIGN_OR_RAISE(auto writer, SchemaKey(config, kSchema));
  ARROW_ASSIGN_OR_RAISE(auto reader, SchemaKey(config, kReaderSchema));
  if (confluent) {
    ARROW_ASSIGN_OR_RAISE(auto pinned_id, config.GetOptionalInt64(kSchemaId));
    SchemaLookup lookup;
    if (writer != nullptr) {
      const std::string text = writer->ToJson();
      lookup = [text, pinned_id](int32_t id) -> arrow::Result<std::string> {
        if (pinned_id && *pinned_id != id) return arrow::Status::KeyError("unknown id");
        return text;
      };
    }
    if (schema == nullptr && reader == nullptr) reader = writer;
    return MakeConfluentAvroDecoder(config, schema, std::move(lookup));
  }
  if (writer == nullptr) {
    return ConfigError(config.Where(), "format avro with " + std::string(kWire) + " = 'plain' needs " + kSchema);
  }
  auto decoder = avro::MakePlainDecoder(writer, schema, reader);
  ARROW_RETURN_NOT_OK(AsConfig(config, decoder.status()));
  return decoder;
}

arrow::Result<std::unique_ptr<RecordEncoder>> MakeAvroEncoder(const ConnectorConfig& config,
                                                              std::shared_ptr<arrow::Schema> schema) {
  if (schema == nullptr) return ConfigError(config.Where(), "format avro: the encoder needs the columns");
  ARROW_ASSIGN_OR_RAISE(bool confluent, IsConfluent(config));
  ARROW_ASSIGN_OR_RAISE(auto writer, SchemaKey(config, kSchema));
  if (writer == nullptr) {
    ARROW_ASSIGN_OR_RAISE(std::string name, config.GetString(kRecordName, "record"));
    ARROW_ASSIGN_OR_RAISE(std::string space, config.GetString(kNamespace, ""));
    auto json = avro::ArrowToAvroSchemaJson(*schema, name, space);
    ARROW_RETURN_NOT_OK(AsConfig(config, json.status()));
    auto parsed = avro::AvroSchema::Parse(*json);
    ARROW_RETURN_NOT_OK(AsConfig(config, parsed.status()));
    writer = *parsed;
  }
  std::string prefix;
  if (confluent) {
    ARROW_ASSIGN_OR_RAISE(auto id, config.GetOptionalInt64(kSchemaId));
    if (!id) {
      return ConfigError(config.Where(), std::string(kSchemaId) +
                                             " is required to write the confluent wire format without a schema "
                                             "registry (the Kafka sink registers with schema.registry.url)");
    }
    if (*id < INT32_MIN || *id > INT32_MAX) {
      return ConfigError(config.Where(), std::string(kSchemaId) + " out of the 32-bit range");
    }
    prefix = avro::ConfluentHeader(static_cast<int32_t>(*id));
  }
  auto encoder = avro::MakePlainEncoder(*schema, writer, prefix);
  ARROW_RETURN_NOT_OK(AsConfig(config, encoder.status()));
  return encoder;
}

}  // namespace laminar::serde
