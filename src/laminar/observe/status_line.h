// Live progress of a running pipeline: one rewritten line on a terminal, a plain log line
// every few seconds otherwise. Owns one thread that polls the stats callback.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "laminar/runtime/pipeline.h"

namespace laminar::observe {

class StatusLine {
 public:
  // `stats` is called from the status thread (and once more from Stop on a tty); it must
  // stay callable until Stop returns. Only counters are printed, never connector configs.
  StatusLine(std::function<runtime::PipelineStats()> stats, bool is_tty, std::FILE* out = stderr,
             std::chrono::milliseconds tty_interval = std::chrono::milliseconds(500),
             std::chrono::milliseconds log_interval = std::chrono::seconds(10));
  StatusLine(const StatusLine&) = delete;
  StatusLine& operator=(const StatusLine&) = delete;
  ~StatusLine();  // calls Stop

  // Starts the status thread; no-op while it runs. Start after Stop starts a new one.
  void Start();
  // Stops and joins the thread. On a tty draws the line one last time and ends it with a
  // newline so later output starts on a fresh line. Idempotent.
  void Stop();

  // "epoch 12 | in 1,234,567 rows (250,000/s) | out 1,234,000 rows | last checkpoint 1.2s
  // ago (35 ms) | Running"; the rate is rows_in between `before` and `now` over `seconds`.
  static std::string Format(const runtime::PipelineStats& now, const runtime::PipelineStats& before, double seconds,
                            int64_t now_unix_ms);

 private:
  void Loop();
  void Write(const std::string& line);

  std::function<runtime::PipelineStats()> stats_;
  const bool is_tty_;
  std::FILE* out_;
  const std::chrono::milliseconds interval_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_requested_ = false;
  std::thread thread_;
  // Status-thread state, read by Stop after the join for the final tty line.
  runtime::PipelineStats last_;
  std::chrono::steady_clock::time_point last_time_;
};

}  // namespace laminar::observe
