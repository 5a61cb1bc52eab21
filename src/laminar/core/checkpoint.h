// A source's position at a checkpoint: string offsets plus metadata, tagged with the
// epoch it belongs to. Serialised to JSON inside the checkpoint manifest.
#pragma once

#include <arrow/result.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace laminar {

class SourceCheckpoint {
 public:
  SourceCheckpoint() = default;
  explicit SourceCheckpoint(uint64_t epoch) : epoch_(epoch) {}

  uint64_t epoch() const { return epoch_; }
  void set_epoch(uint64_t epoch) { epoch_ = epoch; }

  void SetOffset(const std::string& key, std::string value) { offsets_[key] = std::move(value); }
  std::optional<std::string> GetOffset(const std::string& key) const;
  const std::map<std::string, std::string>& offsets() const { return offsets_; }

  void SetMetadata(const std::string& key, std::string value) { metadata_[key] = std::move(value); }
  std::optional<std::string> GetMetadata(const std::string& key) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // No offsets: the source starts from its configured beginning. Metadata is ignored.
  bool empty() const { return offsets_.empty(); }

  std::string ToJson() const;
  static arrow::Result<SourceCheckpoint> FromJson(const std::string& json);

  bool operator==(const SourceCheckpoint&) const = default;

 private:
  uint64_t epoch_ = 0;
  std::map<std::string, std::string> offsets_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace laminar
