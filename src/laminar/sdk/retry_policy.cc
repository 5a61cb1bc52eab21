#include "laminar/sdk/retry_policy.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <random>
#include <thread>

namespace laminar::sdk {

RetryPolicy RetryPolicy::Exponential(int retries, std::chrono::milliseconds initial) {
  RetryPolicy p;
  p.max_retries = retries;
  p.initial_backoff = initial;
  return p;
}

RetryPolicy RetryPolicy::Fixed(int retries, std::chrono::milliseconds delay) {
  RetryPolicy p;
  p.max_retries = retries;
  p.initial_backoff = delay;
  p.max_backoff = delay;
  p.multiplier = 1.0;
  p.jitter = 0;
  return p;
}

RetryPolicy RetryPolicy::None() {
  RetryPolicy p;
  p.max_retries = 0;
  return p;
}

std::chrono::milliseconds RetryPolicy::DelayForAttempt(int attempt, double unit_random) const {
  if (attempt <= 0) return std::chrono::milliseconds(0);
  const double base = std::min(static_cast<double>(initial_backoff.count()) * std::pow(multiplier, attempt - 1),
                               static_cast<double>(max_backoff.count()));
  const double j = std::clamp(jitter, 0.0, 1.0);
  const double offset = j * base * (2.0 * unit_random - 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(std::max(0.0, std::round(base + offset))));
}

double DefaultUnitRandom() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mu);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

void DefaultSleep(std::chrono::milliseconds delay) { std::this_thread::sleep_for(delay); }

arrow::Status WithRetry(const RetryPolicy& policy, const std::function<arrow::Status()>& op,
                        const std::function<void(int, const arrow::Status&)>& on_error, const Sleeper& sleep,
                        const UnitRandom& random) {
  for (int attempt = 0;; ++attempt) {
    arrow::Status status = op();
    if (status.ok()) return status;
    if (on_error) on_error(attempt, status);
    if (!IsRetryable(status) || !policy.ShouldRetry(attempt)) return status;
    sleep(policy.DelayForAttempt(attempt + 1, random()));
  }
}

}  // namespace laminar::sdk
