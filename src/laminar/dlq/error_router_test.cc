#include "laminar/dlq/error_router.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include "laminar/dlq/dead_letter_sink.h"

namespace laminar::dlq {
namespace {

serde::DecodedBatch Decoded(int64_t good_rows, std::vector<serde::RecordError> errors) {
  arrow::Int64Builder ids;
  for (int64_t i = 0; i < good_rows; ++i) EXPECT_TRUE(ids.Append(i).ok());
  serde::DecodedBatch decoded;
  decoded.batch = arrow::RecordBatch::Make(arrow::schema({arrow::field("id", arrow::int64())}), good_rows,
                                           {ids.Finish().ValueOrDie()});
  decoded.errors = std::move(errors);
  return decoded;
}

std::vector<serde::RawRecord> Records(const std::vector<serde::Header>* headers) {
  std::vector<serde::RawRecord> records(3);
  const char* values[] = {"{\"id\": 1}", "{\"id\": oops", "{\"id\": 3}"};
  const char* offsets[] = {"40", "41", "42"};
  for (int i = 0; i < 3; ++i) {
    records[i].value = values[i];
    records[i].partition = "3";
    records[i].offset = offsets[i];
    records[i].timestamp_ms = 1700000000000 + i;
    records[i].headers = headers;
  }
  records[1].key = "k1";
  return records;
}

TEST(ErrorOptionsTest, ParsesAndRejectsBadCombinations) {
  ConnectorConfig config("files", {{"on.error", "dead_letter"}, {"dead_letter.path", "/tmp/dlq"}});
  auto options = ErrorOptions::FromConfig(config);
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->policy, ErrorPolicy::kDeadLetter);
  EXPECT_EQ(ErrorOptions::FromConfig(ConnectorConfig("x", {}))->policy, ErrorPolicy::kFail);  // default
  auto missing = ErrorOptions::FromConfig(ConnectorConfig("x", {{"on.error", "dead_letter"}}));
  EXPECT_NE(missing.status().message().find("needs 'dead_letter.path'"), std::string::npos);
  auto unknown = ErrorOptions::FromConfig(ConnectorConfig("x", {{"on.error", "ignore"}}));
  EXPECT_NE(unknown.status().message().find("'on.error' = 'ignore'"), std::string::npos);
  auto stray = ErrorOptions::FromConfig(ConnectorConfig("x", {{"dead_letter.path", "/tmp"}}));
  EXPECT_FALSE(stray.ok());
  auto bad_rate = ErrorOptions::FromConfig(
      ConnectorConfig("x", {{"on.error", "skip"}, {"dead_letter.max-per-second", "fast"}}));
  EXPECT_NE(bad_rate.status().message().find("dead_letter.max-per-second"), std::string::npos);
}

TEST(ErrorRouterTest, FailNamesThePosition) {
  ErrorRouter router("orders", ErrorOptions{});
  auto records = Records(nullptr);
  auto result = router.Route(Decoded(2, {{1, "column 'id': expected BIGINT, found invalid JSON"}}), records);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("source 'orders': cannot decode the record at partition 3 offset 41"),
            std::string::npos)
      << result.status().message();
  EXPECT_NE(result.status().message().find("column 'id'"), std::string::npos);
}

TEST(ErrorRouterTest, SkipCounts) {
  ErrorOptions options;
  options.policy = ErrorPolicy::kSkip;
  ErrorRouter router("orders", options);
  auto records = Records(nullptr);
  auto result = router.Route(Decoded(2, {{1, "bad"}}), records);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(*result, nullptr);
  EXPECT_EQ(router.counters().skipped.load(), 1);
  EXPECT_EQ(router.counters().decoded.load(), 2);
}

TEST(ErrorRouterTest, DeadLetterCarriesRawBytesKeyHeadersAndPosition) {
  ErrorOptions options;
  options.policy = ErrorPolicy::kDeadLetter;
  options.dead_letter_path = "/tmp/x";
  options.max_raw_bytes = 4;
  ErrorRouter router("orders", options);
  std::vector<serde::Header> headers = {{"trace", "abc"}};
  auto records = Records(&headers);
  auto result = router.Route(Decoded(2, {{1, "malformed"}}), records);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  auto letters = *result;
  ASSERT_NE(letters, nullptr);
  ASSERT_TRUE(letters->schema()->Equals(*DeadLetterSchema()));
  ASSERT_EQ(letters->num_rows(), 1);
  auto text = [&](const char* column) { return letters->GetColumnByName(column)->GetScalar(0).ValueOrDie()->ToString(); };
  EXPECT_EQ(text("source"), "orders");
  EXPECT_EQ(text("partition"), "3");
  EXPECT_EQ(text("offset"), "41");
  EXPECT_EQ(text("error"), "malformed");
  EXPECT_EQ(text("key"), "k1");
  EXPECT_EQ(text("value"), "{\"id");  // truncated to 4 bytes
  EXPECT_EQ(text("value_truncated"), "true");
  EXPECT_EQ(text("timestamp_ms"), "1700000000001");
  EXPECT_NE(text("headers").find("trace"), std::string::npos);
  EXPECT_TRUE(letters->ValidateFull().ok());
}

TEST(ErrorRouterTest, RateLimitDropsAndCountersAddUp) {
  sdk::ManualClock clock;
  ErrorOptions options;
  options.policy = ErrorPolicy::kDeadLetter;
  options.dead_letter_path = "/tmp/x";
  options.max_per_second = 2;
  ErrorRouter router("orders", options, &clock);
  std::vector<serde::RawRecord> records(10);
  std::vector<serde::RecordError> errors;
  for (size_t i = 0; i < records.size(); ++i) {
    records[i].value = "x";
    records[i].offset = "7";
    if (i % 2 == 1) errors.push_back({i, "bad"});
  }
  auto result = router.Route(Decoded(5, errors), records);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ((*result)->num_rows(), 2);
  const auto& c = router.counters();
  EXPECT_EQ(c.dead_lettered.load(), 2);
  EXPECT_EQ(c.dlq_dropped.load(), 3);
  EXPECT_EQ(c.decoded.load() + c.skipped.load() + c.dead_lettered.load() + c.dlq_dropped.load(), 10);
  clock.Advance(std::chrono::seconds(1));
  auto later = router.Route(Decoded(0, {{0, "bad"}}), records);
  EXPECT_EQ((*later)->num_rows(), 1);
}

int64_t Sum(const ErrorCounters& c) {
  return c.decoded.load() + c.skipped.load() + c.dead_lettered.load() + c.dlq_dropped.load();
}

std::vector<serde::RawRecord> Messages(const std::vector<std::string>& values) {
  std::vector<serde::RawRecord> records(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    records[i].value = values[i];
    records[i].offset = "1";
  }
  return records;
}

// Records, not rows: a Debezium update yields two rows and counts as one decoded record;
// a truncate and a tombstone are skipped; a bad event is skipped under on.error=skip.
TEST(ErrorRouterTest, CountsDebeziumRecordsNotRows) {
  ConnectorConfig config("test", {{"format", "debezium"}});
  auto decoder = serde::MakeDecoder(config, arrow::schema({arrow::field("id", arrow::int64())}));
  ASSERT_TRUE(decoder.ok()) << decoder.status().ToString();
  const std::vector<std::string> values = {
      R"({"op":"c","after":{"id":1}})",
      R"({"op":"u","before":{"id":1},"after":{"id":2}})",
      R"({"op":"t"})",
      R"({"op":"d","before":{"id":"two"}})",
      "null",
  };
  auto records = Messages(values);
  auto decoded = (*decoder)->Decode(records);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->batch->num_rows(), 3);
  ErrorOptions options;
  options.policy = ErrorPolicy::kSkip;
  ErrorRouter router("cdc", options);
  ASSERT_TRUE(router.Route(*decoded, records).ok());
  const auto& c = router.counters();
  EXPECT_EQ(c.decoded.load(), 2);
  EXPECT_EQ(c.skipped.load(), 3);  // truncate, tombstone, bad record
  EXPECT_EQ(c.tombstones.load(), 1);
  EXPECT_EQ(c.errors.load(), 1);
  EXPECT_EQ(Sum(c), static_cast<int64_t>(values.size()));
}

// CSV messages: empty and comment-only messages and rows dropped by
// field_count_mismatch=skip are skipped; bad rows are dead letters up to the rate, then
// dropped. Every message is counted exactly once.
TEST(ErrorRouterTest, CsvSkipsAndDeadLettersAddUp) {
  ConnectorConfig config("test", {{"format", "csv"}, {"format.comment", "#"}, {"format.field_count_mismatch", "skip"}});
  auto decoder = serde::MakeDecoder(
      config, arrow::schema({arrow::field("id", arrow::int64()), arrow::field("name", arrow::utf8())}));
  ASSERT_TRUE(decoder.ok()) << decoder.status().ToString();
  const std::vector<std::string> values = {"1,a", "", "# note", "2", "x,b", "3,c", "y,d", "z,e", "4,d,extra"};
  auto records = Messages(values);
  auto decoded = (*decoder)->Decode(records);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->batch->num_rows(), 2);
  EXPECT_EQ(decoded->skipped, 4);
  sdk::ManualClock clock;
  ErrorOptions options;
  options.policy = ErrorPolicy::kDeadLetter;
  options.dead_letter_path = "/tmp/x";
  options.max_per_second = 2;
  ErrorRouter router("csv", options, &clock);
  auto letters = router.Route(*decoded, records);
  ASSERT_TRUE(letters.ok());
  const auto& c = router.counters();
  EXPECT_EQ(c.decoded.load(), 2);
  EXPECT_EQ(c.skipped.load(), 4);
  EXPECT_EQ(c.dead_lettered.load(), 2);
  EXPECT_EQ(c.dlq_dropped.load(), 1);
  EXPECT_EQ(Sum(c), static_cast<int64_t>(values.size()));
}

class FailingSink : public SinkConnector {
 public:
  arrow::Status Open(const ConnectorConfig&) override { return arrow::Status::OK(); }
  SinkCapabilities capabilities() const override { return SinkCapabilities().WithExactlyOnce(); }
  arrow::Result<WriteResult> WriteBatch(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    if (fail_write) return arrow::Status::IOError("disk full");
    return WriteResult{batch->num_rows(), 0};
  }
  arrow::Status PreCommit(uint64_t) override {
    return fail_precommit ? arrow::Status::IOError("disk full") : arrow::Status::OK();
  }
  arrow::Status Close() override { return arrow::Status::OK(); }
  bool fail_write = false;
  bool fail_precommit = false;
};

double Custom(const ConnectorMetrics& metrics, const std::string& name) {
  for (const auto& [key, value] : metrics.custom) {
    if (key == name) return value;
  }
  return -1;
}

TEST(DeadLetterSinkTest, CountsFailedWritesAndCommittedLetters) {
  auto inner = std::make_unique<FailingSink>();
  auto* fake = inner.get();
  DeadLetterSink sink(std::move(inner));
  ErrorOptions options;
  options.policy = ErrorPolicy::kDeadLetter;
  options.dead_letter_path = "/tmp/x";
  options.max_per_second = 0;
  ErrorRouter router("orders", options);
  auto records = Records(nullptr);
  auto letters = router.Route(Decoded(1, {{0, "bad"}, {1, "bad"}}), records);
  ASSERT_TRUE(letters.ok());
  ASSERT_EQ((*letters)->num_rows(), 2);

  // Epoch 1: the write fails (the runtime rolls back and replays the epoch).
  ASSERT_TRUE(sink.BeginEpoch(1).ok());
  fake->fail_write = true;
  EXPECT_FALSE(sink.WriteBatch(*letters).ok());
  ASSERT_TRUE(sink.RollbackEpoch(1).ok());
  EXPECT_EQ(sink.dlq_write_failed(), 2);
  // The replay: written, but PreCommit fails.
  fake->fail_write = false;
  ASSERT_TRUE(sink.BeginEpoch(1).ok());
  ASSERT_TRUE(sink.WriteBatch(*letters).ok());
  fake->fail_precommit = true;
  EXPECT_FALSE(sink.PreCommit(1).ok());
  ASSERT_TRUE(sink.RollbackEpoch(1).ok());
  EXPECT_EQ(sink.dlq_write_failed(), 4);
  // The second replay commits.
  fake->fail_precommit = false;
  ASSERT_TRUE(sink.BeginEpoch(1).ok());
  ASSERT_TRUE(sink.WriteBatch(*letters).ok());
  ASSERT_TRUE(sink.PreCommit(1).ok());
  ASSERT_TRUE(sink.CommitEpoch(1).ok());
  EXPECT_EQ(sink.dlq_written(), 2);
  EXPECT_EQ(Custom(sink.Metrics(), "dlq_write_failed"), 4);
  EXPECT_EQ(Custom(sink.Metrics(), "dlq_written"), 2);
}

}  // namespace
}  // namespace laminar::dlq
