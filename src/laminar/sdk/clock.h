// A monotonic clock the SDK's time-based pieces take by pointer, so tests can drive time
// by hand instead of sleeping.
#pragma once

#include <chrono>
#include <mutex>
#include <thread>

namespace laminar::sdk {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  virtual void SleepFor(Duration duration) = 0;
};

class SystemClock : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  void SleepFor(Duration duration) override { std::this_thread::sleep_for(duration); }
  // A process-wide instance for the default case.
  static SystemClock* Instance() {
    static SystemClock clock;
    return &clock;
  }
};

// Time moves only when told to; SleepFor advances it (so a blocking call returns at once
// and the test can check how long it "waited").
class ManualClock : public Clock {
 public:
  TimePoint Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void SleepFor(Duration duration) override { Advance(duration); }
  void Advance(Duration duration) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += duration;
    slept_ += duration;
  }
  Duration total_advanced() const {
    std::lock_guard<std::mutex> lock(mu_);
    return slept_;
  }

 private:
  mutable std::mutex mu_;
  TimePoint now_{};
  Duration slept_{};
};

}  // namespace laminar::sdk
