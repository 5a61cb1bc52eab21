#include "laminar/files/files_source.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/io/file.h>
#include <fnmatch.h>
#include <parquet/arrow/reader.h>
#include <parquet/statistics.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "laminar/serde/avro/avro_schema.h"
#include "laminar/serde/avro/object_container.h"
#include "laminar/schema/evolution.h"
#include "laminar/schema/inference.h"
#include "laminar/serde/codec.h"
#include "laminar/serde/csv/csv_options.h"
#include "laminar/serde/csv/csv_stream_decoder.h"
#include "laminar/serde/parquet/parquet_codec.h"

namespace laminar::files {

namespace fs = std::filesystem;

std::vector<ConfigKeySpec> FilesSourceKeySpecs() {
  std::vector<ConfigKeySpec> specs = {
      ConfigKeySpec::Required("path", ConfigType::kString,
                              "A directory (every visible file in it) or a glob on file names (/data/in/*.jsonl)."),
      ConfigKeySpec::Optional("format", ConfigType::kString, "json",
                              "json (JSON lines), csv, avro (object container files), parquet, raw or bytes (one "
                              "row per line) or debezium or debezium-json (JSON lines of Debezium change events, "
                              "with the _op column); any case."),
      ConfigKeySpec::Optional("watch", ConfigType::kBool, "false",
                              "Keep following the directory for new files instead of ending after the last one."),
      ConfigKeySpec::Optional("poll.interval.ms", ConfigType::kInt, "1000", "How often to list the directory when watching."),
      ConfigKeySpec::Optional("remember.files", ConfigType::kInt, "10000",
                              "Names of read files the checkpoint keeps, so that a new file whose name sorts before "
                              "them is still read once; beyond this many, the oldest names become a low-water mark "
                              "and a file that appears later with a name at or below it is taken as read."),
      ConfigKeySpec::Optional("read.bytes", ConfigType::kInt, std::to_string(4 << 20),
                              "Bytes read per poll from a text file."),
      ConfigKeySpec::Optional("rate.rows-per-second", ConfigType::kDouble, "0",
                              "Read at most this many rows per second (0 = no limit): replays at a gentle pace, "
                              "or a backfill that must not swamp a sink."),
      ConfigKeySpec::Optional("infer.temporal", ConfigType::kBool, "false",
                              "When inferring columns (none declared), turn ISO-8601 date/timestamp strings into "
                              "DATE/TIMESTAMP columns."),
  };
  for (auto& spec : dlq::ErrorKeySpecs()) specs.push_back(std::move(spec));
  for (auto& spec : serde::FormatKeySpecs()) specs.push_back(std::move(spec));
  return specs;
}

void RegisterFilesSource(ConnectorRegistry& registry) {
  registry.RegisterSource(
      ConnectorInfo{"files",
                    "JSON lines, CSV, Avro, Parquet, raw lines or Debezium events from a directory, resumable at "
                    "any record",
                    FilesSourceKeySpecs()},
      [] { return std::make_unique<FilesSource>(); });
}

arrow::Result<FilesSourceOptions> FilesSourceOptions::FromConfig(const ConnectorConfig& config) {
  FilesSourceOptions options;
  ARROW_ASSIGN_OR_RAISE(auto path, config.Require("path"));
  if (path.empty()) return ConfigError(config.Where(), "option 'path' must not be empty");
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    options.directory = path;
    options.pattern = "*";
  } else {
    fs::path p(path);
    options.directory = p.parent_path().empty() ? "." : p.parent_path().string();
    options.pattern = p.filename().string();
    if (options.directory.find_first_of("*?[") != std::string::npos) {
      return ConfigError(config.Where(), "option 'path': a glob may only match file names, not directories ('" + path + "')");
    }
  }
  ARROW_ASSIGN_OR_RAISE(const std::string format, config.GetString("format", "json"));
  const auto canonical = serde::CanonicalFormatName(format);
  // confluent-avro frames messages; files of Avro are object container files ('avro').
  const bool framed = canonical == "avro" && format.find('-') != std::string::npos;  // confluent-avro
  if (!canonical || framed) {
    return ConfigError(config.Where(), "option 'format' = '" + format +
                                           "' is not a file format (json, csv, avro, parquet, raw, debezium)");
  }
  options.format = *canonical;
  // The format.* keys each file format honours; the others are errors naming the key
  // (line formats: their decoder checks them).
  auto only = [&](std::initializer_list<std::string_view> keys, const std::string& why) -> arrow::Status {
    for (const auto& [key, value] : config.properties()) {
      if (key.rfind("format.", 0) != 0) continue;
      if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
      return ConfigError(config.Where(), "option '" + key + "' does not apply to " + options.format + " files" + why);
    }
    return arrow::Status::OK();
  };
  if (options.format == "parquet") {
    ARROW_RETURN_NOT_OK(only({"format.row_groups", "format.predicate", "format.batch_size"},
                             " (the source reads format.row_groups, format.predicate, format.batch_size)"));
    if (auto text = config.Get("format.row_groups")) {
      size_t start = 0;
      while (start <= text->size()) {
        size_t end = text->find(',', start);
        if (end == std::string::npos) end = text->size();
        auto index = ParseInt64(text->substr(start, end - start));
        if (!index.ok() || *index < 0 || *index > INT32_MAX) {
          return ConfigError(config.Where(), "option 'format.row_groups' = '" + *text + "' is not a list of indexes");
        }
        options.row_groups.push_back(static_cast<int>(*index));
        start = end + 1;
      }
    }
    if (auto text = config.Get("format.predicate")) {
      auto parsed = serde::RowGroupPredicate::Parse(*text);
      if (!parsed.ok()) return ConfigError(config.Where(), parsed.status().message());
      options.predicate = *parsed;
    }
    ARROW_ASSIGN_OR_RAISE(options.batch_size, config.GetInt64("format.batch_size", options.batch_size));
    if (options.batch_size <= 0) return ConfigError(config.Where(), "option 'format.batch_size' must be positive");
  } else if (options.format == "avro") {
    ARROW_RETURN_NOT_OK(only({"format.avro.reader.schema"},
                             ": an object container file carries its writer schema (format.avro.reader.schema "
                             "applies)"));
    if (auto text = config.Get("format.avro.reader.schema")) {
      auto parsed = serde::avro::AvroSchema::Parse(*text);
      if (!parsed.ok()) {
        return ConfigError(config.Where(), "option 'format.avro.reader.schema': " + parsed.status().message());
      }
      options.avro_reader_schema = *parsed;
    }
  }
  ARROW_ASSIGN_OR_RAISE(options.watch, config.GetBool("watch", false));
  ARROW_ASSIGN_OR_RAISE(auto interval, config.GetInt64("poll.interval.ms", 1000));
  if (interval <= 0) return ConfigError(config.Where(), "option 'poll.interval.ms' must be positive");
  options.poll_interval = std::chrono::milliseconds(interval);
  ARROW_ASSIGN_OR_RAISE(options.read_bytes, config.GetInt64("read.bytes", options.read_bytes));
  ARROW_ASSIGN_OR_RAISE(options.remember_files, config.GetInt64("remember.files", options.remember_files));
  if (options.remember_files < 1) return ConfigError(config.Where(), "option 'remember.files' must be at least 1");
  ARROW_ASSIGN_OR_RAISE(options.rows_per_second, config.GetDouble("rate.rows-per-second", 0));
  if (options.rows_per_second < 0) return ConfigError(config.Where(), "option 'rate.rows-per-second' must be >= 0");
  if (options.read_bytes < 1024) return ConfigError(config.Where(), "option 'read.bytes' must be at least 1024");
  return options;
}

namespace {

// Line formats (JSON lines, raw, Debezium): one record per line, decoded by the format's
// RecordDecoder; the position is the byte offset of the next line.
class JsonLinesReader : public FileReader {
 public:
  JsonLinesReader(std::string path, std::string name, int64_t offset, int64_t read_bytes, serde::RecordDecoder* decoder,
                  dlq::ErrorRouter* router)
      : path_(std::move(path)), name_(std::move(name)), offset_(offset), read_bytes_(read_bytes), decoder_(decoder),
        router_(router) {}

  arrow::Result<std::optional<SourceBatch>> Next(int64_t max_rows) override {
    if (!in_.is_open()) {
      in_.open(path_, std::ios::binary);
      if (!in_) return ErrnoError(errno, "open " + path_);
    }
    in_.clear();
    in_.seekg(offset_);
    buffer_.resize(static_cast<size_t>(read_bytes_));
    in_.read(buffer_.data(), read_bytes_);
    const auto got = static_cast<size_t>(in_.gcount());
    if (got == 0) return std::optional<SourceBatch>();
    buffer_.resize(got);
    const bool at_eof = got < static_cast<size_t>(read_bytes_);
    std::vector<serde::RawRecord> records;
    offsets_.clear();
    size_t start = 0;
    size_t consumed = 0;
    while (start < buffer_.size() && static_cast<int64_t>(records.size()) < max_rows) {
      size_t end = buffer_.find('\n', start);
      if (end == std::string::npos) {
        if (!at_eof) break;  // partial line: read it next time
        end = buffer_.size();
      }
      std::string_view line(buffer_.data() + start, end - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.find_first_not_of(" \t") != std::string_view::npos) {
        offsets_.push_back(std::to_string(offset_ + static_cast<int64_t>(start)));
        serde::RawRecord record;
        record.value = line;
        records.push_back(record);
      }
      start = end + 1;
      consumed = std::min(start, buffer_.size());
    }
    if (consumed == 0) {
      if (at_eof) return std::optional<SourceBatch>();
      return arrow::Status::Invalid("file ", name_, " offset ", offset_, ": a line is longer than read.bytes (",
                                    read_bytes_, " bytes); raise read.bytes");
    }
    for (size_t i = 0; i < records.size(); ++i) {
      records[i].partition = name_;
      records[i].partition_label = "file";
      records[i].offset = offsets_[i];
    }
    SourceBatch batch;
    if (!records.empty()) {
      ARROW_ASSIGN_OR_RAISE(auto decoded, decoder_->Decode(records));
      ARROW_ASSIGN_OR_RAISE(batch.dead_letters, router_->Route(decoded, records));
      batch.records = decoded.batch;
    } else {
      batch.records = arrow::RecordBatch::MakeEmpty(decoder_->schema()).ValueOrDie();
    }
    batch.partition = PartitionInfo{name_, std::to_string(offset_)};
    offset_ += static_cast<int64_t>(consumed);
    return std::optional<SourceBatch>(std::move(batch));
  }

  int64_t position() const override { return offset_; }

 private:
  std::string path_;
  std::string name_;
  int64_t offset_;
  int64_t read_bytes_;
  serde::RecordDecoder* decoder_;
  dlq::ErrorRouter* router_;
  std::ifstream in_;
  std::string buffer_;
  std::vector<std::string> offsets_;
};

// Parquet: the position is the index of the next row. Every file is read as the source's
// columns (declared, or inferred from the first file: `inferred_from` names it).
class ParquetReader : public FileReader {
 public:
  static arrow::Result<std::unique_ptr<FileReader>> Open(const std::string& path, const std::string& name,
                                                         int64_t row, std::shared_ptr<arrow::Schema> schema,
                                                         std::string inferred_from, const FilesSourceOptions& options) {
    auto reader = std::make_unique<ParquetReader>();
    reader->name_ = name;
    reader->row_ = row;
    reader->schema_ = std::move(schema);
    reader->inferred_from_ = std::move(inferred_from);
    parquet::ArrowReaderProperties properties;
    properties.set_batch_size(options.batch_size);
    parquet::arrow::FileReaderBuilder builder;
    ARROW_RETURN_NOT_OK(builder.OpenFile(path));
    builder.properties(properties);
    ARROW_RETURN_NOT_OK(builder.Build(&reader->reader_));
    const auto metadata = reader->reader_->parquet_reader()->metadata();
    const int64_t total = metadata->num_rows();
    if (row > total) {
      return FatalError("files", "file " + name + " has " + std::to_string(total) + " rows; cannot resume at row " +
                                     std::to_string(row));
    }
    // The position is a row of the whole file. The groups to read: those format.row_groups
    // names (all when unset) whose statistics do not rule out format.predicate, and of
    // them the ones that end after the position; rows before it in the first are skipped.
    int64_t start = 0;
    for (int g = 0; g < metadata->num_row_groups(); ++g) {
      const int64_t rows = metadata->RowGroup(g)->num_rows();
      const int64_t group_start = start;
      start += rows;
      if (!options.row_groups.empty() &&
          std::find(options.row_groups.begin(), options.row_groups.end(), g) == options.row_groups.end()) {
        continue;
      }
      if (options.predicate && !options.predicate->MayMatch([&](const std::string& column) {
            std::pair<std::shared_ptr<arrow::Scalar>, std::shared_ptr<arrow::Scalar>> result;
            const int leaf = metadata->schema()->ColumnIndex(column);
            if (leaf < 0) return result;
            auto stats = metadata->RowGroup(g)->ColumnChunk(leaf)->statistics();
            if (!stats || !stats->HasMinMax()) return result;
            (void)parquet::arrow::StatisticsAsScalars(*stats, &result.first, &result.second);
            return result;
          })) {
        continue;
      }
      if (group_start + rows <= row) continue;
      reader->groups_.push_back(Group{g, group_start, rows});
    }
    // Only the leaves of the source's columns are decoded (projection by name).
    for (int leaf = 0; leaf < metadata->schema()->num_columns(); ++leaf) {
      if (reader->schema_->GetFieldIndex(metadata->schema()->GetColumnRoot(leaf)->name()) >= 0) {
        reader->leaves_.push_back(leaf);
      }
    }
    return reader;
  }

  arrow::Result<std::optional<SourceBatch>> Next(int64_t max_rows) override {
    while (true) {
      if (!pending_ || pending_offset_ >= pending_->num_rows()) {
        pending_ = nullptr;
        if (batches_) {
          ARROW_ASSIGN_OR_RAISE(pending_, batches_->Next());
        }
        pending_offset_ = 0;
        if (!pending_) {
          // One reader per row group, so that the position follows the groups skipped.
          if (next_group_ >= groups_.size()) return std::optional<SourceBatch>();
          const Group& group = groups_[next_group_++];
          ARROW_ASSIGN_OR_RAISE(batches_, reader_->GetRecordBatchReader({group.index}, leaves_));
          skip_in_first_ = std::max<int64_t>(0, row_ - group.start);
          row_ = std::max(row_, group.start);
          continue;
        }
        if (skip_in_first_ > 0) {
          const int64_t skip = std::min(skip_in_first_, pending_->num_rows());
          pending_offset_ = skip;
          skip_in_first_ -= skip;
          continue;
        }
      }
      const int64_t n = std::min(max_rows, pending_->num_rows() - pending_offset_);
      auto slice = pending_->Slice(pending_offset_, n);
      pending_offset_ += n;
      SourceBatch batch;
      batch.partition = PartitionInfo{name_, std::to_string(row_)};
      row_ += n;
      ARROW_ASSIGN_OR_RAISE(batch.records, Project(slice));
      return std::optional<SourceBatch>(std::move(batch));
    }
  }

  int64_t position() const override { return row_; }

 private:
  // Whether the file's type can be cast to the source's without changing a value: the
  // widenings of the evolution table, or a timestamp in a finer unit (overflow is checked).
  static bool Widens(const arrow::DataType& from, const arrow::DataType& to) {
    if (schema::IsSafeWidening(from, to)) return true;
    if (from.id() != arrow::Type::TIMESTAMP || to.id() != arrow::Type::TIMESTAMP) return false;
    const auto& f = static_cast<const arrow::TimestampType&>(from);
    const auto& t = static_cast<const arrow::TimestampType&>(to);
    return f.unit() <= t.unit() && f.timezone().empty() == t.timezone().empty();
  }

  // The source's columns, by name (others are dropped), cast where the file's type widens
  // to the source's; any other difference fails naming the file and the column.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> Project(const std::shared_ptr<arrow::RecordBatch>& batch) {
    const std::string whose = inferred_from_.empty()
                                  ? "the source declares"
                                  : "the source's columns (inferred from " + inferred_from_ + ") have";
    std::vector<std::shared_ptr<arrow::Array>> columns;
    for (const auto& field : schema_->fields()) {
      auto column = batch->GetColumnByName(field->name());
      if (!column) return ConfigError("file " + name_, "has no column '" + field->name() + "' that " + whose);
      if (!column->type()->Equals(*field->type())) {
        if (!Widens(*column->type(), *field->type())) {
          return ConfigError("file " + name_, "column '" + field->name() + "' is " + column->type()->ToString() +
                                                   ", " + whose + " " + field->type()->ToString());
        }
        auto cast = arrow::compute::Cast(*column, field->type(), arrow::compute::CastOptions::Safe(field->type()));
        if (!cast.ok()) {
          return ConfigError("file " + name_, "column '" + field->name() + "' (" + column->type()->ToString() +
                                                   ") cannot become " + field->type()->ToString() + ": " +
                                                   cast.status().message());
        }
        column = *cast;
      }
      if (!field->nullable() && column->null_count() > 0) {
        return arrow::Status::Invalid("file ", name_, ": column '", field->name(), "' is declared NOT NULL but holds nulls");
      }
      columns.push_back(column);
    }
    return arrow::RecordBatch::Make(schema_, batch->num_rows(), columns);
  }

  struct Group {
    int index;
    int64_t start;  // its first row's index in the file
    int64_t rows;
  };

  std::string name_;
  int64_t row_ = 0;
  int64_t skip_in_first_ = 0;
  std::shared_ptr<arrow::Schema> schema_;
  std::string inferred_from_;
  std::vector<Group> groups_;  // to read, in file order
  size_t next_group_ = 0;
  std::vector<int> leaves_;    // Parquet leaf columns of the source's columns
  std::unique_ptr<parquet::arrow::FileReader> reader_;
  std::unique_ptr<arrow::RecordBatchReader> batches_;
  std::shared_ptr<arrow::RecordBatch> pending_;
  int64_t pending_offset_ = 0;
};


// CSV: a stream decoder per file (each file has its own header); the position is the
// byte offset of the next record, with its line and whether the header is behind it.
class CsvReader : public FileReader {
 public:
  static arrow::Result<std::unique_ptr<FileReader>> Open(const std::string& path, const std::string& name,
                                                         const ConnectorConfig& config,
                                                         std::shared_ptr<arrow::Schema> schema, int64_t offset,
                                                         const SourceCheckpoint* resume, int64_t read_bytes,
                                                         dlq::ErrorRouter* router) {
    auto reader = std::make_unique<CsvReader>();
    reader->path_ = path;
    reader->name_ = name;
    reader->read_bytes_ = read_bytes;
    reader->router_ = router;
    ARROW_ASSIGN_OR_RAISE(reader->decoder_, serde::CsvStreamDecoder::Make(config, std::move(schema)));
    reader->offset_ = offset;
    if (resume != nullptr && offset > 0) {
      reader->line_ = ParseInt64(resume->GetOffset("line").value_or("1")).ValueOr(1);
      reader->header_done_ = resume->GetOffset("header_done") == "true";
      reader->decoder_->ResetAt(offset, reader->line_, reader->header_done_);
    }
    reader->in_.open(path, std::ios::binary);
    if (!reader->in_) return ErrnoError(errno, "open " + path);
    return reader;
  }

  arrow::Result<std::optional<SourceBatch>> Next(int64_t max_rows) override {
    while (true) {
      // Read from where the last decode stopped; the decoder keeps no bytes of its own
      // between calls that we have not given it again.
      in_.clear();
      in_.seekg(offset_);
      buffer_.resize(static_cast<size_t>(read_bytes_));
      in_.read(buffer_.data(), read_bytes_);
      buffer_.resize(static_cast<size_t>(in_.gcount()));
      const bool last = static_cast<int64_t>(buffer_.size()) < read_bytes_;
      if (buffer_.empty() && finished_) return std::optional<SourceBatch>();
      decoder_->ResetAt(offset_, line_, header_done_);
      ARROW_ASSIGN_OR_RAISE(auto result, decoder_->Decode(buffer_, last, max_rows));
      const bool progressed = result.next_offset > offset_ || result.batch->num_rows() > 0 || !result.errors.empty();
      offset_ = result.next_offset;
      line_ = result.next_line;
      header_done_ = result.header_done;
      finished_ = result.finished;
      if (!progressed) {
        if (last) return std::optional<SourceBatch>();
        return arrow::Status::Invalid("file ", name_, " offset ", offset_, ": a CSV record is longer than read.bytes (",
                                      read_bytes_, " bytes); raise read.bytes");
      }
      SourceBatch batch;
      batch.records = result.batch;
      batch.partition = PartitionInfo{name_, std::to_string(offset_)};
      if (!result.errors.empty()) {
        // Hand the errors to the router as records of their own, with their positions.
        serde::DecodedBatch decoded;
        decoded.batch = arrow::RecordBatch::MakeEmpty(result.batch->schema()).ValueOrDie();
        std::vector<std::string> offsets;
        for (const auto& e : result.errors) offsets.push_back(std::to_string(e.byte_offset));
        std::vector<serde::RawRecord> records(result.errors.size());
        for (size_t i = 0; i < result.errors.size(); ++i) {
          records[i].value = result.errors[i].raw;
          records[i].partition = name_;
          records[i].partition_label = "file";
          records[i].offset = offsets[i];
          decoded.errors.push_back({i, result.errors[i].message});
        }
        ARROW_ASSIGN_OR_RAISE(batch.dead_letters, router_->Route(decoded, records));
      }
      router_->CountDecoded(result.batch->num_rows());  // one row per CSV record
      router_->CountSkipped(result.skipped_rows);
      if (batch.records->num_rows() == 0 && !batch.dead_letters && !finished_) continue;
      return std::optional<SourceBatch>(std::move(batch));
    }
  }

  int64_t position() const override { return offset_; }
  void SaveExtra(SourceCheckpoint* checkpoint) const override {
    checkpoint->SetOffset("line", std::to_string(line_));
    checkpoint->SetOffset("header_done", header_done_ ? "true" : "false");
  }

 private:
  std::string path_;
  std::string name_;
  int64_t read_bytes_ = 0;
  dlq::ErrorRouter* router_ = nullptr;
  std::unique_ptr<serde::CsvStreamDecoder> decoder_;
  std::ifstream in_;
  std::string buffer_;
  int64_t offset_ = 0;
  int64_t line_ = 1;
  bool header_done_ = false;
  bool finished_ = false;
};

// Avro object container files: read whole (the file is resolved against the declared
// columns); the position is the index of the next record.
class AvroReader : public FileReader {
 public:
  static arrow::Result<std::unique_ptr<FileReader>> Open(const std::string& path, const std::string& name,
                                                         std::shared_ptr<arrow::Schema> schema, int64_t row,
                                                         std::shared_ptr<const serde::avro::AvroSchema> reader_schema) {
    auto reader = std::make_unique<AvroReader>();
    reader->name_ = name;
    std::ifstream in(path, std::ios::binary);
    if (!in) return ErrnoError(errno, "open " + path);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto table = serde::avro::ReadObjectContainer(bytes, std::move(schema), std::move(reader_schema));
    if (!table.ok()) return FatalError("files", "file " + name + ": " + table.status().message());
    ARROW_ASSIGN_OR_RAISE(reader->table_, (*table)->CombineChunksToBatch());
    if (row > reader->table_->num_rows()) {
      return FatalError("files", "file " + name + " has " + std::to_string(reader->table_->num_rows()) +
                                     " records; cannot resume at record " + std::to_string(row));
    }
    reader->row_ = row;
    return reader;
  }

  arrow::Result<std::optional<SourceBatch>> Next(int64_t max_rows) override {
    if (row_ >= table_->num_rows()) return std::optional<SourceBatch>();
    const int64_t n = std::min(max_rows, table_->num_rows() - row_);
    SourceBatch batch;
    batch.records = table_->Slice(row_, n);
    batch.partition = PartitionInfo{name_, std::to_string(row_)};
    row_ += n;
    return std::optional<SourceBatch>(std::move(batch));
  }

  int64_t position() const override { return row_; }

 private:
  std::string name_;
  std::shared_ptr<arrow::RecordBatch> table_;
  int64_t row_ = 0;
};

}  // namespace

FilesSource::FilesSource() = default;
FilesSource::~FilesSource() = default;

arrow::Result<std::shared_ptr<arrow::Schema>> FilesSource::ResolveSchema(const ConnectorConfig& config) {
  if (config.schema() && config.schema()->num_fields() > 0) return config.schema();
  if (options_.format == "parquet") {
    ARROW_ASSIGN_OR_RAISE(auto files, ListFiles());
    if (files.empty()) {
      return ConfigError(config.Where(), "declares no columns and there is no Parquet file in '" + options_.directory +
                                             "' to take them from");
    }
    ARROW_ASSIGN_OR_RAISE(auto file, arrow::io::ReadableFile::Open((fs::path(options_.directory) / files[0]).string()));
    ARROW_ASSIGN_OR_RAISE(auto reader, parquet::arrow::OpenFile(file, arrow::default_memory_pool()));
    std::shared_ptr<arrow::Schema> schema;
    ARROW_RETURN_NOT_OK(reader->GetSchema(&schema));
    inferred_from_ = files[0];
    return schema->RemoveMetadata();
  }
  if (options_.format == "avro") {
    if (options_.avro_reader_schema) return serde::avro::AvroToArrowSchema(*options_.avro_reader_schema);
    ARROW_ASSIGN_OR_RAISE(auto files, ListFiles());
    if (files.empty()) {
      return ConfigError(config.Where(), "declares no columns and there is no Avro file in '" + options_.directory +
                                             "' to take them from");
    }
    std::ifstream in((fs::path(options_.directory) / files[0]).string(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ARROW_ASSIGN_OR_RAISE(auto ocf, serde::avro::OcfReader::Open(bytes));
    return serde::avro::AvroToArrowSchema(options_.avro_reader_schema ? *options_.avro_reader_schema : *ocf->schema());
  }
  // raw: one value column; debezium: the decoder asks for declared columns.
  if (options_.format == "raw" || options_.format == "debezium") return config.schema();
  // JSON lines and CSV: infer from the first file's opening rows (spec 10 §15.3 rules).
  ARROW_ASSIGN_OR_RAISE(auto files, ListFiles());
  if (files.empty()) {
    return ConfigError(config.Where(), "declares no columns and there is no file in '" + options_.directory +
                                           "' to infer them from; declare the columns");
  }
  std::ifstream in((fs::path(options_.directory) / files[0]).string(), std::ios::binary);
  std::string head(static_cast<size_t>(std::min<int64_t>(options_.read_bytes, 1 << 20)), '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  if (auto cut = head.rfind('\n'); cut != std::string::npos && in.gcount() == static_cast<std::streamsize>(1 << 20)) {
    head.resize(cut + 1);  // whole rows only
  }
  schema::InferenceOptions inference;
  ARROW_ASSIGN_OR_RAISE(inference.detect_temporal, config.GetBool("infer.temporal", false));
  std::vector<std::string_view> samples;
  if (options_.format == "csv") {
    // The decoder's own dialect: delimiter (incl. 'tab'), quote, escape, comment,
    // null_string, header and skip_rows, so that inference reads the rows it will decode.
    ARROW_ASSIGN_OR_RAISE(auto csv, serde::CsvOptions::FromConfig(config));
    inference.csv_dialect = csv.dialect;
    inference.csv_has_header = csv.has_header.value_or(true);
    inference.csv_null_string = csv.null_string;
    inference.csv_skip_rows = static_cast<size_t>(csv.skip_rows);
    samples.push_back(head);
  } else {
    size_t start = 0;
    while (start < head.size() && samples.size() < inference.max_samples) {
      size_t end = head.find('\n', start);
      if (end == std::string::npos) end = head.size();
      std::string_view line(head.data() + start, end - start);
      if (line.find_first_not_of(" \t\r") != std::string_view::npos) samples.push_back(line);
      start = end + 1;
    }
  }
  auto inferred = schema::InferSchema(options_.format == "csv" ? schema::InferenceFormat::kCsv
                                                                : schema::InferenceFormat::kJson,
                                      samples, inference);
  if (!inferred.ok()) {
    return ConfigError(config.Where(), "cannot infer columns from " + files[0] + ": " + inferred.status().message() +
                                           "; declare the columns");
  }
  return *inferred;
}

arrow::Status FilesSource::Open(const ConnectorConfig& config) {
  config_ = config;
  ARROW_ASSIGN_OR_RAISE(options_, FilesSourceOptions::FromConfig(config));
  ARROW_ASSIGN_OR_RAISE(auto errors, dlq::ErrorOptions::FromConfig(config));
  router_ = std::make_unique<dlq::ErrorRouter>(config.instance_name(), errors);
  if (options_.rows_per_second > 0) {
    limiter_ = std::make_unique<sdk::TokenBucket>(options_.rows_per_second, std::max(options_.rows_per_second / 10, 1.0));
  }
  if (!fs::is_directory(options_.directory)) {
    return ConfigError(config.Where(), "option 'path': directory '" + options_.directory + "' does not exist");
  }
  ARROW_ASSIGN_OR_RAISE(schema_, ResolveSchema(config));
  if (IsLineFormat()) {
    ARROW_ASSIGN_OR_RAISE(decoder_, serde::MakeDecoder(config, schema_, options_.format));
    schema_ = decoder_->schema();
  }
  return arrow::Status::OK();
}

arrow::Result<std::vector<std::string>> FilesSource::ListFiles() const {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.directory, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || name[0] == '_') continue;  // hidden, staging
    if (!entry.is_regular_file()) continue;
    if (fnmatch(options_.pattern.c_str(), name.c_str(), FNM_PERIOD) != 0) continue;
    names.push_back(name);
  }
  if (ec) return ErrnoError(ec.value(), "list " + options_.directory);
  std::sort(names.begin(), names.end());
  return names;
}

arrow::Status FilesSource::OpenReader(const std::string& name, int64_t position, const SourceCheckpoint* resume) {
  const std::string path = (fs::path(options_.directory) / name).string();
  if (options_.format == "parquet") {
    ARROW_ASSIGN_OR_RAISE(reader_, ParquetReader::Open(path, name, position, schema_, inferred_from_, options_));
  } else if (IsLineFormat()) {
    reader_ = std::make_unique<JsonLinesReader>(path, name, position, options_.read_bytes, decoder_.get(), router_.get());
  } else if (options_.format == "csv") {
    ARROW_ASSIGN_OR_RAISE(reader_, CsvReader::Open(path, name, config_, schema_, position, resume, options_.read_bytes,
                                                   router_.get()));
  } else if (options_.format == "avro") {
    ARROW_ASSIGN_OR_RAISE(reader_, AvroReader::Open(path, name, schema_, position, options_.avro_reader_schema));
  } else {
    return ConfigError(config_.Where(), "format '" + options_.format + "' is not readable by the files source yet");
  }
  current_file_ = name;
  position_ = position;
  return arrow::Status::OK();
}

bool FilesSource::IsRead(const std::string& name) const {
  return name <= low_water_ || completed_.count(name) != 0;
}

void FilesSource::ForgetOldest(const std::string& unread) {
  while (static_cast<int64_t>(completed_.size()) > options_.remember_files &&
         (unread.empty() || *completed_.begin() < unread)) {
    low_water_ = *completed_.begin();
    completed_.erase(completed_.begin());
  }
}

arrow::Result<std::optional<SourceBatch>> FilesSource::PollBatch(int64_t max_records, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!finished_) {
    if (!reader_) {
      if (options_.watch && std::chrono::steady_clock::now() < next_listing_) {
        if (std::chrono::steady_clock::now() >= deadline) return std::optional<SourceBatch>();
        std::this_thread::sleep_until(std::min(deadline, next_listing_));
        continue;
      }
      // The file being read when the checkpoint was taken comes first (its position
      // belongs to it), then the first listed name not read yet: a file that appears late
      // with a name before files already read is still read, once.
      const bool resume = !current_file_.empty();
      std::string next = current_file_;
      if (!resume) {
        ARROW_ASSIGN_OR_RAISE(auto files, ListFiles());
        auto unread = std::find_if(files.begin(), files.end(), [&](const std::string& f) { return !IsRead(f); });
        if (unread != files.end()) next = *unread;
        ForgetOldest(next);
      }
      if (next.empty()) {
        if (!options_.watch) {
          finished_ = true;
          break;
        }
        next_listing_ = std::chrono::steady_clock::now() + options_.poll_interval;
        continue;
      }
      ARROW_RETURN_NOT_OK(OpenReader(next, resume ? position_ : 0, resume ? &restored_ : nullptr));
    }
    ARROW_ASSIGN_OR_RAISE(auto batch, reader_->Next(max_records));
    position_ = reader_->position();
    if (batch) {
      // Parquet and Avro rows are records, decoded by the reader (a file that cannot be
      // read fails the source: there is no record to dead-letter).
      if (options_.format == "parquet" || options_.format == "avro") router_->CountDecoded(batch->num_rows());
      records_total_.fetch_add(static_cast<uint64_t>(batch->num_rows()));
      if (limiter_ && batch->num_rows() > 0) limiter_->Acquire(batch->num_rows());
      return batch;
    }
    reader_.reset();
    completed_.insert(current_file_);
    current_file_.clear();
    position_ = 0;
    restored_ = SourceCheckpoint();
  }
  return std::optional<SourceBatch>();
}

SourceCheckpoint FilesSource::Checkpoint() const {
  SourceCheckpoint checkpoint;
  if (!current_file_.empty()) {
    checkpoint.SetOffset("file", current_file_);
    checkpoint.SetOffset("position", std::to_string(position_));
    if (reader_) {
      reader_->SaveExtra(&checkpoint);
    } else {
      for (const auto& key : {"line", "header_done"}) {
        if (auto value = restored_.GetOffset(key)) checkpoint.SetOffset(key, *value);
      }
    }
  }
  if (!completed_.empty()) {
    std::string names;
    for (const auto& name : completed_) names += (names.empty() ? "" : "/") + name;
    checkpoint.SetOffset("completed", std::move(names));
  }
  if (!low_water_.empty()) checkpoint.SetOffset("low_water", low_water_);
  checkpoint.SetMetadata("format", options_.format);
  return checkpoint;
}

arrow::Status FilesSource::Restore(const SourceCheckpoint& checkpoint) {
  reader_.reset();
  finished_ = false;
  restored_ = SourceCheckpoint();
  current_file_.clear();
  position_ = 0;
  completed_.clear();
  low_water_ = checkpoint.GetOffset("low_water").value_or("");
  if (auto names = checkpoint.GetOffset("completed")) {
    size_t start = 0;
    while (start < names->size()) {
      size_t end = names->find('/', start);
      if (end == std::string::npos) end = names->size();
      if (end > start) completed_.insert(names->substr(start, end - start));
      start = end + 1;
    }
  }
  auto file = checkpoint.GetOffset("file");
  if (!file) return arrow::Status::OK();
  auto position = ParseInt64(checkpoint.GetOffset("position").value_or(""));
  if (!position.ok() || *position < 0) {
    return FatalError("files", "checkpoint position '" + checkpoint.GetOffset("position").value_or("") +
                                   "' is not a valid position");
  }
  if (auto done = checkpoint.GetOffset("done")) {
    // The older form: every name before `file` was read, and `file` too when done.
    if (*done == "true") {
      low_water_ = *file;
      return arrow::Status::OK();
    }
    ARROW_ASSIGN_OR_RAISE(auto files, ListFiles());
    auto before = std::lower_bound(files.begin(), files.end(), *file);
    if (before != files.begin()) low_water_ = *std::prev(before);
  }
  current_file_ = *file;
  position_ = *position;
  restored_ = checkpoint;
  if (!fs::exists(fs::path(options_.directory) / current_file_)) {
    return FatalError("files", "cannot resume: file '" + current_file_ + "' named by the checkpoint is gone from " +
                                   options_.directory);
  }
  return arrow::Status::OK();
}

ConnectorMetrics FilesSource::Metrics() const {
  ConnectorMetrics metrics;
  metrics.records_total = records_total_.load();
  if (router_) {
    const auto& c = router_->counters();
    metrics.errors_total = static_cast<uint64_t>(c.errors);
    metrics.AddCustom("decoded", static_cast<double>(c.decoded));
    metrics.AddCustom("skipped", static_cast<double>(c.skipped));
    metrics.AddCustom("dead_lettered", static_cast<double>(c.dead_lettered));
    metrics.AddCustom("dlq_dropped", static_cast<double>(c.dlq_dropped));
  }
  return metrics;
}

arrow::Status FilesSource::Close() {
  reader_.reset();
  return arrow::Status::OK();
}

}  // namespace laminar::files
