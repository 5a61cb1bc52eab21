#include "laminar/runtime/manifest.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "laminar/core/json_util.h"
#include "laminar/core/status.h"

namespace laminar::runtime {

namespace fs = std::filesystem;

const char* SinkCommitStatusName(SinkCommitStatus status) {
  switch (status) {
    case SinkCommitStatus::kPending: return "Pending";
    case SinkCommitStatus::kCommitted: return "Committed";
    case SinkCommitStatus::kFailed: return "Failed";
  }
  return "?";
}

std::string Manifest::ToJson() const {
  boost::json::object out;
  out["version"] = version;
  out["checkpoint_id"] = checkpoint_id;
  out["epoch"] = epoch;
  out["timestamp_ms"] = timestamp_ms;
  out["pipeline"] = pipeline;
  boost::json::object sources;
  for (const auto& [name, cp] : source_offsets) sources[name] = CheckpointToJsonValue(cp);
  out["source_offsets"] = std::move(sources);
  boost::json::object starts;
  for (const auto& [name, cp] : epoch_start) starts[name] = CheckpointToJsonValue(cp);
  out["epoch_start"] = std::move(starts);
  boost::json::object sink_states;
  for (const auto& [name, state] : sinks) {
    boost::json::object s;
    s["epoch"] = state.epoch;
    s["status"] = SinkCommitStatusName(state.status);
    if (!state.message.empty()) s["message"] = state.message;
    sink_states[name] = std::move(s);
  }
  out["sinks"] = std::move(sink_states);
  return boost::json::serialize(out);
}

arrow::Result<Manifest> Manifest::FromJson(const std::string& json) {
  boost::system::error_code ec;
  auto value = boost::json::parse(json, ec);
  if (ec) return arrow::Status::Invalid("not valid JSON (", ec.message(), ")");
  if (!value.is_object()) return arrow::Status::Invalid("not a JSON object");
  const auto& object = value.as_object();
  Manifest m;
  ARROW_ASSIGN_OR_RAISE(auto version, RequireUInt(object, "version"));
  if (version != kFormatVersion) {
    return arrow::Status::Invalid("unsupported manifest version ", version, " (this build reads ", kFormatVersion, ")");
  }
  m.version = static_cast<uint32_t>(version);
  ARROW_ASSIGN_OR_RAISE(m.checkpoint_id, RequireUInt(object, "checkpoint_id"));
  ARROW_ASSIGN_OR_RAISE(m.epoch, RequireUInt(object, "epoch"));
  ARROW_ASSIGN_OR_RAISE(auto ts, RequireUInt(object, "timestamp_ms"));
  m.timestamp_ms = static_cast<int64_t>(ts);
  ARROW_ASSIGN_OR_RAISE(m.pipeline, RequireString(object, "pipeline"));
  ARROW_ASSIGN_OR_RAISE(auto sources, RequireField(object, "source_offsets"));
  if (!sources->is_object()) return arrow::Status::Invalid("field 'source_offsets' must be an object");
  for (const auto& [name, cp] : sources->as_object()) {
    auto parsed = CheckpointFromJsonValue(cp);
    if (!parsed.ok()) return parsed.status().WithMessage("source '", std::string(name), "': ", parsed.status().message());
    m.source_offsets.emplace(std::string(name), std::move(*parsed));
  }
  if (auto it = object.find("epoch_start"); it != object.end()) {
    if (!it->value().is_object()) return arrow::Status::Invalid("field 'epoch_start' must be an object");
    for (const auto& [name, cp] : it->value().as_object()) {
      auto parsed = CheckpointFromJsonValue(cp);
      if (!parsed.ok()) {
        return parsed.status().WithMessage("epoch start of source '", std::string(name), "': ", parsed.status().message());
      }
      m.epoch_start.emplace(std::string(name), std::move(*parsed));
    }
  }
  ARROW_ASSIGN_OR_RAISE(auto sinks, RequireField(object, "sinks"));
  if (!sinks->is_object()) return arrow::Status::Invalid("field 'sinks' must be an object");
  for (const auto& [name, entry] : sinks->as_object()) {
    if (!entry.is_object()) return arrow::Status::Invalid("sink '", std::string(name), "' must be an object");
    SinkState state;
    ARROW_ASSIGN_OR_RAISE(state.epoch, RequireUInt(entry.as_object(), "epoch"));
    ARROW_ASSIGN_OR_RAISE(auto status, RequireString(entry.as_object(), "status"));
    if (status == "Pending") state.status = SinkCommitStatus::kPending;
    else if (status == "Committed") state.status = SinkCommitStatus::kCommitted;
    else if (status == "Failed") state.status = SinkCommitStatus::kFailed;
    else return arrow::Status::Invalid("sink '", std::string(name), "' has unknown status '", status, "'");
    if (auto it = entry.as_object().find("message"); it != entry.as_object().end() && it->value().is_string()) {
      state.message = std::string(it->value().as_string());
    }
    m.sinks.emplace(std::string(name), std::move(state));
  }
  return m;
}

arrow::Status SyncDirectory(const std::string& directory) {
  int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "open directory " + directory);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoError(err, "fsync directory " + directory);
  return arrow::Status::OK();
}

arrow::Status WriteFileAtomic(const std::string& path, const std::string& contents) {
  const fs::path target(path);
  const std::string temp = (target.parent_path() / ("." + target.filename().string() + ".tmp")).string();
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(errno, "create " + temp);
  size_t written = 0;
  while (written < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoError(err, "write " + temp);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError(err, "fsync " + temp);
  }
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) return ErrnoError(errno, "rename " + temp + " to " + path);
  return SyncDirectory(target.parent_path().empty() ? "." : target.parent_path().string());
}

std::string LocalManifestStore::FileName(uint64_t checkpoint_id) {
  char name[64];
  std::snprintf(name, sizeof(name), "checkpoint-%020llu.json", static_cast<unsigned long long>(checkpoint_id));
  return name;
}

arrow::Result<std::unique_ptr<LocalManifestStore>> LocalManifestStore::Open(std::string directory, int max_retained) {
  std::error_code ec;
  fs::create_directories(directory, ec);
  if (ec) return ErrnoError(ec.value(), "create checkpoint directory " + directory);
  if (!fs::is_directory(directory)) {
    return FatalError("checkpoint", "checkpoint path " + directory + " is not a directory");
  }
  return std::unique_ptr<LocalManifestStore>(new LocalManifestStore(std::move(directory), std::max(1, max_retained)));
}

namespace {
// Checkpoint ids present in the directory, ascending. Temp files (".x.tmp") are not
// checkpoints: a crash during Save leaves one behind and it must be ignored.
std::vector<uint64_t> ListCheckpointIds(const std::string& directory) {
  std::vector<uint64_t> ids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(directory, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() != 36 || name.rfind("checkpoint-", 0) != 0 || name.substr(31) != ".json") continue;
    const std::string digits = name.substr(11, 20);
    if (digits.find_first_not_of("0123456789") != std::string::npos) continue;
    ids.push_back(std::stoull(digits));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}
}  // namespace

arrow::Result<std::optional<Manifest>> LocalManifestStore::LoadLatest() {
  if (!fs::exists(directory_)) {
    return FatalError("checkpoint", "checkpoint directory " + directory_ + " has disappeared");
  }
  auto ids = ListCheckpointIds(directory_);
  if (ids.empty()) return std::optional<Manifest>();
  const std::string path = (fs::path(directory_) / FileName(ids.back())).string();
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError(errno, "read checkpoint manifest " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto manifest = Manifest::FromJson(buffer.str());
  if (!manifest.ok()) {
    return FatalError("checkpoint", "checkpoint manifest " + path + " is corrupt: " + manifest.status().message() +
                                        " (refusing to start from an older or empty state; move the file away "
                                        "only if you accept replaying or losing that epoch)");
  }
  if (manifest->checkpoint_id != ids.back()) {
    return FatalError("checkpoint", "checkpoint manifest " + path + " holds checkpoint id " +
                                        std::to_string(manifest->checkpoint_id));
  }
  return std::optional<Manifest>(std::move(*manifest));
}

arrow::Status LocalManifestStore::Save(const Manifest& manifest) {
  if (manifest.checkpoint_id == 0) return arrow::Status::Invalid("checkpoint id 0 is reserved");
  ARROW_RETURN_NOT_OK(WriteFileAtomic((fs::path(directory_) / FileName(manifest.checkpoint_id)).string(),
                                      manifest.ToJson()));
  return Prune();
}

arrow::Status LocalManifestStore::Prune() {
  auto ids = ListCheckpointIds(directory_);
  while (ids.size() > static_cast<size_t>(max_retained_)) {
    std::error_code ec;
    fs::remove(fs::path(directory_) / FileName(ids.front()), ec);
    if (ec) return ErrnoError(ec.value(), "remove old checkpoint " + FileName(ids.front()));
    ids.erase(ids.begin());
  }
  return arrow::Status::OK();
}

}  // namespace laminar::runtime
