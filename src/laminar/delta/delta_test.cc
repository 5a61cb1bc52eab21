#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/filesystem/localfs.h>
#include <arrow/io/file.h>
#include <gtest/gtest.h>
#include <parquet/arrow/reader.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <filesystem>
#include <numeric>
#include <thread>
#include <tuple>
#include <fstream>

#include "laminar/core/status.h"
#include "laminar/delta/delta_log.h"
#include "laminar/delta/delta_maintenance.h"
#include "laminar/delta/delta_schema.h"
#include "laminar/delta/delta_sink.h"
#include "laminar/delta/delta_source.h"
#include "laminar/runtime/fault_points.h"
#include "laminar/storage/storage_options.h"
#include "laminar/testing/conformance.h"

namespace laminar::delta {
namespace {

namespace fs = std::filesystem;

// A table directory on local disk, as the sink and the source open it.
storage::TableLocation LocalTable(const fs::path& dir) {
  storage::TableLocation location;
  location.fs = std::make_shared<arrow::fs::LocalFileSystem>();
  location.root = dir.string();
  location.local = true;
  return location;
}

std::shared_ptr<arrow::Schema> OrdersSchema() {
  return arrow::schema({arrow::field("id", arrow::int64(), false), arrow::field("region", arrow::utf8()),
                        arrow::field("amount", arrow::float64()),
                        arrow::field("at", arrow::timestamp(arrow::TimeUnit::MILLI, "UTC"))});
}

std::shared_ptr<arrow::RecordBatch> Orders(int64_t from, int64_t n) {
  arrow::Int64Builder ids;
  arrow::StringBuilder regions;
  arrow::DoubleBuilder amounts;
  arrow::TimestampBuilder at(arrow::timestamp(arrow::TimeUnit::MILLI, "UTC"), arrow::default_memory_pool());
  for (int64_t i = from; i < from + n; ++i) {
    EXPECT_TRUE(ids.Append(i).ok());
    EXPECT_TRUE((i % 7 == 0 ? regions.AppendNull() : regions.Append(i % 2 ? "east" : "west")).ok());
    EXPECT_TRUE(amounts.Append(static_cast<double>(i) * 1.5).ok());
    EXPECT_TRUE(at.Append(1767225600000 + i * 1001).ok());
  }
  return arrow::RecordBatch::Make(OrdersSchema(), n,
                                  {ids.Finish().ValueOrDie(), regions.Finish().ValueOrDie(),
                                   amounts.Finish().ValueOrDie(), at.Finish().ValueOrDie()});
}

// One epoch through the sink up to its pre-commit (Stage), or to its commit (Commit).
void Stage(DeltaSink& sink, uint64_t epoch, const std::shared_ptr<arrow::RecordBatch>& batch) {
  ASSERT_TRUE(sink.BeginEpoch(epoch).ok());
  ASSERT_TRUE(sink.WriteBatch(batch).ok());
  auto status = sink.PreCommit(epoch);
  ASSERT_TRUE(status.ok()) << status.ToString();
}

void Commit(DeltaSink& sink, uint64_t epoch, const std::shared_ptr<arrow::RecordBatch>& batch) {
  Stage(sink, epoch, batch);
  ASSERT_TRUE(sink.CommitEpoch(epoch).ok());
}

class DeltaSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("laminar-delta-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  ConnectorConfig Config(std::map<std::string, std::string> props = {}) {
    props["table.path"] = dir_.string();
    ConnectorConfig config("delta-lake", props);
    config.set_instance_name("orders_delta");
    config.set_pipeline_name("test");
    config.set_schema(OrdersSchema());
    EXPECT_TRUE(config.Validate(DeltaSinkKeySpecs()).ok());
    return config;
  }

  std::unique_ptr<DeltaSink> Open(std::map<std::string, std::string> props = {}) {
    auto sink = std::make_unique<DeltaSink>();
    auto status = sink->Open(Config(std::move(props)));
    EXPECT_TRUE(status.ok()) << status.ToString();
    return sink;
  }

  std::optional<Snapshot> Load() {
    const storage::TableLocation location = LocalTable(dir_);
    DeltaLog log(location);
    auto snapshot = log.Load();
    EXPECT_TRUE(snapshot.ok()) << snapshot.status().ToString();
    return snapshot.ok() ? *snapshot : std::nullopt;
  }

  // Rows of the live files (partition columns not added back).
  std::vector<std::shared_ptr<arrow::RecordBatch>> ReadVisible() {
    std::vector<std::shared_ptr<arrow::RecordBatch>> out;
    auto snapshot = Load();
    if (!snapshot) return out;
    for (const auto& [path, add] : snapshot->files()) {
      auto file = arrow::io::ReadableFile::Open((dir_ / DecodePath(path)).string()).ValueOrDie();
      auto reader = parquet::arrow::OpenFile(file, arrow::default_memory_pool()).ValueOrDie();
      auto read = reader->ReadTable();
      EXPECT_TRUE(read.ok());
      std::shared_ptr<arrow::Table> table = *read;
      arrow::TableBatchReader batches(*table);
      std::shared_ptr<arrow::RecordBatch> batch;
      while (batches.ReadNext(&batch).ok() && batch) out.push_back(batch);
    }
    return out;
  }

  int64_t VisibleRows() {
    int64_t n = 0;
    for (const auto& b : ReadVisible()) n += b->num_rows();
    return n;
  }

  fs::path dir_;
};

TEST(DeltaSinkOptions, ParsesEveryKeyAndRejectsBadValues) {
  auto parse = [](std::map<std::string, std::string> props) {
    props.emplace("table.path", "/tmp/t");
    ConnectorConfig config("delta-lake", props);
    config.set_instance_name("s");
    return DeltaSinkOptions::FromConfig(config);
  };
  auto o = parse({{"partition.columns", "a,,b, ,c"}, {"target.file.size", "1000"}, {"max.buffer.records", "50"},
                  {"write.mode", "MERGE"}, {"merge.key.columns", "id"}, {"delivery.guarantee", "at_least_once"},
                  {"writer.id", "w1"}, {"storage.foo", "bar"}});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->partition_columns, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(o->target_file_size, 1000);
  EXPECT_EQ(o->max_buffer_records, 50);
  EXPECT_EQ(o->write_mode, WriteMode::kUpsert);
  EXPECT_FALSE(o->exactly_once);
  EXPECT_EQ(o->writer_id, "w1");
  EXPECT_EQ(o->storage.options.at("foo"), "bar");

  auto upsert = parse({{"write.mode", "upsert"}});
  ASSERT_FALSE(upsert.ok());
  EXPECT_NE(upsert.status().message().find("merge.key.columns"), std::string::npos);
  for (const char* key : {"target.file.size", "max.buffer.records", "checkpoint.interval"}) {
    auto zero = parse({{key, "0"}});
    ASSERT_FALSE(zero.ok()) << key;
    EXPECT_NE(zero.status().message().find(key), std::string::npos);
  }
  auto glue = parse({{"catalog.type", "glue"}});
  ASSERT_FALSE(glue.ok());
  EXPECT_NE(glue.status().message().find("catalog.database"), std::string::npos);
  auto unity = parse({{"catalog.type", "unity"}, {"catalog.name", "n"}});
  ASSERT_FALSE(unity.ok());
  EXPECT_NE(unity.status().message().find("catalog.schema"), std::string::npos);

  // The default writer.id is stable: pipeline + sink name, never random.
  ConnectorConfig config("delta-lake", {{"table.path", "/tmp/t"}});
  config.set_instance_name("sink_a");
  config.set_pipeline_name("pipe");
  EXPECT_EQ(DeltaSinkOptions::FromConfig(config)->writer_id, "laminar:pipe:sink_a");
}

TEST(StorageOptions, ProvidersValidationAndMasking) {
  EXPECT_EQ(storage::DetectProvider("S3A://b/t"), storage::Provider::kS3);
  EXPECT_EQ(storage::DetectProvider("abfss://c@acct.dfs.core.windows.net/t"), storage::Provider::kAzure);
  EXPECT_EQ(storage::DetectProvider("gs://b/t"), storage::Provider::kGcs);
  EXPECT_EQ(storage::DetectProvider("/data/t"), storage::Provider::kLocal);
  ::unsetenv("AWS_REGION");
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ::unsetenv("AZURE_STORAGE_ACCOUNT_NAME");
  auto make = [](std::map<std::string, std::string> props) {
    ConnectorConfig config("delta-lake", props);
    return storage::StorageOptions::FromConfig(config, "table.path");
  };
  auto no_region = make({{"table.path", "s3://b/t"}});
  ASSERT_FALSE(no_region.ok());
  EXPECT_NE(no_region.status().message().find("aws_region"), std::string::npos);
  auto half = make({{"table.path", "s3://b/t"}, {"storage.aws_region", "eu-west-1"},
                    {"storage.aws_access_key_id", "AKIA"}});
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.status().message().find("aws_secret_access_key"), std::string::npos);
  EXPECT_FALSE(make({{"table.path", "az://c/t"}}).ok());
  EXPECT_TRUE(make({{"table.path", "gs://b/t"}}).ok());
  ::setenv("AWS_REGION", "us-east-1", 1);
  auto from_env = make({{"table.path", "s3://b/t"}, {"storage.aws_access_key_id", "AKIA"},
                        {"storage.aws_secret_access_key", "very-secret"}});
  ASSERT_TRUE(from_env.ok());
  EXPECT_EQ(from_env->options.at("aws_region"), "us-east-1");
  EXPECT_EQ(from_env->DisplayRedacted().find("very-secret"), std::string::npos);
  EXPECT_EQ(from_env->DisplayRedacted().find("AKIA"), std::string::npos);
  ::unsetenv("AWS_REGION");
}

TEST(DeltaSchema, RoundTripAndStorageTypes) {
  auto schema = arrow::schema({arrow::field("i", arrow::int32(), false), arrow::field("u", arrow::uint32()),
                               arrow::field("d", arrow::decimal128(12, 3)), arrow::field("day", arrow::date32()),
                               arrow::field("ts", arrow::timestamp(arrow::TimeUnit::NANO, "UTC")),
                               arrow::field("tags", arrow::list(arrow::utf8())),
                               arrow::field("s", arrow::struct_({arrow::field("a", arrow::int64())}))});
  auto storage = StorageSchema(*schema);
  ASSERT_TRUE(storage.ok()) << storage.status().ToString();
  EXPECT_TRUE((*storage)->field(1)->type()->Equals(arrow::int64()));
  EXPECT_TRUE((*storage)->field(4)->type()->Equals(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")));
  auto delta = ToDeltaSchema(**storage);
  ASSERT_TRUE(delta.ok());
  EXPECT_FALSE(delta->uses_timestamp_ntz);
  auto back = FromDeltaSchemaString(delta->schema_string);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ((*back)->num_fields(), 7);
  EXPECT_FALSE((*back)->field(0)->nullable());
  EXPECT_TRUE((*back)->field(2)->type()->Equals(arrow::decimal128(12, 3)));
  auto time = ToDeltaSchema(*arrow::schema({arrow::field("t", arrow::time64(arrow::TimeUnit::MICRO))}));
  ASSERT_FALSE(time.ok());
  EXPECT_NE(time.status().message().find("'t'"), std::string::npos);
}

TEST_F(DeltaSinkTest, CreatesTableAndCommitsOneVersionPerEpoch) {
  auto sink = Open();
  auto created = Load();
  ASSERT_TRUE(created);
  EXPECT_EQ(created->version(), 0);
  EXPECT_TRUE(fs::exists(dir_ / "_delta_log" / "00000000000000000000.json"));
  for (uint64_t epoch = 1; epoch <= 5; ++epoch) {
    ASSERT_TRUE(sink->BeginEpoch(epoch).ok());
    ASSERT_TRUE(sink->WriteBatch(Orders(static_cast<int64_t>(epoch) * 100, 100)).ok());
    ASSERT_TRUE(sink->PreCommit(epoch).ok());
    EXPECT_EQ(VisibleRows(), static_cast<int64_t>(epoch - 1) * 100) << "visible before commit";
    ASSERT_TRUE(sink->CommitEpoch(epoch).ok());
    EXPECT_EQ(VisibleRows(), static_cast<int64_t>(epoch) * 100);
  }
  auto snapshot = Load();
  EXPECT_EQ(snapshot->version(), 5);
  EXPECT_EQ(snapshot->TxnVersion("laminar:test:orders_delta"), 5);
  // An empty epoch adds no version.
  ASSERT_TRUE(sink->BeginEpoch(6).ok());
  ASSERT_TRUE(sink->PreCommit(6).ok());
  ASSERT_TRUE(sink->CommitEpoch(6).ok());
  EXPECT_EQ(Load()->version(), 5);
  // Committing again is a no-op.
  ASSERT_TRUE(sink->CommitEpoch(5).ok());
  EXPECT_EQ(Load()->version(), 5);
  // Stats: per-file row and null counts add up; bounds are present.
  int64_t rows = 0, null_regions = 0;
  for (const auto& [path, add] : snapshot->files()) {
    boost::json::value stats = boost::json::parse(add.stats);
    SCOPED_TRACE(add.stats);
    rows += stats.at("numRecords").as_int64();
    null_regions += stats.at("nullCount").at("region").as_int64();
    EXPECT_TRUE(stats.at("minValues").at("at").is_string()) << add.stats;
    EXPECT_LE(stats.at("minValues").at("id").as_int64(), stats.at("maxValues").at("id").as_int64());
  }
  EXPECT_EQ(rows, 500);
  EXPECT_EQ(null_regions, 71);  // multiples of 7 in 100..599
}

TEST_F(DeltaSinkTest, ReplayedEpochIsSkippedWritesIncluded) {
  {
    auto sink = Open();
    ASSERT_TRUE(sink->BeginEpoch(1).ok());
    ASSERT_TRUE(sink->WriteBatch(Orders(0, 10)).ok());
    ASSERT_TRUE(sink->PreCommit(1).ok());
    ASSERT_TRUE(sink->CommitEpoch(1).ok());
  }
  auto sink = Open();
  EXPECT_EQ(sink->LastCommittedEpoch().ValueOrDie(), std::optional<uint64_t>(1));
  ASSERT_TRUE(sink->RollbackEpoch(2).ok());
  ASSERT_TRUE(sink->BeginEpoch(1).ok());  // a replay of epoch 1
  ASSERT_TRUE(sink->WriteBatch(Orders(0, 10)).ok());
  ASSERT_TRUE(sink->PreCommit(1).ok());
  ASSERT_TRUE(sink->CommitEpoch(1).ok());
  EXPECT_EQ(Load()->version(), 1);
  EXPECT_EQ(VisibleRows(), 10);
  size_t parquet_files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir_)) parquet_files += entry.path().extension() == ".parquet";
  EXPECT_EQ(parquet_files, 1u) << "a skipped epoch writes no files";
}

TEST_F(DeltaSinkTest, DecidedEpochIsCommittedByTheNextProcessAndOrphansGo) {
  {
    auto sink = Open();
    ASSERT_TRUE(sink->BeginEpoch(1).ok());
    ASSERT_TRUE(sink->WriteBatch(Orders(0, 10)).ok());
    ASSERT_TRUE(sink->PreCommit(1).ok());
    // "crash": epoch 1 decided but not committed; epoch 2 half written
    ASSERT_TRUE(sink->BeginEpoch(2).ok());
    ASSERT_TRUE(sink->WriteBatch(Orders(10, 10)).ok());
  }
  auto sink = Open();
  EXPECT_EQ(VisibleRows(), 0);
  ASSERT_TRUE(sink->CommitEpoch(1).ok());  // recovery rolls the decided epoch forward
  ASSERT_TRUE(sink->RollbackEpoch(2).ok());
  EXPECT_EQ(VisibleRows(), 10);
  size_t parquet_files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir_)) parquet_files += entry.path().extension() == ".parquet";
  EXPECT_EQ(parquet_files, 1u) << "the orphan of epoch 2 is removed";
  EXPECT_FALSE(fs::exists(dir_ / "_laminar" / "" / "epoch-1.json"));
}

TEST_F(DeltaSinkTest, EmptyEpochCommittedTwiceAfterACrashIsFine) {
  {
    auto sink = Open();
    ASSERT_TRUE(sink->BeginEpoch(1).ok());
    ASSERT_TRUE(sink->WriteBatch(Orders(0, 10)).ok());
    ASSERT_TRUE(sink->PreCommit(1).ok());
    ASSERT_TRUE(sink->CommitEpoch(1).ok());
    ASSERT_TRUE(sink->BeginEpoch(2).ok());  // nothing written
    ASSERT_TRUE(sink->PreCommit(2).ok());
    ASSERT_TRUE(sink->CommitEpoch(2).ok());
  }
  // Crash before the runtime recorded the commit: recovery commits epoch 2 again.
  auto sink = Open();
  auto status = sink->CommitEpoch(2);
  EXPECT_TRUE(status.ok()) << status.ToString();
  ASSERT_TRUE(sink->RollbackEpoch(3).ok());
  EXPECT_EQ(Load()->version(), 1);
  EXPECT_EQ(VisibleRows(), 10);
}

TEST_F(DeltaSinkTest, PartitionsRollingAndCheckpoints) {
  auto sink = Open({{"partition.columns", "region"}, {"checkpoint.interval", "2"}, {"target.file.size", "2000"}});
  for (uint64_t epoch = 1; epoch <= 4; ++epoch) {
    ASSERT_TRUE(sink->BeginEpoch(epoch).ok());
    for (int b = 0; b < 5; ++b) {
      ASSERT_TRUE(sink->WriteBatch(Orders(static_cast<int64_t>(epoch) * 1000 + b * 100, 100)).ok());
    }
    ASSERT_TRUE(sink->PreCommit(epoch).ok());
    ASSERT_TRUE(sink->CommitEpoch(epoch).ok());
  }
  ASSERT_TRUE(sink->Close().ok());  // log checkpoints are written in the background
  EXPECT_TRUE(fs::exists(dir_ / "_delta_log" / "00000000000000000004.checkpoint.parquet"));
  EXPECT_TRUE(fs::exists(dir_ / "_delta_log" / "_last_checkpoint"));
  EXPECT_TRUE(fs::is_directory(dir_ / "region=east"));
  EXPECT_TRUE(fs::is_directory(dir_ / "region=__HIVE_DEFAULT_PARTITION__"));
  auto snapshot = Load();  // replays from the checkpoint
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->version(), 4);
  EXPECT_EQ(snapshot->metadata().partition_columns, (std::vector<std::string>{"region"}));
  EXPECT_EQ(snapshot->TxnVersion("laminar:test:orders_delta"), 4);
  EXPECT_GT(snapshot->files().size(), 12u) << "files roll at target.file.size";
  int64_t rows = 0;
  for (const auto& [path, add] : snapshot->files()) {
    rows += boost::json::parse(add.stats).at("numRecords").as_int64();
    const auto& region = add.partition_values.at("region");
    EXPECT_EQ(path.rfind(region ? "region=" + *region : "region=__HIVE_DEFAULT_PARTITION__", 0), 0u) << path;
  }
  EXPECT_EQ(rows, 2000);
}

TEST_F(DeltaSinkTest, SchemaChecksAndEvolution) {
  { Open(); }
  auto wider = OrdersSchema()->AddField(4, arrow::field("note", arrow::utf8())).ValueOrDie();
  auto config = Config();
  config.set_schema(wider);
  DeltaSink strict;
  auto refused = strict.Open(config);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("'note'"), std::string::npos);
  config.Set("schema.evolution", "true");
  DeltaSink evolving;
  ASSERT_TRUE(evolving.Open(config).ok());
  EXPECT_EQ(Load()->version(), 0) << "no schema-only commit";
  auto rows = Orders(0, 3);
  rows = rows->AddColumn(4, wider->field(4), arrow::MakeArrayOfNull(arrow::utf8(), 3).ValueOrDie()).ValueOrDie();
  ASSERT_TRUE(evolving.BeginEpoch(1).ok());
  ASSERT_TRUE(evolving.WriteBatch(rows).ok());
  ASSERT_TRUE(evolving.PreCommit(1).ok());
  ASSERT_TRUE(evolving.CommitEpoch(1).ok());
  EXPECT_EQ(Load()->version(), 1) << "columns and data in one version";
  auto schema = FromDeltaSchemaString(Load()->metadata().schema_string).ValueOrDie();
  EXPECT_EQ(schema->GetFieldIndex("note"), 4);
  auto retyped = arrow::schema({arrow::field("id", arrow::utf8(), false)});
  config.set_schema(retyped);
  DeltaSink wrong;
  auto type_change = wrong.Open(config);
  ASSERT_FALSE(type_change.ok());
  EXPECT_NE(type_change.message().find("'id'"), std::string::npos);
}

TEST_F(DeltaSinkTest, ConcurrentWriterTakesTheNextVersion) {
  auto a = Open({{"writer.id", "a"}});
  auto b = Open({{"writer.id", "b"}});
  ASSERT_TRUE(a->BeginEpoch(1).ok());
  ASSERT_TRUE(b->BeginEpoch(1).ok());
  ASSERT_TRUE(a->WriteBatch(Orders(0, 10)).ok());
  ASSERT_TRUE(b->WriteBatch(Orders(100, 20)).ok());
  ASSERT_TRUE(a->PreCommit(1).ok());
  ASSERT_TRUE(b->PreCommit(1).ok());
  ASSERT_TRUE(a->CommitEpoch(1).ok());
  ASSERT_TRUE(b->CommitEpoch(1).ok());  // version 1 is taken: b retries at 2
  auto snapshot = Load();
  EXPECT_EQ(snapshot->version(), 2);
  EXPECT_EQ(snapshot->TxnVersion("a"), 1);
  EXPECT_EQ(snapshot->TxnVersion("b"), 1);
  EXPECT_EQ(VisibleRows(), 30);
}

// Application watermarks (a Kafka source's offsets) go into the epoch's own log entry;
// one expecting the table at most at a version is refused when another writer is further:
// at pre-commit (NeedsAbort), or at commit (kEpochLost, files dropped when it is staged again).
TEST_F(DeltaSinkTest, WatermarksCommitWithTheRowsAndAreComparedAndSet) {
  using Mark = DeltaSink::AppWatermark;
  auto a = Open({{"writer.id", "a"}});
  auto b = Open({{"writer.id", "b"}});
  std::vector<Mark> a_marks{{"offsets:p0", 100, 0}};
  std::vector<Mark> b_marks{{"offsets:p0", 150, 0}};
  a->CommitWatermarksOf([&] { return a_marks; });
  b->CommitWatermarksOf([&] { return b_marks; });
  ASSERT_TRUE(a->BeginEpoch(1).ok());
  ASSERT_TRUE(a->WriteBatch(Orders(0, 10)).ok());
  ASSERT_TRUE(a->PreCommit(1).ok());
  ASSERT_TRUE(a->CommitEpoch(1).ok());
  auto snapshot = Load();
  EXPECT_EQ(snapshot->version(), 1);
  EXPECT_EQ(snapshot->TxnVersion("offsets:p0"), 100);
  EXPECT_EQ(b->ReadTxnVersions({"offsets:p0", "offsets:p9"}).ValueOrDie(),
            (std::map<std::string, int64_t>{{"offsets:p0", 100}}));
  // b read p0 from 0 too: the table is at 100 already.
  ASSERT_TRUE(b->BeginEpoch(1).ok());
  ASSERT_TRUE(b->WriteBatch(Orders(100, 10)).ok());
  auto refused = b->PreCommit(1);
  EXPECT_EQ(KindOf(refused), ErrorKind::kNeedsAbort) << refused.ToString();
  ASSERT_TRUE(b->RollbackEpoch(1).ok());
  // Read from 100 on: fine. Another commit sneaking in between pre-commit and commit makes
  // the commit answer kEpochLost.
  b_marks = {{"offsets:p0", 150, 100}};
  ASSERT_TRUE(b->BeginEpoch(1).ok());
  ASSERT_TRUE(b->WriteBatch(Orders(100, 10)).ok());
  ASSERT_TRUE(b->PreCommit(1).ok());
  a_marks = {{"offsets:p0", 120, 100}};
  ASSERT_TRUE(a->BeginEpoch(2).ok());
  ASSERT_TRUE(a->WriteBatch(Orders(200, 5)).ok());
  ASSERT_TRUE(a->PreCommit(2).ok());
  ASSERT_TRUE(a->CommitEpoch(2).ok());
  auto lost = b->CommitEpoch(1);
  EXPECT_EQ(KindOf(lost), ErrorKind::kEpochLost) << lost.ToString();
  EXPECT_EQ(Load()->TxnVersion("offsets:p0"), 120);
  EXPECT_EQ(VisibleRows(), 15);
  // The replay reads from 120: committed, the refused attempt's files gone.
  b_marks = {{"offsets:p0", 150, 120}};
  ASSERT_TRUE(b->BeginEpoch(1).ok());
  ASSERT_TRUE(b->WriteBatch(Orders(120, 30)).ok());
  ASSERT_TRUE(b->PreCommit(1).ok());
  ASSERT_TRUE(b->CommitEpoch(1).ok());
  EXPECT_EQ(Load()->TxnVersion("offsets:p0"), 150);
  EXPECT_EQ(VisibleRows(), 45);
  size_t parquet_files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir_)) parquet_files += entry.path().extension() == ".parquet";
  EXPECT_EQ(parquet_files, 3u);
  // An epoch that read messages but made no row still moves the offsets.
  b_marks = {{"offsets:p0", 160, 150}};
  ASSERT_TRUE(b->BeginEpoch(2).ok());
  ASSERT_TRUE(b->PreCommit(2).ok());
  ASSERT_TRUE(b->CommitEpoch(2).ok());
  EXPECT_EQ(Load()->TxnVersion("offsets:p0"), 160);
  EXPECT_EQ(Load()->TxnVersion("b"), 2);
}

// Two processes under one writer.id would skip each other's epochs: the one that sees the
// other's commit stops with an error naming writer.id.
TEST_F(DeltaSinkTest, AnotherProcessUnderTheSameWriterIdIsAFatalError) {
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(a->BeginEpoch(1).ok());
  ASSERT_TRUE(b->BeginEpoch(1).ok());
  ASSERT_TRUE(a->WriteBatch(Orders(0, 10)).ok());
  ASSERT_TRUE(b->WriteBatch(Orders(100, 10)).ok());
  ASSERT_TRUE(a->PreCommit(1).ok());
  ASSERT_TRUE(b->PreCommit(1).ok());
  ASSERT_TRUE(a->CommitEpoch(1).ok());
  auto status = b->CommitEpoch(1);
  EXPECT_EQ(KindOf(status), ErrorKind::kFatal) << status.ToString();
  EXPECT_NE(status.message().find("writer.id"), std::string::npos) << status.ToString();
  EXPECT_EQ(VisibleRows(), 10);
}

TEST_F(DeltaSinkTest, OverwriteReplacesOnlyTouchedPartitions) {
  auto sink = Open({{"partition.columns", "region"}, {"write.mode", "overwrite"}});
  ASSERT_TRUE(sink->BeginEpoch(1).ok());
  ASSERT_TRUE(sink->WriteBatch(Orders(1, 6)).ok());  // ids 1..6: east, west
  ASSERT_TRUE(sink->PreCommit(1).ok());
  ASSERT_TRUE(sink->CommitEpoch(1).ok());
  ASSERT_TRUE(sink->BeginEpoch(2).ok());
  ASSERT_TRUE(sink->WriteBatch(Orders(11, 1)).ok());  // id 11: east only
  ASSERT_TRUE(sink->PreCommit(2).ok());
  ASSERT_TRUE(sink->CommitEpoch(2).ok());
  int64_t east = 0, west = 0;
  auto snapshot = Load();
  for (const auto& [path, add] : snapshot->files()) {
    const int64_t n = boost::json::parse(add.stats).at("numRecords").as_int64();
    (*add.partition_values.at("region") == "east" ? east : west) += n;
  }
  EXPECT_EQ(east, 1);
  EXPECT_EQ(west, 3);
}

std::shared_ptr<arrow::RecordBatch> Changes(const std::vector<std::tuple<int64_t, std::string, double, int8_t>>& rows) {
  arrow::Int64Builder ids;
  arrow::StringBuilder regions;
  arrow::DoubleBuilder amounts;
  arrow::Int8Builder ops;
  for (const auto& [id, region, amount, op] : rows) {
    EXPECT_TRUE(ids.Append(id).ok());
    EXPECT_TRUE(regions.Append(region).ok());
    EXPECT_TRUE(amounts.Append(amount).ok());
    EXPECT_TRUE(ops.Append(op).ok());
  }
  auto schema = arrow::schema({arrow::field("id", arrow::int64(), false), arrow::field("region", arrow::utf8()),
                               arrow::field("amount", arrow::float64()), arrow::field("_op", arrow::int8(), false)});
  return arrow::RecordBatch::Make(schema, static_cast<int64_t>(rows.size()),
                                  {ids.Finish().ValueOrDie(), regions.Finish().ValueOrDie(),
                                   amounts.Finish().ValueOrDie(), ops.Finish().ValueOrDie()});
}

TEST_F(DeltaSinkTest, UpsertFoldsTheEpochAndRewritesInOneCommit) {
  for (const std::string partitions : {"", "region"}) {
    SCOPED_TRACE("partition.columns=" + partitions);
    fs::remove_all(dir_);
    auto config = Config({{"write.mode", "upsert"}, {"merge.key.columns", "id"}, {"partition.columns", partitions}});
    config.set_schema(Changes({})->schema());
    DeltaSink sink;
    ASSERT_TRUE(sink.Open(config).ok());
    Commit(sink, 1, Changes({{1, "east", 1, 0}, {2, "west", 2, 0}, {3, "east", 3, 0}, {4, "west", 4, 0}, {5, "east", 5, 0}}));
    const int64_t before = Load()->version();
    // +U 2, -D 3, +I 6, +I 7 then -D 7, two updates of 4 (the last wins), 5 moves region.
    Commit(sink, 2, Changes({{2, "west", 2, 1}, {2, "west", 20, 2}, {3, "east", 3, 3}, {6, "east", 6, 0}, {7, "west", 7, 0},
                      {7, "west", 7, 3}, {4, "west", 40, 2}, {4, "west", 400, 2}, {5, "west", 50, 2}}));
    auto snapshot = Load();
    EXPECT_EQ(snapshot->version(), before + 1) << "one commit per epoch";
    // Read back: id -> amount, region from the file or the partition value.
    std::map<int64_t, std::pair<std::string, double>> rows;
    for (const auto& [path, add] : snapshot->files()) {
      auto file = arrow::io::ReadableFile::Open((dir_ / DecodePath(path)).string()).ValueOrDie();
      auto table = parquet::arrow::OpenFile(file, arrow::default_memory_pool()).ValueOrDie()->ReadTable().ValueOrDie();
      table = table->CombineChunks().ValueOrDie();
      auto ids = std::static_pointer_cast<arrow::Int64Array>(table->GetColumnByName("id")->chunk(0));
      auto amounts = std::static_pointer_cast<arrow::DoubleArray>(table->GetColumnByName("amount")->chunk(0));
      auto region_column = table->GetColumnByName("region");
      for (int64_t i = 0; i < table->num_rows(); ++i) {
        std::string region = region_column ? std::string(std::static_pointer_cast<arrow::StringArray>(region_column->chunk(0))->GetView(i))
                                           : *add.partition_values.at("region");
        EXPECT_TRUE(rows.emplace(ids->Value(i), std::make_pair(region, amounts->Value(i))).second)
            << "duplicate key " << ids->Value(i);
      }
    }
    std::map<int64_t, std::pair<std::string, double>> expected{
        {1, {"east", 1}}, {2, {"west", 20}}, {4, {"west", 400}}, {5, {"west", 50}}, {6, {"east", 6}}};
    EXPECT_EQ(rows, expected);
    ASSERT_TRUE(sink.Close().ok());
  }
}

// Upsert reads only the live files whose partition values and statistics allow one of the
// epoch's changed keys: here 20 files of disjoint key ranges, one key changed, one read.
TEST_F(DeltaSinkTest, UpsertReadsOnlyFilesThatMayHoldAChangedKey) {
  for (const std::string key : {"id", "region"}) {
    SCOPED_TRACE("key " + key);
    fs::remove_all(dir_);
    auto config = Config({{"write.mode", "upsert"}, {"merge.key.columns", key}});
    config.set_schema(Changes({})->schema());
    DeltaSink sink;
    ASSERT_TRUE(sink.Open(config).ok());
    for (int e = 1; e <= 20; ++e) {
      std::vector<std::tuple<int64_t, std::string, double, int8_t>> rows;
      for (int i = 0; i < 5; ++i) {
        const int64_t id = e * 100 + i;
        rows.emplace_back(id, "r" + std::to_string(id), 1, 0);
      }
      Commit(sink, static_cast<uint64_t>(e), Changes(rows));
    }
    auto pruned = [&] {
      for (const auto& [name, value] : sink.Metrics().custom) {
        if (name == "delta.upsert_files_pruned") return value;
      }
      return 0.0;
    };
    const double before = pruned();
    Commit(sink, 21, Changes({{702, "r702", 99, 2}}));
    EXPECT_EQ(pruned() - before, 19) << "19 of 20 files cannot hold the key";
    int64_t rows = 0;
    for (const auto& b : ReadVisible()) {
      auto ids = std::static_pointer_cast<arrow::Int64Array>(b->GetColumnByName("id"));
      auto amounts = std::static_pointer_cast<arrow::DoubleArray>(b->GetColumnByName("amount"));
      for (int64_t i = 0; i < b->num_rows(); ++i, ++rows) {
        EXPECT_EQ(amounts->Value(i), ids->Value(i) == 702 ? 99 : 1) << ids->Value(i);
      }
    }
    EXPECT_EQ(rows, 100);
    ASSERT_TRUE(sink.Close().ok());
  }
}

TEST_F(DeltaSinkTest, UpsertNeedsTheChangelogColumn) {
  auto config = Config({{"write.mode", "upsert"}, {"merge.key.columns", "id"}});
  DeltaSink sink;
  auto status = sink.Open(config);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("_op"), std::string::npos);
}

TEST_F(DeltaSinkTest, UpsertChangelogColumnMustBeATinyintWithoutNulls) {
  auto schema = arrow::schema({arrow::field("id", arrow::int64(), false), arrow::field("region", arrow::utf8()),
                               arrow::field("amount", arrow::float64()), arrow::field("_op", arrow::int32())});
  auto config = Config({{"write.mode", "upsert"}, {"merge.key.columns", "id"}});
  config.set_schema(schema);
  DeltaSink wrong_type;
  auto refused = wrong_type.Open(config);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("'_op' has type int32"), std::string::npos) << refused.ToString();

  fs::remove_all(dir_);
  auto nullable = arrow::schema({arrow::field("id", arrow::int64(), false), arrow::field("region", arrow::utf8()),
                                 arrow::field("amount", arrow::float64()), arrow::field("_op", arrow::int8())});
  config.set_schema(nullable);
  DeltaSink sink;
  ASSERT_TRUE(sink.Open(config).ok());
  arrow::Int8Builder ops;
  ASSERT_TRUE(ops.Append(0).ok());
  ASSERT_TRUE(ops.AppendNull().ok());
  auto rows = Changes({{1, "east", 1, 0}, {2, "east", 2, 0}});
  auto batch = arrow::RecordBatch::Make(nullable, 2, {rows->column(0), rows->column(1), rows->column(2), ops.Finish().ValueOrDie()});
  ASSERT_TRUE(sink.BeginEpoch(1).ok());
  ASSERT_TRUE(sink.WriteBatch(batch).ok());
  auto status = sink.PreCommit(1);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("row 1"), std::string::npos) << status.ToString();
  EXPECT_NE(status.message().find("null '_op'"), std::string::npos) << status.ToString();
}

// Writes a table's first version by hand with the given protocol, properties and column
// metadata, as another engine would have created it.
void CreateForeignTable(const fs::path& dir, const ProtocolAction& protocol,
                        std::map<std::string, std::string> configuration, const std::string& id_metadata = "{}") {
  const storage::TableLocation location = LocalTable(dir);
  ASSERT_TRUE(location.fs->CreateDir(location.Join("_delta_log"), true).ok());
  DeltaLog log(location);
  CommitActions create;
  create.protocol = protocol;
  MetadataAction metadata;
  metadata.id = "00000000-0000-0000-0000-000000000001";
  metadata.schema_string =
      R"({"type":"struct","fields":[{"name":"id","type":"long","nullable":false,"metadata":)" + id_metadata +
      R"(},{"name":"region","type":"string","nullable":true,"metadata":{}},)"
      R"({"name":"amount","type":"double","nullable":true,"metadata":{}},)"
      R"({"name":"at","type":"timestamp","nullable":true,"metadata":{}}]})";
  metadata.configuration = std::move(configuration);
  create.metadata = metadata;
  create.commit_info_json = R"({"commitInfo":{"operation":"CREATE TABLE"}})";
  auto created = log.PutCommitIfAbsent(0, SerializeCommit(create));
  ASSERT_TRUE(created.ok() && *created);
}

// A table asking writers for more than this sink does is refused, naming the feature or
// property; what the sink honours (append-only tables it only appends to, a change feed
// next to blind appends, timestampNtz) is written.
TEST_F(DeltaSinkTest, RefusesTablesWhoseWriterProtocolItDoesNotHonour) {
  auto legacy = [](int writer) {
    ProtocolAction p;
    p.min_reader_version = 1;
    p.min_writer_version = writer;
    return p;
  };
  auto features = [](std::vector<std::string> names) {
    ProtocolAction p;
    p.min_reader_version = 1;
    p.min_writer_version = 7;
    p.writer_features = std::move(names);
    return p;
  };
  struct Case {
    std::string name;
    ProtocolAction protocol;
    std::map<std::string, std::string> configuration;
    std::string id_metadata;
    std::map<std::string, std::string> sink;
    std::string refusal;  // "" = writable
  };
  const std::vector<Case> cases = {
      {"append-only, append", legacy(2), {{"delta.appendOnly", "true"}}, "{}", {}, ""},
      {"append-only, overwrite", legacy(2), {{"delta.appendOnly", "true"}}, "{}", {{"write.mode", "overwrite"}},
       "delta.appendOnly"},
      {"invariant", legacy(2), {}, R"({"delta.invariants":"{\"expression\":{\"expression\":\"id > 0\"}}"})", {},
       "invariant on column 'id'"},
      {"check constraint", legacy(3), {{"delta.constraints.positive", "amount > 0"}}, "{}", {},
       "CHECK constraint 'positive'"},
      {"change feed, append", legacy(4), {{"delta.enableChangeDataFeed", "true"}}, "{}", {}, ""},
      {"change feed, overwrite", legacy(4), {{"delta.enableChangeDataFeed", "true"}}, "{}",
       {{"write.mode", "overwrite"}}, "delta.enableChangeDataFeed"},
      {"generated column", legacy(4), {}, R"({"delta.generationExpression":"1"})", {}, "generated column 'id'"},
      {"identity column", legacy(6), {}, R"({"delta.identity.start":1,"delta.identity.step":1})", {},
       "identity column 'id'"},
      {"writer version 8", legacy(8), {}, "{}", {}, "writer version 8"},
      {"row tracking", features({"rowTracking"}), {}, "{}", {}, "writer feature 'rowTracking'"},
      {"domain metadata", features({"domainMetadata"}), {}, "{}", {}, "writer feature 'domainMetadata'"},
      {"timestampNtz + vacuumProtocolCheck", features({"timestampNtz", "vacuumProtocolCheck", "appendOnly"}), {}, "{}",
       {}, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    fs::remove_all(dir_);
    CreateForeignTable(dir_, c.protocol, c.configuration, c.id_metadata);
    DeltaSink sink;
    auto status = sink.Open(Config(c.sink));
    if (c.refusal.empty()) {
      ASSERT_TRUE(status.ok()) << status.ToString();
      Commit(sink, 1, Orders(0, 5));
      EXPECT_EQ(VisibleRows(), 5);
    } else {
      ASSERT_FALSE(status.ok());
      EXPECT_NE(status.message().find(c.refusal), std::string::npos) << status.ToString();
      EXPECT_EQ(Load()->version(), 0) << "nothing written";
    }
  }
}

// Another engine turns on something this sink cannot honour between two of its commits:
// the commit that meets it fails with the feature named instead of writing.
TEST_F(DeltaSinkTest, AProtocolChangeByAnotherWriterStopsTheCommit) {
  auto sink = Open({{"writer.id", "a"}});
  ASSERT_TRUE(sink->BeginEpoch(1).ok());
  ASSERT_TRUE(sink->WriteBatch(Orders(0, 5)).ok());
  ASSERT_TRUE(sink->PreCommit(1).ok());
  // Version 1 by another writer: a CHECK constraint.
  const storage::TableLocation location = LocalTable(dir_);
  DeltaLog log(location);
  CommitActions change;
  ProtocolAction protocol;
  protocol.min_writer_version = 3;
  change.protocol = protocol;
  change.metadata = Load()->metadata();
  change.metadata->configuration["delta.constraints.positive"] = "amount > 0";
  change.commit_info_json = R"({"commitInfo":{"operation":"ADD CONSTRAINT"}})";
  ASSERT_TRUE(*log.PutCommitIfAbsent(1, SerializeCommit(change)));
  auto status = sink->CommitEpoch(1);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(KindOf(status), ErrorKind::kFatal) << status.ToString();
  EXPECT_NE(status.message().find("CHECK constraint 'positive'"), std::string::npos) << status.ToString();
  EXPECT_EQ(Load()->version(), 1);
  EXPECT_EQ(VisibleRows(), 0);
}

// Upsert computes its rewrites from the table's files at pre-commit. Rows another writer
// appends before the commit (one of them a changed key), or a compaction that replaces a
// file the epoch rewrites, would leave a key twice: the commit answers kEpochLost, and the
// replayed epoch merges against the new files. Without the check both cases end with a
// duplicated key.
TEST_F(DeltaSinkTest, UpsertEpochIsMergedAgainWhenTheTableChangedUnderIt) {
  for (const std::string other : {"append", "compaction"}) {
    SCOPED_TRACE(other);
    fs::remove_all(dir_);
    auto config = Config({{"write.mode", "upsert"}, {"merge.key.columns", "id"}, {"writer.id", "upserter"}});
    config.set_schema(Changes({})->schema());
    DeltaSink sink;
    ASSERT_TRUE(sink.Open(config).ok());
    // Ten small files holding keys 1..10.
    for (uint64_t e = 1; e <= 10; ++e) {
      Stage(sink, e, Changes({{static_cast<int64_t>(e), "east", 1, 0}}));
      ASSERT_TRUE(sink.CommitEpoch(e).ok());
    }
    const auto changes = Changes({{3, "east", 30, 2}, {11, "east", 11, 0}});
    Stage(sink, 11, changes);
    if (other == "append") {
      // An appender (another sink) adds key 11 before the upsert commits.
      auto row = Changes({{11, "east", 11, 0}});
      auto columns = arrow::schema({row->schema()->field(0), row->schema()->field(1), row->schema()->field(2)});
      auto appender_config = Config({{"writer.id", "appender"}});
      appender_config.set_schema(columns);
      DeltaSink appender;
      ASSERT_TRUE(appender.Open(appender_config).ok());
      ASSERT_TRUE(appender.BeginEpoch(1).ok());
      ASSERT_TRUE(appender.WriteBatch(arrow::RecordBatch::Make(columns, 1, {row->column(0), row->column(1), row->column(2)})).ok());
      ASSERT_TRUE(appender.PreCommit(1).ok());
      ASSERT_TRUE(appender.CommitEpoch(1).ok());
    } else {
      const storage::TableLocation location = LocalTable(dir_);
      DeltaLog log(location);
      CompactionOptions compaction;
      compaction.min_files = 2;
      auto compacted = Compact(log, compaction);
      ASSERT_TRUE(compacted.ok()) << compacted.status().ToString();
      ASSERT_GT(compacted->files_removed, 0);
    }
    auto lost = sink.CommitEpoch(11);
    ASSERT_FALSE(lost.ok());
    EXPECT_EQ(KindOf(lost), ErrorKind::kEpochLost) << lost.ToString();
    // The runtime replays the epoch's input.
    Stage(sink, 11, changes);
    ASSERT_TRUE(sink.CommitEpoch(11).ok());
    std::map<int64_t, int> count;
    std::map<int64_t, double> amount;
    for (const auto& b : ReadVisible()) {
      auto ids = std::static_pointer_cast<arrow::Int64Array>(b->GetColumnByName("id"));
      auto amounts = std::static_pointer_cast<arrow::DoubleArray>(b->GetColumnByName("amount"));
      for (int64_t i = 0; i < b->num_rows(); ++i) {
        ++count[ids->Value(i)];
        amount[ids->Value(i)] = amounts->Value(i);
      }
    }
    EXPECT_EQ(count.size(), 11u);
    for (const auto& [id, n] : count) EXPECT_EQ(n, 1) << "key " << id;
    EXPECT_EQ(amount[3], 30);
    EXPECT_EQ(amount[11], 11);
    ASSERT_TRUE(sink.Close().ok());
  }
}

// at-least-once: no epochs to wait for; the sink commits once the oldest row is
// max.buffer.duration.ms old, and Close commits the rest.
TEST_F(DeltaSinkTest, AtLeastOnceCommitsByAgeAndOnClose) {
  auto sink = Open({{"delivery.guarantee", "at-least-once"}, {"max.buffer.duration.ms", "1"}});
  ASSERT_TRUE(sink->WriteBatch(Orders(0, 10)).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(sink->WriteBatch(Orders(10, 10)).ok());  // the first rows are old enough: commit
  EXPECT_EQ(Load()->version(), 1);
  EXPECT_EQ(VisibleRows(), 20);
  auto metrics = sink->Metrics();
  double flushes = 0;
  for (const auto& [name, value] : metrics.custom) {
    if (name == "delta.flush_count") flushes = value;
  }
  EXPECT_EQ(flushes, 1);
  auto lazy = Open({{"delivery.guarantee", "at-least-once"}, {"writer.id", "lazy"}});
  ASSERT_TRUE(lazy->WriteBatch(Orders(100, 7)).ok());
  EXPECT_EQ(VisibleRows(), 20) << "60 s have not passed";
  ASSERT_TRUE(lazy->Close().ok());
  EXPECT_EQ(VisibleRows(), 27);
}

// target.file.size is the size on disk: files roll near it however well the data compresses.
TEST_F(DeltaSinkTest, FilesRollAtTheTargetSizeOnDisk) {
  constexpr int64_t kTarget = 200 * 1024;
  auto sink = Open({{"target.file.size", std::to_string(kTarget)}, {"max.buffer.records", "1000"}});
  ASSERT_TRUE(sink->BeginEpoch(1).ok());
  for (int b = 0; b < 200; ++b) ASSERT_TRUE(sink->WriteBatch(Orders(b * 1000, 1000)).ok());
  ASSERT_TRUE(sink->PreCommit(1).ok());
  ASSERT_TRUE(sink->CommitEpoch(1).ok());
  std::vector<int64_t> sizes;
  auto snapshot = Load();
  for (const auto& [path, add] : snapshot->files()) sizes.push_back(fs::file_size(dir_ / DecodePath(path)));
  std::sort(sizes.begin(), sizes.end());
  ASSERT_GE(sizes.size(), 3u);
  int64_t total = 0;
  for (auto size : sizes) total += size;
  // All but the last file (the smallest) end within a row group of the target.
  for (size_t i = 1; i < sizes.size(); ++i) {
    EXPECT_GE(sizes[i], kTarget * 8 / 10) << "file " << i << " of " << sizes.size();
    EXPECT_LE(sizes[i], kTarget * 13 / 10) << "file " << i << " of " << sizes.size();
  }
  EXPECT_EQ(VisibleRows(), 200000);
  EXPECT_GT(total / static_cast<int64_t>(sizes.size()), kTarget / 2);
}

// at-least-once also commits by count: 99 buffered rows wait, the 100th commits.
TEST_F(DeltaSinkTest, AtLeastOnceCommitsEveryMaxBufferRecords) {
  auto sink = Open({{"delivery.guarantee", "at-least-once"}, {"max.buffer.records", "100"}});
  ASSERT_TRUE(sink->WriteBatch(Orders(0, 99)).ok());
  EXPECT_EQ(Load()->version(), 0) << "99 rows: no commit yet";
  ASSERT_TRUE(sink->WriteBatch(Orders(99, 1)).ok());
  EXPECT_EQ(Load()->version(), 1);
  EXPECT_EQ(VisibleRows(), 100);
  ASSERT_TRUE(sink->WriteBatch(Orders(100, 150)).ok());
  EXPECT_EQ(Load()->version(), 2);
  EXPECT_EQ(VisibleRows(), 250);
}

// at-least-once: a flush whose commit fails (here: the log directory is unusable) keeps its
// files and commits them with the next flush; nothing written is forgotten.
TEST_F(DeltaSinkTest, AtLeastOnceFlushThatFailsIsCommittedByTheNext) {
  auto sink = Open({{"delivery.guarantee", "at-least-once"}, {"max.buffer.records", "100"}});
  const auto log = dir_ / "_delta_log";
  const auto aside = dir_ / "_delta_log.aside";
  fs::rename(log, aside);
  { std::ofstream blocker(log); }  // a file where the directory should be: the commit fails
  auto failed = sink->WriteBatch(Orders(0, 100));
  ASSERT_FALSE(failed.ok());
  fs::remove(log);
  fs::rename(aside, log);
  ASSERT_TRUE(sink->WriteBatch(Orders(100, 100)).ok());
  auto snapshot = Load();
  EXPECT_EQ(snapshot->version(), 2) << "the failed flush's commit, then the new one";
  std::vector<int64_t> ids;
  for (const auto& b : ReadVisible()) {
    auto column = std::static_pointer_cast<arrow::Int64Array>(b->GetColumnByName("id"));
    for (int64_t i = 0; i < column->length(); ++i) ids.push_back(column->Value(i));
  }
  std::sort(ids.begin(), ids.end());
  std::vector<int64_t> expected(200);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(ids, expected);
}

// A commit that landed although its answer was lost (simulated: the step right after the
// log write throws) is recognised as this sink's own when the runtime retries it, by the
// token in its commitInfo, instead of being taken for another process under the same
// writer.id (a fatal error). A second sink object under that writer.id is still refused.
TEST_F(DeltaSinkTest, ARetriedCommitWhoseAnswerWasLostIsRecognisedAsItsOwn) {
  auto sink = Open();
  ASSERT_TRUE(sink->BeginEpoch(1).ok());
  ASSERT_TRUE(sink->WriteBatch(Orders(0, 10)).ok());
  ASSERT_TRUE(sink->PreCommit(1).ok());
  runtime::SetFaultHandler([](const std::string& name) {
    if (name == "delta.commit.after_log_write") throw std::runtime_error("answer lost");
  });
  EXPECT_THROW((void)sink->CommitEpoch(1), std::runtime_error);
  runtime::SetFaultHandler({});
  auto retried = sink->CommitEpoch(1);
  ASSERT_TRUE(retried.ok()) << retried.ToString();
  EXPECT_EQ(Load()->version(), 1);
  EXPECT_EQ(VisibleRows(), 10);
  ASSERT_TRUE(sink->BeginEpoch(2).ok());
  ASSERT_TRUE(sink->WriteBatch(Orders(10, 5)).ok());
  ASSERT_TRUE(sink->PreCommit(2).ok());
  ASSERT_TRUE(sink->CommitEpoch(2).ok());
  EXPECT_EQ(VisibleRows(), 15);
}

TEST_F(DeltaSinkTest, VacuumRetentionBelowTheTablesIsRefusedAtOpen) {
  DeltaSink sink;
  auto status = sink.Open(Config({{"compaction.enabled", "true"}, {"vacuum.retention.hours", "24"}}));
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("'vacuum.retention.hours' = 24"), std::string::npos) << status.ToString();
  EXPECT_NE(status.message().find("168"), std::string::npos) << status.ToString();
}

// Each compression codec is written and read back; row groups hold max.buffer.records rows.
TEST_F(DeltaSinkTest, CompressionAndRowGroupSize) {
  for (const std::string codec : {"zstd", "snappy", "none"}) {
    SCOPED_TRACE(codec);
    fs::remove_all(dir_);
    auto sink = Open({{"compression", codec}, {"max.buffer.records", "100"}});
    Commit(*sink, 1, Orders(0, 250));
    auto snapshot = Load();
    ASSERT_EQ(snapshot->files().size(), 1u);
    const auto& path = snapshot->files().begin()->first;
    auto file = arrow::io::ReadableFile::Open((dir_ / DecodePath(path)).string()).ValueOrDie();
    auto reader = parquet::arrow::OpenFile(file, arrow::default_memory_pool()).ValueOrDie();
    auto metadata = reader->parquet_reader()->metadata();
    ASSERT_EQ(metadata->num_row_groups(), 3);
    EXPECT_EQ(metadata->RowGroup(0)->num_rows(), 100);
    const auto expected = codec == "zstd" ? arrow::Compression::ZSTD
                          : codec == "snappy" ? arrow::Compression::SNAPPY
                                              : arrow::Compression::UNCOMPRESSED;
    EXPECT_EQ(metadata->RowGroup(0)->ColumnChunk(0)->compression(), expected);
    EXPECT_EQ(VisibleRows(), 250);
  }
}

TEST_F(DeltaSinkTest, Conformance) {
  testing::SinkUnderTest under;
  under.make = [] { return std::make_unique<DeltaSink>(); };
  under.config = Config();
  under.read_visible = [this] { return ReadVisible(); };
  under.batches = {Orders(0, 5), Orders(5, 5), Orders(10, 5)};
  // Storage form: timestamps in microseconds.
  for (auto& b : under.batches) {
    auto storage = StorageSchema(*b->schema()).ValueOrDie();
    b = ToStorage(b, storage).ValueOrDie();
  }
  under.config.set_schema(under.batches[0]->schema());
  testing::CheckSinkConformance(under);
}


class DeltaSourceTest : public DeltaSinkTest {
 protected:
  std::unique_ptr<DeltaSource> OpenSource(std::map<std::string, std::string> props = {}) {
    props["table.path"] = dir_.string();
    ConnectorConfig config("delta-lake", props);
    config.set_instance_name("orders_in");
    EXPECT_TRUE(config.Validate(DeltaSourceKeySpecs()).ok());
    auto source = std::make_unique<DeltaSource>();
    auto status = source->Open(config);
    EXPECT_TRUE(status.ok()) << status.ToString();
    return source;
  }

  // Polls until `rows` rows arrived (or a few empty polls); returns the ids.
  std::vector<int64_t> Poll(DeltaSource& source, int64_t rows, int64_t max_records = 1000) {
    std::vector<int64_t> ids;
    int empty = 0;
    while (static_cast<int64_t>(ids.size()) < rows && empty < 3) {
      auto batch = source.PollBatch(max_records, std::chrono::milliseconds(50));
      EXPECT_TRUE(batch.ok()) << batch.status().ToString();
      if (!batch.ok()) break;
      if (!*batch) {
        ++empty;
        continue;
      }
      auto column = std::static_pointer_cast<arrow::Int64Array>((*batch)->records->GetColumnByName("id"));
      for (int64_t i = 0; i < column->length(); ++i) ids.push_back(column->Value(i));
    }
    return ids;
  }

  static std::vector<int64_t> Range(int64_t from, int64_t n) {
    std::vector<int64_t> out;
    for (int64_t i = from; i < from + n; ++i) out.push_back(i);
    return out;
  }
};

TEST_F(DeltaSourceTest, SnapshotThenOnlyTheNewFilesOfEachVersion) {
  auto sink = Open({{"partition.columns", "region"}});
  Commit(*sink, 1, Orders(0, 50));
  Commit(*sink, 2, Orders(50, 50));
  auto source = OpenSource({{"poll.interval.ms", "10"}});
  EXPECT_EQ(source->schema()->GetFieldIndex("region"), 1) << "partition column restored in table order";
  auto first = Poll(*source, 100);
  std::sort(first.begin(), first.end());
  EXPECT_EQ(first, Range(0, 100));
  EXPECT_TRUE(Poll(*source, 1).empty());
  Commit(*sink, 3, Orders(100, 30));
  auto next = Poll(*source, 30);
  std::sort(next.begin(), next.end());
  EXPECT_EQ(next, Range(100, 30)) << "only version 3's rows, no re-read";
}

TEST_F(DeltaSourceTest, RestoreResumesMidFileExactly) {
  auto sink = Open();
  Commit(*sink, 1, Orders(0, 1000));
  Commit(*sink, 2, Orders(1000, 1000));
  auto source = OpenSource({{"starting.version", "1"}, {"poll.interval.ms", "10"}});
  auto head = Poll(*source, 300, 100);
  ASSERT_EQ(head.size(), 300u);
  auto checkpoint = source->Checkpoint();
  auto restored = OpenSource({{"starting.version", "1"}, {"poll.interval.ms", "10"}});
  ASSERT_TRUE(restored->Restore(checkpoint).ok());
  auto rest = Poll(*restored, 1700, 100);
  std::vector<int64_t> all = head;
  all.insert(all.end(), rest.begin(), rest.end());
  EXPECT_EQ(all, Range(0, 2000)) << "no loss, no duplicate across the restore";
  auto bad = SourceCheckpoint();
  bad.SetOffset("phase", "changes");
  bad.SetOffset("version", "x");
  EXPECT_FALSE(restored->Restore(bad).ok());
}

TEST_F(DeltaSourceTest, RemovesAreDeletesInChangelogModeAndErrorsInAppendMode) {
  auto sink = Open({{"partition.columns", "region"}, {"write.mode", "overwrite"}});
  Commit(*sink, 1, Orders(1, 6));
  auto changelog = OpenSource({{"startup.mode", "changes"}, {"read.mode", "changelog"}, {"poll.interval.ms", "10"}});
  auto append = OpenSource({{"startup.mode", "changes"}, {"poll.interval.ms", "10"}});
  Commit(*sink, 2, Orders(11, 1));  // overwrites region=east (ids 1, 3, 5)
  int64_t deletes = 0, inserts = 0;
  for (int i = 0; i < 10 && deletes + inserts < 4; ++i) {
    auto batch = changelog->PollBatch(100, std::chrono::milliseconds(50));
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    if (!*batch) continue;
    auto ops = std::static_pointer_cast<arrow::Int8Array>((*batch)->records->GetColumnByName("_op"));
    for (int64_t r = 0; r < ops->length(); ++r) (ops->Value(r) == 3 ? deletes : inserts)++;
  }
  EXPECT_EQ(deletes, 3);
  EXPECT_EQ(inserts, 1);
  arrow::Status failure;
  for (int i = 0; i < 10 && failure.ok(); ++i) failure = append->PollBatch(100, std::chrono::milliseconds(50)).status();
  ASSERT_FALSE(failure.ok());
  EXPECT_NE(failure.message().find("changelog"), std::string::npos);
}

TEST_F(DeltaSourceTest, RefusesUnsupportedReaderFeatures) {
  { Open(); }
  std::ofstream(dir_ / "_delta_log" / "00000000000000000001.json")
      << R"({"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["deletionVectors"],"writerFeatures":["deletionVectors"]}})"
      << "\n";
  ConnectorConfig config("delta-lake", {{"table.path", dir_.string()}});
  DeltaSource source;
  auto status = source.Open(config);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("deletionVectors"), std::string::npos);
}

TEST_F(DeltaSourceTest, Conformance) {
  auto sink = Open();
  Commit(*sink, 1, Orders(0, 300));
  Commit(*sink, 2, Orders(300, 300));
  testing::SourceUnderTest under;
  under.make = [] { return std::make_unique<DeltaSource>(); };
  under.config = ConnectorConfig("delta-lake", {{"table.path", dir_.string()}, {"starting.version", "1"}});
  under.batch_rows = 100;
  testing::CheckSourceConformance(under);
}


TEST_F(DeltaSourceTest, CompactionKeepsRowsAndIsInvisibleToTheChangeFeedVacuumHonoursRetention) {
  auto sink = Open({{"partition.columns", "region"}});
  for (uint64_t e = 1; e <= 12; ++e) Commit(*sink, e, Orders(static_cast<int64_t>(e) * 10, 10));
  auto changes = OpenSource({{"startup.mode", "changes"}, {"poll.interval.ms", "10"}});
  const size_t before = Load()->files().size();
  const storage::TableLocation location = LocalTable(dir_);
  DeltaLog log(location);
  CompactionOptions options;
  options.min_files = 10;
  auto compacted = Compact(log, options);
  ASSERT_TRUE(compacted.ok()) << compacted.status().ToString();
  EXPECT_GT(compacted->files_removed, 0);
  auto after = Load();
  EXPECT_LT(after->files().size(), before);
  // Compacted files carry their inputs' bounds (so readers and upsert can still skip them),
  // and store timestamps in microseconds like the sink's own files.
  int compacted_files = 0;
  for (const auto& [path, add] : after->files()) {
    if (path.find("part-compacted-") == std::string::npos) continue;
    ++compacted_files;
    auto stats = boost::json::parse(add.stats).as_object();
    ASSERT_TRUE(stats.at("minValues").as_object().contains("id")) << add.stats;
    const int64_t min_id = stats.at("minValues").at("id").as_int64();
    const int64_t max_id = stats.at("maxValues").at("id").as_int64();
    EXPECT_GE(min_id, 10);
    EXPECT_LE(max_id, 129);
    EXPECT_LT(min_id, max_id);
    EXPECT_TRUE(stats.at("nullCount").as_object().contains("amount"));
    auto file = arrow::io::ReadableFile::Open((dir_ / DecodePath(path)).string()).ValueOrDie();
    auto reader = parquet::arrow::OpenFile(file, arrow::default_memory_pool()).ValueOrDie();
    std::shared_ptr<arrow::Schema> schema;
    ASSERT_TRUE(reader->GetSchema(&schema).ok());
    EXPECT_EQ(schema->GetFieldByName("at")->type()->ToString(), "timestamp[us, tz=UTC]");
    auto table = reader->ReadTable().ValueOrDie();
    auto ids_in_file = table->GetColumnByName("id");
    auto minmax = arrow::compute::MinMax(ids_in_file).ValueOrDie().scalar_as<arrow::StructScalar>();
    EXPECT_EQ(std::static_pointer_cast<arrow::Int64Scalar>(minmax.value[0])->value, min_id);
    EXPECT_EQ(std::static_pointer_cast<arrow::Int64Scalar>(minmax.value[1])->value, max_id);
  }
  EXPECT_GT(compacted_files, 0);
  std::vector<int64_t> ids;
  for (const auto& b : ReadVisible()) {
    auto column = std::static_pointer_cast<arrow::Int64Array>(b->GetColumnByName("id"));
    for (int64_t i = 0; i < column->length(); ++i) ids.push_back(column->Value(i));
  }
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, Range(10, 120)) << "compaction keeps every row once";
  EXPECT_TRUE(Poll(*changes, 1).empty()) << "dataChange=false: no rows for the change feed";
  // Appends after the compaction still commit (the sink reads the compaction's commit).
  Commit(*sink, 13, Orders(1000, 5));
  EXPECT_EQ(Poll(*changes, 5).size(), 5u);

  VacuumOptions too_short;
  too_short.retention_hours = 1;
  auto refused = Vacuum(log, too_short);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("retention"), std::string::npos);
  VacuumOptions keep_week;
  ASSERT_TRUE(Vacuum(log, keep_week).ok());
  EXPECT_EQ(Vacuum(log, keep_week)->files_deleted, 0) << "removed files are younger than the retention";
  VacuumOptions now;
  now.retention_hours = 0;
  now.enforce_retention_check = false;
  auto vacuumed = Vacuum(log, now);
  ASSERT_TRUE(vacuumed.ok());
  EXPECT_EQ(vacuumed->files_deleted, compacted->files_removed);
  EXPECT_EQ(VisibleRows(), 125);
}

}  // namespace
}  // namespace laminar::delta
