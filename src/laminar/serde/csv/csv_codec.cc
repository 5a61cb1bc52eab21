#include "laminar/serde/csv/csv_codec.h"

#include <arrow/api.h>
#include <arrow/util/decimal.h>

#include <charconv>

#include "laminar/core/status.h"
#include "laminar/serde/csv/csv_columns_internal.h"
#include "laminar/serde/csv/csv_options.h"
#include "laminar/serde/csv/text_values.h"

namespace laminar::serde {

std::vector<ConfigKeySpec> CsvKeySpecs() {
  return {
      ConfigKeySpec::Optional("format.delimiter", ConfigType::kString, ",",
                              "Field separator, one byte; 'tab' or '\\t' for a tab."),
      ConfigKeySpec::Optional("format.quote", ConfigType::kString, "\"",
                              "Quote character, one byte; 'none' (or empty) disables quoting."),
      ConfigKeySpec::Unset("format.escape", ConfigType::kString,
                           "Escape character (e.g. '\\'): the byte after it is literal. Default: none, "
                           "quotes inside quoted fields are doubled (RFC 4180)."),
      ConfigKeySpec::Unset("format.has_header", ConfigType::kBool,
                           "First row is a header (skipped; columns are matched by position). Default: "
                           "true for files; message sources (one row per message) reject true, since "
                           "after a restart the first message they see is a data row."),
      ConfigKeySpec::Optional("format.null_string", ConfigType::kString, "",
                              "An unquoted field equal to this is NULL. A quoted field is never NULL: "
                              "\"\" is an empty string."),
      ConfigKeySpec::Unset("format.comment", ConfigType::kString,
                           "Lines starting with this byte are skipped. Default: none."),
      ConfigKeySpec::Optional("format.skip_rows", ConfigType::kUInt, "0",
                              "Data rows skipped after the header, once per file; message sources reject it."),
      ConfigKeySpec::Optional("format.timestamp_format", ConfigType::kString, "%Y-%m-%d %H:%M:%S%.f",
                              "Pattern for timestamp columns (%Y %m %d %H %M %S %f %.f %z %:z %T %F %s); "
                              "ISO-8601 is accepted as a fallback. Without an offset the value is UTC."),
      ConfigKeySpec::Optional("format.date_format", ConfigType::kString, "%Y-%m-%d",
                              "Pattern for date columns; YYYY-MM-DD is accepted as a fallback."),
      ConfigKeySpec::Enum("format.field_count_mismatch", {"reject", "null", "skip"}, "reject",
                          "A row with the wrong number of fields: reject = record error (handled by "
                          "on.error, so nothing is lost unnoticed); null = pad missing fields with NULL "
                          "and drop extra ones; skip = drop the row, counted as skipped."),
  };
}

namespace {

arrow::Result<std::optional<char>> CharOption(const ConnectorConfig& config, const std::string& key,
                                              std::optional<char> fallback, bool may_be_none) {
  auto value = config.Get(key);
  if (!value) return fallback;
  if (*value == "tab" || *value == "\\t") return std::optional<char>('\t');
  if (may_be_none && (value->empty() || *value == "none")) return std::optional<char>();
  if (value->size() != 1) {
    return ConfigError(config.Where(), "option '" + key + "' = '" + *value + "' must be a single character" +
                                           (may_be_none ? " or 'none'" : ""));
  }
  const char c = (*value)[0];
  if (c == '\n' || c == '\r') return ConfigError(config.Where(), "option '" + key + "' cannot be a line break");
  return std::optional<char>(c);
}

}  // namespace

arrow::Result<CsvOptions> CsvOptions::FromConfig(const ConnectorConfig& config) {
  const auto specs = CsvKeySpecs();
  for (const auto& [key, value] : config.properties()) {
    if (key.rfind("format.", 0) != 0) continue;
    bool known = false;
    for (const auto& spec : specs) known = known || spec.Matches(key);
    if (!known) return ConfigError(config.Where(), "option '" + key + "' is not an option of format 'csv'");
  }
  CsvOptions options;
  ARROW_ASSIGN_OR_RAISE(auto delimiter, CharOption(config, "format.delimiter", ',', false));
  options.dialect.delimiter = *delimiter;
  ARROW_ASSIGN_OR_RAISE(options.dialect.quote, CharOption(config, "format.quote", '"', true));
  ARROW_ASSIGN_OR_RAISE(options.dialect.escape, CharOption(config, "format.escape", std::nullopt, true));
  ARROW_ASSIGN_OR_RAISE(options.dialect.comment, CharOption(config, "format.comment", std::nullopt, true));
  const auto& d = options.dialect;
  if ((d.quote && *d.quote == d.delimiter) || (d.escape && *d.escape == d.delimiter) ||
      (d.comment && *d.comment == d.delimiter)) {
    return ConfigError(config.Where(),
                       "options 'format.delimiter', 'format.quote', 'format.escape' and "
                       "'format.comment' must be different characters");
  }
  if (d.quote && d.comment && *d.quote == *d.comment) {
    return ConfigError(config.Where(), "options 'format.quote' and 'format.comment' must differ");
  }
  if (config.Has("format.has_header")) {
    ARROW_ASSIGN_OR_RAISE(bool header, config.GetBool("format.has_header", false));
    options.has_header = header;
  }
  options.null_string = config.Get("format.null_string").value_or("");
  ARROW_ASSIGN_OR_RAISE(uint64_t skip, config.GetUInt64("format.skip_rows", 0));
  options.skip_rows = static_cast<int64_t>(skip);
  options.timestamp_format = config.Get("format.timestamp_format").value_or(options.timestamp_format);
  options.date_format = config.Get("format.date_format").value_or(options.date_format);
  const std::string mismatch = config.Get("format.field_count_mismatch").value_or("reject");
  if (mismatch == "reject") {
    options.field_count_mismatch = FieldCountMismatch::kReject;
  } else if (mismatch == "null") {
    options.field_count_mismatch = FieldCountMismatch::kNull;
  } else if (mismatch == "skip") {
    options.field_count_mismatch = FieldCountMismatch::kSkip;
  } else {
    return ConfigError(config.Where(),
                       "option 'format.field_count_mismatch' = '" + mismatch + "' is not one of reject, null, skip");
  }
  return options;
}

namespace {

class CsvMessageDecoder : public RecordDecoder {
 public:
  CsvMessageDecoder(CsvOptions options, std::unique_ptr<CsvRowBuilder> rows)
      : options_(std::move(options)), tokenizer_(options_.dialect), rows_(std::move(rows)) {}

  const std::shared_ptr<arrow::Schema>& schema() const override { return rows_->schema(); }

  arrow::Result<DecodedBatch> Decode(std::span<const RawRecord> records) override {
    DecodedBatch out;
    const bool single_column = rows_->schema()->num_fields() == 1;
    for (size_t i = 0; i < records.size(); ++i) {
      const RawRecord& record = records[i];
      if (record.is_tombstone()) {
        ++out.tombstones;
        continue;
      }
      size_t pos = 0;
      CsvScan scan = CsvScan::kEnd;
      do {
        scan = tokenizer_.Next(record.value, &pos, /*last=*/true);
      } while (scan == CsvScan::kComment);
      const bool empty_message = record.value.empty();
      if (empty_message && single_column) {
        scan = CsvScan::kBlank;  // an empty message is one empty field: null by default
      }
      if (scan == CsvScan::kEnd || (scan == CsvScan::kBlank && !single_column)) {
        ++out.skipped;  // an empty or comment-only message holds no row
        continue;
      }
      if (!tokenizer_.error().empty()) {
        out.errors.push_back(RecordError{i, record.Position() + ": " + tokenizer_.error()});
        continue;
      }
      // Only comment or blank lines may follow the row (checked with a second tokenizer, so
      // that the row's field views stay valid).
      if (!RestIsEmpty(record.value, pos)) {
        out.errors.push_back(RecordError{i, record.Position() + ": the message holds more than one CSV row"});
        continue;
      }
      static const CsvField kEmptyField{};
      std::string error;
      ARROW_ASSIGN_OR_RAISE(RowOutcome outcome,
                            rows_->AddRow(empty_message ? std::span<const CsvField>(&kEmptyField, 1)
                                                        : std::span<const CsvField>(tokenizer_.fields()),
                                          &error));
      if (outcome == RowOutcome::kError) out.errors.push_back(RecordError{i, record.Position() + ": " + error});
      if (outcome == RowOutcome::kSkipped) ++out.skipped;  // field_count_mismatch=skip
    }
    ARROW_ASSIGN_OR_RAISE(out.batch, rows_->Flush());
    return out;
  }

 private:
  bool RestIsEmpty(std::string_view value, size_t pos) {
    while (pos < value.size()) {
      const CsvScan scan = rest_tokenizer_.Next(value, &pos, true);
      if (scan == CsvScan::kEnd) return true;
      if (scan == CsvScan::kRecord) return false;
    }
    return true;
  }

  CsvOptions options_;
  CsvTokenizer tokenizer_;
  CsvTokenizer rest_tokenizer_{options_.dialect};
  std::unique_ptr<CsvRowBuilder> rows_;
};

class CsvEncoder : public RecordEncoder {
 public:
  CsvEncoder(CsvOptions options, std::shared_ptr<arrow::Schema> schema)
      : options_(std::move(options)),
        schema_(std::move(schema)),
        header_pending_(options_.has_header.value_or(false)) {}

  arrow::Status Encode(const arrow::RecordBatch& batch, std::vector<std::string>* out) override {
    const int ncols = batch.num_columns();
    if (header_pending_) {
      std::string line;
      for (int c = 0; c < ncols; ++c) {
        if (c > 0) line.push_back(options_.dialect.delimiter);
        ARROW_RETURN_NOT_OK(AppendQuoted(batch.schema()->field(c)->name(), -1, c, batch, &line));
      }
      out->push_back(std::move(line));
      header_pending_ = false;
    }
    std::string value;
    for (int64_t row = 0; row < batch.num_rows(); ++row) {
      std::string line;
      for (int c = 0; c < ncols; ++c) {
        if (c > 0) line.push_back(options_.dialect.delimiter);
        const arrow::Array& array = *batch.column(c);
        if (array.IsNull(row)) {
          line += options_.null_string;
          continue;
        }
        value.clear();
        ARROW_RETURN_NOT_OK(FormatValue(array, row, &value, batch, c));
        ARROW_RETURN_NOT_OK(AppendQuoted(value, row, c, batch, &line));
      }
      out->push_back(std::move(line));
    }
    return arrow::Status::OK();
  }

 private:
  arrow::Status Unencodable(const arrow::RecordBatch& batch, int64_t row, int column, const std::string& why) {
    return arrow::Status::Invalid("csv: cannot encode row ", row, " column '", batch.schema()->field(column)->name(),
                                  "': ", why);
  }

  arrow::Status FormatValue(const arrow::Array& array, int64_t row, std::string* out, const arrow::RecordBatch& batch,
                            int column) {
    char buf[64];
    auto put_number = [&](auto v) {
      auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
      (void)ec;
      out->append(buf, p);
    };
    switch (array.type_id()) {
      case arrow::Type::BOOL:
        *out += static_cast<const arrow::BooleanArray&>(array).Value(row) ? "true" : "false";
        return arrow::Status::OK();
      case arrow::Type::INT8:
        put_number(static_cast<const arrow::Int8Array&>(array).Value(row));
        break;
      case arrow::Type::INT16:
        put_number(static_cast<const arrow::Int16Array&>(array).Value(row));
        break;
      case arrow::Type::INT32:
        put_number(static_cast<const arrow::Int32Array&>(array).Value(row));
        break;
      case arrow::Type::INT64:
        put_number(static_cast<const arrow::Int64Array&>(array).Value(row));
        break;
      case arrow::Type::UINT8:
        put_number(static_cast<const arrow::UInt8Array&>(array).Value(row));
        break;
      case arrow::Type::UINT16:
        put_number(static_cast<const arrow::UInt16Array&>(array).Value(row));
        break;
      case arrow::Type::UINT32:
        put_number(static_cast<const arrow::UInt32Array&>(array).Value(row));
        break;
      case arrow::Type::UINT64:
        put_number(static_cast<const arrow::UInt64Array&>(array).Value(row));
        break;
      case arrow::Type::FLOAT:
        put_number(static_cast<const arrow::FloatArray&>(array).Value(row));
        break;
      case arrow::Type::DOUBLE:
        put_number(static_cast<const arrow::DoubleArray&>(array).Value(row));
        break;
      case arrow::Type::DECIMAL128:
        *out += static_cast<const arrow::Decimal128Array&>(array).FormatValue(row);
        break;
      case arrow::Type::STRING:
      case arrow::Type::BINARY: {
        const auto& a = static_cast<const arrow::BinaryArray&>(array);
        *out += a.GetView(row);
        break;
      }
      case arrow::Type::LARGE_STRING:
      case arrow::Type::LARGE_BINARY: {
        const auto& a = static_cast<const arrow::LargeBinaryArray&>(array);
        *out += a.GetView(row);
        break;
      }
      case arrow::Type::DATE32:
        AppendDate(static_cast<const arrow::Date32Array&>(array).Value(row), out);
        break;
      case arrow::Type::TIME32: {
        const auto& type = static_cast<const arrow::Time32Type&>(*array.type());
        AppendTimeOfDay(static_cast<const arrow::Time32Array&>(array).Value(row), type.unit(), out);
        break;
      }
      case arrow::Type::TIME64: {
        const auto& type = static_cast<const arrow::Time64Type&>(*array.type());
        AppendTimeOfDay(static_cast<const arrow::Time64Array&>(array).Value(row), type.unit(), out);
        break;
      }
      case arrow::Type::TIMESTAMP: {
        const auto& type = static_cast<const arrow::TimestampType&>(*array.type());
        AppendTimestamp(static_cast<const arrow::TimestampArray&>(array).Value(row), type.unit(), out);
        break;
      }
      default:
        return Unencodable(batch, row, column, "type " + array.type()->ToString() + " has no CSV form");
    }
    return arrow::Status::OK();
  }

  // Appends `value`, quoted when it would otherwise read back differently. row -1: header.
  arrow::Status AppendQuoted(std::string_view value, int64_t row, int column, const arrow::RecordBatch& batch,
                             std::string* line) {
    const CsvDialect& d = options_.dialect;
    bool needs = value.empty() || value == options_.null_string;
    if (!needs && d.comment && column == 0 && value[0] == *d.comment) needs = true;
    if (!needs && d.quote && value[0] == *d.quote) needs = true;
    for (size_t i = 0; i < value.size() && !needs; ++i) {
      const char c = value[i];
      needs = c == d.delimiter || c == '\n' || c == '\r' || (d.quote && c == *d.quote) || (d.escape && c == *d.escape);
    }
    if (!needs) {
      line->append(value);
      return arrow::Status::OK();
    }
    if (d.quote) {
      line->push_back(*d.quote);
      for (char c : value) {
        if (c == *d.quote || (d.escape && c == *d.escape)) line->push_back(c);  // doubled
        line->push_back(c);
      }
      line->push_back(*d.quote);
      return arrow::Status::OK();
    }
    if (d.escape && !value.empty() && value != options_.null_string) {
      for (char c : value) {
        if (c == d.delimiter || c == '\n' || c == '\r' || c == *d.escape || (d.comment && c == *d.comment)) {
          line->push_back(*d.escape);
        }
        line->push_back(c);
      }
      return arrow::Status::OK();
    }
    const std::string why =
        "the value needs quoting but format.quote is 'none'" +
        std::string(value.empty() || value == options_.null_string ? " (it would read back as NULL)" : "");
    if (row < 0) return arrow::Status::Invalid("csv: cannot encode the header name of column ", column, ": ", why);
    return Unencodable(batch, row, column, why);
  }

  CsvOptions options_;
  std::shared_ptr<arrow::Schema> schema_;
  bool header_pending_;
};

}  // namespace

arrow::Result<std::unique_ptr<RecordDecoder>> MakeCsvDecoder(const ConnectorConfig& config,
                                                             std::shared_ptr<arrow::Schema> schema) {
  ARROW_ASSIGN_OR_RAISE(auto options, CsvOptions::FromConfig(config));
  // A header or rows to skip would be counted in memory only: a source restored from its
  // checkpoint makes a new decoder, which would take its first message, a data row, for
  // the header. Files keep both: CsvStreamDecoder checkpoints whether they are behind it.
  if (options.has_header.value_or(false)) {
    return ConfigError(config.Where(), "option 'format.has_header' = 'true' is not supported for messages "
                                       "(one row per message): after a restart the first message read would be "
                                       "taken for the header; remove the header rows upstream");
  }
  if (options.skip_rows > 0) {
    return ConfigError(config.Where(), "option 'format.skip_rows' is not supported for messages (one row per "
                                       "message): the rows skipped would be skipped again after a restart");
  }
  ARROW_ASSIGN_OR_RAISE(auto rows, CsvRowBuilder::Make(std::move(schema), options, config.Where()));
  return std::make_unique<CsvMessageDecoder>(std::move(options), std::move(rows));
}

arrow::Result<std::unique_ptr<RecordEncoder>> MakeCsvEncoder(const ConnectorConfig& config,
                                                             std::shared_ptr<arrow::Schema> schema) {
  ARROW_ASSIGN_OR_RAISE(auto options, CsvOptions::FromConfig(config));
  // The same type check as the decoder, so that a sink fails at construction, not mid-run.
  ARROW_RETURN_NOT_OK(CsvRowBuilder::Make(schema, options, config.Where()).status());
  return std::make_unique<CsvEncoder>(std::move(options), std::move(schema));
}

}  // namespace laminar::serde
