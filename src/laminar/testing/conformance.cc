#include "laminar/testing/conformance.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <algorithm>

namespace laminar::testing {

std::vector<std::string> SortedRows(const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches) {
  std::vector<std::string> rows;
  for (const auto& batch : batches) {
    for (int64_t r = 0; r < batch->num_rows(); ++r) {
      std::string row;
      for (int c = 0; c < batch->num_columns(); ++c) {
        auto scalar = batch->column(c)->GetScalar(r);
        row += (c ? "|" : "") + (scalar.ok() ? (*scalar)->ToString() : "?");
      }
      rows.push_back(std::move(row));
    }
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

namespace {

std::vector<std::shared_ptr<arrow::RecordBatch>> PollBatches(SourceConnector& source, int count, int64_t rows) {
  std::vector<std::shared_ptr<arrow::RecordBatch>> out;
  for (int attempts = 0; static_cast<int>(out.size()) < count && attempts < count * 100; ++attempts) {
    auto polled = source.PollBatch(rows, std::chrono::milliseconds(50));
    EXPECT_TRUE(polled.ok()) << polled.status().ToString();
    if (!polled.ok()) break;
    if (*polled && (*polled)->num_rows() > 0) out.push_back((*polled)->records);
    if (source.finished()) break;
  }
  return out;
}

std::vector<std::string> Rows(const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches) {
  std::vector<std::string> rows;
  for (const auto& batch : batches) {
    for (int64_t r = 0; r < batch->num_rows(); ++r) {
      std::string row;
      for (int c = 0; c < batch->num_columns(); ++c) row += "|" + batch->column(c)->GetScalar(r).ValueOrDie()->ToString();
      rows.push_back(row);
    }
  }
  return rows;
}

}  // namespace

void CheckSourceConformance(const SourceUnderTest& spec) {
  auto first = spec.make();
  ASSERT_TRUE(first->Open(spec.config).ok());
  ASSERT_TRUE(first->Restore(SourceCheckpoint()).ok());
  auto before = PollBatches(*first, spec.batches_before_checkpoint, spec.batch_rows);
  ASSERT_FALSE(before.empty()) << "source produced nothing";
  const SourceCheckpoint checkpoint = first->Checkpoint();
  auto after = PollBatches(*first, spec.batches_after_checkpoint, spec.batch_rows);
  ASSERT_FALSE(after.empty()) << "source produced nothing after the checkpoint";
  ASSERT_TRUE(first->Close().ok());

  // The checkpoint survives serialisation, as it does in the manifest.
  auto round_trip = SourceCheckpoint::FromJson(checkpoint.ToJson());
  ASSERT_TRUE(round_trip.ok());
  EXPECT_EQ(*round_trip, checkpoint);

  auto resumed = spec.make();
  ASSERT_TRUE(resumed->Open(spec.config).ok());
  ASSERT_TRUE(resumed->Restore(*round_trip).ok());
  auto replay = PollBatches(*resumed, spec.batches_after_checkpoint, spec.batch_rows);
  auto expected = Rows(after);
  auto got = Rows(replay);
  got.resize(std::min(got.size(), expected.size()));
  EXPECT_EQ(got, expected) << "restore did not resume at the record after the checkpoint";

  ASSERT_TRUE(resumed->Restore(SourceCheckpoint()).ok());
  auto from_start = Rows(PollBatches(*resumed, 1, spec.batch_rows));
  auto first_rows = Rows(before);
  from_start.resize(std::min(from_start.size(), first_rows.size()));
  first_rows.resize(from_start.size());
  EXPECT_EQ(from_start, first_rows) << "an empty checkpoint must restart from the beginning";
  ASSERT_TRUE(resumed->Close().ok());
}

void CheckSinkConformance(const SinkUnderTest& spec) {
  ASSERT_GE(spec.batches.size(), 3u);
  auto sink = spec.make();
  ASSERT_TRUE(sink->Open(spec.config).ok());
  ASSERT_TRUE(sink->capabilities().exactly_once) << "sink does not support exactly-once";
  ASSERT_TRUE(sink->RollbackEpoch(1).ok());  // what recovery does on a fresh start
  EXPECT_TRUE(SortedRows(spec.read_visible()).empty());

  ASSERT_TRUE(sink->BeginEpoch(1).ok());
  ASSERT_TRUE(sink->WriteBatch(spec.batches[0]).ok());
  ASSERT_TRUE(sink->PreCommit(1).ok());
  EXPECT_TRUE(SortedRows(spec.read_visible()).empty()) << "pre-committed output is visible before the commit";
  ASSERT_TRUE(sink->CommitEpoch(1).ok());
  const auto epoch1 = SortedRows({spec.batches[0]});
  EXPECT_EQ(SortedRows(spec.read_visible()), epoch1);
  ASSERT_TRUE(sink->CommitEpoch(1).ok());
  EXPECT_EQ(SortedRows(spec.read_visible()), epoch1) << "a repeated commit changed the output";

  ASSERT_TRUE(sink->BeginEpoch(2).ok());
  ASSERT_TRUE(sink->WriteBatch(spec.batches[1]).ok());
  ASSERT_TRUE(sink->PreCommit(2).ok());
  ASSERT_TRUE(sink->RollbackEpoch(2).ok());
  EXPECT_EQ(SortedRows(spec.read_visible()), epoch1) << "rolled-back output became visible";

  ASSERT_TRUE(sink->BeginEpoch(2).ok());
  ASSERT_TRUE(sink->WriteBatch(spec.batches[2]).ok());
  ASSERT_TRUE(sink->PreCommit(2).ok());
  ASSERT_TRUE(sink->Close().ok());  // crash after the decision, before the commit
  sink.reset();

  auto restarted = spec.make();
  ASSERT_TRUE(restarted->Open(spec.config).ok());
  ASSERT_TRUE(restarted->CommitEpoch(2).ok());
  ASSERT_TRUE(restarted->RollbackEpoch(3).ok());
  EXPECT_EQ(SortedRows(spec.read_visible()), SortedRows({spec.batches[0], spec.batches[2]}));
  ASSERT_TRUE(restarted->CommitEpoch(2).ok());
  EXPECT_EQ(SortedRows(spec.read_visible()), SortedRows({spec.batches[0], spec.batches[2]}));
  ASSERT_TRUE(restarted->Close().ok());
}

}  // namespace laminar::testing
