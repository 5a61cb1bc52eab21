#include "laminar/files/files_sink.h"

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <gtest/gtest.h>
#include <parquet/arrow/reader.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "laminar/files/json_lines.h"

namespace laminar::files {
namespace {

namespace fs = std::filesystem;

std::shared_ptr<arrow::RecordBatch> Ids(int64_t from, int64_t n) {
  arrow::Int64Builder ids;
  arrow::StringBuilder names;
  for (int64_t i = from; i < from + n; ++i) {
    EXPECT_TRUE(ids.Append(i).ok());
    EXPECT_TRUE(names.Append("name-" + std::to_string(i)).ok());
  }
  auto schema = arrow::schema({arrow::field("id", arrow::int64(), false), arrow::field("name", arrow::utf8())});
  return arrow::RecordBatch::Make(schema, n, {ids.Finish().ValueOrDie(), names.Finish().ValueOrDie()});
}

class FilesSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("laminar-files-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<SinkConnector> MakeSink(std::map<std::string, std::string> props = {}) {
    props["path"] = dir_.string();
    ConnectorConfig config("files", props);
    config.set_instance_name("out");
    config.set_schema(Ids(0, 0)->schema());
    ConnectorRegistry registry;
    RegisterFilesSink(registry);
    auto sink = registry.CreateSink(config);
    EXPECT_TRUE(sink.ok()) << sink.status().ToString();
    EXPECT_TRUE((*sink)->Open(config).ok());
    return std::move(*sink);
  }

  // Visible files: what a reader that skips '_' and '.' names sees.
  std::vector<std::string> Visible() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      const auto name = entry.path().filename().string();
      if (name[0] != '_' && name[0] != '.') names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::vector<int64_t> ReadIds() const {
    std::vector<int64_t> ids;
    for (const auto& name : Visible()) {
      auto file = arrow::io::ReadableFile::Open((dir_ / name).string()).ValueOrDie();
      auto reader = parquet::arrow::OpenFile(file, arrow::default_memory_pool()).ValueOrDie();
      auto table = reader->ReadTable().ValueOrDie();
      auto column = table->GetColumnByName("id");
      for (const auto& chunk : column->chunks()) {
        auto values = std::static_pointer_cast<arrow::Int64Array>(chunk);
        for (int64_t i = 0; i < values->length(); ++i) ids.push_back(values->Value(i));
      }
    }
    return ids;
  }

  fs::path dir_;
};

TEST_F(FilesSinkTest, EpochIsInvisibleUntilCommitted) {
  auto sink = MakeSink();
  ASSERT_TRUE(sink->BeginEpoch(1).ok());
  ASSERT_TRUE(sink->WriteBatch(Ids(0, 10)).ok());
  ASSERT_TRUE(sink->PreCommit(1).ok());
  EXPECT_TRUE(Visible().empty());
  ASSERT_TRUE(sink->CommitEpoch(1).ok());
  EXPECT_EQ(Visible(), std::vector<std::string>{"part-000000000001-00000.parquet"});
  EXPECT_EQ(ReadIds().size(), 10u);
  // Committing again (recovery) makes nothing visible twice.
  ASSERT_TRUE(sink->CommitEpoch(1).ok());
  EXPECT_EQ(ReadIds().size(), 10u);
}

TEST_F(FilesSinkTest, RollbackDiscardsStagedOutput) {
  auto sink = MakeSink();
  ASSERT_TRUE(sink->BeginEpoch(1).ok());
  ASSERT_TRUE(sink->WriteBatch(Ids(0, 10)).ok());
  ASSERT_TRUE(sink->PreCommit(1).ok());
  ASSERT_TRUE(sink->RollbackEpoch(1).ok());
  ASSERT_TRUE(sink->CommitEpoch(1).ok());  // nothing left to commit
  EXPECT_TRUE(Visible().empty());
  EXPECT_FALSE(fs::exists(dir_ / "_staging" / "epoch-1"));
}

TEST_F(FilesSinkTest, NewInstanceFinishesAPreCommittedEpoch) {
  {
    auto sink = MakeSink();
    ASSERT_TRUE(sink->BeginEpoch(7).ok());
    ASSERT_TRUE(sink->WriteBatch(Ids(0, 5)).ok());
    ASSERT_TRUE(sink->WriteBatch(Ids(5, 5)).ok());
    ASSERT_TRUE(sink->PreCommit(7).ok());
    ASSERT_TRUE(sink->Close().ok());  // "crash" after the decision, before the commit
  }
  auto restarted = MakeSink();
  ASSERT_TRUE(restarted->CommitEpoch(7).ok());
  ASSERT_TRUE(restarted->RollbackEpoch(8).ok());
  auto ids = ReadIds();
  std::sort(ids.begin(), ids.end());
  std::vector<int64_t> expected(10);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(ids, expected);
}

TEST_F(FilesSinkTest, RecoveryDiscardsUndecidedEpochs) {
  {
    auto sink = MakeSink();
    ASSERT_TRUE(sink->BeginEpoch(3).ok());
    ASSERT_TRUE(sink->WriteBatch(Ids(0, 5)).ok());  // crash mid-epoch: file never finished
  }
  auto restarted = MakeSink();
  ASSERT_TRUE(restarted->RollbackEpoch(3).ok());
  EXPECT_FALSE(fs::exists(dir_ / "_staging" / "epoch-3"));
  EXPECT_TRUE(Visible().empty());
}

TEST_F(FilesSinkTest, RollsFilesBySize) {
  auto sink = MakeSink({{"sink.rolling-policy.file-size", "1000"}});
  ASSERT_TRUE(sink->BeginEpoch(1).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(sink->WriteBatch(Ids(i * 100, 100)).ok());
  ASSERT_TRUE(sink->PreCommit(1).ok());
  ASSERT_TRUE(sink->CommitEpoch(1).ok());
  EXPECT_EQ(Visible().size(), 5u);
  EXPECT_EQ(ReadIds().size(), 500u);
}

TEST_F(FilesSinkTest, WritesJsonLinesAndCsv) {
  for (const std::string format : {"json", "csv"}) {
    fs::remove_all(dir_);
    auto sink = MakeSink({{"format", format}});
    ASSERT_TRUE(sink->BeginEpoch(1).ok());
    ASSERT_TRUE(sink->WriteBatch(Ids(0, 2)).ok());
    ASSERT_TRUE(sink->PreCommit(1).ok());
    ASSERT_TRUE(sink->CommitEpoch(1).ok());
    auto files = Visible();
    ASSERT_EQ(files.size(), 1u);
    std::ifstream in(dir_ / files[0]);
    std::stringstream text;
    text << in.rdbuf();
    if (format == "json") {
      EXPECT_EQ(text.str(), "{\"id\":0,\"name\":\"name-0\"}\n{\"id\":1,\"name\":\"name-1\"}\n");
    } else {
      EXPECT_EQ(text.str(), "\"id\",\"name\"\n0,\"name-0\"\n1,\"name-1\"\n");
    }
  }
}

TEST_F(FilesSinkTest, ConfigErrorsNameTheKey) {
  ConnectorRegistry registry;
  RegisterFilesSink(registry);
  ConnectorConfig missing("files", {});
  missing.set_instance_name("out");
  auto status = registry.CreateSink(missing).status();
  EXPECT_NE(status.message().find("missing required option 'path'"), std::string::npos) << status.ToString();
  ConnectorConfig bad_format("files", {{"path", "/tmp/x"}, {"format", "xml"}});
  status = registry.CreateSink(bad_format).status();
  EXPECT_NE(status.message().find("'format'"), std::string::npos) << status.ToString();
  ConnectorConfig bad_size("files", {{"path", "/tmp/x"}, {"sink.rolling-policy.file-size", "10MB"}});
  status = registry.CreateSink(bad_size).status();
  EXPECT_NE(status.message().find("sink.rolling-policy.file-size"), std::string::npos) << status.ToString();
}

TEST(JsonLinesTest, EncodesTemporalDecimalBinaryAndNested) {
  auto ts_type = arrow::timestamp(arrow::TimeUnit::MILLI, "UTC");
  arrow::TimestampBuilder ts(ts_type, arrow::default_memory_pool());
  ASSERT_TRUE(ts.Append(1700000000123).ok());
  arrow::Date32Builder date;
  ASSERT_TRUE(date.Append(19000).ok());
  arrow::Decimal128Builder dec(arrow::decimal128(10, 2));
  ASSERT_TRUE(dec.Append(arrow::Decimal128(12345)).ok());
  arrow::BinaryBuilder bin;
  ASSERT_TRUE(bin.Append("hi!", 3).ok());
  arrow::StringBuilder quoted;
  ASSERT_TRUE(quoted.Append("a\"b\n").ok());
  auto schema = arrow::schema({arrow::field("ts", ts_type), arrow::field("d", arrow::date32()),
                               arrow::field("m", arrow::decimal128(10, 2)), arrow::field("b", arrow::binary()),
                               arrow::field("s", arrow::utf8())});
  auto batch = arrow::RecordBatch::Make(schema, 1,
                                        {ts.Finish().ValueOrDie(), date.Finish().ValueOrDie(),
                                         dec.Finish().ValueOrDie(), bin.Finish().ValueOrDie(),
                                         quoted.Finish().ValueOrDie()});
  std::string out;
  ASSERT_TRUE(AppendJsonLines(*batch, &out).ok());
  EXPECT_EQ(out,
            "{\"ts\":\"2023-11-14T22:13:20.123Z\",\"d\":\"2022-01-08\",\"m\":\"123.45\",\"b\":\"aGkh\","
            "\"s\":\"a\\\"b\\n\"}\n");
}

}  // namespace
}  // namespace laminar::files
