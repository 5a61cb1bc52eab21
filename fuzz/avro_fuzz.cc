#include "fuzz_common.h"

// Plain (schemaless) Avro binary against a writer schema covering every type; each line
// of input is one record.
namespace {
const char* kWriterSchema = R"({"type":"record","name":"Every","fields":[
  {"name":"id","type":"long"},
  {"name":"flag","type":["null","boolean"]},
  {"name":"name","type":["null","string"]},
  {"name":"blob","type":"bytes"},
  {"name":"d","type":"double"},
  {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":3}},
  {"name":"day","type":{"type":"int","logicalType":"date"}},
  {"name":"ts","type":{"type":"long","logicalType":"timestamp-micros"}},
  {"name":"tags","type":{"type":"array","items":"string"}},
  {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B","C"]}},
  {"name":"attrs","type":{"type":"map","values":"long"}},
  {"name":"hash","type":{"type":"fixed","name":"Hash","size":4}},
  {"name":"point","type":{"type":"record","name":"Point","fields":[{"name":"x","type":"double"},{"name":"y","type":"int"}]}}
]})";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto decoder = [] {
    laminar::ConnectorConfig config("fuzz", {{"format", "avro"}, {"format.avro.wire", "plain"},
                                             {"format.avro.schema", kWriterSchema}});
    auto made = laminar::serde::MakeDecoder(config, nullptr);
    if (!made.ok()) {
      std::fprintf(stderr, "%s\n", made.status().ToString().c_str());
      std::abort();
    }
    return std::move(*made);
  }();
  laminar::fuzz::DecodeLines(*decoder, std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
