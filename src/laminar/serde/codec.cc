#include "laminar/serde/codec.h"

#include <algorithm>
#include <cctype>
#include <functional>

#include "laminar/serde/avro/avro_format.h"
#include "laminar/serde/csv/csv_codec.h"
#include "laminar/serde/debezium/debezium_codec.h"
#include "laminar/serde/json/json_codec.h"
#include "laminar/serde/parquet/parquet_codec.h"
#include "laminar/serde/raw/raw_codec.h"

namespace laminar::serde {

std::string RawRecord::Position() const {
  std::string out;
  if (!partition.empty()) out += std::string(partition_label) + " " + std::string(partition) + " ";
  out += "offset " + std::string(offset);
  return out;
}

namespace {

struct Format {
  const char* name;
  std::function<std::vector<ConfigKeySpec>()> key_specs;
  std::function<arrow::Result<std::unique_ptr<RecordDecoder>>(const ConnectorConfig&, std::shared_ptr<arrow::Schema>)>
      make_decoder;
  std::function<arrow::Result<std::unique_ptr<RecordEncoder>>(const ConnectorConfig&, std::shared_ptr<arrow::Schema>)>
      make_encoder;  // empty: decode only
};

const std::vector<Format>& Formats() {
  static const std::vector<Format> formats = {
      {"json", JsonKeySpecs, MakeJsonDecoder, MakeJsonEncoder},
      {"csv", CsvKeySpecs, MakeCsvDecoder, MakeCsvEncoder},
      {"avro", AvroKeySpecs, MakeAvroDecoder, MakeAvroEncoder},
      {"raw", RawKeySpecs, MakeRawDecoder, MakeRawEncoder},
      {"debezium", DebeziumKeySpecs, MakeDebeziumDecoder, {}},
      {"parquet", ParquetKeySpecs, MakeParquetDecoder, MakeParquetEncoder},
  };
  return formats;
}

std::string KnownFormats() {
  std::string out;
  for (const auto& f : Formats()) out += (out.empty() ? "" : ", ") + std::string(f.name);
  return out;
}

// The format's own keys; any other `format.*` key is an error naming it.
arrow::Status CheckFormatKeys(const ConnectorConfig& config, const Format& format) {
  const auto specs = format.key_specs();
  for (const auto& property : config.properties()) {
    const std::string& key = property.first;
    if (key.rfind("format.", 0) != 0) continue;
    if (std::none_of(specs.begin(), specs.end(), [&](const ConfigKeySpec& s) { return s.Matches(key); })) {
      return ConfigError(config.Where(), "option '" + key + "' does not apply to format '" + format.name + "'");
    }
  }
  return arrow::Status::OK();
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

arrow::Result<const Format*> FindFormat(const ConnectorConfig& config, const std::string& default_format) {
  const std::string name = Lower(config.Get("format").value_or(default_format));
  const auto canonical = CanonicalFormatName(name);
  if (!canonical) {
    return ConfigError(config.Where(), "option 'format' = '" + name + "' is not a known format (" + KnownFormats() +
                                           "; aliases bytes, debezium-json, confluent-avro)");
  }
  if (name == "confluent-avro") {
    // Avro with the Confluent framing (magic byte + schema id): the avro format's default wire.
    if (auto wire = config.Get("format.avro.wire"); wire && *wire != "confluent") {
      return ConfigError(config.Where(), "option 'format.avro.wire' = '" + *wire +
                                             "' contradicts format 'confluent-avro' (use format 'avro' for plain)");
    }
  }
  for (const auto& f : Formats()) {
    if (*canonical == f.name) {
      ARROW_RETURN_NOT_OK(CheckFormatKeys(config, f));
      return &f;
    }
  }
  return ConfigError(config.Where(), "option 'format' = '" + name + "' is not a known format (" + KnownFormats() + ")");
}

}  // namespace

std::optional<std::string> CanonicalFormatName(std::string_view name) {
  static const std::pair<std::string_view, std::string_view> kAliases[] = {
      {"json", "json"},         {"csv", "csv"},      {"raw", "raw"},
      {"bytes", "raw"},         {"debezium", "debezium"}, {"debezium-json", "debezium"},
      {"avro", "avro"},         {"confluent-avro", "avro"}, {"parquet", "parquet"},
  };
  const std::string lower = Lower(name);
  for (const auto& [alias, canonical] : kAliases) {
    if (lower == alias) return std::string(canonical);
  }
  return std::nullopt;
}

std::vector<ConfigKeySpec> FormatKeySpecs() {
  std::vector<ConfigKeySpec> specs;
  for (const auto& f : Formats()) {
    for (auto& spec : f.key_specs()) {
      auto same = std::find_if(specs.begin(), specs.end(), [&](const ConfigKeySpec& s) { return s.key == spec.key; });
      if (same == specs.end()) {
        // Defaults differ by format; each decoder applies its own, so none is filled in here.
        spec.default_value.reset();
        spec.description = "[" + std::string(f.name) + "] " + spec.description;
        specs.push_back(std::move(spec));
      } else {
        same->description = "[" + std::string(f.name) + "] " + same->description.substr(same->description.find(']') + 2);
        same->type = ConfigType::kString;  // validated by the decoder of the chosen format
        same->allowed_values.clear();
      }
    }
  }
  return specs;
}

arrow::Result<std::unique_ptr<RecordDecoder>> MakeDecoder(const ConnectorConfig& config,
                                                          std::shared_ptr<arrow::Schema> schema,
                                                          const std::string& default_format) {
  ARROW_ASSIGN_OR_RAISE(auto format, FindFormat(config, default_format));
  return format->make_decoder(config, std::move(schema));
}

arrow::Result<std::unique_ptr<RecordEncoder>> MakeEncoder(const ConnectorConfig& config,
                                                          std::shared_ptr<arrow::Schema> schema,
                                                          const std::string& default_format) {
  ARROW_ASSIGN_OR_RAISE(auto format, FindFormat(config, default_format));
  if (!format->make_encoder) return ConfigError(config.Where(), "format '" + std::string(format->name) + "' cannot be written");
  return format->make_encoder(config, std::move(schema));
}

}  // namespace laminar::serde
