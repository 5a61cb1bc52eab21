// Error model: arrow::Status everywhere, with one StatusDetail that says how a caller
// should react (retry, give up, abort the transaction) and where the error came from.
#pragma once

#include <arrow/status.h>

#include <memory>
#include <string>

namespace laminar {

// What the caller should do about an error. The three-way split transient / fatal /
// needs-abort is the one exactly-once needs (librdkafka's error object has the same).
enum class ErrorKind {
  kTransient,   // retrying the same call may succeed (network blip, timeout, busy)
  kFatal,       // retrying will not help; the pipeline stops
  kNeedsAbort,  // the current epoch/transaction must be rolled back, then work can go on
  kFenced,      // another instance owns this resource now; stop without committing
  kConfig,      // bad user input (config key, DDL): exit code 2
  kEpochLost,   // a sink cannot finish a decided epoch: its staged output is gone (a Kafka
                // transaction the broker aborted); the runtime replays the epoch into it
};

const char* ErrorKindName(ErrorKind kind);

class ConnectorErrorDetail : public arrow::StatusDetail {
 public:
  static constexpr const char* kTypeId = "laminar::ConnectorErrorDetail";

  ConnectorErrorDetail(ErrorKind kind, std::string origin, int native_code = 0)
      : kind_(kind), origin_(std::move(origin)), native_code_(native_code) {}

  const char* type_id() const override { return kTypeId; }
  std::string ToString() const override;

  ErrorKind kind() const { return kind_; }
  // The library or subsystem the error came from ("librdkafka", "libpq", "posix", "config").
  const std::string& origin() const { return origin_; }
  // The origin's own error code (errno, rd_kafka_resp_err_t, ...); 0 when there is none.
  int native_code() const { return native_code_; }

 private:
  ErrorKind kind_;
  std::string origin_;
  int native_code_;
};

// Builds a status of the right arrow code carrying a ConnectorErrorDetail.
arrow::Status MakeError(ErrorKind kind, std::string origin, std::string message, int native_code = 0);

inline arrow::Status TransientError(std::string origin, std::string message, int native_code = 0) {
  return MakeError(ErrorKind::kTransient, std::move(origin), std::move(message), native_code);
}
inline arrow::Status FatalError(std::string origin, std::string message, int native_code = 0) {
  return MakeError(ErrorKind::kFatal, std::move(origin), std::move(message), native_code);
}
inline arrow::Status NeedsAbortError(std::string origin, std::string message, int native_code = 0) {
  return MakeError(ErrorKind::kNeedsAbort, std::move(origin), std::move(message), native_code);
}
// SinkConnector::CommitEpoch: the epoch's staged output no longer exists and cannot be
// committed; only a replay of the epoch's input can produce it again.
inline arrow::Status EpochLostError(std::string origin, std::string message, int native_code = 0) {
  return MakeError(ErrorKind::kEpochLost, std::move(origin), std::move(message), native_code);
}
// A user-input error: names what is wrong and where. `where` is e.g. "source 'orders'".
arrow::Status ConfigError(const std::string& where, const std::string& message);

// Translates errno into a status: EINTR/EAGAIN/ETIMEDOUT/... are transient, the rest fatal.
arrow::Status ErrnoError(int err, const std::string& what);

// The kind a status carries; statuses without a detail are classified by their arrow code
// (IOError -> transient, Invalid/TypeError/KeyError -> config, everything else -> fatal).
ErrorKind KindOf(const arrow::Status& status);

// True when repeating the failed call may succeed.
inline bool IsRetryable(const arrow::Status& status) {
  return !status.ok() && KindOf(status) == ErrorKind::kTransient;
}

}  // namespace laminar
