#include "laminar/delta/delta_log.h"

#include "laminar/runtime/fault_points.h"
#include "laminar/storage/put_if_absent.h"

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <arrow/json/from_string.h>
#include <fcntl.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/writer.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <set>

namespace laminar::delta {

namespace json = boost::json;

namespace {

constexpr char kLogDir[] = "_delta_log";


json::object PartitionValuesToJson(const PartitionValues& values) {
  json::object out;
  for (const auto& [key, value] : values) {
    if (value) out[key] = *value;
    else out[key] = nullptr;
  }
  return out;
}

PartitionValues PartitionValuesFromJson(const json::value* value) {
  PartitionValues out;
  if (value == nullptr || !value->is_object()) return out;
  for (const auto& [key, v] : value->as_object()) {
    if (v.is_string()) out[std::string(key)] = std::string(v.as_string());
    else out[std::string(key)] = std::nullopt;
  }
  return out;
}

std::string StringField(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

int64_t IntField(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->as_double());
  return 0;
}

bool BoolField(const json::object& o, const char* key, bool fallback) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_bool() ? v->as_bool() : fallback;
}

std::vector<std::string> StringList(const json::object& o, const char* key) {
  std::vector<std::string> out;
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_array()) return out;
  for (const auto& item : v->as_array()) {
    if (item.is_string()) out.emplace_back(item.as_string());
  }
  return out;
}

// One action object ({"add": {...}} etc.) into `out`.
arrow::Status ApplyActionJson(const json::object& line, CommitActions* out) {
  for (const auto& [kind, body] : line) {
    if (!body.is_object()) continue;
    const auto& o = body.as_object();
    if (kind == "add") {
      AddAction add;
      add.path = StringField(o, "path");
      add.partition_values = PartitionValuesFromJson(o.if_contains("partitionValues"));
      add.size = IntField(o, "size");
      add.modification_time = IntField(o, "modificationTime");
      add.data_change = BoolField(o, "dataChange", true);
      add.stats = StringField(o, "stats");
      if (o.if_contains("deletionVector") != nullptr && !o.at("deletionVector").is_null()) {
        return arrow::Status::NotImplemented("file '", add.path,
                                             "' has a deletion vector (reader feature deletionVectors), which "
                                             "this reader does not support");
      }
      out->adds.push_back(std::move(add));
    } else if (kind == "remove") {
      RemoveAction remove;
      remove.path = StringField(o, "path");
      remove.deletion_timestamp = IntField(o, "deletionTimestamp");
      remove.data_change = BoolField(o, "dataChange", true);
      remove.partition_values = PartitionValuesFromJson(o.if_contains("partitionValues"));
      remove.size = IntField(o, "size");
      out->removes.push_back(std::move(remove));
    } else if (kind == "metaData") {
      MetadataAction m;
      m.id = StringField(o, "id");
      m.schema_string = StringField(o, "schemaString");
      m.partition_columns = StringList(o, "partitionColumns");
      if (const auto* conf = o.if_contains("configuration"); conf != nullptr && conf->is_object()) {
        for (const auto& [k, v] : conf->as_object()) {
          if (v.is_string()) m.configuration[std::string(k)] = std::string(v.as_string());
        }
      }
      m.created_time = IntField(o, "createdTime");
      out->metadata = std::move(m);
    } else if (kind == "protocol") {
      ProtocolAction p;
      p.min_reader_version = static_cast<int>(IntField(o, "minReaderVersion"));
      p.min_writer_version = static_cast<int>(IntField(o, "minWriterVersion"));
      p.reader_features = StringList(o, "readerFeatures");
      p.writer_features = StringList(o, "writerFeatures");
      out->protocol = std::move(p);
    } else if (kind == "txn") {
      TxnAction t;
      t.app_id = StringField(o, "appId");
      t.version = IntField(o, "version");
      t.last_updated = IntField(o, "lastUpdated");
      out->txns.push_back(std::move(t));
    } else if (kind == "commitInfo") {
      out->commit_info_json = json::serialize(o);
    }
  }
  return arrow::Status::OK();
}

// An Arrow value of a checkpoint row as JSON, so checkpoint rows go through the same
// action parser as commit lines.
json::value ScalarToJson(const arrow::Scalar& scalar) {
  if (!scalar.is_valid) return nullptr;
  switch (scalar.type->id()) {
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
    case arrow::Type::STRING_VIEW: return json::value(scalar.ToString());
    case arrow::Type::BOOL: return json::value(static_cast<const arrow::BooleanScalar&>(scalar).value);
    case arrow::Type::INT32: return json::value(static_cast<const arrow::Int32Scalar&>(scalar).value);
    case arrow::Type::INT64: return json::value(static_cast<const arrow::Int64Scalar&>(scalar).value);
    case arrow::Type::STRUCT: {
      const auto& s = static_cast<const arrow::StructScalar&>(scalar);
      json::object out;
      for (int i = 0; i < s.type->num_fields(); ++i) out[s.type->field(i)->name()] = ScalarToJson(*s.value[static_cast<size_t>(i)]);
      return out;
    }
    case arrow::Type::LIST:
    case arrow::Type::LARGE_LIST: {
      const auto& l = static_cast<const arrow::BaseListScalar&>(scalar);
      json::array out;
      for (int64_t i = 0; i < l.value->length(); ++i) {
        auto item = l.value->GetScalar(i);
        out.push_back(item.ok() ? ScalarToJson(**item) : json::value(nullptr));
      }
      return out;
    }
    case arrow::Type::MAP: {
      const auto& m = static_cast<const arrow::MapScalar&>(scalar);
      const auto& entries = static_cast<const arrow::StructArray&>(*m.value);
      json::object out;
      for (int64_t i = 0; i < entries.length(); ++i) {
        auto key = entries.field(0)->GetScalar(i);
        auto value = entries.field(1)->GetScalar(i);
        if (key.ok() && value.ok()) out[(*key)->ToString()] = ScalarToJson(**value);
      }
      return out;
    }
    default: return json::value(scalar.ToString());
  }
}

std::shared_ptr<arrow::DataType> CheckpointType() {
  auto string_map = arrow::map(arrow::utf8(), arrow::utf8());
  return arrow::struct_({
      arrow::field("txn", arrow::struct_({arrow::field("appId", arrow::utf8()), arrow::field("version", arrow::int64()),
                                          arrow::field("lastUpdated", arrow::int64())})),
      arrow::field("add", arrow::struct_({arrow::field("path", arrow::utf8()),
                                          arrow::field("partitionValues", string_map),
                                          arrow::field("size", arrow::int64()),
                                          arrow::field("modificationTime", arrow::int64()),
                                          arrow::field("dataChange", arrow::boolean()),
                                          arrow::field("stats", arrow::utf8())})),
      arrow::field("remove", arrow::struct_({arrow::field("path", arrow::utf8()),
                                             arrow::field("deletionTimestamp", arrow::int64()),
                                             arrow::field("dataChange", arrow::boolean())})),
      arrow::field("metaData",
                   arrow::struct_({arrow::field("id", arrow::utf8()), arrow::field("name", arrow::utf8()),
                                   arrow::field("description", arrow::utf8()),
                                   arrow::field("format", arrow::struct_({arrow::field("provider", arrow::utf8()),
                                                                          arrow::field("options", string_map)})),
                                   arrow::field("schemaString", arrow::utf8()),
                                   arrow::field("partitionColumns", arrow::list(arrow::utf8())),
                                   arrow::field("configuration", string_map),
                                   arrow::field("createdTime", arrow::int64())})),
      arrow::field("protocol", arrow::struct_({arrow::field("minReaderVersion", arrow::int32()),
                                               arrow::field("minWriterVersion", arrow::int32()),
                                               arrow::field("readerFeatures", arrow::list(arrow::utf8())),
                                               arrow::field("writerFeatures", arrow::list(arrow::utf8()))})),
  });
}

json::array MapEntries(const std::map<std::string, std::string>& map) {
  json::array out;
  for (const auto& [k, v] : map) out.push_back(json::array{json::value(k), json::value(v)});
  return out;
}

json::array PartitionEntries(const PartitionValues& values) {
  json::array out;
  for (const auto& [k, v] : values) {
    out.push_back(json::array{json::value(k), v ? json::value(*v) : json::value(nullptr)});
  }
  return out;
}

json::array StringArray(const std::vector<std::string>& values) {
  json::array out;
  for (const auto& v : values) out.emplace_back(v);
  return out;
}

arrow::Result<std::shared_ptr<arrow::Buffer>> ReadWhole(arrow::fs::FileSystem& fs, const std::string& path) {
  ARROW_ASSIGN_OR_RAISE(auto file, fs.OpenInputFile(path));
  ARROW_ASSIGN_OR_RAISE(auto size, file->GetSize());
  return file->ReadAt(0, size);
}

arrow::Status WriteWhole(const storage::TableLocation& location, const std::string& path, const std::string& contents) {
  if (location.local) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return arrow::Status::IOError("cannot create ", path, ": ", std::strerror(errno));
    size_t done = 0;
    while (done < contents.size()) {
      const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        ::close(fd);
        return arrow::Status::IOError("cannot write ", path, ": ", std::strerror(err));
      }
      done += static_cast<size_t>(n);
    }
    const bool synced = ::fsync(fd) == 0;
    const int err = errno;
    ::close(fd);
    if (!synced) return arrow::Status::IOError("cannot fsync ", path, ": ", std::strerror(err));
    return arrow::Status::OK();
  }
  ARROW_ASSIGN_OR_RAISE(auto out, location.fs->OpenOutputStream(path));
  ARROW_RETURN_NOT_OK(out->Write(contents));
  return out->Close();
}

void SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// "00000000000000000012.json" -> 12; "00000000000000000010.checkpoint.parquet" -> 10 (checkpoint).
std::optional<int64_t> VersionOf(const std::string& name, const std::string& suffix) {
  if (name.size() != 20 + suffix.size() || name.compare(20, suffix.size(), suffix) != 0) return std::nullopt;
  int64_t v = 0;
  for (size_t i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    v = v * 10 + (name[i] - '0');
  }
  return v;
}

std::string BaseName(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string CommitFileName(int64_t version) {
  char name[64];
  std::snprintf(name, sizeof(name), "%s/%020lld.json", kLogDir, static_cast<long long>(version));
  return name;
}

std::string SerializeCommit(const CommitActions& actions) {
  std::string out;
  auto line = [&](const json::object& o) {
    out += json::serialize(o);
    out += '\n';
  };
  if (!actions.commit_info_json.empty()) {
    out += actions.commit_info_json.front() == '{' && actions.commit_info_json.find("\"commitInfo\"") == std::string::npos
               ? "{\"commitInfo\":" + actions.commit_info_json + "}\n"
               : actions.commit_info_json + "\n";
  }
  if (actions.protocol) {
    json::object p{{"minReaderVersion", actions.protocol->min_reader_version},
                   {"minWriterVersion", actions.protocol->min_writer_version}};
    if (actions.protocol->min_reader_version >= 3) p["readerFeatures"] = StringArray(actions.protocol->reader_features);
    if (actions.protocol->min_writer_version >= 7) p["writerFeatures"] = StringArray(actions.protocol->writer_features);
    line(json::object{{"protocol", p}});
  }
  if (actions.metadata) {
    const auto& m = *actions.metadata;
    json::object conf;
    for (const auto& [k, v] : m.configuration) conf[k] = v;
    line(json::object{{"metaData", json::object{{"id", m.id},
                                                {"format", json::object{{"provider", "parquet"}, {"options", json::object{}}}},
                                                {"schemaString", m.schema_string},
                                                {"partitionColumns", StringArray(m.partition_columns)},
                                                {"configuration", conf},
                                                {"createdTime", m.created_time}}}});
  }
  for (const auto& t : actions.txns) {
    line(json::object{{"txn", json::object{{"appId", t.app_id}, {"version", t.version}, {"lastUpdated", t.last_updated}}}});
  }
  for (const auto& r : actions.removes) {
    line(json::object{{"remove", json::object{{"path", r.path},
                                              {"deletionTimestamp", r.deletion_timestamp},
                                              {"dataChange", r.data_change},
                                              {"extendedFileMetadata", true},
                                              {"partitionValues", PartitionValuesToJson(r.partition_values)},
                                              {"size", r.size}}}});
  }
  for (const auto& a : actions.adds) {
    json::object add{{"path", a.path},
                     {"partitionValues", PartitionValuesToJson(a.partition_values)},
                     {"size", a.size},
                     {"modificationTime", a.modification_time},
                     {"dataChange", a.data_change}};
    if (!a.stats.empty()) add["stats"] = a.stats;
    line(json::object{{"add", add}});
  }
  return out;
}

arrow::Result<CommitActions> ParseCommit(const std::string& text, const std::string& file) {
  CommitActions out;
  size_t start = 0;
  int line_number = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    ++line_number;
    std::string_view line(text.data() + start, end - start);
    start = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    boost::system::error_code ec;
    json::value value = json::parse(line, ec);
    if (ec || !value.is_object()) {
      return arrow::Status::Invalid(file, " line ", line_number, ": not a JSON object",
                                    ec ? ": " + ec.message() : std::string());
    }
    ARROW_RETURN_NOT_OK(ApplyActionJson(value.as_object(), &out));
  }
  return out;
}

std::optional<int64_t> Snapshot::TxnVersion(const std::string& app_id) const {
  auto it = txns_.find(app_id);
  if (it == txns_.end()) return std::nullopt;
  return it->second.version;
}

void Snapshot::Apply(int64_t version, const CommitActions& actions) {
  version_ = version;
  if (actions.protocol) protocol_ = *actions.protocol;
  if (actions.metadata) metadata_ = *actions.metadata;
  for (const auto& t : actions.txns) txns_[t.app_id] = t;
  for (const auto& r : actions.removes) {
    files_.erase(r.path);
    tombstones_[r.path] = r.deletion_timestamp;
  }
  for (const auto& a : actions.adds) {
    files_[a.path] = a;
    tombstones_.erase(a.path);
  }
}

arrow::Status DeltaLog::CheckReadable(const ProtocolAction& protocol) {
  if (protocol.min_reader_version > 3) {
    return arrow::Status::NotImplemented("the table needs reader version ", protocol.min_reader_version,
                                         "; this reader supports up to 3");
  }
  if (protocol.min_reader_version == 3) {
    for (const auto& feature : protocol.reader_features) {
      // v2Checkpoint is refused: its checkpoints keep the add actions in sidecar files,
      // which ReadCheckpoint does not follow, so files would silently go missing.
      if (feature != "timestampNtz" && feature != "vacuumProtocolCheck") {
        return arrow::Status::NotImplemented("the table uses reader feature '", feature,
                                             "', which this reader does not support");
      }
    }
  }
  return arrow::Status::OK();
}

arrow::Status DeltaLog::CheckReadableMetadata(const MetadataAction& metadata) {
  auto mode = metadata.configuration.find("delta.columnMapping.mode");
  if (mode != metadata.configuration.end() && mode->second != "none") {
    return arrow::Status::NotImplemented("the table uses column mapping (delta.columnMapping.mode=", mode->second,
                                         "), which this reader does not support");
  }
  return arrow::Status::OK();
}

arrow::Result<std::optional<int64_t>> DeltaLog::LatestCheckpointVersion() {
  const std::string log = location_.Join(kLogDir);
  auto last = ReadWhole(*location_.fs, log + "/_last_checkpoint");
  if (last.ok()) {
    boost::system::error_code ec;
    json::value value = json::parse((*last)->ToString(), ec);
    if (!ec && value.is_object()) {
      const auto& o = value.as_object();
      if (o.if_contains("parts") != nullptr) {
        return arrow::Status::NotImplemented("multi-part checkpoints are not supported");
      }
      return IntField(o, "version");
    }
  }
  return std::nullopt;
}

arrow::Status DeltaLog::ReadCheckpoint(int64_t version, Snapshot* snapshot) {
  char name[96];
  std::snprintf(name, sizeof(name), "/%s/%020lld.checkpoint.parquet", kLogDir, static_cast<long long>(version));
  ARROW_ASSIGN_OR_RAISE(auto file, location_.fs->OpenInputFile(location_.root + name));
  ARROW_ASSIGN_OR_RAISE(auto reader, parquet::arrow::OpenFile(file, arrow::default_memory_pool()));
  std::shared_ptr<arrow::Schema> schema;
  ARROW_RETURN_NOT_OK(reader->GetSchema(&schema));
  std::vector<int> wanted;
  for (const char* column : {"txn", "add", "remove", "metaData", "protocol"}) {
    const int index = schema->GetFieldIndex(column);
    if (index >= 0) wanted.push_back(index);
  }
  // A v2 checkpoint under the classic name: its sidecar files hold add actions this
  // reader would not see.
  std::vector<int> v2_only;
  for (const char* column : {"sidecar", "checkpointMetadata"}) {
    const int index = schema->GetFieldIndex(column);
    if (index >= 0) v2_only.push_back(index);
  }
  std::unique_ptr<arrow::RecordBatchReader> batches;
  ARROW_ASSIGN_OR_RAISE(batches, reader->GetRecordBatchReader());
  CommitActions actions;
  while (true) {
    std::shared_ptr<arrow::RecordBatch> batch;
    ARROW_RETURN_NOT_OK(batches->ReadNext(&batch));
    if (!batch) break;
    for (int column : v2_only) {
      if (batch->column(column)->null_count() < batch->num_rows()) {
        return arrow::Status::NotImplemented("checkpoint ", name + 1, " is a v2 checkpoint (it holds ",
                                             batch->schema()->field(column)->name(),
                                             " actions; reader feature v2Checkpoint), which this reader does not "
                                             "support");
      }
    }
    for (int column : wanted) {
      const auto& array = batch->column(column);
      const std::string kind = batch->schema()->field(column)->name();
      for (int64_t row = 0; row < array->length(); ++row) {
        if (array->IsNull(row)) continue;
        ARROW_ASSIGN_OR_RAISE(auto scalar, array->GetScalar(row));
        json::object line{{kind, ScalarToJson(*scalar)}};
        ARROW_RETURN_NOT_OK(ApplyActionJson(line, &actions));
      }
    }
  }
  snapshot->Apply(version, actions);
  return arrow::Status::OK();
}

arrow::Result<std::optional<Snapshot>> DeltaLog::LoadAt(std::optional<int64_t> max_version) {
  const std::string log = location_.Join(kLogDir);
  arrow::fs::FileSelector selector;
  selector.base_dir = log;
  selector.allow_not_found = true;
  ARROW_ASSIGN_OR_RAISE(auto infos, storage::ListFiles(*location_.fs, selector));
  std::set<int64_t> commits;
  std::set<int64_t> checkpoints;
  std::map<int64_t, std::string> unsupported_checkpoints;  // multi-part or v2 (UUID-named), by version
  for (const auto& info : infos) {
    const std::string name = BaseName(info.path());
    auto commit = VersionOf(name, ".json");
    auto checkpoint = VersionOf(name, ".checkpoint.parquet");
    if (commit && (!max_version || *commit <= *max_version)) commits.insert(*commit);
    if (checkpoint && (!max_version || *checkpoint <= *max_version)) checkpoints.insert(*checkpoint);
    if (!checkpoint && name.size() > 32 && name.compare(20, 12, ".checkpoint.") == 0) {
      if (auto v = VersionOf(name.substr(0, 20) + ".json", ".json"); v && (!max_version || *v <= *max_version)) {
        unsupported_checkpoints.emplace(*v, name);
      }
    }
  }
  // Such a checkpoint only matters when the commits it stands for are gone: then say so
  // rather than report a missing commit (or no table).
  auto needs_unsupported = [&](int64_t from, int64_t to) -> arrow::Status {
    auto it = unsupported_checkpoints.lower_bound(from);
    if (it == unsupported_checkpoints.end() || it->first > to) return arrow::Status::OK();
    return arrow::Status::NotImplemented("the log of ", location_.root, " continues from checkpoint ", it->second,
                                         " (multi-part or v2Checkpoint), which this reader does not support");
  };
  if (commits.empty() && checkpoints.empty()) {
    if (!unsupported_checkpoints.empty()) {
      return needs_unsupported(unsupported_checkpoints.begin()->first, unsupported_checkpoints.rbegin()->first);
    }
    return std::nullopt;
  }
  Snapshot snapshot;
  ARROW_ASSIGN_OR_RAISE(auto from_hint, LatestCheckpointVersion());
  std::optional<int64_t> checkpoint;
  if (from_hint && checkpoints.count(*from_hint) && (!max_version || *from_hint <= *max_version)) checkpoint = from_hint;
  if (!checkpoints.empty() && (!checkpoint || *checkpoints.rbegin() > *checkpoint)) checkpoint = *checkpoints.rbegin();
  if (checkpoint) {
    // A checkpoint that cannot be read (an object store where a writer died mid-upload may
    // leave an empty or partial one) is passed over for the next older one, and the commits
    // after it are replayed; one with content this reader does not support still stops it.
    std::vector<int64_t> candidates{*checkpoint};
    for (auto it = checkpoints.rbegin(); it != checkpoints.rend(); ++it) {
      if (*it < *checkpoint) candidates.push_back(*it);
    }
    checkpoint.reset();
    for (int64_t candidate : candidates) {
      Snapshot attempt;
      auto read = ReadCheckpoint(candidate, &attempt);
      if (read.ok()) {
        snapshot = std::move(attempt);
        checkpoint = candidate;
        break;
      }
      if (read.IsNotImplemented()) return read;
      spdlog::warn("Delta log of {}: checkpoint {} is unreadable ({}); using an older one or the commits",
                   location_.root, candidate, read.ToString());
    }
  }
  int64_t next = checkpoint ? *checkpoint + 1 : 0;
  for (int64_t v : commits) {
    if (v < next) continue;
    if (v != next) {
      ARROW_RETURN_NOT_OK(needs_unsupported(next - 1, v - 1));
      return arrow::Status::Invalid("Delta log of ", location_.root, " is missing commit ", next, " (found ", v, ")");
    }
    ARROW_ASSIGN_OR_RAISE(auto actions, ReadCommit(v));
    snapshot.Apply(v, actions);
    ++next;
  }
  if (snapshot.version_ < 0) return std::nullopt;
  if (max_version && snapshot.version_ != *max_version) {
    return arrow::Status::Invalid("version ", *max_version, " of ", location_.root,
                                  " cannot be rebuilt from the log (latest reachable: ", snapshot.version_, ")");
  }
  ARROW_RETURN_NOT_OK(CheckReadable(snapshot.protocol()));
  ARROW_RETURN_NOT_OK(CheckReadableMetadata(snapshot.metadata()));
  return snapshot;
}

arrow::Result<std::optional<int64_t>> DeltaLog::VersionAtOrBefore(int64_t millis) {
  arrow::fs::FileSelector selector;
  selector.base_dir = location_.Join(kLogDir);
  ARROW_ASSIGN_OR_RAISE(auto infos, storage::ListFiles(*location_.fs, selector));
  std::map<int64_t, arrow::fs::FileInfo> commits;
  for (const auto& info : infos) {
    if (auto v = VersionOf(BaseName(info.path()), ".json")) commits.emplace(*v, info);
  }
  std::optional<int64_t> found;
  for (const auto& [version, info] : commits) {
    int64_t at = std::chrono::duration_cast<std::chrono::milliseconds>(info.mtime().time_since_epoch()).count();
    auto actions = ReadCommit(version);
    if (actions.ok() && !actions->commit_info_json.empty()) {
      boost::system::error_code ec;
      auto parsed = json::parse(actions->commit_info_json, ec);
      if (!ec && parsed.is_object()) {
        const auto* ts = parsed.as_object().if_contains("timestamp");
        if (ts != nullptr && ts->is_int64()) at = ts->as_int64();
      }
    }
    if (at <= millis) found = version;
    else break;
  }
  return found;
}

arrow::Result<CommitActions> DeltaLog::ReadCommit(int64_t version) {
  const std::string path = location_.Join(CommitFileName(version));
  ARROW_ASSIGN_OR_RAISE(auto bytes, ReadWhole(*location_.fs, path));
  return ParseCommit(bytes->ToString(), path);
}

arrow::Result<int> DeltaLog::Update(Snapshot* snapshot) {
  int applied = 0;
  while (true) {
    const int64_t next = snapshot->version() + 1;
    auto info = location_.fs->GetFileInfo(location_.Join(CommitFileName(next)));
    ARROW_RETURN_NOT_OK(info.status());
    if (info->type() != arrow::fs::FileType::File) break;
    ARROW_ASSIGN_OR_RAISE(auto actions, ReadCommit(next));
    if (actions.protocol) ARROW_RETURN_NOT_OK(CheckReadable(*actions.protocol));
    snapshot->Apply(next, actions);
    ++applied;
  }
  return applied;
}

arrow::Result<bool> DeltaLog::PutCommitIfAbsent(int64_t version, const std::string& contents) {
  const std::string target = location_.Join(CommitFileName(version));
  const std::string dir = location_.Join(kLogDir);
  ARROW_RETURN_NOT_OK(location_.fs->CreateDir(dir, /*recursive=*/true));
  if (location_.local) {
    // Write a hidden temporary file, then link it to the commit name: link() fails with
    // EEXIST if the name is taken, so exactly one writer creates each version.
    std::random_device rd;
    char tmp_name[64];
    std::snprintf(tmp_name, sizeof(tmp_name), "/_commit_%08x%08x.json.tmp", rd(), rd());
    const std::string tmp = dir + tmp_name;
    ARROW_RETURN_NOT_OK(WriteWhole(location_, tmp, contents));
    const int rc = ::link(tmp.c_str(), target.c_str());
    const int err = errno;
    ::unlink(tmp.c_str());
    if (rc != 0) {
      if (err == EEXIST) return false;
      return arrow::Status::IOError("cannot create ", target, ": ", std::strerror(err));
    }
    SyncDirectory(dir);
    return true;
  }
  // Object stores: a conditional request of their own (Arrow's filesystems cannot send
  // one), when the configured credentials can sign it.
  if (storage::CheckPutIfAbsentCredentials(location_.provider, location_.options).ok()) {
    return storage::PutIfAbsent(location_.provider, location_.options, target, contents);
  }
  // Otherwise a check then write; the sink only takes this path when the user accepted
  // it with storage.allow_unsafe_commit (see its docs).
  ARROW_ASSIGN_OR_RAISE(auto info, location_.fs->GetFileInfo(target));
  if (info.type() != arrow::fs::FileType::NotFound) return false;
  ARROW_RETURN_NOT_OK(WriteWhole(location_, target, contents));
  return true;
}

arrow::Status DeltaLog::WriteCheckpoint(const Snapshot& snapshot) {
  json::array rows;
  const auto& p = snapshot.protocol();
  rows.push_back(json::object{
      {"protocol", json::object{{"minReaderVersion", p.min_reader_version},
                                {"minWriterVersion", p.min_writer_version},
                                {"readerFeatures", p.min_reader_version >= 3 ? json::value(StringArray(p.reader_features))
                                                                             : json::value(nullptr)},
                                {"writerFeatures", p.min_writer_version >= 7 ? json::value(StringArray(p.writer_features))
                                                                             : json::value(nullptr)}}}});
  const auto& m = snapshot.metadata();
  rows.push_back(json::object{
      {"metaData", json::object{{"id", m.id},
                                {"name", nullptr},
                                {"description", nullptr},
                                {"format", json::object{{"provider", "parquet"}, {"options", json::array{}}}},
                                {"schemaString", m.schema_string},
                                {"partitionColumns", StringArray(m.partition_columns)},
                                {"configuration", MapEntries(m.configuration)},
                                {"createdTime", m.created_time}}}});
  for (const auto& [app, t] : snapshot.txns()) {
    rows.push_back(json::object{
        {"txn", json::object{{"appId", t.app_id}, {"version", t.version}, {"lastUpdated", t.last_updated}}}});
  }
  for (const auto& [path, a] : snapshot.files()) {
    rows.push_back(json::object{{"add", json::object{{"path", a.path},
                                                     {"partitionValues", PartitionEntries(a.partition_values)},
                                                     {"size", a.size},
                                                     {"modificationTime", a.modification_time},
                                                     {"dataChange", false},
                                                     {"stats", a.stats.empty() ? json::value(nullptr) : json::value(a.stats)}}}});
  }
  for (const auto& [path, deleted_at] : snapshot.tombstones()) {
    rows.push_back(json::object{
        {"remove", json::object{{"path", path}, {"deletionTimestamp", deleted_at}, {"dataChange", false}}}});
  }
  const auto type = CheckpointType();
  ARROW_ASSIGN_OR_RAISE(auto array, arrow::json::ArrayFromJSONString(type, json::serialize(rows)));
  ARROW_ASSIGN_OR_RAISE(auto batch, arrow::RecordBatch::FromStructArray(array));
  ARROW_ASSIGN_OR_RAISE(auto table, arrow::Table::FromRecordBatches({batch}));

  char name[96];
  std::snprintf(name, sizeof(name), "%s/%020lld.checkpoint.parquet", kLogDir, static_cast<long long>(snapshot.version()));
  const std::string path = location_.Join(name);
  // A name of its own: two writers may checkpoint the same version at once.
  std::random_device rd;
  char tmp_name[64];
  std::snprintf(tmp_name, sizeof(tmp_name), "/_checkpoint_%08x%08x.parquet.tmp", rd(), rd());
  const std::string tmp = location_.Join(std::string(kLogDir) + tmp_name);
  {
    ARROW_ASSIGN_OR_RAISE(auto out, location_.fs->OpenOutputStream(location_.local ? tmp : path));
    auto properties = parquet::WriterProperties::Builder().compression(arrow::Compression::SNAPPY)->build();
    ARROW_RETURN_NOT_OK(parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), out, 1 << 20, properties));
    ARROW_RETURN_NOT_OK(out->Close());
  }
  if (location_.local) {
    const int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ::fsync(fd);
      ::close(fd);
    }
    ARROW_RETURN_NOT_OK(location_.fs->Move(tmp, path));
  }
  json::object last{{"version", snapshot.version()}, {"size", static_cast<int64_t>(rows.size())}};
  runtime::FaultPoint("delta.checkpoint.before_last_checkpoint");
  return ReplaceFile(location_.Join(std::string(kLogDir) + "/_last_checkpoint"), json::serialize(last));
}

arrow::Status DeltaLog::ReplaceFile(const std::string& path, const std::string& contents) {
  if (!location_.local) return WriteWhole(location_, path, contents);
  const std::string tmp = path + ".tmp";
  ARROW_RETURN_NOT_OK(WriteWhole(location_, tmp, contents));
  ARROW_RETURN_NOT_OK(location_.fs->Move(tmp, path));
  SyncDirectory(path.substr(0, path.rfind('/')));
  return arrow::Status::OK();
}

arrow::Result<std::string> DeltaLog::ReadFile(const std::string& path) {
  ARROW_ASSIGN_OR_RAISE(auto bytes, ReadWhole(*location_.fs, path));
  return bytes->ToString();
}

std::string EscapePartitionValue(const std::string& value) {
  static const char kEscaped[] = "\"#%'*/:=?\\\x7f{[]^";
  std::string out;
  for (unsigned char c : value) {
    if (c < 0x20 || std::strchr(kEscaped, c) != nullptr) {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string EncodePath(const std::string& path) {
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || std::strchr("-._~/=", c) != nullptr) {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string DecodePath(const std::string& path) {
  std::string out;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%' && i + 2 < path.size() + 0 && std::isxdigit(static_cast<unsigned char>(path[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(path[i + 2]))) {
      out += static_cast<char>(std::stoi(path.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += path[i];
    }
  }
  return out;
}

}  // namespace laminar::delta
