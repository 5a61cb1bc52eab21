#include "laminar/delta/delta_maintenance.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/filesystem/filesystem.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/writer.h>
#include <parquet/properties.h>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <random>
#include <regex>

#include "laminar/delta/delta_features.h"
#include "laminar/delta/delta_schema.h"

namespace laminar::delta {

namespace json = boost::json;

namespace {

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string RandomHex() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[20];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

// "interval 7 days", "interval 168 hours" -> hours; nullopt when unparsable.
std::optional<int64_t> RetentionHours(const std::string& text) {
  static const std::regex kInterval(R"(\s*interval\s+(\d+)\s+(day|days|hour|hours|minute|minutes)\s*)",
                                    std::regex::icase);
  std::smatch m;
  if (!std::regex_match(text, m, kInterval)) return std::nullopt;
  const int64_t n = std::stoll(m[1]);
  const std::string unit = m[2];
  if (unit[0] == 'd' || unit[0] == 'D') return n * 24;
  if (unit[0] == 'h' || unit[0] == 'H') return n;
  return n / 60;
}

// A compacted file's statistics from its inputs': record count, summed null counts, and the
// least min / greatest max of each column every input has (numbers compare as numbers,
// strings - ISO dates and times included - as text). A column some input lacks gets no
// bound, so readers never skip the file wrongly.
std::string MergedStats(const std::vector<const AddAction*>& inputs, int64_t rows) {
  json::object mins, maxs, nulls;
  bool first = true;
  auto less = [](const json::value& a, const json::value& b) -> std::optional<bool> {
    if (a.is_number() && b.is_number()) return a.to_number<double>() < b.to_number<double>();
    if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
    return std::nullopt;
  };
  // Keeps in `into` only the columns `from` also bounds, with the bound further out.
  auto merge = [&](json::object& into, const json::object* from, bool want_less) {
    for (auto it = into.begin(); it != into.end();) {
      const json::value* other = from ? from->if_contains(it->key()) : nullptr;
      auto cmp = other ? less(*other, it->value()) : std::nullopt;
      if (!cmp) {
        it = into.erase(it);
        continue;
      }
      if (*cmp == want_less && *other != it->value()) it->value() = *other;
      ++it;
    }
  };
  for (const auto* add : inputs) {
    boost::system::error_code ec;
    json::value stats = json::parse(add->stats, ec);
    const json::object* o = !ec && stats.is_object() ? &stats.as_object() : nullptr;
    auto section = [&](const char* name) -> const json::object* {
      const json::value* v = o ? o->if_contains(name) : nullptr;
      return v && v->is_object() ? &v->as_object() : nullptr;
    };
    if (first) {
      if (const auto* m = section("minValues")) mins = *m;
      if (const auto* m = section("maxValues")) maxs = *m;
      if (const auto* m = section("nullCount")) nulls = *m;
      first = false;
      continue;
    }
    merge(mins, section("minValues"), true);
    merge(maxs, section("maxValues"), false);
    const auto* n = section("nullCount");
    for (auto it = nulls.begin(); it != nulls.end();) {
      const json::value* other = n ? n->if_contains(it->key()) : nullptr;
      if (!other || !other->is_int64() || !it->value().is_int64()) {
        it = nulls.erase(it);
        continue;
      }
      it->value() = it->value().as_int64() + other->as_int64();
      ++it;
    }
  }
  return json::serialize(
      json::object{{"numRecords", rows}, {"minValues", mins}, {"maxValues", maxs}, {"nullCount", nulls}});
}

}  // namespace

arrow::Result<CompactionResult> Compact(DeltaLog& log, const CompactionOptions& options) {
  CompactionResult result;
  ARROW_ASSIGN_OR_RAISE(auto loaded, log.Load());
  if (!loaded) return result;
  Snapshot snapshot = std::move(*loaded);
  WriteIntent rewrite;
  rewrite.rewrites_files = true;  // dataChange = false: allowed on append-only tables
  ARROW_RETURN_NOT_OK(CheckWritable(snapshot, rewrite));
  const auto& location = log.location();
  // Output files hold the table's columns (not the partition columns) in the table's types:
  // older inputs may lack columns added since, others' files may use other physical types.
  ARROW_ASSIGN_OR_RAISE(auto table_schema, FromDeltaSchemaString(snapshot.metadata().schema_string));
  arrow::FieldVector file_fields;
  for (const auto& field : table_schema->fields()) {
    const auto& partitions = snapshot.metadata().partition_columns;
    if (std::find(partitions.begin(), partitions.end(), field->name()) == partitions.end()) file_fields.push_back(field);
  }
  const auto file_schema = arrow::schema(file_fields);
  // Small files by partition.
  std::map<PartitionValues, std::vector<AddAction>> small;
  for (const auto& [path, add] : snapshot.files()) {
    if (add.size < options.target_file_size / 2) small[add.partition_values].push_back(add);
  }
  CommitActions commit;
  const int64_t now = NowMillis();
  std::vector<std::string> written;
  for (auto& [partition, files] : small) {
    if (static_cast<int64_t>(files.size()) < options.min_files) continue;
    // Size-tiered bins, smallest files first: a file joins the open bin only while it is at
    // most twice the bin's size so far, so a large earlier product of compaction is not
    // read and rewritten again for every few new small files (each byte is rewritten about
    // log(table / file) times, not once per run).
    std::sort(files.begin(), files.end(), [](const AddAction& a, const AddAction& b) {
      return a.size != b.size ? a.size < b.size : a.path < b.path;
    });
    size_t start = 0;
    while (start < files.size()) {
      size_t end = start;
      int64_t bytes = 0;
      while (end < files.size() &&
             (end == start || (bytes + files[end].size <= options.target_file_size && files[end].size <= 2 * bytes))) {
        bytes += files[end].size;
        ++end;
      }
      if (end - start < 2) {
        start = end;
        continue;
      }
      std::vector<std::unique_ptr<parquet::arrow::FileReader>> readers;
      for (size_t i = start; i < end; ++i) {
        ARROW_ASSIGN_OR_RAISE(auto input, location.fs->OpenInputFile(location.Join(DecodePath(files[i].path))));
        ARROW_ASSIGN_OR_RAISE(auto reader, parquet::arrow::OpenFile(input, arrow::default_memory_pool()));
        readers.push_back(std::move(reader));
      }
      // Same directory as the inputs.
      const std::string first = DecodePath(files[start].path);
      const auto slash = first.rfind('/');
      const std::string dir = slash == std::string::npos ? "" : first.substr(0, slash + 1);
      const std::string relative = dir + "part-compacted-" + RandomHex() + "." + options.compression + ".parquet";
      int64_t rows = 0;
      {
        // Streamed one record batch at a time, so memory stays that of a batch, not of
        // the files being merged.
        ARROW_ASSIGN_OR_RAISE(auto out, location.fs->OpenOutputStream(location.Join(relative)));
        auto properties = parquet::WriterProperties::Builder()
                              .compression(options.compression == "snappy" ? arrow::Compression::SNAPPY
                                           : options.compression == "none" ? arrow::Compression::UNCOMPRESSED
                                                                            : arrow::Compression::ZSTD)
                              ->max_row_group_length(128 * 1024)
                              ->build();
        // Timestamps in microseconds, as Delta's readers expect (files of other engines may
        // hold INT96 nanoseconds).
        auto arrow_properties = parquet::ArrowWriterProperties::Builder()
                                    .coerce_timestamps(arrow::TimeUnit::MICRO)
                                    ->allow_truncated_timestamps()
                                    ->build();
        ARROW_ASSIGN_OR_RAISE(auto writer, parquet::arrow::FileWriter::Open(*file_schema, arrow::default_memory_pool(),
                                                                            out, properties, arrow_properties));
        for (auto& reader : readers) {
          ARROW_ASSIGN_OR_RAISE(auto batches, reader->GetRecordBatchReader());
          while (true) {
            ARROW_ASSIGN_OR_RAISE(auto batch, batches->Next());
            if (!batch) break;
            ARROW_ASSIGN_OR_RAISE(auto conformed, ConformToSchema(batch, file_schema));
            ARROW_RETURN_NOT_OK(writer->WriteRecordBatch(*conformed));
            rows += batch->num_rows();
          }
        }
        ARROW_RETURN_NOT_OK(writer->Close());
        ARROW_RETURN_NOT_OK(out->Close());
      }
      written.push_back(relative);
      ARROW_ASSIGN_OR_RAISE(auto info, location.fs->GetFileInfo(location.Join(relative)));
      AddAction add;
      add.path = EncodePath(relative);
      add.partition_values = partition;
      add.size = info.size();
      add.modification_time = now;
      add.data_change = false;
      std::vector<const AddAction*> inputs;
      for (size_t i = start; i < end; ++i) inputs.push_back(&files[i]);
      add.stats = MergedStats(inputs, rows);
      commit.adds.push_back(std::move(add));
      for (size_t i = start; i < end; ++i) {
        commit.removes.push_back(RemoveAction{files[i].path, now, false, files[i].partition_values, files[i].size});
      }
      start = end;
    }
  }
  if (commit.adds.empty()) return result;
  commit.commit_info_json = json::serialize(json::object{
      {"commitInfo", json::object{{"timestamp", now},
                                  {"operation", "OPTIMIZE"},
                                  {"operationParameters", json::object{{"targetSize", options.target_file_size}}},
                                  {"engineInfo", "laminar-connectors"},
                                  {"isBlindAppend", false}}}});
  auto give_up = [&](const std::string& why) -> arrow::Result<CompactionResult> {
    for (const auto& path : written) (void)location.fs->DeleteFile(location.Join(path));
    return arrow::Status::Cancelled("compaction abandoned: ", why);
  };
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int64_t version = snapshot.version() + 1;
    ARROW_ASSIGN_OR_RAISE(bool created, log.PutCommitIfAbsent(version, SerializeCommit(commit)));
    if (created) {
      result.version = version;
      result.files_added = static_cast<int64_t>(commit.adds.size());
      result.files_removed = static_cast<int64_t>(commit.removes.size());
      return result;
    }
    ARROW_RETURN_NOT_OK(log.Update(&snapshot).status());
    if (auto writable = CheckWritable(snapshot, rewrite); !writable.ok()) return give_up(writable.message());
    for (const auto& r : commit.removes) {
      if (!snapshot.files().count(r.path)) return give_up("file " + r.path + " was removed concurrently");
    }
  }
  return give_up("too many concurrent commits");
}

int64_t MinimumRetentionHours(const Snapshot& snapshot) {
  auto configured = snapshot.metadata().configuration.find("delta.deletedFileRetentionDuration");
  if (configured != snapshot.metadata().configuration.end()) {
    if (auto hours = RetentionHours(configured->second)) return *hours;
  }
  return 168;
}

arrow::Result<VacuumResult> Vacuum(DeltaLog& log, const VacuumOptions& options) {
  VacuumResult result;
  ARROW_ASSIGN_OR_RAISE(auto loaded, log.Load());
  if (!loaded) return result;
  const Snapshot& snapshot = *loaded;
  const int64_t table_minimum = MinimumRetentionHours(snapshot);
  if (options.enforce_retention_check && options.retention_hours < table_minimum) {
    return arrow::Status::Invalid("vacuum retention of ", options.retention_hours, " hours is below the table's ",
                                  table_minimum, " hours (delta.deletedFileRetentionDuration): readers of older "
                                  "versions could lose files; disable the retention check to force it");
  }
  const auto& location = log.location();
  const int64_t cutoff = NowMillis() - options.retention_hours * 3600 * 1000;
  arrow::fs::FileSelector selector;
  selector.base_dir = location.root;
  selector.recursive = true;
  ARROW_ASSIGN_OR_RAISE(auto infos, storage::ListFiles(*location.fs, selector));
  for (const auto& info : infos) {
    if (info.type() != arrow::fs::FileType::File) continue;
    const std::string relative = info.path().substr(location.root.size() + 1);
    // Hidden files and directories (_delta_log, _laminar staging, .crc) are not data.
    bool hidden = false;
    size_t begin = 0;
    while (begin < relative.size()) {
      if (relative[begin] == '_' || relative[begin] == '.') {
        // Hive partition directories may start with '_' only as "_x=..": keep those.
        const auto slash = relative.find('/', begin);
        const std::string segment = relative.substr(begin, slash == std::string::npos ? std::string::npos : slash - begin);
        if (segment.find('=') == std::string::npos) hidden = true;
      }
      const auto slash = relative.find('/', begin);
      if (slash == std::string::npos) break;
      begin = slash + 1;
    }
    if (hidden) continue;
    const std::string encoded = EncodePath(relative);
    if (snapshot.files().count(encoded)) continue;
    auto tombstone = snapshot.tombstones().find(encoded);
    if (tombstone != snapshot.tombstones().end() && tombstone->second > cutoff) continue;
    const int64_t mtime =
        std::chrono::duration_cast<std::chrono::milliseconds>(info.mtime().time_since_epoch()).count();
    if (mtime > cutoff) continue;  // maybe a writer's uncommitted file
    if (!options.dry_run) ARROW_RETURN_NOT_OK(location.fs->DeleteFile(info.path()));
    ++result.files_deleted;
  }
  return result;
}

}  // namespace laminar::delta
