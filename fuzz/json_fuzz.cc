#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto decoder = [] {
    laminar::ConnectorConfig config("fuzz", {{"format", "json"}});
    return laminar::serde::MakeDecoder(config, laminar::fuzz::EveryTypeSchema()).ValueOrDie();
  }();
  laminar::fuzz::DecodeLines(*decoder, std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
