// The Kafka sink and source against librdkafka's in-process mock cluster: key placement of
// the real producer path, the transactional epoch protocol, fencing and a restarted sink
// deciding a lost epoch, a broker going down, consumption with metadata columns, dead
// letters, checkpoint/restore and bounded replay. The mock cluster keeps no transaction
// markers (read_committed visibility is proven against the real broker in
// tests/e2e/test_kafka_connectors.py).
#include <arrow/api.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
// After rdkafka.h, which it extends.
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <map>
#include <numeric>
#include <set>
#include <thread>

#include "laminar/kafka/kafka_dead_letter.h"
#include "laminar/kafka/kafka_java_vectors_test_internal.h"
#include "laminar/kafka/kafka_sink.h"
#include "laminar/kafka/kafka_source.h"

namespace laminar::kafka {
namespace {

using namespace std::chrono_literals;
using Properties = std::map<std::string, std::string>;

constexpr int16_t kApiEndTxn = 26;

#define EXPECT_MENTIONS(text, needle) EXPECT_NE((text).find(needle), std::string::npos) << (text)

struct Message {
  int32_t partition;
  int64_t offset;
  std::optional<std::string> key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers = {};
  int64_t timestamp_ms = 0;
};

class KafkaMockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char reason[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", reason, sizeof(reason));
    host_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf, reason, sizeof(reason)));
    ASSERT_TRUE(host_) << reason;
    cluster_ = rd_kafka_mock_cluster_new(host_.get(), 1);
    ASSERT_NE(cluster_, nullptr);
    bootstrap_ = rd_kafka_mock_cluster_bootstraps(cluster_);
  }
  void TearDown() override {
    if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
    host_.reset();
  }

  void CreateTopic(const std::string& topic, int partitions) {
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  static std::shared_ptr<arrow::Schema> RowSchema() {
    return arrow::schema({arrow::field("id", arrow::int64(), false), arrow::field("k", arrow::utf8())});
  }

  static std::shared_ptr<arrow::RecordBatch> Rows(int64_t first, int64_t count, const std::vector<std::string>& keys = {}) {
    arrow::Int64Builder ids;
    arrow::StringBuilder k;
    for (int64_t i = 0; i < count; ++i) {
      EXPECT_TRUE(ids.Append(first + i).ok());
      EXPECT_TRUE((keys.empty() ? k.Append("key-" + std::to_string(first + i)) : k.Append(keys[static_cast<size_t>(i)])).ok());
    }
    return arrow::RecordBatch::Make(RowSchema(), count, {ids.Finish().ValueOrDie(), k.Finish().ValueOrDie()});
  }

  std::unique_ptr<KafkaSink> OpenSink(Properties properties, arrow::Status* failure = nullptr) {
    properties["bootstrap.servers"] = bootstrap_;
    properties["properties.log_level"] = "3";
    ConnectorConfig config("kafka", properties);
    config.set_instance_name("out");
    config.set_pipeline_name("mock");
    config.set_schema(RowSchema());
    auto valid = config.Validate(KafkaSinkKeySpecs());
    EXPECT_TRUE(valid.ok()) << valid.ToString();
    auto sink = std::make_unique<KafkaSink>();
    auto status = sink->Open(config);
    if (failure != nullptr) {
      *failure = status;
      return status.ok() ? std::move(sink) : nullptr;
    }
    EXPECT_TRUE(status.ok()) << status.ToString();
    return status.ok() ? std::move(sink) : nullptr;
  }

  std::unique_ptr<KafkaSource> OpenSource(Properties properties, std::shared_ptr<arrow::Schema> schema) {
    properties["bootstrap.servers"] = bootstrap_;
    properties["properties.log_level"] = "3";
    properties["properties.session.timeout.ms"] = "6000";
    properties["properties.topic.metadata.refresh.interval.ms"] = "500";
    ConnectorConfig config("kafka", properties);
    config.set_instance_name("in");
    config.set_pipeline_name("mock");
    config.set_schema(std::move(schema));
    auto valid = config.Validate(KafkaSourceKeySpecs());
    EXPECT_TRUE(valid.ok()) << valid.ToString();
    auto source = std::make_unique<KafkaSource>();
    auto status = source->Open(config);
    EXPECT_TRUE(status.ok()) << status.ToString();
    return status.ok() ? std::move(source) : nullptr;
  }

  // Every message of the topic, read with a plain assigned consumer from the beginning.
  std::vector<Message> ReadTopic(const std::string& topic, int partitions, size_t expected) {
    char reason[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap_.c_str(), reason, sizeof(reason));
    rd_kafka_conf_set(conf, "group.id", "reader", reason, sizeof(reason));
    rd_kafka_conf_set(conf, "log_level", "3", reason, sizeof(reason));
    KafkaHandle consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf, reason, sizeof(reason)));
    EXPECT_TRUE(consumer) << reason;
    rd_kafka_poll_set_consumer(consumer.get());
    PartitionList list = NewPartitionList(partitions);
    for (int p = 0; p < partitions; ++p) {
      rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(consumer.get(), list.get());
    std::vector<Message> out;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    auto quiet = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() < deadline) {
      MessageHandle m(rd_kafka_consumer_poll(consumer.get(), 100));
      if (!m || m->err) {
        if (out.size() >= expected && std::chrono::steady_clock::now() - quiet > 500ms) break;
        continue;
      }
      quiet = std::chrono::steady_clock::now();
      Message message{m->partition, m->offset, std::nullopt,
                      std::string(static_cast<const char*>(m->payload), m->len)};
      if (m->key) message.key = std::string(static_cast<const char*>(m->key), m->key_len);
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(m.get(), &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name = nullptr;
        const void* value = nullptr;
        size_t size = 0;
        for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
          message.headers.emplace_back(name, value ? std::string(static_cast<const char*>(value), size) : "");
        }
      }
      message.timestamp_ms = rd_kafka_message_timestamp(m.get(), nullptr);
      out.push_back(std::move(message));
    }
    rd_kafka_consumer_close(consumer.get());
    return out;
  }

  void Produce(const std::string& topic, int32_t partition, const std::vector<std::string>& values,
               const std::string& key = "", bool with_header = false) {
    char reason[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap_.c_str(), reason, sizeof(reason));
    rd_kafka_conf_set(conf, "log_level", "3", reason, sizeof(reason));
    KafkaHandle producer(rd_kafka_new(RD_KAFKA_PRODUCER, conf, reason, sizeof(reason)));
    ASSERT_TRUE(producer) << reason;
    for (const auto& value : values) {
      rd_kafka_headers_t* headers = rd_kafka_headers_new(1);
      rd_kafka_header_add(headers, "trace", -1, "abc", 3);
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          producer.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_HEADERS(with_header ? headers : nullptr), RD_KAFKA_V_END);
      ASSERT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR);
      if (!with_header) rd_kafka_headers_destroy(headers);
    }
    ASSERT_EQ(rd_kafka_flush(producer.get(), 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  // Polls until `rows` rows came (or the deadline), concatenated.
  static std::vector<SourceBatch> PollRows(KafkaSource& source, int64_t rows, std::chrono::seconds limit = 30s) {
    std::vector<SourceBatch> batches;
    int64_t got = 0;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (got < rows && std::chrono::steady_clock::now() < deadline) {
      auto batch = source.PollBatch(rows - got, 200ms);
      EXPECT_TRUE(batch.ok()) << batch.status().ToString();
      if (!batch.ok()) break;
      if (!*batch) continue;
      got += (*batch)->num_rows();
      batches.push_back(std::move(**batch));
    }
    return batches;
  }

  static std::vector<int64_t> Ids(const std::vector<SourceBatch>& batches) {
    std::vector<int64_t> ids;
    for (const auto& b : batches) {
      auto column = std::static_pointer_cast<arrow::Int64Array>(b.records->GetColumnByName("id"));
      for (int64_t i = 0; i < column->length(); ++i) ids.push_back(column->Value(i));
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  KafkaHandle host_;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstrap_;
};

// --- sink -------------------------------------------------------------------------------

// The producer path (produceva with the key, librdkafka's murmur2_random partitioner) puts
// every key where the Java client would, on 3 and on 12 partitions.
TEST_F(KafkaMockTest, KeyPlacementThroughTheProducerEqualsTheJavaClient) {
  for (int partitions : {3, 12}) {
    SCOPED_TRACE(partitions);
    const std::string topic = "placement-" + std::to_string(partitions);
    CreateTopic(topic, partitions);
    auto sink = OpenSink({{"topic", topic}, {"key.column", "k"}});
    ASSERT_TRUE(sink);
    EXPECT_EQ(sink->partition_count(), partitions);
    std::vector<std::string> keys;
    std::map<std::string, int32_t> java;
    for (const auto& v : kJava) {
      keys.push_back(v.key);
      java[v.key] = partitions == 3 ? v.on3 : v.on12;
    }
    auto written = sink->WriteBatch(Rows(0, static_cast<int64_t>(keys.size()), keys));
    ASSERT_TRUE(written.ok()) << written.status().ToString();
    ASSERT_TRUE(sink->Flush().ok());
    auto messages = ReadTopic(topic, partitions, keys.size());
    ASSERT_EQ(messages.size(), keys.size());
    for (const auto& m : messages) {
      ASSERT_TRUE(m.key.has_value());
      EXPECT_EQ(m.partition, java.at(*m.key)) << "key '" << *m.key << "'";
    }
    ASSERT_TRUE(sink->Close().ok());
  }
}

TEST_F(KafkaMockTest, RoundRobinUsesTheTopicsRealPartitionCount) {
  CreateTopic("rr", 5);
  auto sink = OpenSink({{"topic", "rr"}, {"partitioner", "round-robin"}});
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->WriteBatch(Rows(0, 10)).ok());
  ASSERT_TRUE(sink->Flush().ok());
  std::map<int32_t, int> per_partition;
  for (const auto& m : ReadTopic("rr", 5, 10)) ++per_partition[m.partition];
  EXPECT_EQ(per_partition, (std::map<int32_t, int>{{0, 2}, {1, 2}, {2, 2}, {3, 2}, {4, 2}}));
}

TEST_F(KafkaMockTest, ExactlyOnceEpochsCommitAbortAndCommitTwiceIsANoOp) {
  CreateTopic("eo", 3);
  auto sink = OpenSink({{"topic", "eo"}, {"delivery.guarantee", "exactly-once"}, {"key.column", "k"}});
  ASSERT_TRUE(sink);
  EXPECT_TRUE(sink->capabilities().exactly_once);
  EXPECT_EQ(sink->txn_state(), TxnState::kReady);
  EXPECT_FALSE(sink->LastCommittedEpoch()->has_value());
  ASSERT_TRUE(sink->BeginEpoch(1).ok());
  EXPECT_EQ(sink->txn_state(), TxnState::kOpen);
  ASSERT_TRUE(sink->WriteBatch(Rows(0, 100)).ok());
  auto pre = sink->PreCommit(1);
  ASSERT_TRUE(pre.ok()) << pre.ToString();
  EXPECT_EQ(sink->txn_state(), TxnState::kPrepared);
  auto commit = sink->CommitEpoch(1);
  ASSERT_TRUE(commit.ok()) << commit.ToString();
  EXPECT_EQ(sink->txn_state(), TxnState::kReady);
  EXPECT_EQ(*sink->LastCommittedEpoch(), std::optional<uint64_t>(1));
  EXPECT_TRUE(sink->CommitEpoch(1).ok());  // again: a no-op
  // An epoch rolled back, then begun again under the same number.
  ASSERT_TRUE(sink->BeginEpoch(2).ok());
  ASSERT_TRUE(sink->WriteBatch(Rows(100, 10)).ok());
  ASSERT_TRUE(sink->RollbackEpoch(2).ok());
  EXPECT_EQ(sink->txn_state(), TxnState::kReady);
  ASSERT_TRUE(sink->BeginEpoch(2).ok());
  ASSERT_TRUE(sink->WriteBatch(Rows(100, 10)).ok());
  ASSERT_TRUE(sink->PreCommit(2).ok());
  ASSERT_TRUE(sink->CommitEpoch(2).ok());
  // An empty epoch still commits (its marker makes it decidable after a restart).
  ASSERT_TRUE(sink->BeginEpoch(3).ok());
  ASSERT_TRUE(sink->PreCommit(3).ok());
  ASSERT_TRUE(sink->CommitEpoch(3).ok());
  EXPECT_EQ(*sink->LastCommittedEpoch(), std::optional<uint64_t>(3));
  auto metrics = sink->Metrics();
  EXPECT_EQ(metrics.records_total, 110u);  // the rolled-back ten were purged before they were sent
  EXPECT_EQ(metrics.errors_total, 0u);     // and that is no delivery failure
  ASSERT_TRUE(sink->Close().ok());
}

// After a restart, an epoch prepared by the dead producer is gone (its transaction was
// aborted by fencing): CommitEpoch says kEpochLost, so the runtime replays it. An epoch
// the marker covers is a no-op. The fenced zombie stops instead of fencing back.
TEST_F(KafkaMockTest, RestartedSinkDecidesLostAndCommittedEpochsFromTheMarker) {
  CreateTopic("restart", 1);
  const Properties eo = {{"topic", "restart"}, {"delivery.guarantee", "exactly-once"}};
  auto zombie = OpenSink(eo);
  ASSERT_TRUE(zombie);
  ASSERT_TRUE(zombie->BeginEpoch(1).ok());
  ASSERT_TRUE(zombie->WriteBatch(Rows(0, 5)).ok());
  ASSERT_TRUE(zombie->PreCommit(1).ok());

  auto restarted = OpenSink(eo);  // init_transactions fences the zombie
  ASSERT_TRUE(restarted);
  auto lost = restarted->CommitEpoch(1);
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(KindOf(lost), ErrorKind::kEpochLost) << lost.ToString();
  EXPECT_MENTIONS(lost.message(), "epoch 1 was never committed");

  // The mock cluster does not bump the producer epoch, so tell the zombie what a real
  // broker would answer its commit.
  rd_kafka_mock_push_request_errors(cluster_, kApiEndTxn, 1, RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
  auto fenced = zombie->CommitEpoch(1);
  ASSERT_FALSE(fenced.ok());
  EXPECT_EQ(KindOf(fenced), ErrorKind::kFenced) << fenced.ToString();
  auto again = zombie->BeginEpoch(2);
  EXPECT_EQ(KindOf(again), ErrorKind::kFenced) << again.ToString();
  EXPECT_FALSE(zombie->Health().is_healthy());

  // The replay the runtime then runs, under the same epoch number.
  ASSERT_TRUE(restarted->BeginEpoch(1).ok());
  ASSERT_TRUE(restarted->WriteBatch(Rows(0, 5)).ok());
  ASSERT_TRUE(restarted->PreCommit(1).ok());
  ASSERT_TRUE(restarted->CommitEpoch(1).ok());
  ASSERT_TRUE(restarted->Close().ok());

  // The mock broker keeps no transactional offsets, so record the marker as the broker
  // would on commit: the group's committed offset on partition 0 is the epoch.
  {
    char reason[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap_.c_str(), reason, sizeof(reason));
    rd_kafka_conf_set(conf, "group.id", "laminar-epochs-laminar-mock-out", reason, sizeof(reason));
    KafkaHandle consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf, reason, sizeof(reason)));
    PartitionList offsets = NewPartitionList();
    rd_kafka_topic_partition_list_add(offsets.get(), "restart", 0)->offset = 7;
    ASSERT_EQ(rd_kafka_commit(consumer.get(), offsets.get(), 0), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_consumer_close(consumer.get());
  }
  auto third = OpenSink(eo);
  ASSERT_TRUE(third);
  EXPECT_EQ(*third->LastCommittedEpoch(), std::optional<uint64_t>(7));
  EXPECT_TRUE(third->CommitEpoch(7).ok());  // decided and committed before the restart: nothing to do
  EXPECT_TRUE(third->CommitEpoch(6).ok());
  EXPECT_EQ(KindOf(third->CommitEpoch(8)), ErrorKind::kEpochLost);
}

// A commit the broker refuses as fatal for this producer only (not a fencing) is settled
// by a new producer and the marker: here nothing was committed, so the epoch is lost.
TEST_F(KafkaMockTest, FatalCommitErrorIsSettledByANewProducer) {
  CreateTopic("fatal", 1);
  auto sink = OpenSink({{"topic", "fatal"}, {"delivery.guarantee", "exactly-once"}});
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->BeginEpoch(1).ok());
  ASSERT_TRUE(sink->WriteBatch(Rows(0, 3)).ok());
  ASSERT_TRUE(sink->PreCommit(1).ok());
  rd_kafka_mock_push_request_errors(cluster_, kApiEndTxn, 1, RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  auto status = sink->CommitEpoch(1);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(KindOf(status), ErrorKind::kEpochLost) << status.ToString();
  EXPECT_EQ(sink->txn_state(), TxnState::kReady);  // a working producer again
  ASSERT_TRUE(sink->BeginEpoch(1).ok());
  ASSERT_TRUE(sink->WriteBatch(Rows(0, 3)).ok());
  ASSERT_TRUE(sink->PreCommit(1).ok());
  ASSERT_TRUE(sink->CommitEpoch(1).ok());
}

// Broker down: the epoch fails at pre-commit (not at some later, silent point); after the
// broker is back, rollback and a new attempt of the same epoch commit.
TEST_F(KafkaMockTest, BrokerDownFailsThePreCommitThenTheEpochIsRetried) {
  CreateTopic("down", 1);
  auto sink = OpenSink({{"topic", "down"},
                        {"delivery.guarantee", "exactly-once"},
                        {"delivery.timeout.ms", "3000"},
                        {"transaction.timeout.ms", "10000"},
                        {"properties.reconnect.backoff.max.ms", "200"}});
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->BeginEpoch(1).ok());
  ASSERT_EQ(rd_kafka_mock_broker_set_down(cluster_, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(sink->WriteBatch(Rows(0, 50)).ok());
  const auto started = std::chrono::steady_clock::now();
  auto pre = sink->PreCommit(1);
  ASSERT_FALSE(pre.ok());
  EXPECT_EQ(KindOf(pre), ErrorKind::kNeedsAbort) << pre.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 15s);  // bounded by delivery.timeout.ms
  ASSERT_EQ(rd_kafka_mock_broker_set_up(cluster_, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  auto rollback = sink->RollbackEpoch(1);
  ASSERT_TRUE(rollback.ok()) << rollback.ToString();
  ASSERT_TRUE(sink->BeginEpoch(1).ok());
  ASSERT_TRUE(sink->WriteBatch(Rows(0, 50)).ok());
  auto again = sink->PreCommit(1);
  ASSERT_TRUE(again.ok()) << again.ToString();
  ASSERT_TRUE(sink->CommitEpoch(1).ok());
}

TEST_F(KafkaMockTest, AtLeastOnceFlushReportsUndeliveredMessages) {
  CreateTopic("alo", 1);
  auto sink = OpenSink({{"topic", "alo"}, {"delivery.timeout.ms", "3000"}, {"properties.reconnect.backoff.max.ms", "200"}});
  ASSERT_TRUE(sink);
  EXPECT_FALSE(sink->capabilities().exactly_once);
  ASSERT_EQ(rd_kafka_mock_broker_set_down(cluster_, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(sink->WriteBatch(Rows(0, 20)).ok());
  auto flushed = sink->Flush();
  ASSERT_FALSE(flushed.ok());
  EXPECT_MENTIONS(flushed.message(), "20 messages failed");
  EXPECT_TRUE(IsRetryable(flushed)) << flushed.ToString();
  ASSERT_EQ(rd_kafka_mock_broker_set_up(cluster_, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(sink->WriteBatch(Rows(0, 20)).ok());
  auto again = sink->Flush();
  ASSERT_TRUE(again.ok()) << again.ToString();
  EXPECT_EQ(ReadTopic("alo", 1, 20).size(), 20u);
}

// dlq.topic: a row librdkafka refuses (larger than message.max.bytes) goes to the
// dead-letter topic with its key, value and the error's headers; the others are written.
// Exactly-once: the dead letters are in the dead-letter producer's transaction, counted
// when the epoch commits; a rolled-back epoch's are not.
TEST_F(KafkaMockTest, SinkDeadLettersARowLibrdkafkaRefusesAndTheOthersFlowOn) {
  CreateTopic("big", 1);
  CreateTopic("big-dlq", 1);
  auto sink = OpenSink({{"topic", "big"},
                        {"delivery.guarantee", "exactly-once"},
                        {"key.column", "k"},
                        {"properties.message.max.bytes", "1000"},
                        {"dlq.topic", "big-dlq"}});
  ASSERT_TRUE(sink);
  ASSERT_NE(sink->dead_letter_producer(), nullptr);
  EXPECT_EQ(sink->dead_letter_producer()->options().transactional_id, "laminar-mock-out.dlq");
  EXPECT_EQ(sink->dead_letter_producer()->txn_state(), TxnState::kReady);
  const std::string huge(3000, 'x');
  ASSERT_TRUE(sink->BeginEpoch(1).ok());
  auto written = sink->WriteBatch(Rows(0, 4, {"a", huge, "c", "d"}));
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(written->records_written, 3);
  auto pre = sink->PreCommit(1);
  ASSERT_TRUE(pre.ok()) << pre.ToString();
  EXPECT_EQ(sink->dlq_records(), 0u);  // not before the commit
  auto commit = sink->CommitEpoch(1);
  ASSERT_TRUE(commit.ok()) << commit.ToString();
  EXPECT_EQ(sink->dlq_records(), 1u);
  EXPECT_EQ(*sink->dead_letter_producer()->LastCommittedEpoch(), std::optional<uint64_t>(1));

  auto rows = ReadTopic("big", 1, 3);
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& m : rows) EXPECT_NE(m.key, std::optional<std::string>(huge));
  auto letters = ReadTopic("big-dlq", 1, 1);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].key, std::optional<std::string>(huge));
  EXPECT_MENTIONS(letters[0].value, "\"id\":1");
  EXPECT_MENTIONS(letters[0].value, huge);
  std::map<std::string, std::string> headers(letters[0].headers.begin(), letters[0].headers.end());
  EXPECT_EQ(headers["laminar.error.code"], "MSG_SIZE_TOO_LARGE");
  EXPECT_MENTIONS(headers["laminar.error.message"], "row 1");
  EXPECT_EQ(headers["laminar.error.topic"], "big");
  EXPECT_EQ(headers["laminar.error.sink"], "out");
  EXPECT_EQ(headers["laminar.error.connector"], "kafka");
  EXPECT_EQ(headers["laminar.error.epoch"], "1");
  EXPECT_GT(std::stoll(headers["laminar.error.timestamp"]), 1600000000000);

  // A rolled-back epoch's dead letters are not counted; its transaction is aborted.
  ASSERT_TRUE(sink->BeginEpoch(2).ok());
  ASSERT_TRUE(sink->WriteBatch(Rows(10, 2, {huge, "f"})).ok());
  ASSERT_TRUE(sink->RollbackEpoch(2).ok());
  EXPECT_EQ(sink->dead_letter_producer()->txn_state(), TxnState::kReady);
  ASSERT_TRUE(sink->BeginEpoch(2).ok());
  ASSERT_TRUE(sink->WriteBatch(Rows(10, 2, {huge, "f"})).ok());
  ASSERT_TRUE(sink->PreCommit(2).ok());
  ASSERT_TRUE(sink->CommitEpoch(2).ok());
  EXPECT_EQ(sink->dlq_records(), 2u);
  auto metrics = sink->Metrics();
  auto counter = std::find_if(metrics.custom.begin(), metrics.custom.end(),
                              [](const auto& entry) { return entry.first == "dlq_records"; });
  ASSERT_NE(counter, metrics.custom.end());
  EXPECT_EQ(counter->second, 2.0);
  ASSERT_TRUE(sink->Close().ok());
}

// Without dlq.topic the same row fails the write, naming the row and the reason.
TEST_F(KafkaMockTest, WithoutADeadLetterTopicARefusedRowFailsTheWrite) {
  CreateTopic("big2", 1);
  auto sink = OpenSink({{"topic", "big2"}, {"properties.message.max.bytes", "1000"}});
  ASSERT_TRUE(sink);
  auto written = sink->WriteBatch(Rows(0, 3, {"a", std::string(3000, 'x'), "c"}));
  ASSERT_FALSE(written.ok());
  EXPECT_MENTIONS(written.status().message(), "produce row 1");
  EXPECT_MENTIONS(written.status().message(), "MSG_SIZE_TOO_LARGE");
  for (const auto& [name, value] : sink->Metrics().custom) EXPECT_NE(name, "dlq_records");
}

// At-least-once: the broker refuses a whole batch for good (as for one record too large
// for the topic's max.message.bytes); each message is sent again alone, and the one it
// refuses alone as well is dead-lettered with the partition, the others are written.
TEST_F(KafkaMockTest, AtLeastOnceSendsABatchTheBrokerRefusedAgainAloneAndDeadLettersTheRefusedOne) {
  CreateTopic("refused", 1);
  CreateTopic("refused-dlq", 1);
  auto sink = OpenSink({{"topic", "refused"}, {"key.column", "k"}, {"linger.ms", "200"}, {"dlq.topic", "refused-dlq"}});
  ASSERT_TRUE(sink);
  // The batch of five, then the first of them sent alone.
  rd_kafka_mock_push_request_errors(cluster_, /*Produce*/ 0, 2, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
                                    RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  ASSERT_TRUE(sink->WriteBatch(Rows(0, 5)).ok());
  auto flushed = sink->Flush();
  ASSERT_TRUE(flushed.ok()) << flushed.ToString();
  EXPECT_EQ(sink->dlq_records(), 1u);
  auto rows = ReadTopic("refused", 1, 4);
  std::set<std::string> keys;
  for (const auto& m : rows) keys.insert(m.key.value_or(""));
  EXPECT_EQ(keys, (std::set<std::string>{"key-1", "key-2", "key-3", "key-4"}));
  auto letters = ReadTopic("refused-dlq", 1, 1);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].key, std::optional<std::string>("key-0"));
  EXPECT_MENTIONS(letters[0].value, "\"id\":0");
  std::map<std::string, std::string> headers(letters[0].headers.begin(), letters[0].headers.end());
  EXPECT_EQ(headers["laminar.error.code"], "MSG_SIZE_TOO_LARGE");
  EXPECT_EQ(headers["laminar.error.partition"], "0");
  EXPECT_EQ(headers["laminar.error.topic"], "refused");
  EXPECT_FALSE(headers.count("laminar.error.epoch"));
  EXPECT_EQ(sink->Metrics().errors_total, 0u);
  ASSERT_TRUE(sink->Close().ok());
}

// A decided epoch whose dead letters committed but whose rows were lost (the process died
// between the two commits) is replayed into the sink: the rows are written again, the
// dead letters are not (their producer skips an epoch it committed).
TEST_F(KafkaMockTest, AReplayedEpochSkipsTheDeadLettersAlreadyCommitted) {
  CreateTopic("replayed", 1);
  CreateTopic("replayed-dlq", 1);
  const Properties eo = {{"topic", "replayed"},
                         {"delivery.guarantee", "exactly-once"},
                         {"properties.message.max.bytes", "1000"},
                         {"dlq.topic", "replayed-dlq"}};
  const std::string huge(3000, 'x');
  {
    auto sink = OpenSink(eo);
    ASSERT_TRUE(sink);
    ASSERT_TRUE(sink->BeginEpoch(1).ok());
    ASSERT_TRUE(sink->WriteBatch(Rows(0, 3, {"a", huge, "c"})).ok());
    ASSERT_TRUE(sink->PreCommit(1).ok());
    // Only the dead letters commit; then the process "dies" (the sink is dropped without
    // its rows' commit, and the next producer's fencing aborts them).
    ASSERT_TRUE(sink->dead_letter_producer()->CommitEpoch(1).ok());
  }
  {
    // The mock broker keeps no transactional offsets: record the dead-letter producer's
    // marker as a broker would have on its commit.
    char reason[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap_.c_str(), reason, sizeof(reason));
    rd_kafka_conf_set(conf, "group.id", "laminar-epochs-laminar-mock-out.dlq", reason, sizeof(reason));
    KafkaHandle consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf, reason, sizeof(reason)));
    PartitionList offsets = NewPartitionList();
    rd_kafka_topic_partition_list_add(offsets.get(), "replayed-dlq", 0)->offset = 1;
    ASSERT_EQ(rd_kafka_commit(consumer.get(), offsets.get(), 0), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_consumer_close(consumer.get());
  }
  auto sink = OpenSink(eo);
  ASSERT_TRUE(sink);
  EXPECT_EQ(*sink->LastCommittedEpoch(), std::optional<uint64_t>(1));  // the later of the two
  auto lost = sink->CommitEpoch(1);
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(KindOf(lost), ErrorKind::kEpochLost) << lost.ToString();
  ASSERT_TRUE(sink->BeginEpoch(1).ok());
  EXPECT_TRUE(sink->dead_letter_producer()->skipping_epoch());
  ASSERT_TRUE(sink->WriteBatch(Rows(0, 3, {"a", huge, "c"})).ok());
  ASSERT_TRUE(sink->PreCommit(1).ok());
  auto commit = sink->CommitEpoch(1);
  ASSERT_TRUE(commit.ok()) << commit.ToString();
  EXPECT_EQ(sink->dlq_records(), 0u);  // committed by the first producer, not this one
  EXPECT_EQ(ReadTopic("replayed-dlq", 1, 1).size(), 1u);
  ASSERT_TRUE(sink->Close().ok());
}

TEST_F(KafkaMockTest, OpenFailsForAMissingKeyColumnOrAnUnwritableFormat) {
  arrow::Status failure;
  CreateTopic("keyed", 1);
  EXPECT_FALSE(OpenSink({{"topic", "keyed"}, {"key.column", "missing"}}, &failure));
  EXPECT_MENTIONS(failure.message(), "option 'key.column'");
  EXPECT_FALSE(OpenSink({{"topic", "keyed"}, {"format", "debezium"}}, &failure));
  EXPECT_MENTIONS(failure.message(), "option 'format'");
}

// --- source -----------------------------------------------------------------------------

std::shared_ptr<arrow::Schema> JsonSchema() {
  return arrow::schema({arrow::field("id", arrow::int64(), false), arrow::field("name", arrow::utf8())});
}

std::vector<std::string> JsonValues(int64_t first, int64_t count) {
  std::vector<std::string> values;
  for (int64_t i = first; i < first + count; ++i) {
    values.push_back("{\"id\": " + std::to_string(i) + ", \"name\": \"item-" + std::to_string(i) + "\"}");
  }
  return values;
}

TEST_F(KafkaMockTest, SourceReadsEveryPartitionWithMetadataColumns) {
  CreateTopic("events", 3);
  for (int32_t p = 0; p < 3; ++p) Produce("events", p, JsonValues(p * 100, 10), "k" + std::to_string(p), true);
  auto source = OpenSource({{"topic", "events"}, {"group.id", "g-meta"}, {"include.metadata", "true"},
                            {"include.headers", "true"}},
                           JsonSchema());
  ASSERT_TRUE(source);
  std::vector<std::string> names;
  for (const auto& f : source->schema()->fields()) names.push_back(f->name());
  EXPECT_EQ(names, (std::vector<std::string>{"id", "name", "_key", "_partition", "_offset", "_timestamp", "_headers"}));
  auto batches = PollRows(*source, 30);
  auto ids = Ids(batches);
  ASSERT_EQ(ids.size(), 30u);
  for (const auto& batch : batches) {
    ASSERT_TRUE(batch.records->ValidateFull().ok());
    auto id = std::static_pointer_cast<arrow::Int64Array>(batch.records->GetColumnByName("id"));
    auto key = std::static_pointer_cast<arrow::StringArray>(batch.records->GetColumnByName("_key"));
    auto partition = std::static_pointer_cast<arrow::Int32Array>(batch.records->GetColumnByName("_partition"));
    auto offset = std::static_pointer_cast<arrow::Int64Array>(batch.records->GetColumnByName("_offset"));
    auto headers = std::static_pointer_cast<arrow::ListArray>(batch.records->GetColumnByName("_headers"));
    for (int64_t i = 0; i < batch.records->num_rows(); ++i) {
      const int64_t p = id->Value(i) / 100;
      EXPECT_EQ(partition->Value(i), p);
      EXPECT_EQ(offset->Value(i), id->Value(i) % 100);  // produced in order from offset 0
      EXPECT_EQ(key->GetView(i), "k" + std::to_string(p));
      EXPECT_EQ(headers->value_length(i), 1);
    }
  }
  auto checkpoint = source->Checkpoint();
  EXPECT_EQ(checkpoint.GetOffset("events-0"), "10");
  EXPECT_EQ(checkpoint.GetOffset("events-1"), "10");
  EXPECT_EQ(checkpoint.GetOffset("events-2"), "10");
  EXPECT_EQ(source->assigned().size(), 3u);
  ASSERT_TRUE(source->Close().ok());
}

// Restore positions through the assignment: a new member of another group, restored to a
// checkpoint, reads exactly what came after it; and the group's offsets move only when
// the checkpoint is acknowledged.
TEST_F(KafkaMockTest, RestoreResumesAfterTheCheckpointAndOffsetsFollowAcknowledgement) {
  CreateTopic("resume", 2);
  Produce("resume", 0, JsonValues(0, 20));
  Produce("resume", 1, JsonValues(100, 20));
  SourceCheckpoint checkpoint;
  {
    auto first = OpenSource({{"topic", "resume"}, {"group.id", "g-resume"}, {"max.poll.records", "7"}}, JsonSchema());
    ASSERT_TRUE(first);
    auto batches = PollRows(*first, 14);
    checkpoint = first->Checkpoint();
    ASSERT_TRUE(first->OnCheckpointCommitted(1).ok());
    ASSERT_TRUE(first->Close().ok());
  }
  int64_t consumed = 0;
  for (const auto& [key, next] : checkpoint.offsets()) consumed += std::stoll(next);
  ASSERT_GE(consumed, 14);
  // The committed group offsets are the checkpoint's.
  {
    char reason[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap_.c_str(), reason, sizeof(reason));
    rd_kafka_conf_set(conf, "group.id", "g-resume", reason, sizeof(reason));
    KafkaHandle reader(rd_kafka_new(RD_KAFKA_CONSUMER, conf, reason, sizeof(reason)));
    PartitionList list = NewPartitionList(2);
    rd_kafka_topic_partition_list_add(list.get(), "resume", 0);
    rd_kafka_topic_partition_list_add(list.get(), "resume", 1);
    ASSERT_EQ(rd_kafka_committed(reader.get(), list.get(), 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(std::to_string(list->elems[i].offset),
                checkpoint.GetOffset("resume-" + std::to_string(i)).value_or("-1001"));
    }
    rd_kafka_consumer_close(reader.get());
  }
  auto second = OpenSource({{"topic", "resume"}, {"group.id", "g-other"}, {"startup.mode", "earliest"}}, JsonSchema());
  ASSERT_TRUE(second);
  ASSERT_TRUE(second->Restore(checkpoint).ok());
  auto rest = Ids(PollRows(*second, 40 - consumed));
  EXPECT_EQ(static_cast<int64_t>(rest.size()), 40 - consumed);
  // Nothing more than the rest arrives.
  auto extra = second->PollBatch(100, 1000ms);
  ASSERT_TRUE(extra.ok());
  EXPECT_FALSE(extra->has_value());
  std::set<int64_t> expected;
  for (const auto& [key, next] : checkpoint.offsets()) {
    const int64_t base = key == "resume-0" ? 0 : 100;
    for (int64_t i = std::stoll(next); i < 20; ++i) expected.insert(base + i);
  }
  EXPECT_EQ(std::set<int64_t>(rest.begin(), rest.end()), expected);
}

// decode.threads = 2: a large poll returns its first half and holds the second, decoded,
// for the next poll, which holds its own messages in turn (the pipeline). A checkpoint
// covers only what was returned, a restore drops the held messages and reads them again,
// and every message comes exactly once, in order.
TEST_F(KafkaMockTest, TwoDecodeThreadsHoldAPollsSecondHalfOutsideTheCheckpoint) {
  CreateTopic("halves", 1);
  Produce("halves", 0, JsonValues(0, 1000));
  auto source = OpenSource({{"topic", "halves"}, {"group.id", "g-halves"}, {"decode.threads", "2"},
                            {"max.poll.records", "600"}},
                           JsonSchema());
  ASSERT_TRUE(source);
  std::vector<int64_t> ids;
  auto take = [&](const SourceBatch& batch) {
    auto column = std::static_pointer_cast<arrow::Int64Array>(batch.records->GetColumnByName("id"));
    for (int64_t i = 0; i < column->length(); ++i) ids.push_back(column->Value(i));
  };
  bool split_seen = false;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (ids.size() < 1000 && std::chrono::steady_clock::now() < deadline) {
    auto batch = source->PollBatch(600, 200ms);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    if (!*batch) continue;
    take(**batch);
    const int64_t returned = (*batch)->num_rows();
    const size_t held = source->held_messages();
    auto checkpoint = source->Checkpoint();
    ASSERT_EQ(checkpoint.GetOffset("halves-0"), std::to_string(ids.back() + 1));
    if (held == 0) continue;
    if (!split_seen) {
      // The halves of the first poll of at least kMinSplitMessages: the second one or more.
      EXPECT_GE(held + static_cast<size_t>(returned), KafkaSource::kMinSplitMessages);
      EXPECT_TRUE(held == static_cast<size_t>(returned) || held == static_cast<size_t>(returned) + 1);
      // The first time: restore the checkpoint just taken; the held half is read again.
      split_seen = true;
      ASSERT_TRUE(source->Restore(checkpoint).ok());
      EXPECT_EQ(source->held_messages(), 0u);
    } else {
      // Later: the held rows come next (while the messages of that poll are held in turn).
      auto next = source->PollBatch(600, 0ms);
      ASSERT_TRUE(next.ok() && next->has_value());
      EXPECT_EQ(static_cast<size_t>((*next)->num_rows()), held);
      take(**next);
    }
  }
  EXPECT_TRUE(split_seen) << "no poll was large enough to be split";
  std::vector<int64_t> expected(1000);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(ids, expected);
  ASSERT_TRUE(source->Close().ok());
}

// A rebalance inside a poll while the member holds decoded messages: the member has
// committed everything it returned (so the revoked partitions go at once, without a commit
// during the rebalance, which the mock coordinator refuses), then a second member joins.
// The held messages of the partitions that left are dropped, and whoever reads on from the
// group's offsets reads them: every message exactly once.
TEST_F(KafkaMockTest, HeldMessagesOfARevokedPartitionAreDroppedInTheRebalance) {
  CreateTopic("handover", 4);
  for (int32_t p = 0; p < 4; ++p) Produce("handover", p, JsonValues(p * 100000, 2000));
  // The eager protocol: the mock coordinator does not complete cooperative rounds.
  const Properties properties = {{"topic", "handover"}, {"group.id", "g-handover"}, {"decode.threads", "2"},
                                 {"max.poll.records", "400"}, {"partition.assignment.strategy", "range"},
                                 // The first member learns of the second's join from a heartbeat.
                                 {"properties.heartbeat.interval.ms", "200"}};
  auto first = OpenSource(properties, JsonSchema());
  ASSERT_TRUE(first);
  std::vector<int64_t> ids;
  uint64_t epoch = 0;
  auto poll = [&](KafkaSource& source) {
    auto batch = source.PollBatch(400, 100ms);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    if (*batch) {
      auto column = std::static_pointer_cast<arrow::Int64Array>((*batch)->records->GetColumnByName("id"));
      for (int64_t i = 0; i < column->length(); ++i) ids.push_back(column->Value(i));
    }
  };
  auto commit = [&](KafkaSource& source) {
    (void)source.Checkpoint();
    (void)source.OnCheckpointCommitted(++epoch);  // may be refused mid-rebalance: tried again
  };
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  // Until the held messages are a full poll's (a poll that was not full would be returned
  // by the next call without polling, outside the rebalance), everything returned
  // committed.
  while (first->held_messages() != 400 && std::chrono::steady_clock::now() < deadline) {
    poll(*first);
    commit(*first);
  }
  ASSERT_EQ(first->held_messages(), 400u);
  std::unique_ptr<KafkaSource> second;
  std::thread opener([&] { second = OpenSource(properties, JsonSchema()); });
  // The first member polls only once the second has joined (the revocation waits in its
  // queue: a second or two after the join), so the rebalance runs inside a poll that holds
  // messages.
  std::this_thread::sleep_for(8s);
  const int64_t rebalances_before = first->rebalances();
  for (;;) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no rebalance";
    const size_t rows_before = ids.size();
    const bool held = first->held_messages() > 0;
    poll(*first);
    if (first->rebalances() == rebalances_before) {
      std::this_thread::sleep_for(50ms);
      continue;
    }
    // The poll that revoked every partition (the eager protocol) while messages were held
    // returned none of them and holds none.
    EXPECT_TRUE(held);
    EXPECT_EQ(ids.size(), rows_before) << "rows of a revoked partition were returned";
    EXPECT_EQ(first->held_messages(), 0u);
    break;
  }
  opener.join();
  ASSERT_TRUE(second);
  // Both leave (nothing more was returned, everything returned is committed); a third
  // member, alone in the group (further rounds of the mock coordinator with two members
  // are not reliable), reads on from the group's offsets.
  ASSERT_TRUE(first->Close().ok());
  ASSERT_TRUE(second->Close().ok());
  auto third = OpenSource(properties, JsonSchema());
  ASSERT_TRUE(third);
  auto quiet_since = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < deadline + 30s) {
    const size_t before = ids.size();
    poll(*third);
    if (ids.size() != before) quiet_since = std::chrono::steady_clock::now();
    if (ids.size() >= 8000 && std::chrono::steady_clock::now() - quiet_since > 2s) break;
  }
  std::sort(ids.begin(), ids.end());
  std::vector<int64_t> expected;
  for (int64_t p = 0; p < 4; ++p) {
    for (int64_t i = 0; i < 2000; ++i) expected.push_back(p * 100000 + i);
  }
  EXPECT_EQ(ids.size(), expected.size());
  EXPECT_TRUE(ids == expected) << "lost or duplicated messages";
  ASSERT_TRUE(third->Close().ok());
}

// A Confluent Avro message: magic byte, schema id, then {id: long, name: ["null", string]}.
std::string AvroMessage(int32_t schema_id, int64_t id) {
  std::string out(1, '\0');
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((schema_id >> shift) & 0xff);
  auto varint = [&](uint64_t v) {
    for (; v >= 0x80; v >>= 7) out += static_cast<char>((v & 0x7f) | 0x80);
    out += static_cast<char>(v);
  };
  varint((static_cast<uint64_t>(id) << 1) ^ static_cast<uint64_t>(id >> 63));
  const std::string name = "item-" + std::to_string(id);
  varint(2);  // union branch 1: string
  varint(name.size() << 1);
  return out + name;
}

// A poll that fails after taking messages (here: the registry is down for a schema id the
// source has not seen) must not skip them: the runtime polls again after a transient error
// without a restore, so the source rewinds to the tracked positions itself. Later messages
// never come before the one that failed, and the checkpoint never passes it.
TEST_F(KafkaMockTest, AFailedPollRewindsSoNoMessageIsSkipped) {
  for (const std::string threads : {"1", "2"}) {
    SCOPED_TRACE("decode.threads = " + threads);
    const std::string topic = "rewind-" + threads;
    CreateTopic(topic, 1);
    // Offsets 0-2 and 4-5 use the pinned schema (id 1); offset 3 names id 7, which only
    // the (unreachable) registry could resolve.
    Produce(topic, 0, {AvroMessage(1, 0), AvroMessage(1, 1), AvroMessage(1, 2), AvroMessage(7, 3), AvroMessage(1, 4),
                       AvroMessage(1, 5)});
    const std::string schema =
        R"({"type":"record","name":"r","fields":[{"name":"id","type":"long"},{"name":"name","type":["null","string"]}]})";
    auto source = OpenSource({{"topic", topic}, {"group.id", "g-" + topic}, {"format", "avro"},
                              {"format.avro.schema", schema}, {"format.avro.schema.id", "1"},
                              {"schema.registry.url", "http://127.0.0.1:1"}, {"schema.registry.timeout.ms", "1000"},
                              {"decode.threads", threads}},
                             JsonSchema());
    ASSERT_TRUE(source);
    std::vector<int64_t> ids;
    int failures = 0;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (failures < 3 && std::chrono::steady_clock::now() < deadline) {
      auto batch = source->PollBatch(100, 300ms);
      if (!batch.ok()) {
        ++failures;
        EXPECT_LE(std::stoll(source->Checkpoint().GetOffset(topic + "-0").value_or("0")), 3);
        continue;
      }
      if (!*batch) continue;
      auto column = std::static_pointer_cast<arrow::Int64Array>((*batch)->records->GetColumnByName("id"));
      for (int64_t i = 0; i < column->length(); ++i) ids.push_back(column->Value(i));
    }
    EXPECT_EQ(failures, 3) << "the message with the unknown schema id stopped failing";
    for (int64_t id : ids) EXPECT_LT(id, 3) << "a message after the failed one was returned";
    ASSERT_TRUE(source->Close().ok());
  }
}

TEST_F(KafkaMockTest, DecodeThreadsIsOneOrTwo) {
  ConnectorConfig config("kafka", {{"bootstrap.servers", bootstrap_}, {"topic", "t"}, {"group.id", "g"}, {"decode.threads", "3"}});
  auto options = KafkaSourceOptions::FromConfig(config);
  ASSERT_FALSE(options.ok());
  EXPECT_NE(options.status().message().find("decode.threads"), std::string::npos) << options.status().ToString();
}

TEST_F(KafkaMockTest, TopicPatternSubscribesToEveryMatchingTopic) {
  CreateTopic("pat-a", 1);
  CreateTopic("pat-b", 2);
  CreateTopic("other", 1);
  Produce("pat-a", 0, JsonValues(0, 5));
  Produce("pat-b", 1, JsonValues(10, 5));
  Produce("other", 0, JsonValues(100, 5));
  auto source = OpenSource({{"topic.pattern", "pat-.*"}, {"group.id", "g-pattern"}}, JsonSchema());
  ASSERT_TRUE(source);
  auto ids = Ids(PollRows(*source, 10));
  EXPECT_EQ(ids, (std::vector<int64_t>{0, 1, 2, 3, 4, 10, 11, 12, 13, 14}));
  auto checkpoint = source->Checkpoint();
  EXPECT_EQ(checkpoint.GetOffset("pat-a-0"), "5");
  EXPECT_EQ(checkpoint.GetOffset("pat-b-1"), "5");
  EXPECT_FALSE(checkpoint.GetOffset("other-0").has_value());
}

TEST_F(KafkaMockTest, BadRecordsBecomeDeadLettersWithPartitionAndOffset) {
  CreateTopic("poison", 1);
  Produce("poison", 0, {"{\"id\": 1, \"name\": \"a\"}", "NOT VALID JSON {{{", "{\"id\": 3, \"name\": \"c\"}"});
  auto source = OpenSource({{"topic", "poison"}, {"group.id", "g-poison"}, {"on.error", "dead_letter"},
                            {"dead_letter.path", "/tmp/unused-by-the-source"}},
                           JsonSchema());
  ASSERT_TRUE(source);
  std::vector<SourceBatch> batches;
  int64_t letters = 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while ((Ids(batches).size() < 2 || letters < 1) && std::chrono::steady_clock::now() < deadline) {
    auto batch = source->PollBatch(10, 200ms);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    if (!*batch) continue;
    if ((*batch)->dead_letters) {
      auto dl = (*batch)->dead_letters;
      letters += dl->num_rows();
      auto partition = std::static_pointer_cast<arrow::StringArray>(dl->GetColumnByName("partition"));
      auto offset = std::static_pointer_cast<arrow::StringArray>(dl->GetColumnByName("offset"));
      auto value = std::static_pointer_cast<arrow::BinaryArray>(dl->GetColumnByName("value"));
      EXPECT_EQ(partition->GetView(0), "poison-0");
      EXPECT_EQ(offset->GetView(0), "1");
      EXPECT_EQ(value->GetView(0), "NOT VALID JSON {{{");
    }
    batches.push_back(std::move(**batch));
  }
  EXPECT_EQ(Ids(batches), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(letters, 1);
  EXPECT_EQ(source->Checkpoint().GetOffset("poison-0"), "3");  // the bad record counts as read
}

// dead_letter.topic: the source's dead letters, through the dead-letter producer (a
// transactional Kafka sink sharing the source's connection), arrive as the original key,
// value and headers plus the laminar.error.* headers, with the original timestamp.
TEST_F(KafkaMockTest, DeadLettersReachTheirTopicAsKafkaConnectWritesThem) {
  CreateTopic("poison", 1);
  CreateTopic("poison.dlq", 1);
  Produce("poison", 0, {"{\"id\": 1, \"name\": \"a\"}", "NOT VALID JSON {{{"}, "k", /*with_header=*/true);
  const Properties options = {{"topic", "poison"},
                              {"group.id", "g-poison"},
                              {"on.error", "dead_letter"},
                              {"dead_letter.topic", "poison.dlq"}};
  auto source = OpenSource(options, JsonSchema());
  ASSERT_TRUE(source);
  std::shared_ptr<arrow::RecordBatch> letters;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!letters && std::chrono::steady_clock::now() < deadline) {
    auto batch = source->PollBatch(10, 200ms);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    if (*batch) letters = (*batch)->dead_letters;
  }
  ASSERT_TRUE(letters);

  Properties source_options = options;
  source_options["bootstrap.servers"] = bootstrap_;
  source_options["properties.log_level"] = "3";
  ConnectorConfig source_config("kafka", source_options);
  source_config.set_instance_name("in");
  source_config.set_pipeline_name("mock");
  ASSERT_TRUE(source_config.Validate(KafkaSourceKeySpecs()).ok());
  auto errors = dlq::ErrorOptions::FromConfig(source_config);
  ASSERT_TRUE(errors.ok()) << errors.status().ToString();
  auto producer_config = MakeDeadLetterProducerConfig(source_config, *errors);
  ASSERT_TRUE(producer_config.ok()) << producer_config.status().ToString();
  EXPECT_EQ(producer_config->options.transactional_id, "laminar-mock-in.dlq");
  auto producer = MakeDeadLetterProducer("kafka");
  auto opened = producer->Open(producer_config->config);
  ASSERT_TRUE(opened.ok()) << opened.ToString();
  ASSERT_TRUE(producer->capabilities().exactly_once);
  ASSERT_TRUE(producer->BeginEpoch(1).ok());
  auto written = producer->WriteBatch(letters);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  ASSERT_TRUE(producer->PreCommit(1).ok());
  ASSERT_TRUE(producer->CommitEpoch(1).ok());
  ASSERT_TRUE(producer->Close().ok());

  auto originals = ReadTopic("poison", 1, 2);
  ASSERT_EQ(originals.size(), 2u);
  auto dead = ReadTopic("poison.dlq", 1, 1);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].key, std::optional<std::string>("k"));
  EXPECT_EQ(dead[0].value, "NOT VALID JSON {{{");
  EXPECT_EQ(dead[0].timestamp_ms, originals[1].timestamp_ms);
  std::map<std::string, std::string> context;
  for (const auto& [name, value] : dead[0].headers) context[name] = value;
  ASSERT_FALSE(dead[0].headers.empty());
  EXPECT_EQ(dead[0].headers[0], (std::pair<std::string, std::string>("trace", "abc")));  // the record's own first
  EXPECT_EQ(context["laminar.error.topic"], "poison");
  EXPECT_EQ(context["laminar.error.partition"], "0");
  EXPECT_EQ(context["laminar.error.offset"], "1");
  EXPECT_EQ(context["laminar.error.source"], "in");
  EXPECT_EQ(context["laminar.error.connector"], "kafka");
  EXPECT_MENTIONS(context["laminar.error.message"], "JSON");
}

TEST_F(KafkaMockTest, FailPolicyNamesThePartitionAndOffset) {
  CreateTopic("strict", 1);
  Produce("strict", 0, {"{\"id\": 1}", "{\"id\": \"x\"}"});
  auto source = OpenSource({{"topic", "strict"}, {"group.id", "g-strict"}}, JsonSchema());
  ASSERT_TRUE(source);
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  arrow::Status failure;
  while (failure.ok() && std::chrono::steady_clock::now() < deadline) {
    auto batch = source->PollBatch(10, 200ms);
    if (!batch.ok()) failure = batch.status();
  }
  ASSERT_FALSE(failure.ok());
  EXPECT_MENTIONS(failure.message(), "partition strict-0 offset 1");
}

// Bounded replay: from one checkpoint to another, exactly those rows, then nothing.
TEST_F(KafkaMockTest, ReplayReturnsExactlyTheRowsBetweenTwoCheckpoints) {
  CreateTopic("replay", 2);
  Produce("replay", 0, JsonValues(0, 30));
  Produce("replay", 1, JsonValues(100, 30));
  SourceCheckpoint start;
  start.SetOffset("replay-0", "5");
  start.SetOffset("replay-1", "10");
  SourceCheckpoint end;
  end.SetOffset("replay-0", "12");
  end.SetOffset("replay-1", "10");  // nothing from partition 1 in this epoch
  auto source = OpenSource({{"topic", "replay"}, {"group.id", "g-replay"}}, JsonSchema());
  ASSERT_TRUE(source);
  ASSERT_TRUE(source->SetReplayEnd(end).ok());
  ASSERT_TRUE(source->Restore(start).ok());
  std::vector<SourceBatch> batches;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!source->ReplayReachedEnd() && std::chrono::steady_clock::now() < deadline) {
    auto batch = source->PollBatch(4, 200ms);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    if (*batch) batches.push_back(std::move(**batch));
  }
  ASSERT_TRUE(source->ReplayReachedEnd());
  EXPECT_EQ(Ids(batches), (std::vector<int64_t>{5, 6, 7, 8, 9, 10, 11}));
  auto after = source->PollBatch(10, 500ms);
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->has_value());
  // Leaving replay mode and restoring the end goes on from there.
  ASSERT_TRUE(source->SetReplayEnd(std::nullopt).ok());
  ASSERT_TRUE(source->Restore(end).ok());
  auto rest = Ids(PollRows(*source, 18 + 20));
  EXPECT_EQ(rest.size(), 38u);
  EXPECT_EQ(rest.front(), 12);
}


// Backpressure: with the runtime's queue past the high mark the source pauses its
// partitions (it keeps polling, so it stays in the group) and returns nothing; between the
// marks it stays paused; below the low mark it resumes and every message arrives.
TEST_F(KafkaMockTest, BackpressurePausesConsumptionUntilTheQueueDrainsBelowTheLowMark) {
  CreateTopic("pressure", 2);
  Produce("pressure", 0, JsonValues(0, 20));
  Produce("pressure", 1, JsonValues(100, 20));
  auto source = OpenSource({{"topic", "pressure"}, {"group.id", "g-pressure"}}, JsonSchema());
  ASSERT_TRUE(source);
  std::atomic<double> fill{0.9};
  source->SetBackpressureProbe([&] { return fill.load(); });
  auto poll_for = [&](std::chrono::milliseconds span) {
    int64_t rows = 0;
    const auto until = std::chrono::steady_clock::now() + span;
    while (std::chrono::steady_clock::now() < until) {
      auto batch = source->PollBatch(1000, 100ms);
      EXPECT_TRUE(batch.ok()) << batch.status().ToString();
      if (batch.ok() && *batch) rows += (*batch)->num_rows();
    }
    return rows;
  };
  // Polls go on (the member joins the group and gets both partitions), rows do not come.
  int64_t rows_while_paused = 0;
  for (const auto until = std::chrono::steady_clock::now() + 30s;
       source->assigned().size() < 2 && std::chrono::steady_clock::now() < until;) {
    rows_while_paused += poll_for(200ms);
  }
  ASSERT_EQ(source->assigned().size(), 2u);
  rows_while_paused += poll_for(2s);
  EXPECT_EQ(rows_while_paused, 0);
  EXPECT_EQ(source->Health().state(), HealthStatus::State::kDegraded);
  fill = 0.6;  // between the marks: stays paused
  EXPECT_EQ(poll_for(1s), 0);
  fill = 0.3;
  auto ids = Ids(PollRows(*source, 40));
  EXPECT_EQ(ids.size(), 40u);
  EXPECT_EQ(source->Health().state(), HealthStatus::State::kHealthy);
  double pauses = -1;
  for (const auto& [name, value] : source->Metrics().custom) {
    if (name == "backpressure_pauses") pauses = value;
  }
  EXPECT_EQ(pauses, 1);
  ASSERT_TRUE(source->Close().ok());
}

// Event-time watermarks from a column: the slowest partition holds the watermark back by
// the out-of-orderness until it has been silent for the idle timeout.
TEST_F(KafkaMockTest, WatermarkFollowsTheEventTimeColumnAndSkipsIdlePartitions) {
  CreateTopic("times", 2);
  auto schema = arrow::schema({arrow::field("id", arrow::int64(), false), arrow::field("ts", arrow::int64())});
  auto values = [](int64_t first, int64_t count, int64_t ts) {
    std::vector<std::string> out;
    for (int64_t i = 0; i < count; ++i) {
      out.push_back("{\"id\": " + std::to_string(first + i) + ", \"ts\": " + std::to_string(ts + i) + "}");
    }
    return out;
  };
  auto source = OpenSource({{"topic", "times"}, {"group.id", "g-times"}, {"enable.watermark.tracking", "true"},
                            {"event.time.column", "ts"}, {"max.out.of.orderness.ms", "100"},
                            {"idle.timeout.ms", "3000"}},
                           schema);
  ASSERT_TRUE(source);
  auto metric = [&](const std::string& wanted) {
    for (const auto& [name, value] : source->Metrics().custom) {
      if (name == wanted) return value;
    }
    return -1.0;
  };
  Produce("times", 1, values(0, 1, 500));
  auto first = PollRows(*source, 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].watermark_ms, 400);  // partition 0 has no event yet: it holds nothing back
  Produce("times", 0, values(10, 10, 1000));
  auto second = PollRows(*source, 10);
  ASSERT_FALSE(second.empty());
  EXPECT_EQ(second.back().watermark_ms, 400);  // partition 1 (500 - 100) holds it back
  PollRows(*source, 1, 2s);                    // 2 s of silence on both
  Produce("times", 0, values(20, 10, 1010));
  auto third = PollRows(*source, 10);
  ASSERT_FALSE(third.empty());
  // Partition 1 goes idle 3 s after its event, at least 2 s before partition 0 would:
  // poll until it does (a loaded machine may be slow to get there, never early).
  for (const auto until = std::chrono::steady_clock::now() + 10s;
       metric("idle_partitions") < 1 && std::chrono::steady_clock::now() < until;) {
    auto batch = source->PollBatch(1000, 100ms);
    ASSERT_TRUE(batch.ok() && !*batch);
  }
  EXPECT_EQ(metric("idle_partitions"), 1);
  EXPECT_EQ(metric("watermark_ms"), 1019 - 100);
  EXPECT_GE(metric("watermark_advances"), 2);
  ASSERT_TRUE(source->Close().ok());
}

// An event.time.column that is not a time fails Open, naming it.
TEST_F(KafkaMockTest, EventTimeColumnMustBeATimeColumn) {
  CreateTopic("badtimes", 1);
  auto schema = arrow::schema({arrow::field("id", arrow::int64(), false), arrow::field("ts", arrow::utf8())});
  ConnectorConfig config("kafka", {{"bootstrap.servers", bootstrap_}, {"topic", "badtimes"}, {"group.id", "g"},
                                   {"enable.watermark.tracking", "true"}, {"event.time.column", "ts"}});
  config.set_instance_name("in");
  config.set_schema(schema);
  KafkaSource source;
  auto status = source.Open(config);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("'ts' is string"), std::string::npos) << status.ToString();
}


// Alignment, drop-excess: a source may not run more than the drift ahead of the slowest
// source of its group; its rows past that bound are dropped (and counted).
TEST_F(KafkaMockTest, AlignmentDropsRowsPastTheSlowestSourcePlusTheDrift) {
  CreateTopic("slow", 1);
  CreateTopic("fast", 1);
  auto schema = arrow::schema({arrow::field("id", arrow::int64(), false), arrow::field("ts", arrow::int64())});
  auto values = [](int64_t first, int64_t count) {
    std::vector<std::string> out;
    for (int64_t i = first; i < first + count; ++i) {
      out.push_back("{\"id\": " + std::to_string(i) + ", \"ts\": " + std::to_string(i) + "}");
    }
    return out;
  };
  const Properties aligned{{"enable.watermark.tracking", "true"}, {"event.time.column", "ts"},
                           {"max.out.of.orderness.ms", "100"}, {"alignment.group.id", "mock-align"},
                           {"alignment.mode", "drop-excess"}, {"alignment.max.drift.ms", "1000"}};
  auto open = [&](const std::string& topic) {
    Properties p = aligned;
    p["topic"] = topic;
    p["group.id"] = "g-" + topic;
    return OpenSource(p, schema);
  };
  auto slow = open("slow");
  auto fast = open("fast");
  ASSERT_TRUE(slow && fast);
  Produce("slow", 0, values(1000, 1));
  ASSERT_EQ(Ids(PollRows(*slow, 1)).size(), 1u);  // the slow source's watermark: 900
  Produce("fast", 0, values(1000, 2000));       // event times 1000 .. 2999
  auto kept = Ids(PollRows(*fast, 901, 30s));
  PollRows(*fast, 1, 1s);                        // nothing more comes
  ASSERT_EQ(kept.size(), 901u);                  // 1000 .. 1900 = 900 + 1000
  EXPECT_EQ(kept.front(), 1000);
  EXPECT_EQ(kept.back(), 1900);
  double dropped = -1;
  for (const auto& [name, value] : fast->Metrics().custom) {
    if (name == "alignment_dropped") dropped = value;
  }
  EXPECT_EQ(dropped, 1099);
  EXPECT_EQ(fast->Checkpoint().GetOffset("fast-0"), "2000");  // dropped on purpose, not unread
  ASSERT_TRUE(slow->Close().ok());
  ASSERT_TRUE(fast->Close().ok());
}

}  // namespace
}  // namespace laminar::kafka
