// The exactly-once protocol scenarios (a)-(i) of spec 10 §8.6, driven through the real
// Pipeline with fault-injecting test doubles. A "crash" is an exception thrown from a
// fault point on the driver thread; recovery runs a new pipeline over the same staging
// store and checkpoint directory.
#include "laminar/runtime/pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <numeric>

#include "laminar/runtime/fault_points.h"
#include "laminar/testing/test_connectors.h"

namespace laminar::runtime {
namespace {

using laminar::testing::SequenceSource;
using laminar::testing::StagingSink;
using laminar::testing::StagingStore;

struct SimulatedCrash {
  std::string point;
};

class FailingStore : public ManifestStore {
 public:
  FailingStore(std::unique_ptr<ManifestStore> inner, int fail_save_at)
      : inner_(std::move(inner)), fail_save_at_(fail_save_at) {}
  arrow::Result<std::optional<Manifest>> LoadLatest() override { return inner_->LoadLatest(); }
  arrow::Status Save(const Manifest& m) override {
    if (++saves_ == fail_save_at_) return arrow::Status::IOError("injected: disk full");
    return inner_->Save(m);
  }
  std::string Describe() const override { return inner_->Describe(); }

 private:
  std::unique_ptr<ManifestStore> inner_;
  int fail_save_at_;
  int saves_ = 0;
};

class PipelineProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("laminar-pipeline-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override {
    SetFaultHandler({});
    std::filesystem::remove_all(dir_);
  }

  PipelineOptions Options() const {
    PipelineOptions options;
    options.name = "test";
    options.checkpoint_interval = std::chrono::milliseconds(2);
    options.max_batch_rows = 100;
    options.poll_timeout = std::chrono::milliseconds(5);
    options.poll_retry = sdk::RetryPolicy::Fixed(2, std::chrono::milliseconds(1));
    options.write_retry = sdk::RetryPolicy::Fixed(2, std::chrono::milliseconds(1));
    options.commit_retry = sdk::RetryPolicy::Fixed(5, std::chrono::milliseconds(1));
    return options;
  }

  std::unique_ptr<ManifestStore> Store(int fail_save_at = 0) {
    auto store = LocalManifestStore::Open(dir_.string());
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (fail_save_at > 0) return std::make_unique<FailingStore>(std::move(*store), fail_save_at);
    return std::move(*store);
  }

  static std::vector<int64_t> Range(int64_t n) {
    std::vector<int64_t> ids(static_cast<size_t>(n));
    std::iota(ids.begin(), ids.end(), 0);
    return ids;
  }

  static std::vector<int64_t> Sorted(std::vector<int64_t> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  // Each poll takes a millisecond, so the 2 ms checkpoint interval falls between batches.
  static std::unique_ptr<SequenceSource> Seq(int64_t rows, int64_t batch) {
    return std::make_unique<SequenceSource>(rows, batch, std::chrono::milliseconds(1));
  }

  std::filesystem::path dir_;
  std::atomic<bool> stop_{false};
};

TEST_F(PipelineProtocolTest, BoundedRunDeliversEveryRowOnceAndAcknowledgesEpochs) {
  auto store = std::make_shared<StagingStore>();
  Pipeline pipeline(Options(), Store());
  auto source = Seq(5000, 100);
  auto* source_ptr = source.get();
  pipeline.AddSource("seq", "test", std::move(source));
  pipeline.AddSink("out", "test", "seq", std::make_unique<StagingSink>(store));
  ASSERT_TRUE(pipeline.Run(stop_).ok());
  EXPECT_EQ(store->Visible(), Range(5000));  // one sink, one source: commit order is source order
  auto stats = pipeline.Stats();
  EXPECT_EQ(stats.rows_in, 5000);
  EXPECT_EQ(stats.rows_out, 5000);
  EXPECT_GE(stats.checkpoints_completed, 1);
  EXPECT_EQ(static_cast<int64_t>(source_ptr->acknowledged().size()), stats.checkpoints_completed);
}

// (a) and every other step: a crash at any commit step, then a restart, delivers each row once.
TEST_F(PipelineProtocolTest, CrashAtEveryCommitStepThenRecoverDeliversExactlyOnce) {
  const std::vector<std::string> points = {"checkpoint.after_drain",  "checkpoint.after_pre_commit",
                                           "checkpoint.after_persist", "checkpoint.after_first_sink_commit",
                                           "checkpoint.after_commit", "checkpoint.after_status_persist"};
  for (const auto& point : points) {
    for (int hit : {1, 3}) {
      SCOPED_TRACE(point + " hit " + std::to_string(hit));
      std::filesystem::remove_all(dir_);
      auto store_a = std::make_shared<StagingStore>();
      auto store_b = std::make_shared<StagingStore>();
      int hits = 0;
      SetFaultHandler([&](const std::string& name) {
        if (name == point && ++hits == hit) throw SimulatedCrash{name};
      });
      bool crashed = false;
      {
        Pipeline pipeline(Options(), Store());
        pipeline.AddSource("seq", "test", Seq(3000, 100));
        pipeline.AddSink("a", "test", "seq", std::make_unique<StagingSink>(store_a));
        pipeline.AddSink("b", "test", "seq", std::make_unique<StagingSink>(store_b));
        try {
          (void)pipeline.Run(stop_);
        } catch (const SimulatedCrash&) {
          crashed = true;
        }
      }
      ASSERT_TRUE(crashed);
      SetFaultHandler({});
      Pipeline restarted(Options(), Store());
      restarted.AddSource("seq", "test", Seq(3000, 100));
      restarted.AddSink("a", "test", "seq", std::make_unique<StagingSink>(store_a));
      restarted.AddSink("b", "test", "seq", std::make_unique<StagingSink>(store_b));
      auto status = restarted.Run(stop_);
      ASSERT_TRUE(status.ok()) << status.ToString();
      EXPECT_EQ(Sorted(store_a->Visible()), Range(3000));
      EXPECT_EQ(Sorted(store_b->Visible()), Range(3000));
    }
  }
}

// (b) pre-commit failure: nothing of the epoch visible, sources rewound, nothing lost.
TEST_F(PipelineProtocolTest, PreCommitFailureRollsBackAndReplays) {
  auto store = std::make_shared<StagingStore>();
  Pipeline pipeline(Options(), Store());
  auto source = Seq(2000, 100);
  auto* source_ptr = source.get();
  auto sink = std::make_unique<StagingSink>(store);
  sink->FailPreCommitAt(2, arrow::Status::IOError("injected pre-commit failure"));
  pipeline.AddSource("seq", "test", std::move(source));
  pipeline.AddSink("out", "test", "seq", std::move(sink));
  auto status = pipeline.Run(stop_);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(store->Visible(), Range(2000));
  EXPECT_GE(source_ptr->restores(), 2);  // recovery + rewind
  EXPECT_EQ(pipeline.Stats().epochs_rolled_back, 1);
  auto calls = store->Calls();
  EXPECT_NE(std::find(calls.begin(), calls.end(), "rollback 2"), calls.end());
}

// (c) manifest persist failure: same as (b).
TEST_F(PipelineProtocolTest, PersistFailureRollsBackAndReplays) {
  auto store = std::make_shared<StagingStore>();
  // Saves alternate decision, status record: the 3rd save is the decision of epoch 2.
  Pipeline pipeline(Options(), Store(/*fail_save_at=*/3));
  pipeline.AddSource("seq", "test", Seq(2000, 100));
  pipeline.AddSink("out", "test", "seq", std::make_unique<StagingSink>(store));
  auto status = pipeline.Run(stop_);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(store->Visible(), Range(2000));
  EXPECT_EQ(pipeline.Stats().epochs_rolled_back, 1);
}

// (d) commit failure of one of two sinks: retried; the other sink is unaffected.
TEST_F(PipelineProtocolTest, CommitFailureIsRetriedWithoutDuplicates) {
  auto store_a = std::make_shared<StagingStore>();
  auto store_b = std::make_shared<StagingStore>();
  Pipeline pipeline(Options(), Store());
  auto failing = std::make_unique<StagingSink>(store_a);
  failing->FailCommitTimes(3);
  pipeline.AddSource("seq", "test", Seq(2000, 100));
  pipeline.AddSink("a", "test", "seq", std::move(failing));
  pipeline.AddSink("b", "test", "seq", std::make_unique<StagingSink>(store_b));
  auto status = pipeline.Run(stop_);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(store_a->Visible(), Range(2000));
  EXPECT_EQ(store_b->Visible(), Range(2000));
  EXPECT_EQ(pipeline.Stats().epochs_rolled_back, 0);
}

// A decided epoch that cannot be committed stops the pipeline; the restart commits it.
TEST_F(PipelineProtocolTest, CommitThatNeverSucceedsFailsThenRestartRollsForward) {
  auto store = std::make_shared<StagingStore>();
  {
    Pipeline pipeline(Options(), Store());
    auto failing = std::make_unique<StagingSink>(store);
    failing->FailCommitTimes(100);
    pipeline.AddSource("seq", "test", Seq(1000, 100));
    pipeline.AddSink("out", "test", "seq", std::move(failing));
    auto status = pipeline.Run(stop_);
    ASSERT_FALSE(status.ok());
    EXPECT_NE(status.message().find("decided but could not be committed"), std::string::npos) << status.ToString();
  }
  EXPECT_TRUE(store->Visible().empty());
  Pipeline restarted(Options(), Store());
  restarted.AddSource("seq", "test", Seq(1000, 100));
  restarted.AddSink("out", "test", "seq", std::make_unique<StagingSink>(store));
  ASSERT_TRUE(restarted.Run(stop_).ok());
  EXPECT_EQ(Sorted(store->Visible()), Range(1000));
}

// (e) a sink write error fails the epoch: offsets never move past data that was not written.
TEST_F(PipelineProtocolTest, WriteErrorDoesNotAdvanceOffsets) {
  auto store = std::make_shared<StagingStore>();
  Pipeline pipeline(Options(), Store());
  auto sink = std::make_unique<StagingSink>(store);
  sink->FailWriteAt(5, arrow::Status::Invalid("injected: row rejected"));  // not retryable
  pipeline.AddSource("seq", "test", Seq(2000, 100));
  pipeline.AddSink("out", "test", "seq", std::move(sink));
  auto status = pipeline.Run(stop_);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(Sorted(store->Visible()), Range(2000));
  EXPECT_EQ(pipeline.Stats().epochs_rolled_back, 1);
}

TEST_F(PipelineProtocolTest, TransientWriteErrorIsRetriedInPlace) {
  auto store = std::make_shared<StagingStore>();
  Pipeline pipeline(Options(), Store());
  auto sink = std::make_unique<StagingSink>(store);
  sink->FailWriteAt(5, arrow::Status::IOError("injected: connection reset"));
  pipeline.AddSource("seq", "test", Seq(2000, 100));
  pipeline.AddSink("out", "test", "seq", std::move(sink));
  ASSERT_TRUE(pipeline.Run(stop_).ok());
  EXPECT_EQ(store->Visible(), Range(2000));
  EXPECT_EQ(pipeline.Stats().epochs_rolled_back, 0);
}

TEST_F(PipelineProtocolTest, PollErrorsAreRetriedThenFailTheEpoch) {
  auto store = std::make_shared<StagingStore>();
  Pipeline pipeline(Options(), Store());
  auto source = Seq(2000, 100);
  source->FailPollAt(3, arrow::Status::IOError("injected: broker unavailable"));  // retried
  source->FailPollAt(8, arrow::Status::Invalid("injected: corrupt record"));      // fails the epoch
  pipeline.AddSource("seq", "test", std::move(source));
  pipeline.AddSink("out", "test", "seq", std::make_unique<StagingSink>(store));
  ASSERT_TRUE(pipeline.Run(stop_).ok());
  EXPECT_EQ(Sorted(store->Visible()), Range(2000));
  EXPECT_EQ(pipeline.Stats().epochs_rolled_back, 1);
}

TEST_F(PipelineProtocolTest, RepeatedEpochFailuresStopThePipeline) {
  auto store = std::make_shared<StagingStore>();
  PipelineOptions options = Options();
  options.max_consecutive_epoch_failures = 2;
  Pipeline pipeline(options, Store());
  auto sink = std::make_unique<StagingSink>(store);
  for (int call = 1; call <= 1000; ++call) sink->FailWriteAt(call, arrow::Status::Invalid("injected: always"));
  pipeline.AddSource("seq", "test", Seq(2000, 100));
  pipeline.AddSink("out", "test", "seq", std::move(sink));
  auto status = pipeline.Run(stop_);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("giving up after 3 failed epochs"), std::string::npos) << status.ToString();
  EXPECT_NE(status.message().find("injected: always"), std::string::npos);
  EXPECT_TRUE(store->Visible().empty());
}

// (f) two sinks on one source see the same cut: identical, complete output.
TEST_F(PipelineProtocolTest, SinksOfOneSourceCommitTheSameCut) {
  auto store_a = std::make_shared<StagingStore>();
  auto store_b = std::make_shared<StagingStore>();
  auto store_other = std::make_shared<StagingStore>();
  PipelineOptions options = Options();
  options.queue_capacity = 2;  // force backpressure on the poll threads
  Pipeline pipeline(options, Store());
  pipeline.AddSource("seq", "test", Seq(4000, 50));
  pipeline.AddSource("other", "test", Seq(300, 7));
  pipeline.AddSink("a", "test", "seq", std::make_unique<StagingSink>(store_a));
  pipeline.AddSink("b", "test", "seq", std::make_unique<StagingSink>(store_b));
  pipeline.AddSink("c", "test", "other", std::make_unique<StagingSink>(store_other));
  ASSERT_TRUE(pipeline.Run(stop_).ok());
  EXPECT_EQ(store_a->Visible(), Range(4000));
  EXPECT_EQ(store_b->Visible(), Range(4000));
  EXPECT_EQ(store_other->Visible(), Range(300));  // a sink receives only the source it names
}

// (g) begin_epoch precedes the first write of every epoch, pre_commit precedes commit.
TEST_F(PipelineProtocolTest, BeginEpochPrecedesEveryWriteAndPreCommitPrecedesCommit) {
  auto store = std::make_shared<StagingStore>();
  Pipeline pipeline(Options(), Store());
  auto sink = std::make_unique<StagingSink>(store);
  sink->FailPreCommitAt(3, arrow::Status::IOError("injected"));
  pipeline.AddSource("seq", "test", Seq(3000, 100));
  pipeline.AddSink("out", "test", "seq", std::move(sink));
  ASSERT_TRUE(pipeline.Run(stop_).ok());
  std::optional<std::string> open_epoch;
  bool pre_committed = false;
  for (const auto& call : store->Calls()) {
    const auto space = call.find(' ');
    const std::string verb = call.substr(0, space);
    const std::string epoch = call.substr(space + 1);
    if (verb == "begin") {
      open_epoch = epoch;
      pre_committed = false;
    } else if (verb == "write") {
      ASSERT_TRUE(open_epoch.has_value()) << call;
      EXPECT_EQ(*open_epoch, epoch);
    } else if (verb == "pre_commit") {
      EXPECT_EQ(open_epoch, epoch);
      pre_committed = true;
    } else if (verb == "commit") {
      EXPECT_TRUE(pre_committed) << call;
      open_epoch.reset();
    } else if (verb == "rollback") {
      open_epoch.reset();
    }
  }
}

// (h) a restarted pipeline continues the epoch and checkpoint numbering of its store.
TEST_F(PipelineProtocolTest, RestartResumesEpochAndCheckpointIds) {
  auto store = std::make_shared<StagingStore>();
  uint64_t first_epoch_after = 0;
  {
    Pipeline pipeline(Options(), Store());
    pipeline.AddSource("seq", "test", Seq(1000, 100));
    pipeline.AddSink("out", "test", "seq", std::make_unique<StagingSink>(store));
    ASSERT_TRUE(pipeline.Run(stop_).ok());
    first_epoch_after = pipeline.Stats().epoch;
  }
  auto latest = Store()->LoadLatest();
  ASSERT_TRUE(latest.ok());
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->epoch + 1, first_epoch_after);
  const uint64_t id_before = (*latest)->checkpoint_id;
  Pipeline restarted(Options(), Store());
  restarted.AddSource("seq", "test", Seq(1000, 100));
  restarted.AddSink("out", "test", "seq", std::make_unique<StagingSink>(store));
  ASSERT_TRUE(restarted.Run(stop_).ok());
  auto calls = store->Calls();
  EXPECT_NE(std::find(calls.begin(), calls.end(), "begin " + std::to_string(first_epoch_after)), calls.end());
  auto after = Store()->LoadLatest();
  EXPECT_EQ((*after)->checkpoint_id, id_before + 1);
  EXPECT_EQ(store->Visible(), Range(1000));  // the restored source had nothing left to send
}

// (i) no manifest: fresh start at epoch 1; unreachable position: a clear error.
TEST_F(PipelineProtocolTest, FreshStartAndUnreachablePosition) {
  auto store = std::make_shared<StagingStore>();
  {
    Pipeline pipeline(Options(), Store());
    pipeline.AddSource("seq", "test", Seq(1000, 100));
    pipeline.AddSink("out", "test", "seq", std::make_unique<StagingSink>(store));
    ASSERT_TRUE(pipeline.Run(stop_).ok());
    auto calls = store->Calls();
    ASSERT_GE(calls.size(), 2u);
    EXPECT_EQ(calls[0], "rollback 1");
    EXPECT_EQ(calls[1], "begin 1");
  }
  Pipeline shorter(Options(), Store());
  shorter.AddSource("seq", "test", Seq(10, 100));
  shorter.AddSink("out", "test", "seq", std::make_unique<StagingSink>(store));
  auto status = shorter.Run(stop_);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("cannot restore"), std::string::npos) << status.ToString();
  EXPECT_NE(status.message().find("unreachable"), std::string::npos) << status.ToString();
}

TEST_F(PipelineProtocolTest, StopRequestTakesAFinalCheckpoint) {
  auto store = std::make_shared<StagingStore>();
  PipelineOptions options = Options();
  options.checkpoint_interval = std::chrono::milliseconds(0);
  Pipeline pipeline(options, Store());
  pipeline.AddSource("seq", "test", std::make_unique<SequenceSource>(int64_t{1} << 40, 100));
  pipeline.AddSink("out", "test", "seq", std::make_unique<StagingSink>(store));
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stop_.store(true);
  });
  auto status = pipeline.Run(stop_);
  stopper.join();
  ASSERT_TRUE(status.ok()) << status.ToString();
  auto stats = pipeline.Stats();
  EXPECT_EQ(stats.checkpoints_completed, 1);
  EXPECT_EQ(static_cast<int64_t>(store->Visible().size()), stats.rows_out);
  EXPECT_EQ(store->Visible(), Range(stats.rows_out));
}

// A sink that loses a decided epoch (Kafka: the restarted producer's init_transactions
// aborts the dead one's transaction) gets the epoch replayed, bounded at the decided
// positions, while a sink that committed it receives nothing twice.
TEST_F(PipelineProtocolTest, LostDecidedEpochIsReplayedIntoTheLosingSinkOnly) {
  using laminar::testing::FencingSink;
  for (const std::string point : {"checkpoint.after_persist", "checkpoint.after_first_sink_commit"}) {
    for (int hit : {1, 4}) {
      SCOPED_TRACE(point + " hit " + std::to_string(hit));
      std::filesystem::remove_all(dir_);
      auto staging = std::make_shared<StagingStore>();
      auto fencing = std::make_shared<StagingStore>();
      int hits = 0;
      SetFaultHandler([&](const std::string& name) {
        if (name == point && ++hits == hit) throw SimulatedCrash{name};
      });
      {
        Pipeline pipeline(Options(), Store());
        pipeline.AddSource("seq", "test", Seq(3000, 100));
        // The staging sink commits first, so after_first_sink_commit leaves only the fencing one pending.
        pipeline.AddSink("s", "test", "seq", std::make_unique<StagingSink>(staging));
        pipeline.AddSink("k", "test", "seq", std::make_unique<FencingSink>(fencing));
        EXPECT_THROW((void)pipeline.Run(stop_), SimulatedCrash);
      }
      SetFaultHandler({});
      auto decided = LocalManifestStore::Open(dir_.string()).ValueOrDie()->LoadLatest().ValueOrDie();
      ASSERT_TRUE(decided.has_value());
      const uint64_t lost_epoch = decided->epoch;
      const auto before = fencing->Visible().size();

      Pipeline restarted(Options(), Store());
      restarted.AddSource("seq", "test", Seq(3000, 100));
      restarted.AddSink("s", "test", "seq", std::make_unique<StagingSink>(staging));
      restarted.AddSink("k", "test", "seq", std::make_unique<FencingSink>(fencing));
      auto status = restarted.Run(stop_);
      ASSERT_TRUE(status.ok()) << status.ToString();
      EXPECT_EQ(Sorted(staging->Visible()), Range(3000));
      EXPECT_EQ(Sorted(fencing->Visible()), Range(3000));
      // The restart found the epoch lost and produced it again under the same number.
      auto calls = fencing->Calls();
      auto fence = std::find(calls.rbegin(), calls.rend(), "fence").base();
      const std::string e = std::to_string(lost_epoch);
      ASSERT_GE(std::distance(fence, calls.end()), 4);
      EXPECT_EQ(*fence, "commit " + e);
      EXPECT_EQ(*(fence + 1), "rollback " + std::to_string(lost_epoch + 1));
      EXPECT_EQ(*(fence + 2), "begin " + e);
      auto replay_commit = std::find(fence + 1, calls.end(), "commit " + e);
      ASSERT_NE(replay_commit, calls.end());
      EXPECT_GT(fencing->Visible().size(), before);
      // The manifest records the replayed sink as committed.
      auto after = LocalManifestStore::Open(dir_.string()).ValueOrDie()->LoadLatest().ValueOrDie();
      ASSERT_TRUE(after.has_value());
      EXPECT_EQ(after->sinks.at("k").status, SinkCommitStatus::kCommitted);
    }
  }
}

// A crash inside the replay leaves the epoch lost again; the next start replays it again.
TEST_F(PipelineProtocolTest, CrashDuringReplayIsReplayedAgain) {
  using laminar::testing::FencingSink;
  auto fencing = std::make_shared<StagingStore>();
  auto run = [&](const std::string& point, int hit) {
    int hits = 0;
    SetFaultHandler([&, point, hit](const std::string& name) {
      if (name == point && ++hits == hit) throw SimulatedCrash{name};
    });
    Pipeline pipeline(Options(), Store());
    pipeline.AddSource("seq", "test", Seq(3000, 100));
    pipeline.AddSink("k", "test", "seq", std::make_unique<FencingSink>(fencing));
    arrow::Status status;
    bool crashed = false;
    try {
      status = pipeline.Run(stop_);
    } catch (const SimulatedCrash&) {
      crashed = true;
    }
    SetFaultHandler({});
    return std::make_pair(crashed, status);
  };
  EXPECT_TRUE(run("checkpoint.after_persist", 3).first);
  EXPECT_TRUE(run("replay.after_pre_commit", 1).first);
  EXPECT_TRUE(run("replay.after_commit", 1).first);  // committed, but not recorded
  auto [crashed, status] = run("", 0);
  EXPECT_FALSE(crashed);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(Sorted(fencing->Visible()), Range(3000));
}

// A commit lost during a run (not a crash) is replayed at the same cut, without a restart;
// the sink that committed the epoch gets nothing twice.
TEST_F(PipelineProtocolTest, EpochLostAtCommitDuringARunIsReplayedInPlace) {
  using laminar::testing::FencingSink;
  auto staging = std::make_shared<StagingStore>();
  auto fencing = std::make_shared<StagingStore>();
  Pipeline pipeline(Options(), Store());
  pipeline.AddSource("seq", "test", Seq(3000, 100));
  pipeline.AddSink("s", "test", "seq", std::make_unique<StagingSink>(staging));
  auto sink = std::make_unique<FencingSink>(fencing);
  sink->LoseCommitAt(3);
  pipeline.AddSink("k", "test", "seq", std::move(sink));
  auto status = pipeline.Run(stop_);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(Sorted(staging->Visible()), Range(3000));
  EXPECT_EQ(Sorted(fencing->Visible()), Range(3000));
  // The third commit was lost, and the same epoch was begun and committed again.
  auto calls = fencing->Calls();
  std::vector<std::string> commits;
  for (const auto& c : calls) {
    if (c.rfind("commit ", 0) == 0) commits.push_back(c);
  }
  ASSERT_GE(commits.size(), 4u);
  EXPECT_EQ(commits[2], commits[3]);
  EXPECT_EQ(pipeline.Stats().epochs_rolled_back, 0);
}

// A source that cannot replay: the start fails naming it, instead of losing the epoch.
TEST_F(PipelineProtocolTest, LostEpochFromSourceWithoutReplayFailsNamingIt) {
  using laminar::testing::FencingSink;
  class NoReplaySource : public SequenceSource {
   public:
    NoReplaySource() : SequenceSource(3000, 100, std::chrono::milliseconds(1)) {}
    arrow::Status SetReplayEnd(const std::optional<SourceCheckpoint>&) override {
      return arrow::Status::NotImplemented("no replay here");
    }
  };
  auto fencing = std::make_shared<StagingStore>();
  int hits = 0;
  SetFaultHandler([&](const std::string& name) {
    if (name == "checkpoint.after_persist" && ++hits == 2) throw SimulatedCrash{name};
  });
  {
    Pipeline pipeline(Options(), Store());
    pipeline.AddSource("seq", "test", std::make_unique<NoReplaySource>());
    pipeline.AddSink("k", "test", "seq", std::make_unique<FencingSink>(fencing));
    EXPECT_THROW((void)pipeline.Run(stop_), SimulatedCrash);
  }
  SetFaultHandler({});
  Pipeline restarted(Options(), Store());
  restarted.AddSource("seq", "test", std::make_unique<NoReplaySource>());
  restarted.AddSink("k", "test", "seq", std::make_unique<FencingSink>(fencing));
  auto status = restarted.Run(stop_);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("source 'seq' cannot replay"), std::string::npos) << status.ToString();
  EXPECT_NE(status.message().find("sink 'k' lost decided epoch 2"), std::string::npos) << status.ToString();
}

TEST(CheckpointCoordinatorTest, TransitionTable) {
  EXPECT_TRUE(IsValidTransition(Phase::kCreated, Phase::kRecovering));
  EXPECT_FALSE(IsValidTransition(Phase::kCreated, Phase::kRunning));
  EXPECT_TRUE(IsValidTransition(Phase::kPersisting, Phase::kCommitting));
  EXPECT_FALSE(IsValidTransition(Phase::kCommitting, Phase::kRollingBack));  // a decided epoch never rolls back
  EXPECT_FALSE(IsValidTransition(Phase::kRunning, Phase::kCommitting));      // no commit without a decision
  EXPECT_FALSE(IsValidTransition(Phase::kStopped, Phase::kRunning));
  EXPECT_TRUE(IsValidTransition(Phase::kRunning, Phase::kFailed));
  EXPECT_TRUE(IsValidTransition(Phase::kRecovering, Phase::kReplaying));
  EXPECT_TRUE(IsValidTransition(Phase::kReplaying, Phase::kRunning));
  EXPECT_FALSE(IsValidTransition(Phase::kRunning, Phase::kReplaying));
}

}  // namespace
}  // namespace laminar::runtime
