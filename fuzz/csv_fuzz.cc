#include "fuzz_common.h"

// First byte picks the dialect, so the fuzzer explores quoting, escapes and delimiters.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* kDelimiters[] = {",", ";", "|", "\t"};
  const uint8_t mode = data[0];
  std::map<std::string, std::string> options = {{"format", "csv"}, {"format.delimiter", kDelimiters[mode & 3]}};
  if (mode & 4) options["format.escape"] = "\\";
  if (mode & 8) options["format.null_string"] = "NA";
  if (mode & 16) options["format.comment"] = "#";
  if (mode & 32) options["format.field_count_mismatch"] = (mode & 64) ? "skip" : "null";
  laminar::ConnectorConfig config("fuzz", options);
  auto decoder = laminar::serde::MakeDecoder(config, laminar::fuzz::FlatSchema());
  if (!decoder.ok()) std::abort();  // every combination above is valid
  laminar::fuzz::DecodeLines(**decoder, std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  return 0;
}
