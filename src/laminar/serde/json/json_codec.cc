#include "laminar/serde/json/json_codec.h"

#include <arrow/record_batch.h>
#include <arrow/type.h>

#include "laminar/core/status.h"
#include "laminar/serde/json/json_writer.h"
#include "laminar/serde/json/mismatch_counter_internal.h"
#include "laminar/serde/json/row_decoder_internal.h"

namespace laminar::serde {

namespace {

namespace od = simdjson::ondemand;
using json_internal::RowDecoder;

class JsonDecoder final : public RecordDecoder, public json_internal::MismatchCounter {
 public:
  JsonDecoder(std::shared_ptr<arrow::Schema> schema, std::unique_ptr<RowDecoder> rows)
      : schema_(std::move(schema)), rows_(std::move(rows)) {}

  const std::shared_ptr<arrow::Schema>& schema() const override { return schema_; }
  int64_t type_mismatches() const override { return rows_->type_mismatches(); }

  arrow::Result<DecodedBatch> Decode(std::span<const RawRecord> records) override {
    DecodedBatch out;
    rows_->Reserve(static_cast<int64_t>(records.size()));
    std::string error;
    for (size_t i = 0; i < records.size(); ++i) {
      const RawRecord& record = records[i];
      if (record.is_tombstone()) {
        ++out.tombstones;
        continue;
      }
      if (!DecodeOne(record.value, &error)) out.errors.push_back(RecordError{i, std::move(error)});
    }
    const int64_t n = rows_->rows();
    ARROW_ASSIGN_OR_RAISE(auto columns, rows_->Finish());
    out.batch = arrow::RecordBatch::Make(schema_, n, std::move(columns));
    return out;
  }

 private:
  bool DecodeOne(std::string_view bytes, std::string* error) {
    od::document doc;
    if (auto code = parser_.Iterate(bytes).get(doc)) {
      *error = json_internal::MalformedMessage(code);
      return false;
    }
    od::json_type type;
    if (auto code = doc.type().get(type)) {
      *error = json_internal::MalformedMessage(code);
      return false;
    }
    if (type != od::json_type::object) {
      *error = "expected a JSON object, found " + json_internal::DescribeJsonType(type);
      return false;
    }
    od::object object;
    if (auto code = doc.get_object().get(object)) {
      *error = json_internal::MalformedMessage(code);
      return false;
    }
    const int64_t before = rows_->rows();
    if (!rows_->AppendObject(object, error)) return false;
    // Anything after the object is an error too ({"a":1} {"b":2} is two documents).
    const char* location = nullptr;
    if (!doc.current_location().get(location)) {
      rows_->Truncate(before);
      *error = "malformed JSON: content after the top-level object";
      return false;
    }
    return true;
  }

  std::shared_ptr<arrow::Schema> schema_;
  std::unique_ptr<RowDecoder> rows_;
  json_internal::PaddedParser parser_;
};

class JsonEncoder final : public RecordEncoder {
 public:
  explicit JsonEncoder(const arrow::Schema& schema) : writer_(schema) {}

  arrow::Status Encode(const arrow::RecordBatch& batch, std::vector<std::string>* out) override {
    out->reserve(out->size() + static_cast<size_t>(batch.num_rows()));
    for (int64_t row = 0; row < batch.num_rows(); ++row) {
      std::string message;
      ARROW_RETURN_NOT_OK(writer_.AppendRow(batch, row, &message));
      out->push_back(std::move(message));
    }
    return arrow::Status::OK();
  }

 private:
  JsonRowWriter writer_;
};

}  // namespace

std::vector<ConfigKeySpec> JsonKeySpecs() { return json_internal::DecodeOptionKeySpecs(); }

arrow::Result<std::unique_ptr<RecordDecoder>> MakeJsonDecoder(const ConnectorConfig& config,
                                                              std::shared_ptr<arrow::Schema> schema) {
  if (!schema || schema->num_fields() == 0) {
    return ConfigError(config.Where(), "format 'json' needs declared columns");
  }
  ARROW_ASSIGN_OR_RAISE(auto options, json_internal::DecodeOptionsFromConfig(config));
  const bool collect = options.unknown_fields == json_internal::UnknownFields::kCollect;
  ARROW_ASSIGN_OR_RAISE(auto rows, RowDecoder::Make(schema->fields(), std::move(options), config.Where()));
  if (collect) {
    ARROW_ASSIGN_OR_RAISE(schema, schema->AddField(schema->num_fields(), RowDecoder::ExtraField()));
  }
  return std::unique_ptr<RecordDecoder>(new JsonDecoder(std::move(schema), std::move(rows)));
}

arrow::Result<std::unique_ptr<RecordEncoder>> MakeJsonEncoder(const ConnectorConfig& config,
                                                              std::shared_ptr<arrow::Schema> schema) {
  if (!schema) return ConfigError(config.Where(), "format 'json' needs the input schema to encode");
  return std::unique_ptr<RecordEncoder>(new JsonEncoder(*schema));
}

int64_t TypeMismatchCount(const RecordDecoder& decoder) {
  const auto* counter = dynamic_cast<const json_internal::MismatchCounter*>(&decoder);
  return counter ? counter->type_mismatches() : 0;
}

}  // namespace laminar::serde
