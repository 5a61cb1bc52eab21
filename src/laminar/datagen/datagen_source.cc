// datagen source: options, the position and its checkpoint, rate pacing, and assembling
// record batches from the column generators. Everything runs on the source's poll thread.
#include "laminar/datagen/datagen_source.h"

#include <arrow/api.h>
#include <arrow/extension_type.h>
#include <arrow/util/byte_size.h>

#include <algorithm>
#include <limits>
#include <thread>
#include <utility>

#include "laminar/core/status.h"
#include "laminar/datagen/value_generator_internal.h"

namespace laminar::datagen {

namespace {

constexpr int64_t kDefaultBatchRows = 8192;
// Rate-limited polls gather this much time's worth of rows, so that a high rate does not
// turn into a stream of one-row batches.
constexpr int64_t kLingerDivisor = 100;  // 1/100 s = 10 ms

}  // namespace

arrow::Result<DatagenOptions> DatagenOptions::FromConfig(const ConnectorConfig& config) {
  const auto& schema = config.schema();
  if (!schema || schema->num_fields() == 0) {
    return ConfigError(config.Where(), "datagen needs declared columns");
  }
  const auto bad = [&](const std::string& key, const std::string& message) {
    return ConfigError(config.Where(), "option '" + key + "' " + message);
  };

  DatagenOptions options;
  ARROW_ASSIGN_OR_RAISE(options.rows_per_second, config.GetInt64("rows-per-second", 10000));
  if (options.rows_per_second < 0) return bad("rows-per-second", "must not be negative");
  ARROW_ASSIGN_OR_RAISE(options.number_of_rows, config.GetOptionalInt64("number-of-rows"));
  if (options.number_of_rows && *options.number_of_rows < 0) {
    return bad("number-of-rows", "must not be negative");
  }
  ARROW_ASSIGN_OR_RAISE(const int64_t seed, config.GetInt64("seed", 0));
  options.seed = static_cast<uint64_t>(seed);

  for (const auto& [rest, value] : config.PropertiesWithPrefix("fields.")) {
    const std::string key = "fields." + rest;
    // Column names may contain dots; option names never do.
    const auto dot = rest.rfind('.');
    if (dot == std::string::npos || dot == 0) return bad(key, "is not of the form fields.<column>.<option>");
    const std::string column = rest.substr(0, dot);
    const std::string option = rest.substr(dot + 1);
    std::shared_ptr<arrow::Field> field;
    for (const auto& candidate : schema->fields()) {
      if (candidate->name() == column) {
        field = candidate;
        break;
      }
    }
    if (!field) return bad(key, "names column '" + column + "', which is not declared");

    FieldOptions& field_options = options.fields[column];
    if (option == "kind") {
      if (value != "random" && value != "sequence") {
        return bad(key, "= '" + value + "' is not a valid kind; expected random or sequence");
      }
      field_options.sequence = value == "sequence";
    } else if (option == "start") {
      field_options.start = value;
    } else if (option == "end") {
      field_options.end = value;
    } else if (option == "min") {
      field_options.min = value;
    } else if (option == "max") {
      field_options.max = value;
    } else if (option == "values") {
      field_options.values = value;
    } else if (option == "length") {
      auto length = ParseInt64(value);
      if (!length.ok() || *length < 0) return bad(key, "= '" + value + "' is not a non-negative integer");
      field_options.length = *length;
    } else if (option == "null-rate") {
      auto rate = ParseDouble(value);
      if (!rate.ok() || *rate < 0 || *rate > 1) {
        return bad(key, "= '" + value + "' is not a number in [0, 1]");
      }
      if (*rate > 0 && !field->nullable()) {
        return bad(key, "must be 0: column '" + column + "' is NOT NULL");
      }
      field_options.null_rate = *rate;
    } else {
      return bad(key,
                 "is not a datagen column option (kind, start, end, min, max, length, null-rate, values)");
    }
  }
  return options;
}

DatagenSource::DatagenSource() = default;
DatagenSource::~DatagenSource() = default;

arrow::Status DatagenSource::Open(const ConnectorConfig& config) {
  open_ = false;
  where_ = config.Where();
  ARROW_ASSIGN_OR_RAISE(auto options, DatagenOptions::FromConfig(config));

  std::vector<std::unique_ptr<arrow::ArrayBuilder>> builders;
  std::vector<std::unique_ptr<ColumnGenerator>> generators;
  std::vector<std::shared_ptr<arrow::DataType>> extension_types;
  std::optional<int64_t> row_limit = options.number_of_rows;
  for (const auto& field : config.schema()->fields()) {
    std::shared_ptr<arrow::DataType> type = field->type();
    std::shared_ptr<arrow::DataType> extension;
    if (type->id() == arrow::Type::EXTENSION) {
      // Generate the storage type and wrap each finished array.
      extension = type;
      type = static_cast<const arrow::ExtensionType&>(*type).storage_type();
    }
    auto builder = arrow::MakeBuilder(type);
    if (!builder.ok()) {
      return ConfigError(where_, "datagen cannot generate column '" + field->name() + "' of type " +
                                     field->type()->ToString() + ": " + builder.status().message());
    }
    auto it = options.fields.find(field->name());
    const FieldOptions field_options = it == options.fields.end() ? FieldOptions{} : it->second;
    ARROW_ASSIGN_OR_RAISE(auto generator,
                          MakeColumnGenerator(type, builder->get(), field->name(), field_options,
                                              IsJsonField(*field), options.seed, where_));
    if (auto rows = generator->sequence_rows()) row_limit = std::min(row_limit.value_or(*rows), *rows);
    builders.push_back(std::move(*builder));
    generators.push_back(std::move(generator));
    extension_types.push_back(std::move(extension));
  }

  schema_ = config.schema();
  builders_ = std::move(builders);
  generators_ = std::move(generators);
  extension_types_ = std::move(extension_types);
  rows_per_second_ = options.rows_per_second;
  row_limit_ = row_limit;
  next_row_ = 0;
  pace_start_.reset();
  {
    std::lock_guard<std::mutex> lock(metrics_mu_);
    metrics_ = ConnectorMetrics{};
  }
  open_ = true;
  return arrow::Status::OK();
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> DatagenSource::GenerateRows(int64_t first_row,
                                                                               int64_t count) {
  if (!open_) return arrow::Status::Invalid("datagen source ", where_, " is not open");
  if (first_row < 0 || count < 0) return arrow::Status::Invalid("datagen: negative row range");
  std::vector<std::shared_ptr<arrow::Array>> columns;
  columns.reserve(generators_.size());
  for (size_t i = 0; i < generators_.size(); ++i) {
    arrow::Status status = generators_[i]->AppendRows(first_row, count);
    std::shared_ptr<arrow::Array> array;
    if (status.ok()) status = builders_[i]->Finish(&array);
    if (!status.ok()) {
      // Leave no half-built column behind for the next call.
      for (auto& builder : builders_) builder->Reset();
      return status;
    }
    if (extension_types_[i]) array = arrow::ExtensionType::WrapArray(extension_types_[i], array);
    columns.push_back(std::move(array));
  }
  return arrow::RecordBatch::Make(schema_, count, std::move(columns));
}

bool DatagenSource::finished() const { return open_ && row_limit_ && next_row_ >= *row_limit_; }

int64_t DatagenSource::DueRows(Clock::time_point now) const {
  const auto elapsed_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - *pace_start_).count();
  const auto due = static_cast<__int128>(rows_per_second_) * elapsed_ns / 1000000000;
  return static_cast<int64_t>(pace_base_row_ + due - next_row_);
}

int64_t DatagenSource::WaitForDueRows(int64_t want, std::chrono::milliseconds timeout) {
  auto now = Clock::now();
  if (!pace_start_) {
    pace_start_ = now;
    pace_base_row_ = next_row_;
  }
  int64_t due = DueRows(now);
  if (due > rows_per_second_) {
    // More than a second behind (a slow consumer): forget the debt instead of bursting.
    pace_start_ = now - std::chrono::seconds(1);
    pace_base_row_ = next_row_;
    due = rows_per_second_;
  }
  const int64_t target = std::clamp<int64_t>(rows_per_second_ / kLingerDivisor, 1, want);
  if (due >= target) return std::min(due, want);

  // Sleep until `target` rows are due or the timeout passes, whichever comes first.
  const int64_t rows_needed = next_row_ + target - pace_base_row_;
  const auto ready_ns =
      (static_cast<__int128>(rows_needed) * 1000000000 + rows_per_second_ - 1) / rows_per_second_;
  const auto ready_at = *pace_start_ + std::chrono::nanoseconds(static_cast<int64_t>(ready_ns));
  std::this_thread::sleep_until(std::min(ready_at, now + timeout));
  return std::clamp<int64_t>(DueRows(Clock::now()), 0, want);
}

arrow::Result<std::optional<SourceBatch>> DatagenSource::PollBatch(int64_t max_records,
                                                                   std::chrono::milliseconds timeout) {
  if (!open_) return arrow::Status::Invalid("datagen source ", where_, " is not open");
  if (finished()) return std::nullopt;
  int64_t want = max_records > 0 ? max_records : kDefaultBatchRows;
  if (row_limit_) want = std::min(want, *row_limit_ - next_row_);
  if (replay_end_) {
    want = std::min(want, *replay_end_ - next_row_);
    if (want <= 0) return std::nullopt;
  } else if (rows_per_second_ > 0) {
    want = WaitForDueRows(want, timeout);
    if (want == 0) return std::nullopt;
  }
  const int64_t first_row = next_row_;
  ARROW_ASSIGN_OR_RAISE(auto batch, GenerateRows(first_row, want));
  next_row_ += want;
  {
    std::lock_guard<std::mutex> lock(metrics_mu_);
    metrics_.records_total += static_cast<uint64_t>(want);
    metrics_.bytes_total += static_cast<uint64_t>(arrow::util::TotalBufferSize(*batch));
  }
  SourceBatch out;
  out.records = std::move(batch);
  out.partition = PartitionInfo{"datagen", std::to_string(first_row)};
  return out;
}

SourceCheckpoint DatagenSource::Checkpoint() const {
  SourceCheckpoint checkpoint;
  checkpoint.SetOffset("row", std::to_string(next_row_));
  checkpoint.SetMetadata("connector", "datagen");
  return checkpoint;
}

arrow::Status DatagenSource::SetReplayEnd(const std::optional<SourceCheckpoint>& end) {
  if (!end) {
    replay_end_.reset();
    pace_start_.reset();
    return arrow::Status::OK();
  }
  int64_t row = 0;
  if (auto text = end->GetOffset("row")) {
    auto parsed = ParseInt64(*text);
    if (!parsed.ok() || *parsed < 0) {
      return FatalError("datagen", where_ + ": replay end row='" + *text + "' is not a non-negative row index");
    }
    row = *parsed;
  }
  replay_end_ = row;
  return arrow::Status::OK();
}

arrow::Status DatagenSource::Restore(const SourceCheckpoint& checkpoint) {
  if (!open_) return arrow::Status::Invalid("datagen source ", where_, " is not open");
  int64_t row = 0;
  if (!checkpoint.empty()) {
    const auto text = checkpoint.GetOffset("row");
    if (!text) return FatalError("datagen", where_ + ": checkpoint has no 'row' offset");
    auto parsed = ParseInt64(*text);
    if (!parsed.ok() || *parsed < 0) {
      return FatalError("datagen",
                        where_ + ": checkpoint offset row='" + *text + "' is not a non-negative row index");
    }
    if (row_limit_ && *parsed > *row_limit_) {
      return FatalError("datagen", where_ + ": checkpoint offset row='" + *text +
                                       "' is beyond the last row (" + std::to_string(*row_limit_) +
                                       " rows in total)");
    }
    row = *parsed;
  }
  next_row_ = row;
  pace_start_.reset();
  return arrow::Status::OK();
}

arrow::Status DatagenSource::Close() {
  open_ = false;
  generators_.clear();
  builders_.clear();
  extension_types_.clear();
  return arrow::Status::OK();
}

std::vector<ConfigKeySpec> DatagenKeySpecs() {
  return {
      ConfigKeySpec::Optional("rows-per-second", ConfigType::kUInt, "10000",
                              "Rows per second; 0 = as fast as possible"),
      ConfigKeySpec::Unset("number-of-rows", ConfigType::kUInt,
                           "Total rows, then the source is finished; absent = unbounded"),
      ConfigKeySpec::Optional("seed", ConfigType::kInt, "0", "Seed; the same seed gives the same rows"),
      ConfigKeySpec::Enum("fields.*.kind", {"random", "sequence"}, "random",
                          "random values, or start + row index (integer columns; bounds the source)"),
      ConfigKeySpec::Unset("fields.*.start", ConfigType::kString, "First value of a sequence (default 0)"),
      ConfigKeySpec::Unset("fields.*.end", ConfigType::kString,
                           "Last value of a sequence (default the type's maximum)"),
      ConfigKeySpec::Unset("fields.*.min", ConfigType::kString,
                           "Smallest random value (numbers, dates, times)"),
      ConfigKeySpec::Unset("fields.*.max", ConfigType::kString,
                           "Largest random value (numbers, dates, times)"),
      ConfigKeySpec::Unset("fields.*.length", ConfigType::kUInt,
                           "String/binary length (default 10) or list size (default 3)"),
      ConfigKeySpec::Unset("fields.*.null-rate", ConfigType::kDouble,
                           "Fraction of nulls, 0..1 (nullable columns only)"),
      ConfigKeySpec::Unset("fields.*.values", ConfigType::kString, "Comma-separated values to draw from"),
  };
}

void RegisterDatagen(ConnectorRegistry& registry) {
  registry.RegisterSource(
      ConnectorInfo{"datagen", "Deterministic synthetic rows for the declared columns", DatagenKeySpecs()},
      [] { return std::make_unique<DatagenSource>(); });
}

}  // namespace laminar::datagen
