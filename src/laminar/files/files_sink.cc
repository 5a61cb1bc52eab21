#include "laminar/files/files_sink.h"

#include <arrow/api.h>
#include <arrow/csv/api.h>
#include <arrow/io/file.h>
#include <arrow/ipc/writer.h>
#include <arrow/util/byte_size.h>
#include <fcntl.h>
#include <parquet/arrow/writer.h>
#include <parquet/properties.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "laminar/files/json_lines.h"
#include "laminar/runtime/fault_points.h"
#include "laminar/runtime/manifest.h"

namespace laminar::files {

namespace fs = std::filesystem;

std::vector<ConfigKeySpec> FilesSinkKeySpecs() {
  return {
      ConfigKeySpec::Required("path", ConfigType::kString, "Directory the files are written to (created if missing)."),
      ConfigKeySpec::Enum("format", {"parquet", "json", "csv"}, "parquet",
                          "File format: parquet, json (JSON lines) or csv (with a header line)."),
      ConfigKeySpec::Optional("sink.rolling-policy.file-size", ConfigType::kInt, std::to_string(128LL << 20),
                              "Start a new file once a file holds this many bytes of (uncompressed) data."),
      ConfigKeySpec::Enum("parquet.compression", {"zstd", "snappy", "gzip", "lz4", "none"}, "zstd",
                          "Parquet compression codec."),
      ConfigKeySpec::Optional("parquet.row-group-rows", ConfigType::kInt, "131072", "Rows per Parquet row group."),
  };
}

void RegisterFilesSink(ConnectorRegistry& registry) {
  registry.RegisterSink(
      ConnectorInfo{"files", "Parquet, JSON lines or CSV files in a directory, committed exactly once per epoch",
                    FilesSinkKeySpecs()},
      [] { return std::make_unique<FilesSink>(); });
}

arrow::Result<FilesSinkOptions> FilesSinkOptions::FromConfig(const ConnectorConfig& config) {
  FilesSinkOptions options;
  ARROW_ASSIGN_OR_RAISE(options.path, config.Require("path"));
  if (options.path.empty()) return ConfigError(config.Where(), "option 'path' must not be empty");
  ARROW_ASSIGN_OR_RAISE(auto format, config.GetString("format", "parquet"));
  if (format == "parquet") options.format = FileFormat::kParquet;
  else if (format == "json") options.format = FileFormat::kJsonLines;
  else if (format == "csv") options.format = FileFormat::kCsv;
  else return ConfigError(config.Where(), "option 'format' = '" + format + "' is not one of parquet, json, csv");
  ARROW_ASSIGN_OR_RAISE(options.max_file_bytes, config.GetInt64("sink.rolling-policy.file-size", options.max_file_bytes));
  if (options.max_file_bytes <= 0) {
    return ConfigError(config.Where(), "option 'sink.rolling-policy.file-size' must be positive");
  }
  ARROW_ASSIGN_OR_RAISE(options.compression, config.GetString("parquet.compression", options.compression));
  ARROW_ASSIGN_OR_RAISE(options.row_group_rows, config.GetInt64("parquet.row-group-rows", options.row_group_rows));
  if (options.row_group_rows <= 0) return ConfigError(config.Where(), "option 'parquet.row-group-rows' must be positive");
  return options;
}

std::string FilesSinkOptions::Extension() const {
  switch (format) {
    case FileFormat::kParquet: return "parquet";
    case FileFormat::kJsonLines: return "jsonl";
    case FileFormat::kCsv: return "csv";
  }
  return "dat";
}

// One staged file being written.
class FileWriter {
 public:
  virtual ~FileWriter() = default;
  virtual arrow::Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) = 0;
  // Flushes, fsyncs and closes.
  virtual arrow::Status Finish() = 0;
  int64_t bytes() const { return bytes_; }
  const std::string& path() const { return path_; }

 protected:
  arrow::Status OpenOutput(const std::string& path);
  // Closes the file and fsyncs it: after this the staged file survives a crash.
  arrow::Status CloseAndSync();

  std::string path_;
  std::shared_ptr<arrow::io::FileOutputStream> out_;
  int64_t bytes_ = 0;
};

namespace {

arrow::Status SyncFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "open " + path);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoError(err, "fsync " + path);
  return arrow::Status::OK();
}

}  // namespace

arrow::Status FileWriter::OpenOutput(const std::string& path) {
  path_ = path;
  ARROW_ASSIGN_OR_RAISE(out_, arrow::io::FileOutputStream::Open(path));
  return arrow::Status::OK();
}

arrow::Status FileWriter::CloseAndSync() {
  ARROW_RETURN_NOT_OK(out_->Close());
  return SyncFile(path_);
}

namespace {

arrow::Compression::type CodecOf(const std::string& name) {
  if (name == "snappy") return arrow::Compression::SNAPPY;
  if (name == "gzip") return arrow::Compression::GZIP;
  if (name == "lz4") return arrow::Compression::LZ4;
  if (name == "none") return arrow::Compression::UNCOMPRESSED;
  return arrow::Compression::ZSTD;
}

class ParquetFileWriter : public FileWriter {
 public:
  static arrow::Result<std::unique_ptr<FileWriter>> Make(const std::string& path,
                                                         const std::shared_ptr<arrow::Schema>& schema,
                                                         const FilesSinkOptions& options) {
    auto writer = std::make_unique<ParquetFileWriter>();
    ARROW_RETURN_NOT_OK(writer->OpenOutput(path));
    auto properties = parquet::WriterProperties::Builder()
                          .compression(CodecOf(options.compression))
                          ->max_row_group_length(options.row_group_rows)
                          ->enable_statistics()
                          ->build();
    auto arrow_properties = parquet::ArrowWriterProperties::Builder().store_schema()->build();
    ARROW_ASSIGN_OR_RAISE(writer->writer_, parquet::arrow::FileWriter::Open(*schema, arrow::default_memory_pool(),
                                                                             writer->out_, properties, arrow_properties));
    return writer;
  }
  arrow::Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    ARROW_RETURN_NOT_OK(writer_->WriteRecordBatch(*batch));
    int64_t size = 0;
    for (const auto& column : batch->columns()) size += arrow::util::TotalBufferSize(*column);
    bytes_ += size;
    return arrow::Status::OK();
  }
  arrow::Status Finish() override {
    ARROW_RETURN_NOT_OK(writer_->Close());
    return CloseAndSync();
  }

 private:
  std::unique_ptr<parquet::arrow::FileWriter> writer_;
};

class CsvFileWriter : public FileWriter {
 public:
  static arrow::Result<std::unique_ptr<FileWriter>> Make(const std::string& path,
                                                         const std::shared_ptr<arrow::Schema>& schema) {
    auto writer = std::make_unique<CsvFileWriter>();
    ARROW_RETURN_NOT_OK(writer->OpenOutput(path));
    ARROW_ASSIGN_OR_RAISE(writer->writer_,
                          arrow::csv::MakeCSVWriter(writer->out_, schema, arrow::csv::WriteOptions::Defaults()));
    return writer;
  }
  arrow::Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    ARROW_RETURN_NOT_OK(writer_->WriteRecordBatch(*batch));
    ARROW_ASSIGN_OR_RAISE(bytes_, out_->Tell());
    return arrow::Status::OK();
  }
  arrow::Status Finish() override {
    ARROW_RETURN_NOT_OK(writer_->Close());
    return CloseAndSync();
  }

 private:
  std::shared_ptr<arrow::ipc::RecordBatchWriter> writer_;
};

class JsonLinesFileWriter : public FileWriter {
 public:
  static arrow::Result<std::unique_ptr<FileWriter>> Make(const std::string& path) {
    auto writer = std::make_unique<JsonLinesFileWriter>();
    ARROW_RETURN_NOT_OK(writer->OpenOutput(path));
    return writer;
  }
  arrow::Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    buffer_.clear();
    ARROW_RETURN_NOT_OK(AppendJsonLines(*batch, &buffer_));
    ARROW_RETURN_NOT_OK(out_->Write(buffer_.data(), static_cast<int64_t>(buffer_.size())));
    bytes_ += static_cast<int64_t>(buffer_.size());
    return arrow::Status::OK();
  }
  arrow::Status Finish() override { return CloseAndSync(); }

 private:
  std::string buffer_;
};

// Epoch number from a staging directory name "epoch-<n>", or nullopt.
std::optional<uint64_t> EpochOfStagingDir(const std::string& name) {
  if (name.rfind("epoch-", 0) != 0 || name.size() == 6) return std::nullopt;
  const std::string digits = name.substr(6);
  if (digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoull(digits);
}

}  // namespace

FilesSink::FilesSink() = default;
FilesSink::~FilesSink() = default;

std::string FilesSink::StagingDirectory(uint64_t epoch) const {
  return (fs::path(options_.path) / "_staging" / ("epoch-" + std::to_string(epoch))).string();
}

std::string FilesSink::FinalName(uint64_t epoch, int seq) const {
  char name[96];
  std::snprintf(name, sizeof(name), "part-%012llu-%05d.%s", static_cast<unsigned long long>(epoch), seq,
                options_.Extension().c_str());
  return name;
}

arrow::Status FilesSink::Open(const ConnectorConfig& config) {
  where_ = config.Where();
  ARROW_ASSIGN_OR_RAISE(options_, FilesSinkOptions::FromConfig(config));
  schema_ = config.schema();
  if (options_.format == FileFormat::kCsv && schema_) {
    for (const auto& field : schema_->fields()) {
      if (arrow::is_nested(field->type()->id())) {
        return ConfigError(where_, "format 'csv' cannot hold column '" + field->name() + "' of type " +
                                       field->type()->ToString() + "; use format 'parquet' or 'json'");
      }
    }
  }
  std::error_code ec;
  fs::create_directories(fs::path(options_.path) / "_staging", ec);
  if (ec) return ErrnoError(ec.value(), where_ + ": create output directory " + options_.path);
  return arrow::Status::OK();
}

arrow::Status FilesSink::BeginEpoch(uint64_t epoch) {
  if (writer_) return arrow::Status::Invalid(where_, ": begin epoch ", epoch, " while a file of epoch ", epoch_, " is open");
  epoch_ = epoch;
  epoch_open_ = true;
  next_seq_ = 0;
  finished_files_.clear();
  return arrow::Status::OK();
}

arrow::Result<WriteResult> FilesSink::WriteBatch(const std::shared_ptr<arrow::RecordBatch>& batch) {
  if (!epoch_open_) return arrow::Status::Invalid(where_, ": write outside an epoch");
  if (batch->num_rows() == 0) return WriteResult{};
  if (!writer_) {
    const std::string dir = StagingDirectory(epoch_);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return ErrnoError(ec.value(), where_ + ": create " + dir);
    const std::string path = (fs::path(dir) / FinalName(epoch_, next_seq_++)).string();
    auto schema = schema_ ? schema_ : batch->schema();
    arrow::Result<std::unique_ptr<FileWriter>> made;
    switch (options_.format) {
      case FileFormat::kParquet: made = ParquetFileWriter::Make(path, schema, options_); break;
      case FileFormat::kCsv: made = CsvFileWriter::Make(path, schema); break;
      case FileFormat::kJsonLines: made = JsonLinesFileWriter::Make(path); break;
    }
    ARROW_ASSIGN_OR_RAISE(writer_, std::move(made));
  }
  const int64_t before = writer_->bytes();
  ARROW_RETURN_NOT_OK(writer_->Write(batch));
  const int64_t written = writer_->bytes() - before;
  {
    std::lock_guard<std::mutex> lock(metrics_mu_);
    metrics_.records_total += static_cast<uint64_t>(batch->num_rows());
    metrics_.bytes_total += static_cast<uint64_t>(written);
  }
  if (writer_->bytes() >= options_.max_file_bytes) ARROW_RETURN_NOT_OK(FinishCurrentFile());
  return WriteResult{batch->num_rows(), written};
}

arrow::Status FilesSink::FinishCurrentFile() {
  if (!writer_) return arrow::Status::OK();
  auto writer = std::move(writer_);
  ARROW_RETURN_NOT_OK(writer->Finish());
  finished_files_.push_back(writer->path());
  return arrow::Status::OK();
}

arrow::Status FilesSink::PreCommit(uint64_t epoch) {
  if (epoch != epoch_) return arrow::Status::Invalid(where_, ": pre-commit of epoch ", epoch, " while in epoch ", epoch_);
  // Every staged file is already fsynced by Finish; the directory entries need a sync too.
  ARROW_RETURN_NOT_OK(FinishCurrentFile());
  if (!finished_files_.empty()) ARROW_RETURN_NOT_OK(runtime::SyncDirectory(StagingDirectory(epoch)));
  runtime::FaultPoint("files.pre_commit.after_sync");
  return arrow::Status::OK();
}

arrow::Status FilesSink::CommitEpoch(uint64_t epoch) {
  const fs::path staging(StagingDirectory(epoch));
  std::error_code ec;
  if (fs::exists(staging, ec)) {
    std::vector<fs::path> staged;
    for (const auto& entry : fs::directory_iterator(staging)) {
      if (entry.is_regular_file()) staged.push_back(entry.path());
    }
    std::sort(staged.begin(), staged.end());
    bool first = true;
    for (const auto& file : staged) {
      const fs::path target = fs::path(options_.path) / file.filename();
      // rename() replaces atomically; a file already moved by an earlier attempt is gone
      // from staging, so a repeated commit never makes anything visible twice.
      if (::rename(file.c_str(), target.c_str()) != 0) {
        return ErrnoError(errno, where_ + ": commit " + file.string());
      }
      if (first) runtime::FaultPoint("files.commit.mid_rename");
      first = false;
    }
    if (!staged.empty()) ARROW_RETURN_NOT_OK(runtime::SyncDirectory(options_.path));
    fs::remove(staging, ec);
    if (ec) return ErrnoError(ec.value(), where_ + ": remove " + staging.string());
  }
  if (epoch == epoch_) {
    epoch_open_ = false;
    finished_files_.clear();
  }
  return arrow::Status::OK();
}

arrow::Status FilesSink::RollbackEpoch(uint64_t epoch) {
  if (epoch_open_ && epoch_ >= epoch) {
    writer_.reset();  // the file is deleted with its directory below
    finished_files_.clear();
    epoch_open_ = false;
  }
  const fs::path staging_root = fs::path(options_.path) / "_staging";
  std::error_code ec;
  if (!fs::exists(staging_root, ec)) return arrow::Status::OK();
  for (const auto& entry : fs::directory_iterator(staging_root)) {
    auto staged_epoch = EpochOfStagingDir(entry.path().filename().string());
    if (!staged_epoch || *staged_epoch < epoch) continue;
    fs::remove_all(entry.path(), ec);
    if (ec) return ErrnoError(ec.value(), where_ + ": discard " + entry.path().string());
  }
  return arrow::Status::OK();
}

arrow::Status FilesSink::Close() {
  // Whatever is staged stays staged: recovery commits it or discards it.
  writer_.reset();
  return arrow::Status::OK();
}

}  // namespace laminar::files
