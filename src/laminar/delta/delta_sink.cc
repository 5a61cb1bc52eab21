#include "laminar/delta/delta_sink.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/compute/initialize.h>
#include <arrow/io/file.h>
#include <arrow/util/byte_size.h>
#include <fcntl.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/writer.h>
#include <parquet/properties.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <set>
#include <unordered_map>
#include <variant>

#include "laminar/core/changelog.h"
#include "laminar/delta/delta_catalog.h"
#include "laminar/delta/delta_features.h"
#include "laminar/delta/delta_maintenance.h"
#include "laminar/delta/delta_schema.h"
#include "laminar/runtime/fault_points.h"
#include "laminar/storage/put_if_absent.h"

namespace laminar::delta {

namespace {
// In staging records only: the largest version the table may hold for an application
// watermark when the epoch commits (AppWatermark::expected_at_most).
constexpr const char* kExpectPrefix = "laminar.expect-at-most:";
// Upsert: the table version whose files the epoch's rewrites were computed from. Kept in
// the staging record like the expectations above; never written to the log.
constexpr const char* kUpsertReadVersion = "laminar.upsert-read-version";

// One column's part of a grouping key: length-prefixed, so that no two different value
// lists join to the same key (a separator byte could occur inside a string value).
void AppendKeyPart(std::string* key, const std::optional<std::string>& text) {
  if (!text) {
    *key += 'n';
    return;
  }
  *key += 'v';
  *key += std::to_string(text->size());
  *key += ':';
  *key += *text;
}

WriteIntent IntentOf(WriteMode mode) {
  WriteIntent intent;
  intent.removes_data = mode != WriteMode::kAppend;
  intent.rewrites_files = mode == WriteMode::kUpsert;
  return intent;
}
}  // namespace

namespace json = boost::json;

namespace {

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// "a, b,,c" -> {a, b, c}
std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(start, comma - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

std::string Hex8(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%08x", static_cast<unsigned>(v & 0xffffffffu));
  return buf;
}

// FNV-1a: stable across runs and builds (std::hash is not promised to be).
uint64_t StableHash(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string RandomHex8() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return Hex8(rng());
}

int RandomMillis(int below) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return static_cast<int>(rng() % static_cast<uint64_t>(below));
}

std::string NewUuid() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t a = rng(), b = rng();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

void CivilFromDays(int64_t z, int* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int>(yy + (*m <= 2));
}

std::string FormatDate(int64_t days) {
  int y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02u", y, m, d);
  return buf;
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// micros -> "YYYY-MM-DD<sep>HH:MM:SS.<fraction digits>"
std::string FormatMicros(int64_t micros, char sep, int fraction_digits) {
  const int64_t days = FloorDiv(micros, 86400000000LL);
  int64_t rest = micros - days * 86400000000LL;
  const int64_t h = rest / 3600000000LL;
  rest %= 3600000000LL;
  const int64_t mi = rest / 60000000LL;
  rest %= 60000000LL;
  const int64_t s = rest / 1000000LL;
  const int64_t us = rest % 1000000LL;
  char buf[64];
  if (fraction_digits == 3) {
    std::snprintf(buf, sizeof(buf), "%s%c%02lld:%02lld:%02lld.%03lld", FormatDate(days).c_str(), sep,
                  static_cast<long long>(h), static_cast<long long>(mi), static_cast<long long>(s),
                  static_cast<long long>(us / 1000));
  } else {
    std::snprintf(buf, sizeof(buf), "%s%c%02lld:%02lld:%02lld.%06lld", FormatDate(days).c_str(), sep,
                  static_cast<long long>(h), static_cast<long long>(mi), static_cast<long long>(s),
                  static_cast<long long>(us));
  }
  return buf;
}

// The Delta partition value text of one cell (storage form), or nullopt for null.
arrow::Result<std::optional<std::string>> PartitionText(const arrow::Array& array, int64_t row) {
  if (array.IsNull(row)) return std::optional<std::string>();
  switch (array.type_id()) {
    case arrow::Type::STRING: return std::optional<std::string>(std::string(static_cast<const arrow::StringArray&>(array).GetView(row)));
    case arrow::Type::LARGE_STRING:
      return std::optional<std::string>(std::string(static_cast<const arrow::LargeStringArray&>(array).GetView(row)));
    case arrow::Type::BOOL: return std::optional<std::string>(static_cast<const arrow::BooleanArray&>(array).Value(row) ? "true" : "false");
    case arrow::Type::INT8: return std::optional<std::string>(std::to_string(static_cast<const arrow::Int8Array&>(array).Value(row)));
    case arrow::Type::INT16: return std::optional<std::string>(std::to_string(static_cast<const arrow::Int16Array&>(array).Value(row)));
    case arrow::Type::INT32: return std::optional<std::string>(std::to_string(static_cast<const arrow::Int32Array&>(array).Value(row)));
    case arrow::Type::INT64: return std::optional<std::string>(std::to_string(static_cast<const arrow::Int64Array&>(array).Value(row)));
    case arrow::Type::DATE32: return std::optional<std::string>(FormatDate(static_cast<const arrow::Date32Array&>(array).Value(row)));
    case arrow::Type::TIMESTAMP:
      return std::optional<std::string>(FormatMicros(static_cast<const arrow::TimestampArray&>(array).Value(row), ' ', 6));
    default: return arrow::Status::Invalid("partition column type ", array.type()->ToString(), " is not supported");
  }
}

bool PartitionTypeSupported(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
    case arrow::Type::BOOL:
    case arrow::Type::INT8:
    case arrow::Type::INT16:
    case arrow::Type::INT32:
    case arrow::Type::INT64:
    case arrow::Type::DATE32:
    case arrow::Type::TIMESTAMP: return true;
    default: return false;
  }
}

arrow::Compression::type CodecOf(const std::string& name) {
  if (name == "snappy") return arrow::Compression::SNAPPY;
  if (name == "none") return arrow::Compression::UNCOMPRESSED;
  return arrow::Compression::ZSTD;
}

// Running min/max/null count of one column over the rows written to one file, for the
// add action's stats. Only types whose JSON form orders like the values get min/max.
struct ColumnStats {
  using Value = std::variant<std::monostate, int64_t, double, std::string>;
  std::string name;
  arrow::Type::type type;
  bool tz = false;
  Value min, max;
  int64_t nulls = 0;
  bool ordered = false;  // min/max are collected

  static bool Less(const Value& a, const Value& b) { return a < b; }

  void Merge(Value lo, Value hi) {
    if (std::holds_alternative<std::monostate>(lo)) return;
    if (std::holds_alternative<std::monostate>(min) || Less(lo, min)) min = std::move(lo);
    if (std::holds_alternative<std::monostate>(max) || Less(max, hi)) max = std::move(hi);
  }

  void Add(const arrow::Array& array) {
    nulls += array.null_count();
    if (!ordered || array.null_count() == array.length()) return;
    auto minmax = arrow::compute::MinMax(array);
    if (!minmax.ok()) {
      ordered = false;
      return;
    }
    const auto& pair = static_cast<const arrow::StructScalar&>(*minmax->scalar());
    const auto& lo = *pair.value[0];
    const auto& hi = *pair.value[1];
    if (!lo.is_valid || !hi.is_valid) return;
    switch (type) {
      case arrow::Type::INT8:
      case arrow::Type::INT16:
      case arrow::Type::INT32:
      case arrow::Type::INT64:
      case arrow::Type::DATE32:
      case arrow::Type::TIMESTAMP: {
        auto l = arrow::compute::Cast(*arrow::MakeArrayFromScalar(lo, 1).ValueOrDie(), arrow::int64());
        auto h = arrow::compute::Cast(*arrow::MakeArrayFromScalar(hi, 1).ValueOrDie(), arrow::int64());
        if (!l.ok() || !h.ok()) return;
        Merge(static_cast<const arrow::Int64Array&>(**l).Value(0), static_cast<const arrow::Int64Array&>(**h).Value(0));
        return;
      }
      case arrow::Type::FLOAT:
      case arrow::Type::DOUBLE: {
        const double l = type == arrow::Type::FLOAT ? static_cast<const arrow::FloatScalar&>(lo).value
                                                    : static_cast<const arrow::DoubleScalar&>(lo).value;
        const double h = type == arrow::Type::FLOAT ? static_cast<const arrow::FloatScalar&>(hi).value
                                                    : static_cast<const arrow::DoubleScalar&>(hi).value;
        if (!std::isfinite(l) || !std::isfinite(h)) {
          ordered = false;  // NaN/inf have no JSON form; no min/max is always safe
          min = max = std::monostate{};
          return;
        }
        Merge(l, h);
        return;
      }
      case arrow::Type::STRING:
        Merge(std::string(static_cast<const arrow::StringScalar&>(lo).view()),
              std::string(static_cast<const arrow::StringScalar&>(hi).view()));
        return;
      default: return;
    }
  }

  // Adds "name": value to minValues/maxValues; strings longer than 32 bytes keep a prefix
  // as min (still <= every value) and no max (a prefix would be too small).
  void Write(json::object* mins, json::object* maxs) const {
    if (!ordered || std::holds_alternative<std::monostate>(min)) return;
    auto emit = [&](const Value& v, bool is_max) -> std::optional<json::value> {
      if (const auto* i = std::get_if<int64_t>(&v)) {
        if (type == arrow::Type::DATE32) return json::value(FormatDate(*i));
        if (type == arrow::Type::TIMESTAMP) {
          // Stats keep milliseconds: round the max up so it still bounds the values.
          const int64_t ms = is_max ? -FloorDiv(-*i, 1000) : FloorDiv(*i, 1000);
          std::string text = FormatMicros(ms * 1000, 'T', 3);
          if (tz) text += "Z";
          return json::value(text);
        }
        return json::value(*i);
      }
      if (const auto* d = std::get_if<double>(&v)) return json::value(*d);
      if (const auto* s = std::get_if<std::string>(&v)) {
        if (s->size() <= 32) return json::value(*s);
        if (is_max) return std::nullopt;
        size_t cut = 32;
        while (cut > 0 && (static_cast<unsigned char>((*s)[cut]) & 0xC0) == 0x80) --cut;
        return json::value(s->substr(0, cut));
      }
      return std::nullopt;
    };
    if (auto v = emit(min, false)) (*mins)[name] = *v;
    if (auto v = emit(max, true)) (*maxs)[name] = *v;
  }
};

}  // namespace

// Which input columns go where: partition columns become directory names, the rest are
// written to the files; the changelog column of upsert input is consumed, never stored.
struct DeltaSink::Layout {
  std::shared_ptr<arrow::Schema> input;        // as the sink receives it
  std::shared_ptr<arrow::Schema> storage;      // the table's columns, storage form (input order)
  std::shared_ptr<arrow::Schema> file_schema;  // storage minus partition columns
  std::vector<int> partition_index;            // into storage
  std::vector<int> file_index;                 // into storage
  int op_index = -1;                           // the `_op` column of the input, upsert mode
  std::vector<int> storage_from_input;         // storage column i = input column storage_from_input[i]
  std::vector<int> key_index;                  // upsert keys, into storage
};

struct DeltaSink::OpenFile {
  std::string relative_path;  // on disk, relative to the root
  PartitionValues partition_values;
  std::shared_ptr<arrow::io::OutputStream> out;
  int fd = -1;  // local files: fsynced before the add action is staged
  std::unique_ptr<parquet::arrow::FileWriter> writer;
  int64_t rows = 0;
  int64_t bytes = 0;  // Arrow bytes written
  // Rolling at target.file.size on disk: the writer flushes whole row groups, so the size is
  // what it wrote (Tell) plus the rows it still buffers, scaled by the compression the
  // flushed row groups achieved (1 until the first is flushed).
  int64_t flushed_file_bytes = 0;
  int64_t flushed_arrow_bytes = 0;
  double on_disk_per_arrow_byte = 1.0;
  std::vector<ColumnStats> stats;
};

std::vector<ConfigKeySpec> DeltaSinkKeySpecs() {
  std::vector<ConfigKeySpec> specs = {
      ConfigKeySpec::Required("table.path", ConfigType::kString,
                              "Table location: a local path, s3://, s3a://, az://, abfss://, gs://."),
      ConfigKeySpec::Unset("partition.columns", ConfigType::kString,
                           "Comma-separated partition columns; Hive-style directories (used when the table is created)."),
      ConfigKeySpec::Optional("target.file.size", ConfigType::kInt, "134217728",
                              "Bytes per data file on disk (estimated from the compression so far) before it rolls to the next."),
      ConfigKeySpec::Optional("max.buffer.records", ConfigType::kInt, "100000",
                              "Rows per Parquet row group; at-least-once also commits once this many rows wait."),
      ConfigKeySpec::Optional("max.buffer.duration.ms", ConfigType::kInt, "60000",
                              "at-least-once only: commit once the oldest uncommitted row is this old."),
      ConfigKeySpec::Optional("checkpoint.interval", ConfigType::kInt, "10",
                              "Write a Parquet log checkpoint every this many table versions."),
      ConfigKeySpec::Optional("schema.evolution", ConfigType::kBool, "false",
                              "Add new nullable input columns to the table (in the same commit)."),
      ConfigKeySpec::Optional("write.mode", ConfigType::kString, "append",
                              "append | overwrite (replaces the partitions an epoch writes) | upsert (alias merge)."),
      ConfigKeySpec::Unset("merge.key.columns", ConfigType::kString, "Key columns for upsert, comma-separated."),
      ConfigKeySpec::Optional("delivery.guarantee", ConfigType::kString, "exactly-once",
                              "exactly-once (one commit per epoch, replays skipped) or at-least-once."),
      ConfigKeySpec::Enum("compression", {"zstd", "snappy", "none"}, "zstd", "Parquet compression codec."),
      ConfigKeySpec::Unset("writer.id", ConfigType::kString,
                           "Delta txn application id (default: derived from the pipeline and sink names)."),
      ConfigKeySpec::Optional("compaction.enabled", ConfigType::kBool, "false",
                              "Background compaction (bin-packing small files, dataChange=false) and vacuum."),
      ConfigKeySpec::Optional("compaction.interval.ms", ConfigType::kInt, "300000",
                              "How often the background compaction and vacuum run."),
      ConfigKeySpec::Unset("compaction.z-order.columns", ConfigType::kString, "Z-order columns for compaction."),
      ConfigKeySpec::Optional("compaction.min-files", ConfigType::kInt, "10", "Files in a partition before compaction."),
      ConfigKeySpec::Optional("vacuum.retention.hours", ConfigType::kInt, "168", "Retention for vacuum."),
      ConfigKeySpec::Unset("storage.*", ConfigType::kString,
                           "Object store options (aws_region, aws_endpoint, azure_storage_account_name, ...)."),
  };
  for (auto& spec : CatalogKeySpecs()) specs.push_back(std::move(spec));
  return specs;
}

void RegisterDeltaSink(ConnectorRegistry& registry) {
  registry.RegisterSink(ConnectorInfo{"delta-lake",
                                      "Delta Lake table (local, S3, Azure, GCS); one commit per epoch, exactly once",
                                      DeltaSinkKeySpecs()},
                        [] { return std::make_unique<DeltaSink>(); });
}

arrow::Result<DeltaSinkOptions> DeltaSinkOptions::FromConfig(const ConnectorConfig& config) {
  DeltaSinkOptions o;
  const std::string where = config.Where();
  ARROW_ASSIGN_OR_RAISE(o.storage, storage::StorageOptions::FromConfig(config, "table.path"));
  if (auto v = config.Get("partition.columns")) o.partition_columns = SplitList(*v);
  auto positive = [&](const char* key, int64_t* value) -> arrow::Status {
    ARROW_ASSIGN_OR_RAISE(*value, config.GetInt64(key, *value));
    if (*value <= 0) return ConfigError(where, std::string("option '") + key + "' must be greater than 0");
    return arrow::Status::OK();
  };
  ARROW_RETURN_NOT_OK(positive("target.file.size", &o.target_file_size));
  ARROW_RETURN_NOT_OK(positive("max.buffer.records", &o.max_buffer_records));
  ARROW_RETURN_NOT_OK(positive("max.buffer.duration.ms", &o.max_buffer_duration_ms));
  ARROW_RETURN_NOT_OK(positive("checkpoint.interval", &o.checkpoint_interval));
  ARROW_ASSIGN_OR_RAISE(o.schema_evolution, config.GetBool("schema.evolution", false));
  ARROW_ASSIGN_OR_RAISE(auto mode, config.GetString("write.mode", "append"));
  mode = Lower(mode);
  if (mode == "append") o.write_mode = WriteMode::kAppend;
  else if (mode == "overwrite") o.write_mode = WriteMode::kOverwrite;
  else if (mode == "upsert" || mode == "merge") o.write_mode = WriteMode::kUpsert;
  else return ConfigError(where, "option 'write.mode' = '" + mode + "' is not one of append, overwrite, upsert, merge");
  if (auto v = config.Get("merge.key.columns")) o.merge_key_columns = SplitList(*v);
  if (o.write_mode == WriteMode::kUpsert && o.merge_key_columns.empty()) {
    return ConfigError(where, "write.mode 'upsert' needs the key columns: set 'merge.key.columns'");
  }
  ARROW_ASSIGN_OR_RAISE(auto guarantee, config.GetString("delivery.guarantee", "exactly-once"));
  guarantee = Lower(guarantee);
  std::replace(guarantee.begin(), guarantee.end(), '_', '-');
  if (guarantee == "exactly-once" || guarantee == "exactlyonce") o.exactly_once = true;
  else if (guarantee == "at-least-once" || guarantee == "atleastonce") o.exactly_once = false;
  else return ConfigError(where, "option 'delivery.guarantee' = '" + guarantee + "' is not exactly-once or at-least-once");
  ARROW_ASSIGN_OR_RAISE(o.compression, config.GetString("compression", "zstd"));
  if (o.compression != "zstd" && o.compression != "snappy" && o.compression != "none") {
    return ConfigError(where, "option 'compression' = '" + o.compression + "' is not one of zstd, snappy, none");
  }
  ARROW_ASSIGN_OR_RAISE(o.compaction_enabled, config.GetBool("compaction.enabled", false));
  ARROW_RETURN_NOT_OK(positive("compaction.min-files", &o.compaction_min_files));
  ARROW_RETURN_NOT_OK(positive("compaction.interval.ms", &o.compaction_interval_ms));
  ARROW_ASSIGN_OR_RAISE(o.vacuum_retention_hours, config.GetInt64("vacuum.retention.hours", o.vacuum_retention_hours));
  if (o.vacuum_retention_hours < 0) return ConfigError(where, "option 'vacuum.retention.hours' must not be negative");
  if (config.Get("compaction.z-order.columns")) {
    return ConfigError(where, "option 'compaction.z-order.columns': Z-ordering is not supported; compaction bin-packs");
  }
  ARROW_RETURN_NOT_OK(CheckCatalogOptions(config));
  if (auto v = config.Get("writer.id"); v && !v->empty()) {
    o.writer_id = *v;
    o.writer_id_set = true;
  } else {
    // Deterministic, so a restarted pipeline recognises its own commits.
    o.writer_id = "laminar:" + (config.pipeline_name().empty() ? std::string("pipeline") : config.pipeline_name()) +
                  ":" + (config.instance_name().empty() ? std::string("delta-lake") : config.instance_name());
  }
  // delta-rs's S3 spelling counts for S3 only: it must not unlock Azure or GCS.
  for (const char* key : {"allow_unsafe_commit", "aws_s3_allow_unsafe_rename"}) {
    if (std::string(key) == "aws_s3_allow_unsafe_rename" && o.storage.provider != storage::Provider::kS3) continue;
    auto unsafe = o.storage.options.find(key);
    if (unsafe != o.storage.options.end() && Lower(unsafe->second) == "true") o.allow_unsafe_commit = true;
  }
  return o;
}

DeltaSink::DeltaSink() : process_token_(RandomHex8() + RandomHex8()) {}
DeltaSink::~DeltaSink() {
  StopMaintenance();
  StopLogCheckpoints();
}

void DeltaSink::StopMaintenance() {
  {
    std::lock_guard<std::mutex> lock(maintenance_mu_);
    stop_maintenance_ = true;
  }
  maintenance_cv_.notify_all();
  if (maintenance_.joinable()) maintenance_.join();
}

void DeltaSink::MaintenanceLoop() {
  DeltaLog log(log_->location());
  std::unique_lock<std::mutex> lock(maintenance_mu_);
  while (!stop_maintenance_) {
    maintenance_cv_.wait_for(lock, std::chrono::milliseconds(options_.compaction_interval_ms),
                             [&] { return stop_maintenance_; });
    if (stop_maintenance_) break;
    if (!staged_.empty()) continue;  // an epoch waits for its commit: next time
    // The run itself does not hold the lock, so epochs go on committing meanwhile: it is a
    // writer of its own, conflicts are settled through the log (an upsert epoch whose
    // rewritten file it replaced is merged again; it gives up on a file removed meanwhile).
    lock.unlock();
    CompactionOptions compaction;
    compaction.target_file_size = options_.target_file_size;
    compaction.min_files = options_.compaction_min_files;
    compaction.compression = options_.compression;
    auto compacted = Compact(log, compaction);
    if (compacted.ok()) {
      Count("delta.compaction_runs");
      Count("delta.compaction_files_added", compacted->files_added);
      Count("delta.compaction_files_removed", compacted->files_removed);
    } else {
      spdlog::warn("{}: compaction skipped: {}", where_, compacted.status().ToString());
    }
    VacuumOptions vacuum;
    vacuum.retention_hours = options_.vacuum_retention_hours;
    auto vacuumed = Vacuum(log, vacuum);
    if (vacuumed.ok()) {
      Count("delta.vacuum_files_deleted", vacuumed->files_deleted);
    } else {
      spdlog::warn("{}: vacuum skipped: {}", where_, vacuumed.status().ToString());
    }
    lock.lock();
  }
}

SinkCapabilities DeltaSink::capabilities() const {
  SinkCapabilities c;
  c.WithIdempotent();
  if (options_.exactly_once) c.WithExactlyOnce().WithTwoPhaseCommit();
  if (options_.schema_evolution) c.WithSchemaEvolution();
  if (!options_.partition_columns.empty()) c.WithPartitioned();
  if (options_.write_mode == WriteMode::kUpsert) c.WithUpsert().WithChangelog();
  return c;
}

void DeltaSink::Count(const std::string& name, int64_t delta) {
  std::lock_guard<std::mutex> lock(metrics_mu_);
  for (auto& [key, value] : metrics_.custom) {
    if (key == name) {
      value += static_cast<double>(delta);
      return;
    }
  }
  metrics_.custom.emplace_back(name, static_cast<double>(delta));
}

arrow::Status DeltaSink::Open(const ConnectorConfig& config) {
  where_ = config.Where();
  // The min/max kernels for file statistics live in libarrow_compute, which registers
  // them only when asked (idempotent).
  ARROW_RETURN_NOT_OK(arrow::compute::Initialize());
  ARROW_ASSIGN_OR_RAISE(options_, DeltaSinkOptions::FromConfig(config));
  if (!config.schema()) return ConfigError(where_, "the sink's input schema is unknown");
  // Commits are put-if-absent so that concurrent writers never overwrite a version; when
  // the credentials cannot sign that request, only allow_unsafe_commit accepts a check
  // then write (DeltaLog::PutCommitIfAbsent), instead of every commit failing later.
  // Checked before the store is opened: default cloud credentials may reach for the network.
  const auto& storage_options = options_.storage;
  if (auto signable = storage::CheckPutIfAbsentCredentials(storage_options.provider, storage_options.options);
      !signable.ok()) {
    if (!options_.allow_unsafe_commit) {
      return ConfigError(where_, signable.message() + "; or set 'storage.allow_unsafe_commit' = 'true' to accept "
                                                      "that two concurrent writers could overwrite each other's commit");
    }
    spdlog::warn("{}: commits to {} are check-then-write (storage.allow_unsafe_commit): {}", where_,
                 storage::ProviderName(storage_options.provider), signable.message());
  }
  ARROW_ASSIGN_OR_RAISE(auto location, storage::OpenLocation(options_.storage));
  log_ = std::make_unique<DeltaLog>(std::move(location));
  writer_tag_ = Hex8(StableHash(options_.writer_id));
  ARROW_RETURN_NOT_OK(CreateOrCheckTable(config.schema()));
  own_txn_ = snapshot_->TxnVersion(options_.writer_id);
  spdlog::info("{}: table {} at version {}, writer.id '{}', last committed epoch {}", where_, log_->location().root,
               snapshot_->version(), options_.writer_id,
               snapshot_->TxnVersion(options_.writer_id) ? std::to_string(*snapshot_->TxnVersion(options_.writer_id))
                                                          : std::string("none"));
  {
    std::lock_guard<std::mutex> lock(metrics_mu_);
    metrics_.AddCustom("delta.last_version", static_cast<double>(snapshot_->version()));
  }
  if (options_.compaction_enabled) maintenance_ = std::thread([this] { MaintenanceLoop(); });
  return arrow::Status::OK();
}

void DeltaSink::SuffixDefaultWriterId(const std::string& suffix) {
  if (options_.writer_id_set || suffix.empty()) return;
  options_.writer_id += ":" + suffix;
  writer_tag_ = Hex8(StableHash(options_.writer_id));
  own_txn_ = snapshot_ ? snapshot_->TxnVersion(options_.writer_id) : std::nullopt;
  spdlog::info("{}: writer.id '{}', last committed epoch {}", where_, options_.writer_id,
               own_txn_ ? std::to_string(*own_txn_) : std::string("none"));
}

arrow::Result<std::map<std::string, int64_t>> DeltaSink::ReadTxnVersions(const std::vector<std::string>& app_ids) {
  std::lock_guard<std::mutex> lock(txn_read_mu_);
  // A snapshot of its own: this runs on other threads than the commits.
  DeltaLog log(log_->location());
  bool fresh = !txn_snapshot_;
  if (!fresh && !log.Update(&*txn_snapshot_).ok()) fresh = true;  // e.g. older commits cleaned up
  if (fresh) {
    ARROW_ASSIGN_OR_RAISE(txn_snapshot_, log.Load());
  }
  std::map<std::string, int64_t> out;
  if (!txn_snapshot_) return out;
  for (const auto& id : app_ids) {
    if (auto v = txn_snapshot_->TxnVersion(id)) out[id] = *v;
  }
  return out;
}

arrow::Result<int> DeltaSink::UpdateSnapshot() {
  const int64_t before = snapshot_->version();
  ARROW_ASSIGN_OR_RAISE(int read, log_->Update(&*snapshot_));
  const auto now = snapshot_->TxnVersion(options_.writer_id);
  if (now && committing_epoch_ && *now == *committing_epoch_ && now != own_txn_) {
    // Maybe an earlier attempt of the commit under way landed although its answer was lost
    // (a timeout): this process's own commit, recognised by the token in its commitInfo.
    const std::string token = CommitToken(static_cast<uint64_t>(*now));
    for (int64_t v = before + 1; v <= snapshot_->version(); ++v) {
      auto commit = log_->ReadCommit(v);
      if (commit.ok() && commit->commit_info_json.find(token) != std::string::npos) {
        spdlog::info("{}: epoch {} is in the table (version {}) from an earlier attempt whose answer was lost", where_,
                     *now, v);
        own_txn_ = now;
        break;
      }
    }
  }
  if (now != own_txn_) {
    // Each process numbers its epochs itself: sharing a writer.id would make one skip the
    // other's epochs as replays (data loss) and remove its staged files as orphans.
    return FatalError(where_, "another process commits to table " + log_->location().root + " as writer.id '" +
                                  options_.writer_id + "' (its epoch " + (now ? std::to_string(*now) : "none") +
                                  ", this process's " + (own_txn_ ? std::to_string(*own_txn_) : "none") +
                                  "): every process writing into one table needs its own 'writer.id' (the default "
                                  "is made of the pipeline's and the sink's names; several members of one Kafka "
                                  "consumer group need 'writer.id' or 'properties.group.instance.id' per member)");
  }
  return read;
}

std::string DeltaSink::CommitToken(uint64_t epoch) const { return process_token_ + ":" + std::to_string(epoch); }

arrow::Status DeltaSink::CheckTableStillWritable() {
  auto writable = CheckWritable(*snapshot_, IntentOf(options_.write_mode));
  if (writable.ok()) return writable;
  return FatalError(where_, "table " + log_->location().root + " changed at version " +
                                std::to_string(snapshot_->version()) + ": " + writable.message());
}

arrow::Result<std::string> DeltaSink::UpsertConflictSince(int64_t version, const std::vector<RemoveAction>& rewritten) {
  std::set<std::string> replaced;
  for (const auto& r : rewritten) replaced.insert(r.path);
  for (int64_t v = version + 1; v <= snapshot_->version(); ++v) {
    auto commit = log_->ReadCommit(v);
    if (!commit.ok()) return "version " + std::to_string(v) + " cannot be read to check it (" + commit.status().message() + ")";
    for (const auto& add : commit->adds) {
      if (add.data_change) return "version " + std::to_string(v) + " added rows (file " + add.path + ")";
    }
    for (const auto& remove : commit->removes) {
      if (replaced.count(remove.path)) return "version " + std::to_string(v) + " replaced file " + remove.path;
    }
  }
  return std::string();
}

arrow::Status DeltaSink::CreateOrCheckTable(const std::shared_ptr<arrow::Schema>& input) {
  auto layout = std::make_unique<Layout>();
  layout->input = input;
  arrow::FieldVector table_fields;
  for (int i = 0; i < input->num_fields(); ++i) {
    const auto& field = input->field(i);
    if (field->name() == kChangelogColumn && options_.write_mode == WriteMode::kUpsert) {
      layout->op_index = i;
      continue;
    }
    ARROW_ASSIGN_OR_RAISE(auto type, StorageType(field->type(), field->name()));
    table_fields.push_back(arrow::field(field->name(), type, field->nullable()));
    layout->storage_from_input.push_back(i);
  }
  layout->storage = arrow::schema(table_fields);
  for (const auto& column : options_.partition_columns) {
    const int index = layout->storage->GetFieldIndex(column);
    if (index < 0) return ConfigError(where_, "partition column '" + column + "' is not a column of the input");
    if (!PartitionTypeSupported(*layout->storage->field(index)->type())) {
      return ConfigError(where_, "partition column '" + column + "' has type " +
                                     layout->storage->field(index)->type()->ToString() +
                                     ", which cannot be a partition value (use a string, integer, boolean, date or "
                                     "timestamp column)");
    }
  }

  ARROW_ASSIGN_OR_RAISE(snapshot_, log_->Load());
  if (!snapshot_) {
    ARROW_ASSIGN_OR_RAISE(auto delta_schema, ToDeltaSchema(*layout->storage));
    CommitActions create;
    ProtocolAction protocol;
    if (delta_schema.uses_timestamp_ntz) {
      protocol.min_reader_version = 3;
      protocol.min_writer_version = 7;
      protocol.reader_features = {"timestampNtz"};
      protocol.writer_features = {"timestampNtz"};
    }
    MetadataAction metadata;
    metadata.id = NewUuid();
    metadata.schema_string = delta_schema.schema_string;
    metadata.partition_columns = options_.partition_columns;
    metadata.created_time = NowMillis();
    create.protocol = protocol;
    create.metadata = metadata;
    create.commit_info_json = json::serialize(json::object{
        {"commitInfo", json::object{{"timestamp", NowMillis()},
                                    {"operation", "CREATE TABLE"},
                                    {"operationParameters", json::object{{"mode", "ErrorIfExists"}}},
                                    {"engineInfo", "laminar-connectors"},
                                    {"isBlindAppend", true}}}});
    ARROW_ASSIGN_OR_RAISE(bool created, log_->PutCommitIfAbsent(0, SerializeCommit(create)));
    if (created) {
      spdlog::info("{}: created Delta table {}", where_, log_->location().root);
      Snapshot fresh;
      fresh.Apply(0, create);
      snapshot_ = std::move(fresh);
      Count("delta.tables_created");
    } else {
      ARROW_ASSIGN_OR_RAISE(snapshot_, log_->Load());  // another writer created it first
      if (!snapshot_) return arrow::Status::IOError("table creation raced and the table is still unreadable");
    }
  }
  if (auto writable = CheckWritable(*snapshot_, IntentOf(options_.write_mode)); !writable.ok()) {
    return ConfigError(where_, "table " + log_->location().root + ": " + writable.message());
  }
  if (options_.compaction_enabled && options_.vacuum_retention_hours < MinimumRetentionHours(*snapshot_)) {
    return ConfigError(where_, "option 'vacuum.retention.hours' = " + std::to_string(options_.vacuum_retention_hours) +
                                   " is below table " + log_->location().root + "'s retention of " +
                                   std::to_string(MinimumRetentionHours(*snapshot_)) +
                                   " hours (delta.deletedFileRetentionDuration): vacuum would delete files that "
                                   "readers of older versions still need");
  }
  // Existing table: the input must fit its schema, partitioning included.
  ARROW_ASSIGN_OR_RAISE(auto table_schema, FromDeltaSchemaString(snapshot_->metadata().schema_string));
  auto added = CompareWithTable(*table_schema, *layout->storage);
  if (!added.ok()) return ConfigError(where_, "the input does not fit table " + log_->location().root + ": " + added.status().message());
  if (!added->empty()) {
    std::string names;
    for (const auto& f : *added) names += (names.empty() ? "'" : ", '") + f->name() + "'";
    if (!options_.schema_evolution) {
      return ConfigError(where_, "the input has column(s) " + names + " that table " + log_->location().root +
                                     " lacks; set 'schema.evolution' = 'true' to add them");
    }
    for (const auto& f : *added) {
      if (!f->nullable()) {
        return ConfigError(where_, "new column '" + f->name() + "' is NOT NULL; only nullable columns can be added");
      }
    }
    // Table columns first (their order is the table's), then the new ones.
    arrow::FieldVector evolved = table_schema->fields();
    for (const auto& f : *added) evolved.push_back(f);
    ARROW_ASSIGN_OR_RAISE(auto delta_schema, ToDeltaSchema(*arrow::schema(evolved)));
    MetadataAction metadata = snapshot_->metadata();
    metadata.schema_string = delta_schema.schema_string;
    pending_metadata_ = metadata;
    spdlog::info("{}: column(s) {} will be added to {} with the first commit", where_, names, log_->location().root);
  }
  std::vector<std::string> table_partitions = snapshot_->metadata().partition_columns;
  if (!options_.partition_columns.empty() && options_.partition_columns != table_partitions) {
    std::string have;
    for (const auto& c : table_partitions) have += (have.empty() ? "" : ",") + c;
    return ConfigError(where_, "'partition.columns' does not match table " + log_->location().root +
                                   ", which is partitioned by (" + have + ")");
  }
  options_.partition_columns = table_partitions;
  arrow::FieldVector file_fields;
  for (int i = 0; i < layout->storage->num_fields(); ++i) {
    const auto& name = layout->storage->field(i)->name();
    if (std::find(table_partitions.begin(), table_partitions.end(), name) != table_partitions.end()) {
      continue;
    }
    layout->file_index.push_back(i);
    file_fields.push_back(layout->storage->field(i));
  }
  for (const auto& column : table_partitions) {
    const int index = layout->storage->GetFieldIndex(column);
    if (index < 0) return ConfigError(where_, "the input lacks the table's partition column '" + column + "'");
    layout->partition_index.push_back(index);
  }
  layout->file_schema = arrow::schema(file_fields);
  if (options_.write_mode == WriteMode::kUpsert) {
    if (layout->op_index < 0) {
      return ConfigError(where_, std::string("write.mode 'upsert' needs the changelog column '") + kChangelogColumn +
                                     "' (TINYINT: 0 +I, 1 -U, 2 +U, 3 -D) in the input");
    }
    if (input->field(layout->op_index)->type()->id() != arrow::Type::INT8) {
      return ConfigError(where_, std::string("the changelog column '") + kChangelogColumn + "' has type " +
                                     input->field(layout->op_index)->type()->ToString() +
                                     "; it must be TINYINT (0 +I, 1 -U, 2 +U, 3 -D)");
    }
    for (const auto& column : options_.merge_key_columns) {
      const int index = layout->storage->GetFieldIndex(column);
      if (index < 0) return ConfigError(where_, "merge.key.columns: '" + column + "' is not a column of the input");
      if (!PartitionTypeSupported(*layout->storage->field(index)->type())) {
        return ConfigError(where_, "merge.key.columns: column '" + column + "' has type " +
                                       layout->storage->field(index)->type()->ToString() +
                                       ", which cannot be a key (use a string, integer, boolean, date or timestamp)");
      }
      layout->key_index.push_back(index);
    }
  }
  layout_ = std::move(layout);
  return arrow::Status::OK();
}

arrow::Result<std::optional<uint64_t>> DeltaSink::LastCommittedEpoch() {
  if (!snapshot_) return std::optional<uint64_t>();
  auto v = snapshot_->TxnVersion(options_.writer_id);
  if (!v) return std::optional<uint64_t>();
  return std::optional<uint64_t>(static_cast<uint64_t>(*v));
}

arrow::Status DeltaSink::BeginEpoch(uint64_t epoch) {
  epoch_ = epoch;
  auto committed = snapshot_ ? snapshot_->TxnVersion(options_.writer_id) : std::nullopt;
  skipping_epoch_ = committed && static_cast<int64_t>(epoch) <= *committed;
  if (skipping_epoch_) {
    spdlog::info("{}: epoch {} is already in the table (txn version {}); its rows are skipped", where_, epoch, *committed);
  }
  return arrow::Status::OK();
}

arrow::Result<DeltaSink::OpenFile*> DeltaSink::FileFor(const PartitionValues& values, const std::string& key) {
  auto it = open_files_.find(key);
  if (it != open_files_.end()) return it->second.get();
  auto file = std::make_unique<OpenFile>();
  file->partition_values = values;
  std::string dir;
  for (const auto& column : options_.partition_columns) {
    const auto& v = values.at(column);
    dir += column + "=" + (v ? EscapePartitionValue(*v) : std::string("__HIVE_DEFAULT_PARTITION__")) + "/";
  }
  char name[128];
  std::snprintf(name, sizeof(name), "part-%05llu-%s-%04d-%s.%s.parquet", static_cast<unsigned long long>(epoch_),
                writer_tag_.c_str(), file_seq_++, RandomHex8().c_str(),
                options_.compression == "none" ? "uncompressed" : options_.compression.c_str());
  file->relative_path = dir + name;
  const auto& location = log_->location();
  const std::string full = location.Join(file->relative_path);
  if (!dir.empty()) ARROW_RETURN_NOT_OK(location.fs->CreateDir(location.Join(dir.substr(0, dir.size() - 1)), true));
  if (location.local) {
    file->fd = ::open(full.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (file->fd < 0) return arrow::Status::IOError("cannot create ", full, ": ", std::strerror(errno));
    ARROW_ASSIGN_OR_RAISE(auto out, arrow::io::FileOutputStream::Open(file->fd));
    file->out = std::move(out);
  } else {
    ARROW_ASSIGN_OR_RAISE(file->out, location.fs->OpenOutputStream(full));
  }
  auto properties = parquet::WriterProperties::Builder()
                        .compression(CodecOf(options_.compression))
                        ->max_row_group_length(options_.max_buffer_records)
                        ->enable_statistics()
                        ->build();
  auto arrow_properties = parquet::ArrowWriterProperties::Builder()
                              .coerce_timestamps(arrow::TimeUnit::MICRO)
                              ->allow_truncated_timestamps()
                              ->build();
  ARROW_ASSIGN_OR_RAISE(file->writer, parquet::arrow::FileWriter::Open(*layout_->file_schema, arrow::default_memory_pool(),
                                                                       file->out, properties, arrow_properties));
  ARROW_ASSIGN_OR_RAISE(file->flushed_file_bytes, file->out->Tell());  // the header, if written yet
  for (const auto& field : layout_->file_schema->fields()) {
    ColumnStats s;
    s.name = field->name();
    s.type = field->type()->id();
    if (s.type == arrow::Type::TIMESTAMP) s.tz = !static_cast<const arrow::TimestampType&>(*field->type()).timezone().empty();
    switch (s.type) {
      case arrow::Type::INT8:
      case arrow::Type::INT16:
      case arrow::Type::INT32:
      case arrow::Type::INT64:
      case arrow::Type::FLOAT:
      case arrow::Type::DOUBLE:
      case arrow::Type::DATE32:
      case arrow::Type::TIMESTAMP:
      case arrow::Type::STRING: s.ordered = true; break;
      default: s.ordered = false; break;
    }
    file->stats.push_back(std::move(s));
  }
  OpenFile* raw = file.get();
  open_files_.emplace(key, std::move(file));
  return raw;
}

arrow::Status DeltaSink::FinishFile(OpenFile* file) {
  ARROW_RETURN_NOT_OK(file->writer->Close());
  const auto& location = log_->location();
  const std::string full = location.Join(file->relative_path);
  int64_t size = 0;
  if (file->fd >= 0) {
    ARROW_ASSIGN_OR_RAISE(size, file->out->Tell());
    if (::fsync(file->fd) != 0) return arrow::Status::IOError("cannot fsync ", full, ": ", std::strerror(errno));
    ARROW_RETURN_NOT_OK(file->out->Close());
  } else {
    ARROW_RETURN_NOT_OK(file->out->Close());
    ARROW_ASSIGN_OR_RAISE(auto info, location.fs->GetFileInfo(full));
    size = info.size();
  }
  json::object mins, maxs, nulls;
  for (const auto& s : file->stats) {
    s.Write(&mins, &maxs);
    if (s.type != arrow::Type::STRUCT && s.type != arrow::Type::LIST && s.type != arrow::Type::MAP) nulls[s.name] = s.nulls;
  }
  AddAction add;
  add.path = EncodePath(file->relative_path);
  add.partition_values = file->partition_values;
  add.size = size;
  add.modification_time = NowMillis();
  add.data_change = true;
  add.stats = json::serialize(
      json::object{{"numRecords", file->rows}, {"minValues", mins}, {"maxValues", maxs}, {"nullCount", nulls}});
  finished_.push_back(std::move(add));
  Count("delta.files_written");
  return arrow::Status::OK();
}

arrow::Status DeltaSink::FinishAllFiles() {
  for (auto& [key, file] : open_files_) ARROW_RETURN_NOT_OK(FinishFile(file.get()));
  open_files_.clear();
  return arrow::Status::OK();
}

arrow::Status DeltaSink::WriteRows(const std::shared_ptr<arrow::RecordBatch>& input) {
  if (input->schema()->Equals(*layout_->storage, false)) return WriteStorageRows(input);
  // Storage form of the table's columns.
  arrow::ArrayVector columns;
  for (int i : layout_->storage_from_input) columns.push_back(input->column(i));
  auto batch = arrow::RecordBatch::Make(
      arrow::schema([&] {
        arrow::FieldVector f;
        for (int i : layout_->storage_from_input) f.push_back(input->schema()->field(i));
        return f;
      }()),
      input->num_rows(), columns);
  ARROW_ASSIGN_OR_RAISE(batch, ToStorage(batch, layout_->storage));
  return WriteStorageRows(batch);
}

arrow::Status DeltaSink::WriteStorageRows(const std::shared_ptr<arrow::RecordBatch>& batch) {
  auto write = [&](const std::shared_ptr<arrow::RecordBatch>& rows, const PartitionValues& values,
                   const std::string&) -> arrow::Status {
    arrow::ArrayVector file_columns;
    for (int i : layout_->file_index) file_columns.push_back(rows->column(i));
    return WriteFileRows(arrow::RecordBatch::Make(layout_->file_schema, rows->num_rows(), file_columns), values);
  };

  if (layout_->partition_index.empty()) return write(batch, {}, "");
  // Group rows by their partition values, keeping source order within each group.
  std::unordered_map<std::string, std::pair<PartitionValues, std::vector<int64_t>>> groups;
  std::vector<std::string> order;
  for (int64_t row = 0; row < batch->num_rows(); ++row) {
    PartitionValues values;
    std::string key;
    for (size_t p = 0; p < layout_->partition_index.size(); ++p) {
      ARROW_ASSIGN_OR_RAISE(auto text, PartitionText(*batch->column(layout_->partition_index[p]), row));
      AppendKeyPart(&key, text);
      values[options_.partition_columns[p]] = std::move(text);
    }
    auto [it, inserted] = groups.try_emplace(key);
    if (inserted) {
      it->second.first = std::move(values);
      order.push_back(key);
    }
    it->second.second.push_back(row);
  }
  for (const auto& key : order) {
    auto& [values, rows] = groups[key];
    arrow::Int64Builder indices;
    ARROW_RETURN_NOT_OK(indices.AppendValues(rows));
    ARROW_ASSIGN_OR_RAISE(auto index_array, indices.Finish());
    ARROW_ASSIGN_OR_RAISE(auto taken, arrow::compute::Take(batch, index_array));
    ARROW_RETURN_NOT_OK(write(taken.record_batch(), values, key));
  }
  return arrow::Status::OK();
}

arrow::Status DeltaSink::WriteFileRows(const std::shared_ptr<arrow::RecordBatch>& file_batch,
                                       const PartitionValues& values) {
  if (file_batch->num_rows() == 0) return arrow::Status::OK();
  std::string key;
  for (const auto& [column, value] : values) AppendKeyPart(&key, value);
  ARROW_ASSIGN_OR_RAISE(OpenFile * file, FileFor(values, key));
  ARROW_RETURN_NOT_OK(file->writer->WriteRecordBatch(*file_batch));
  for (size_t c = 0; c < file->stats.size(); ++c) file->stats[c].Add(*file_batch->column(static_cast<int>(c)));
  file->rows += file_batch->num_rows();
  for (const auto& column : file_batch->columns()) file->bytes += arrow::util::TotalBufferSize(*column);
  ARROW_ASSIGN_OR_RAISE(const int64_t written, file->out->Tell());
  if (written != file->flushed_file_bytes) {
    file->flushed_file_bytes = written;
    file->flushed_arrow_bytes = file->bytes;
    file->on_disk_per_arrow_byte = static_cast<double>(written) / static_cast<double>(std::max<int64_t>(file->bytes, 1));
  }
  const double on_disk = static_cast<double>(file->flushed_file_bytes) +
                         static_cast<double>(file->bytes - file->flushed_arrow_bytes) * file->on_disk_per_arrow_byte;
  if (on_disk >= static_cast<double>(options_.target_file_size)) {
    ARROW_RETURN_NOT_OK(FinishFile(file));
    open_files_.erase(key);
  }
  return arrow::Status::OK();
}

namespace {

// Key text of one row: the key columns' partition-value texts, joined.
arrow::Result<std::string> KeyOf(const std::vector<const arrow::Array*>& columns, int64_t row) {
  std::string key;
  for (const auto* column : columns) {
    ARROW_ASSIGN_OR_RAISE(auto text, PartitionText(*column, row));
    AppendKeyPart(&key, text);
  }
  return key;
}

// Upsert: the epoch's changed keys, column by column, to tell from a live file's partition
// values and statistics that it cannot hold any of them, so that it is not read.
class ChangedKeys {
 public:
  struct Column {
    std::string name;
    bool partition = false;
    bool integer = false;  // int8..int64: statistics are JSON numbers
    bool string = false;   // statistics are the text (min may be a prefix; no max then)
    bool has_null = false;
    std::set<std::string> texts;
    std::set<int64_t> ints;
  };

  explicit ChangedKeys(std::vector<Column> columns) : columns_(std::move(columns)) {}

  arrow::Status Add(const std::vector<const arrow::Array*>& keys, int64_t row) {
    for (size_t c = 0; c < keys.size(); ++c) {
      ARROW_ASSIGN_OR_RAISE(auto text, PartitionText(*keys[c], row));
      auto& column = columns_[c];
      if (!text) {
        column.has_null = true;
        continue;
      }
      if (column.integer) {
        int64_t v = 0;
        auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
        if (ec == std::errc() && end == text->data() + text->size()) column.ints.insert(v);
        else column.integer = false;  // not what statistics compare: no pruning on it
      }
      column.texts.insert(std::move(*text));
    }
    return arrow::Status::OK();
  }

  // False only when the file certainly holds none of the keys.
  bool MayHold(const AddAction& add) const {
    std::optional<json::value> stats;
    for (const auto& column : columns_) {
      if (column.has_null) continue;  // statistics say little about nulls: no pruning
      if (column.partition) {
        auto it = add.partition_values.find(column.name);
        if (it == add.partition_values.end()) continue;
        if (!it->second || !column.texts.count(*it->second)) return false;
        continue;
      }
      if (!column.integer && !column.string) continue;
      if (!stats) {
        boost::system::error_code ec;
        stats = json::parse(add.stats, ec);
        if (ec || !stats->is_object()) stats = json::value();
      }
      const json::value* min = nullptr;
      const json::value* max = nullptr;
      if (stats->is_object()) {
        if (const auto* m = stats->as_object().if_contains("minValues"); m && m->is_object()) min = m->as_object().if_contains(column.name);
        if (const auto* m = stats->as_object().if_contains("maxValues"); m && m->is_object()) max = m->as_object().if_contains(column.name);
      }
      if (column.integer) {
        if (!min || !max || !min->is_int64() || !max->is_int64()) continue;
        auto first = column.ints.lower_bound(min->as_int64());
        if (first == column.ints.end() || *first > max->as_int64()) return false;
      } else {
        if (!min || !min->is_string()) continue;
        auto first = column.texts.lower_bound(std::string(min->as_string()));
        if (first == column.texts.end()) return false;
        if (max && max->is_string() && *first > std::string_view(max->as_string())) return false;
      }
    }
    return true;
  }

 private:
  std::vector<Column> columns_;
};

}  // namespace

arrow::Status DeltaSink::StageUpsert() {
  // All or nothing: a failure part-way (an unreadable file, a full disk) must not leave
  // half of the rewrites staged, or the next attempt would rewrite the same files again and
  // keep their unchanged rows twice. The changes stay for that attempt.
  const size_t finished_before = finished_.size();
  const size_t rewritten_before = rewritten_.size();
  auto status = FoldAndRewrite();
  if (status.ok()) return status;
  for (auto& [key, file] : open_files_) {
    (void)file->writer->Close();
    (void)file->out->Close();
    (void)log_->location().fs->DeleteFile(log_->location().Join(file->relative_path));
  }
  open_files_.clear();
  for (size_t i = finished_before; i < finished_.size(); ++i) {
    (void)log_->location().fs->DeleteFile(log_->location().Join(DecodePath(finished_[i].path)));
  }
  finished_.resize(finished_before);
  rewritten_.resize(rewritten_before);
  upsert_read_version_.reset();
  return status;
}

arrow::Status DeltaSink::FoldAndRewrite() {
  if (changes_.empty()) return arrow::Status::OK();
  // 1. Fold the changes: the last change of a key decides it.
  struct Last {
    int batch;
    int64_t row;
    bool upsert;
  };
  std::unordered_map<std::string, Last> last;
  std::vector<std::shared_ptr<arrow::RecordBatch>> storage_batches;
  std::vector<ChangedKeys::Column> key_columns;
  for (int k : layout_->key_index) {
    const auto& field = layout_->storage->field(k);
    ChangedKeys::Column column;
    column.name = field->name();
    column.partition = std::find(options_.partition_columns.begin(), options_.partition_columns.end(), column.name) !=
                       options_.partition_columns.end();
    const auto id = field->type()->id();
    column.integer = id == arrow::Type::INT8 || id == arrow::Type::INT16 || id == arrow::Type::INT32 || id == arrow::Type::INT64;
    column.string = id == arrow::Type::STRING;
    key_columns.push_back(std::move(column));
  }
  ChangedKeys changed(std::move(key_columns));
  for (size_t b = 0; b < changes_.size(); ++b) {
    const auto& input = changes_[b];
    arrow::ArrayVector columns;
    arrow::FieldVector fields;
    for (int i : layout_->storage_from_input) {
      columns.push_back(input->column(i));
      fields.push_back(input->schema()->field(i));
    }
    ARROW_ASSIGN_OR_RAISE(auto storage,
                          ToStorage(arrow::RecordBatch::Make(arrow::schema(fields), input->num_rows(), columns),
                                    layout_->storage));
    std::vector<const arrow::Array*> keys;
    for (int k : layout_->key_index) keys.push_back(storage->column(k).get());
    const auto& ops = static_cast<const arrow::Int8Array&>(*input->column(layout_->op_index));
    for (int64_t row = 0; row < input->num_rows(); ++row) {
      ARROW_ASSIGN_OR_RAISE(auto key, KeyOf(keys, row));
      if (ops.IsNull(row)) {
        return arrow::Status::Invalid(where_, ": row ", row, " of an input batch of epoch ", epoch_, " has a null '",
                                      kChangelogColumn, "'; every change needs 0 (+I), 1 (-U), 2 (+U) or 3 (-D)");
      }
      const int8_t op = ops.Value(row);
      if (op < 0 || op > 3) {
        return arrow::Status::Invalid(where_, ": changelog value ", static_cast<int>(op), " in '", kChangelogColumn,
                                      "' is not 0 (+I), 1 (-U), 2 (+U) or 3 (-D)");
      }
      const auto kind = static_cast<RowKind>(op);
      auto [it, fresh] = last.insert_or_assign(std::move(key), Last{static_cast<int>(b), row,
                                                                    kind == RowKind::kInsert || kind == RowKind::kUpdateAfter});
      if (fresh) ARROW_RETURN_NOT_OK(changed.Add(keys, row));
    }
    storage_batches.push_back(std::move(storage));
  }
  Count("delta.changelog_keys", static_cast<int64_t>(last.size()));

  // 2. Rewrite the live files that hold a changed key, without those rows.
  ARROW_RETURN_NOT_OK(UpdateSnapshot().status());
  upsert_read_version_ = snapshot_->version();
  const auto& location = log_->location();
  const int64_t now = NowMillis();
  int64_t pruned = 0;
  for (const auto& [path, add] : snapshot_->files()) {
    if (!changed.MayHold(add)) {
      ++pruned;
      continue;
    }
    ARROW_ASSIGN_OR_RAISE(auto input, location.fs->OpenInputFile(location.Join(DecodePath(path))));
    ARROW_ASSIGN_OR_RAISE(auto reader, parquet::arrow::OpenFile(input, arrow::default_memory_pool()));
    ARROW_ASSIGN_OR_RAISE(auto table, reader->ReadTable());
    ARROW_ASSIGN_OR_RAISE(table, table->CombineChunks());
    // Key columns: from the file, or the partition value for partition columns.
    std::vector<std::shared_ptr<arrow::Array>> key_arrays;
    for (int k : layout_->key_index) {
      const auto& name = layout_->storage->field(k)->name();
      auto column = table->GetColumnByName(name);
      if (column) {
        key_arrays.push_back(column->chunk(0));
        continue;
      }
      auto it = add.partition_values.find(name);
      if (it == add.partition_values.end() || !it->second) {
        ARROW_ASSIGN_OR_RAISE(auto nulls, arrow::MakeArrayOfNull(arrow::utf8(), table->num_rows()));
        key_arrays.push_back(nulls);
      } else {
        ARROW_ASSIGN_OR_RAISE(auto constant, arrow::MakeArrayFromScalar(arrow::StringScalar(*it->second), table->num_rows()));
        key_arrays.push_back(constant);
      }
    }
    std::vector<const arrow::Array*> keys;
    for (const auto& a : key_arrays) keys.push_back(a.get());
    arrow::Int64Builder keep;
    for (int64_t row = 0; row < table->num_rows(); ++row) {
      ARROW_ASSIGN_OR_RAISE(auto key, KeyOf(keys, row));
      if (!last.count(key)) ARROW_RETURN_NOT_OK(keep.Append(row));
    }
    if (keep.length() == table->num_rows()) continue;  // untouched
    rewritten_.push_back(RemoveAction{path, now, true, add.partition_values, add.size});
    if (keep.length() == 0) continue;
    ARROW_ASSIGN_OR_RAISE(auto indices, keep.Finish());
    ARROW_ASSIGN_OR_RAISE(auto kept, arrow::compute::Take(table, indices));
    // Into the current file schema (older files may lack columns added since).
    const auto& kept_table = kept.table();
    ARROW_ASSIGN_OR_RAISE(auto combined, kept_table->CombineChunksToBatch());
    ARROW_ASSIGN_OR_RAISE(auto conformed, ConformToSchema(combined, layout_->file_schema));
    ARROW_RETURN_NOT_OK(WriteFileRows(conformed, add.partition_values));
  }
  Count("delta.merge_operations");
  Count("delta.upsert_files_pruned", pruned);

  // 3. The surviving new versions of the changed keys.
  std::vector<std::vector<int64_t>> rows(storage_batches.size());
  for (const auto& [key, l] : last) {
    if (l.upsert) rows[static_cast<size_t>(l.batch)].push_back(l.row);
    else Count("delta.changelog_deletes");
  }
  for (size_t b = 0; b < storage_batches.size(); ++b) {
    if (rows[b].empty()) continue;
    std::sort(rows[b].begin(), rows[b].end());
    arrow::Int64Builder indices;
    ARROW_RETURN_NOT_OK(indices.AppendValues(rows[b]));
    ARROW_ASSIGN_OR_RAISE(auto index_array, indices.Finish());
    ARROW_ASSIGN_OR_RAISE(auto taken, arrow::compute::Take(storage_batches[b], index_array));
    ARROW_RETURN_NOT_OK(WriteRows(taken.record_batch()));
  }
  changes_.clear();
  return arrow::Status::OK();
}

arrow::Result<WriteResult> DeltaSink::WriteBatch(const std::shared_ptr<arrow::RecordBatch>& batch) {
  if (!layout_) return arrow::Status::Invalid(where_, ": WriteBatch before Open");
  if (batch->num_rows() == 0) return WriteResult{};
  if (options_.exactly_once && skipping_epoch_) {
    Count("delta.rows_skipped_replay", batch->num_rows());
    return WriteResult{};
  }
  if (!batch->schema()->Equals(*layout_->input, /*check_metadata=*/false)) {
    return arrow::Status::Invalid(where_, ": batch schema ", batch->schema()->ToString(), " differs from the input schema");
  }
  if (options_.write_mode == WriteMode::kUpsert) {
    changes_.push_back(batch);  // folded by key at pre_commit
  } else {
    ARROW_RETURN_NOT_OK(WriteRows(batch));
  }
  {
    std::lock_guard<std::mutex> lock(metrics_mu_);
    metrics_.records_total += static_cast<uint64_t>(batch->num_rows());
    metrics_.lag += static_cast<uint64_t>(batch->num_rows());
  }
  if (!options_.exactly_once) {
    const int64_t now = NowMillis();
    if (first_write_ms_ == 0) first_write_ms_ = now;
    buffered_rows_ += batch->num_rows();
    if (now - first_write_ms_ >= options_.max_buffer_duration_ms || buffered_rows_ >= options_.max_buffer_records) {
      ARROW_RETURN_NOT_OK(Flush());
    }
  }
  return WriteResult{batch->num_rows(), 0};
}

std::string DeltaSink::StagingRecordPath(uint64_t epoch) const {
  return log_->location().Join("_laminar/" + writer_tag_ + "/epoch-" + std::to_string(epoch) + ".json");
}

arrow::Status DeltaSink::WriteStagingRecord(uint64_t epoch, const CommitActions& staged) {
  CommitActions record = staged;
  record.txns.push_back(TxnAction{options_.writer_id, static_cast<int64_t>(epoch), 0});
  const auto& location = log_->location();
  ARROW_RETURN_NOT_OK(location.fs->CreateDir(location.Join("_laminar/" + writer_tag_), true));
  return log_->ReplaceFile(StagingRecordPath(epoch), SerializeCommit(record));
}

arrow::Result<std::optional<CommitActions>> DeltaSink::ReadStagingRecord(uint64_t epoch) {
  const auto& location = log_->location();
  const std::string path = StagingRecordPath(epoch);
  ARROW_ASSIGN_OR_RAISE(auto info, location.fs->GetFileInfo(path));
  if (info.type() != arrow::fs::FileType::File) return std::optional<CommitActions>();
  ARROW_ASSIGN_OR_RAISE(auto text, log_->ReadFile(path));
  ARROW_ASSIGN_OR_RAISE(auto record, ParseCommit(text, path));
  // The epoch's own txn is added at commit; application watermarks stay.
  record.txns.erase(std::remove_if(record.txns.begin(), record.txns.end(),
                                   [&](const TxnAction& t) { return t.app_id == options_.writer_id; }),
                    record.txns.end());
  return std::optional<CommitActions>(std::move(record));
}

CommitActions DeltaSink::TakeStaged() {
  CommitActions staged;
  staged.adds = std::move(finished_);
  staged.removes = std::move(rewritten_);
  if (!staged.adds.empty()) staged.metadata = pending_metadata_;
  if (upsert_read_version_ && (!staged.adds.empty() || !staged.removes.empty())) {
    staged.txns.push_back(TxnAction{kUpsertReadVersion, *upsert_read_version_, 0});
  }
  upsert_read_version_.reset();
  finished_.clear();
  rewritten_.clear();
  return staged;
}

arrow::Status DeltaSink::PreCommit(uint64_t epoch) {
  if (skipping_epoch_ && epoch == epoch_) return arrow::Status::OK();
  std::lock_guard<std::mutex> maintenance(maintenance_mu_);
  if (lost_ && lost_->first == epoch) {
    // The epoch is replayed after a commit refused it: the files of the refused attempt go.
    for (const auto& a : lost_->second.adds) {
      if (!snapshot_->files().count(a.path)) (void)log_->location().fs->DeleteFile(log_->location().Join(DecodePath(a.path)));
    }
    lost_.reset();
  }
  if (options_.write_mode == WriteMode::kUpsert) ARROW_RETURN_NOT_OK(StageUpsert());
  ARROW_RETURN_NOT_OK(FinishAllFiles());
  CommitActions staged = TakeStaged();
  if (watermarks_) {
    auto marks = watermarks_();
    std::vector<std::string> checked;
    for (const auto& m : marks) {
      staged.txns.push_back(TxnAction{m.app_id, m.version, 0});
      if (m.expected_at_most) {
        staged.txns.push_back(TxnAction{std::string(kExpectPrefix) + m.app_id, *m.expected_at_most, 0});
        checked.push_back(m.app_id);
      }
    }
    if (!checked.empty()) {
      // Early, before the epoch is decided: rows another writer delivered already (this
      // process lost the input to it) fail the epoch, which is then read again.
      ARROW_ASSIGN_OR_RAISE(auto table, ReadTxnVersions(checked));
      for (const auto& m : marks) {
        auto it = table.find(m.app_id);
        if (m.expected_at_most && it != table.end() && it->second > *m.expected_at_most) {
          for (const auto& a : staged.adds) (void)log_->location().fs->DeleteFile(log_->location().Join(DecodePath(a.path)));
          return NeedsAbortError(where_, "epoch " + std::to_string(epoch) + " holds input of '" + m.app_id +
                                             "' from " + std::to_string(*m.expected_at_most) +
                                             " on, but the table already holds it up to " +
                                             std::to_string(it->second) + " (another writer took it over)");
        }
      }
    }
  }
  ARROW_RETURN_NOT_OK(WriteStagingRecord(epoch, staged));
  staged_[epoch] = std::move(staged);
  runtime::FaultPoint("delta.pre_commit.after_stage");
  return arrow::Status::OK();
}

arrow::Status DeltaSink::CommitAdds(CommitActions staged, std::optional<uint64_t> epoch, const char* operation) {
  const std::vector<AddAction>& adds = staged.adds;
  // Application watermarks go into the log; the versions they expect stay here.
  std::vector<TxnAction> marks;
  std::map<std::string, int64_t> expected;
  std::optional<int64_t> read_version;  // upsert
  for (auto& t : staged.txns) {
    if (t.app_id == kUpsertReadVersion) {
      read_version = t.version;
    } else if (t.app_id.rfind(kExpectPrefix, 0) == 0) {
      expected[t.app_id.substr(std::strlen(kExpectPrefix))] = t.version;
    } else {
      marks.push_back(std::move(t));
    }
  }
  if (adds.empty() && staged.removes.empty() && marks.empty()) return arrow::Status::OK();
  const int64_t now = NowMillis();
  committing_epoch_ = epoch ? std::optional<int64_t>(static_cast<int64_t>(*epoch)) : std::nullopt;
  struct ClearCommitting {
    std::optional<int64_t>* epoch;
    ~ClearCommitting() { epoch->reset(); }
  } clear_committing{&committing_epoch_};
  ARROW_RETURN_NOT_OK(CheckTableStillWritable());
  std::optional<int64_t> checked_through = read_version;
  for (int attempt = 0;; ++attempt) {
    if (epoch) {
      auto committed = snapshot_->TxnVersion(options_.writer_id);
      if (committed && *committed >= static_cast<int64_t>(*epoch)) return arrow::Status::OK();  // done before
    }
    // Compare-and-set of the watermarks, against the version this commit goes on top of.
    for (const auto& [app_id, at_most] : expected) {
      auto current = snapshot_->TxnVersion(app_id);
      if (current && *current > at_most) {
        return EpochLostError(where_, "epoch " + (epoch ? std::to_string(*epoch) : std::string("?")) +
                                          " holds input of '" + app_id + "' from " + std::to_string(at_most) +
                                          " on, but the table already holds it up to " + std::to_string(*current) +
                                          " (another writer took it over); the epoch is not committed");
      }
    }
    if (checked_through && snapshot_->version() > *checked_through) {
      // Upsert: its rewrites were computed from the files of version read_version. Commits
      // since then that add rows (a changed key may be among them) or replace a file it
      // rewrites (compaction) would leave two rows of one key: the epoch is computed again.
      ARROW_ASSIGN_OR_RAISE(auto conflict, UpsertConflictSince(*checked_through, staged.removes));
      if (!conflict.empty()) {
        Count("delta.upsert_conflicts");
        return EpochLostError(where_, "epoch " + (epoch ? std::to_string(*epoch) : std::string("?")) +
                                          " was merged against table version " + std::to_string(*read_version) +
                                          ", but " + conflict + "; the epoch is merged again");
      }
      checked_through = snapshot_->version();
    }
    CommitActions commit;
    commit.adds = adds;
    commit.removes = staged.removes;
    if (staged.metadata) {
      // Additive evolution, in the same version as the data. A concurrent schema change
      // must still leave our columns compatible.
      ARROW_ASSIGN_OR_RAISE(auto table_schema, FromDeltaSchemaString(snapshot_->metadata().schema_string));
      auto fits = CompareWithTable(*table_schema, *layout_->storage);
      if (!fits.ok()) return FatalError(where_, "table schema changed concurrently: " + fits.status().message());
      if (!fits->empty()) {
        commit.metadata = *staged.metadata;
        commit.metadata->id = snapshot_->metadata().id;
        commit.metadata->partition_columns = snapshot_->metadata().partition_columns;
      }
    }
    std::string mode = options_.write_mode == WriteMode::kUpsert ? "Merge" : "Append";
    for (const auto& r : staged.removes) {
      if (!snapshot_->files().count(r.path)) {
        return EpochLostError(where_, "file " + r.path + ", which epoch " +
                                          (epoch ? std::to_string(*epoch) : std::string("?")) +
                                          " rewrites, was removed by another writer; the epoch is merged again");
      }
    }
    if (options_.write_mode == WriteMode::kOverwrite && !adds.empty()) {
      // Replace the partitions this commit writes: every live file in them goes.
      mode = "Overwrite";
      std::set<PartitionValues> touched;
      for (const auto& a : adds) touched.insert(a.partition_values);
      for (const auto& [path, existing] : snapshot_->files()) {
        if (!touched.count(existing.partition_values)) continue;
        commit.removes.push_back(RemoveAction{path, now, true, existing.partition_values, existing.size});
      }
    }
    for (const auto& m : marks) commit.txns.push_back(TxnAction{m.app_id, m.version, now});
    if (epoch) commit.txns.push_back(TxnAction{options_.writer_id, static_cast<int64_t>(*epoch), now});
    int64_t rows = 0;
    for (const auto& a : adds) {
      boost::system::error_code ec;
      auto stats = json::parse(a.stats, ec);
      if (!ec && stats.is_object()) {
        if (const auto* n = stats.as_object().if_contains("numRecords"); n && n->is_int64()) rows += n->as_int64();
      }
    }
    commit.commit_info_json = json::serialize(json::object{
        {"commitInfo", json::object{{"timestamp", now},
                                    {"operation", operation},
                                    {"operationParameters", json::object{{"mode", mode}}},
                                    {"engineInfo", "laminar-connectors"},
                                    {"laminarCommit", epoch ? CommitToken(*epoch) : std::string()},
                                    {"isBlindAppend", commit.removes.empty()},
                                    {"operationMetrics", json::object{{"numFiles", static_cast<int64_t>(adds.size())},
                                                                      {"numOutputRows", rows},
                                                                      {"numRemovedFiles", static_cast<int64_t>(commit.removes.size())}}}}}});
    const int64_t version = snapshot_->version() + 1;
    ARROW_ASSIGN_OR_RAISE(bool created, log_->PutCommitIfAbsent(version, SerializeCommit(commit)));
    if (created) {
      runtime::FaultPoint("delta.commit.after_log_write");
      snapshot_->Apply(version, commit);
      if (epoch) own_txn_ = static_cast<int64_t>(*epoch);
      if (commit.metadata) pending_metadata_.reset();
      Count("delta.commits");
      {
        std::lock_guard<std::mutex> lock(metrics_mu_);
        for (auto& [key, value] : metrics_.custom) {
          if (key == "delta.last_version") value = static_cast<double>(version);
        }
        metrics_.lag = 0;
      }
      if (version % options_.checkpoint_interval == 0) StartLogCheckpoint();
      return arrow::Status::OK();
    }
    // Another writer took this version: read what it wrote and try the next one. Appends
    // commute with appends; a schema or protocol change in between is re-checked.
    const auto metadata_before = snapshot_->metadata().schema_string;
    ARROW_ASSIGN_OR_RAISE(int read, UpdateSnapshot());
    Count("delta.commit_conflicts");
    ARROW_RETURN_NOT_OK(CheckTableStillWritable());
    if (snapshot_->metadata().schema_string != metadata_before) {
      ARROW_ASSIGN_OR_RAISE(auto table_schema, FromDeltaSchemaString(snapshot_->metadata().schema_string));
      auto fits = CompareWithTable(*table_schema, *layout_->storage);
      if (!fits.ok() || (!fits->empty() && !staged.metadata)) {
        return FatalError(where_, "table " + log_->location().root + " changed its schema concurrently; the staged "
                                  "files no longer fit it");
      }
    }
    if (read == 0) {
      // The version is taken but not readable yet, or a conditional write to it was in
      // flight (S3 409): give the other writer a moment rather than spinning.
      if (attempt > 100) {
        return arrow::Status::IOError(where_, ": cannot create log version ", version, " although none exists");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5 + std::min(attempt, 20) * 10 + RandomMillis(10)));
    }
  }
}

void DeltaSink::StartLogCheckpoint() {
  // Off the commit path: a log checkpoint only speeds up later replays, so it is written by
  // a worker thread from a copy of the snapshot. One at a time: the previous one has had
  // checkpoint.interval commits to finish, and is waited for if it has not. One long-lived
  // worker rather than a thread per checkpoint: allocators keep per-thread caches, and a
  // thread per checkpoint left resident memory growing with every one.
  std::unique_lock<std::mutex> lock(checkpoint_mu_);
  checkpoint_cv_.wait(lock, [&] { return !checkpoint_pending_ && !checkpoint_busy_; });
  checkpoint_pending_ = *snapshot_;
  if (!checkpoint_thread_.joinable()) {
    checkpoint_thread_ = std::thread([this] {
      DeltaLog log(log_->location());
      std::unique_lock<std::mutex> lock(checkpoint_mu_);
      while (true) {
        checkpoint_cv_.wait(lock, [&] { return checkpoint_pending_ || stop_checkpoints_; });
        if (!checkpoint_pending_) return;  // stopping, nothing left to write
        Snapshot snapshot = std::move(*checkpoint_pending_);
        checkpoint_pending_.reset();
        checkpoint_busy_ = true;
        lock.unlock();
        if (auto status = log.WriteCheckpoint(snapshot); !status.ok()) {
          spdlog::warn("{}: could not write the log checkpoint at version {}: {}", where_, snapshot.version(),
                       status.ToString());
        } else {
          Count("delta.log_checkpoints");
        }
        lock.lock();
        checkpoint_busy_ = false;
        checkpoint_cv_.notify_all();
      }
    });
  }
  checkpoint_cv_.notify_all();
}

void DeltaSink::StopLogCheckpoints() {
  {
    std::lock_guard<std::mutex> lock(checkpoint_mu_);
    stop_checkpoints_ = true;  // a pending checkpoint is still written first
  }
  checkpoint_cv_.notify_all();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
}

arrow::Status DeltaSink::CommitEpoch(uint64_t epoch) {
  std::lock_guard<std::mutex> maintenance(maintenance_mu_);
  auto committed = snapshot_->TxnVersion(options_.writer_id);
  CommitActions staged;
  auto it = staged_.find(epoch);
  if (it != staged_.end()) {
    staged = it->second;
  } else if (!committed || *committed < static_cast<int64_t>(epoch)) {
    // After a restart: the record a dead process staged.
    ARROW_RETURN_NOT_OK(UpdateSnapshot().status());
    committed = snapshot_->TxnVersion(options_.writer_id);
    if (!committed || *committed < static_cast<int64_t>(epoch)) {
      ARROW_ASSIGN_OR_RAISE(auto record, ReadStagingRecord(epoch));
      if (!record) {
        return FatalError(where_, "epoch " + std::to_string(epoch) + " is decided but its staging record " +
                                      StagingRecordPath(epoch) + " is missing and the table has no txn for it");
      }
      staged = std::move(*record);
    }
  }
  if (!committed || *committed < static_cast<int64_t>(epoch)) {
    // An epoch that changed nothing makes no version.
    auto status = CommitAdds(staged, epoch, options_.write_mode == WriteMode::kUpsert ? "MERGE" : "STREAMING UPDATE");
    if (KindOf(status) == ErrorKind::kEpochLost) {
      // Its record stays (a restart refuses it the same way); its files go when the
      // replayed epoch is staged.
      staged_.erase(epoch);
      lost_.emplace(epoch, std::move(staged));
    }
    ARROW_RETURN_NOT_OK(status);
  }
  staged_.erase(epoch);
  // The record goes once the txn covers the epoch. An epoch that changed nothing makes no
  // version, so its (empty) record stays as the proof that it is done: a restart that
  // re-commits it finds the record instead of nothing. The previous epoch's is no longer needed.
  auto covered = snapshot_->TxnVersion(options_.writer_id);
  if (covered && *covered >= static_cast<int64_t>(epoch)) (void)log_->location().fs->DeleteFile(StagingRecordPath(epoch));
  if (epoch > 0) (void)log_->location().fs->DeleteFile(StagingRecordPath(epoch - 1));
  return arrow::Status::OK();
}

arrow::Status DeltaSink::DeleteOrphans(uint64_t from_epoch) {
  // Files this writer wrote for epochs >= from_epoch that the log does not name. Names
  // carry the epoch and the writer tag: part-<epoch>-<tag>-...
  const auto& location = log_->location();
  arrow::fs::FileSelector selector;
  selector.base_dir = location.root;
  selector.recursive = true;
  selector.allow_not_found = true;
  ARROW_ASSIGN_OR_RAISE(auto infos, storage::ListFiles(*location.fs, selector));
  int deleted = 0;
  for (const auto& info : infos) {
    if (info.type() != arrow::fs::FileType::File) continue;
    std::string relative = info.path().substr(location.root.size() + 1);
    if (relative.rfind("_delta_log/", 0) == 0 || relative.rfind("_laminar/", 0) == 0) continue;
    const auto slash = relative.rfind('/');
    const std::string name = slash == std::string::npos ? relative : relative.substr(slash + 1);
    unsigned long long file_epoch = 0;
    char tag[16] = {0};
    if (std::sscanf(name.c_str(), "part-%llu-%8[0-9a-f]-", &file_epoch, tag) != 2) continue;
    if (writer_tag_ != tag || file_epoch < from_epoch) continue;
    if (snapshot_->files().count(EncodePath(relative))) continue;
    ARROW_RETURN_NOT_OK(location.fs->DeleteFile(info.path()));
    ++deleted;
  }
  if (deleted > 0) spdlog::info("{}: removed {} file(s) of undecided epochs >= {}", where_, deleted, from_epoch);
  return arrow::Status::OK();
}

arrow::Status DeltaSink::RollbackEpoch(uint64_t epoch) {
  std::lock_guard<std::mutex> maintenance(maintenance_mu_);
  // Abandon open files and everything staged from `epoch` on.
  for (auto& [key, file] : open_files_) {
    (void)file->writer->Close();
    (void)file->out->Close();
    (void)log_->location().fs->DeleteFile(log_->location().Join(file->relative_path));
  }
  open_files_.clear();
  auto drop = [&](const std::vector<AddAction>& adds) {
    for (const auto& a : adds) {
      if (snapshot_->files().count(a.path)) continue;  // committed after all
      (void)log_->location().fs->DeleteFile(log_->location().Join(DecodePath(a.path)));
    }
  };
  drop(finished_);
  finished_.clear();
  rewritten_.clear();
  changes_.clear();
  upsert_read_version_.reset();
  for (auto it = staged_.lower_bound(epoch); it != staged_.end();) {
    drop(it->second.adds);
    (void)log_->location().fs->DeleteFile(StagingRecordPath(it->first));
    it = staged_.erase(it);
  }
  if (!orphans_checked_) {
    // First rollback after a start: also what a dead process left behind.
    ARROW_RETURN_NOT_OK(UpdateSnapshot().status());
    const auto& location = log_->location();
    arrow::fs::FileSelector selector;
    selector.base_dir = location.Join("_laminar/" + writer_tag_);
    selector.allow_not_found = true;
    ARROW_ASSIGN_OR_RAISE(auto records, storage::ListFiles(*location.fs, selector));
    for (const auto& info : records) {
      unsigned long long e = 0;
      const std::string name = info.path().substr(info.path().rfind('/') + 1);
      // Records of later epochs are undecided; earlier ones are committed (recovery commits
      // the decided epoch before this rollback), so all of them go.
      if (std::sscanf(name.c_str(), "epoch-%llu.json", &e) == 1) {
        ARROW_RETURN_NOT_OK(location.fs->DeleteFile(info.path()));
      }
    }
    ARROW_RETURN_NOT_OK(DeleteOrphans(epoch));
    orphans_checked_ = true;
  }
  {
    std::lock_guard<std::mutex> lock(metrics_mu_);
    metrics_.lag = 0;
  }
  Count("delta.epochs_rolled_back");
  return arrow::Status::OK();
}

arrow::Status DeltaSink::Flush() {
  if (options_.exactly_once) return arrow::Status::OK();  // epochs commit in CommitEpoch
  std::lock_guard<std::mutex> maintenance(maintenance_mu_);
  // A flush whose commit failed (a store error) is committed first, as it was: its files
  // hold rows of batches the runtime counts as written, so they must not be forgotten.
  if (failed_flush_) {
    ARROW_RETURN_NOT_OK(CommitAdds(*failed_flush_, std::nullopt, "WRITE"));
    failed_flush_.reset();
  }
  if (options_.write_mode == WriteMode::kUpsert) ARROW_RETURN_NOT_OK(StageUpsert());
  ARROW_RETURN_NOT_OK(FinishAllFiles());
  CommitActions staged = TakeStaged();
  first_write_ms_ = 0;
  buffered_rows_ = 0;
  if (staged.adds.empty() && staged.removes.empty()) return arrow::Status::OK();
  Count("delta.flush_count");
  auto status = CommitAdds(staged, std::nullopt, "WRITE");
  if (!status.ok()) failed_flush_ = std::move(staged);
  return status;
}

HealthStatus DeltaSink::Health() const {
  if (!layout_) return HealthStatus::Unhealthy("not open");
  return HealthStatus::Healthy();
}

ConnectorMetrics DeltaSink::Metrics() const {
  std::lock_guard<std::mutex> lock(metrics_mu_);
  return metrics_;
}

arrow::Status DeltaSink::Close() {
  StopMaintenance();
  if (!options_.exactly_once && log_) {
    auto status = Flush();
    if (!status.ok()) spdlog::warn("{}: final flush failed: {}", where_, status.ToString());
  }
  StopLogCheckpoints();  // after the last commit, which may start one
  // Exactly-once: open files belong to an epoch that was not pre-committed; the next
  // start's rollback removes them.
  for (auto& [key, file] : open_files_) {
    (void)file->writer->Close();
    (void)file->out->Close();
  }
  open_files_.clear();
  return arrow::Status::OK();
}

}  // namespace laminar::delta
