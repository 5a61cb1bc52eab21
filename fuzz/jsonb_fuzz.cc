#include <cstdlib>
#include <string>

#include "laminar/serde/json/jsonb.h"

// JSON text -> JSONB -> JSON text -> JSONB must be stable; arbitrary bytes as JSONB must
// never crash the reader.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto encoded = laminar::serde::jsonb::FromJsonText(input);
  if (encoded.ok()) {
    auto text = laminar::serde::jsonb::ToJsonText(*encoded);
    if (!text.ok()) std::abort();
    auto again = laminar::serde::jsonb::FromJsonText(*text);
    if (!again.ok() || *again != *encoded) std::abort();
  }
  (void)laminar::serde::jsonb::ToJsonText(input);
  return 0;
}
