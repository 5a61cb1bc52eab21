// What a source does with records it cannot decode (`on.error`): fail the pipeline
// naming the record's position, skip it (counted), or turn it into a dead letter that
// travels with the epoch to the source's dead-letter sink, so dead letters are written
// exactly once too. Used on the source's poll thread.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <atomic>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "laminar/core/config.h"
#include "laminar/sdk/rate_limiter.h"
#include "laminar/serde/codec.h"

namespace laminar::dlq {

enum class ErrorPolicy { kFail, kSkip, kDeadLetter };

struct ErrorOptions {
  ErrorPolicy policy = ErrorPolicy::kFail;
  // Where dead letters go: one of the two (both set is a config error).
  std::string dead_letter_path;          // a directory: JSON lines, committed per epoch
  std::string dead_letter_topic;         // a Kafka topic (kafka/kafka_dead_letter.h builds the producer)
  double max_per_second = 100;           // dead letters per second; 0 = unlimited
  int64_t max_raw_bytes = 1 << 20;       // raw payloads longer than this are truncated

  static arrow::Result<ErrorOptions> FromConfig(const ConnectorConfig& config);
};

// The keys every decoding source accepts: on.error, dead_letter.path, dead_letter.topic,
// dead_letter.max-per-second, dead_letter.max-raw-bytes, and the dead-letter producer's
// dead_letter.bootstrap.servers, dead_letter.properties.*, dead_letter.delivery.guarantee,
// dead_letter.transactional.id (read by kafka/kafka_dead_letter.h).
std::vector<ConfigKeySpec> ErrorKeySpecs();

// Columns of a dead-letter batch: source, partition, offset, error, key, value (the raw
// bytes, maybe truncated), value_truncated, headers, timestamp_ms, dead_lettered_at_ms.
std::shared_ptr<arrow::Schema> DeadLetterSchema();

// Every record a source reads lands in exactly one of decoded, skipped, dead_lettered and
// dlq_dropped, so that decoded + skipped + dead_lettered + dlq_dropped == records read.
// Records, not rows: a Debezium update that yields two rows, or a Parquet file that yields
// thousands, is one decoded record. A rolled-back epoch is read again and counted again:
// the sum is over reads, replays included.
struct ErrorCounters {
  std::atomic<int64_t> decoded{0};        // records that yielded their row(s)
  // Records dropped without an error of their own or by on.error=skip: tombstones, records
  // a decoder drops by its options (CSV field_count_mismatch=skip, empty or comment-only
  // CSV messages, Debezium truncates) and bad records under on.error=skip.
  std::atomic<int64_t> skipped{0};
  std::atomic<int64_t> dead_lettered{0};  // bad records sent to the dead-letter sink
  std::atomic<int64_t> dlq_dropped{0};    // bad records over the dead-letter rate, dropped
  // Breakdowns, not further terms of the sum: tombstones (in skipped), and bad records
  // under any policy (in skipped, dead_lettered or dlq_dropped).
  std::atomic<int64_t> tombstones{0};
  std::atomic<int64_t> errors{0};
  // dlq_write_failed is counted by the dead-letter sink (DeadLetterSink below): a failed
  // write fails the epoch, whose records are then read and counted here again.
};

class ErrorRouter {
 public:
  ErrorRouter(std::string source_name, ErrorOptions options, sdk::Clock* clock = sdk::SystemClock::Instance());

  // Applies the policy to the errors of one decoded batch. `records` is what was decoded.
  // kFail: returns an error naming the first bad record's position and the problem.
  // Otherwise returns the dead-letter batch to attach to the SourceBatch (null when none).
  // Counts every record of `records` once: tombstones and decoded.skipped as skipped, the
  // errors by the policy, the rest as decoded.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> Route(const serde::DecodedBatch& decoded,
                                                           std::span<const serde::RawRecord> records);

  // Records decoded outside Route (stream decoders that report errors themselves, and
  // Parquet/Avro files where each row is a record).
  void CountDecoded(int64_t records) { counters_.decoded.fetch_add(records); }
  // Records dropped outside Route without an error (CSV field_count_mismatch=skip rows).
  void CountSkipped(int64_t records) { counters_.skipped.fetch_add(records); }

  const ErrorOptions& options() const { return options_; }
  const ErrorCounters& counters() const { return counters_; }

 private:
  std::string source_;
  ErrorOptions options_;
  std::unique_ptr<sdk::TokenBucket> limiter_;
  ErrorCounters counters_;
};

}  // namespace laminar::dlq
