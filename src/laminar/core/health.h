// Health and counters a connector reports. Read by the runtime's status line, /health and
// /metrics; never carries config values.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace laminar {

class HealthStatus {
 public:
  enum class State { kUnknown, kHealthy, kDegraded, kUnhealthy };

  HealthStatus() = default;
  static HealthStatus Healthy() { return HealthStatus(State::kHealthy, ""); }
  static HealthStatus Degraded(std::string reason) { return HealthStatus(State::kDegraded, std::move(reason)); }
  static HealthStatus Unhealthy(std::string reason) { return HealthStatus(State::kUnhealthy, std::move(reason)); }

  State state() const { return state_; }
  const std::string& reason() const { return reason_; }
  bool is_healthy() const { return state_ == State::kHealthy; }
  bool is_operational() const { return state_ == State::kHealthy || state_ == State::kDegraded; }

  // "Healthy", "Degraded: <reason>", "Unhealthy: <reason>", "Unknown".
  std::string ToString() const {
    switch (state_) {
      case State::kHealthy: return "Healthy";
      case State::kDegraded: return "Degraded: " + reason_;
      case State::kUnhealthy: return "Unhealthy: " + reason_;
      case State::kUnknown: break;
    }
    return "Unknown";
  }

 private:
  HealthStatus(State state, std::string reason) : state_(state), reason_(std::move(reason)) {}
  State state_ = State::kUnknown;
  std::string reason_;
};

struct ConnectorMetrics {
  uint64_t records_total = 0;
  uint64_t bytes_total = 0;
  uint64_t errors_total = 0;
  // Sources: records behind the head; sinks: records staged but not yet committed.
  uint64_t lag = 0;
  std::vector<std::pair<std::string, double>> custom;

  void AddCustom(std::string name, double value) { custom.emplace_back(std::move(name), value); }
};

}  // namespace laminar
