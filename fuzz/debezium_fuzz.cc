#include "fuzz_common.h"

// Two decoders over every input: the default (retract updates), and one with metadata
// columns, upsert updates and a declared _ts_ms column taken from the envelope.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto decoder = [] {
    laminar::ConnectorConfig config("fuzz", {{"format", "debezium"}});
    return laminar::serde::MakeDecoder(config, laminar::fuzz::EveryTypeSchema()).ValueOrDie();
  }();
  static auto upsert = [] {
    laminar::ConnectorConfig config("fuzz", {{"format", "debezium"},
                                             {"format.debezium.include_metadata", "true"},
                                             {"format.debezium.updates", "upsert"}});
    auto fields = laminar::fuzz::EveryTypeSchema()->fields();
    fields.insert(fields.begin() + 1, arrow::field("_ts_ms", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")));
    return laminar::serde::MakeDecoder(config, arrow::schema(fields)).ValueOrDie();
  }();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  laminar::fuzz::DecodeLines(*decoder, input, 2);
  laminar::fuzz::DecodeLines(*upsert, input, 2);
  return 0;
}
