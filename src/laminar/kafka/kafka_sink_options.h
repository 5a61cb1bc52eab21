// The `kafka` sink's options (spec 20 §1.9): what they mean, their validation (every
// combination librdkafka would refuse is refused here first, naming the option), and the
// librdkafka producer properties derived from them.
#pragma once

#include <arrow/result.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "laminar/core/config.h"
#include "laminar/kafka/kafka_client.h"
#include "laminar/kafka/kafka_partitioner.h"
#include "laminar/kafka/schema_registry.h"

namespace laminar::kafka {

std::vector<ConfigKeySpec> KafkaSinkKeySpecs();

// "laminar-<pipeline>-<sink>": stable across restarts, distinct for two sinks of one
// pipeline (or two pipelines) writing the same topic.
std::string DefaultTransactionalId(const std::string& pipeline, const std::string& sink);

struct KafkaSinkOptions {
  std::string topic;
  bool exactly_once = false;
  std::string transactional_id;  // exactly-once only
  // The consumer group whose committed offset (topic, partition 0) is the last epoch this
  // sink committed, written inside each epoch's transaction (exactly-once only).
  std::string marker_group;
  std::chrono::milliseconds transaction_timeout{60000};
  std::chrono::milliseconds delivery_timeout{120000};
  std::string acks = "all";  // all, 1, 0
  int64_t max_in_flight = 5;
  bool idempotence = true;
  std::optional<std::string> key_column;
  PartitionerKind partitioner = PartitionerKind::kKeyHash;
  int64_t linger_ms = 5;
  int64_t batch_size = 16384;
  std::optional<int64_t> batch_num_messages;
  std::string compression = "none";
  std::string format = "json";
  // schema.registry.* (nullopt without schema.registry.url): where the Avro schema is
  // registered, under the subject schema.registry.subject or the strategy's name.
  std::optional<SchemaRegistryOptions> registry;
  SubjectStrategy subject_strategy = SubjectStrategy::kTopicName;
  std::optional<std::string> subject;
  // dlq.topic: where rows that cannot be delivered for a reason of their own go (empty:
  // such a row fails the write). The producer's configuration: MakeSinkDeadLetterProducerConfig.
  std::string dlq_topic;
  // Everything handed to librdkafka's producer, pass-through included.
  ClientProperties producer;
  // What a consumer needs to reach the same cluster (connection, security, pass-through
  // properties that are not producer-only): used to read the epoch marker.
  ClientProperties connection;

  static arrow::Result<KafkaSinkOptions> FromConfig(const ConnectorConfig& config);
};

}  // namespace laminar::kafka
