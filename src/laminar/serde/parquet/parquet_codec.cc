#include "laminar/serde/parquet/parquet_codec.h"

#include <arrow/api.h>
#include <arrow/compare.h>
#include <arrow/io/memory.h>
#include <arrow/scalar.h>
#include <arrow/util/checked_cast.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/writer.h>
#include <parquet/statistics.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <functional>
#include <iterator>
#include <optional>

namespace laminar::serde {

namespace {

// ---- predicate -------------------------------------------------------------------

enum class Cmp { kEq, kGt, kLt, kGe, kLe, kBetween };

class Comparison : public RowGroupPredicate {
 public:
  Comparison(std::string column, Cmp cmp, std::string lo, std::string hi)
      : column_(std::move(column)), cmp_(cmp), lo_(std::move(lo)), hi_(std::move(hi)) {}

  bool MayMatch(const StatsLookup& stats) const override {
    auto [min, max] = stats(column_);
    if (!min || !max || !min->is_valid || !max->is_valid) return true;
    auto lo = Literal(lo_, min->type);
    auto hi = Literal(hi_, min->type);
    if (!lo.ok() || !hi.ok()) return true;  // cannot compare: read the group
    // Each order the switch needs, computed up front: one that cannot be decided reads the group.
    const auto lo_min = Compare(**lo, *min), lo_max = Compare(**lo, *max), hi_min = Compare(**hi, *min);
    if (!lo_min || !lo_max || !hi_min) return true;
    switch (cmp_) {
      case Cmp::kEq: return *lo_min >= 0 && *lo_max <= 0;
      case Cmp::kGt: return *lo_max < 0;
      case Cmp::kGe: return *lo_max <= 0;
      case Cmp::kLt: return *lo_min > 0;
      case Cmp::kLe: return *lo_min >= 0;
      case Cmp::kBetween: return *lo_max <= 0 && *hi_min >= 0;
    }
    return true;
  }

 private:
  static arrow::Result<std::shared_ptr<arrow::Scalar>> Literal(const std::string& text,
                                                               const std::shared_ptr<arrow::DataType>& type) {
    return arrow::Scalar::Parse(type, text);
  }
  // The integer a scalar of an integer or temporal type stores: days for dates, the
  // type's unit for times and timestamps (the literal was parsed into the statistics'
  // type, so both sides share the unit). Null for other types and unsigned values above
  // INT64_MAX.
  static std::optional<int64_t> PhysicalInteger(const arrow::Scalar& s) {
    using arrow::internal::checked_cast;
    switch (s.type->id()) {
      case arrow::Type::DATE32: return checked_cast<const arrow::Date32Scalar&>(s).value;
      case arrow::Type::DATE64: return checked_cast<const arrow::Date64Scalar&>(s).value;
      case arrow::Type::TIME32: return checked_cast<const arrow::Time32Scalar&>(s).value;
      case arrow::Type::TIME64: return checked_cast<const arrow::Time64Scalar&>(s).value;
      case arrow::Type::TIMESTAMP: return checked_cast<const arrow::TimestampScalar&>(s).value;
      default: break;
    }
    if (!arrow::is_integer(s.type->id())) return std::nullopt;
    auto cast = s.CastTo(arrow::int64());
    if (!cast.ok()) return std::nullopt;
    return checked_cast<const arrow::Int64Scalar&>(**cast).value;
  }
  // -1, 0, 1 for scalars of one type; null when they cannot be ordered (the caller then
  // reads the group, never skips it). Strings compare bytewise; integers, dates, times
  // and timestamps by their integer value; the rest as doubles.
  static std::optional<int> Compare(const arrow::Scalar& a, const arrow::Scalar& b) {
    auto order = [](const auto& x, const auto& y) { return x < y ? -1 : (y < x ? 1 : 0); };
    if (a.type->id() == arrow::Type::STRING || a.type->id() == arrow::Type::BINARY) {
      return order(static_cast<const arrow::BaseBinaryScalar&>(a).view(),
                   static_cast<const arrow::BaseBinaryScalar&>(b).view());
    }
    const auto int_a = PhysicalInteger(a), int_b = PhysicalInteger(b);
    if (int_a && int_b) return order(*int_a, *int_b);
    auto double_a = a.CastTo(arrow::float64());
    auto double_b = b.CastTo(arrow::float64());
    if (!double_a.ok() || !double_b.ok()) return std::nullopt;
    return order(static_cast<const arrow::DoubleScalar&>(**double_a).value,
                 static_cast<const arrow::DoubleScalar&>(**double_b).value);
  }

  std::string column_;
  Cmp cmp_;
  std::string lo_, hi_;
};

class Junction : public RowGroupPredicate {
 public:
  Junction(bool all, std::vector<std::shared_ptr<RowGroupPredicate>> parts) : all_(all), parts_(std::move(parts)) {}
  bool MayMatch(const StatsLookup& stats) const override {
    for (const auto& p : parts_) {
      const bool may = p->MayMatch(stats);
      if (all_ && !may) return false;
      if (!all_ && may) return true;
    }
    return all_;
  }

 private:
  bool all_;
  std::vector<std::shared_ptr<RowGroupPredicate>> parts_;
};

class PredicateParser {
 public:
  explicit PredicateParser(const std::string& text) : text_(text) {}

  arrow::Result<std::shared_ptr<RowGroupPredicate>> Parse() {
    ARROW_ASSIGN_OR_RAISE(auto p, Or());
    SkipSpace();
    if (pos_ != text_.size()) return Error("unexpected text");
    return p;
  }

 private:
  arrow::Status Error(const std::string& what) const {
    return arrow::Status::Invalid("option 'format.predicate': ", what, " at position ", pos_ + 1, " of '", text_, "'");
  }
  void SkipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool Keyword(const char* word) {
    SkipSpace();
    size_t n = std::strlen(word);
    if (text_.size() - pos_ < n) return false;
    for (size_t i = 0; i < n; ++i) {
      if (std::toupper(static_cast<unsigned char>(text_[pos_ + i])) != word[i]) return false;
    }
    if (pos_ + n < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_ + n])) || text_[pos_ + n] == '_')) {
      return false;
    }
    pos_ += n;
    return true;
  }
  arrow::Result<std::shared_ptr<RowGroupPredicate>> Or() {
    std::vector<std::shared_ptr<RowGroupPredicate>> parts;
    ARROW_ASSIGN_OR_RAISE(auto first, And());
    parts.push_back(first);
    while (Keyword("OR")) {
      ARROW_ASSIGN_OR_RAISE(auto next, And());
      parts.push_back(next);
    }
    return parts.size() == 1 ? parts[0] : std::make_shared<Junction>(false, std::move(parts));
  }
  arrow::Result<std::shared_ptr<RowGroupPredicate>> And() {
    std::vector<std::shared_ptr<RowGroupPredicate>> parts;
    ARROW_ASSIGN_OR_RAISE(auto first, Term());
    parts.push_back(first);
    while (Keyword("AND")) {
      ARROW_ASSIGN_OR_RAISE(auto next, Term());
      parts.push_back(next);
    }
    return parts.size() == 1 ? parts[0] : std::make_shared<Junction>(true, std::move(parts));
  }
  arrow::Result<std::string> Literal() {
    SkipSpace();
    if (pos_ >= text_.size() || text_[pos_] != '\'') return Error("expected a quoted literal");
    std::string out;
    for (++pos_; pos_ < text_.size(); ++pos_) {
      if (text_[pos_] == '\'') {
        if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '\'') {
          out += '\'';
          ++pos_;
          continue;
        }
        ++pos_;
        return out;
      }
      out += text_[pos_];
    }
    return Error("unterminated literal");
  }
  arrow::Result<std::shared_ptr<RowGroupPredicate>> Term() {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == '(') {
      ++pos_;
      ARROW_ASSIGN_OR_RAISE(auto inner, Or());
      SkipSpace();
      if (pos_ >= text_.size() || text_[pos_] != ')') return Error("expected ')'");
      ++pos_;
      return inner;
    }
    size_t start = pos_;
    while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) ++pos_;
    if (start == pos_) return Error("expected a column name");
    std::string column = text_.substr(start, pos_ - start);
    if (Keyword("BETWEEN")) {
      ARROW_ASSIGN_OR_RAISE(auto lo, Literal());
      if (!Keyword("AND")) return Error("expected AND in BETWEEN");
      ARROW_ASSIGN_OR_RAISE(auto hi, Literal());
      return std::make_shared<Comparison>(column, Cmp::kBetween, lo, hi);
    }
    SkipSpace();
    Cmp cmp;
    if (text_.compare(pos_, 2, ">=") == 0) { cmp = Cmp::kGe; pos_ += 2; }
    else if (text_.compare(pos_, 2, "<=") == 0) { cmp = Cmp::kLe; pos_ += 2; }
    else if (pos_ < text_.size() && text_[pos_] == '=') { cmp = Cmp::kEq; ++pos_; }
    else if (pos_ < text_.size() && text_[pos_] == '>') { cmp = Cmp::kGt; ++pos_; }
    else if (pos_ < text_.size() && text_[pos_] == '<') { cmp = Cmp::kLt; ++pos_; }
    else return Error("expected =, >, <, >=, <= or BETWEEN");
    ARROW_ASSIGN_OR_RAISE(auto value, Literal());
    return std::make_shared<Comparison>(column, cmp, value, value);
  }

  const std::string& text_;
  size_t pos_ = 0;
};

// ---- decoder ---------------------------------------------------------------------

class ParquetDecoder : public RecordDecoder {
 public:
  ParquetDecoder(std::shared_ptr<arrow::Schema> schema, std::vector<int> row_groups,
                 std::shared_ptr<RowGroupPredicate> predicate, int64_t batch_size)
      : schema_(std::move(schema)), row_groups_(std::move(row_groups)), predicate_(std::move(predicate)),
        batch_size_(batch_size) {}

  const std::shared_ptr<arrow::Schema>& schema() const override { return schema_; }

  arrow::Result<DecodedBatch> Decode(std::span<const RawRecord> records) override {
    DecodedBatch out;
    std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
    for (size_t i = 0; i < records.size(); ++i) {
      if (records[i].is_tombstone()) {
        ++out.tombstones;
        continue;
      }
      auto decoded = DecodeFile(records[i].value, &batches);
      if (!decoded.ok()) out.errors.push_back({i, "Parquet file: " + decoded.message()});
    }
    if (batches.empty()) {
      ARROW_ASSIGN_OR_RAISE(out.batch, arrow::RecordBatch::MakeEmpty(schema_));
    } else {
      ARROW_ASSIGN_OR_RAISE(auto table, arrow::Table::FromRecordBatches(schema_, batches));
      ARROW_ASSIGN_OR_RAISE(out.batch, table->CombineChunksToBatch());
    }
    return out;
  }

  int64_t row_groups_skipped() const { return skipped_; }

 private:
  arrow::Status DecodeFile(std::string_view bytes, std::vector<std::shared_ptr<arrow::RecordBatch>>* out) {
    auto buffer = std::make_shared<arrow::Buffer>(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                  static_cast<int64_t>(bytes.size()));
    auto input = std::make_shared<arrow::io::BufferReader>(buffer);
    auto properties = parquet::ArrowReaderProperties();
    properties.set_batch_size(batch_size_);
    parquet::arrow::FileReaderBuilder builder;
    ARROW_RETURN_NOT_OK(builder.Open(input));
    builder.properties(properties);
    std::unique_ptr<parquet::arrow::FileReader> reader;
    ARROW_RETURN_NOT_OK(builder.Build(&reader));
    std::shared_ptr<arrow::Schema> file_schema;
    ARROW_RETURN_NOT_OK(reader->GetSchema(&file_schema));
    // Projection by name; the declared type must be the file's.
    std::vector<int> columns;
    for (const auto& field : schema_->fields()) {
      const int index = file_schema->GetFieldIndex(field->name());
      if (index < 0) return arrow::Status::Invalid("no column '", field->name(), "'");
      if (!file_schema->field(index)->type()->Equals(*field->type())) {
        return arrow::Status::Invalid("column '", field->name(), "' is ", file_schema->field(index)->type()->ToString(),
                                      ", declared ", field->type()->ToString());
      }
      columns.push_back(index);
    }
    auto metadata = reader->parquet_reader()->metadata();
    std::vector<int> groups;
    for (int g = 0; g < metadata->num_row_groups(); ++g) {
      if (!row_groups_.empty() && std::find(row_groups_.begin(), row_groups_.end(), g) == row_groups_.end()) continue;
      if (predicate_ && !predicate_->MayMatch([&](const std::string& name) {
            std::pair<std::shared_ptr<arrow::Scalar>, std::shared_ptr<arrow::Scalar>> result;
            const int leaf = metadata->schema()->ColumnIndex(name);
            if (leaf < 0) return result;
            auto stats = metadata->RowGroup(g)->ColumnChunk(leaf)->statistics();
            if (!stats || !stats->HasMinMax()) return result;
            (void)parquet::arrow::StatisticsAsScalars(*stats, &result.first, &result.second);
            return result;
          })) {
        ++skipped_;
        continue;
      }
      groups.push_back(g);
    }
    if (groups.empty()) return arrow::Status::OK();
    ARROW_ASSIGN_OR_RAISE(auto batches, reader->GetRecordBatchReader(groups, columns));
    // A file is one record: its batches reach `out` only when every one decoded, so a NOT
    // NULL violation or a bad page in a later row group leaves no rows behind.
    std::vector<std::shared_ptr<arrow::RecordBatch>> decoded;
    while (true) {
      ARROW_ASSIGN_OR_RAISE(auto batch, batches->Next());
      if (!batch) break;
      for (int c = 0; c < schema_->num_fields(); ++c) {
        if (!schema_->field(c)->nullable() && batch->column(c)->null_count() > 0) {
          return arrow::Status::Invalid("column '", schema_->field(c)->name(), "' is NOT NULL but holds nulls");
        }
      }
      decoded.push_back(arrow::RecordBatch::Make(schema_, batch->num_rows(), batch->columns()));
    }
    out->insert(out->end(), std::make_move_iterator(decoded.begin()), std::make_move_iterator(decoded.end()));
    return arrow::Status::OK();
  }

  std::shared_ptr<arrow::Schema> schema_;
  std::vector<int> row_groups_;
  std::shared_ptr<RowGroupPredicate> predicate_;
  int64_t batch_size_;
  int64_t skipped_ = 0;
};

class ParquetEncoder : public RecordEncoder {
 public:
  ParquetEncoder(std::shared_ptr<parquet::WriterProperties> properties, int64_t row_group_size)
      : properties_(std::move(properties)), row_group_size_(row_group_size) {}

  arrow::Status Encode(const arrow::RecordBatch& batch, std::vector<std::string>* out) override {
    if (batch.num_rows() == 0) return arrow::Status::OK();
    ARROW_ASSIGN_OR_RAISE(auto sink, arrow::io::BufferOutputStream::Create());
    ARROW_ASSIGN_OR_RAISE(auto table, arrow::Table::FromRecordBatches(batch.schema(), {arrow::RecordBatch::Make(
                                                                           batch.schema(), batch.num_rows(), batch.columns())}));
    ARROW_RETURN_NOT_OK(parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), sink, row_group_size_,
                                                   properties_,
                                                   parquet::ArrowWriterProperties::Builder().store_schema()->build()));
    ARROW_ASSIGN_OR_RAISE(auto buffer, sink->Finish());
    out->push_back(buffer->ToString());
    return arrow::Status::OK();
  }

 private:
  std::shared_ptr<parquet::WriterProperties> properties_;
  int64_t row_group_size_;
};

}  // namespace

arrow::Result<std::shared_ptr<RowGroupPredicate>> RowGroupPredicate::Parse(const std::string& text) {
  return PredicateParser(text).Parse();
}

std::vector<ConfigKeySpec> ParquetKeySpecs() {
  return {
      ConfigKeySpec::Unset("format.row_groups", ConfigType::kString, "Comma list of row-group indexes to read (all when unset)."),
      ConfigKeySpec::Unset("format.predicate", ConfigType::kString,
                           "Row-group filter on statistics, e.g. \"price > '100' AND region = 'eu'\"."),
      ConfigKeySpec::Optional("format.batch_size", ConfigType::kInt, "8192", "Rows per decoded batch."),
      ConfigKeySpec::Enum("format.compression", {"snappy", "zstd", "gzip", "lz4", "none"}, "snappy",
                          "Compression of encoded files."),
      ConfigKeySpec::Optional("format.max_row_group_size", ConfigType::kInt, "1000000", "Rows per encoded row group."),
      ConfigKeySpec::Optional("format.write_statistics", ConfigType::kBool, "true", "Write column statistics."),
  };
}

arrow::Result<std::unique_ptr<RecordDecoder>> MakeParquetDecoder(const ConnectorConfig& config,
                                                                 std::shared_ptr<arrow::Schema> schema) {
  if (!schema || schema->num_fields() == 0) {
    return ConfigError(config.Where(), "format 'parquet' as messages needs the columns declared");
  }
  std::vector<int> groups;
  if (auto text = config.Get("format.row_groups")) {
    size_t start = 0;
    while (start <= text->size()) {
      size_t end = text->find(',', start);
      if (end == std::string::npos) end = text->size();
      auto index = ParseInt64(text->substr(start, end - start));
      if (!index.ok() || *index < 0) {
        return ConfigError(config.Where(), "option 'format.row_groups' = '" + *text + "' is not a list of indexes");
      }
      groups.push_back(static_cast<int>(*index));
      start = end + 1;
    }
  }
  std::shared_ptr<RowGroupPredicate> predicate;
  if (auto text = config.Get("format.predicate")) {
    auto parsed = RowGroupPredicate::Parse(*text);
    if (!parsed.ok()) return ConfigError(config.Where(), parsed.status().message());
    predicate = *parsed;
  }
  ARROW_ASSIGN_OR_RAISE(auto batch_size, config.GetInt64("format.batch_size", 8192));
  if (batch_size <= 0) return ConfigError(config.Where(), "option 'format.batch_size' must be positive");
  return std::make_unique<ParquetDecoder>(std::move(schema), std::move(groups), std::move(predicate), batch_size);
}

arrow::Result<std::unique_ptr<RecordEncoder>> MakeParquetEncoder(const ConnectorConfig& config,
                                                                 std::shared_ptr<arrow::Schema>) {
  ARROW_ASSIGN_OR_RAISE(auto codec, config.GetString("format.compression", "snappy"));
  ARROW_ASSIGN_OR_RAISE(auto row_group_size, config.GetInt64("format.max_row_group_size", 1000000));
  ARROW_ASSIGN_OR_RAISE(auto statistics, config.GetBool("format.write_statistics", true));
  auto compression = codec == "zstd"   ? arrow::Compression::ZSTD
                     : codec == "gzip" ? arrow::Compression::GZIP
                     : codec == "lz4"  ? arrow::Compression::LZ4
                     : codec == "none" ? arrow::Compression::UNCOMPRESSED
                                       : arrow::Compression::SNAPPY;
  parquet::WriterProperties::Builder builder;
  builder.compression(compression)->version(parquet::ParquetVersion::PARQUET_2_6);
  if (statistics) {
    builder.enable_statistics();
  } else {
    builder.disable_statistics();
  }
  return std::make_unique<ParquetEncoder>(builder.build(), row_group_size);
}

}  // namespace laminar::serde
