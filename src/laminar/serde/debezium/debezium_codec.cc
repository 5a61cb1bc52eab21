#include "laminar/serde/debezium/debezium_codec.h"

#include <arrow/api.h>

#include <cstring>
#include <span>
#include <unordered_map>

#include "laminar/core/changelog.h"
#include "laminar/core/status.h"
#include "laminar/serde/json/mismatch_counter_internal.h"
#include "laminar/serde/json/row_decoder_internal.h"
#include "laminar/serde/json/text_values_internal.h"

namespace laminar::serde {

namespace {

namespace od = simdjson::ondemand;
using json_internal::RowDecoder;

constexpr const char* kSourceTsColumn = "_source_ts_ms";
constexpr const char* kSourceTableColumn = "_source_table";
constexpr const char* kTsColumn = "_ts_ms";

// The encoding a Debezium or Kafka Connect semantic type name stands for; kDefault for
// names without one (the value is then decoded by the column's type alone).
json_internal::ValueEncoding EncodingOf(std::string_view name, simdjson::dom::element field) {
  using json_internal::ValueEncoding;
  using K = ValueEncoding::Kind;
  using U = arrow::TimeUnit;
  struct Known {
    std::string_view name;
    K kind;
    U::type unit;
  };
  static constexpr Known kKnown[] = {
      {"io.debezium.time.Timestamp", K::kEpoch, U::MILLI},
      {"io.debezium.time.MicroTimestamp", K::kEpoch, U::MICRO},
      {"io.debezium.time.NanoTimestamp", K::kEpoch, U::NANO},
      {"io.debezium.time.ZonedTimestamp", K::kIsoTimestamp, U::MICRO},
      {"io.debezium.time.Date", K::kEpochDays, U::SECOND},
      {"io.debezium.time.Time", K::kTimeOfDay, U::MILLI},
      {"io.debezium.time.MicroTime", K::kTimeOfDay, U::MICRO},
      {"io.debezium.time.NanoTime", K::kTimeOfDay, U::NANO},
      {"org.apache.kafka.connect.data.Timestamp", K::kEpoch, U::MILLI},
      {"org.apache.kafka.connect.data.Date", K::kEpochDays, U::SECOND},
      {"org.apache.kafka.connect.data.Time", K::kTimeOfDay, U::MILLI},
      {"org.apache.kafka.connect.data.Decimal", K::kUnscaledDecimal, U::SECOND},
  };
  ValueEncoding out;
  for (const auto& known : kKnown) {
    if (known.name != name) continue;
    out.kind = known.kind;
    out.unit = known.unit;
    out.name = std::string(name);
  }
  if (out.kind == K::kUnscaledDecimal) {
    // Connect writes parameters as strings ("scale": "2"); accept a number too.
    simdjson::dom::element scale;
    std::string_view text;
    int64_t number = 0;
    if (!field["parameters"]["scale"].get(scale)) {
      if (!scale.get_string().get(text)) {
        number = ParseInt64(std::string(text)).ValueOr(0);
      } else if (scale.get_int64().get(number)) {
        number = 0;
      }
    }
    out.scale = static_cast<int32_t>(number);
  }
  return out;
}

// What one event says, with before/after copied out so that they can be parsed again.
struct Envelope {
  bool tombstone = false;
  bool has_schema = false;  // a non-null `schema` block came with the event
  char op = 0;
  bool has_before = false, has_after = false;
  std::string before, after;
  std::optional<int64_t> source_ts_ms;
  std::optional<std::string> source_table;
  std::optional<int64_t> ts_ms;  // the envelope's own ts_ms (when the connector processed the event)

  void Clear() {
    tombstone = has_schema = has_before = has_after = false;
    op = 0;
    before.clear();
    after.clear();
    source_ts_ms.reset();
    source_table.reset();
    ts_ms.reset();
  }
};

class DebeziumDecoder final : public RecordDecoder, public json_internal::MismatchCounter {
 public:
  // `declared`: the columns decoded from before/after. `ts_index`: where the declared
  // `_ts_ms` column goes among them (-1: not declared).
  DebeziumDecoder(std::shared_ptr<arrow::Schema> schema, const arrow::FieldVector& declared,
                  std::unique_ptr<RowDecoder> rows, bool metadata, bool upsert, int ts_index)
      : schema_(std::move(schema)), rows_(std::move(rows)), metadata_(metadata), upsert_(upsert),
        ts_index_(ts_index) {
    for (size_t i = 0; i < declared.size(); ++i) columns_.emplace(declared[i]->name(), i);
  }

  const std::shared_ptr<arrow::Schema>& schema() const override { return schema_; }
  int64_t type_mismatches() const override { return rows_->type_mismatches(); }
  int64_t truncates() const { return truncates_; }

  arrow::Result<DecodedBatch> Decode(std::span<const RawRecord> records) override {
    DecodedBatch out;
    rows_->Reserve(static_cast<int64_t>(records.size()));
    ops_.reserve(records.size());
    std::string error;
    for (size_t i = 0; i < records.size(); ++i) {
      if (records[i].is_tombstone()) {
        ++out.tombstones;
        continue;
      }
      envelope_.Clear();
      if (!ReadEvent(records[i].value, &error)) {
        out.errors.push_back(RecordError{i, std::move(error)});
      } else if (envelope_.tombstone) {
        ++out.tombstones;
      } else if (const int64_t truncates = truncates_; !EmitRows(&error)) {
        out.errors.push_back(RecordError{i, std::move(error)});
      } else if (truncates_ != truncates) {
        ++out.skipped;  // a truncate yields no row
      }
    }
    const int64_t n = rows_->rows();
    ARROW_ASSIGN_OR_RAISE(auto columns, rows_->Finish());
    if (ts_index_ >= 0) {
      // Built as int64 and viewed as the column's type (a timestamp has the same layout).
      arrow::Int64Builder values;
      ARROW_RETURN_NOT_OK(values.Reserve(n));
      for (int64_t r = 0; r < n; ++r) {
        const auto& t = ts_[static_cast<size_t>(r)];
        if (t) {
          values.UnsafeAppend(*t);
        } else {
          values.UnsafeAppendNull();
        }
      }
      ARROW_ASSIGN_OR_RAISE(auto int64s, values.Finish());
      ARROW_ASSIGN_OR_RAISE(auto array, int64s->View(schema_->field(ts_index_)->type()));
      columns.insert(columns.begin() + ts_index_, std::move(array));
      ts_.clear();
    }
    if (metadata_) {
      arrow::Int64Builder ts;
      arrow::StringBuilder table;
      for (int64_t r = 0; r < n; ++r) {
        const auto& t = source_ts_[static_cast<size_t>(r)];
        ARROW_RETURN_NOT_OK(t ? ts.Append(*t) : ts.AppendNull());
        const auto& name = source_table_[static_cast<size_t>(r)];
        ARROW_RETURN_NOT_OK(name ? table.Append(*name) : table.AppendNull());
      }
      ARROW_ASSIGN_OR_RAISE(auto ts_array, ts.Finish());
      ARROW_ASSIGN_OR_RAISE(auto table_array, table.Finish());
      columns.push_back(std::move(ts_array));
      columns.push_back(std::move(table_array));
    }
    columns.push_back(std::make_shared<arrow::Int8Array>(n, arrow::Buffer::FromVector(std::move(ops_))));
    ops_ = {};
    source_ts_.clear();
    source_table_.clear();
    out.batch = arrow::RecordBatch::Make(schema_, n, std::move(columns));
    return out;
  }

 private:
  bool Malformed(simdjson::error_code code, std::string* error) {
    *error = json_internal::MalformedMessage(code);
    return false;
  }

  bool ReadEvent(std::string_view bytes, std::string* error) {
    od::document doc;
    if (auto code = parser_.Iterate(bytes).get(doc)) return Malformed(code, error);
    od::json_type type;
    if (auto code = doc.type().get(type)) return Malformed(code, error);
    if (type == od::json_type::null) {
      envelope_.tombstone = true;
      return true;
    }
    if (type != od::json_type::object) {
      *error = "expected a Debezium event object, found " + json_internal::DescribeJsonType(type);
      return false;
    }
    od::object object;
    if (auto code = doc.get_object().get(object)) return Malformed(code, error);
    return ReadEnvelope(object, /*top=*/true, error);
  }

  bool ReadPart(od::value value, const char* name, bool* has, std::string* text, std::string* error) {
    od::json_type type;
    if (auto code = value.type().get(type)) return Malformed(code, error);
    if (type == od::json_type::null) return true;
    if (type != od::json_type::object) {
      *error = std::string("'") + name + "' must be an object or null, found " + json_internal::DescribeJsonType(type);
      return false;
    }
    std::string_view raw;
    if (auto code = simdjson::to_json_string(value).get(raw)) return Malformed(code, error);
    text->assign(raw);
    *has = true;
    return true;
  }

  bool ReadEnvelope(od::object& object, bool top, std::string* error) {
    for (auto field_result : object) {
      od::field field;
      if (auto code = std::move(field_result).get(field)) return Malformed(code, error);
      std::string_view key;
      if (auto code = field.unescaped_key().get(key)) return Malformed(code, error);
      if (top && key == "schema") {
        od::json_type type;
        if (auto code = field.value().type().get(type)) return Malformed(code, error);
        if (type == od::json_type::null) continue;
        std::string_view raw;
        if (auto code = simdjson::to_json_string(field.value()).get(raw)) return Malformed(code, error);
        envelope_.has_schema = true;
        // A topic's events carry the same block again and again: read it when it changes.
        if (raw != schema_text_) {
          schema_text_.assign(raw);
          ReadSchema();
        }
      } else if (top && key == "payload") {
        od::json_type type;
        if (auto code = field.value().type().get(type)) return Malformed(code, error);
        if (type == od::json_type::null) {
          envelope_.tombstone = true;
          return true;
        }
        od::object payload;
        if (field.value().get_object().get(payload)) {
          *error = "'payload' must be an object or null";
          return false;
        }
        if (!ReadEnvelope(payload, /*top=*/false, error)) return false;
      } else if (key == "before") {
        if (!ReadPart(field.value(), "before", &envelope_.has_before, &envelope_.before, error)) return false;
      } else if (key == "after") {
        if (!ReadPart(field.value(), "after", &envelope_.has_after, &envelope_.after, error)) return false;
      } else if (key == "ts_ms" && ts_index_ >= 0) {
        int64_t ts = 0;
        if (!field.value().get_int64().get(ts)) envelope_.ts_ms = ts;
      } else if (key == "op") {
        std::string_view op;
        if (field.value().get_string().get(op) || op.size() != 1) {
          *error = "'op' must be a one-letter string";
          return false;
        }
        envelope_.op = op[0];
      } else if (key == "source" && metadata_) {
        od::object source;
        if (field.value().get_object().get(source)) continue;  // not an object: no metadata
        for (auto source_field_result : source) {
          od::field source_field;
          if (auto code = std::move(source_field_result).get(source_field)) return Malformed(code, error);
          std::string_view name;
          if (auto code = source_field.unescaped_key().get(name)) return Malformed(code, error);
          if (name == "ts_ms") {
            int64_t ts = 0;
            if (!source_field.value().get_int64().get(ts)) envelope_.source_ts_ms = ts;
          } else if (name == "table") {
            std::string_view table;
            if (!source_field.value().get_string().get(table)) envelope_.source_table = std::string(table);
          }
        }
      }
      // Everything else (schema, source without metadata, ts_ms, transaction) is skipped.
    }
    return true;
  }

  // The semantic type names of the `before` and `after` fields in the schema block, as an
  // encoding per declared column (kDefault for the columns it does not name).
  void ReadSchema() {
    before_encodings_.assign(columns_.size(), {});
    after_encodings_.assign(columns_.size(), {});
    simdjson::dom::element root;
    simdjson::dom::array parts;
    if (schema_parser_.parse(schema_text_).get(root) || root["fields"].get_array().get(parts)) return;
    for (simdjson::dom::element part : parts) {
      std::string_view name;
      simdjson::dom::array fields;
      if (part["field"].get_string().get(name) || part["fields"].get_array().get(fields)) continue;
      auto* encodings = name == "before" ? &before_encodings_ : name == "after" ? &after_encodings_ : nullptr;
      if (!encodings) continue;
      for (simdjson::dom::element field : fields) {
        std::string_view column, semantic;
        if (field["field"].get_string().get(column) || field["name"].get_string().get(semantic)) continue;
        auto it = columns_.find(std::string(column));
        if (it != columns_.end()) (*encodings)[it->second] = EncodingOf(semantic, field);
      }
    }
  }

  bool AppendRow(const std::string& text, const char* part, RowKind kind, std::string* error) {
    od::document doc;
    od::object object;
    if (auto code = row_parser_.Iterate(text).get(doc)) return Malformed(code, error);
    if (auto code = doc.get_object().get(object)) return Malformed(code, error);
    std::span<const json_internal::ValueEncoding> encodings;
    if (envelope_.has_schema) encodings = std::strcmp(part, "before") == 0 ? before_encodings_ : after_encodings_;
    if (!rows_->AppendObject(object, error, encodings)) {
      *error = std::string("in '") + part + "': " + *error;
      return false;
    }
    if (ts_index_ >= 0) {
      std::optional<int64_t> ts;
      if (envelope_.ts_ms) {
        const auto& type = *schema_->field(ts_index_)->type();
        ts = type.id() == arrow::Type::TIMESTAMP
                 ? text::MillisToUnit(*envelope_.ts_ms, static_cast<const arrow::TimestampType&>(type).unit())
                 : envelope_.ts_ms;
        if (!ts) {
          *error = std::string("'ts_ms' ") + std::to_string(*envelope_.ts_ms) + " overflows column '" + kTsColumn + "'";
          rows_->Truncate(rows_->rows() - 1);
          return false;
        }
      } else if (!schema_->field(ts_index_)->nullable()) {
        *error = std::string("no 'ts_ms' for the NOT NULL column '") + kTsColumn + "'";
        rows_->Truncate(rows_->rows() - 1);
        return false;
      }
      ts_.push_back(ts);
    }
    ops_.push_back(static_cast<int8_t>(kind));
    if (metadata_) {
      source_ts_.push_back(envelope_.source_ts_ms);
      source_table_.push_back(envelope_.source_table);
    }
    return true;
  }

  void Undo(int64_t rows) {
    rows_->Truncate(rows);
    ops_.resize(static_cast<size_t>(rows));
    if (ts_index_ >= 0) ts_.resize(static_cast<size_t>(rows));
    if (metadata_) {
      source_ts_.resize(static_cast<size_t>(rows));
      source_table_.resize(static_cast<size_t>(rows));
    }
  }

  bool EmitRows(std::string* error) {
    const Envelope& e = envelope_;
    const int64_t start = rows_->rows();
    switch (e.op) {
      case 0: *error = "missing field 'op'"; return false;
      case 'c':
      case 'r':
        if (!e.has_after) break;
        return AppendRow(e.after, "after", RowKind::kInsert, error);
      case 'u':
        if (!e.has_after) break;
        // upsert: the after-image alone; a keyed sink replaces the row by its key.
        if (e.has_before && !upsert_ && !AppendRow(e.before, "before", RowKind::kUpdateBefore, error)) return false;
        if (!AppendRow(e.after, "after", RowKind::kUpdateAfter, error)) {
          Undo(start);
          return false;
        }
        return true;
      case 'd':
        if (!e.has_before) {
          *error = "op 'd' without 'before' (is the table's replica identity / row image complete?)";
          return false;
        }
        return AppendRow(e.before, "before", RowKind::kDelete, error);
      case 't': ++truncates_; return true;  // no row: a changelog cannot say "every row"
      default: *error = std::string("unknown Debezium op '") + e.op + "'"; return false;
    }
    *error = std::string("op '") + e.op + "' without 'after'";
    return false;
  }

  std::shared_ptr<arrow::Schema> schema_;
  std::unique_ptr<RowDecoder> rows_;
  bool metadata_;
  bool upsert_;
  int ts_index_;
  json_internal::PaddedParser parser_;
  json_internal::PaddedParser row_parser_;
  Envelope envelope_;
  std::unordered_map<std::string, size_t> columns_;  // declared column -> index
  std::string schema_text_;                          // the last schema block read
  simdjson::dom::parser schema_parser_;
  std::vector<json_internal::ValueEncoding> before_encodings_, after_encodings_;
  int64_t truncates_ = 0;
  std::vector<int8_t> ops_;
  std::vector<std::optional<int64_t>> ts_;
  std::vector<std::optional<int64_t>> source_ts_;
  std::vector<std::optional<std::string>> source_table_;
};

}  // namespace

std::vector<ConfigKeySpec> DebeziumKeySpecs() {
  auto specs = json_internal::DecodeOptionKeySpecs();
  specs.push_back(ConfigKeySpec::Optional("format.debezium.include_metadata", ConfigType::kBool, "false",
                                          "add _source_ts_ms (source.ts_ms) and _source_table (source.table) "
                                          "before the _op column"));
  specs.push_back(ConfigKeySpec::Enum("format.debezium.updates", {"retract", "upsert"}, "retract",
                                      "retract: an update yields -U (before) then +U (after); upsert: +U (after) "
                                      "alone, for sinks that replace rows by key"));
  return specs;
}

arrow::Result<std::unique_ptr<RecordDecoder>> MakeDebeziumDecoder(const ConnectorConfig& config,
                                                                  std::shared_ptr<arrow::Schema> schema) {
  if (!schema || schema->num_fields() == 0) {
    return ConfigError(config.Where(), "format 'debezium' needs declared columns");
  }
  bool metadata = false;
  if (auto v = config.Get("format.debezium.include_metadata")) {
    if (*v != "true" && *v != "false") {
      return ConfigError(config.Where(), "option 'format.debezium.include_metadata' = '" + *v +
                                             "' is not valid; expected true or false");
    }
    metadata = *v == "true";
  }
  const std::string updates = config.Get("format.debezium.updates").value_or("retract");
  if (updates != "retract" && updates != "upsert") {
    return ConfigError(config.Where(), "option 'format.debezium.updates' = '" + updates +
                                           "' is not valid; expected retract or upsert");
  }
  arrow::FieldVector declared = schema->fields();
  if (IsChangelogSchema(*schema)) declared.pop_back();
  // A declared `_ts_ms` takes the envelope's ts_ms instead of a field of before/after.
  int ts_index = -1;
  arrow::FieldVector decoded;
  for (size_t i = 0; i < declared.size(); ++i) {
    const auto& field = declared[i];
    if (field->name() != kTsColumn) {
      decoded.push_back(field);
      continue;
    }
    if (field->type()->id() != arrow::Type::INT64 && field->type()->id() != arrow::Type::TIMESTAMP) {
      return ConfigError(config.Where(), std::string("format 'debezium': column '") + kTsColumn +
                                             "' (the event's ts_ms) must be BIGINT or TIMESTAMP, not " +
                                             field->type()->ToString());
    }
    ts_index = static_cast<int>(i);
  }
  for (const auto& field : declared) {
    if (field->name() == kChangelogColumn || (metadata && (field->name() == kSourceTsColumn ||
                                                           field->name() == kSourceTableColumn))) {
      return ConfigError(config.Where(), "format 'debezium': column '" + field->name() +
                                             "' is reserved for the changelog/metadata columns");
    }
  }
  ARROW_ASSIGN_OR_RAISE(auto options, json_internal::DecodeOptionsFromConfig(config));
  ARROW_ASSIGN_OR_RAISE(auto rows, RowDecoder::Make(decoded, std::move(options), config.Where()));
  arrow::FieldVector fields = declared;
  if (metadata) {
    fields.push_back(arrow::field(kSourceTsColumn, arrow::int64()));
    fields.push_back(arrow::field(kSourceTableColumn, arrow::utf8()));
  }
  fields.push_back(ChangelogField());
  return std::unique_ptr<RecordDecoder>(
      new DebeziumDecoder(arrow::schema(fields), decoded, std::move(rows), metadata, updates == "upsert", ts_index));
}

int64_t DebeziumTruncateCount(const RecordDecoder& decoder) {
  const auto* debezium = dynamic_cast<const DebeziumDecoder*>(&decoder);
  return debezium ? debezium->truncates() : 0;
}

}  // namespace laminar::serde
