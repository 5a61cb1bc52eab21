#include "laminar/kafka/kafka_avro_registry.h"

#include <spdlog/spdlog.h>

#include "laminar/core/status.h"
#include "laminar/serde/avro/avro_format.h"
#include "laminar/serde/avro/avro_schema.h"

namespace laminar::kafka {

namespace {

arrow::Status Prefixed(const std::string& where, const arrow::Status& status) {
  if (status.ok()) return status;
  return status.WithMessage(where, ": ", status.message());
}

// The schema the sink writes: format.avro.schema, else the one derived from the columns
// (the same derivation the Avro encoder makes).
arrow::Result<std::shared_ptr<const serde::avro::AvroSchema>> WriterSchema(const ConnectorConfig& config,
                                                                           const arrow::Schema& columns) {
  std::string text;
  if (auto pinned = config.Get("format.avro.schema")) {
    text = *pinned;
  } else {
    ARROW_ASSIGN_OR_RAISE(std::string name, config.GetString("format.avro.record.name", "record"));
    ARROW_ASSIGN_OR_RAISE(std::string space, config.GetString("format.avro.namespace", ""));
    auto derived = serde::avro::ArrowToAvroSchemaJson(columns, name, space);
    if (!derived.ok()) return ConfigError(config.Where(), "format avro: " + derived.status().message());
    text = *derived;
  }
  auto parsed = serde::avro::AvroSchema::Parse(text);
  if (!parsed.ok()) return ConfigError(config.Where(), "format.avro.schema: " + parsed.status().message());
  return *parsed;
}

}  // namespace

arrow::Result<std::string> SinkSubject(const ConnectorConfig& config, const std::string& record_full_name) {
  if (auto subject = config.Get("schema.registry.subject")) {
    if (subject->empty()) return ConfigError(config.Where(), "option 'schema.registry.subject' must not be empty");
    return *subject;
  }
  const std::string text = config.Get("schema.registry.subject.strategy").value_or("topic_name");
  auto strategy = ParseSubjectStrategy(text);
  if (!strategy) {
    return ConfigError(config.Where(), "option 'schema.registry.subject.strategy' = '" + text +
                                           "' is not one of topic_name, record_name, topic_record_name");
  }
  if (*strategy != SubjectStrategy::kTopicName && record_full_name.empty()) {
    return ConfigError(config.Where(), "option 'schema.registry.subject.strategy' = '" + text +
                                           "' needs a record schema (its name is the subject)");
  }
  return SubjectName(*strategy, config.Get("topic").value_or(""), record_full_name);
}

arrow::Result<std::unique_ptr<serde::RecordDecoder>> MakeKafkaDecoder(const ConnectorConfig& config,
                                                                      std::shared_ptr<arrow::Schema> schema) {
  if (!UsesConfluentAvro(config)) return serde::MakeDecoder(config, schema, "json");
  ARROW_ASSIGN_OR_RAISE(auto registry, SchemaRegistryOptions::FromConfig(config));
  // Also checks the format.* keys: without a registry this is the decoder.
  ARROW_ASSIGN_OR_RAISE(auto pinned_decoder, serde::MakeDecoder(config, schema, "json"));
  if (!registry) return pinned_decoder;

  auto client = std::make_shared<SchemaRegistryClient>(*registry);
  std::optional<int64_t> pinned_id;
  std::string pinned_text;
  if (auto text = config.Get("format.avro.schema"); text && config.Has("format.avro.schema.id")) {
    ARROW_ASSIGN_OR_RAISE(pinned_id, config.GetOptionalInt64("format.avro.schema.id"));
    pinned_text = *text;
  }
  serde::SchemaLookup lookup = [client, pinned_id, pinned_text](int32_t id) -> arrow::Result<std::string> {
    if (pinned_id && *pinned_id == id) return pinned_text;
    return client->SchemaById(id);
  };
  spdlog::info("{}: Avro writer schemas by id from schema registry {}", config.Where(), registry->DisplayUrl());
  return serde::MakeConfluentAvroDecoder(config, schema, std::move(lookup));
}

arrow::Result<std::unique_ptr<serde::RecordEncoder>> MakeKafkaEncoder(const ConnectorConfig& config,
                                                                      std::shared_ptr<arrow::Schema> schema) {
  // A pinned id is written as it is: nothing to register.
  if (!UsesConfluentAvro(config) || config.Has("format.avro.schema.id")) {
    return serde::MakeEncoder(config, schema, "json");
  }
  ARROW_ASSIGN_OR_RAISE(auto registry, SchemaRegistryOptions::FromConfig(config));
  if (!registry || schema == nullptr) return serde::MakeEncoder(config, schema, "json");
  const std::string where = config.Where();

  ARROW_ASSIGN_OR_RAISE(auto writer, WriterSchema(config, *schema));
  const std::string text = writer->ToJson();
  // Every format key and every column checked before the registry hears of the schema.
  ConnectorConfig resolved = config;
  resolved.Set("format.avro.schema", text);
  resolved.Set("format.avro.schema.id", "0");
  ARROW_RETURN_NOT_OK(serde::MakeEncoder(resolved, schema, "json").status());

  const auto& root = writer->root();
  ARROW_ASSIGN_OR_RAISE(std::string subject,
                        SinkSubject(config, root.type == serde::avro::AvroType::kRecord ? root.full_name : ""));
  SchemaRegistryClient client(*registry);
  if (registry->compatibility) {
    ARROW_RETURN_NOT_OK(Prefixed(where, client.SetCompatibility(subject, *registry->compatibility)));
  }
  auto id = client.CheckAndRegister(subject, text);
  if (!id.ok()) return Prefixed(where, id.status());
  spdlog::info("{}: Avro schema registered under subject '{}' in {}: id {}", where, subject, registry->DisplayUrl(),
               *id);
  resolved.Set("format.avro.schema.id", std::to_string(*id));
  return serde::MakeEncoder(resolved, schema, "json");
}

}  // namespace laminar::kafka
