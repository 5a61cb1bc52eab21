#include "laminar/sdk/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace laminar::sdk {

namespace {
Clock::Duration SecondsToDuration(double seconds) {
  return std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(std::max(seconds, 0.0)));
}
double Seconds(Clock::Duration d) { return std::chrono::duration<double>(d).count(); }
}  // namespace

TokenBucket::TokenBucket(double rate_per_second, double capacity, Clock* clock)
    : rate_(std::max(rate_per_second, 1e-9)), capacity_(std::max(capacity, 1.0)), clock_(clock),
      state_(std::make_shared<State>()) {
  state_->tokens = capacity_;
  state_->last = clock_->Now();
}

TokenBucket TokenBucket::FromRatePerSecond(double rate, Clock* clock) {
  return TokenBucket(rate, std::max(rate / 10.0, 1.0), clock);
}

void TokenBucket::RefillLocked(State& s) const {
  const auto now = clock_->Now();
  s.tokens = std::min(capacity_, s.tokens + Seconds(now - s.last) * rate_);
  s.last = now;
}

bool TokenBucket::TryAcquire(int64_t permits) {
  std::lock_guard<std::mutex> lock(state_->mu);
  RefillLocked(*state_);
  if (state_->tokens + 1e-9 < static_cast<double>(permits)) return false;
  state_->tokens -= static_cast<double>(permits);
  return true;
}

void TokenBucket::Acquire(int64_t permits) {
  // More permits than the bucket holds would never fit: take them in capacity-sized steps.
  while (permits > 0) {
    const int64_t step = std::min<int64_t>(permits, static_cast<int64_t>(capacity_));
    while (!TryAcquire(step)) {
      double missing;
      {
        std::lock_guard<std::mutex> lock(state_->mu);
        missing = static_cast<double>(step) - state_->tokens;
      }
      clock_->SleepFor(SecondsToDuration(std::max(missing, 0.001) / rate_));
    }
    permits -= step;
  }
}

double TokenBucket::Available() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  RefillLocked(*state_);
  return state_->tokens;
}

LeakyBucket::LeakyBucket(double rate_per_second, double capacity, Clock* clock)
    : rate_(std::max(rate_per_second, 1e-9)), capacity_(std::max(capacity, 1.0)), clock_(clock),
      state_(std::make_shared<State>()) {
  state_->last = clock_->Now();
}

LeakyBucket LeakyBucket::FromRatePerSecond(double rate, Clock* clock) {
  return LeakyBucket(rate, std::max(rate / 10.0, 10.0), clock);
}

void LeakyBucket::DrainLocked(State& s) const {
  const auto now = clock_->Now();
  s.level = std::max(0.0, s.level - Seconds(now - s.last) * rate_);
  s.last = now;
}

bool LeakyBucket::TryAcquire(int64_t permits) {
  std::lock_guard<std::mutex> lock(state_->mu);
  DrainLocked(*state_);
  if (std::ceil(state_->level - 1e-9) + static_cast<double>(permits) > capacity_) return false;
  state_->level += static_cast<double>(permits);
  return true;
}

void LeakyBucket::Acquire(int64_t permits) {
  while (permits > 0) {
    const int64_t step = std::min<int64_t>(permits, static_cast<int64_t>(capacity_));
    while (!TryAcquire(step)) {
      double excess;
      {
        std::lock_guard<std::mutex> lock(state_->mu);
        excess = state_->level + static_cast<double>(step) - capacity_;
      }
      clock_->SleepFor(SecondsToDuration(std::max(excess, 1.0) / rate_));
    }
    permits -= step;
  }
}

double LeakyBucket::Available() const { return capacity_ - level(); }

double LeakyBucket::level() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  DrainLocked(*state_);
  return std::ceil(state_->level - 1e-9);
}

}  // namespace laminar::sdk
