// Unit tests without a broker: options and their validation (spec 20 §1.16), the Java
// client's key placement, the offset tracker's checkpoint form, metadata columns.
#include <arrow/api.h>
#include <gtest/gtest.h>

#include "laminar/core/registry.h"
#include "laminar/core/secrets.h"
#include "laminar/kafka/kafka_alignment.h"
#include "laminar/kafka/kafka_metadata_columns.h"
#include "laminar/kafka/kafka_offset_tracker.h"
#include "laminar/kafka/kafka_partitioner.h"
#include "laminar/kafka/kafka_java_vectors_test_internal.h"
#include "laminar/kafka/kafka_sink.h"
#include "laminar/kafka/kafka_sink_options.h"
#include "laminar/kafka/kafka_source.h"
#include "laminar/kafka/kafka_source_options.h"
#include "laminar/kafka/kafka_watermarks.h"

namespace laminar::kafka {
namespace {

using Properties = std::map<std::string, std::string>;

ConnectorConfig SinkConfig(Properties properties, bool validate = true) {
  ConnectorConfig config("kafka", std::move(properties));
  config.set_instance_name("out");
  config.set_pipeline_name("orders");
  if (validate) {
    auto status = config.Validate(KafkaSinkKeySpecs());
    EXPECT_TRUE(status.ok()) << status.ToString();
  }
  return config;
}

ConnectorConfig SourceConfig(Properties properties) {
  ConnectorConfig config("kafka", std::move(properties));
  config.set_instance_name("in");
  config.set_pipeline_name("orders");
  auto status = config.Validate(KafkaSourceKeySpecs());
  EXPECT_TRUE(status.ok()) << status.ToString();
  return config;
}

// The message of a config error, which must name `option`.
std::string SinkError(Properties properties) {
  auto options = KafkaSinkOptions::FromConfig(SinkConfig(std::move(properties)));
  EXPECT_FALSE(options.ok());
  if (options.ok()) return "";
  EXPECT_EQ(KindOf(options.status()), ErrorKind::kConfig) << options.status().ToString();
  return options.status().message();
}

std::string SourceError(Properties properties) {
  auto options = KafkaSourceOptions::FromConfig(SourceConfig(std::move(properties)));
  EXPECT_FALSE(options.ok());
  if (options.ok()) return "";
  EXPECT_EQ(KindOf(options.status()), ErrorKind::kConfig) << options.status().ToString();
  return options.status().message();
}

#define EXPECT_MENTIONS(text, needle) EXPECT_NE((text).find(needle), std::string::npos) << (text)

// --- murmur2 and placement --------------------------------------------------------------

TEST(KafkaPartitionerTest, Murmur2AndPlacementEqualTheJavaClient) {
  for (const auto& java : kJava) {
    SCOPED_TRACE(java.key);
    EXPECT_EQ(Murmur2(java.key), java.murmur2);
    EXPECT_EQ(JavaKeyPartition(java.key, 3), java.on3);
    EXPECT_EQ(JavaKeyPartition(java.key, 12), java.on12);
  }
  EXPECT_EQ(JavaKeyPartition("order-123", 6), 1);  // spec 20 §1.11
}

TEST(KafkaPartitionerTest, RoundRobinAndSticky) {
  Partitioner rr(PartitionerKind::kRoundRobin);
  std::vector<int32_t> got;
  for (int i = 0; i < 4; ++i) got.push_back(*rr.Next(3));
  EXPECT_EQ(got, (std::vector<int32_t>{0, 1, 2, 0}));
  Partitioner sticky(PartitionerKind::kSticky);
  std::map<int32_t, int> counts;
  for (int i = 0; i < 250; ++i) ++counts[*sticky.Next(4)];
  EXPECT_EQ(counts, (std::map<int32_t, int>{{0, 100}, {1, 100}, {2, 50}}));
  sticky.Reset();  // a new epoch: a fresh run on the same partition
  EXPECT_EQ(*sticky.Next(4), 2);
  Partitioner hash(PartitionerKind::kKeyHash);
  EXPECT_FALSE(hash.Next(3).has_value());  // librdkafka's murmur2_random places it
  EXPECT_EQ(*ParsePartitioner("Round_Robin"), PartitionerKind::kRoundRobin);
  EXPECT_FALSE(ParsePartitioner("random").ok());
}

// --- sink options -----------------------------------------------------------------------

TEST(KafkaSinkOptionsTest, MinimalConfigDefaults) {
  auto options = KafkaSinkOptions::FromConfig(SinkConfig({{"bootstrap.servers", "b:9092"}, {"topic", "output-events"}}));
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_FALSE(options->exactly_once);
  EXPECT_EQ(options->acks, "all");
  EXPECT_EQ(options->max_in_flight, 5);
  EXPECT_TRUE(options->idempotence);
  EXPECT_EQ(options->partitioner, PartitionerKind::kKeyHash);
  const auto& p = options->producer;
  EXPECT_EQ(p.Get("enable.idempotence"), "true");
  EXPECT_EQ(p.Get("partitioner"), "murmur2_random");
  EXPECT_EQ(p.Get("linger.ms"), "5");
  EXPECT_EQ(p.Get("batch.size"), "16384");
  EXPECT_EQ(p.Get("compression.type"), "none");
  EXPECT_EQ(p.Get("message.timeout.ms"), "120000");
  EXPECT_EQ(p.Get("security.protocol"), "plaintext");
  EXPECT_FALSE(p.Has("transactional.id"));
  EXPECT_FALSE(p.Has("batch.num.messages"));
  // Every property is one librdkafka accepts.
  EXPECT_TRUE(p.MakeConf("test").ok());
}

TEST(KafkaSinkOptionsTest, ExactlyOnceDerivesAStableTransactionalIdPerPipelineAndSink) {
  auto options = KafkaSinkOptions::FromConfig(
      SinkConfig({{"bootstrap.servers", "b:9092"}, {"topic", "t"}, {"delivery.guarantee", "exactly_once"}}));
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_TRUE(options->exactly_once);
  EXPECT_EQ(options->transactional_id, "laminar-orders-out");
  EXPECT_EQ(options->marker_group, "laminar-epochs-laminar-orders-out");
  EXPECT_EQ(options->producer.Get("transactional.id"), "laminar-orders-out");
  EXPECT_EQ(options->producer.Get("transaction.timeout.ms"), "60000");
  // The delivery timeout defaults below the transaction timeout (librdkafka requires it).
  EXPECT_EQ(options->producer.Get("message.timeout.ms"), "60000");
  EXPECT_TRUE(options->producer.MakeConf("test").ok());
  // Another sink of the same pipeline on the same topic gets another id.
  auto other = SinkConfig({{"bootstrap.servers", "b:9092"}, {"topic", "t"}, {"delivery.guarantee", "exactly-once"}});
  other.set_instance_name("audit");
  EXPECT_EQ(KafkaSinkOptions::FromConfig(other)->transactional_id, "laminar-orders-audit");
  auto explicit_id = KafkaSinkOptions::FromConfig(SinkConfig(
      {{"bootstrap.servers", "b"}, {"topic", "t"}, {"delivery.guarantee", "exactly-once"}, {"transactional.id", "my-txn"}}));
  EXPECT_EQ(explicit_id->transactional_id, "my-txn");
}

TEST(KafkaSinkOptionsTest, FullOptionSetAndPassThrough) {
  auto options = KafkaSinkOptions::FromConfig(SinkConfig({{"bootstrap.servers", "b:9092"},
                                                          {"topic", "t"},
                                                          {"key.column", "order_id"},
                                                          {"partitioner", "round-robin"},
                                                          {"linger.ms", "10"},
                                                          {"batch.size", "32768"},
                                                          {"batch.num.messages", "500"},
                                                          {"compression.type", "zstd"},
                                                          {"acks", "1"},
                                                          {"max.in.flight.requests", "3"},
                                                          {"delivery.timeout.ms", "30000"},
                                                          {"properties.queue.buffering.max.messages", "20000"},
                                                          {"kafka.socket.keepalive.enable", "true"},
                                                          {"properties.sasl.password", "hunter2"}}));
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->key_column, "order_id");
  EXPECT_EQ(options->partitioner, PartitionerKind::kRoundRobin);
  EXPECT_EQ(options->acks, "1");
  EXPECT_FALSE(options->idempotence);  // acks=1 rules it out unless asked for
  const auto& p = options->producer;
  EXPECT_EQ(p.Get("compression.type"), "zstd");
  EXPECT_EQ(p.Get("batch.num.messages"), "500");
  EXPECT_EQ(p.Get("max.in.flight.requests.per.connection"), "3");
  EXPECT_EQ(p.Get("queue.buffering.max.messages"), "20000");
  EXPECT_EQ(p.Get("socket.keepalive.enable"), "true");
  // Secrets never reach a log line.
  const std::string shown = p.DisplayRedacted();
  EXPECT_EQ(shown.find("hunter2"), std::string::npos) << shown;
  EXPECT_MENTIONS(shown, "sasl.password=***");
  EXPECT_MENTIONS(shown, "socket.keepalive.enable=true");
}

TEST(KafkaClientTest, SecretPropertiesAreScrubbedFromAnyText) {
  // librdkafka logs and errors are free text: the values of the properties DisplayRedacted
  // masks are masked there too, PEM material without "password" in its name included.
  ClientProperties p;
  p.Set("sasl.password", "kafka-pw-0815", "properties.sasl.password");
  p.Set("ssl.key.pem", "-----BEGIN PRIVATE KEY-----MIIkafka", "properties.ssl.key.pem");
  p.Set("client.id", "kafka-client-0815");
  EXPECT_EQ(Scrub("auth kafka-pw-0815 key -----BEGIN PRIVATE KEY-----MIIkafka as kafka-client-0815"),
            "auth *** key *** as kafka-client-0815");
}

TEST(KafkaSinkOptionsTest, RejectsWhatLibrdkafkaWouldRefuseNamingTheOption) {
  const Properties base = {{"bootstrap.servers", "b"}, {"topic", "t"}};
  auto with = [&](Properties extra) {
    Properties p = base;
    for (auto& [k, v] : extra) p[k] = v;
    return p;
  };
  auto eo = [&](Properties extra) {
    extra["delivery.guarantee"] = "exactly-once";
    return with(extra);
  };
  EXPECT_MENTIONS(SinkError(eo({{"acks", "1"}})), "option 'acks'");
  EXPECT_MENTIONS(SinkError(eo({{"max.in.flight.requests", "6"}})), "<= 5");
  EXPECT_MENTIONS(SinkError(eo({{"max.in.flight.requests", "6"}})), "option 'max.in.flight.requests'");
  EXPECT_MENTIONS(SinkError(eo({{"properties.enable.idempotence", "false"}})), "option 'properties.enable.idempotence'");
  // Idempotence asked for explicitly, with acks or in-flight it cannot have.
  const auto acks = SinkError(with({{"acks", "0"}, {"properties.enable.idempotence", "true"}}));
  EXPECT_MENTIONS(acks, "option 'acks'");
  EXPECT_MENTIONS(acks, "properties.enable.idempotence");
  EXPECT_MENTIONS(SinkError(with({{"properties.max.in.flight.requests.per.connection", "10"},
                                  {"properties.enable.idempotence", "true"}})),
                  "option 'properties.max.in.flight.requests.per.connection'");
  EXPECT_MENTIONS(SinkError(eo({{"delivery.timeout.ms", "90000"}})), "option 'delivery.timeout.ms'");
  EXPECT_MENTIONS(SinkError(with({{"acks", "some"}})), "option 'acks'");
  EXPECT_MENTIONS(SinkError(with({{"delivery.guarantee", "at-most-once"}})), "option 'delivery.guarantee'");
  EXPECT_MENTIONS(SinkError(with({{"compression.type", "brotli"}})), "option 'compression.type'");
  EXPECT_MENTIONS(SinkError(with({{"partitioner", "random"}})), "option 'partitioner'");
  EXPECT_MENTIONS(SinkError(with({{"topic", "a,b"}})), "option 'topic'");
  EXPECT_MENTIONS(SinkError(with({{"transactional.id", "x"}})), "option 'transactional.id'");
  EXPECT_MENTIONS(SinkError(with({{"properties.transactional.id", "x"}})), "option 'properties.transactional.id'");
  EXPECT_MENTIONS(SinkError(with({{"security.protocol", "sasl_ssl"}})), "sasl.mechanism");
  EXPECT_MENTIONS(SinkError(with({{"security.protocol", "SASL-PLAINTEXT"}, {"sasl.mechanism", "plain"}})),
                  "'sasl.username' and 'sasl.password'");
  // A pass-through property librdkafka does not know is refused at once, named.
  auto options = KafkaSinkOptions::FromConfig(SinkConfig(with({{"properties.no.such.thing", "1"}})));
  ASSERT_TRUE(options.ok());
  auto conf = options->producer.MakeConf("sink 'out' (kafka)");
  ASSERT_FALSE(conf.ok());
  EXPECT_MENTIONS(conf.status().message(), "option 'properties.no.such.thing'");
}

TEST(KafkaSinkOptionsTest, SecurityOptions) {
  auto options = KafkaSinkOptions::FromConfig(SinkConfig({{"bootstrap.servers", "b"},
                                                          {"topic", "t"},
                                                          {"security.protocol", "SASL_SSL"},
                                                          {"sasl.mechanism", "scram_sha256"},
                                                          {"sasl.username", "u"},
                                                          {"sasl.password", "p"},
                                                          {"ssl.ca.location", "/etc/ca.pem"}}));
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->producer.Get("security.protocol"), "sasl_ssl");
  EXPECT_EQ(options->producer.Get("sasl.mechanisms"), "SCRAM-SHA-256");
  EXPECT_EQ(options->connection.Get("sasl.username"), "u");  // the marker consumer shares them
  EXPECT_EQ(options->connection.Get("ssl.ca.location"), "/etc/ca.pem");
  EXPECT_FALSE(options->connection.Has("linger.ms"));
  EXPECT_MENTIONS(SinkError({{"bootstrap.servers", "b"}, {"topic", "t"}, {"ssl.ca.location", "/x"}}),
                  "option 'ssl.ca.location'");
}

TEST(KafkaSinkOptionsTest, RegistryValidationNamesMissingKeys) {
  ConnectorRegistry registry;
  RegisterKafkaSink(registry);
  RegisterKafkaSource(registry);
  ConnectorConfig sink("kafka", {{"bootstrap.servers", "b"}});
  auto created = registry.CreateSink(sink);
  ASSERT_FALSE(created.ok());
  EXPECT_MENTIONS(created.status().message(), "'topic'");
  ConnectorConfig source("kafka", {{"bootstrap.servers", "b"}, {"topic", "t"}});
  auto created_source = registry.CreateSource(source);
  ASSERT_FALSE(created_source.ok());
  EXPECT_MENTIONS(created_source.status().message(), "'group.id'");
  ConnectorConfig empty("kafka", {});
  EXPECT_FALSE(registry.CreateSource(empty).ok());
}

// --- source options ---------------------------------------------------------------------

TEST(KafkaSourceOptionsTest, MinimalConfigDefaults) {
  auto options = KafkaSourceOptions::FromConfig(
      SourceConfig({{"bootstrap.servers", "b"}, {"group.id", "g"}, {"topic", "events"}}));
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->topics, std::vector<std::string>{"events"});
  EXPECT_EQ(options->startup, StartupMode::kGroupOffsets);
  EXPECT_EQ(options->reset, OffsetReset::kEarliest);
  EXPECT_TRUE(options->read_committed);
  EXPECT_EQ(options->max_poll_records, 1000);
  EXPECT_EQ(options->poll_timeout.count(), 100);
  EXPECT_FALSE(options->include_metadata);
  const auto& p = options->consumer;
  EXPECT_EQ(p.Get("enable.auto.commit"), "false");
  EXPECT_EQ(p.Get("enable.auto.offset.store"), "false");
  EXPECT_EQ(p.Get("partition.assignment.strategy"), "cooperative-sticky");
  EXPECT_EQ(p.Get("isolation.level"), "read_committed");
  EXPECT_EQ(p.Get("auto.offset.reset"), "earliest");
  EXPECT_TRUE(p.MakeConf("test").ok());
}

TEST(KafkaSourceOptionsTest, TopicsPatternStartupAndFetchOptions) {
  auto options = KafkaSourceOptions::FromConfig(SourceConfig({{"bootstrap.servers", "b"},
                                                              {"group.id", "g"},
                                                              {"topic", "a, b ,c"},
                                                              {"startup.mode", "LATEST"},
                                                              {"isolation.level", "read-uncommitted"},
                                                              {"fetch.max.wait.ms", "250"},
                                                              {"fetch.min.bytes", "10"},
                                                              {"partition.assignment.strategy", "round_robin"},
                                                              {"properties.session.timeout.ms", "6000"}}));
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->topics, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(options->startup, StartupMode::kLatest);
  EXPECT_FALSE(options->read_committed);
  EXPECT_EQ(options->consumer.Get("fetch.wait.max.ms"), "250");
  EXPECT_EQ(options->consumer.Get("fetch.min.bytes"), "10");
  EXPECT_EQ(options->consumer.Get("partition.assignment.strategy"), "roundrobin");
  EXPECT_EQ(options->consumer.Get("session.timeout.ms"), "6000");
  EXPECT_TRUE(options->consumer.MakeConf("test").ok());

  auto pattern = KafkaSourceOptions::FromConfig(
      SourceConfig({{"bootstrap.servers", "b"}, {"group.id", "g"}, {"topic.pattern", "events-.*"}}));
  ASSERT_TRUE(pattern.ok());
  EXPECT_EQ(pattern->pattern, "^events-.*");
  auto specific = KafkaSourceOptions::FromConfig(SourceConfig(
      {{"bootstrap.servers", "b"}, {"group.id", "g"}, {"topic", "t"}, {"startup.specific.offsets", " 0:100 , 1:200 "}}));
  ASSERT_TRUE(specific.ok()) << specific.status().ToString();
  EXPECT_EQ(specific->startup, StartupMode::kSpecificOffsets);
  EXPECT_EQ(specific->specific_offsets.size(), 2u);
  auto timestamp = KafkaSourceOptions::FromConfig(
      SourceConfig({{"bootstrap.servers", "b"}, {"group.id", "g"}, {"topic", "t"}, {"startup.timestamp.ms", "1234567890"}}));
  ASSERT_TRUE(timestamp.ok());
  EXPECT_EQ(timestamp->startup, StartupMode::kTimestamp);
  EXPECT_EQ(timestamp->startup_timestamp_ms, 1234567890);
}

TEST(KafkaSourceOptionsTest, SpecificOffsetsParse) {
  auto parsed = ParseSpecificOffsets("0:100,1:200,2:300");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->size(), 3u);
  EXPECT_EQ((parsed->at({"", 2})), 300);
  auto with_topic = ParseSpecificOffsets("orders:1:5, 0:7");
  ASSERT_TRUE(with_topic.ok());
  EXPECT_EQ((with_topic->at({"orders", 1})), 5);
  EXPECT_EQ((with_topic->at({"", 0})), 7);
  for (const char* bad : {"", "0", "0:abc", "abc:100", "0:100:extra:1", "0:-1", ":1:2"}) {
    EXPECT_FALSE(ParseSpecificOffsets(bad).ok()) << bad;
  }
}

TEST(KafkaSourceOptionsTest, Errors) {
  const Properties base = {{"bootstrap.servers", "b"}, {"group.id", "g"}, {"topic", "t"}};
  auto with = [&](Properties extra) {
    Properties p = base;
    for (auto& [k, v] : extra) p[k] = v;
    return p;
  };
  EXPECT_MENTIONS(SourceError({{"bootstrap.servers", "b"}, {"group.id", "g"}}), "'topic'");
  EXPECT_MENTIONS(SourceError(with({{"topic", "a,,b"}})), "option 'topic'");
  EXPECT_MENTIONS(SourceError(with({{"topic.pattern", "  "}})), "option 'topic.pattern'");
  EXPECT_MENTIONS(SourceError(with({{"topic.pattern", "events-[a"}})), "option 'topic.pattern'");
  EXPECT_MENTIONS(SourceError(with({{"startup.mode", "newest"}})), "option 'startup.mode'");
  EXPECT_MENTIONS(SourceError(with({{"startup.mode", "specific-offsets"}})), "option 'startup.specific.offsets'");
  EXPECT_MENTIONS(SourceError(with({{"startup.mode", "earliest"}, {"startup.timestamp.ms", "5"}})),
                  "option 'startup.timestamp.ms'");
  EXPECT_MENTIONS(SourceError(with({{"startup.specific.offsets", "0:x"}})), "option 'startup.specific.offsets'");
  EXPECT_MENTIONS(SourceError(with({{"auto.offset.reset", "middle"}})), "option 'auto.offset.reset'");
  EXPECT_MENTIONS(SourceError(with({{"isolation.level", "serializable"}})), "option 'isolation.level'");
  EXPECT_MENTIONS(SourceError(with({{"max.poll.records", "0"}})), "option 'max.poll.records'");
  EXPECT_MENTIONS(SourceError(with({{"partition.assignment.strategy", "sticky"}})),
                  "option 'partition.assignment.strategy'");
  EXPECT_MENTIONS(SourceError(with({{"properties.enable.auto.commit", "true"}})),
                  "option 'properties.enable.auto.commit'");
  EXPECT_MENTIONS(SourceError(with({{"security.protocol", "sasl_plaintext"}})), "sasl.mechanism");
  EXPECT_MENTIONS(SourceError(with({{"format", "debezium"}, {"include.metadata", "true"}})),
                  "option 'include.metadata'");
}

// --- offset tracker ---------------------------------------------------------------------

TEST(KafkaOffsetTrackerTest, CheckpointHoldsTheNextOffsetPerPartitionAndRoundTrips) {
  OffsetTracker tracker;
  tracker.Consumed({"topic-a", 0}, 99);
  tracker.Consumed({"topic-a", 1}, 199);
  tracker.Consumed({"topic-b", 0}, 5);
  tracker.Consumed({"topic-a", 0}, 100);
  auto checkpoint = tracker.ToCheckpoint();
  EXPECT_EQ(checkpoint.GetOffset("topic-a-0"), "101");
  EXPECT_EQ(checkpoint.GetOffset("topic-a-1"), "200");
  EXPECT_EQ(checkpoint.GetOffset("topic-b-0"), "6");
  EXPECT_EQ(checkpoint.GetMetadata("connector"), "kafka");
  auto back = OffsetTracker::FromCheckpoint(checkpoint);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, tracker.positions());
  SourceCheckpoint broken;
  broken.SetOffset("no_partition", "1");
  EXPECT_FALSE(OffsetTracker::FromCheckpoint(broken).ok());
  SourceCheckpoint negative;
  negative.SetOffset("t-0", "-5");
  EXPECT_FALSE(OffsetTracker::FromCheckpoint(negative).ok());
}

TEST(KafkaOffsetTrackerTest, RevokedPartitionsKeepTheirPosition) {
  OffsetTracker tracker;
  tracker.Assigned({{"t", 0}, {"t", 1}, {"t", 2}});
  tracker.Consumed({"t", 1}, 41);
  tracker.Revoked({{"t", 1}});
  EXPECT_EQ(tracker.assigned(), (std::set<TopicPartition>{{"t", 0}, {"t", 2}}));
  EXPECT_EQ(tracker.Next({"t", 1}), 42);  // still covered by the checkpoint
  tracker.Assigned({{"t", 1}});            // cooperative: incremental, not a replacement
  EXPECT_EQ(tracker.assigned().size(), 3u);
  EXPECT_EQ(tracker.rebalances(), 3);
}

// --- metadata columns -------------------------------------------------------------------

TEST(KafkaMetadataColumnsTest, AppendsUndeclaredAndKeepsDeclaredPlaceAndType) {
  auto declared = arrow::schema({arrow::field("id", arrow::int64()), arrow::field("_offset", arrow::int64()),
                                 arrow::field("name", arrow::utf8()),
                                 arrow::field("_timestamp", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))});
  auto columns = MetadataColumns::Make(declared, true, true, "source 'in' (kafka)");
  ASSERT_TRUE(columns.ok()) << columns.status().ToString();
  EXPECT_EQ(columns->value_schema()->ToString(), arrow::schema({declared->field(0), declared->field(2)})->ToString());
  auto output = columns->OutputSchema(columns->value_schema());
  ASSERT_TRUE(output.ok());
  std::vector<std::string> names;
  for (const auto& f : (*output)->fields()) names.push_back(f->name());
  EXPECT_EQ(names, (std::vector<std::string>{"id", "_offset", "name", "_timestamp", "_key", "_partition", "_headers"}));

  arrow::Int64Builder ids;
  ASSERT_TRUE(ids.AppendValues({1, 2}).ok());
  arrow::StringBuilder texts;
  ASSERT_TRUE(texts.AppendValues({"a", "b"}).ok());
  auto decoded = arrow::RecordBatch::Make(columns->value_schema(), 2, {ids.Finish().ValueOrDie(), texts.Finish().ValueOrDie()});
  std::vector<std::pair<std::string, std::string>> headers = {{"h", "v1"}, {"h", "v2"}};
  std::vector<MessageMetadata> rows = {{std::string_view("k1"), 2, 40, 1700000000123, &headers},
                                       {std::nullopt, 0, 7, -1, nullptr}};
  auto batch = columns->Assemble(*output, *decoded, rows);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_TRUE((*batch)->ValidateFull().ok());
  auto offsets = std::static_pointer_cast<arrow::Int64Array>((*batch)->GetColumnByName("_offset"));
  EXPECT_EQ(offsets->Value(0), 40);
  auto ts = std::static_pointer_cast<arrow::TimestampArray>((*batch)->GetColumnByName("_timestamp"));
  EXPECT_EQ(ts->Value(0), 1700000000123000);  // declared in microseconds
  EXPECT_TRUE(ts->IsNull(1));
  auto keys = std::static_pointer_cast<arrow::StringArray>((*batch)->GetColumnByName("_key"));
  EXPECT_EQ(keys->GetView(0), "k1");
  EXPECT_TRUE(keys->IsNull(1));
  auto partitions = std::static_pointer_cast<arrow::Int32Array>((*batch)->GetColumnByName("_partition"));
  EXPECT_EQ(partitions->Value(0), 2);
  auto header_lists = std::static_pointer_cast<arrow::ListArray>((*batch)->GetColumnByName("_headers"));
  EXPECT_EQ(header_lists->value_length(0), 2);
  EXPECT_EQ(header_lists->value_length(1), 0);

  auto wrong = MetadataColumns::Make(arrow::schema({arrow::field("_offset", arrow::utf8())}), true, false, "w");
  ASSERT_FALSE(wrong.ok());
  EXPECT_MENTIONS(wrong.status().message(), "'_offset'");
}

TEST(KafkaSinkTest, TransitionTable) {
  EXPECT_TRUE(IsValidTxnTransition(TxnState::kNone, TxnState::kReady));
  EXPECT_TRUE(IsValidTxnTransition(TxnState::kReady, TxnState::kOpen));
  EXPECT_TRUE(IsValidTxnTransition(TxnState::kOpen, TxnState::kPrepared));
  EXPECT_TRUE(IsValidTxnTransition(TxnState::kPrepared, TxnState::kReady));
  EXPECT_FALSE(IsValidTxnTransition(TxnState::kReady, TxnState::kPrepared));  // no prepare without a transaction
  EXPECT_FALSE(IsValidTxnTransition(TxnState::kPrepared, TxnState::kOpen));   // prepared: commit or abort only
  EXPECT_FALSE(IsValidTxnTransition(TxnState::kFatal, TxnState::kReady));     // a fatal producer is replaced
  EXPECT_TRUE(IsValidTxnTransition(TxnState::kOpen, TxnState::kFatal));
}


// --- watermarks, alignment, backpressure options ----------------------------------------

TEST(PartitionWatermarksTest, TheSlowestActivePartitionHoldsTheWatermarkBackByTheOutOfOrderness) {
  PartitionWatermarks w(std::chrono::milliseconds(500), std::chrono::milliseconds(1000));
  const auto t0 = PartitionWatermarks::Clock::now();
  const TopicPartition p0{"t", 0}, p1{"t", 1};
  w.Add(p0, t0);
  w.Add(p1, t0);
  EXPECT_FALSE(w.current());  // no event yet: no watermark
  w.Update(p0, 10'000, t0);
  EXPECT_EQ(w.current(), 9'500);  // p1 has no event yet and holds nothing back
  w.Update(p1, 4'000, t0);
  EXPECT_EQ(w.current(), 9'500);  // never backwards, even though p1 is behind
  w.Update(p0, 20'000, t0);
  EXPECT_EQ(w.current(), 9'500);  // p1 (3'500) now holds it at the old value
  w.Update(p1, 12'000, t0);
  EXPECT_EQ(w.current(), 11'500);
  w.Update(p1, 11'000, t0);       // late event: below the partition's max, changes nothing
  EXPECT_EQ(w.current(), 11'500);
  EXPECT_EQ(w.counters().updates, 5);
  EXPECT_EQ(w.counters().advances, 2);
}

TEST(PartitionWatermarksTest, AnIdlePartitionStopsHoldingBackAndItsReturnNeverPullsTheWatermarkBack) {
  PartitionWatermarks w(std::chrono::milliseconds(0), std::chrono::milliseconds(1000));
  const auto t0 = PartitionWatermarks::Clock::now();
  const TopicPartition busy{"t", 0}, quiet{"t", 1};
  w.Update(busy, 1'000, t0);
  w.Update(quiet, 1'000, t0);
  w.Update(busy, 5'000, t0 + std::chrono::milliseconds(900));
  w.CheckIdle(t0 + std::chrono::milliseconds(900));
  EXPECT_EQ(w.current(), 1'000);  // quiet is silent for 900 ms < 1 s: still holds back
  w.CheckIdle(t0 + std::chrono::milliseconds(1'500));
  EXPECT_EQ(w.idle_partitions(), 1);
  EXPECT_EQ(w.current(), 5'000);  // quiet went idle
  w.Update(quiet, 2'000, t0 + std::chrono::milliseconds(1'600));  // back with older data
  EXPECT_EQ(w.idle_partitions(), 0);
  EXPECT_EQ(w.current(), 5'000);  // monotonic
  EXPECT_EQ(w.counters().idle_transitions, 1);
  EXPECT_EQ(w.counters().active_transitions, 1);
  // Every partition idle: the last value holds.
  w.CheckIdle(t0 + std::chrono::milliseconds(10'000));
  EXPECT_EQ(w.idle_partitions(), 2);
  EXPECT_EQ(w.current(), 5'000);
  // A revoked partition no longer holds the others back.
  w.Update(quiet, 3'000, t0 + std::chrono::milliseconds(10'100));
  w.Update(busy, 9'000, t0 + std::chrono::milliseconds(10'100));
  EXPECT_EQ(w.current(), 5'000);
  w.Remove(quiet);
  EXPECT_EQ(w.current(), 9'000);
}

TEST(PartitionWatermarksTest, OutOfOrdernessSaturatesAtTheSmallestTime) {
  PartitionWatermarks w(std::chrono::milliseconds(1000), std::chrono::milliseconds(1000));
  w.Update({"t", 0}, INT64_MIN + 10, PartitionWatermarks::Clock::now());
  EXPECT_EQ(w.current(), INT64_MIN);
}

TEST(AlignmentGroupTest, TheBoundIsTheSlowestPublishedWatermarkPlusTheDrift) {
  auto group = AlignmentGroup::Get("align-unit");
  EXPECT_EQ(group, AlignmentGroup::Get("align-unit"));
  EXPECT_NE(group, AlignmentGroup::Get("align-other"));
  const int fast = group->Join();
  const int slow = group->Join();
  EXPECT_FALSE(group->Bound(std::chrono::milliseconds(100)));
  group->Publish(fast, 10'000);
  EXPECT_EQ(group->Bound(std::chrono::milliseconds(100)), 10'100);  // slow has none yet
  group->Publish(slow, 2'000);
  EXPECT_EQ(group->Bound(std::chrono::milliseconds(100)), 2'100);
  group->Leave(slow);
  EXPECT_EQ(group->Bound(std::chrono::milliseconds(100)), 10'100);
  group->Leave(fast);
}

TEST(KafkaSourceOptionsTest, WatermarkAlignmentAndBackpressureKeysAreValidated) {
  const Properties base{{"bootstrap.servers", "b"}, {"group.id", "g"}, {"topic", "events"}};
  auto with = [&](Properties extra) {
    Properties p = base;
    p.insert(extra.begin(), extra.end());
    return p;
  };
  auto options = KafkaSourceOptions::FromConfig(SourceConfig(with(
      {{"enable.watermark.tracking", "true"}, {"event.time.column", "ts"}, {"max.out.of.orderness.ms", "250"},
       {"idle.timeout.ms", "1500"}, {"alignment.group.id", "a"}, {"alignment.mode", "Drop_Excess"},
       {"alignment.max.drift.ms", "60000"}, {"backpressure.high.watermark", "0.9"},
       {"backpressure.low.watermark", "0.2"}})));
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_TRUE(options->watermarks);
  EXPECT_EQ(options->event_time_column, "ts");
  EXPECT_EQ(options->max_out_of_orderness.count(), 250);
  EXPECT_EQ(options->idle_timeout.count(), 1500);
  EXPECT_EQ(options->alignment_mode, AlignmentMode::kDropExcess);
  EXPECT_EQ(options->alignment_max_drift.count(), 60000);
  EXPECT_DOUBLE_EQ(options->backpressure_high, 0.9);
  EXPECT_DOUBLE_EQ(options->backpressure_low, 0.2);
  auto defaults = KafkaSourceOptions::FromConfig(SourceConfig(base));
  ASSERT_TRUE(defaults.ok());
  EXPECT_FALSE(defaults->watermarks);
  EXPECT_EQ(defaults->max_out_of_orderness.count(), 5000);
  EXPECT_EQ(defaults->idle_timeout.count(), 30000);
  EXPECT_DOUBLE_EQ(defaults->backpressure_high, 0.8);
  EXPECT_DOUBLE_EQ(defaults->backpressure_low, 0.5);

  EXPECT_MENTIONS(SourceError(with({{"backpressure.high.watermark", "0.4"}})), "backpressure.low.watermark");
  EXPECT_MENTIONS(SourceError(with({{"backpressure.high.watermark", "1.5"}})), "between 0 and 1");
  EXPECT_MENTIONS(SourceError(with({{"event.time.column", "ts"}})), "enable.watermark.tracking");
  EXPECT_MENTIONS(SourceError(with({{"alignment.group.id", "a"}})), "enable.watermark.tracking");
  EXPECT_MENTIONS(SourceError(with({{"enable.watermark.tracking", "true"}, {"alignment.group.id", "a"},
                                    {"alignment.mode", "sometimes"}})),
                  "is not one of pause, warn-only, drop-excess");
  EXPECT_MENTIONS(SourceError(with({{"idle.timeout.ms", "0"}})), "idle.timeout.ms");
  EXPECT_MENTIONS(SourceError(with({{"max.out.of.orderness.ms", "-1"}})), "max.out.of.orderness.ms");
}

}  // namespace
}  // namespace laminar::kafka
