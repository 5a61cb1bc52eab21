#include "laminar/kafka/kafka_sink_options.h"

#include <algorithm>
#include <cctype>

#include "laminar/serde/codec.h"

namespace laminar::kafka {

namespace {

std::string Normalized(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  std::replace(text.begin(), text.end(), '_', '-');
  return text;
}

}  // namespace

std::string DefaultTransactionalId(const std::string& pipeline, const std::string& sink) {
  return "laminar-" + (pipeline.empty() ? std::string() : pipeline + "-") + sink;
}

std::vector<ConfigKeySpec> KafkaSinkKeySpecs() {
  std::vector<ConfigKeySpec> specs = ConnectionKeySpecs();
  std::vector<ConfigKeySpec> own = {
      ConfigKeySpec::Required("topic", ConfigType::kString, "The topic every row is written to."),
      ConfigKeySpec::Optional("format", ConfigType::kString, "json",
                              "How a row becomes a message value: json, csv, avro, raw (format.* options)."),
      ConfigKeySpec::Unset("key.column", ConfigType::kString,
                           "Column whose value is the message key (strings and binary as their bytes, other "
                           "types as text); null values give no key."),
      ConfigKeySpec::Optional("delivery.guarantee", ConfigType::kString, "at-least-once",
                              "at-least-once (idempotent producer, flushed at each checkpoint) or exactly-once "
                              "(one Kafka transaction per epoch; readers use isolation.level=read_committed)."),
      ConfigKeySpec::Unset("transactional.id", ConfigType::kString,
                           "Transactional id (exactly-once); default laminar-<pipeline>-<sink>, stable across "
                           "restarts. Two running copies of one pipeline must set different ids."),
      ConfigKeySpec::Optional("transaction.timeout.ms", ConfigType::kInt, "60000",
                              "Broker-side transaction timeout (exactly-once); also bounds init/commit/abort."),
      ConfigKeySpec::Optional("acks", ConfigType::kString, "all", "all (-1), 1 (leader) or 0 (none)."),
      ConfigKeySpec::Optional("max.in.flight.requests", ConfigType::kInt, "5",
                              "Unacknowledged requests per broker connection; at most 5 with idempotence."),
      ConfigKeySpec::Unset("delivery.timeout.ms", ConfigType::kInt,
                           "How long a message may take to be acknowledged (librdkafka message.timeout.ms); "
                           "default 120000, and at most transaction.timeout.ms with exactly-once."),
      ConfigKeySpec::Optional("partitioner", ConfigType::kString, "key-hash",
                              "key-hash (the Java client's murmur2 placement), round-robin or sticky."),
      ConfigKeySpec::Optional("linger.ms", ConfigType::kInt, "5", "Time a batch may wait for more messages."),
      ConfigKeySpec::Optional("batch.size", ConfigType::kInt, "16384", "Maximum bytes of one partition batch."),
      ConfigKeySpec::Unset("batch.num.messages", ConfigType::kInt, "Maximum messages of one batch."),
      ConfigKeySpec::Optional("compression.type", ConfigType::kString, "none", "none, gzip, snappy, lz4 or zstd."),
      ConfigKeySpec::Unset("dlq.topic", ConfigType::kString,
                           "Dead-letter topic for rows that cannot be delivered for a reason of their own (an "
                           "encoding or key failure, a message librdkafka or the broker refuses as too large or "
                           "invalid): the original key and value plus laminar.error.* headers. Without it such a "
                           "row fails the write."),
      ConfigKeySpec::Unset("dlq.bootstrap.servers", ConfigType::kString,
                           "Brokers of dlq.topic when it is on another cluster; default: the sink's connection "
                           "and security settings."),
      ConfigKeySpec::Unset("dlq.properties.*", ConfigType::kString,
                           "librdkafka properties of the dead-letter producer, applied last."),
      ConfigKeySpec::Unset("dlq.transactional.id", ConfigType::kString,
                           "Transactional id of the dead-letter producer (exactly-once); default the sink's "
                           "transactional.id + '.dlq'."),
  };
  specs.insert(specs.end(), own.begin(), own.end());
  for (auto& spec : SchemaRegistryKeySpecs()) specs.push_back(std::move(spec));
  for (auto& spec : SchemaRegistrySinkKeySpecs()) specs.push_back(std::move(spec));
  for (auto& spec : serde::FormatKeySpecs()) specs.push_back(std::move(spec));
  return specs;
}

arrow::Result<KafkaSinkOptions> KafkaSinkOptions::FromConfig(const ConnectorConfig& config) {
  const std::string where = config.Where();
  auto bad = [&](const std::string& key, const std::string& why) { return ConfigError(where, "option '" + key + "' " + why); };
  KafkaSinkOptions o;
  ARROW_ASSIGN_OR_RAISE(o.topic, config.Require("topic"));
  if (o.topic.empty()) return bad("topic", "must not be empty");
  if (o.topic.find(',') != std::string::npos) return bad("topic", "names one topic, not a list");
  o.format = config.Get("format").value_or("json");
  if (auto key = config.Get("key.column")) {
    if (key->empty()) return bad("key.column", "must not be empty");
    o.key_column = *key;
  }
  ARROW_ASSIGN_OR_RAISE(o.registry, SchemaRegistryOptions::FromConfig(config));
  if (auto strategy = config.Get("schema.registry.subject.strategy")) {
    auto parsed = ParseSubjectStrategy(*strategy);
    if (!parsed) {
      return bad("schema.registry.subject.strategy",
                 "= '" + *strategy + "' is not one of topic_name, record_name, topic_record_name");
    }
    o.subject_strategy = *parsed;
  }
  if (auto subject = config.Get("schema.registry.subject")) {
    if (subject->empty()) return bad("schema.registry.subject", "must not be empty");
    o.subject = *subject;
  }
  ARROW_RETURN_NOT_OK(CheckRegistryNeeded(config, /*sink=*/true));
  if (auto dlq = config.Get("dlq.topic")) {
    if (dlq->empty()) return bad("dlq.topic", "must not be empty");
    if (dlq->find(',') != std::string::npos) return bad("dlq.topic", "names one topic, not a list");
    const auto dlq_servers = config.Get("dlq.bootstrap.servers");
    if (*dlq == o.topic && (!dlq_servers || *dlq_servers == config.Get("bootstrap.servers").value_or(""))) {
      return bad("dlq.topic", "= '" + *dlq + "' is the sink's own topic: dead letters go to a topic of their own");
    }
    o.dlq_topic = *dlq;
  } else {
    for (const char* key : {"dlq.bootstrap.servers", "dlq.transactional.id"}) {
      if (config.Has(key)) return bad(key, "needs 'dlq.topic'");
    }
    if (!config.PropertiesWithPrefix("dlq.properties.").empty()) {
      return ConfigError(where, "options 'dlq.properties.*' need 'dlq.topic'");
    }
  }

  const std::string guarantee = Normalized(config.Get("delivery.guarantee").value_or("at-least-once"));
  if (guarantee == "exactly-once" || guarantee == "exactlyonce") {
    o.exactly_once = true;
  } else if (guarantee != "at-least-once" && guarantee != "atleastonce") {
    return bad("delivery.guarantee", "= '" + guarantee + "' is not one of at-least-once, exactly-once");
  }
  o.transactional_id = config.Get("transactional.id").value_or(
      DefaultTransactionalId(config.pipeline_name(), config.instance_name()));
  if (o.transactional_id.empty()) return bad("transactional.id", "must not be empty");
  if (config.Has("transactional.id") && !o.exactly_once) {
    return bad("transactional.id", "needs delivery.guarantee = 'exactly-once'");
  }
  o.marker_group = "laminar-epochs-" + o.transactional_id;

  ARROW_ASSIGN_OR_RAISE(auto transaction_timeout, config.GetInt64("transaction.timeout.ms", 60000));
  if (transaction_timeout < 1000) return bad("transaction.timeout.ms", "must be at least 1000");
  o.transaction_timeout = std::chrono::milliseconds(transaction_timeout);
  ARROW_ASSIGN_OR_RAISE(auto delivery_timeout, config.GetOptionalInt64("delivery.timeout.ms"));
  if (delivery_timeout) {
    if (*delivery_timeout < 1) return bad("delivery.timeout.ms", "must be positive");
    if (o.exactly_once && *delivery_timeout > transaction_timeout) {
      return bad("delivery.timeout.ms", "(" + std::to_string(*delivery_timeout) +
                                            ") must not exceed transaction.timeout.ms (" +
                                            std::to_string(transaction_timeout) + ") with exactly-once");
    }
    o.delivery_timeout = std::chrono::milliseconds(*delivery_timeout);
  } else if (o.exactly_once) {
    o.delivery_timeout = std::min(o.delivery_timeout, o.transaction_timeout);
  }

  const std::string acks = Normalized(config.Get("acks").value_or("all"));
  if (acks == "all" || acks == "-1") o.acks = "all";
  else if (acks == "1" || acks == "leader") o.acks = "1";
  else if (acks == "0" || acks == "none") o.acks = "0";
  else return bad("acks", "= '" + acks + "' is not one of all, 1, 0");
  ARROW_ASSIGN_OR_RAISE(o.max_in_flight, config.GetInt64("max.in.flight.requests", 5));
  if (o.max_in_flight < 1) return bad("max.in.flight.requests", "must be at least 1");
  ARROW_ASSIGN_OR_RAISE(o.linger_ms, config.GetInt64("linger.ms", 5));
  if (o.linger_ms < 0) return bad("linger.ms", "must not be negative");
  if (o.delivery_timeout.count() <= o.linger_ms) {
    return bad("linger.ms", "(" + std::to_string(o.linger_ms) + ") must be below delivery.timeout.ms (" +
                                std::to_string(o.delivery_timeout.count()) + ")");
  }
  ARROW_ASSIGN_OR_RAISE(o.batch_size, config.GetInt64("batch.size", 16384));
  if (o.batch_size < 1) return bad("batch.size", "must be positive");
  ARROW_ASSIGN_OR_RAISE(o.batch_num_messages, config.GetOptionalInt64("batch.num.messages"));
  if (o.batch_num_messages && *o.batch_num_messages < 1) return bad("batch.num.messages", "must be positive");
  std::string compression = Normalized(config.Get("compression.type").value_or("none"));
  if (compression == "zstandard") compression = "zstd";
  static const char* kCodecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};
  if (std::none_of(std::begin(kCodecs), std::end(kCodecs), [&](const char* c) { return compression == c; })) {
    return bad("compression.type", "= '" + compression + "' is not one of none, gzip, snappy, lz4, zstd");
  }
  o.compression = compression;
  auto partitioner = ParsePartitioner(config.Get("partitioner").value_or("key-hash"));
  if (!partitioner.ok()) return bad("partitioner", "= " + partitioner.status().message());
  o.partitioner = *partitioner;

  // Idempotence: always with exactly-once (transactions need it); otherwise on unless the
  // acks/in-flight settings rule it out, or the user says so with properties.enable.idempotence.
  ClientProperties& p = o.producer;
  ARROW_RETURN_NOT_OK(AddConnectionProperties(config, &p));
  p.Set("client.id", "laminar-" + (config.pipeline_name().empty() ? "" : config.pipeline_name() + "-") +
                         config.instance_name());
  p.Set("acks", o.acks, "acks");
  p.Set("max.in.flight.requests.per.connection", std::to_string(o.max_in_flight), "max.in.flight.requests");
  p.Set("message.timeout.ms", std::to_string(o.delivery_timeout.count()),
        config.Has("delivery.timeout.ms") ? "delivery.timeout.ms" : "");
  p.Set("linger.ms", std::to_string(o.linger_ms), "linger.ms");
  p.Set("batch.size", std::to_string(o.batch_size), "batch.size");
  if (o.batch_num_messages) p.Set("batch.num.messages", std::to_string(*o.batch_num_messages), "batch.num.messages");
  p.Set("compression.type", o.compression, "compression.type");
  // Java-compatible placement of keyed messages, on the topic's current partition count.
  p.Set("partitioner", "murmur2_random", "partitioner");
  const bool idempotence_possible = o.acks == "all" && o.max_in_flight <= 5;
  p.Set("enable.idempotence", o.exactly_once || idempotence_possible ? "true" : "false");
  if (o.exactly_once) {
    p.Set("transactional.id", o.transactional_id, config.Has("transactional.id") ? "transactional.id" : "");
    p.Set("transaction.timeout.ms", std::to_string(transaction_timeout), "transaction.timeout.ms");
  }
  ARROW_RETURN_NOT_OK(AddPassthroughProperties(config, &p, {"transactional.id", "partitioner"}));

  // What librdkafka would refuse (or silently weaken), checked on the final values.
  const bool idempotence = p.Get("enable.idempotence").value_or("false") == "true";
  const std::string final_acks = p.Get("acks").value_or("all");
  auto in_flight = ParseInt64(p.Get("max.in.flight.requests.per.connection").value_or("5"));
  if (!in_flight.ok()) {
    return ConfigError(where, p.DescribeOrigin("max.in.flight.requests.per.connection") + " is not an integer");
  }
  if (o.exactly_once && !idempotence) {
    return ConfigError(where, p.DescribeOrigin("enable.idempotence") +
                                  " = false: exactly-once needs the idempotent producer");
  }
  if (idempotence && final_acks != "all" && final_acks != "-1") {
    return ConfigError(where, p.DescribeOrigin("acks") + " = '" + final_acks + "': " +
                                  (o.exactly_once ? "exactly-once" : "the idempotent producer (" +
                                                                         p.DescribeOrigin("enable.idempotence") + ")") +
                                  " needs acks = all");
  }
  if (idempotence && *in_flight > 5) {
    return ConfigError(where, p.DescribeOrigin("max.in.flight.requests.per.connection") + " = " +
                                  std::to_string(*in_flight) + ": " +
                                  (o.exactly_once ? "exactly-once" : "the idempotent producer") +
                                  " needs max.in.flight.requests <= 5");
  }
  o.idempotence = idempotence;
  o.acks = final_acks == "-1" ? "all" : final_acks;
  o.max_in_flight = *in_flight;

  ARROW_RETURN_NOT_OK(AddConnectionProperties(config, &o.connection));
  for (const auto& [name, value] : p.entries()) {
    // A consumer reading the epoch marker gets these, not the producer-only ones.
    if (IsClientWideProperty(name) && !o.connection.Has(name)) o.connection.Set(name, value);
  }
  return o;
}

}  // namespace laminar::kafka
