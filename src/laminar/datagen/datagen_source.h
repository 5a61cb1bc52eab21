// The `datagen` source: deterministic synthetic rows for the columns a DDL declares, with
// Flink's datagen option names. Every value is a pure function of (seed, column, row), so a
// restore replays exactly the rows a crashed run produced. One thread at a time, like
// every source.
#pragma once

#include <arrow/result.h>
#include <arrow/status.h>
#include <arrow/type_fwd.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "laminar/core/config.h"
#include "laminar/core/connector.h"
#include "laminar/core/registry.h"

namespace laminar::datagen {

// The per-column options (`fields.<col>.*`), as written; their meaning depends on the
// column type and is checked when the generators are built in Open.
struct FieldOptions {
  bool sequence = false;  // kind=sequence
  std::optional<std::string> start;
  std::optional<std::string> end;
  std::optional<std::string> min;
  std::optional<std::string> max;
  std::optional<std::string> values;
  std::optional<int64_t> length;
  double null_rate = 0;
};

struct DatagenOptions {
  int64_t rows_per_second = 10000;        // 0: as fast as possible
  std::optional<int64_t> number_of_rows;  // nullopt: unbounded
  uint64_t seed = 0;
  std::map<std::string, FieldOptions> fields;  // by top-level column name

  // Parses the validated config. Errors (config kind) name the offending key: options for
  // undeclared columns, bad kinds, out-of-range rates, a missing schema.
  static arrow::Result<DatagenOptions> FromConfig(const ConnectorConfig& config);
};

// Internal: see value_generator_internal.h.
class ColumnGenerator;

class DatagenSource : public SourceConnector {
 public:
  DatagenSource();
  ~DatagenSource() override;

  // Builds one generator per declared column; every option error is reported here.
  arrow::Status Open(const ConnectorConfig& config) override;
  std::shared_ptr<arrow::Schema> schema() const override { return schema_; }

  // Returns the next rows, at most max_records (<= 0: a default of 8192). With a rate set,
  // returns only rows already due, gathering up to ~10 ms worth of rows per batch, and
  // sleeps (never spins) up to `timeout` when none are due.
  arrow::Result<std::optional<SourceBatch>> PollBatch(int64_t max_records,
                                                      std::chrono::milliseconds timeout) override;
  bool finished() const override;

  // Offsets {"row": "<index of the next row>"}.
  SourceCheckpoint Checkpoint() const override;
  // Empty: row 0. A row that is not a non-negative integer, or lies beyond the last row of
  // a bounded source, is a fatal error naming the value. Pacing restarts from here.
  arrow::Status Restore(const SourceCheckpoint& checkpoint) override;
  // Every row is a function of its index, so a replay is exact: rows up to end's "row",
  // unpaced.
  arrow::Status SetReplayEnd(const std::optional<SourceCheckpoint>& end) override;
  bool ReplayReachedEnd() const override { return replay_end_ && next_row_ >= *replay_end_; }

  ConnectorMetrics Metrics() const override {
    std::lock_guard<std::mutex> lock(metrics_mu_);
    return metrics_;
  }
  arrow::Status Close() override;

  // Rows [first_row, first_row + count), independent of the position and of pacing; what
  // PollBatch returns is always a slice of this function. Valid after Open.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> GenerateRows(int64_t first_row, int64_t count);

  // The total number of rows of a bounded source (number-of-rows, or the shortest sequence
  // column); nullopt when unbounded.
  std::optional<int64_t> row_limit() const { return row_limit_; }
  int64_t next_row() const { return next_row_; }

 private:
  using Clock = std::chrono::steady_clock;

  // Rows due by `now` and not yet returned; may be negative when ahead of the rate.
  int64_t DueRows(Clock::time_point now) const;
  // Sleeps until some rows are due (at most `timeout`) and returns how many, up to `want`.
  int64_t WaitForDueRows(int64_t want, std::chrono::milliseconds timeout);

  std::string where_;
  std::shared_ptr<arrow::Schema> schema_;
  std::vector<std::unique_ptr<arrow::ArrayBuilder>> builders_;  // one per column, reused
  std::vector<std::unique_ptr<ColumnGenerator>> generators_;
  std::vector<std::shared_ptr<arrow::DataType>> extension_types_;  // null unless wrapped
  bool open_ = false;

  int64_t rows_per_second_ = 0;
  std::optional<int64_t> row_limit_;
  int64_t next_row_ = 0;
  std::optional<int64_t> replay_end_;  // replay mode: the row index to stop at

  // Pacing anchor: at pace_start_ the rows before pace_base_row_ were due. Set by the first
  // poll after Open or Restore, so time spent before that never turns into a burst.
  std::optional<Clock::time_point> pace_start_;
  int64_t pace_base_row_ = 0;

  mutable std::mutex metrics_mu_;  // Metrics() runs on the metrics thread
  ConnectorMetrics metrics_;
};

// The key specs of `datagen`, per-column options as `fields.*.<option>` wildcards.
std::vector<ConfigKeySpec> DatagenKeySpecs();

// Adds the "datagen" source (with its key specs) to the registry.
void RegisterDatagen(ConnectorRegistry& registry);

}  // namespace laminar::datagen
