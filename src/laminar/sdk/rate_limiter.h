// Rate limiters for source polls, sink writes and dead letters. Copies share state; all
// methods are thread-safe. Multi-permit acquisition is atomic: all or nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>

#include "laminar/sdk/clock.h"

namespace laminar::sdk {

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Takes `permits` now if all are available; otherwise takes none.
  virtual bool TryAcquire(int64_t permits = 1) = 0;
  // Blocks (on the clock) until `permits` can be taken at once, then takes them.
  virtual void Acquire(int64_t permits = 1) = 0;
  virtual double Available() const = 0;
};

// Starts full; refills continuously at `rate_per_second` up to `capacity`.
class TokenBucket : public RateLimiter {
 public:
  TokenBucket(double rate_per_second, double capacity, Clock* clock = SystemClock::Instance());
  // capacity = max(rate/10, 1)
  static TokenBucket FromRatePerSecond(double rate, Clock* clock = SystemClock::Instance());
  bool TryAcquire(int64_t permits = 1) override;
  void Acquire(int64_t permits = 1) override;
  double Available() const override;
  double capacity() const { return capacity_; }

 private:
  struct State {
    std::mutex mu;
    double tokens = 0;
    Clock::TimePoint last{};
  };
  void RefillLocked(State& s) const;
  double rate_;
  double capacity_;
  Clock* clock_;
  std::shared_ptr<State> state_;
};

// A queue of `capacity` slots draining at `rate_per_second`: admits while the level is
// below capacity, so bursts are capped and output is smooth.
class LeakyBucket : public RateLimiter {
 public:
  LeakyBucket(double rate_per_second, double capacity, Clock* clock = SystemClock::Instance());
  // capacity = max(rate/10, 10)
  static LeakyBucket FromRatePerSecond(double rate, Clock* clock = SystemClock::Instance());
  bool TryAcquire(int64_t permits = 1) override;
  void Acquire(int64_t permits = 1) override;
  double Available() const override;
  double level() const;

 private:
  struct State {
    std::mutex mu;
    double level = 0;
    Clock::TimePoint last{};
  };
  void DrainLocked(State& s) const;
  double rate_;
  double capacity_;
  Clock* clock_;
  std::shared_ptr<State> state_;
};

class NoopRateLimiter : public RateLimiter {
 public:
  bool TryAcquire(int64_t) override { return true; }
  void Acquire(int64_t) override {}
  double Available() const override { return 1e300; }
};

}  // namespace laminar::sdk
