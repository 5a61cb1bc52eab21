#include "pipeline_builder.h"

#include <spdlog/spdlog.h>

#include <map>
#include <optional>

#include "laminar/builtin_connectors.h"
#include "laminar/dlq/dead_letter_sink.h"
#include "laminar/dlq/error_router.h"
#ifdef LAMINAR_WITH_KAFKA
#include "laminar/kafka/kafka_dead_letter.h"
#include "laminar/kafka/kafka_sink_options.h"
#endif

namespace laminar::cli {

namespace {

std::map<std::string, std::string> OptionMap(const std::vector<ddl::OptionDef>& options) {
  std::map<std::string, std::string> map;
  for (const auto& option : options) map[option.key] = option.value;
  return map;
}

// A config error names the option it is about ("option 'k'"); point the caret at it.
arrow::Status LocateError(const ddl::Script& script, const arrow::Status& status,
                          const std::vector<ddl::OptionDef>& options, ddl::SourceLocation fallback) {
  if (KindOf(status) != ErrorKind::kConfig) return status;
  ddl::SourceLocation location = fallback;
  for (const auto& option : options) {
    const std::string needle = "option '" + option.key + "'";
    if (status.message().find(needle) != std::string::npos) {
      location = status.message().find("is not a valid") != std::string::npos ? option.value_location
                                                                                : option.key_location;
      break;
    }
  }
  return ddl::ErrorAt(script, location, status.message());
}

}  // namespace

arrow::Result<std::unique_ptr<runtime::Pipeline>> BuildPipeline(const ddl::Script& script,
                                                                const ConnectorRegistry& registry,
                                                                const BuildOptions& options) {
  std::unique_ptr<runtime::Pipeline> pipeline;
  if (!options.validate_only) {
    ARROW_ASSIGN_OR_RAISE(auto store, runtime::LocalManifestStore::Open(options.checkpoint_dir));
    runtime::PipelineOptions pipeline_options = options.pipeline;
    pipeline_options.name = options.pipeline_name;
    pipeline = std::make_unique<runtime::Pipeline>(pipeline_options, std::move(store));
  }
  std::map<std::string, std::shared_ptr<arrow::Schema>> source_schemas;
  // transactional.id -> who produces with it: two producers with one id would fence each other.
  std::map<std::string, std::string> transactional_ids;
  std::map<std::string, SourceConnector*> opened_sources;  // owned by the pipeline
  // Source/sink pairs LinkConnectors would refuse, before anything connects.
  for (const auto& sink : script.sinks) {
    for (const auto& source : script.sources) {
      if (source.name != sink.from) continue;
      ConnectorConfig source_config(source.connector, OptionMap(source.options));
      ConnectorConfig sink_config(sink.connector, OptionMap(sink.options));
      sink_config.set_instance_name(sink.name);
      sink_config.set_pipeline_name(options.pipeline_name);
      if (auto status = CheckLink(source_config, sink_config); !status.ok()) {
        return LocateError(script, status.WithMessage("sink '", sink.name, "': ", status.message()), sink.options,
                           sink.connector_location);
      }
    }
  }
  for (const auto& source : script.sources) {
    ConnectorConfig config(source.connector, OptionMap(source.options));
    config.set_instance_name(source.name);
    config.set_pipeline_name(options.pipeline_name);
    config.set_schema(ddl::SchemaOf(source));
    auto created = registry.CreateSource(config);
    if (!created.ok()) return LocateError(script, created.status(), source.options, source.connector_location);
    spdlog::debug("source '{}' ({}): {}", source.name, source.connector, config.DisplayRedacted());
    auto errors = dlq::ErrorOptions::FromConfig(config);
    if (!errors.ok()) return LocateError(script, errors.status(), source.options, source.connector_location);
    const bool to_topic = errors->policy == dlq::ErrorPolicy::kDeadLetter && !errors->dead_letter_topic.empty();
#ifdef LAMINAR_WITH_KAFKA
    // Dead letters to a Kafka topic: the producer's configuration is checked here, without I/O.
    std::optional<kafka::DeadLetterProducerConfig> dlq_producer;
    if (to_topic) {
      auto producer = kafka::MakeDeadLetterProducerConfig(config, *errors);
      if (!producer.ok()) return LocateError(script, producer.status(), source.options, source.connector_location);
      if (producer->options.exactly_once) {
        const std::string owner = "the dead-letter producer of source '" + source.name + "'";
        auto [it, fresh] = transactional_ids.emplace(producer->options.transactional_id, owner);
        if (!fresh) {
          return LocateError(script,
                             ConfigError(config.Where(), "option 'dead_letter.transactional.id': '" + it->first +
                                                             "' is already the transactional.id of " + it->second),
                             source.options, source.connector_location);
        }
      }
      dlq_producer = std::move(*producer);
    }
#else
    if (to_topic) {
      return LocateError(script,
                         ConfigError(config.Where(), "option 'dead_letter.topic' needs Kafka, which this build "
                                                     "leaves out (LAMINAR_WITH_KAFKA=OFF); use 'dead_letter.path'"),
                         source.options, source.connector_location);
    }
#endif
    if (options.validate_only) {
      if (auto status = (*created)->CheckConfig(config); !status.ok()) {
        return LocateError(script, status, source.options, source.connector_location);
      }
      source_schemas[source.name] = config.schema();
      continue;
    }
    auto connector = std::move(*created);
    if (auto status = connector->Open(config); !status.ok()) {
      return LocateError(script, status.WithMessage("source '", source.name, "': ", status.message()), source.options,
                         source.connector_location);
    }
    source_schemas[source.name] = connector->schema();
    opened_sources[source.name] = connector.get();
    pipeline->AddSource(source.name, source.connector, std::move(connector));
    if (errors->policy == dlq::ErrorPolicy::kDeadLetter && !errors->dead_letter_path.empty()) {
      // Dead letters go through an exactly-once files sink of their own, in the source's epochs.
      ConnectorConfig dlq_config("files", {{"path", errors->dead_letter_path}, {"format", "json"}});
      dlq_config.set_instance_name(source.name + ".dead_letters");
      dlq_config.set_pipeline_name(options.pipeline_name);
      dlq_config.set_schema(dlq::DeadLetterSchema());
      ARROW_ASSIGN_OR_RAISE(auto dlq_sink, registry.CreateSink(dlq_config));
      ARROW_RETURN_NOT_OK(dlq_sink->Open(dlq_config));
      // Its failures fail the epoch (replayed, so no dead letter is lost); the wrapper counts
      // them as dlq_write_failed and what it committed as dlq_written.
      pipeline->AddDeadLetterSink(dlq_config.instance_name(), "files", source.name,
                                  std::make_unique<dlq::DeadLetterSink>(std::move(dlq_sink)));
    }
#ifdef LAMINAR_WITH_KAFKA
    if (dlq_producer) {
      // A Kafka sink of its own (transactional unless dead_letter.delivery.guarantee says
      // otherwise), in the source's epochs like the files one.
      auto dlq_sink = kafka::MakeDeadLetterProducer(source.connector);
      spdlog::debug("source '{}': dead-letter producer {}", source.name, dlq_producer->config.DisplayRedacted());
      if (auto status = dlq_sink->Open(dlq_producer->config); !status.ok()) {
        return LocateError(script, dlq_producer->Explain(status), source.options, source.connector_location);
      }
      pipeline->AddDeadLetterSink(dlq_producer->config.instance_name(), "kafka", source.name,
                                  std::make_unique<dlq::DeadLetterSink>(std::move(dlq_sink)));
    }
#endif
  }
  for (const auto& sink : script.sinks) {
    ConnectorConfig config(sink.connector, OptionMap(sink.options));
    config.set_instance_name(sink.name);
    config.set_pipeline_name(options.pipeline_name);
    config.set_schema(source_schemas[sink.from]);
    auto created = registry.CreateSink(config);
    if (!created.ok()) return LocateError(script, created.status(), sink.options, sink.connector_location);
    spdlog::debug("sink '{}' ({}): {}", sink.name, sink.connector, config.DisplayRedacted());
#ifdef LAMINAR_WITH_KAFKA
    if (sink.connector == "kafka") {
      // Its option errors are Open's to report; here only an id another producer holds.
      auto kafka_options = kafka::KafkaSinkOptions::FromConfig(config);
      if (kafka_options.ok() && kafka_options->exactly_once) {
        auto [it, fresh] = transactional_ids.emplace(kafka_options->transactional_id, "sink '" + sink.name + "'");
        if (!fresh) {
          return LocateError(script,
                             ConfigError(config.Where(), "option 'transactional.id': '" + it->first +
                                                             "' is already the transactional.id of " + it->second +
                                                             "; set a different one"),
                             sink.options, sink.connector_location);
        }
        if (!kafka_options->dlq_topic.empty()) {
          // Its dead-letter producer holds an id of its own (dlq.transactional.id).
          auto dlq = kafka::MakeSinkDeadLetterProducerConfig(config, *kafka_options);
          if (dlq.ok() && dlq->options.exactly_once) {
            auto [held, fresh_dlq] = transactional_ids.emplace(dlq->options.transactional_id,
                                                               "the dead-letter producer of sink '" + sink.name + "'");
            if (!fresh_dlq) {
              return LocateError(script,
                                 ConfigError(config.Where(), "option 'dlq.transactional.id': '" + held->first +
                                                                 "' is already the transactional.id of " +
                                                                 held->second + "; set a different one"),
                                 sink.options, sink.connector_location);
            }
          }
        }
      }
    }
#endif
    if (options.validate_only) {
      if (auto status = (*created)->CheckConfig(config); !status.ok()) {
        return LocateError(script, status, sink.options, sink.connector_location);
      }
      continue;
    }
    auto connector = std::move(*created);
    if (auto status = connector->Open(config); !status.ok()) {
      return LocateError(script, status.WithMessage("sink '", sink.name, "': ", status.message()), sink.options,
                         sink.connector_location);
    }
    if (auto from = opened_sources.find(sink.from); from != opened_sources.end()) {
      if (auto status = LinkConnectors(*from->second, *connector); !status.ok()) {
        return LocateError(script, status.WithMessage("sink '", sink.name, "': ", status.message()), sink.options,
                           sink.connector_location);
      }
    }
    pipeline->AddSink(sink.name, sink.connector, sink.from, std::move(connector));
  }
  return pipeline;
}

}  // namespace laminar::cli
