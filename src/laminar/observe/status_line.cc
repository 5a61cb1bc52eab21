// StatusLine: a polling thread that formats PipelineStats. The status thread is the only
// writer to `out` while it runs; Stop writes the final tty line after joining it.
#include "laminar/observe/status_line.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace laminar::observe {

namespace {

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// 1234567 -> "1,234,567".
std::string WithThousands(int64_t value) {
  std::string digits = std::to_string(value < 0 ? -(value + 1) + 1ULL : static_cast<uint64_t>(value));
  std::string out;
  out.reserve(digits.size() + digits.size() / 3 + 1);
  if (value < 0) out += '-';
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string FormatAge(int64_t age_ms) {
  char buf[32];
  age_ms = std::max<int64_t>(0, age_ms);
  const int64_t s = age_ms / 1000;
  if (s < 60) {
    std::snprintf(buf, sizeof(buf), "%.1fs", static_cast<double>(age_ms) / 1000.0);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof(buf), "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  }
  return buf;
}

std::string FormatDuration(int64_t duration_us) {
  char buf[32];
  if (duration_us < 1000000) {
    std::snprintf(buf, sizeof(buf), "%lld ms", static_cast<long long>(std::max<int64_t>(0, duration_us) / 1000));
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f s", static_cast<double>(duration_us) / 1e6);
  }
  return buf;
}

// Columns of the terminal behind `out`, 0 when unknown. A line wider than the terminal
// wraps, and "\r\033[K" then only clears its last row.
size_t TerminalWidth(std::FILE* out) {
  winsize ws{};
  if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1) return ws.ws_col;
  return 0;
}

}  // namespace

StatusLine::StatusLine(std::function<runtime::PipelineStats()> stats, bool is_tty, std::FILE* out,
                       std::chrono::milliseconds tty_interval, std::chrono::milliseconds log_interval)
    : stats_(std::move(stats)), is_tty_(is_tty), out_(out), interval_(is_tty ? tty_interval : log_interval) {}

StatusLine::~StatusLine() { Stop(); }

void StatusLine::Start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_requested_ = false;
  }
  last_ = stats_();
  last_time_ = std::chrono::steady_clock::now();
  thread_ = std::thread([this] { Loop(); });
}

void StatusLine::Stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_requested_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (is_tty_) {
    const auto now = stats_();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - last_time_).count();
    Write(Format(now, last_, seconds, NowUnixMs()));
    std::fputc('\n', out_);
    std::fflush(out_);
  }
}

void StatusLine::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, interval_, [this] { return stop_requested_; })) {
    lock.unlock();  // the stats callback may take the pipeline's locks
    const auto now = stats_();
    const auto now_time = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now_time - last_time_).count();
    Write(Format(now, last_, seconds, NowUnixMs()));
    last_ = now;
    last_time_ = now_time;
    lock.lock();
  }
}

void StatusLine::Write(const std::string& line) {
  if (is_tty_) {
    std::string shown = line;
    if (size_t width = TerminalWidth(out_); width > 0 && shown.size() >= width) shown.resize(width - 1);
    std::fputs("\r\033[K", out_);
    std::fputs(shown.c_str(), out_);
  } else {
    std::fputs(line.c_str(), out_);
    std::fputc('\n', out_);
  }
  std::fflush(out_);
}

std::string StatusLine::Format(const runtime::PipelineStats& now, const runtime::PipelineStats& before,
                               double seconds, int64_t now_unix_ms) {
  int64_t rate = 0;
  if (seconds > 0) {
    rate = std::llround(static_cast<double>(std::max<int64_t>(0, now.rows_in - before.rows_in)) / seconds);
  }
  std::string out = "epoch " + std::to_string(now.epoch);
  out += " | in " + WithThousands(now.rows_in) + " rows (" + WithThousands(rate) + "/s)";
  out += " | out " + WithThousands(now.rows_out) + " rows";
  if (now.last_checkpoint_unix_ms > 0) {
    out += " | last checkpoint " + FormatAge(now_unix_ms - now.last_checkpoint_unix_ms) + " ago (" +
           FormatDuration(now.last_checkpoint_duration_us) + ")";
  } else {
    out += " | no checkpoint yet";
  }
  if (now.checkpoints_failed > 0) {
    out += " | " + WithThousands(now.checkpoints_failed) +
           (now.checkpoints_failed == 1 ? " checkpoint failed" : " checkpoints failed");
  }
  if (!now.phase.empty()) out += " | " + now.phase;
  return out;
}

}  // namespace laminar::observe
