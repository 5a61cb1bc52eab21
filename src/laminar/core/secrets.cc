#include "laminar/core/secrets.h"

#include <spdlog/sinks/sink.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <vector>

#include "laminar/core/config.h"

extern char** environ;

namespace laminar {

namespace {

struct Registry {
  std::shared_mutex mu;
  std::vector<std::string> values;  // distinct
  std::atomic<bool> any{false};
};

// Leaked on purpose: threads may still log while statics are destroyed at exit.
Registry& TheRegistry() {
  static Registry* registry = new Registry;
  return *registry;
}

bool IsUnreserved(unsigned char c) { return std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~'; }

std::string PercentEncode(std::string_view value, const char* digits) {
  std::string out;
  for (unsigned char c : value) {
    if (IsUnreserved(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 0xF];
    }
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Nothing when the value holds no %XX escape.
std::optional<std::string> PercentDecode(std::string_view value) {
  std::string out;
  bool decoded = false;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '%' && i + 2 < value.size() && HexValue(value[i + 1]) >= 0 && HexValue(value[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(value[i + 1]) * 16 + HexValue(value[i + 2]));
      i += 2;
      decoded = true;
    } else {
      out += value[i];
    }
  }
  if (!decoded) return std::nullopt;
  return out;
}

// The value as given, percent-encoded, and (when it was encoded) decoded and re-encoded.
void AddForms(std::string_view value, std::vector<std::string>* forms) {
  forms->emplace_back(value);
  forms->push_back(PercentEncode(value, "0123456789ABCDEF"));
  forms->push_back(PercentEncode(value, "0123456789abcdef"));
  if (auto decoded = PercentDecode(value)) {
    forms->push_back(*decoded);
    forms->push_back(PercentEncode(*decoded, "0123456789ABCDEF"));
    forms->push_back(PercentEncode(*decoded, "0123456789abcdef"));
  }
}

bool IsSignatureParameter(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower == "sig" || lower.find("signature") != std::string::npos || IsSecretKey(lower);
}

// Signature-like parameter values of "a=1&sig=x" (leading '?' allowed); none when the
// value does not look like a query string.
std::vector<std::string_view> SignatureParameters(std::string_view value) {
  std::vector<std::string_view> out;
  if (!value.empty() && value.front() == '?') value.remove_prefix(1);
  if (value.find('=') == std::string_view::npos) return out;
  while (!value.empty()) {
    const size_t amp = value.find('&');
    const std::string_view pair = value.substr(0, amp);
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && IsSignatureParameter(pair.substr(0, eq))) out.push_back(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    value.remove_prefix(amp + 1);
  }
  return out;
}

}  // namespace

void RegisterSecret(std::string_view value) {
  if (value.size() < kMinSecretLength) return;
  std::vector<std::string> forms;
  AddForms(value, &forms);
  // A SAS token is configured with or without its '?'; a URL shows it after another '&'.
  if (value.front() == '?') AddForms(value.substr(1), &forms);
  for (std::string_view parameter : SignatureParameters(value)) AddForms(parameter, &forms);

  Registry& registry = TheRegistry();
  std::unique_lock lock(registry.mu);
  for (auto& form : forms) {
    if (form.size() < kMinSecretLength) continue;
    if (std::find(registry.values.begin(), registry.values.end(), form) != registry.values.end()) continue;
    registry.values.push_back(std::move(form));
  }
  registry.any.store(!registry.values.empty());
}

void RegisterIfSecretKey(std::string_view key, std::string_view value) {
  if (IsSecretKey(std::string(key))) RegisterSecret(value);
}

void RegisterSecretsFromEnvironment() {
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const size_t eq = text.find('=');
    if (eq != std::string_view::npos) RegisterIfSecretKey(text.substr(0, eq), text.substr(eq + 1));
  }
}

std::string Scrub(std::string_view text) {
  Registry& registry = TheRegistry();
  if (!registry.any.load() || text.empty()) return std::string(text);
  // Mark every byte some secret covers, then collapse each marked run: overlapping secrets
  // (a token and its own sig parameter) leave no unmasked piece behind.
  std::vector<bool> covered(text.size(), false);
  bool found = false;
  {
    std::shared_lock lock(registry.mu);
    for (const auto& value : registry.values) {
      for (size_t at = text.find(value); at != std::string_view::npos; at = text.find(value, at + 1)) {
        std::fill(covered.begin() + static_cast<std::ptrdiff_t>(at),
                  covered.begin() + static_cast<std::ptrdiff_t>(at + value.size()), true);
        found = true;
      }
    }
  }
  if (!found) return std::string(text);
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (!covered[i]) {
      out += text[i];
    } else if (i == 0 || !covered[i - 1]) {
      out += "***";
    }
  }
  return out;
}

arrow::Status ScrubStatus(const arrow::Status& status) {
  if (status.ok()) return status;
  std::string message = Scrub(status.message());
  if (message == status.message()) return status;
  return arrow::Status(status.code(), std::move(message), status.detail());
}

namespace {

class ScrubbingSink final : public spdlog::sinks::sink {
 public:
  explicit ScrubbingSink(std::shared_ptr<spdlog::sinks::sink> inner) : inner_(std::move(inner)) {}

  void log(const spdlog::details::log_msg& msg) override {
    const std::string payload = Scrub(std::string_view(msg.payload.data(), msg.payload.size()));
    spdlog::details::log_msg scrubbed(msg);
    scrubbed.payload = spdlog::string_view_t(payload.data(), payload.size());
    inner_->log(scrubbed);
  }
  void flush() override { inner_->flush(); }
  void set_pattern(const std::string& pattern) override { inner_->set_pattern(pattern); }
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    inner_->set_formatter(std::move(formatter));
  }

 private:
  std::shared_ptr<spdlog::sinks::sink> inner_;
};

}  // namespace

std::shared_ptr<spdlog::sinks::sink> MakeScrubbingSink(std::shared_ptr<spdlog::sinks::sink> inner) {
  return std::make_shared<ScrubbingSink>(std::move(inner));
}

}  // namespace laminar
