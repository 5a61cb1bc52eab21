// Kafka throughput against a real broker: our `kafka` source and sink against librdkafka's
// bare consumer and producer on the same topic / the same payloads. bench/kafka_bench.py
// starts a broker, creates the topics, runs each phase of this binary (one process per
// phase, so the CPU time of each is its own) and prints the table; it also runs
// confluent-kafka's Python consumer on the same topic. Each phase prints one "key value"
// per line: rows, bytes (message payloads), seconds (wall), cpu_seconds (user + system of
// every thread of this process, librdkafka's included). Consumers are timed from their
// first message (after the group join), which is not counted.
//
// Messages: Nexmark bids of about 1 KB (the BidJson of codec_bench), from a pool of 10000
// distinct ones, cycled. Usage:
//   kafka_bench BOOTSTRAP fill TOPIC N             bare produce of N bid messages
//   kafka_bench BOOTSTRAP consume-bare TOPIC N     rd_kafka consumer loop touching each payload
//   kafka_bench BOOTSTRAP consume-ours TOPIC N     our source, PollBatch into Arrow batches
//   kafka_bench BOOTSTRAP produce-bare TOPIC N     librdkafka produce of our encoder's payloads
//   kafka_bench BOOTSTRAP produce-ours TOPIC N     our sink, at-least-once, 1000-row batches
//   kafka_bench BOOTSTRAP produce-txn TOPIC N MS   our sink, exactly-once, one epoch every MS
// Producers (bare and ours) use the sink's default client settings (acks=all, idempotent,
// linger.ms=5, batch.size=16384; librdkafka's queue.buffering.max.messages unless the
// environment sets KAFKA_BENCH_QUEUE_MESSAGES, for both); consumers use the source's
// (read_committed), plus KAFKA_BENCH_CONSUMER's "name=value,..." librdkafka properties for
// both.
#include <arrow/api.h>
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "nexmark_bid.h"
#include "laminar/kafka/kafka_sink.h"
#include "laminar/kafka/kafka_source.h"
#include "laminar/serde/codec.h"

namespace {

using laminar::bench::BidJson;
using laminar::bench::BidSchema;

using Clock = std::chrono::steady_clock;
constexpr int64_t kPoolSize = 10000;
constexpr int64_t kBatchRows = 1000;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "kafka_bench: %s\n", what.c_str());
  std::exit(1);
}

void Check(const arrow::Status& status, const char* what) {
  if (!status.ok()) Fail(std::string(what) + ": " + status.ToString());
}

double CpuSeconds() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Wall and CPU time of one measured phase.
struct Timer {
  Clock::time_point wall = Clock::now();
  double cpu = CpuSeconds();
  void Report(int64_t rows, int64_t bytes) const {
    const double seconds = std::chrono::duration<double>(Clock::now() - wall).count();
    std::printf("rows %lld\nbytes %lld\nseconds %.4f\ncpu_seconds %.4f\n", static_cast<long long>(rows),
                static_cast<long long>(bytes), seconds, CpuSeconds() - cpu);
  }
};

std::vector<std::string> BidPool() {
  std::mt19937_64 rng(42);
  std::vector<std::string> pool;
  pool.reserve(kPoolSize);
  for (int64_t i = 0; i < kPoolSize; ++i) pool.push_back(BidJson(rng, i));
  return pool;
}

// The pool decoded by our JSON decoder: the rows the sink writes.
std::shared_ptr<arrow::RecordBatch> PoolBatch(const std::vector<std::string>& pool) {
  laminar::ConnectorConfig config("bench", {{"format", "json"}});
  auto decoder = laminar::serde::MakeDecoder(config, BidSchema());
  Check(decoder.status(), "decoder");
  std::vector<laminar::serde::RawRecord> records(pool.size());
  for (size_t i = 0; i < pool.size(); ++i) records[i].value = pool[i];
  auto decoded = (*decoder)->Decode(std::span(records));
  Check(decoded.status(), "decode pool");
  if (!decoded->errors.empty() || decoded->batch->num_rows() != kPoolSize) Fail("the pool did not decode");
  return decoded->batch;
}

// The sink's default producer settings (kafka_sink_options.cc), for the bare producer.
rd_kafka_conf_t* ProducerConf(const std::string& bootstrap) {
  const std::map<std::string, std::string> properties = {
      {"bootstrap.servers", bootstrap}, {"acks", "all"},       {"enable.idempotence", "true"},
      {"max.in.flight.requests.per.connection", "5"},           {"linger.ms", "5"},
      {"batch.size", "16384"},          {"compression.type", "none"}, {"partitioner", "murmur2_random"},
      {"message.timeout.ms", "120000"}};
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char reason[512];
  for (const auto& [name, value] : properties) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), reason, sizeof(reason)) != RD_KAFKA_CONF_OK) Fail(reason);
  }
  if (const char* queue = std::getenv("KAFKA_BENCH_QUEUE_MESSAGES")) {
    if (rd_kafka_conf_set(conf, "queue.buffering.max.messages", queue, reason, sizeof(reason)) != RD_KAFKA_CONF_OK) {
      Fail(reason);
    }
  }
  return conf;
}

int64_t g_delivery_failures = 0;

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) ++g_delivery_failures;
}

// librdkafka's produce loop: N messages cycled from `payloads`, queue full -> poll, flush.
void BareProduce(const std::string& bootstrap, const std::string& topic, int64_t n,
                 const std::vector<std::string>& payloads) {
  rd_kafka_conf_t* conf = ProducerConf(bootstrap);
  rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
  char reason[512];
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, reason, sizeof(reason));
  if (producer == nullptr) Fail(reason);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(producer, topic.c_str(), nullptr);
  // Like the sink's Open: the topic's metadata is in before the clock starts.
  const rd_kafka_metadata_t* metadata = nullptr;
  if (rd_kafka_metadata(producer, 0, rkt, &metadata, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) Fail("metadata");
  rd_kafka_metadata_destroy(metadata);
  Timer timer;
  int64_t bytes = 0;
  for (int64_t i = 0; i < n; ++i) {
    const std::string& value = payloads[static_cast<size_t>(i % static_cast<int64_t>(payloads.size()))];
    while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, const_cast<char*>(value.data()),
                            value.size(), nullptr, 0, nullptr) != 0) {
      if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) Fail(rd_kafka_err2str(rd_kafka_last_error()));
      rd_kafka_poll(producer, 10);
    }
    bytes += static_cast<int64_t>(value.size());
    if (i % kBatchRows == 0) rd_kafka_poll(producer, 0);
  }
  if (rd_kafka_flush(producer, 300000) != RD_KAFKA_RESP_ERR_NO_ERROR) Fail("flush timed out");
  timer.Report(n, bytes);
  std::printf("delivery_failures %lld\n", static_cast<long long>(g_delivery_failures));
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(producer);
  if (g_delivery_failures != 0) Fail("delivery failures");
}

// Extra librdkafka consumer properties for both consumers, from KAFKA_BENCH_CONSUMER
// ("name=value,name=value"), to compare client settings on the same data.
std::map<std::string, std::string> ExtraConsumerProperties() {
  std::map<std::string, std::string> out;
  const char* text = std::getenv("KAFKA_BENCH_CONSUMER");
  if (text == nullptr) return out;
  std::string all(text);
  for (size_t start = 0; start < all.size();) {
    size_t end = all.find(',', start);
    if (end == std::string::npos) end = all.size();
    const std::string item = all.substr(start, end - start);
    if (auto eq = item.find('='); eq != std::string::npos) out[item.substr(0, eq)] = item.substr(eq + 1);
    start = end + 1;
  }
  return out;
}

// The bare ceiling: a consumer with the source's settings, assigned every partition from
// the beginning, reading each payload (one load per cache line) and nothing else.
void BareConsume(const std::string& bootstrap, const std::string& topic, int64_t n) {
  const int64_t total = n;
  std::map<std::string, std::string> properties = {
      {"bootstrap.servers", bootstrap},  {"group.id", "bench-bare-" + std::to_string(::getpid())},
      {"enable.auto.commit", "false"},   {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "false"}, {"isolation.level", "read_committed"},
      {"auto.offset.reset", "earliest"}, {"partition.assignment.strategy", "cooperative-sticky"}};
  for (const auto& [name, value] : ExtraConsumerProperties()) properties[name] = value;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char reason[512];
  for (const auto& [name, value] : properties) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), reason, sizeof(reason)) != RD_KAFKA_CONF_OK) Fail(reason);
  }
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, reason, sizeof(reason));
  if (consumer == nullptr) Fail(reason);
  rd_kafka_poll_set_consumer(consumer);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_subscribe(consumer, topics) != RD_KAFKA_RESP_ERR_NO_ERROR) Fail("subscribe");
  rd_kafka_topic_partition_list_destroy(topics);
  Timer timer;
  int64_t rows = 0, bytes = 0;
  uint64_t checksum = 0;
  bool first = false;
  const auto deadline = Clock::now() + std::chrono::minutes(30);
  // The deadline is checked when the poll comes back empty only: a clock read per message
  // cost the ceiling about a tenth of its speed.
  while (rows < n) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    if (m == nullptr) {
      if (Clock::now() >= deadline) break;
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && !first) {
      // The clock starts at the first message, after the group join (the first message
      // itself is not counted), for every contestant alike.
      first = true;
      timer = Timer();
      --n;
    } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const auto* p = static_cast<const unsigned char*>(m->payload);
      for (size_t i = 0; i < m->len; i += 64) checksum += p[i];
      if (m->len > 0) checksum += p[m->len - 1];
      ++rows;
      bytes += static_cast<int64_t>(m->len);
    }
    rd_kafka_message_destroy(m);
  }
  timer.Report(rows, bytes);
  std::printf("checksum %llu\n", static_cast<unsigned long long>(checksum % 1000));
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  if (rows < n) Fail("consumed only " + std::to_string(rows + 1) + " of " + std::to_string(total));
}

void OursConsume(const std::string& bootstrap, const std::string& topic, int64_t n) {
  std::map<std::string, std::string> properties = {{"bootstrap.servers", bootstrap},
                                                   {"topic", topic},
                                                   {"group.id", "bench-ours-" + std::to_string(::getpid())},
                                                   {"startup.mode", "earliest"},
                                                   {"format", "json"}};
  for (const auto& [name, value] : ExtraConsumerProperties()) properties["properties." + name] = value;
  laminar::ConnectorConfig config("kafka", properties);
  config.set_instance_name("in");
  config.set_pipeline_name("kafka_bench");
  config.set_schema(BidSchema());
  Check(config.Validate(laminar::kafka::KafkaSourceKeySpecs()), "source config");
  laminar::kafka::KafkaSource source;
  Check(source.Open(config), "source open");
  // Payload bytes: every message of the topic is one of the pool's, cycled; the first
  // batch is not counted, so the pool's mean size stands in.
  double mean_bytes = 0;
  for (const auto& m : BidPool()) mean_bytes += static_cast<double>(m.size()) / kPoolSize;
  Timer timer;
  int64_t rows = 0, batches = 0, nulls = 0, first_rows = 0;
  const int64_t total = n;
  const auto deadline = Clock::now() + std::chrono::minutes(30);
  while (rows < n && Clock::now() < deadline) {
    auto batch = source.PollBatch(source.options().max_poll_records, std::chrono::milliseconds(100));
    Check(batch.status(), "poll");
    if (!batch->has_value()) continue;
    if (batches++ == 0) {
      // The clock starts at the first batch, after the group join; its rows are not counted.
      timer = Timer();
      first_rows = (*batch)->num_rows();
      n -= first_rows;
      continue;
    }
    rows += (*batch)->num_rows();
    nulls += (*batch)->records->column(0)->null_count();
  }
  const int64_t bytes = static_cast<int64_t>(static_cast<double>(rows) * mean_bytes);
  timer.Report(rows, bytes);
  std::printf("batches %lld\nnulls %lld\n", static_cast<long long>(batches), static_cast<long long>(nulls));
  Check(source.Close(), "source close");
  if (rows < n) Fail("consumed only " + std::to_string(rows + first_rows) + " of " + std::to_string(total));
}

std::unique_ptr<laminar::kafka::KafkaSink> OpenSink(const std::string& bootstrap, const std::string& topic,
                                                    bool exactly_once) {
  std::map<std::string, std::string> properties = {{"bootstrap.servers", bootstrap},
                                                   {"topic", topic},
                                                   {"format", "json"}};
  if (const char* queue = std::getenv("KAFKA_BENCH_QUEUE_MESSAGES")) {
    properties["properties.queue.buffering.max.messages"] = queue;
  }
  if (exactly_once) {
    properties["delivery.guarantee"] = "exactly-once";
    properties["transactional.id"] = "kafka-bench-" + topic;
  }
  laminar::ConnectorConfig config("kafka", properties);
  config.set_instance_name("out");
  config.set_pipeline_name("kafka_bench");
  config.set_schema(BidSchema());
  Check(config.Validate(laminar::kafka::KafkaSinkKeySpecs()), "sink config");
  auto sink = std::make_unique<laminar::kafka::KafkaSink>();
  Check(sink->Open(config), "sink open");
  return sink;
}

// Our sink, driven like the runtime drives it: epochs of `epoch_ms` (0: one epoch for
// the whole run), each begin, 1000-row batches, pre-commit, commit.
void OursProduce(const std::string& bootstrap, const std::string& topic, int64_t n, bool exactly_once,
                 int64_t epoch_ms) {
  const auto pool = PoolBatch(BidPool());
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  for (int64_t offset = 0; offset < kPoolSize; offset += kBatchRows) batches.push_back(pool->Slice(offset, kBatchRows));
  auto sink = OpenSink(bootstrap, topic, exactly_once);
  Timer timer;
  int64_t rows = 0, bytes = 0;
  uint64_t epoch = 0;
  std::vector<double> commit_ms;
  while (rows < n) {
    ++epoch;
    Check(sink->BeginEpoch(epoch), "begin");
    const auto epoch_end = Clock::now() + std::chrono::milliseconds(epoch_ms);
    do {
      const auto& batch = batches[static_cast<size_t>((rows / kBatchRows) % static_cast<int64_t>(batches.size()))];
      const auto written = sink->WriteBatch(n - rows < kBatchRows ? batch->Slice(0, n - rows) : batch);
      Check(written.status(), "write");
      rows += written->records_written;
      bytes += written->bytes_written;
    } while (rows < n && (epoch_ms == 0 || Clock::now() < epoch_end));
    const auto commit_start = Clock::now();
    Check(sink->PreCommit(epoch), "pre_commit");
    Check(sink->CommitEpoch(epoch), "commit");
    commit_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - commit_start).count());
  }
  timer.Report(rows, bytes);
  double total = 0;
  for (double ms : commit_ms) total += ms;
  std::printf("epochs %llu\ncommit_mean_ms %.2f\n", static_cast<unsigned long long>(epoch),
              commit_ms.empty() ? 0.0 : total / static_cast<double>(commit_ms.size()));
  Check(sink->Close(), "sink close");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: kafka_bench BOOTSTRAP fill|consume-bare|consume-ours|produce-bare|produce-ours|produce-txn "
                 "TOPIC N [EPOCH_MS]\n");
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);  // stdout carries the figures
  const std::string bootstrap = argv[1];
  const std::string command = argv[2];
  const std::string topic = argv[3];
  const int64_t n = std::atoll(argv[4]);
  if (command == "fill") {
    BareProduce(bootstrap, topic, n, BidPool());
  } else if (command == "consume-bare") {
    BareConsume(bootstrap, topic, n);
  } else if (command == "consume-ours") {
    OursConsume(bootstrap, topic, n);
  } else if (command == "produce-bare") {
    // The very payloads our sink sends: the pool's rows through our JSON encoder.
    const auto pool = PoolBatch(BidPool());
    laminar::ConnectorConfig config("bench", {{"format", "json"}});
    auto encoder = laminar::serde::MakeEncoder(config, BidSchema());
    Check(encoder.status(), "encoder");
    std::vector<std::string> payloads;
    Check((*encoder)->Encode(*pool, &payloads), "encode pool");
    BareProduce(bootstrap, topic, n, payloads);
  } else if (command == "produce-ours") {
    OursProduce(bootstrap, topic, n, false, 0);
  } else if (command == "produce-txn") {
    OursProduce(bootstrap, topic, n, true, argc > 5 ? std::atoll(argv[5]) : 1000);
  } else {
    std::fprintf(stderr, "kafka_bench: unknown command %s\n", command.c_str());
    return 2;
  }
  return 0;
}
