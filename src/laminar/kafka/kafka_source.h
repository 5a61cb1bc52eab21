// The `kafka` source: a member of a consumer group (cooperative-sticky by default) whose
// poll gathers up to max.poll.records messages and decodes them with the format's decoder
// in one call, bad records going through on.error (partition and offset in the dead
// letter), with optional metadata columns.
//
// Positions and the group:
//   - The checkpoint holds the next offset of every partition read (kafka_offset_tracker.h).
//   - Restore never assigns manually: it records the positions, seeks the partitions this
//     member owns, and the rebalance callback starts every partition it is given at its
//     recorded position (else at startup.mode's position, resolved to a concrete offset).
//   - Offsets go to the group only in OnCheckpointCommitted, so the group never runs ahead
//     of a durable checkpoint.
//   - A sink that stores the offsets with its rows (Delta, linked in builtin_connectors.cc)
//     gets them per epoch (OffsetsOfEpoch) and is read back on assignment, restore and
//     replay (ReadStoredOffsetsFrom): a partition starts at the largest of this member's
//     position, the group's offset and the sink's.
//   - Bounded replay (SetReplayEnd): messages at or past a partition's end are dropped and
//     the partition paused until the replay ends.
// Decoding, with decode.threads = 2: a pipeline. While the rows of one poll are returned,
// the next poll's messages decode on a BackgroundDecoder, held for the next call (which
// polls again without waiting for a first message, then returns them). Held messages count
// as read (offsets, epoch ranges) only when their rows are returned, so a checkpoint never
// covers them; a rebalance inside a poll re-checks them (revoked partition: dropped;
// restarted partition: taken once); Restore and Close drop them. The first large poll
// after an idle spell decodes its halves at once (second half held); a poll that was not
// full is returned by the next call without polling, so a slow stream is not delayed.
// Threads: PollBatch (and the rebalance callback, served inside it) on the source's poll
// thread; Checkpoint/Restore/OnCheckpointCommitted on the driver thread while the poll
// thread is parked; Metrics/Health from the metrics thread.
#pragma once

#include <atomic>
#include <climits>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "laminar/core/connector.h"
#include "laminar/core/registry.h"
#include "laminar/dlq/error_router.h"
#include "laminar/kafka/kafka_alignment.h"
#include "laminar/kafka/kafka_client.h"
#include "laminar/kafka/kafka_metadata_columns.h"
#include "laminar/kafka/kafka_offset_tracker.h"
#include "laminar/kafka/kafka_source_options.h"
#include "laminar/kafka/kafka_watermarks.h"
#include "laminar/serde/background_decoder.h"
#include "laminar/serde/codec.h"

namespace laminar::kafka {

void RegisterKafkaSource(ConnectorRegistry& registry);

class KafkaSource : public SourceConnector {
 public:
  // Fewer messages than this decode on the poll thread alone: handing work to the
  // background decoder costs a few microseconds.
  static constexpr size_t kMinSplitMessages = 256;

  KafkaSource();
  ~KafkaSource() override;

  arrow::Status Open(const ConnectorConfig& config) override;
  // The options and the librdkafka consumer configuration they make.
  arrow::Status CheckConfig(const ConnectorConfig& config) const override;
  std::shared_ptr<arrow::Schema> schema() const override { return schema_; }
  arrow::Result<std::optional<SourceBatch>> PollBatch(int64_t max_records, std::chrono::milliseconds timeout) override;
  SourceCheckpoint Checkpoint() const override;
  arrow::Status Restore(const SourceCheckpoint& checkpoint) override;
  // Commits the offsets of the checkpoint taken (or restored) last to the group.
  arrow::Status OnCheckpointCommitted(uint64_t epoch) override;
  arrow::Status SetReplayEnd(const std::optional<SourceCheckpoint>& end) override;
  void SetBackpressureProbe(std::function<double()> fill) override { fill_probe_ = std::move(fill); }
  bool ReplayReachedEnd() const override;
  HealthStatus Health() const override;
  ConnectorMetrics Metrics() const override;
  arrow::Status Close() override;

  const KafkaSourceOptions& options() const { return options_; }
  std::set<TopicPartition> assigned() const { return tracker_.assigned(); }
  // Assignments and revocations seen so far.
  int64_t rebalances() const { return tracker_.rebalances(); }
  // Messages of the last poll decoded but not yet returned (decode.threads = 2).
  size_t held_messages() const;

  // For an exactly-once Kafka sink fed by this source: the group's identity (member and
  // generation, so a zombie member is fenced) and the positions the epoch at the cut ends
  // at (the replay's end while replaying), for partitions this member still holds. The
  // sink commits them inside its transaction, so the group's offsets move exactly when the
  // epoch's messages become visible and a member taking a partition over after a crash
  // starts right after the last committed epoch. Null list when there is nothing to commit.
  std::pair<GroupMetadataHandle, PartitionList> OffsetsForTransaction() const;

  // For a sink that stores this source's offsets atomically with its output (Delta): the
  // partitions this member read in the epoch at the cut (the replay's epoch while
  // replaying), each with its next offset and where this member began reading it in that
  // epoch (nullopt: not known). Called from the sink's pre-commit on the driver thread.
  struct EpochRead {
    TopicPartition tp;
    int64_t next = 0;
    std::optional<int64_t> from;
  };
  std::vector<EpochRead> OffsetsOfEpoch() const;
  // The next offsets such a sink holds for partitions of this group (absent: none). A
  // partition assigned, restored or replayed starts at the largest of its own position, the
  // group's committed offset and this. Called on the poll thread (rebalances) and the
  // driver thread (restore); must be thread-safe.
  using StoredOffsetsReader = std::function<arrow::Result<Positions>(const std::vector<TopicPartition>&)>;
  void ReadStoredOffsetsFrom(StoredOffsetsReader reader) { stored_offsets_ = std::move(reader); }

 private:
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                          void* opaque);
  void HandleRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  // Sets .offset of each entry: the tracked position, else the position this member
  // started it at before, else startup.mode's, resolved to a concrete offset where it can.
  arrow::Status ResolveStart(rd_kafka_topic_partition_list_t* partitions);
  // Raises the positions known for `partitions` (all but the `unknown` indices) to the
  // group's committed offsets where those are further.
  arrow::Status CatchUpWithGroup(rd_kafka_topic_partition_list_t* partitions, const std::vector<int>& unknown);
  // With a sink storing offsets (ReadStoredOffsetsFrom): raises the known positions to the
  // sink's offsets where those are further, and starts the `unknown` partitions the sink
  // holds offsets for there (removing them from `unknown`).
  arrow::Status CatchUpWithSink(rd_kafka_topic_partition_list_t* partitions, std::vector<int>* unknown);
  arrow::Status Seek(const std::vector<TopicPartition>& partitions);
  void PauseAtReplayEnd(const TopicPartition& tp);
  // Commits `positions` to the group and waits for the answer.
  arrow::Status CommitToGroup(const Positions& positions);
  // Whether the group's rebalance protocol is COOPERATIVE (incremental assign/unassign).
  bool Cooperative();
  // Hands revoked partitions back to the group (the rebalance completes) and forgets them.
  void Release(const std::vector<TopicPartition>& partitions);
  // Revoked partitions whose rows sit in the open epoch: released once `positions` (the
  // checkpoint that covers those rows) is committed to the group, so the next owner starts
  // exactly after them.
  // With `with_owned`, the owned partitions' offsets go in the same commit.
  arrow::Status CommitAndReleaseRevoked(const Positions& positions, bool with_owned);
  // Polled messages on their way to rows (kafka_source.cc).
  struct PreparedBatch;
  // The records of `messages` for the decoder, and the bookkeeping Finish needs.
  std::unique_ptr<PreparedBatch> Prepare(std::vector<MessageHandle> messages) const;
  // Prepare for a batch to be held: checked against the tracker as it is now.
  std::unique_ptr<PreparedBatch> PrepareToHold(std::vector<MessageHandle> messages, bool from_full_poll) const;
  // Routes the decode errors, adds metadata columns and event time, and counts the
  // batch's messages as read.
  arrow::Result<std::optional<SourceBatch>> Finish(PreparedBatch& batch, serde::DecodedBatch decoded);
  // PollBatch without the recovery from its errors.
  arrow::Result<std::optional<SourceBatch>> PollAndDecode(int64_t max_records, std::chrono::milliseconds timeout);
  // Returns the held batch (waiting for its decode), holding `next` and starting its decode.
  arrow::Result<std::optional<SourceBatch>> ReturnPending(std::unique_ptr<PreparedBatch> next);
  // The held messages, undecoded (waits for the background decoder to let go of them).
  std::vector<MessageHandle> TakePending();
  void DropPending();
  // Backpressure and alignment: pauses or resumes fetching of every held partition, still
  // polling so the group keeps the member.
  void UpdateFetchPause();
  void SetFetchPaused(bool paused);
  // Event times of the rows (milliseconds; nullopt for a null), in row order.
  std::vector<std::optional<int64_t>> EventTimes(const arrow::RecordBatch& batch,
                                                 const std::vector<int64_t>& message_timestamps) const;
  // Feeds the watermark tracker and alignment with the batch's rows, dropping rows past the
  // alignment bound in drop-excess mode. `row_partitions` and `row_timestamps` are per row.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> TrackEventTime(std::shared_ptr<arrow::RecordBatch> batch,
                                                                     const std::vector<TopicPartition>& row_partitions,
                                                                     const std::vector<int64_t>& row_timestamps);
  void PublishWatermark();

  ConnectorConfig config_;
  KafkaSourceOptions options_;
  std::string where_;
  std::shared_ptr<arrow::Schema> schema_;
  MetadataColumns metadata_;
  std::unique_ptr<dlq::ErrorRouter> router_;
  KafkaHandle consumer_;
  std::unique_ptr<serde::RecordDecoder> decoder_;
  std::unique_ptr<serde::BackgroundDecoder> background_;  // decode.threads = 2
  // Polled, decoded or decoding, not yet returned. Declared after the consumer and the
  // background decoder, so it goes first: its messages before the consumer, its records
  // before the thread that may read them has stopped.
  std::unique_ptr<PreparedBatch> pending_;

  OffsetTracker tracker_;
  Positions started_at_;                  // where this member first started each partition
  mutable Positions last_checkpoint_;     // what OnCheckpointCommitted commits
  std::optional<Positions> replay_end_;
  std::set<TopicPartition> paused_;
  std::vector<TopicPartition> releasing_;  // revoked, waiting for a committed checkpoint
  Positions committed_;                    // what the group holds, as far as this member knows
  // Where this member began reading each partition in the open epoch, and in the epoch at
  // the last cut (for OffsetsOfEpoch).
  mutable Positions epoch_from_;
  mutable Positions cut_from_;
  StoredOffsetsReader stored_offsets_;
  bool closing_ = false;
  bool cooperative_ = true;  // the protocol last seen (librdkafka answers NULL out of a group)
  arrow::Status callback_error_;          // raised inside the rebalance callback, returned by PollBatch

  std::function<double()> fill_probe_;
  bool backpressure_ = false;     // the queue filled past the high mark, not yet below the low one
  bool ahead_of_alignment_ = false;
  bool fetch_paused_ = false;     // held partitions are paused for one of the two
  std::unique_ptr<PartitionWatermarks> watermarks_;
  int event_time_index_ = -1;     // column of event.time.column, -1: message timestamps
  std::shared_ptr<AlignmentGroup> alignment_;
  int alignment_member_ = -1;

  std::atomic<int64_t> watermark_ms_{INT64_MIN};  // for Metrics; INT64_MIN: none yet
  std::atomic<int> idle_partitions_{0};
  std::atomic<int64_t> watermark_advances_{0};
  std::atomic<int64_t> idle_transitions_{0};
  std::atomic<bool> paused_for_backpressure_{false};
  std::atomic<int64_t> backpressure_pauses_{0};
  std::atomic<int64_t> alignment_pauses_{0};
  std::atomic<int64_t> alignment_dropped_{0};
  std::atomic<uint64_t> records_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> consumer_errors_{0};
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> commit_failures_{0};
  std::atomic<bool> fatal_{false};
};

}  // namespace laminar::kafka
