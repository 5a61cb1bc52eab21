// Exponential backoff with real random jitter, retrying only errors that say a retry may
// help (IsRetryable). The RNG and the sleep are injectable so tests run without waiting.
#pragma once

#include <arrow/result.h>
#include <arrow/status.h>

#include <chrono>
#include <cstdint>
#include <functional>

#include "laminar/core/status.h"

namespace laminar::sdk {

struct RetryPolicy {
  int max_retries = 3;  // retries after the first try
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{60000};
  double multiplier = 2.0;
  double jitter = 0.1;  // fraction of the delay, clamped to [0, 1]

  static RetryPolicy Exponential(int retries, std::chrono::milliseconds initial);
  static RetryPolicy Fixed(int retries, std::chrono::milliseconds delay);
  static RetryPolicy None();

  bool ShouldRetry(int attempt) const { return attempt < max_retries; }
  // Delay before retry number `attempt` (1-based; 0 gives 0). `unit_random` is uniform in [0,1).
  std::chrono::milliseconds DelayForAttempt(int attempt, double unit_random) const;
};

using Sleeper = std::function<void(std::chrono::milliseconds)>;
using UnitRandom = std::function<double()>;

// A thread-safe uniform [0,1) source seeded from the OS.
double DefaultUnitRandom();
void DefaultSleep(std::chrono::milliseconds delay);

// Runs op until it succeeds, fails with a non-retryable error, or retries run out; returns
// the last status. on_error (optional) sees every failure with its 0-based attempt number.
arrow::Status WithRetry(const RetryPolicy& policy, const std::function<arrow::Status()>& op,
                        const std::function<void(int, const arrow::Status&)>& on_error = {},
                        const Sleeper& sleep = DefaultSleep, const UnitRandom& random = DefaultUnitRandom);

}  // namespace laminar::sdk
