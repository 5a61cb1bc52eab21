#include "laminar/delta/delta_source.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <parquet/arrow/reader.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "laminar/core/changelog.h"
#include "laminar/delta/delta_catalog.h"
#include "laminar/delta/delta_schema.h"

namespace laminar::delta {

namespace {

// A partition value's text as a column of `type`, `rows` long.
arrow::Result<std::shared_ptr<arrow::Array>> PartitionColumn(const std::optional<std::string>& text,
                                                             const std::shared_ptr<arrow::DataType>& type, int64_t rows,
                                                             const std::string& column) {
  if (!text) return arrow::MakeArrayOfNull(type, rows);
  ARROW_ASSIGN_OR_RAISE(auto strings, arrow::MakeArrayFromScalar(arrow::StringScalar(*text), rows));
  std::shared_ptr<arrow::DataType> parse_as = type;
  if (type->id() == arrow::Type::TIMESTAMP) {
    // Partition timestamps are written without a zone ("2026-01-01 10:00:00.000000", UTC
    // by the protocol): parse them naive, then label the values with the column's zone.
    parse_as = arrow::timestamp(static_cast<const arrow::TimestampType&>(*type).unit());
  }
  auto cast = arrow::compute::Cast(*strings, parse_as);
  if (!cast.ok()) {
    return arrow::Status::Invalid("partition value '", *text, "' of column '", column, "' is not a ", type->ToString());
  }
  if (parse_as == type) return *cast;
  auto data = (*cast)->data()->Copy();
  data->type = type;
  return arrow::MakeArray(data);
}

}  // namespace

std::vector<ConfigKeySpec> DeltaSourceKeySpecs() {
  std::vector<ConfigKeySpec> specs = {
      ConfigKeySpec::Required("table.path", ConfigType::kString, "Table location: local path, s3://, az://, gs://."),
      ConfigKeySpec::Unset("starting.version", ConfigType::kInt,
                           "Version whose snapshot is read first (default: the latest when the pipeline starts)."),
      ConfigKeySpec::Unset("starting.timestamp", ConfigType::kString,
                           "Start at the newest version committed at or before this time (ISO-8601 or epoch ms)."),
      ConfigKeySpec::Enum("startup.mode", {"snapshot", "changes"}, "snapshot",
                          "snapshot: emit the start version's rows, then later changes; changes: only later changes."),
      ConfigKeySpec::Enum("read.mode", {"append", "changelog"}, "append",
                          "append: inserts only; changelog: adds the `_op` column and turns removes into deletes."),
      ConfigKeySpec::Optional("ignore.removes", ConfigType::kBool, "false",
                              "append mode: skip files removed with dataChange=true instead of failing."),
      ConfigKeySpec::Optional("poll.interval.ms", ConfigType::kInt, "1000", "How often to look for new versions."),
      ConfigKeySpec::Unset("storage.*", ConfigType::kString, "Object store options (see the delta-lake sink)."),
  };
  for (auto& spec : CatalogKeySpecs()) specs.push_back(std::move(spec));
  return specs;
}

void RegisterDeltaSource(ConnectorRegistry& registry) {
  registry.RegisterSource(ConnectorInfo{"delta-lake",
                                        "A Delta Lake table's snapshot, then each new version's changes",
                                        DeltaSourceKeySpecs()},
                          [] { return std::make_unique<DeltaSource>(); });
}

arrow::Result<DeltaSourceOptions> DeltaSourceOptions::FromConfig(const ConnectorConfig& config) {
  DeltaSourceOptions o;
  const std::string where = config.Where();
  ARROW_ASSIGN_OR_RAISE(o.storage, storage::StorageOptions::FromConfig(config, "table.path"));
  ARROW_ASSIGN_OR_RAISE(o.starting_version, config.GetOptionalInt64("starting.version"));
  if (o.starting_version && *o.starting_version < 0) {
    return ConfigError(where, "option 'starting.version' must not be negative");
  }
  if (auto ts = config.Get("starting.timestamp")) {
    if (o.starting_version) return ConfigError(where, "set 'starting.version' or 'starting.timestamp', not both");
    auto millis = ParseInt64(*ts);
    if (millis.ok()) {
      o.starting_timestamp_ms = *millis;
    } else {
      ARROW_ASSIGN_OR_RAISE(auto text, arrow::MakeArrayFromScalar(arrow::StringScalar(*ts), 1));
      auto parsed = arrow::compute::Cast(*text, arrow::timestamp(arrow::TimeUnit::MILLI, "UTC"));
      if (!parsed.ok()) {
        return ConfigError(where, "option 'starting.timestamp' = '" + *ts +
                                      "' is not epoch milliseconds or an ISO-8601 time with a zone");
      }
      o.starting_timestamp_ms = static_cast<const arrow::TimestampArray&>(**parsed).Value(0);
    }
  }
  ARROW_ASSIGN_OR_RAISE(auto startup, config.GetString("startup.mode", "snapshot"));
  if (startup != "snapshot" && startup != "changes") {
    return ConfigError(where, "option 'startup.mode' = '" + startup + "' is not snapshot or changes");
  }
  o.include_snapshot = startup == "snapshot";
  ARROW_ASSIGN_OR_RAISE(auto mode, config.GetString("read.mode", "append"));
  if (mode != "append" && mode != "changelog") {
    return ConfigError(where, "option 'read.mode' = '" + mode + "' is not append or changelog");
  }
  o.changelog = mode == "changelog";
  ARROW_ASSIGN_OR_RAISE(o.ignore_removes, config.GetBool("ignore.removes", false));
  ARROW_ASSIGN_OR_RAISE(auto interval, config.GetInt64("poll.interval.ms", 1000));
  if (interval <= 0) return ConfigError(where, "option 'poll.interval.ms' must be greater than 0");
  o.poll_interval = std::chrono::milliseconds(interval);
  ARROW_RETURN_NOT_OK(CheckCatalogOptions(config));
  return o;
}

DeltaSource::DeltaSource() = default;
DeltaSource::~DeltaSource() = default;

arrow::Status DeltaSource::Open(const ConnectorConfig& config) {
  where_ = config.Where();
  ARROW_ASSIGN_OR_RAISE(options_, DeltaSourceOptions::FromConfig(config));
  ARROW_ASSIGN_OR_RAISE(auto location, storage::OpenLocation(options_.storage));
  log_ = std::make_unique<DeltaLog>(std::move(location));
  auto latest = log_->Load();
  if (!latest.ok()) return FatalError(where_, "cannot read Delta table " + options_.storage.location + ": " + latest.status().message());
  if (!*latest) return FatalError(where_, "there is no Delta table at " + options_.storage.location);
  ARROW_ASSIGN_OR_RAISE(auto table_schema, FromDeltaSchemaString((*latest)->metadata().schema_string));
  opened_version_ = (*latest)->version();
  declared_schema_ = config.schema() && config.schema()->num_fields() > 0;
  if (declared_schema_) {
    // Declared columns: each must exist in the table (by name) with a type it can be cast to.
    arrow::FieldVector fields;
    for (const auto& field : config.schema()->fields()) {
      if (field->name() == kChangelogColumn) continue;
      auto existing = table_schema->GetFieldByName(field->name());
      if (!existing) {
        return ConfigError(where_, "column '" + field->name() + "' is not in table " + options_.storage.location);
      }
      if (!arrow::compute::CanCast(*existing->type(), *field->type())) {
        return ConfigError(where_, "column '" + field->name() + "' is " + existing->type()->ToString() +
                                       " in the table, which cannot be read as " + field->type()->ToString());
      }
      fields.push_back(field);
    }
    data_schema_ = arrow::schema(fields);
  } else {
    data_schema_ = table_schema;
  }
  schema_ = data_schema_;
  if (options_.changelog) {
    ARROW_ASSIGN_OR_RAISE(schema_, data_schema_->AddField(data_schema_->num_fields(), ChangelogField()));
  }
  if (options_.starting_version) {
    start_version_ = *options_.starting_version;
    if (start_version_ > (*latest)->version()) {
      return ConfigError(where_, "starting.version " + std::to_string(start_version_) + " is newer than the table (" +
                                     std::to_string((*latest)->version()) + ")");
    }
  } else if (options_.starting_timestamp_ms) {
    ARROW_ASSIGN_OR_RAISE(auto version, log_->VersionAtOrBefore(*options_.starting_timestamp_ms));
    if (!version) return ConfigError(where_, "every version of the table is newer than 'starting.timestamp'");
    start_version_ = *version;
  } else {
    start_version_ = (*latest)->version();
  }
  return ResetToStart();
}

arrow::Status DeltaSource::ResetToStart() {
  reader_.reset();
  reader_owner_.reset();
  pending_.reset();
  units_loaded_ = false;
  units_.clear();
  position_ = Position{};
  if (options_.include_snapshot) {
    position_.snapshot = true;
    position_.version = start_version_;
  } else {
    position_.snapshot = false;
    position_.version = start_version_ + 1;
  }
  return arrow::Status::OK();
}

arrow::Result<bool> DeltaSource::LoadUnits() {
  if (units_loaded_) return true;
  units_.clear();
  if (position_.snapshot) {
    auto snapshot = log_->LoadAt(position_.version);
    if (!snapshot.ok()) return FatalError(where_, snapshot.status().message());
    if (!*snapshot) return FatalError(where_, "version " + std::to_string(position_.version) + " does not exist");
    for (const auto& [path, add] : (*snapshot)->files()) units_.push_back(Unit{path, add.partition_values, false});
    units_loaded_ = true;
    return true;
  }
  log_lookups_.fetch_add(1);
  auto info = log_->location().fs->GetFileInfo(log_->location().Join(CommitFileName(position_.version)));
  ARROW_RETURN_NOT_OK(info.status());
  if (info->type() != arrow::fs::FileType::File) return false;
  const std::string version = "version " + std::to_string(position_.version) + " of " + options_.storage.location;
  auto actions = log_->ReadCommit(position_.version);
  if (!actions.ok()) return FatalError(where_, version + ": " + actions.status().message());
  if (actions->protocol) {
    if (auto status = DeltaLog::CheckReadable(*actions->protocol); !status.ok()) {
      return FatalError(where_, version + ": " + status.message());
    }
  }
  if (actions->metadata) ARROW_RETURN_NOT_OK(CheckNewMetadata(*actions->metadata));
  for (const auto& remove : actions->removes) {
    if (!remove.data_change) continue;  // compaction: same rows, new files
    if (options_.changelog) {
      units_.push_back(Unit{remove.path, remove.partition_values, true});
    } else if (!options_.ignore_removes) {
      return FatalError(where_, "version " + std::to_string(position_.version) + " removes file " + remove.path +
                                    " with its rows (a delete, update or overwrite); read.mode 'changelog' turns "
                                    "removes into deletes, 'ignore.removes' = 'true' skips them");
    }
  }
  for (const auto& add : actions->adds) {
    if (add.data_change) units_.push_back(Unit{add.path, add.partition_values, false});
  }
  units_loaded_ = true;
  return true;
}

arrow::Status DeltaSource::CheckNewMetadata(const MetadataAction& metadata) {
  const std::string version = "version " + std::to_string(position_.version);
  // Column-mapped files name their columns by physical ids: read by name, every column
  // would come back null. Checked for every version, history included.
  if (auto status = DeltaLog::CheckReadableMetadata(metadata); !status.ok()) {
    return FatalError(where_, version + " of " + options_.storage.location + ": " + status.message());
  }
  // Versions up to the one the source opened at led to the schema it reads with: their
  // older schemas only mean that older files lack later columns (read as nulls, as Delta
  // says). Later versions change the table under the running source.
  if (position_.version <= opened_version_) return arrow::Status::OK();
  auto table_schema = FromDeltaSchemaString(metadata.schema_string);
  if (!table_schema.ok()) return FatalError(where_, version + ": " + table_schema.status().message());
  for (const auto& field : data_schema_->fields()) {
    auto now = (*table_schema)->GetFieldByName(field->name());
    if (!now) {
      return FatalError(where_, version + " drops or renames column '" + field->name() +
                                    "', which this source reads (its files would read as nulls)");
    }
    const bool fits = declared_schema_ ? arrow::compute::CanCast(*now->type(), *field->type())
                                       : now->type()->Equals(*field->type());
    if (!fits) {
      return FatalError(where_, version + " changes column '" + field->name() + "' to " + now->type()->ToString() +
                                    ", which this source reads as " + field->type()->ToString());
    }
  }
  if (!declared_schema_) {
    // The source's schema is the table's at start; silently dropping a new column would
    // lose its values.
    for (const auto& field : (*table_schema)->fields()) {
      if (!data_schema_->GetFieldByName(field->name())) {
        return FatalError(where_, version + " adds column '" + field->name() +
                                      "', which this source's schema (the table's when it opened) lacks: restart "
                                      "the pipeline to read the new schema, or declare the columns to read");
      }
    }
  }
  return arrow::Status::OK();
}

arrow::Status DeltaSource::OpenUnit() {
  const Unit& unit = units_[static_cast<size_t>(position_.file)];
  const auto& location = log_->location();
  auto input = location.fs->OpenInputFile(location.Join(DecodePath(unit.path)));
  if (!input.ok()) {
    return FatalError(where_, "version " + std::to_string(position_.version) + " names file " + unit.path +
                                  ", which cannot be opened (vacuumed?): " + input.status().message());
  }
  ARROW_ASSIGN_OR_RAISE(auto reader, parquet::arrow::OpenFile(*input, arrow::default_memory_pool()));
  ARROW_ASSIGN_OR_RAISE(auto batches, reader->GetRecordBatchReader());
  reader_owner_ = std::shared_ptr<parquet::arrow::FileReader>(std::move(reader));
  reader_ = std::move(batches);
  rows_to_skip_ = position_.row;
  return arrow::Status::OK();
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> DeltaSource::Shape(const std::shared_ptr<arrow::RecordBatch>& file_batch,
                                                                      const Unit& unit) {
  const int64_t rows = file_batch->num_rows();
  arrow::ArrayVector columns;
  for (const auto& field : data_schema_->fields()) {
    std::shared_ptr<arrow::Array> column = file_batch->GetColumnByName(field->name());
    if (!column) {
      auto partition = unit.partition_values.find(field->name());
      if (partition != unit.partition_values.end()) {
        ARROW_ASSIGN_OR_RAISE(column, PartitionColumn(partition->second, field->type(), rows, field->name()));
      } else {
        // A column added to the table after this file was written.
        ARROW_ASSIGN_OR_RAISE(column, arrow::MakeArrayOfNull(field->type(), rows));
      }
    }
    if (!column->type()->Equals(*field->type())) {
      auto cast = arrow::compute::Cast(*column, field->type());
      if (!cast.ok()) {
        return FatalError(where_, "file " + unit.path + ": column '" + field->name() + "' cannot be read as " +
                                      field->type()->ToString() + ": " + cast.status().message());
      }
      column = *cast;
    }
    if (!field->nullable() && column->null_count() > 0) {
      return FatalError(where_, "file " + unit.path + ": column '" + field->name() + "' has nulls but is NOT NULL");
    }
    columns.push_back(std::move(column));
  }
  if (options_.changelog) {
    ARROW_ASSIGN_OR_RAISE(auto ops, arrow::MakeArrayFromScalar(
                                        arrow::Int8Scalar(static_cast<int8_t>(unit.remove ? RowKind::kDelete : RowKind::kInsert)),
                                        rows));
    columns.push_back(ops);
  }
  return arrow::RecordBatch::Make(schema_, rows, std::move(columns));
}

arrow::Result<std::optional<SourceBatch>> DeltaSource::PollBatch(int64_t max_records, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (!units_loaded_) {
      if (!position_.snapshot && std::chrono::steady_clock::now() < next_poll_) {
        if (std::chrono::steady_clock::now() >= deadline) return std::optional<SourceBatch>();
        std::this_thread::sleep_until(std::min(deadline, next_poll_));
        continue;
      }
      ARROW_ASSIGN_OR_RAISE(bool exists, LoadUnits());
      if (!exists) {
        next_poll_ = std::chrono::steady_clock::now() + options_.poll_interval;
        continue;
      }
    }
    if (position_.file >= static_cast<int64_t>(units_.size())) {
      // This version (or the snapshot) is done: on to the next version.
      version_read_.store(position_.version);
      position_.snapshot = false;
      ++position_.version;
      position_.file = 0;
      position_.row = 0;
      units_loaded_ = false;
      units_.clear();
      continue;
    }
    if (!reader_) ARROW_RETURN_NOT_OK(OpenUnit());
    std::shared_ptr<arrow::RecordBatch> batch = std::move(pending_);
    pending_.reset();
    if (!batch) ARROW_RETURN_NOT_OK(reader_->ReadNext(&batch));
    if (!batch) {
      reader_.reset();
      reader_owner_.reset();
      ++position_.file;
      position_.row = 0;
      continue;
    }
    if (rows_to_skip_ > 0) {
      const int64_t skip = std::min(rows_to_skip_, batch->num_rows());
      rows_to_skip_ -= skip;
      batch = batch->Slice(skip);
      if (batch->num_rows() == 0) continue;
    }
    if (max_records > 0 && batch->num_rows() > max_records) {
      pending_ = batch->Slice(max_records);  // the rest comes with the next poll
      batch = batch->Slice(0, max_records);
    }
    ARROW_ASSIGN_OR_RAISE(auto shaped, Shape(batch, units_[static_cast<size_t>(position_.file)]));
    position_.row += batch->num_rows();
    records_total_.fetch_add(static_cast<uint64_t>(shaped->num_rows()));
    SourceBatch out;
    out.records = std::move(shaped);
    out.partition = PartitionInfo{"v" + std::to_string(position_.version), std::to_string(position_.file) + ":" +
                                                                              std::to_string(position_.row)};
    return std::optional<SourceBatch>(std::move(out));
  }
}

SourceCheckpoint DeltaSource::Checkpoint() const {
  SourceCheckpoint checkpoint;
  checkpoint.SetOffset("phase", position_.snapshot ? "snapshot" : "changes");
  checkpoint.SetOffset("version", std::to_string(position_.version));
  checkpoint.SetOffset("file", std::to_string(position_.file));
  checkpoint.SetOffset("row", std::to_string(position_.row));
  checkpoint.SetMetadata("table", options_.storage.location);
  return checkpoint;
}

arrow::Status DeltaSource::Restore(const SourceCheckpoint& checkpoint) {
  if (checkpoint.empty()) return ResetToStart();
  auto phase = checkpoint.GetOffset("phase");
  auto version = ParseInt64(checkpoint.GetOffset("version").value_or(""));
  auto file = ParseInt64(checkpoint.GetOffset("file").value_or(""));
  auto row = ParseInt64(checkpoint.GetOffset("row").value_or(""));
  if (!phase || (*phase != "snapshot" && *phase != "changes") || !version.ok() || !file.ok() || !row.ok() ||
      *version < 0 || *file < 0 || *row < 0) {
    return FatalError(where_, "checkpoint " + checkpoint.ToJson() + " is not a Delta source position");
  }
  reader_.reset();
  reader_owner_.reset();
  pending_.reset();
  units_loaded_ = false;
  units_.clear();
  position_ = Position{*phase == "snapshot", *version, *file, *row};
  ARROW_ASSIGN_OR_RAISE(bool exists, LoadUnits());
  if (exists && position_.file > static_cast<int64_t>(units_.size())) {
    return FatalError(where_, "checkpoint names file " + std::to_string(position_.file) + " of version " +
                                  std::to_string(position_.version) + ", which has only " +
                                  std::to_string(units_.size()));
  }
  if (!exists && position_.file > 0) {
    return FatalError(where_, "checkpoint is inside version " + std::to_string(position_.version) +
                                  ", which is not in the log");
  }
  return arrow::Status::OK();
}

ConnectorMetrics DeltaSource::Metrics() const {
  ConnectorMetrics m;
  m.records_total = records_total_.load();
  m.AddCustom("delta.version_read", static_cast<double>(version_read_.load()));
  m.AddCustom("delta.log_lookups", static_cast<double>(log_lookups_.load()));
  return m;
}

arrow::Status DeltaSource::Close() {
  reader_.reset();
  reader_owner_.reset();
  units_.clear();
  return arrow::Status::OK();
}

}  // namespace laminar::delta
