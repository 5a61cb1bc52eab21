// Fail fast while a dependency is down: Closed -> (failures >= threshold) Open ->
// (reset_timeout elapsed) HalfOpen -> (enough probe successes) Closed, or back to Open on
// a probe failure. HalfOpen admits at most `half_open_max_probes` calls at a time.
// Copies share state; all methods are thread-safe.
#pragma once

#include <arrow/status.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>

#include "laminar/sdk/clock.h"

namespace laminar::sdk {

enum class CircuitState { kClosed, kOpen, kHalfOpen };
const char* CircuitStateName(CircuitState state);

struct CircuitBreakerOptions {
  int failure_threshold = 5;
  std::chrono::milliseconds reset_timeout{30000};
  int half_open_successes_required = 1;  // at least 1
  int half_open_max_probes = 1;          // at least 1
};

class CircuitBreaker {
 public:
  explicit CircuitBreaker(CircuitBreakerOptions options = {}, Clock* clock = SystemClock::Instance());

  CircuitState state() const;
  // True when a call may go ahead. In HalfOpen this takes one of the probe slots, which
  // the following RecordSuccess/RecordFailure gives back.
  bool Allow();
  void RecordSuccess();
  void RecordFailure();
  void Reset();
  int failure_count() const;

 private:
  struct State;
  void RefreshLocked(State& s) const;
  std::shared_ptr<State> state_;
  CircuitBreakerOptions options_;
  Clock* clock_;
};

// Runs op through the breaker: refused while open (a transient error saying so), else
// records the outcome.
arrow::Status WithCircuitBreaker(CircuitBreaker& breaker, const std::function<arrow::Status()>& op);

}  // namespace laminar::sdk
