#include "laminar/builtin_connectors.h"

#include "laminar/datagen/datagen_source.h"
#include "laminar/files/files_sink.h"
#include "laminar/files/files_source.h"
#ifdef LAMINAR_WITH_DELTA_LAKE
#include "laminar/delta/delta_sink.h"
#include "laminar/delta/delta_source.h"
#endif
#ifdef LAMINAR_WITH_KAFKA
#include "laminar/kafka/kafka_sink.h"
#include "laminar/kafka/kafka_source.h"
#endif

namespace laminar {

void RegisterBuiltinConnectors(ConnectorRegistry& registry) {
  datagen::RegisterDatagen(registry);
  files::RegisterFilesSink(registry);
  files::RegisterFilesSource(registry);
#ifdef LAMINAR_WITH_DELTA_LAKE
  delta::RegisterDeltaSink(registry);
  delta::RegisterDeltaSource(registry);
#endif
#ifdef LAMINAR_WITH_KAFKA
  kafka::RegisterKafkaSink(registry);
  kafka::RegisterKafkaSource(registry);
#endif
}

void LinkConnectors(SourceConnector& source, SinkConnector& sink) {
#ifdef LAMINAR_WITH_KAFKA
  auto* kafka_source = dynamic_cast<kafka::KafkaSource*>(&source);
  auto* kafka_sink = dynamic_cast<kafka::KafkaSink*>(&sink);
  if (kafka_source != nullptr && kafka_sink != nullptr && kafka_sink->options().exactly_once) {
    kafka_sink->CommitOffsetsOf(kafka_source);
  }
#else
  (void)source;
  (void)sink;
#endif
}

}  // namespace laminar
