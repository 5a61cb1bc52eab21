#include "laminar/core/status.h"

#include <cerrno>
#include <cstring>

namespace laminar {

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kTransient: return "transient";
    case ErrorKind::kFatal: return "fatal";
    case ErrorKind::kNeedsAbort: return "needs-abort";
    case ErrorKind::kFenced: return "fenced";
    case ErrorKind::kConfig: return "config";
    case ErrorKind::kEpochLost: return "epoch-lost";
  }
  return "unknown";
}

std::string ConnectorErrorDetail::ToString() const {
  std::string out = std::string(ErrorKindName(kind_)) + " error from " + origin_;
  if (native_code_ != 0) out += " (code " + std::to_string(native_code_) + ")";
  return out;
}

arrow::Status MakeError(ErrorKind kind, std::string origin, std::string message, int native_code) {
  arrow::StatusCode code = arrow::StatusCode::IOError;
  switch (kind) {
    case ErrorKind::kTransient: code = arrow::StatusCode::IOError; break;
    case ErrorKind::kFatal: code = arrow::StatusCode::UnknownError; break;
    case ErrorKind::kNeedsAbort: code = arrow::StatusCode::Cancelled; break;
    case ErrorKind::kFenced: code = arrow::StatusCode::AlreadyExists; break;
    case ErrorKind::kConfig: code = arrow::StatusCode::Invalid; break;
    case ErrorKind::kEpochLost: code = arrow::StatusCode::IOError; break;
  }
  return arrow::Status(code, std::move(message),
                       std::make_shared<ConnectorErrorDetail>(kind, std::move(origin), native_code));
}

arrow::Status ConfigError(const std::string& where, const std::string& message) {
  return MakeError(ErrorKind::kConfig, "config", where.empty() ? message : where + ": " + message);
}

arrow::Status ErrnoError(int err, const std::string& what) {
  const bool transient = err == EINTR || err == EAGAIN || err == ETIMEDOUT || err == ECONNRESET ||
                         err == ECONNREFUSED || err == EBUSY;
  return MakeError(transient ? ErrorKind::kTransient : ErrorKind::kFatal, "posix",
                   what + ": " + std::strerror(err), err);
}

ErrorKind KindOf(const arrow::Status& status) {
  if (auto detail = status.detail(); detail && detail->type_id() == std::string(ConnectorErrorDetail::kTypeId)) {
    return static_cast<const ConnectorErrorDetail&>(*detail).kind();
  }
  switch (status.code()) {
    case arrow::StatusCode::IOError: return ErrorKind::kTransient;
    case arrow::StatusCode::Invalid:
    case arrow::StatusCode::TypeError:
    case arrow::StatusCode::KeyError: return ErrorKind::kConfig;
    default: return ErrorKind::kFatal;
  }
}

}  // namespace laminar
