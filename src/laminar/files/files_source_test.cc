#include "laminar/files/files_source.h"

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <gtest/gtest.h>
#include <parquet/arrow/writer.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "laminar/serde/avro/object_container.h"
#include "laminar/testing/conformance.h"

namespace laminar::files {
namespace {

namespace fs = std::filesystem;

class FilesSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("laminar-files-source-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "in");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A JSON lines file of ids [from, from + n), written elsewhere and renamed in whole.
  void Drop(const std::string& name, int64_t from, int64_t n) {
    const auto staging = dir_ / ("staging-" + name);
    {
      std::ofstream out(staging);
      for (int64_t i = from; i < from + n; ++i) out << "{\"id\": " << i << "}\n";
    }
    fs::rename(staging, dir_ / "in" / name);
  }

  ConnectorConfig Config(std::map<std::string, std::string> props = {}) {
    props["path"] = (dir_ / "in").string();
    props.emplace("format", "json");
    props.emplace("poll.interval.ms", "10");
    ConnectorConfig config("files", props);
    config.set_instance_name("input");
    config.set_schema(arrow::schema({arrow::field("id", arrow::int64(), false)}));
    return config;
  }

  std::unique_ptr<SourceConnector> Make(const ConnectorConfig& config) {
    auto source = std::make_unique<FilesSource>();
    auto opened = source->Open(config);
    EXPECT_TRUE(opened.ok()) << opened.ToString();
    return source;
  }

  // Polls until `want` ids arrived or `wait` passed; returns the ids in the order read.
  static std::vector<int64_t> Poll(SourceConnector& source, size_t want, std::chrono::milliseconds wait,
                                   int64_t max_records = 1000) {
    std::vector<int64_t> ids;
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (ids.size() < want && std::chrono::steady_clock::now() < deadline && !source.finished()) {
      auto polled = source.PollBatch(max_records, std::chrono::milliseconds(20));
      EXPECT_TRUE(polled.ok()) << polled.status().ToString();
      if (!polled.ok()) break;
      if (!*polled || !(*polled)->records) continue;
      const auto& column = static_cast<const arrow::Int64Array&>(*(*polled)->records->column(0));
      for (int64_t r = 0; r < column.length(); ++r) ids.push_back(column.Value(r));
    }
    return ids;
  }

  static std::vector<int64_t> Range(int64_t from, int64_t n) {
    std::vector<int64_t> out;
    for (int64_t i = from; i < from + n; ++i) out.push_back(i);
    return out;
  }

  fs::path dir_;
};

TEST_F(FilesSourceTest, BoundedSourceConformance) {
  Drop("a.jsonl", 0, 50);
  Drop("b.jsonl", 50, 50);
  Drop("c.jsonl", 100, 50);
  testing::SourceUnderTest spec;
  spec.make = [] { return std::make_unique<FilesSource>(); };
  spec.config = Config();
  spec.batch_rows = 20;
  testing::CheckSourceConformance(spec);
}

TEST_F(FilesSourceTest, WatchReadsANewFileThatSortsBeforeFilesAlreadyRead) {
  const auto config = Config({{"watch", "true"}});
  Drop("b.jsonl", 100, 10);
  auto source = Make(config);
  ASSERT_TRUE(source->Restore(SourceCheckpoint()).ok());
  EXPECT_EQ(Poll(*source, 10, std::chrono::seconds(5)), Range(100, 10));
  Drop("a.jsonl", 0, 10);  // sorts before b.jsonl, which is done
  EXPECT_EQ(Poll(*source, 10, std::chrono::seconds(5)), Range(0, 10));
  EXPECT_TRUE(Poll(*source, 1, std::chrono::milliseconds(200)).empty());  // nothing twice
  Drop("c.jsonl", 200, 10);
  EXPECT_EQ(Poll(*source, 10, std::chrono::seconds(5)), Range(200, 10));
  const auto checkpoint = SourceCheckpoint::FromJson(source->Checkpoint().ToJson()).ValueOrDie();
  ASSERT_TRUE(source->Close().ok());

  // A new instance restored to the checkpoint reads neither a, b nor c again, and still
  // picks up a file that sorts before all of them.
  auto resumed = Make(config);
  ASSERT_TRUE(resumed->Restore(checkpoint).ok());
  EXPECT_TRUE(Poll(*resumed, 1, std::chrono::milliseconds(200)).empty());
  Drop("0.jsonl", 300, 10);
  Drop("bb.jsonl", 400, 10);
  auto expected = Range(300, 10);  // 0.jsonl, then bb.jsonl
  for (auto id : Range(400, 10)) expected.push_back(id);
  EXPECT_EQ(Poll(*resumed, 20, std::chrono::seconds(5)), expected);
  EXPECT_TRUE(Poll(*resumed, 1, std::chrono::milliseconds(200)).empty());
}

TEST_F(FilesSourceTest, WatchRestoresInsideAFileThatSortsBeforeFilesAlreadyRead) {
  const auto config = Config({{"watch", "true"}});
  Drop("b.jsonl", 100, 10);
  auto source = Make(config);
  ASSERT_TRUE(source->Restore(SourceCheckpoint()).ok());
  EXPECT_EQ(Poll(*source, 10, std::chrono::seconds(5)), Range(100, 10));
  Drop("a.jsonl", 0, 10);
  EXPECT_EQ(Poll(*source, 4, std::chrono::seconds(5), /*max_records=*/4), Range(0, 4));
  const auto checkpoint = SourceCheckpoint::FromJson(source->Checkpoint().ToJson()).ValueOrDie();
  EXPECT_EQ(Poll(*source, 6, std::chrono::seconds(5)), Range(4, 6));
  ASSERT_TRUE(source->Close().ok());

  auto resumed = Make(config);
  ASSERT_TRUE(resumed->Restore(checkpoint).ok());
  EXPECT_EQ(Poll(*resumed, 6, std::chrono::seconds(5)), Range(4, 6));
  EXPECT_TRUE(Poll(*resumed, 1, std::chrono::milliseconds(200)).empty());
}

TEST_F(FilesSourceTest, RememberedNamesAreBoundedByALowWaterMark) {
  const auto config = Config({{"watch", "true"}, {"remember.files", "3"}});
  auto source = Make(config);
  ASSERT_TRUE(source->Restore(SourceCheckpoint()).ok());
  for (int f = 0; f < 8; ++f) {
    Drop("f" + std::to_string(f) + ".jsonl", f * 10, 10);
    EXPECT_EQ(Poll(*source, 10, std::chrono::seconds(5)), Range(f * 10, 10));
  }
  EXPECT_TRUE(Poll(*source, 1, std::chrono::milliseconds(100)).empty());  // the listing compacts the names
  const auto checkpoint = source->Checkpoint();
  const auto completed = checkpoint.GetOffset("completed").value_or("");
  EXPECT_EQ(std::count(completed.begin(), completed.end(), '/') + 1, 3) << completed;
  EXPECT_EQ(checkpoint.GetOffset("low_water"), "f4.jsonl");
  ASSERT_TRUE(source->Close().ok());

  auto resumed = Make(config);
  ASSERT_TRUE(resumed->Restore(checkpoint).ok());
  EXPECT_TRUE(Poll(*resumed, 1, std::chrono::milliseconds(200)).empty());
  Drop("f45.jsonl", 450, 10);  // above the mark: still read
  EXPECT_EQ(Poll(*resumed, 10, std::chrono::seconds(5)), Range(450, 10));
}

TEST_F(FilesSourceTest, RestoresTheOlderCheckpointForm) {
  Drop("a.jsonl", 0, 10);
  Drop("b.jsonl", 100, 10);
  Drop("c.jsonl", 200, 10);
  SourceCheckpoint done;
  done.SetOffset("file", "b.jsonl");
  done.SetOffset("position", "30");
  done.SetOffset("done", "true");
  auto source = Make(Config());
  ASSERT_TRUE(source->Restore(done).ok());
  EXPECT_EQ(Poll(*source, 100, std::chrono::seconds(5)), Range(200, 10));
  SourceCheckpoint inside;  // b.jsonl from its third line (each line is 12 bytes)
  inside.SetOffset("file", "b.jsonl");
  inside.SetOffset("position", "24");
  inside.SetOffset("done", "false");
  ASSERT_TRUE(source->Restore(inside).ok());
  auto expected = Range(102, 8);
  for (auto id : Range(200, 10)) expected.push_back(id);
  EXPECT_EQ(Poll(*source, 100, std::chrono::seconds(5)), expected);
}

void WriteParquet(const fs::path& path, const std::shared_ptr<arrow::RecordBatch>& batch) {
  auto table = arrow::Table::FromRecordBatches({batch}).ValueOrDie();
  auto out = arrow::io::FileOutputStream::Open(path.string()).ValueOrDie();
  ASSERT_TRUE(parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), out, 4).ok());
  ASSERT_TRUE(out->Close().ok());
}

std::shared_ptr<arrow::Array> Ints(const std::shared_ptr<arrow::DataType>& type, int64_t from, int64_t n) {
  auto builder = arrow::MakeBuilder(type).ValueOrDie();
  for (int64_t i = from; i < from + n; ++i) {
    EXPECT_TRUE(builder->AppendScalar(*arrow::MakeScalar(type, i).ValueOrDie()).ok());
  }
  return builder->Finish().ValueOrDie();
}

std::shared_ptr<arrow::Array> Strings(int64_t from, int64_t n) {
  arrow::StringBuilder builder;
  for (int64_t i = from; i < from + n; ++i) EXPECT_TRUE(builder.Append("v" + std::to_string(i)).ok());
  return builder.Finish().ValueOrDie();
}

TEST_F(FilesSourceTest, LaterParquetFilesAreHeldToTheColumnsInferredFromTheFirst) {
  auto schema = arrow::schema({arrow::field("id", arrow::int64()), arrow::field("v", arrow::utf8())});
  WriteParquet(dir_ / "in" / "f0.parquet",
               arrow::RecordBatch::Make(schema, 10, {Ints(arrow::int64(), 0, 10), Strings(0, 10)}));
  // Columns in another order, a narrower id, and a column the first file did not have.
  WriteParquet(
      dir_ / "in" / "f1.parquet",
      arrow::RecordBatch::Make(arrow::schema({arrow::field("extra", arrow::float64()), arrow::field("v", arrow::utf8()),
                                              arrow::field("id", arrow::int32())}),
                               10, {Ints(arrow::float64(), 0, 10), Strings(10, 10), Ints(arrow::int32(), 10, 10)}));
  ConnectorConfig config("files", {{"path", (dir_ / "in").string()}, {"format", "parquet"}});
  config.set_instance_name("input");
  auto source = Make(config);
  ASSERT_TRUE(source->Restore(SourceCheckpoint()).ok());
  ASSERT_TRUE(source->schema()->Equals(*schema)) << source->schema()->ToString();
  int64_t rows = 0;
  while (!source->finished()) {
    auto polled = source->PollBatch(7, std::chrono::milliseconds(10));
    ASSERT_TRUE(polled.ok()) << polled.status().ToString();
    if (!*polled) continue;
    ASSERT_TRUE((*polled)->records->schema()->Equals(*schema)) << (*polled)->records->schema()->ToString();
    ASSERT_TRUE((*polled)->records->column(0)->Equals(*Ints(arrow::int64(), rows, (*polled)->num_rows())));
    ASSERT_TRUE((*polled)->records->column(1)->Equals(*Strings(rows, (*polled)->num_rows())));
    rows += (*polled)->num_rows();
  }
  EXPECT_EQ(rows, 20);
}

TEST_F(FilesSourceTest, AParquetFileThatCannotHoldTheInferredColumnsFailsNamingFileAndColumn) {
  auto schema = arrow::schema({arrow::field("id", arrow::int64()), arrow::field("v", arrow::utf8())});
  WriteParquet(dir_ / "in" / "f0.parquet",
               arrow::RecordBatch::Make(schema, 3, {Ints(arrow::int64(), 0, 3), Strings(0, 3)}));
  const std::vector<std::pair<std::shared_ptr<arrow::RecordBatch>, std::string>> cases = {
      {arrow::RecordBatch::Make(arrow::schema({arrow::field("id", arrow::int64()), arrow::field("v", arrow::int64())}),
                                3, {Ints(arrow::int64(), 3, 3), Ints(arrow::int64(), 3, 3)}),
       "f1.parquet: column 'v' is int64"},
      {arrow::RecordBatch::Make(arrow::schema({arrow::field("id", arrow::int64())}), 3, {Ints(arrow::int64(), 3, 3)}),
       "f1.parquet: has no column 'v'"},
  };
  for (const auto& [batch, message] : cases) {
    SCOPED_TRACE(message);
    WriteParquet(dir_ / "in" / "f1.parquet", batch);
    ConnectorConfig config("files", {{"path", (dir_ / "in").string()}, {"format", "parquet"}});
    config.set_instance_name("input");
    auto source = Make(config);
    ASSERT_TRUE(source->Restore(SourceCheckpoint()).ok());
    arrow::Status failed;
    int64_t rows = 0;
    while (failed.ok() && !source->finished()) {
      auto polled = source->PollBatch(100, std::chrono::milliseconds(10));
      if (!polled.ok()) {
        failed = polled.status();
      } else if (*polled) {
        rows += (*polled)->num_rows();
      }
    }
    EXPECT_EQ(rows, 3);  // f0 only
    EXPECT_NE(failed.message().find(message), std::string::npos) << failed.ToString();
  }
}

double Custom(const ConnectorMetrics& metrics, const std::string& name) {
  for (const auto& [key, value] : metrics.custom) {
    if (key == name) return value;
  }
  return -1;
}

// Good, bad and skipped CSV records through the files source: each record read is counted
// once, as decoded, skipped, dead-lettered or dropped over the dead-letter rate.
TEST_F(FilesSourceTest, CountersAddUpToTheRecordsRead) {
  {
    std::ofstream out(dir_ / "in" / "a.csv");
    out << "id\n1\n2,extra\nx\n3\ny\nz\n4\n";
  }
  auto config = Config({{"format", "csv"},
                        {"format.field_count_mismatch", "skip"},
                        {"on.error", "dead_letter"},
                        {"dead_letter.path", (dir_ / "dlq").string()},
                        {"dead_letter.max-per-second", "2"}});
  auto source = Make(config);
  int64_t letters = 0;
  std::vector<int64_t> ids;
  while (!source->finished()) {
    auto polled = source->PollBatch(1000, std::chrono::milliseconds(20));
    ASSERT_TRUE(polled.ok()) << polled.status().ToString();
    if (!*polled) continue;
    if ((*polled)->dead_letters) letters += (*polled)->dead_letters->num_rows();
    const auto& column = static_cast<const arrow::Int64Array&>(*(*polled)->records->column(0));
    for (int64_t r = 0; r < column.length(); ++r) ids.push_back(column.Value(r));
  }
  EXPECT_EQ(ids, (std::vector<int64_t>{1, 3, 4}));
  EXPECT_EQ(letters, 2);
  const auto metrics = source->Metrics();
  EXPECT_EQ(Custom(metrics, "decoded"), 3);
  EXPECT_EQ(Custom(metrics, "skipped"), 1);
  EXPECT_EQ(Custom(metrics, "dead_lettered"), 2);
  EXPECT_EQ(Custom(metrics, "dlq_dropped"), 1);
  EXPECT_EQ(metrics.errors_total, 3u);
  EXPECT_EQ(Custom(metrics, "decoded") + Custom(metrics, "skipped") + Custom(metrics, "dead_lettered") +
                Custom(metrics, "dlq_dropped"),
            7);
}

// Every row of a source, with the largest batch seen; stops at the end or after `max_rows`.
std::vector<int64_t> ReadIds(SourceConnector& source, int64_t* largest_batch, size_t max_rows = SIZE_MAX) {
  std::vector<int64_t> ids;
  while (!source.finished() && ids.size() < max_rows) {
    auto polled = source.PollBatch(100, std::chrono::milliseconds(10));
    EXPECT_TRUE(polled.ok()) << polled.status().ToString();
    if (!polled.ok()) break;
    if (!*polled) continue;
    *largest_batch = std::max(*largest_batch, (*polled)->num_rows());
    const auto& column = static_cast<const arrow::Int64Array&>(*(*polled)->records->GetColumnByName("id"));
    for (int64_t r = 0; r < column.length(); ++r) ids.push_back(column.Value(r));
  }
  return ids;
}

// format.row_groups, format.predicate (row-group statistics) and format.batch_size apply
// to Parquet files; the position stays a row of the file, so a restore after skipped
// groups resumes at the right row.
TEST_F(FilesSourceTest, ParquetRowGroupsPredicateAndBatchSize) {
  auto schema = arrow::schema({arrow::field("id", arrow::int64()), arrow::field("v", arrow::utf8())});
  // Row groups of 4 rows: [0,4) [4,8) [8,12) [12,16) [16,20).
  WriteParquet(dir_ / "in" / "f0.parquet",
               arrow::RecordBatch::Make(schema, 20, {Ints(arrow::int64(), 0, 20), Strings(0, 20)}));
  ConnectorConfig config("files", {{"path", (dir_ / "in").string()},
                                   {"format", "parquet"},
                                   {"format.row_groups", "0,2,3,4"},
                                   {"format.predicate", "id < '4' OR id >= '12'"},
                                   {"format.batch_size", "3"}});
  config.set_instance_name("input");
  config.set_schema(arrow::schema({arrow::field("id", arrow::int64())}));  // projected
  auto source = Make(config);
  ASSERT_TRUE(source->Restore(SourceCheckpoint()).ok());
  int64_t largest = 0;
  const std::vector<int64_t> want = {0, 1, 2, 3, 12, 13, 14, 15, 16, 17, 18, 19};
  EXPECT_EQ(ReadIds(*source, &largest), want);
  EXPECT_EQ(largest, 3);

  auto first = Make(config);
  ASSERT_TRUE(first->Restore(SourceCheckpoint()).ok());
  EXPECT_EQ(ReadIds(*first, &largest, 4), (std::vector<int64_t>{0, 1, 2, 3}));
  const auto checkpoint = first->Checkpoint();
  auto resumed = Make(config);
  ASSERT_TRUE(resumed->Restore(checkpoint).ok());
  EXPECT_EQ(ReadIds(*resumed, &largest), (std::vector<int64_t>{12, 13, 14, 15, 16, 17, 18, 19}));
}

TEST_F(FilesSourceTest, FormatKeysAFileFormatCannotUseAreConfigErrors) {
  const std::vector<std::pair<std::map<std::string, std::string>, std::string>> cases = {
      {{{"format", "parquet"}, {"format.compression", "zstd"}}, "option 'format.compression'"},
      {{{"format", "parquet"}, {"format.predicate", "id >"}}, "option 'format.predicate'"},
      {{{"format", "parquet"}, {"format.row_groups", "1,x"}}, "option 'format.row_groups'"},
      {{{"format", "avro"}, {"format.avro.wire", "plain"}}, "option 'format.avro.wire'"},
      {{{"format", "avro"}, {"format.avro.reader.schema", "{"}}, "option 'format.avro.reader.schema'"},
      {{{"format", "json"}, {"format.batch_size", "10"}}, "option 'format.batch_size'"},
  };
  for (const auto& [props, needle] : cases) {
    FilesSource source;
    auto status = source.Open(Config(props));
    EXPECT_FALSE(status.ok());
    EXPECT_NE(status.message().find(needle), std::string::npos) << status.message();
  }
}

// format.avro.reader.schema: each file's writer schema is resolved against it (a field the
// writer lacks takes its default), and it gives the columns when none are declared.
TEST_F(FilesSourceTest, AvroReaderSchemaResolvesEachFile) {
  auto writer = serde::avro::AvroSchema::Parse(
      R"({"type":"record","name":"r","fields":[{"name":"id","type":"long"}]})").ValueOrDie();
  auto batch = arrow::RecordBatch::Make(arrow::schema({arrow::field("id", arrow::int64(), false)}), 3,
                                        {Ints(arrow::int64(), 0, 3)});
  auto bytes = serde::avro::WriteObjectContainer({batch}, writer, serde::avro::OcfCodec::kNull).ValueOrDie();
  std::ofstream(dir_ / "in" / "a.avro", std::ios::binary) << bytes;
  ConnectorConfig config(
      "files", {{"path", (dir_ / "in").string()},
                {"format", "avro"},
                {"format.avro.reader.schema",
                 R"({"type":"record","name":"r","fields":[{"name":"id","type":"long"},)"
                 R"({"name":"tag","type":"string","default":"x"}]})"}});
  config.set_instance_name("input");
  auto source = Make(config);
  ASSERT_TRUE(source->Restore(SourceCheckpoint()).ok());
  ASSERT_EQ(source->schema()->num_fields(), 2) << source->schema()->ToString();
  auto polled = source->PollBatch(100, std::chrono::milliseconds(10));
  ASSERT_TRUE(polled.ok() && *polled) << polled.status().ToString();
  ASSERT_EQ((*polled)->num_rows(), 3);
  EXPECT_EQ((*polled)->records->GetColumnByName("tag")->GetScalar(2).ValueOrDie()->ToString(), "x");
}

TEST_F(FilesSourceTest, RawLines) {
  std::ofstream(dir_ / "in" / "a.txt") << "first\nsecond line\n";
  ConnectorConfig config("files", {{"path", (dir_ / "in").string()}, {"format", "raw"}});
  config.set_instance_name("input");
  auto source = Make(config);
  ASSERT_TRUE(source->Restore(SourceCheckpoint()).ok());
  auto polled = source->PollBatch(100, std::chrono::milliseconds(10));
  ASSERT_TRUE(polled.ok() && *polled) << polled.status().ToString();
  ASSERT_EQ((*polled)->num_rows(), 2);
  EXPECT_EQ((*polled)->records->schema()->field(0)->name(), "value");
  EXPECT_EQ(static_cast<const arrow::BinaryArray&>(*(*polled)->records->column(0)).GetView(1), "second line");
}

// Debezium events as JSON lines become changelog rows; counters count events.
TEST_F(FilesSourceTest, DebeziumLinesBecomeChangelogRows) {
  std::ofstream(dir_ / "in" / "a.jsonl") << R"({"op":"c","after":{"id":1}})" "\n"
                                          << R"({"op":"u","before":{"id":1},"after":{"id":2}})" "\n"
                                          << R"({"op":"t"})" "\n"
                                          << R"({"op":"d","before":{"id":2}})" "\n";
  auto source = Make(Config({{"format", "debezium"}}));
  ASSERT_TRUE(source->Restore(SourceCheckpoint()).ok());
  auto polled = source->PollBatch(100, std::chrono::milliseconds(10));
  ASSERT_TRUE(polled.ok() && *polled) << polled.status().ToString();
  const auto& batch = *(*polled)->records;
  ASSERT_EQ(batch.num_rows(), 4);
  EXPECT_EQ(batch.schema()->field(1)->name(), "_op");
  const auto& ops = static_cast<const arrow::Int8Array&>(*batch.column(1));
  EXPECT_EQ(std::vector<int8_t>(ops.raw_values(), ops.raw_values() + 4), (std::vector<int8_t>{0, 1, 2, 3}));
  const auto metrics = source->Metrics();
  EXPECT_EQ(Custom(metrics, "decoded"), 3);
  EXPECT_EQ(Custom(metrics, "skipped"), 1);
}

// Format names are case-insensitive and take the aliases bytes and debezium-json;
// confluent-avro frames messages, so files refuse it.
TEST_F(FilesSourceTest, FormatNamesTakeAliasesInAnyCase) {
  std::ofstream(dir_ / "in" / "a.jsonl") << R"({"op":"c","after":{"id":1}})" "\n";
  auto cdc = Make(Config({{"format", "Debezium-JSON"}}));
  EXPECT_EQ(cdc->schema()->num_fields(), 2);
  ConnectorConfig bytes("files", {{"path", (dir_ / "in").string()}, {"format", "BYTES"}});
  bytes.set_instance_name("input");
  EXPECT_EQ(Make(bytes)->schema()->field(0)->name(), "value");
  EXPECT_TRUE(FilesSource().Open(Config({{"format", "JSON"}})).ok());
  auto framed = FilesSource().Open(Config({{"format", "confluent-avro"}}));
  ASSERT_FALSE(framed.ok());
  EXPECT_NE(framed.message().find("option 'format' = 'confluent-avro' is not a file format"), std::string::npos);
}

// Inference reads CSV with the decoder's dialect: tab delimiter, another quote, comments,
// the null string and the rows skipped after the header.
TEST_F(FilesSourceTest, CsvInferenceHonoursTheDialect) {
  std::ofstream(dir_ / "in" / "a.tsv") << "# exported\nid\tname\tscore\nnot\ta\trow\n1\t'a\tb'\tNA\n2\tc\t2.5\n";
  ConnectorConfig config("files", {{"path", (dir_ / "in").string()},
                                   {"format", "csv"},
                                   {"format.delimiter", "tab"},
                                   {"format.quote", "'"},
                                   {"format.comment", "#"},
                                   {"format.null_string", "NA"},
                                   {"format.skip_rows", "1"}});
  config.set_instance_name("input");
  auto source = Make(config);
  ASSERT_TRUE(source->schema());
  EXPECT_EQ(source->schema()->ToString(), "id: int64 not null\nname: string not null\nscore: double");
  ASSERT_TRUE(source->Restore(SourceCheckpoint()).ok());
  auto polled = source->PollBatch(100, std::chrono::milliseconds(10));
  ASSERT_TRUE(polled.ok() && *polled) << polled.status().ToString();
  ASSERT_EQ((*polled)->num_rows(), 2);
  EXPECT_EQ((*polled)->records->GetColumnByName("name")->GetScalar(0).ValueOrDie()->ToString(), "a\tb");
}

}  // namespace
}  // namespace laminar::files
