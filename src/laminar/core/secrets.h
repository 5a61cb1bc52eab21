// Process-wide registry of secret values (passwords, keys, tokens taken from connector
// options and the environment) and Scrub(), which masks them in text about to leave the
// process: log lines, the CLI's error output, /health. It is the catch-all behind
// DisplayRedacted: libraries we do not control (Arrow's Azure filesystem, librdkafka, the
// cloud SDKs) put request URLs and headers carrying credentials into their own messages.
// Every function is thread-safe; registered values stay for the life of the process.
#pragma once

#include <arrow/status.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace spdlog::sinks {
class sink;
}

namespace laminar {

// Shorter values (and derived forms) are not registered: masking "abc" wherever it occurs
// would mangle ordinary text and hide nothing worth hiding.
inline constexpr size_t kMinSecretLength = 4;

// Registers `value` and the forms libraries print it in: percent-encoded (upper- and
// lower-case hex), percent-decoded, and, for a query string such as a SAS token
// (`sv=...&sig=...`, an optional leading '?'), the value of each signature-like parameter
// (`sig`, `*signature*`, IsSecretKey names) on its own in the same forms, since a library
// may print the URL with its parameters re-ordered or re-encoded.
void RegisterSecret(std::string_view value);

// Registers the value of `key` when the key names a secret (IsSecretKey). For config
// sources that know no spec: DDL options, the environment.
void RegisterIfSecretKey(std::string_view key, std::string_view value);

// Every environment variable whose name IsSecretKey (AWS_SECRET_ACCESS_KEY,
// AZURE_STORAGE_SAS_TOKEN, ...): cloud SDKs read these themselves, and storage options
// fall back to them.
void RegisterSecretsFromEnvironment();

// `text` with every stretch covered by a registered value replaced by "***" (overlapping
// or adjacent matches become one "***", so no tail of a secret is left). Cheap when
// nothing is registered.
std::string Scrub(std::string_view text);

// The status with its message scrubbed; code and detail kept. OK stays OK.
arrow::Status ScrubStatus(const arrow::Status& status);

// A sink that scrubs every message before handing it to `inner`. Install it around the
// process's real sinks so that every log line, librdkafka's included, is covered.
std::shared_ptr<spdlog::sinks::sink> MakeScrubbingSink(std::shared_ptr<spdlog::sinks::sink> inner);

}  // namespace laminar
