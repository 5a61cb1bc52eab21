#include "laminar/runtime/fault_points.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>

namespace laminar::runtime {

namespace {
struct EnvFault {
  std::string name;
  long hit_at = 1;
  std::atomic<long> hits{0};
};

EnvFault* LoadEnvFault() {
  const char* spec = std::getenv("LAMINAR_FAULT_POINT");
  if (spec == nullptr || *spec == '\0') return nullptr;
  auto* fault = new EnvFault();
  std::string text(spec);
  if (auto colon = text.find(':'); colon != std::string::npos) {
    fault->name = text.substr(0, colon);
    fault->hit_at = std::max(1L, std::strtol(text.c_str() + colon + 1, nullptr, 10));
  } else {
    fault->name = text;
  }
  return fault;
}

EnvFault* env_fault() {
  static EnvFault* fault = LoadEnvFault();
  return fault;
}

std::function<void(const std::string&)>& handler() {
  static std::function<void(const std::string&)> h;
  return h;
}
}  // namespace

const std::vector<std::string>& KnownFaultPoints() {
  static const std::vector<std::string> points = {
      "checkpoint.after_drain",   "checkpoint.after_pre_commit", "checkpoint.after_persist",
      "checkpoint.after_first_sink_commit", "checkpoint.after_commit", "checkpoint.after_status_persist",
      "files.commit.mid_rename",  "files.pre_commit.after_sync",
      "delta.pre_commit.after_stage", "delta.commit.after_log_write", "delta.checkpoint.before_last_checkpoint",
      "replay.after_pre_commit",  "replay.after_commit",
      "kafka.pre_commit.after_flush", "kafka.pre_commit.after_marker",
      "kafka.commit.before_commit_transaction", "kafka.commit.after_commit_transaction"};
  return points;
}

void FaultPoint(const char* name) {
  if (EnvFault* fault = env_fault(); fault != nullptr && fault->name == name) {
    if (fault->hits.fetch_add(1) + 1 == fault->hit_at) {
      ::kill(::getpid(), SIGKILL);
      ::pause();
    }
  }
  if (auto& h = handler()) h(name);
}

void SetFaultHandler(std::function<void(const std::string&)> h) { handler() = std::move(h); }

}  // namespace laminar::runtime
