#include "fuzz_common.h"

#include <arrow/util/key_value_metadata.h>

// Two decoders over every input: the default one (unknown fields ignored), and one that
// collects unknown fields into the JSONB column _extra and has a JSON-tagged column.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto decoder = [] {
    laminar::ConnectorConfig config("fuzz", {{"format", "json"}});
    return laminar::serde::MakeDecoder(config, laminar::fuzz::EveryTypeSchema()).ValueOrDie();
  }();
  static auto collecting = [] {
    laminar::ConnectorConfig config("fuzz", {{"format", "json"}, {"format.unknown_fields", "collect"}});
    auto fields = laminar::fuzz::EveryTypeSchema()->fields();
    fields.push_back(arrow::field("doc", arrow::utf8())->WithMetadata(
        arrow::key_value_metadata({"laminar.type"}, {"json"})));
    return laminar::serde::MakeDecoder(config, arrow::schema(fields)).ValueOrDie();
  }();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  laminar::fuzz::DecodeLines(*decoder, input);
  laminar::fuzz::DecodeLines(*collecting, input);
  return 0;
}
