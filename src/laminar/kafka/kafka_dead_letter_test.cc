// Unit tests without a broker: the dead-letter options of a source (dead_letter.topic and
// the producer's keys), the producer configuration derived from them, and the mapping of a
// dead-letter batch (made by the real ErrorRouter) to Kafka messages.
#include <arrow/api.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "laminar/dlq/dead_letter_sink.h"
#include "laminar/dlq/error_router.h"
#include "laminar/kafka/kafka_dead_letter.h"
#include "laminar/kafka/kafka_sink.h"
#include "laminar/kafka/kafka_sink_options.h"
#include "laminar/kafka/kafka_source_options.h"

namespace laminar::kafka {
namespace {

using Properties = std::map<std::string, std::string>;

ConnectorConfig KafkaSource(Properties properties) {
  properties.emplace("bootstrap.servers", "broker-a:9092");
  properties.emplace("topic", "orders");
  properties.emplace("group.id", "g");
  properties.emplace("on.error", "dead_letter");
  ConnectorConfig config("kafka", std::move(properties));
  config.set_instance_name("events");
  config.set_pipeline_name("shop");
  // Every key must be one the source declares; the config is used as written (Validate
  // would add the defaults of every other key).
  ConnectorConfig checked = config;
  auto status = checked.Validate(KafkaSourceKeySpecs());
  EXPECT_TRUE(status.ok()) << status.ToString();
  return config;
}

// The files source's keys are not needed here: ErrorOptions reads only the dlq ones.
ConnectorConfig FilesSource(Properties properties) {
  properties.emplace("on.error", "dead_letter");
  ConnectorConfig config("files", std::move(properties));
  config.set_instance_name("logs");
  config.set_pipeline_name("shop");
  return config;
}

arrow::Result<DeadLetterProducerConfig> Producer(const ConnectorConfig& source) {
  ARROW_ASSIGN_OR_RAISE(auto errors, dlq::ErrorOptions::FromConfig(source));
  return MakeDeadLetterProducerConfig(source, errors);
}

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// --- options ----------------------------------------------------------------------------

TEST(DeadLetterOptionsTest, TopicIsAcceptedNow) {
  auto options = dlq::ErrorOptions::FromConfig(KafkaSource({{"dead_letter.topic", "orders.dlq"}}));
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->policy, dlq::ErrorPolicy::kDeadLetter);
  EXPECT_EQ(options->dead_letter_topic, "orders.dlq");
  EXPECT_TRUE(options->dead_letter_path.empty());
}

TEST(DeadLetterOptionsTest, PathAndTopicTogetherAreRefused) {
  auto options =
      dlq::ErrorOptions::FromConfig(KafkaSource({{"dead_letter.topic", "dlq"}, {"dead_letter.path", "/tmp/dlq"}}));
  ASSERT_FALSE(options.ok());
  EXPECT_EQ(KindOf(options.status()), ErrorKind::kConfig);
  EXPECT_TRUE(Contains(options.status().message(), "both set")) << options.status().message();
}

TEST(DeadLetterOptionsTest, NonKafkaSourceNeedsBootstrapServers) {
  auto missing = dlq::ErrorOptions::FromConfig(FilesSource({{"dead_letter.topic", "dlq"}}));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(Contains(missing.status().message(), "needs 'dead_letter.bootstrap.servers'"))
      << missing.status().message();
  EXPECT_TRUE(Contains(missing.status().message(), "files source")) << missing.status().message();
  auto given = dlq::ErrorOptions::FromConfig(
      FilesSource({{"dead_letter.topic", "dlq"}, {"dead_letter.bootstrap.servers", "broker-b:9092"}}));
  EXPECT_TRUE(given.ok()) << given.status().ToString();
}

TEST(DeadLetterOptionsTest, ProducerKeysNeedATopic) {
  for (const Properties& stray : std::vector<Properties>{{{"dead_letter.bootstrap.servers", "b:1"}},
                                                         {{"dead_letter.delivery.guarantee", "at-least-once"}},
                                                         {{"dead_letter.transactional.id", "x"}},
                                                         {{"dead_letter.properties.acks", "all"}}}) {
    Properties properties = stray;
    properties.emplace("dead_letter.path", "/tmp/dlq");
    auto options = dlq::ErrorOptions::FromConfig(FilesSource(properties));
    ASSERT_FALSE(options.ok()) << stray.begin()->first;
    EXPECT_TRUE(Contains(options.status().message(), "need")) << options.status().message();
    EXPECT_TRUE(Contains(options.status().message(), "'dead_letter.topic'")) << options.status().message();
  }
}

TEST(DeadLetterOptionsTest, EmptyTopicIsRefused) {
  auto options = dlq::ErrorOptions::FromConfig(KafkaSource({{"dead_letter.topic", ""}}));
  ASSERT_FALSE(options.ok());
  EXPECT_TRUE(Contains(options.status().message(), "must not be empty")) << options.status().message();
}

TEST(DeadLetterOptionsTest, TheKeysAreDeclared) {
  ConnectorConfig config = FilesSource({{"dead_letter.topic", "dlq"},
                                        {"dead_letter.bootstrap.servers", "b:1"},
                                        {"dead_letter.properties.linger.ms", "1"},
                                        {"dead_letter.delivery.guarantee", "at-least-once"},
                                        {"dead_letter.transactional.id", "t"}});
  EXPECT_TRUE(config.Validate(dlq::ErrorKeySpecs()).ok());
  // Validate fills defaults: none of the producer's keys may get one, or every source
  // would look as if it set them.
  ConnectorConfig plain = FilesSource({});
  ASSERT_TRUE(plain.Validate(dlq::ErrorKeySpecs()).ok());
  for (const auto& [key, value] : plain.properties()) {
    EXPECT_FALSE(key.rfind("dead_letter.", 0) == 0 && key != "dead_letter.max-per-second" &&
                 key != "dead_letter.max-raw-bytes")
        << key;
  }
}

// --- the producer's configuration ----------------------------------------------------------

TEST(DeadLetterProducerConfigTest, KafkaSourceSharesItsConnectionAndSecurity) {
  auto producer = Producer(KafkaSource({{"dead_letter.topic", "orders.dlq"},
                                        {"security.protocol", "SASL_SSL"},
                                        {"sasl.mechanism", "SCRAM-SHA-512"},
                                        {"sasl.username", "alice"},
                                        {"sasl.password", "s3cret"},
                                        {"ssl.ca.location", "/etc/ca.pem"},
                                        {"properties.ssl.endpoint.identification.algorithm", "none"},
                                        {"kafka.socket.timeout.ms", "7000"},
                                        {"properties.client.rack", "r1"},
                                        // consumer-only: not the producer's business
                                        {"properties.session.timeout.ms", "6000"},
                                        {"properties.group.instance.id", "events-1"},
                                        {"max.poll.records", "10"}}));
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  const ClientProperties& p = producer->options.producer;
  EXPECT_EQ(p.Get("bootstrap.servers"), "broker-a:9092");
  EXPECT_EQ(p.Get("security.protocol"), "sasl_ssl");
  EXPECT_EQ(p.Get("sasl.mechanisms"), "SCRAM-SHA-512");
  EXPECT_EQ(p.Get("sasl.username"), "alice");
  EXPECT_EQ(p.Get("sasl.password"), "s3cret");
  EXPECT_EQ(p.Get("ssl.ca.location"), "/etc/ca.pem");
  EXPECT_EQ(p.Get("ssl.endpoint.identification.algorithm"), "none");
  EXPECT_EQ(p.Get("socket.timeout.ms"), "7000");
  EXPECT_EQ(p.Get("client.rack"), "r1");
  EXPECT_FALSE(p.Has("session.timeout.ms"));
  EXPECT_FALSE(p.Has("group.instance.id"));
  EXPECT_FALSE(p.Has("group.id"));
  EXPECT_EQ(producer->options.topic, "orders.dlq");
  EXPECT_EQ(producer->config.instance_name(), "events.dead_letters");
  EXPECT_TRUE(producer->config.schema()->Equals(*dlq::DeadLetterSchema()));
  // Secrets stay masked wherever the configuration is printed.
  EXPECT_FALSE(Contains(p.DisplayRedacted(), "s3cret"));
  EXPECT_FALSE(Contains(producer->config.DisplayRedacted(), "s3cret"));
}

TEST(DeadLetterProducerConfigTest, ExactlyOnceByDefaultWithItsOwnTransactionalId) {
  auto producer = Producer(KafkaSource({{"dead_letter.topic", "orders.dlq"}}));
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  EXPECT_TRUE(producer->options.exactly_once);
  EXPECT_EQ(producer->options.transactional_id, "laminar-shop-events.dlq");
  EXPECT_EQ(producer->options.transactional_id, DeadLetterTransactionalId("shop", "events"));
  EXPECT_EQ(producer->options.producer.Get("transactional.id"), "laminar-shop-events.dlq");
  EXPECT_EQ(producer->options.producer.Get("enable.idempotence"), "true");
  // Not the id of a data sink named like the source, nor of the files-DLQ sink's name.
  EXPECT_NE(producer->options.transactional_id, DefaultTransactionalId("shop", "events"));
  EXPECT_NE(producer->options.transactional_id, DefaultTransactionalId("shop", "events.dead_letters"));
  // The epoch marker is the producer's own too.
  EXPECT_EQ(producer->options.marker_group, "laminar-epochs-laminar-shop-events.dlq");
}

TEST(DeadLetterProducerConfigTest, AtLeastOnceHasNoTransactions) {
  auto producer =
      Producer(KafkaSource({{"dead_letter.topic", "dlq"}, {"dead_letter.delivery.guarantee", "at-least-once"}}));
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  EXPECT_FALSE(producer->options.exactly_once);
  EXPECT_FALSE(producer->options.producer.Has("transactional.id"));
  EXPECT_EQ(producer->options.producer.Get("enable.idempotence"), "true");
}

TEST(DeadLetterProducerConfigTest, ExplicitTransactionalId) {
  auto producer = Producer(KafkaSource({{"dead_letter.topic", "dlq"}, {"dead_letter.transactional.id", "my-dlq"}}));
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  EXPECT_EQ(producer->options.transactional_id, "my-dlq");
  auto refused = Producer(KafkaSource({{"dead_letter.topic", "dlq"},
                                       {"dead_letter.transactional.id", "my-dlq"},
                                       {"dead_letter.delivery.guarantee", "at-least-once"}}));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(KindOf(refused.status()), ErrorKind::kConfig);
  EXPECT_TRUE(Contains(refused.status().message(), "option 'dead_letter.transactional.id'"))
      << refused.status().message();
}

TEST(DeadLetterProducerConfigTest, ErrorsNameTheSourcesOptions) {
  auto bad_guarantee =
      Producer(KafkaSource({{"dead_letter.topic", "dlq"}, {"dead_letter.delivery.guarantee", "twice"}}));
  ASSERT_FALSE(bad_guarantee.ok());
  const std::string message = bad_guarantee.status().message();
  EXPECT_TRUE(Contains(message, "option 'dead_letter.delivery.guarantee'")) << message;
  EXPECT_TRUE(Contains(message, "'events' (kafka): dead-letter producer for topic 'dlq'")) << message;
  EXPECT_FALSE(Contains(message, "events.dead_letters")) << message;

  // A pass-through property that breaks exactly-once names the dead_letter.properties key.
  auto weak_acks = Producer(KafkaSource({{"dead_letter.topic", "dlq"}, {"dead_letter.properties.acks", "1"}}));
  ASSERT_FALSE(weak_acks.ok());
  EXPECT_TRUE(Contains(weak_acks.status().message(), "option 'dead_letter.properties.acks'"))
      << weak_acks.status().message();
  auto reserved =
      Producer(KafkaSource({{"dead_letter.topic", "dlq"}, {"dead_letter.properties.transactional.id", "x"}}));
  ASSERT_FALSE(reserved.ok());
  EXPECT_TRUE(Contains(reserved.status().message(), "option 'dead_letter.properties.transactional.id'"))
      << reserved.status().message();
}

TEST(DeadLetterProducerConfigTest, OwnBootstrapServersShareNothingOfTheSource) {
  auto producer = Producer(KafkaSource({{"dead_letter.topic", "dlq"},
                                        {"dead_letter.bootstrap.servers", "other:9093"},
                                        {"security.protocol", "sasl_plaintext"},
                                        {"sasl.mechanism", "PLAIN"},
                                        {"sasl.username", "alice"},
                                        {"sasl.password", "pw"},
                                        {"properties.socket.timeout.ms", "7000"},
                                        {"dead_letter.properties.security.protocol", "ssl"},
                                        {"dead_letter.properties.linger.ms", "50"}}));
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  const ClientProperties& p = producer->options.producer;
  EXPECT_EQ(p.Get("bootstrap.servers"), "other:9093");
  EXPECT_EQ(p.Get("security.protocol"), "ssl");
  EXPECT_FALSE(p.Has("sasl.username"));
  EXPECT_FALSE(p.Has("socket.timeout.ms"));
  EXPECT_EQ(p.Get("linger.ms"), "50");
}

TEST(DeadLetterProducerConfigTest, ATopicTheSourceReadsIsRefused) {
  auto same = Producer(KafkaSource({{"dead_letter.topic", "orders"}}));
  ASSERT_FALSE(same.ok());
  EXPECT_EQ(KindOf(same.status()), ErrorKind::kConfig);
  EXPECT_TRUE(Contains(same.status().message(), "is a topic this source reads")) << same.status().message();
  auto listed = Producer(KafkaSource({{"topic", "a, b"}, {"dead_letter.topic", "b"}}));
  EXPECT_FALSE(listed.ok());
  auto matched = Producer(KafkaSource({{"topic.pattern", "orders-.*"}, {"dead_letter.topic", "orders-dlq"}}));
  EXPECT_FALSE(matched.ok());
  auto elsewhere = Producer(KafkaSource({{"topic.pattern", "orders-.*"}, {"dead_letter.topic", "dlq-orders"}}));
  EXPECT_TRUE(elsewhere.ok()) << elsewhere.status().ToString();
  // Another cluster: the same name is another topic.
  auto other_cluster =
      Producer(KafkaSource({{"dead_letter.topic", "orders"}, {"dead_letter.bootstrap.servers", "other:9092"}}));
  EXPECT_TRUE(other_cluster.ok()) << other_cluster.status().ToString();
}

TEST(DeadLetterProducerConfigTest, DeadLetterPropertiesWinOverTheSources) {
  auto producer = Producer(KafkaSource({{"dead_letter.topic", "dlq"},
                                        {"properties.socket.timeout.ms", "7000"},
                                        {"dead_letter.properties.socket.timeout.ms", "9000"}}));
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  EXPECT_EQ(producer->options.producer.Get("socket.timeout.ms"), "9000");
}

TEST(DeadLetterProducerConfigTest, FilesSourceUsesDeadLetterBootstrapServers) {
  auto producer = Producer(FilesSource({{"dead_letter.topic", "logs.dlq"},
                                        {"dead_letter.bootstrap.servers", "broker-b:9092"},
                                        {"dead_letter.properties.client.id", "dlq-writer"}}));
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  EXPECT_EQ(producer->options.producer.Get("bootstrap.servers"), "broker-b:9092");
  EXPECT_EQ(producer->options.producer.Get("client.id"), "dlq-writer");
  EXPECT_EQ(producer->options.transactional_id, "laminar-shop-logs.dlq");
  EXPECT_EQ(producer->config.instance_name(), "logs.dead_letters");
}

// --- the messages ---------------------------------------------------------------------------

struct Letters {
  std::vector<std::string> storage;  // backs the records' views
  std::vector<std::vector<serde::Header>> headers;
  std::vector<serde::RawRecord> records;
  std::shared_ptr<arrow::RecordBatch> batch;
};

// Three Kafka records, all bad: keyed with headers, unkeyed, and one over max-raw-bytes.
Letters KafkaLetters() {
  Letters l;
  l.storage = {"orders-2", "17", "18", "19", "k1", "NOT JSON {{{", "{\"id\": \"four\"}", std::string(40, 'x')};
  l.headers = {{{"trace", "t1"}, {"trace", "second"}}, {}};
  l.records.resize(3);
  for (auto& r : l.records) r.partition = l.storage[0];
  l.records[0].offset = l.storage[1];
  l.records[0].key = l.storage[4];
  l.records[0].value = l.storage[5];
  l.records[0].timestamp_ms = 1'700'000'000'123;
  l.records[0].headers = &l.headers[0];
  l.records[1].offset = l.storage[2];
  l.records[1].value = l.storage[6];
  l.records[1].headers = &l.headers[1];
  l.records[2].offset = l.storage[3];
  l.records[2].value = l.storage[7];
  dlq::ErrorOptions options;
  options.policy = dlq::ErrorPolicy::kDeadLetter;
  options.dead_letter_topic = "dlq";
  options.max_raw_bytes = 16;
  dlq::ErrorRouter router("events", options);
  serde::DecodedBatch decoded;
  decoded.errors = {{0, "malformed JSON at byte 0"}, {1, "column 'id': \"four\" is not a BIGINT"}, {2, "too long"}};
  auto batch = router.Route(decoded, l.records);
  EXPECT_TRUE(batch.ok()) << batch.status().ToString();
  l.batch = *batch;
  EXPECT_EQ(router.counters().dead_lettered.load(), 3);
  return l;
}

std::map<std::string, std::string> LaminarHeaders(const KafkaMessage& message) {
  std::map<std::string, std::string> found;
  for (const auto& [name, value] : message.headers) {
    if (name.rfind("laminar.error.", 0) == 0) found[name] = value.value_or("<null>");
  }
  return found;
}

TEST(DeadLetterMapperTest, OriginalKeyValueAndHeadersThenTheErrorsContext) {
  Letters letters = KafkaLetters();
  ASSERT_NE(letters.batch, nullptr);
  DeadLetterMapper mapper("kafka");
  ASSERT_TRUE(mapper.Bind(*letters.batch->schema()).ok());
  std::vector<KafkaMessage> messages;
  ASSERT_TRUE(mapper.Map(*letters.batch, &messages).ok());
  ASSERT_EQ(messages.size(), 3u);

  const KafkaMessage& keyed = messages[0];
  EXPECT_EQ(keyed.key, std::optional<std::string_view>("k1"));
  EXPECT_EQ(keyed.value, std::optional<std::string_view>("NOT JSON {{{"));
  EXPECT_EQ(keyed.timestamp_ms, 1'700'000'000'123);
  // The record's own headers first, in their order, duplicates kept.
  ASSERT_GE(keyed.headers.size(), 2u);
  EXPECT_EQ(keyed.headers[0], (std::pair<std::string, std::optional<std::string>>("trace", "t1")));
  EXPECT_EQ(keyed.headers[1], (std::pair<std::string, std::optional<std::string>>("trace", "second")));
  auto context = LaminarHeaders(keyed);
  EXPECT_EQ(context[kErrorMessageHeader], "malformed JSON at byte 0");
  EXPECT_EQ(context[kErrorSourceHeader], "events");
  EXPECT_EQ(context[kErrorConnectorHeader], "kafka");
  EXPECT_EQ(context[kErrorTopicHeader], "orders");
  EXPECT_EQ(context[kErrorPartitionHeader], "2");
  EXPECT_EQ(context[kErrorOffsetHeader], "17");
  EXPECT_EQ(context.count(kErrorTruncatedHeader), 0u);
  ASSERT_EQ(context.count(kErrorTimestampHeader), 1u);
  EXPECT_GT(std::stoll(context[kErrorTimestampHeader]), 1'700'000'000'000);
  EXPECT_EQ(keyed.headers.size(), 2u + context.size());

  const KafkaMessage& unkeyed = messages[1];
  EXPECT_FALSE(unkeyed.key.has_value());
  EXPECT_EQ(unkeyed.value, std::optional<std::string_view>("{\"id\": \"four\"}"));
  EXPECT_EQ(unkeyed.timestamp_ms, 0);  // none of its own: the producer's clock
  EXPECT_EQ(LaminarHeaders(unkeyed)[kErrorOffsetHeader], "18");
  EXPECT_EQ(LaminarHeaders(unkeyed)[kErrorMessageHeader], "column 'id': \"four\" is not a BIGINT");
  EXPECT_EQ(unkeyed.headers.size(), LaminarHeaders(unkeyed).size());  // an empty header list adds none

  const KafkaMessage& cut = messages[2];
  EXPECT_EQ(cut.value, std::optional<std::string_view>(std::string(16, 'x')));
  EXPECT_EQ(LaminarHeaders(cut)[kErrorTruncatedHeader], "true");
}

TEST(DeadLetterMapperTest, OtherSourcesKeepTheirPositionText) {
  std::string file = "/data/in/part-1.jsonl";
  std::string offset = "line 12";
  std::string value = "{bad";
  std::vector<serde::RawRecord> records(1);
  records[0].partition = file;
  records[0].partition_label = "file";
  records[0].offset = offset;
  records[0].value = value;
  dlq::ErrorOptions options;
  options.policy = dlq::ErrorPolicy::kDeadLetter;
  options.dead_letter_topic = "dlq";
  dlq::ErrorRouter router("logs", options);
  serde::DecodedBatch decoded;
  decoded.errors = {{0, "malformed"}};
  auto batch = router.Route(decoded, records);
  ASSERT_TRUE(batch.ok() && *batch);
  DeadLetterMapper mapper("files");
  std::vector<KafkaMessage> messages;
  ASSERT_TRUE(mapper.Map(**batch, &messages).ok());
  ASSERT_EQ(messages.size(), 1u);
  auto context = LaminarHeaders(messages[0]);
  EXPECT_EQ(context[kErrorPartitionHeader], file);
  EXPECT_EQ(context[kErrorOffsetHeader], offset);
  EXPECT_EQ(context[kErrorConnectorHeader], "files");
  EXPECT_EQ(context.count(kErrorTopicHeader), 0u);
  EXPECT_FALSE(messages[0].key.has_value());
  EXPECT_EQ(messages[0].value, std::optional<std::string_view>(value));
}

TEST(DeadLetterMapperTest, SlicedBatchesMapTheirOwnRows) {
  Letters letters = KafkaLetters();
  ASSERT_NE(letters.batch, nullptr);
  DeadLetterMapper mapper("kafka");
  std::vector<KafkaMessage> messages;
  ASSERT_TRUE(mapper.Map(*letters.batch->Slice(1, 2), &messages).ok());
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(LaminarHeaders(messages[0])[kErrorOffsetHeader], "18");
  EXPECT_EQ(LaminarHeaders(messages[1])[kErrorOffsetHeader], "19");
  EXPECT_EQ(messages[0].headers.size(), LaminarHeaders(messages[0]).size());
}

TEST(DeadLetterMapperTest, RefusesAnythingButDeadLetters) {
  DeadLetterMapper mapper("kafka");
  auto other = arrow::schema({arrow::field("id", arrow::int64())});
  auto status = mapper.Bind(*other);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(KindOf(status), ErrorKind::kConfig);
  std::vector<KafkaMessage> messages;
  auto empty = arrow::RecordBatch::Make(
      other, 0, std::vector<std::shared_ptr<arrow::Array>>{arrow::MakeEmptyArray(arrow::int64()).ValueOrDie()});
  EXPECT_FALSE(mapper.Map(*empty, &messages).ok());
}

// --- the counting wrapper around an epoch-losing, at-least-once or failing producer ---------

class ScriptedSink : public SinkConnector {
 public:
  bool exactly_once = true;
  arrow::Status commit = arrow::Status::OK();
  arrow::Status flush = arrow::Status::OK();
  arrow::Status Open(const ConnectorConfig&) override { return arrow::Status::OK(); }
  SinkCapabilities capabilities() const override {
    SinkCapabilities caps;
    if (exactly_once) caps.WithExactlyOnce().WithTwoPhaseCommit();
    return caps;
  }
  arrow::Status BeginEpoch(uint64_t) override { return arrow::Status::OK(); }
  arrow::Result<WriteResult> WriteBatch(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    return WriteResult{batch->num_rows(), 0};
  }
  arrow::Status PreCommit(uint64_t) override { return arrow::Status::OK(); }
  arrow::Status CommitEpoch(uint64_t) override { return commit; }
  arrow::Status RollbackEpoch(uint64_t) override { return arrow::Status::OK(); }
  arrow::Status Flush() override { return flush; }
  arrow::Result<std::optional<uint64_t>> LastCommittedEpoch() override { return std::optional<uint64_t>(); }
  HealthStatus Health() const override { return HealthStatus::Healthy(); }
  ConnectorMetrics Metrics() const override { return ConnectorMetrics(); }
  arrow::Status Close() override { return arrow::Status::OK(); }
};

TEST(DeadLetterCountersTest, ALostEpochCountsAsFailedAndItsReplayAsWritten) {
  Letters letters = KafkaLetters();
  auto inner = std::make_unique<ScriptedSink>();
  ScriptedSink* scripted = inner.get();
  dlq::DeadLetterSink sink(std::move(inner));
  ASSERT_TRUE(sink.BeginEpoch(5).ok());
  ASSERT_TRUE(sink.WriteBatch(letters.batch).ok());
  ASSERT_TRUE(sink.PreCommit(5).ok());
  scripted->commit = EpochLostError("kafka", "transaction aborted by a new producer");
  EXPECT_EQ(KindOf(sink.CommitEpoch(5)), ErrorKind::kEpochLost);
  EXPECT_EQ(sink.dlq_written(), 0);
  EXPECT_EQ(sink.dlq_write_failed(), 3);
  // The replay writes the same epoch again; only it is counted as written.
  scripted->commit = arrow::Status::OK();
  ASSERT_TRUE(sink.WriteBatch(letters.batch).ok());
  ASSERT_TRUE(sink.PreCommit(5).ok());
  ASSERT_TRUE(sink.CommitEpoch(5).ok());
  EXPECT_EQ(sink.dlq_written(), 3);
  EXPECT_EQ(sink.dlq_write_failed(), 3);
}

TEST(DeadLetterCountersTest, AtLeastOnceCountsAtEachFlush) {
  Letters letters = KafkaLetters();
  auto inner = std::make_unique<ScriptedSink>();
  inner->exactly_once = false;
  ScriptedSink* scripted = inner.get();
  dlq::DeadLetterSink sink(std::move(inner));
  ASSERT_TRUE(sink.WriteBatch(letters.batch).ok());
  ASSERT_TRUE(sink.Flush().ok());
  EXPECT_EQ(sink.dlq_written(), 3);
  ASSERT_TRUE(sink.WriteBatch(letters.batch).ok());
  scripted->flush = arrow::Status::IOError("broker gone");
  EXPECT_FALSE(sink.Flush().ok());
  EXPECT_EQ(sink.dlq_written(), 3);
  EXPECT_EQ(sink.dlq_write_failed(), 3);
  scripted->flush = arrow::Status::OK();
  ASSERT_TRUE(sink.Flush().ok());  // nothing new since the failed one
  EXPECT_EQ(sink.dlq_written(), 3);
}

// --- a Kafka sink's own dead letters (dlq.topic) ----------------------------------------

ConnectorConfig KafkaSinkConfig(Properties properties) {
  properties.emplace("bootstrap.servers", "broker-a:9092");
  properties.emplace("topic", "orders-out");
  ConnectorConfig config("kafka", std::move(properties));
  config.set_instance_name("out");
  config.set_pipeline_name("shop");
  config.set_schema(arrow::schema({arrow::field("id", arrow::int64())}));
  ConnectorConfig checked = config;
  auto status = checked.Validate(KafkaSinkKeySpecs());
  EXPECT_TRUE(status.ok()) << status.ToString();
  return config;
}

arrow::Result<DeadLetterProducerConfig> SinkProducer(const ConnectorConfig& sink) {
  ARROW_ASSIGN_OR_RAISE(auto options, KafkaSinkOptions::FromConfig(sink));
  return MakeSinkDeadLetterProducerConfig(sink, options);
}

TEST(SinkDeadLetterOptionsTest, TheKeysAreDeclaredAndNeedATopic) {
  std::set<std::string> keys;
  for (const auto& spec : KafkaSinkKeySpecs()) keys.insert(spec.key);
  for (const char* key : {"dlq.topic", "dlq.bootstrap.servers", "dlq.properties.*", "dlq.transactional.id"}) {
    EXPECT_TRUE(keys.count(key)) << key;
  }
  for (const auto& [key, value] : Properties{{"dlq.bootstrap.servers", "b:9092"},
                                             {"dlq.transactional.id", "x"},
                                             {"dlq.properties.linger.ms", "1"}}) {
    auto options = KafkaSinkOptions::FromConfig(KafkaSinkConfig({{key, value}}));
    ASSERT_FALSE(options.ok()) << key;
    EXPECT_TRUE(Contains(options.status().message(), "need")) << options.status().ToString();
    EXPECT_TRUE(Contains(options.status().message(), "dlq.topic")) << options.status().ToString();
  }
  auto empty = KafkaSinkOptions::FromConfig(KafkaSinkConfig({{"dlq.topic", ""}}));
  ASSERT_FALSE(empty.ok());
  EXPECT_TRUE(Contains(empty.status().message(), "'dlq.topic' must not be empty")) << empty.status().ToString();
}

TEST(SinkDeadLetterOptionsTest, TheSinksOwnTopicIsRefusedAlsoByCheckConfig) {
  auto config = KafkaSinkConfig({{"dlq.topic", "orders-out"}});
  auto options = KafkaSinkOptions::FromConfig(config);
  ASSERT_FALSE(options.ok());
  EXPECT_TRUE(Contains(options.status().message(), "option 'dlq.topic' = 'orders-out' is the sink's own topic"))
      << options.status().ToString();
  EXPECT_FALSE(KafkaSink().CheckConfig(config).ok());
  // The same name on another cluster is another topic.
  EXPECT_TRUE(KafkaSinkOptions::FromConfig(
                  KafkaSinkConfig({{"dlq.topic", "orders-out"}, {"dlq.bootstrap.servers", "broker-b:9092"}}))
                  .ok());
  EXPECT_TRUE(KafkaSink().CheckConfig(KafkaSinkConfig({{"dlq.topic", "orders-dlq"}})).ok());
}

TEST(SinkDeadLetterProducerConfigTest, SharesTheSinksConnectionAndSecurityNotItsProducerSettings) {
  auto producer = SinkProducer(KafkaSinkConfig({{"dlq.topic", "orders-dlq"},
                                                {"security.protocol", "SASL_SSL"},
                                                {"sasl.mechanism", "SCRAM-SHA-512"},
                                                {"sasl.username", "alice"},
                                                {"sasl.password", "s3cret"},
                                                {"ssl.ca.location", "/etc/ca.pem"},
                                                {"ssl.key.password", "k3y"},
                                                {"ssl.certificate.location", "/etc/c.pem"},
                                                {"ssl.key.location", "/etc/k.pem"},
                                                {"properties.ssl.endpoint.identification.algorithm", "none"},
                                                {"kafka.socket.timeout.ms", "7000"},
                                                // the data producer's: the dead letters must fit elsewhere
                                                {"properties.message.max.bytes", "1000"},
                                                {"linger.ms", "50"},
                                                {"compression.type", "zstd"},
                                                {"key.column", "id"},
                                                {"delivery.timeout.ms", "30000"}}));
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  const ClientProperties& p = producer->options.producer;
  EXPECT_EQ(p.Get("bootstrap.servers"), "broker-a:9092");
  EXPECT_EQ(p.Get("security.protocol"), "sasl_ssl");
  EXPECT_EQ(p.Get("sasl.mechanisms"), "SCRAM-SHA-512");
  EXPECT_EQ(p.Get("sasl.username"), "alice");
  EXPECT_EQ(p.Get("sasl.password"), "s3cret");
  EXPECT_EQ(p.Get("ssl.ca.location"), "/etc/ca.pem");
  EXPECT_EQ(p.Get("ssl.certificate.location"), "/etc/c.pem");
  EXPECT_EQ(p.Get("ssl.key.location"), "/etc/k.pem");
  EXPECT_EQ(p.Get("ssl.key.password"), "k3y");
  EXPECT_EQ(p.Get("ssl.endpoint.identification.algorithm"), "none");
  EXPECT_EQ(p.Get("socket.timeout.ms"), "7000");
  EXPECT_FALSE(p.Has("message.max.bytes"));
  EXPECT_EQ(p.Get("linger.ms"), "5");
  EXPECT_EQ(p.Get("compression.type"), "none");
  EXPECT_EQ(p.Get("message.timeout.ms"), "30000");
  EXPECT_FALSE(producer->options.key_column.has_value());
  EXPECT_FALSE(producer->options.exactly_once);  // as the sink
  EXPECT_FALSE(p.Has("transactional.id"));
  EXPECT_EQ(p.Get("enable.idempotence"), "true");
  EXPECT_EQ(producer->options.topic, "orders-dlq");
  EXPECT_EQ(producer->config.instance_name(), "out.dead_letters");
  EXPECT_FALSE(Contains(p.DisplayRedacted(), "s3cret"));
  EXPECT_FALSE(Contains(p.DisplayRedacted(), "k3y"));
  EXPECT_FALSE(Contains(producer->config.DisplayRedacted(), "s3cret"));
}

TEST(SinkDeadLetterProducerConfigTest, ExactlyOnceWithTheSinksIdPlusDlq) {
  auto producer = SinkProducer(KafkaSinkConfig({{"dlq.topic", "orders-dlq"},
                                                {"delivery.guarantee", "exactly-once"},
                                                {"transaction.timeout.ms", "20000"}}));
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  EXPECT_TRUE(producer->options.exactly_once);
  EXPECT_EQ(producer->options.transactional_id, "laminar-shop-out.dlq");
  EXPECT_EQ(producer->options.marker_group, "laminar-epochs-laminar-shop-out.dlq");
  EXPECT_EQ(producer->options.producer.Get("transaction.timeout.ms"), "20000");
  auto own = SinkProducer(KafkaSinkConfig({{"dlq.topic", "orders-dlq"},
                                           {"delivery.guarantee", "exactly-once"},
                                           {"transactional.id", "tx-1"},
                                           {"dlq.transactional.id", "tx-1-letters"}}));
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  EXPECT_EQ(own->options.transactional_id, "tx-1-letters");
  auto same = SinkProducer(KafkaSinkConfig({{"dlq.topic", "orders-dlq"},
                                            {"delivery.guarantee", "exactly-once"},
                                            {"transactional.id", "tx-1"},
                                            {"dlq.transactional.id", "tx-1"}}));
  ASSERT_FALSE(same.ok());
  EXPECT_TRUE(Contains(same.status().message(), "fence")) << same.status().ToString();
  auto at_least_once = SinkProducer(KafkaSinkConfig({{"dlq.topic", "orders-dlq"}, {"dlq.transactional.id", "x"}}));
  ASSERT_FALSE(at_least_once.ok());
  EXPECT_TRUE(Contains(at_least_once.status().message(), "'dlq.transactional.id' needs delivery.guarantee"))
      << at_least_once.status().ToString();
}

TEST(SinkDeadLetterProducerConfigTest, OverridesNameTheSinksOptions) {
  auto other = SinkProducer(KafkaSinkConfig({{"dlq.topic", "orders-dlq"},
                                             {"dlq.bootstrap.servers", "broker-b:9092"},
                                             {"security.protocol", "SASL_PLAINTEXT"},
                                             {"sasl.mechanism", "PLAIN"},
                                             {"sasl.username", "alice"},
                                             {"sasl.password", "s3cret"},
                                             {"dlq.properties.message.max.bytes", "5000000"}}));
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_EQ(other->options.producer.Get("bootstrap.servers"), "broker-b:9092");
  EXPECT_FALSE(other->options.producer.Has("sasl.password"));
  EXPECT_EQ(other->options.producer.Get("message.max.bytes"), "5000000");
  auto weak = SinkProducer(KafkaSinkConfig({{"dlq.topic", "orders-dlq"}, {"dlq.properties.acks", "1"}}));
  ASSERT_FALSE(weak.ok());
  EXPECT_TRUE(Contains(weak.status().message(), "option 'dlq.properties.acks'")) << weak.status().ToString();
  EXPECT_TRUE(Contains(weak.status().message(), "'out' (kafka): dead-letter producer for topic 'orders-dlq'"))
      << weak.status().ToString();
  // validate (CheckConfig) finds it too.
  auto checked = KafkaSink().CheckConfig(KafkaSinkConfig({{"dlq.topic", "orders-dlq"}, {"dlq.properties.acks", "1"}}));
  ASSERT_FALSE(checked.ok());
  EXPECT_TRUE(Contains(checked.message(), "dlq.properties.acks")) << checked.ToString();
}

TEST(SinkDeadLetterMessageTest, OriginalKeyAndValueThenTheErrorsContext) {
  SinkDeadLetter letter;
  letter.key = "k1";
  letter.value = std::string(100, 'v');
  letter.error = "row 3: librdkafka refused the message: too large (MSG_SIZE_TOO_LARGE)";
  letter.code = "MSG_SIZE_TOO_LARGE";
  KafkaMessage message = SinkDeadLetterMessage(letter, "out", "orders-out", 7, 1700000000123, 1000);
  EXPECT_EQ(message.key, std::optional<std::string_view>("k1"));
  EXPECT_EQ(message.value, std::optional<std::string_view>(std::string(100, 'v')));
  using Header = std::pair<std::string, std::optional<std::string>>;
  EXPECT_EQ(message.headers, (std::vector<Header>{{"laminar.error.message", letter.error},
                                                  {"laminar.error.code", "MSG_SIZE_TOO_LARGE"},
                                                  {"laminar.error.sink", "out"},
                                                  {"laminar.error.connector", "kafka"},
                                                  {"laminar.error.topic", "orders-out"},
                                                  {"laminar.error.epoch", "7"},
                                                  {"laminar.error.timestamp", "1700000000123"}}));
  // At-least-once (no epoch), refused by the broker on partition 2, cut to fit.
  letter.partition = 2;
  letter.key.reset();
  KafkaMessage cut = SinkDeadLetterMessage(letter, "out", "orders-out", std::nullopt, 5, 10);
  EXPECT_FALSE(cut.key.has_value());
  EXPECT_EQ(cut.value, std::optional<std::string_view>(std::string(10, 'v')));
  std::map<std::string, std::string> headers;
  for (const auto& [name, value] : cut.headers) headers[name] = value.value_or("");
  EXPECT_EQ(headers["laminar.error.partition"], "2");
  EXPECT_EQ(headers["laminar.error.value.truncated"], "true");
  EXPECT_FALSE(headers.count("laminar.error.epoch"));
  // A row whose value could not be encoded has none.
  letter.value.reset();
  EXPECT_FALSE(SinkDeadLetterMessage(letter, "out", "orders-out", 1, 5, 10).value.has_value());
}

}  // namespace
}  // namespace laminar::kafka
