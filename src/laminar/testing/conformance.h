// Contract checks every source and sink test can run (like Arrow's generic filesystem
// tests): a source resumes at the next record after Restore; a sink keeps rolled-back
// output invisible, shows nothing before its commit, and commits idempotently, also
// from a new instance after a "crash". Uses GoogleTest assertions.
#pragma once

#include <arrow/record_batch.h>

#include <functional>
#include <memory>
#include <vector>

#include "laminar/core/connector.h"

namespace laminar::testing {

struct SourceUnderTest {
  // A fresh, unopened instance each call (the harness opens, restores, closes).
  std::function<std::unique_ptr<SourceConnector>()> make;
  ConnectorConfig config;
  int64_t batch_rows = 100;
  int batches_before_checkpoint = 3;
  int batches_after_checkpoint = 3;
};

// Polls some batches, checkpoints, polls more; then a new instance restored to the
// checkpoint must return exactly the rows polled after it; and Restore(empty) must return
// the very first rows again.
void CheckSourceConformance(const SourceUnderTest& source);

struct SinkUnderTest {
  std::function<std::unique_ptr<SinkConnector>()> make;
  ConnectorConfig config;
  // Everything readers can see now, as one table's worth of batches.
  std::function<std::vector<std::shared_ptr<arrow::RecordBatch>>()> read_visible;
  // Three batches with distinct rows, of config.schema().
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
};

// Epoch 1: write, pre-commit -> invisible; commit -> visible; commit again -> unchanged.
// Epoch 2: write, pre-commit, rollback -> still only epoch 1 visible.
// Epoch 3: write, pre-commit, close ("crash"); a new instance commits 3 -> visible once.
void CheckSinkConformance(const SinkUnderTest& sink);

// Rows of a set of batches, each rendered as text, sorted: for order-insensitive equality.
std::vector<std::string> SortedRows(const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches);

}  // namespace laminar::testing
