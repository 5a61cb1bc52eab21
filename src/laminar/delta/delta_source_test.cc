// The delta-lake source against tables whose log the tests write by hand: exact commit
// timestamps, foreign protocol and metaData actions, column-mapped files, v2 and
// multi-part checkpoints. (delta_test.cc covers the source over tables the sink writes.)
#include <arrow/api.h>
#include <arrow/filesystem/localfs.h>
#include <arrow/io/file.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/writer.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "laminar/core/status.h"
#include "laminar/delta/delta_log.h"
#include "laminar/delta/delta_sink.h"
#include "laminar/delta/delta_source.h"
#include "laminar/storage/storage_options.h"

namespace laminar::delta {
namespace {

namespace fs = std::filesystem;

// Nullable on purpose: a column read under the wrong name would come back as nulls
// without any NOT NULL check noticing.
constexpr char kSchema[] =
    R"({"type":"struct","fields":[{"name":"id","type":"long","nullable":true,"metadata":{}},)"
    R"({"name":"name","type":"string","nullable":true,"metadata":{}}]})";
constexpr char kSchemaWithExtra[] =
    R"({"type":"struct","fields":[{"name":"id","type":"long","nullable":true,"metadata":{}},)"
    R"({"name":"name","type":"string","nullable":true,"metadata":{}},)"
    R"({"name":"extra","type":"double","nullable":true,"metadata":{}}]})";

std::string Quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string MetadataLine(const std::string& schema, const std::string& configuration = "{}") {
  return R"({"metaData":{"id":"00000000-0000-0000-0000-00000000000a","format":{"provider":"parquet","options":{}},)"
         R"("schemaString":)" +
         Quoted(schema) + R"(,"partitionColumns":[],"configuration":)" + configuration + R"(,"createdTime":0}})";
}

std::string CommitInfoLine(int64_t timestamp_ms) {
  return R"({"commitInfo":{"timestamp":)" + std::to_string(timestamp_ms) + R"(,"operation":"WRITE"}})";
}

std::string AddLine(const std::string& path, bool data_change = true) {
  return R"({"add":{"path":")" + path + R"(","partitionValues":{},"size":1,"modificationTime":0,"dataChange":)" +
         (data_change ? "true" : "false") + "}}";
}

std::string RemoveLine(const std::string& path) {
  return R"({"remove":{"path":")" + path + R"(","deletionTimestamp":0,"dataChange":true}})";
}

class DeltaSourceLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("laminar-delta-source-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "_delta_log");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // An empty directory again, holding a new table's version 0 (for cases in a loop).
  void RecreateTable() {
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "_delta_log");
    CreateTable();
  }

  DeltaLog Log() {
    storage::TableLocation location;
    location.fs = std::make_shared<arrow::fs::LocalFileSystem>();
    location.root = dir_.string();
    location.local = true;
    return DeltaLog(location);
  }

  void Commit(int64_t version, const std::vector<std::string>& lines) {
    char name[32];
    std::snprintf(name, sizeof(name), "%020lld.json", static_cast<long long>(version));
    std::ofstream out(dir_ / "_delta_log" / name);
    for (const auto& line : lines) out << line << "\n";
    ASSERT_TRUE(out.good());
  }

  // A Parquet data file with the given columns (each a name and its Arrow array).
  void WriteFile(const std::string& path, const std::vector<std::pair<std::string, std::shared_ptr<arrow::Array>>>& columns) {
    arrow::FieldVector fields;
    arrow::ArrayVector arrays;
    for (const auto& [name, array] : columns) {
      fields.push_back(arrow::field(name, array->type()));
      arrays.push_back(array);
    }
    auto table = arrow::Table::Make(arrow::schema(fields), arrays);
    auto out = arrow::io::FileOutputStream::Open((dir_ / path).string()).ValueOrDie();
    ASSERT_TRUE(parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), out, 1024).ok());
    ASSERT_TRUE(out->Close().ok());
  }

  static std::shared_ptr<arrow::Array> Ids(int64_t from, int64_t n) {
    arrow::Int64Builder b;
    for (int64_t i = from; i < from + n; ++i) EXPECT_TRUE(b.Append(i).ok());
    return b.Finish().ValueOrDie();
  }
  static std::shared_ptr<arrow::Array> Names(int64_t from, int64_t n) {
    arrow::StringBuilder b;
    for (int64_t i = from; i < from + n; ++i) EXPECT_TRUE(b.Append("n" + std::to_string(i)).ok());
    return b.Finish().ValueOrDie();
  }
  static std::shared_ptr<arrow::Array> Doubles(int64_t from, int64_t n) {
    arrow::DoubleBuilder b;
    for (int64_t i = from; i < from + n; ++i) EXPECT_TRUE(b.Append(static_cast<double>(i) / 2).ok());
    return b.Finish().ValueOrDie();
  }

  // Version 0 creates the table; version `version` adds ids from..from+n in file part-<version>.
  void CreateTable(int64_t timestamp_ms = 1000, const std::string& schema = kSchema) {
    Commit(0, {CommitInfoLine(timestamp_ms), R"({"protocol":{"minReaderVersion":1,"minWriterVersion":2}})",
               MetadataLine(schema)});
  }
  void AppendRows(int64_t version, int64_t from, int64_t n, int64_t timestamp_ms = 2000,
                  std::vector<std::string> extra_lines = {}) {
    const std::string path = "part-" + std::to_string(version) + ".parquet";
    WriteFile(path, {{"id", Ids(from, n)}, {"name", Names(from, n)}});
    std::vector<std::string> lines = {CommitInfoLine(timestamp_ms)};
    lines.insert(lines.end(), extra_lines.begin(), extra_lines.end());
    lines.push_back(AddLine(path));
    Commit(version, lines);
  }

  ConnectorConfig Config(std::map<std::string, std::string> props) {
    props["table.path"] = dir_.string();
    ConnectorConfig config("delta-lake", props);
    config.set_instance_name("in");
    auto valid = config.Validate(DeltaSourceKeySpecs());
    EXPECT_TRUE(valid.ok()) << valid.ToString();
    return config;
  }

  std::unique_ptr<DeltaSource> OpenSource(std::map<std::string, std::string> props,
                                          std::shared_ptr<arrow::Schema> declared = nullptr) {
    auto config = Config(std::move(props));
    if (declared) config.set_schema(declared);
    auto source = std::make_unique<DeltaSource>();
    auto status = source->Open(config);
    EXPECT_TRUE(status.ok()) << status.ToString();
    return status.ok() ? std::move(source) : nullptr;
  }

  struct Polled {
    std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
    arrow::Status status;  // the first failure, if any
    std::vector<int64_t> Ids() const {
      std::vector<int64_t> out;
      for (const auto& b : batches) {
        auto ids = std::static_pointer_cast<arrow::Int64Array>(b->GetColumnByName("id"));
        for (int64_t i = 0; i < ids->length(); ++i) out.push_back(ids->IsNull(i) ? -1 : ids->Value(i));
      }
      return out;
    }
  };

  // Polls until `empty_polls` polls in a row return nothing, or one fails.
  static Polled PollAll(DeltaSource& source, int empty_polls = 3) {
    Polled out;
    for (int empty = 0; empty < empty_polls;) {
      auto batch = source.PollBatch(1000, std::chrono::milliseconds(20));
      if (!batch.ok()) {
        out.status = batch.status();
        break;
      }
      if (!*batch) {
        ++empty;
        continue;
      }
      empty = 0;
      out.batches.push_back((*batch)->records);
    }
    return out;
  }

  static std::vector<int64_t> Range(int64_t from, int64_t n) {
    std::vector<int64_t> out;
    for (int64_t i = from; i < from + n; ++i) out.push_back(i);
    return out;
  }

  static double LogLookups(const DeltaSource& source) {
    for (const auto& [name, value] : source.Metrics().custom) {
      if (name == "delta.log_lookups") return value;
    }
    ADD_FAILURE() << "no delta.log_lookups metric";
    return -1;
  }

  fs::path dir_;
};

#define EXPECT_HAS(status, text) \
  EXPECT_NE((status).message().find(text), std::string::npos) << "expected '" << (text) << "' in: " << (status).ToString()

// Commit timestamps 1000 (v0), 2000, 3000, 4000 (v1..v3 add 5 rows each): the source starts
// at the newest version committed at or before starting.timestamp.
TEST_F(DeltaSourceLogTest, StartingTimestampPicksTheNewestVersionAtOrBeforeIt) {
  CreateTable(1000);
  AppendRows(1, 0, 5, 2000);
  AppendRows(2, 5, 5, 3000);
  AppendRows(3, 10, 5, 4000);
  struct Case {
    std::string timestamp;
    std::string startup;
    std::vector<int64_t> rows;
  };
  const std::vector<Case> cases = {
      {"2500", "changes", Range(5, 10)},                      // v1 is the start: v2 and v3 follow
      {"1970-01-01T00:00:02.500Z", "changes", Range(5, 10)},  // the same time in ISO-8601
      {"3000", "changes", Range(10, 5)},                      // exactly v2's time: v2 is the start
      {"3000", "snapshot", Range(0, 15)},                     // v2's rows (0..9), then v3's
      {"1000", "changes", Range(0, 15)},                      // v0, the empty table
      {"99999999999999", "changes", {}},                      // after the last commit: v3
      {"99999999999999", "snapshot", Range(0, 15)},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.timestamp + " " + c.startup);
    auto source = OpenSource({{"starting.timestamp", c.timestamp}, {"startup.mode", c.startup},
                              {"poll.interval.ms", "10"}});
    ASSERT_TRUE(source);
    auto polled = PollAll(*source);
    ASSERT_TRUE(polled.status.ok()) << polled.status.ToString();
    auto ids = polled.Ids();
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(ids, c.rows);
  }
  // Before the first commit there is no version to start at.
  DeltaSource early;
  auto status = early.Open(Config({{"starting.timestamp", "999"}}));
  ASSERT_FALSE(status.ok());
  EXPECT_HAS(status, "starting.timestamp");
  DeltaSource garbage;
  status = garbage.Open(Config({{"starting.timestamp", "yesterday"}}));
  ASSERT_FALSE(status.ok());
  EXPECT_HAS(status, "'yesterday'");
}

// Caught up with the log, the source looks for the next commit once per poll.interval.ms:
// a second poll right after a miss does not list the log again, and a version committed
// in between only shows after the interval. Versions that already exist are read without
// waiting.
TEST_F(DeltaSourceLogTest, PollIntervalThrottlesLookingForNewVersions) {
  CreateTable();
  AppendRows(1, 0, 5);
  {
    auto source = OpenSource({{"startup.mode", "changes"}, {"poll.interval.ms", "600000"}});
    ASSERT_TRUE(source);
    auto first = source->PollBatch(100, std::chrono::milliseconds(10));
    ASSERT_TRUE(first.ok() && !*first);
    EXPECT_EQ(LogLookups(*source), 1) << "one look for version 2";
    AppendRows(2, 5, 5);
    for (int i = 0; i < 3; ++i) {
      auto again = source->PollBatch(100, std::chrono::milliseconds(50));
      ASSERT_TRUE(again.ok());
      EXPECT_FALSE(*again) << "version 2 read before the interval passed";
    }
    EXPECT_EQ(LogLookups(*source), 1) << "the log was looked at again within the interval";
  }
  {
    // A short interval: version 2 appears, but no earlier than the interval after the miss.
    // Only a lower bound on time is checked; the upper one is generous for a loaded machine.
    const auto interval = std::chrono::milliseconds(400);
    auto source = OpenSource({{"startup.mode", "changes"}, {"starting.version", "2"},
                              {"poll.interval.ms", std::to_string(interval.count())}});
    ASSERT_TRUE(source);
    const auto before_miss = std::chrono::steady_clock::now();
    auto miss = source->PollBatch(100, std::chrono::milliseconds(10));
    ASSERT_TRUE(miss.ok() && !*miss);
    AppendRows(3, 10, 5);
    std::optional<SourceBatch> got;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!got && std::chrono::steady_clock::now() < give_up) {
      auto batch = source->PollBatch(100, std::chrono::milliseconds(20));
      ASSERT_TRUE(batch.ok()) << batch.status().ToString();
      got = std::move(*batch);
    }
    ASSERT_TRUE(got) << "version 3 never read";
    EXPECT_GE(std::chrono::steady_clock::now() - before_miss, interval);
    EXPECT_EQ(got->records->num_rows(), 5);
    EXPECT_EQ(LogLookups(*source), 2) << "one miss, then one hit";
  }
  {
    // Existing versions one after another: no interval between them.
    auto source = OpenSource({{"startup.mode", "changes"}, {"starting.version", "0"}, {"poll.interval.ms", "600000"}});
    ASSERT_TRUE(source);
    auto polled = PollAll(*source, 2);
    ASSERT_TRUE(polled.status.ok()) << polled.status.ToString();
    EXPECT_EQ(polled.Ids(), Range(0, 15));
  }
}

// Version 2 overwrites: it removes part-1 (ids 0..4) and adds part-2 (ids 100..102).
TEST_F(DeltaSourceLogTest, RemovesFailAppendModeNamingVersionAndFileUnlessIgnored) {
  CreateTable();
  AppendRows(1, 0, 5);
  auto ignoring = OpenSource({{"startup.mode", "changes"}, {"ignore.removes", "true"}, {"poll.interval.ms", "10"}});
  auto strict = OpenSource({{"startup.mode", "changes"}, {"poll.interval.ms", "10"}});
  auto changelog = OpenSource({{"startup.mode", "changes"}, {"read.mode", "changelog"}, {"poll.interval.ms", "10"}});
  ASSERT_TRUE(ignoring && strict && changelog);
  AppendRows(2, 100, 3, 3000, {RemoveLine("part-1.parquet")});
  AppendRows(3, 200, 2, 4000);

  auto ignored = PollAll(*ignoring);
  ASSERT_TRUE(ignored.status.ok()) << ignored.status.ToString();
  EXPECT_EQ(ignored.Ids(), (std::vector<int64_t>{100, 101, 102, 200, 201})) << "adds read on, removes skipped";

  auto refused = PollAll(*strict);
  ASSERT_FALSE(refused.status.ok());
  EXPECT_TRUE(refused.batches.empty()) << "nothing of version 2 before the error";
  EXPECT_HAS(refused.status, "version 2");
  EXPECT_HAS(refused.status, "part-1.parquet");
  EXPECT_HAS(refused.status, "ignore.removes");

  auto changes = PollAll(*changelog);
  ASSERT_TRUE(changes.status.ok()) << changes.status.ToString();
  std::vector<std::pair<int64_t, int8_t>> got;
  for (const auto& b : changes.batches) {
    auto ids = std::static_pointer_cast<arrow::Int64Array>(b->GetColumnByName("id"));
    auto ops = std::static_pointer_cast<arrow::Int8Array>(b->GetColumnByName("_op"));
    for (int64_t i = 0; i < b->num_rows(); ++i) got.emplace_back(ids->Value(i), ops->Value(i));
  }
  const std::vector<std::pair<int64_t, int8_t>> want = {{0, 3},   {1, 3},   {2, 3},   {3, 3},   {4, 3},
                                                        {100, 0}, {101, 0}, {102, 0}, {200, 0}, {201, 0}};
  EXPECT_EQ(got, want);
}

// While the source follows, a version turns on something that changes how files must be
// read: the source stops at that version naming the feature and never emits its files'
// rows (read by logical name, column-mapped files would come back as nulls).
TEST_F(DeltaSourceLogTest, FeaturesTurnedOnWhileFollowingAreRefusedNamingThem) {
  const std::string mapped_schema =
      R"({"type":"struct","fields":[)"
      R"({"name":"id","type":"long","nullable":true,"metadata":{"delta.columnMapping.id":1,"delta.columnMapping.physicalName":"col-a1"}},)"
      R"({"name":"name","type":"string","nullable":true,"metadata":{"delta.columnMapping.id":2,"delta.columnMapping.physicalName":"col-b2"}}]})";
  struct Case {
    std::string name;
    std::vector<std::string> lines;  // version 2, before its add
    std::string refusal;
  };
  const std::vector<Case> cases = {
      {"column mapping, legacy protocol",
       {R"({"protocol":{"minReaderVersion":2,"minWriterVersion":5}})",
        MetadataLine(mapped_schema, R"({"delta.columnMapping.mode":"name","delta.columnMapping.maxColumnId":"2"})")},
       "delta.columnMapping.mode=name"},
      {"column mapping, id mode, metadata only",
       {MetadataLine(mapped_schema, R"({"delta.columnMapping.mode":"id"})")},
       "delta.columnMapping.mode=id"},
      {"column mapping reader feature",
       {R"({"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["columnMapping"],"writerFeatures":["columnMapping"]}})"},
       "'columnMapping'"},
      {"deletion vectors reader feature",
       {R"({"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["deletionVectors"],"writerFeatures":["deletionVectors"]}})"},
       "'deletionVectors'"},
      {"v2 checkpoints reader feature",
       {R"({"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["v2Checkpoint"],"writerFeatures":["v2Checkpoint"]}})"},
       "'v2Checkpoint'"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    RecreateTable();
    AppendRows(1, 0, 5);
    auto source = OpenSource({{"startup.mode", "changes"}, {"poll.interval.ms", "10"}});
    ASSERT_TRUE(source);
    // Version 2's file is written the way the feature says (physical column names).
    WriteFile("part-2.parquet", {{"col-a1", Ids(10, 5)}, {"col-b2", Names(10, 5)}});
    std::vector<std::string> lines = c.lines;
    lines.push_back(AddLine("part-2.parquet"));
    Commit(2, lines);
    auto polled = PollAll(*source);
    ASSERT_FALSE(polled.status.ok()) << polled.Ids().size() << " rows read";
    EXPECT_TRUE(polled.batches.empty());
    EXPECT_HAS(polled.status, c.refusal);
    EXPECT_HAS(polled.status, "version 2");
  }
  // A file with a deletion vector (whatever the protocol says).
  RecreateTable();
  AppendRows(1, 0, 5);
  auto source = OpenSource({{"startup.mode", "changes"}, {"poll.interval.ms", "10"}});
  ASSERT_TRUE(source);
  WriteFile("part-2.parquet", {{"id", Ids(10, 5)}, {"name", Names(10, 5)}});
  Commit(2, {R"({"add":{"path":"part-2.parquet","partitionValues":{},"size":1,"modificationTime":0,"dataChange":true,)"
             R"("deletionVector":{"storageType":"i","pathOrInlineDv":"wi5b=000010000siXQKl0rr91000f","offset":1,"sizeInBytes":36,"cardinality":2}}})"});
  auto polled = PollAll(*source);
  ASSERT_FALSE(polled.status.ok());
  EXPECT_TRUE(polled.batches.empty());
  EXPECT_HAS(polled.status, "deletionVectors");
}

// A version that changes the schema while the source follows: columns the source reads
// must keep their name and type; a new column is read when the declared schema leaves it
// out (a projection), an error when the source's schema is the table's (its values would
// be dropped). Schemas of versions before the one the source opened at are history.
TEST_F(DeltaSourceLogTest, SchemaChangesWhileFollowing) {
  auto reset = [&](std::vector<std::string> version_1_lines = {}) {
    RecreateTable();
    AppendRows(1, 0, 5, 2000, std::move(version_1_lines));
  };
  auto add_extra = [&](int64_t version, int64_t from) {
    WriteFile("part-" + std::to_string(version) + ".parquet",
              {{"id", Ids(from, 5)}, {"name", Names(from, 5)}, {"extra", Doubles(from, 5)}});
    std::vector<std::string> lines = {CommitInfoLine(3000)};
    if (version == 2) lines.push_back(MetadataLine(kSchemaWithExtra));
    lines.push_back(AddLine("part-" + std::to_string(version) + ".parquet"));
    Commit(version, lines);
  };
  {
    SCOPED_TRACE("table schema: a new column is an error naming it");
    reset();
    auto source = OpenSource({{"startup.mode", "changes"}, {"poll.interval.ms", "10"}});
    ASSERT_TRUE(source);
    add_extra(2, 10);
    auto polled = PollAll(*source);
    ASSERT_FALSE(polled.status.ok());
    EXPECT_TRUE(polled.batches.empty());
    EXPECT_HAS(polled.status, "version 2 adds column 'extra'");
    // A restart reads the new schema and goes on from the same position.
    auto checkpoint = source->Checkpoint();
    auto restarted = OpenSource({{"startup.mode", "changes"}, {"poll.interval.ms", "10"}});
    ASSERT_TRUE(restarted);
    ASSERT_TRUE(restarted->Restore(checkpoint).ok());
    auto rest = PollAll(*restarted);
    ASSERT_TRUE(rest.status.ok()) << rest.status.ToString();
    ASSERT_EQ(rest.batches.size(), 1u);
    EXPECT_EQ(rest.Ids(), Range(10, 5));
    auto extra = std::static_pointer_cast<arrow::DoubleArray>(rest.batches[0]->GetColumnByName("extra"));
    ASSERT_TRUE(extra);
    EXPECT_EQ(extra->null_count(), 0);
    EXPECT_EQ(extra->Value(4), 7.0);
  }
  {
    SCOPED_TRACE("declared schema without the new column: read on, values intact");
    reset();
    auto declared = arrow::schema({arrow::field("id", arrow::int64()), arrow::field("name", arrow::utf8())});
    auto source = OpenSource({{"startup.mode", "changes"}, {"poll.interval.ms", "10"}}, declared);
    ASSERT_TRUE(source);
    add_extra(2, 10);
    add_extra(3, 15);
    auto polled = PollAll(*source);
    ASSERT_TRUE(polled.status.ok()) << polled.status.ToString();
    EXPECT_EQ(polled.Ids(), Range(10, 10));
    for (const auto& b : polled.batches) {
      EXPECT_EQ(b->num_columns(), 2);
      EXPECT_EQ(b->GetColumnByName("name")->null_count(), 0);
    }
  }
  {
    SCOPED_TRACE("history: a schema change before the version opened at is no error");
    // Version 1 sets a property (its schema, without `extra`, is the table's then); version
    // 2 adds `extra`; the source opens at 2 and starts after 0.
    reset({MetadataLine(kSchema, R"({"delta.logRetentionDuration":"interval 30 days"})")});
    add_extra(2, 10);
    auto source = OpenSource({{"starting.version", "0"}, {"startup.mode", "changes"}, {"poll.interval.ms", "10"}});
    ASSERT_TRUE(source);
    // While following: a property change that keeps the schema.
    Commit(3, {MetadataLine(kSchemaWithExtra, R"({"delta.logRetentionDuration":"interval 7 days"})")});
    auto polled = PollAll(*source);
    ASSERT_TRUE(polled.status.ok()) << polled.status.ToString();
    EXPECT_EQ(polled.Ids(), (std::vector<int64_t>{0, 1, 2, 3, 4, 10, 11, 12, 13, 14}));
    int64_t null_extra = 0;
    for (const auto& b : polled.batches) null_extra += b->GetColumnByName("extra")->null_count();
    EXPECT_EQ(null_extra, 5);
  }
  const std::vector<std::pair<std::string, std::string>> refusals = {
      {R"({"type":"struct","fields":[{"name":"id","type":"long","nullable":true,"metadata":{}},)"
       R"({"name":"name","type":"long","nullable":true,"metadata":{}}]})",
       "version 2 changes column 'name' to int64"},
      {R"({"type":"struct","fields":[{"name":"id","type":"long","nullable":true,"metadata":{}}]})",
       "version 2 drops or renames column 'name'"},
  };
  for (const auto& [schema, refusal] : refusals) {
    SCOPED_TRACE(refusal);
    reset();
    auto source = OpenSource({{"startup.mode", "changes"}, {"poll.interval.ms", "10"}});
    ASSERT_TRUE(source);
    WriteFile("part-2.parquet", {{"id", Ids(10, 5)}, {"name", Ids(10, 5)}});
    Commit(2, {MetadataLine(schema), AddLine("part-2.parquet")});
    auto polled = PollAll(*source);
    ASSERT_FALSE(polled.status.ok());
    EXPECT_TRUE(polled.batches.empty());
    EXPECT_HAS(polled.status, refusal);
  }
}

// The newest checkpoint is a v2 one under the classic name (it points at sidecar files
// holding the adds): reading it as a classic checkpoint would lose those files.
TEST_F(DeltaSourceLogTest, V2CheckpointsAreRefused) {
  CreateTable();
  AppendRows(1, 0, 5);
  AppendRows(2, 5, 5);
  auto log = Log();
  auto snapshot = log.Load();
  ASSERT_TRUE(snapshot.ok() && *snapshot) << snapshot.status().ToString();
  ASSERT_TRUE(log.WriteCheckpoint(**snapshot).ok());
  ASSERT_TRUE(Log().Load().ok()) << "a classic checkpoint reads";
  // Rewrite it with a sidecar action beside the others.
  const auto path = (dir_ / "_delta_log" / "00000000000000000002.checkpoint.parquet").string();
  std::shared_ptr<arrow::Table> table;
  {
    auto file = arrow::io::ReadableFile::Open(path).ValueOrDie();
    auto reader = parquet::arrow::OpenFile(file, arrow::default_memory_pool()).ValueOrDie();
    auto read = reader->ReadTable();
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    table = *read;
  }
  auto sidecar_type = arrow::struct_({arrow::field("path", arrow::utf8()), arrow::field("sizeInBytes", arrow::int64()),
                                      arrow::field("modificationTime", arrow::int64())});
  std::string rows = "[";
  for (int64_t i = 0; i < table->num_rows(); ++i) {
    rows += i == 0 ? R"({"path":"sidecar-1.parquet","sizeInBytes":10,"modificationTime":0})" : ",null";
  }
  rows += "]";
  auto sidecar = arrow::json::ArrayFromJSONString(sidecar_type, rows).ValueOrDie();
  table = table->AddColumn(table->num_columns(), arrow::field("sidecar", sidecar_type),
                           std::make_shared<arrow::ChunkedArray>(sidecar))
              .ValueOrDie();
  {
    auto out = arrow::io::FileOutputStream::Open(path).ValueOrDie();
    ASSERT_TRUE(parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), out, 1024).ok());
    ASSERT_TRUE(out->Close().ok());
  }
  auto refused = Log().Load();
  ASSERT_FALSE(refused.ok());
  EXPECT_HAS(refused.status(), "v2 checkpoint");
  EXPECT_HAS(refused.status(), "sidecar");
  DeltaSource source;
  auto status = source.Open(Config({}));
  ASSERT_FALSE(status.ok());
  EXPECT_HAS(status, "v2Checkpoint");
}

// Multi-part and UUID-named (v2) checkpoints are not read; while the JSON commits they
// stand for are still there the table reads from those, once they are gone the error
// names the checkpoint instead of a "missing commit".
TEST_F(DeltaSourceLogTest, MultiPartAndV2NamedCheckpointsAreNamedWhenTheLogNeedsThem) {
  for (const std::string name : {"00000000000000000002.checkpoint.0000000001.0000000002.parquet",
                                  "00000000000000000002.checkpoint.80a083e8-7026-4e79-81be-64bd76c43a11.json"}) {
    SCOPED_TRACE(name);
    RecreateTable();
    AppendRows(1, 0, 5);
    AppendRows(2, 5, 5);
    AppendRows(3, 10, 5);
    std::ofstream(dir_ / "_delta_log" / name) << "not read";
    auto whole = Log().Load();
    ASSERT_TRUE(whole.ok()) << whole.status().ToString();
    EXPECT_EQ((*whole)->files().size(), 3u);
    for (const char* gone : {"00000000000000000000.json", "00000000000000000001.json", "00000000000000000002.json"}) {
      fs::remove(dir_ / "_delta_log" / gone);
    }
    auto refused = Log().Load();
    ASSERT_FALSE(refused.ok());
    EXPECT_HAS(refused.status(), name);
    EXPECT_HAS(refused.status(), "not support");
  }
}

// catalog.* keys: the source accepts the sink's keys and refuses the same way.
TEST(DeltaSourceOptions, CatalogKeysAreTheSinksWithTheSameValidation) {
  const std::vector<std::pair<std::map<std::string, std::string>, std::string>> cases = {
      {{}, ""},
      {{{"catalog.type", "none"}, {"catalog.prop.owner", "team"}}, ""},
      {{{"catalog.type", "glue"}}, "catalog.type 'glue' needs 'catalog.database'"},
      {{{"catalog.type", "glue"}, {"catalog.database", "db"}}, "catalog.type 'glue' is not supported"},
      {{{"catalog.type", "Unity"}, {"catalog.name", "c"}, {"catalog.schema", "s"}}, "needs 'catalog.workspace_url'"},
      {{{"catalog.type", "unity"},
        {"catalog.name", "c"},
        {"catalog.schema", "s"},
        {"catalog.workspace_url", "https://x"},
        {"catalog.access_token", "t"}},
       "catalog.type 'unity' is not supported"},
      {{{"catalog.type", "hive"}}, "'hive' is not one of none, glue, unity"},
  };
  for (const auto& [props, refusal] : cases) {
    SCOPED_TRACE(refusal.empty() ? "accepted" : refusal);
    std::map<std::string, std::string> with_path = props;
    with_path["table.path"] = "/tmp/t";
    ConnectorConfig source_config("delta-lake", with_path);
    auto valid = source_config.Validate(DeltaSourceKeySpecs());
    ASSERT_TRUE(valid.ok()) << "every catalog key is a source key: " << valid.ToString();
    auto source = DeltaSourceOptions::FromConfig(source_config);
    ConnectorConfig sink_config("delta-lake", with_path);
    auto sink = DeltaSinkOptions::FromConfig(sink_config);
    if (refusal.empty()) {
      EXPECT_TRUE(source.ok()) << source.status().ToString();
      EXPECT_TRUE(sink.ok()) << sink.status().ToString();
      continue;
    }
    ASSERT_FALSE(source.ok());
    EXPECT_EQ(KindOf(source.status()), ErrorKind::kConfig) << source.status().ToString();
    EXPECT_HAS(source.status(), refusal);
    ASSERT_FALSE(sink.ok());
    EXPECT_EQ(source.status().message(), sink.status().message()) << "the sink and the source say the same";
  }
  ConnectorConfig secret("delta-lake", {{"table.path", "/tmp/t"}, {"catalog.access_token", "hunter2"}});
  ASSERT_TRUE(secret.Validate(DeltaSourceKeySpecs()).ok());
  EXPECT_EQ(secret.DisplayRedacted().find("hunter2"), std::string::npos) << "the token is masked";
}

}  // namespace
}  // namespace laminar::delta
