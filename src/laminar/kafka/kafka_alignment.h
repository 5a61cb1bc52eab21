// Watermark alignment between the sources of one process (spec 20 §1.8): sources naming the
// same alignment.group.id publish their watermarks here, and each may run at most the
// allowed drift ahead of the slowest. A member without a watermark yet holds nobody back.
// Thread-safe: every source's poll thread calls it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace laminar::kafka {

class AlignmentGroup {
 public:
  // The process-wide group with this id, created on first use.
  static std::shared_ptr<AlignmentGroup> Get(const std::string& id);

  int Join();
  void Leave(int member);
  void Publish(int member, std::optional<int64_t> watermark_ms);
  // The largest event time a member may emit: the slowest published watermark plus
  // `drift`; nullopt while no member has a watermark.
  std::optional<int64_t> Bound(std::chrono::milliseconds drift) const;

 private:
  mutable std::mutex mu_;
  int next_member_ = 0;
  std::map<int, std::optional<int64_t>> watermarks_;
};

}  // namespace laminar::kafka
