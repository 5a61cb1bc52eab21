#include "laminar/kafka/kafka_alignment.h"

#include <algorithm>

namespace laminar::kafka {

std::shared_ptr<AlignmentGroup> AlignmentGroup::Get(const std::string& id) {
  static std::mutex registry_mu;
  static std::map<std::string, std::weak_ptr<AlignmentGroup>> registry;
  std::lock_guard<std::mutex> lock(registry_mu);
  auto& slot = registry[id];
  auto group = slot.lock();
  if (!group) {
    group = std::make_shared<AlignmentGroup>();
    slot = group;
  }
  return group;
}

int AlignmentGroup::Join() {
  std::lock_guard<std::mutex> lock(mu_);
  const int member = next_member_++;
  watermarks_[member] = std::nullopt;
  return member;
}

void AlignmentGroup::Leave(int member) {
  std::lock_guard<std::mutex> lock(mu_);
  watermarks_.erase(member);
}

void AlignmentGroup::Publish(int member, std::optional<int64_t> watermark_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  watermarks_[member] = watermark_ms;
}

std::optional<int64_t> AlignmentGroup::Bound(std::chrono::milliseconds drift) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<int64_t> slowest;
  for (const auto& [member, watermark] : watermarks_) {
    if (watermark) slowest = slowest ? std::min(*slowest, *watermark) : *watermark;
  }
  if (!slowest) return std::nullopt;
  return *slowest + drift.count();
}

}  // namespace laminar::kafka
