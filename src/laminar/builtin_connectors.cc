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

#if defined(LAMINAR_WITH_KAFKA) && defined(LAMINAR_WITH_DELTA_LAKE)
namespace {

std::string OffsetAppId(const std::string& group, const kafka::TopicPartition& tp) {
  return "kafka-offsets:" + group + ":" + tp.topic + ":" + std::to_string(tp.partition);
}

// Several members of one consumer group writing into one table each number their epochs
// themselves, so they must not share a writer.id (one would skip the other's epochs as
// replays). The default (pipeline and sink names) is shared by members started from
// same-named DDL files: with static membership the member's group.instance.id is added to
// it; without it, and without an explicit writer.id, the pipeline is refused.
arrow::Status WriterIdNeeded(const std::string& group) {
  return ConfigError("delta-lake", "a Kafka source (consumer group '" + group +
                                       "') feeds this Delta sink: set 'writer.id' to a name of this process's own "
                                       "(every member of the group writing into the table needs a different one, "
                                       "stable across its restarts), or 'properties.group.instance.id' on the source");
}

arrow::Status ResolveDeltaWriterId(const kafka::KafkaSource& source, delta::DeltaSink& sink) {
  if (sink.options().writer_id_set) return arrow::Status::OK();
  if (auto instance = source.options().consumer.Get("group.instance.id"); instance && !instance->empty()) {
    sink.SuffixDefaultWriterId(*instance);
    return arrow::Status::OK();
  }
  return WriterIdNeeded(source.options().group_id);
}

void LinkKafkaToDelta(kafka::KafkaSource& source, delta::DeltaSink& sink) {
  const std::string group = source.options().group_id;
  sink.CommitWatermarksOf([&source, group] {
    std::vector<delta::DeltaSink::AppWatermark> marks;
    for (const auto& read : source.OffsetsOfEpoch()) {
      marks.push_back(delta::DeltaSink::AppWatermark{OffsetAppId(group, read.tp), read.next, read.from});
    }
    return marks;
  });
  source.ReadStoredOffsetsFrom(
      [&sink, group](const std::vector<kafka::TopicPartition>& partitions) -> arrow::Result<kafka::Positions> {
        std::vector<std::string> ids;
        for (const auto& tp : partitions) ids.push_back(OffsetAppId(group, tp));
        ARROW_ASSIGN_OR_RAISE(auto versions, sink.ReadTxnVersions(ids));
        kafka::Positions out;
        for (size_t i = 0; i < partitions.size(); ++i) {
          if (auto it = versions.find(ids[i]); it != versions.end()) out[partitions[i]] = it->second;
        }
        return out;
      });
}

}  // namespace
#endif

arrow::Status CheckLink(const ConnectorConfig& source, const ConnectorConfig& sink) {
#if defined(LAMINAR_WITH_KAFKA) && defined(LAMINAR_WITH_DELTA_LAKE)
  if (source.connector_type() != "kafka" || sink.connector_type() != "delta-lake") return arrow::Status::OK();
  auto options = delta::DeltaSinkOptions::FromConfig(sink);
  if (!options.ok() || !options->exactly_once || options->writer_id_set) return arrow::Status::OK();  // Open says
  for (const char* key : {"properties.group.instance.id", "kafka.group.instance.id"}) {
    if (auto instance = source.Get(key); instance && !instance->empty()) return arrow::Status::OK();
  }
  return WriterIdNeeded(source.Get("group.id").value_or(""));
#else
  (void)source;
  (void)sink;
  return arrow::Status::OK();
#endif
}

arrow::Status LinkConnectors(SourceConnector& source, SinkConnector& sink) {
#ifdef LAMINAR_WITH_KAFKA
  auto* kafka_source = dynamic_cast<kafka::KafkaSource*>(&source);
  auto* kafka_sink = dynamic_cast<kafka::KafkaSink*>(&sink);
  if (kafka_source != nullptr && kafka_sink != nullptr && kafka_sink->options().exactly_once) {
    kafka_sink->CommitOffsetsOf(kafka_source);
  }
#ifdef LAMINAR_WITH_DELTA_LAKE
  auto* delta_sink = dynamic_cast<delta::DeltaSink*>(&sink);
  if (kafka_source != nullptr && delta_sink != nullptr && delta_sink->options().exactly_once) {
    ARROW_RETURN_NOT_OK(ResolveDeltaWriterId(*kafka_source, *delta_sink));
    LinkKafkaToDelta(*kafka_source, *delta_sink);
  }
#endif
#else
  (void)source;
  (void)sink;
#endif
  return arrow::Status::OK();
}

}  // namespace laminar
