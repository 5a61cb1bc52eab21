#include "laminar/builtin_connectors.h"

#include "laminar/datagen/datagen_source.h"
#include "laminar/files/files_sink.h"
#include "laminar/files/files_source.h"

namespace laminar {

void RegisterBuiltinConnectors(ConnectorRegistry& registry) {
  datagen::RegisterDatagen(registry);
  files::RegisterFilesSink(registry);
  files::RegisterFilesSource(registry);
}

}  // namespace laminar
