// The `files` source: JSON lines, CSV, Avro object container files, Parquet, raw lines
// and Debezium events (JSON lines) from a directory or glob, in file-name order; bounded (ends after the last file) or following
// the directory for new files (`watch`). Its checkpoint is the file being read with its
// position plus the names of the files already read, so a restore resumes at the exact
// record and a new file is read once even when its name sorts before files already read.
// Files must be complete when they appear (write elsewhere, then rename into the
// directory), as with Flink's and Spark's file sources.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "laminar/core/connector.h"
#include "laminar/core/registry.h"
#include "laminar/dlq/error_router.h"
#include "laminar/sdk/rate_limiter.h"
#include "laminar/serde/avro/avro_schema.h"
#include "laminar/serde/codec.h"
#include "laminar/serde/parquet/parquet_codec.h"

namespace laminar::files {

void RegisterFilesSource(ConnectorRegistry& registry);
std::vector<ConfigKeySpec> FilesSourceKeySpecs();

struct FilesSourceOptions {
  std::string directory;   // where files are listed
  std::string pattern;     // file-name glob inside it ("*" when path is a directory)
  std::string format;      // json | csv | avro | parquet | raw | debezium
  bool watch = false;
  std::chrono::milliseconds poll_interval{1000};
  double rows_per_second = 0;  // 0 = as fast as the files can be read
  int64_t read_bytes = 4 << 20;  // bytes read per poll for text formats
  int64_t remember_files = 10000;  // names of read files kept above the low-water mark
  // parquet: format.row_groups (empty: all), format.predicate, format.batch_size.
  std::vector<int> row_groups;
  std::shared_ptr<serde::RowGroupPredicate> predicate;
  int64_t batch_size = 8192;
  // avro: format.avro.reader.schema (resolution against each file's writer schema).
  std::shared_ptr<const serde::avro::AvroSchema> avro_reader_schema;

  static arrow::Result<FilesSourceOptions> FromConfig(const ConnectorConfig& config);
};

// Reads one file from a position; one implementation per format.
class FileReader {
 public:
  virtual ~FileReader() = default;
  // Up to max_rows rows from the current position, or nullopt at the end of the file.
  virtual arrow::Result<std::optional<SourceBatch>> Next(int64_t max_rows) = 0;
  // The position after the last row returned: a byte offset (text formats) or a row index.
  virtual int64_t position() const = 0;
  // Extra position fields a format needs to resume (CSV: line number, header consumed).
  virtual void SaveExtra(SourceCheckpoint* /*checkpoint*/) const {}
};

class FilesSource : public SourceConnector {
 public:
  FilesSource();
  ~FilesSource() override;

  arrow::Status Open(const ConnectorConfig& config) override;
  std::shared_ptr<arrow::Schema> schema() const override { return schema_; }
  arrow::Result<std::optional<SourceBatch>> PollBatch(int64_t max_records, std::chrono::milliseconds timeout) override;
  bool finished() const override { return finished_; }
  // {"file": <name of the file being read>, "position": <n> (both absent between files),
  //  "completed": <names of the files read, '/'-separated (no file name holds a '/')>,
  //  "low_water": <every name up to this one counts as read>}
  // The mark rises only when more than `remember.files` names are kept, and never past a
  // listed file not yet read; a file that appears later with a name at or below it is
  // taken as read. Restore also accepts the older {"file", "position", "done"} form.
  SourceCheckpoint Checkpoint() const override;
  arrow::Status Restore(const SourceCheckpoint& checkpoint) override;
  ConnectorMetrics Metrics() const override;
  arrow::Status Close() override;

 private:
  arrow::Result<std::vector<std::string>> ListFiles() const;
  bool IsRead(const std::string& name) const;
  // Folds the oldest remembered names into the low-water mark while more than
  // remember_files are kept, keeping the mark below `unread` (the next file to read).
  void ForgetOldest(const std::string& unread);
  arrow::Status OpenReader(const std::string& name, int64_t position, const SourceCheckpoint* resume);
  arrow::Result<std::shared_ptr<arrow::Schema>> ResolveSchema(const ConnectorConfig& config);
  // json, raw, debezium: lines decoded one record each by a RecordDecoder.
  bool IsLineFormat() const {
    return options_.format == "json" || options_.format == "raw" || options_.format == "debezium";
  }

  ConnectorConfig config_;
  FilesSourceOptions options_;
  std::shared_ptr<arrow::Schema> schema_;
  std::string inferred_from_;  // the Parquet file the columns were taken from; empty when declared
  std::unique_ptr<dlq::ErrorRouter> router_;
  std::unique_ptr<serde::RecordDecoder> decoder_;  // text formats
  std::unique_ptr<sdk::TokenBucket> limiter_;        // rate.rows-per-second
  std::unique_ptr<FileReader> reader_;
  std::string current_file_;     // file being read (or to resume after Restore); empty between files
  int64_t position_ = 0;
  std::set<std::string> completed_;  // files read, all named above low_water_
  std::string low_water_;            // every name <= it counts as read; empty: none
  SourceCheckpoint restored_;    // the checkpoint Restore was given, for format extras
  bool finished_ = false;
  std::chrono::steady_clock::time_point next_listing_{};
  std::atomic<uint64_t> records_total_{0};  // read by Metrics() on the metrics thread
};

}  // namespace laminar::files
