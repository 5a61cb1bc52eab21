#include <cstdlib>
#include <string_view>

#include "laminar/serde/avro/avro_schema.h"

// Any text: parse as an Avro schema; a schema that parses must survive its own canonical
// form (parse again, same canonical form and fingerprint) and map to Arrow or say why not.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using laminar::serde::avro::AvroSchema;
  auto schema = AvroSchema::Parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!schema.ok()) return 0;
  auto again = AvroSchema::Parse((*schema)->CanonicalForm());
  if (!again.ok() || (*again)->CanonicalForm() != (*schema)->CanonicalForm() ||
      (*again)->Fingerprint64() != (*schema)->Fingerprint64()) {
    std::abort();
  }
  (void)laminar::serde::avro::AvroToArrowSchema(**schema);
  return 0;
}
