#include "laminar/runtime/manifest.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace laminar::runtime {
namespace {

namespace fs = std::filesystem;

class ManifestStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("laminar-manifest-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static Manifest Make(uint64_t id) {
    Manifest m;
    m.checkpoint_id = id;
    m.epoch = id + 10;
    m.timestamp_ms = 1700000000000;
    m.pipeline = "orders";
    SourceCheckpoint cp(m.epoch);
    cp.SetOffset("partition-0", "1234");
    cp.SetMetadata("topic", "trades");
    m.source_offsets["kafka_in"] = cp;
    SourceCheckpoint start(m.epoch - 1);
    start.SetOffset("partition-0", "1000");
    m.epoch_start["kafka_in"] = start;
    m.epoch_start["datagen_in"] = SourceCheckpoint();  // began at the configured start
    m.sinks["delta_out"] = SinkState{m.epoch, SinkCommitStatus::kPending, ""};
    m.sinks["files_out"] = SinkState{m.epoch, SinkCommitStatus::kFailed, "disk full"};
    return m;
  }

  fs::path dir_;
};

TEST_F(ManifestStoreTest, JsonRoundTrip) {
  auto m = Make(3);
  auto back = Manifest::FromJson(m.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, m);
}

TEST_F(ManifestStoreTest, ManifestWithoutEpochStartStillLoads) {
  auto m = Make(3);
  m.epoch_start.clear();
  std::string json = m.ToJson();
  const std::string field = "\"epoch_start\":{},";
  ASSERT_NE(json.find(field), std::string::npos) << json;
  json.erase(json.find(field), field.size());  // as written before epoch replay existed
  auto back = Manifest::FromJson(json);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->epoch_start.empty());
  EXPECT_EQ(*back, m);
}

TEST_F(ManifestStoreTest, EmptyDirectoryIsAFreshStartAndMissingOneIsCreated) {
  auto store = LocalManifestStore::Open((dir_ / "nested" / "cp").string());
  ASSERT_TRUE(store.ok());
  auto latest = (*store)->LoadLatest();
  ASSERT_TRUE(latest.ok());
  EXPECT_FALSE(latest->has_value());
}

TEST_F(ManifestStoreTest, SaveLoadLatestAndPrune) {
  auto store = LocalManifestStore::Open(dir_.string(), /*max_retained=*/2);
  ASSERT_TRUE(store.ok());
  for (uint64_t id = 1; id <= 4; ++id) ASSERT_TRUE((*store)->Save(Make(id)).ok());
  auto latest = (*store)->LoadLatest();
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ((*latest)->checkpoint_id, 4u);
  EXPECT_EQ((*latest)->source_offsets.at("kafka_in").GetOffset("partition-0"), "1234");
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) files += entry.path().extension() == ".json";
  EXPECT_EQ(files, 2u);
}

TEST_F(ManifestStoreTest, TornWriteLeavesThePreviousManifest) {
  auto store = LocalManifestStore::Open(dir_.string());
  ASSERT_TRUE((*store)->Save(Make(1)).ok());
  // A crash during Save leaves a half-written temp file behind; it is not a checkpoint.
  std::ofstream(dir_ / ("." + LocalManifestStore::FileName(2) + ".tmp")) << "{\"version\": 1, \"checkp";
  auto latest = (*store)->LoadLatest();
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ((*latest)->checkpoint_id, 1u);
  ASSERT_TRUE((*store)->Save(Make(2)).ok());  // the next save replaces the debris
  EXPECT_EQ((*(*store)->LoadLatest())->checkpoint_id, 2u);
}

TEST_F(ManifestStoreTest, CorruptLatestIsAnErrorNeverASilentReset) {
  auto store = LocalManifestStore::Open(dir_.string());
  ASSERT_TRUE((*store)->Save(Make(1)).ok());
  std::ofstream(dir_ / LocalManifestStore::FileName(2)) << "{\"version\": 1, \"checkp";
  auto latest = (*store)->LoadLatest();
  ASSERT_FALSE(latest.ok());
  EXPECT_NE(latest.status().message().find(LocalManifestStore::FileName(2)), std::string::npos);
  EXPECT_NE(latest.status().message().find("corrupt"), std::string::npos);
  std::ofstream(dir_ / LocalManifestStore::FileName(2)) << "{\"version\": 1}";
  latest = (*store)->LoadLatest();
  ASSERT_FALSE(latest.ok());
  EXPECT_NE(latest.status().message().find("missing field 'checkpoint_id'"), std::string::npos);
  std::ofstream(dir_ / LocalManifestStore::FileName(2)) << Make(5).ToJson();
  latest = (*store)->LoadLatest();
  ASSERT_FALSE(latest.ok());  // the file name and its content disagree
}

TEST_F(ManifestStoreTest, DirectoryRemovedUnderARunningPipelineIsAnError) {
  auto store = LocalManifestStore::Open(dir_.string());
  ASSERT_TRUE((*store)->Save(Make(1)).ok());
  fs::remove_all(dir_);
  EXPECT_FALSE((*store)->LoadLatest().ok());
  EXPECT_FALSE((*store)->Save(Make(2)).ok());
}

TEST_F(ManifestStoreTest, UnsupportedVersionIsRejected) {
  auto json = Make(1).ToJson();
  json.replace(json.find("\"version\":1"), 11, "\"version\":9");
  auto parsed = Manifest::FromJson(json);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("unsupported manifest version 9"), std::string::npos);
}

}  // namespace
}  // namespace laminar::runtime
