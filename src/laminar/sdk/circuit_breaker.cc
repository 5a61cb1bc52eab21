#include "laminar/sdk/circuit_breaker.h"

#include <algorithm>

#include "laminar/core/status.h"

namespace laminar::sdk {

const char* CircuitStateName(CircuitState state) {
  switch (state) {
    case CircuitState::kClosed: return "Closed";
    case CircuitState::kOpen: return "Open";
    case CircuitState::kHalfOpen: return "HalfOpen";
  }
  return "?";
}

struct CircuitBreaker::State {
  mutable std::mutex mu;
  mutable CircuitState state = CircuitState::kClosed;
  int failures = 0;
  int successes = 0;
  int probes_in_flight = 0;
  Clock::TimePoint opened_at{};
};

CircuitBreaker::CircuitBreaker(CircuitBreakerOptions options, Clock* clock)
    : state_(std::make_shared<State>()), options_(options), clock_(clock) {
  options_.failure_threshold = std::max(1, options_.failure_threshold);
  options_.half_open_successes_required = std::max(1, options_.half_open_successes_required);
  options_.half_open_max_probes = std::max(1, options_.half_open_max_probes);
}

void CircuitBreaker::RefreshLocked(State& s) const {
  if (s.state == CircuitState::kOpen && clock_->Now() - s.opened_at >= options_.reset_timeout) {
    s.state = CircuitState::kHalfOpen;
    s.successes = 0;
    s.probes_in_flight = 0;
  }
}

CircuitState CircuitBreaker::state() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  RefreshLocked(*state_);
  return state_->state;
}

bool CircuitBreaker::Allow() {
  std::lock_guard<std::mutex> lock(state_->mu);
  State& s = *state_;
  RefreshLocked(s);
  switch (s.state) {
    case CircuitState::kClosed: return true;
    case CircuitState::kOpen: return false;
    case CircuitState::kHalfOpen:
      if (s.probes_in_flight >= options_.half_open_max_probes) return false;
      ++s.probes_in_flight;
      return true;
  }
  return false;
}

void CircuitBreaker::RecordSuccess() {
  std::lock_guard<std::mutex> lock(state_->mu);
  State& s = *state_;
  switch (s.state) {
    case CircuitState::kClosed: s.failures = 0; break;
    case CircuitState::kOpen: break;
    case CircuitState::kHalfOpen:
      s.probes_in_flight = std::max(0, s.probes_in_flight - 1);
      if (++s.successes >= options_.half_open_successes_required) {
        s.state = CircuitState::kClosed;
        s.failures = 0;
        s.successes = 0;
      }
      break;
  }
}

void CircuitBreaker::RecordFailure() {
  std::lock_guard<std::mutex> lock(state_->mu);
  State& s = *state_;
  switch (s.state) {
    case CircuitState::kClosed:
      if (++s.failures >= options_.failure_threshold) {
        s.state = CircuitState::kOpen;
        s.opened_at = clock_->Now();
      }
      break;
    case CircuitState::kOpen: s.opened_at = clock_->Now(); break;
    case CircuitState::kHalfOpen:
      s.state = CircuitState::kOpen;
      s.opened_at = clock_->Now();
      s.successes = 0;
      s.probes_in_flight = 0;
      break;
  }
}

void CircuitBreaker::Reset() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->state = CircuitState::kClosed;
  state_->failures = 0;
  state_->successes = 0;
  state_->probes_in_flight = 0;
}

int CircuitBreaker::failure_count() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->failures;
}

arrow::Status WithCircuitBreaker(CircuitBreaker& breaker, const std::function<arrow::Status()>& op) {
  if (!breaker.Allow()) return TransientError("circuit-breaker", "circuit breaker is open: not calling the dependency");
  arrow::Status status = op();
  if (status.ok()) {
    breaker.RecordSuccess();
  } else {
    breaker.RecordFailure();
  }
  return status;
}

}  // namespace laminar::sdk
