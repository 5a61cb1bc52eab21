// The `kafka` sink: each row of a RecordBatch becomes one message (value from the format's
// encoder, key from `key.column`), enqueued as a whole batch with librdkafka; delivery
// reports come back through the delivery callback, served by rd_kafka_poll/flush on the
// sink's thread (the runtime's driver thread), so no per-message round trip.
//
// Exactly-once (delivery.guarantee = exactly-once), one Kafka transaction per epoch:
//   Open          init_transactions: fences any earlier producer with this
//                 transactional.id; the broker finishes or aborts its open transaction.
//                 Then reads the epoch marker (kafka_epoch_marker.h): the last committed epoch.
//   BeginEpoch    begin_transaction.
//   WriteBatch    produce into the transaction (invisible to read_committed readers).
//   PreCommit     flush (every message acknowledged or the epoch fails), then record the
//                 epoch in the marker inside the transaction.
//   CommitEpoch   commit_transaction. For an epoch this instance did not prepare (after a
//                 restart), or whose commit failed fatally, the marker decides: committed
//                 -> no-op; not committed -> kEpochLost, because Kafka cannot re-commit a
//                 dead producer's transaction; the runtime replays the epoch into this sink.
//   RollbackEpoch abort_transaction (or a new producer, which aborts it by fencing).
// At-least-once: the idempotent producer without transactions; Flush at each checkpoint.
//
// Dead letters (dlq.topic): a row the sink cannot deliver for a reason of its own (its
// value cannot be encoded, its key cannot be rendered, librdkafka refuses the message as
// too large; at-least-once also a message the broker refuses for good even when sent
// alone) goes to a second producer of its own (ForMessages, kafka_dead_letter.h for its
// configuration and the message), and the other rows flow on. Exactly-once: that producer
// has a transactional.id of its own and takes part in the same epochs; its transaction is
// pre-committed after this one's and committed first, so rows never become visible without
// their dead letters, and a replayed epoch skips the producer that already committed it.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <map>
#include <string>
#include <vector>

#include "laminar/core/connector.h"
#include "laminar/core/registry.h"
#include "laminar/kafka/kafka_client.h"
#include "laminar/kafka/kafka_dead_letter.h"
#include "laminar/kafka/kafka_epoch_marker.h"
#include "laminar/kafka/kafka_message.h"
#include "laminar/kafka/kafka_partitioner.h"
#include "laminar/kafka/kafka_sink_options.h"
#include "laminar/serde/codec.h"

namespace laminar::kafka {

class KafkaSource;

void RegisterKafkaSink(ConnectorRegistry& registry);

// The transactional producer's states, changed only through IsValidTxnTransition.
enum class TxnState {
  kNone,       // no producer, or at-least-once
  kReady,      // init_transactions done, no transaction open
  kOpen,       // begin_transaction done: the epoch's messages go in
  kPrepared,   // flushed and the epoch marker staged: only commit or abort remain
  kAbortable,  // an error that needs abort_transaction before anything else
  kFatal,      // the producer is unusable (fenced, fatal error): a new one is needed
};
const char* TxnStateName(TxnState state);
bool IsValidTxnTransition(TxnState from, TxnState to);

class KafkaSink : public SinkConnector {
 public:
  KafkaSink();
  // Messages built by `mapper` instead of the format encoder and key.column (dead letters).
  explicit KafkaSink(std::unique_ptr<KafkaMessageMapper> mapper);
  ~KafkaSink() override;
  // A producer given whole messages (WriteMessages), never rows: a sink's dead-letter
  // producer. Open it with any schema (MakeSinkDeadLetterProducerConfig's config).
  static std::unique_ptr<KafkaSink> ForMessages();

  arrow::Status Open(const ConnectorConfig& config) override;
  // The options and the librdkafka producer configuration they make.
  arrow::Status CheckConfig(const ConnectorConfig& config) const override;
  SinkCapabilities capabilities() const override;
  arrow::Status BeginEpoch(uint64_t epoch) override;
  arrow::Result<WriteResult> WriteBatch(const std::shared_ptr<arrow::RecordBatch>& batch) override;
  arrow::Status PreCommit(uint64_t epoch) override;
  arrow::Status CommitEpoch(uint64_t epoch) override;
  arrow::Status RollbackEpoch(uint64_t epoch) override;
  arrow::Status Flush() override;
  // Exactly-once: the epoch marker (read at Open, advanced by each commit).
  arrow::Result<std::optional<uint64_t>> LastCommittedEpoch() override;
  HealthStatus Health() const override;
  ConnectorMetrics Metrics() const override;
  arrow::Status Close() override;

  // Exactly-once: every transaction also commits `source`'s offsets for the epoch to its
  // consumer group (Kafka's consume-transform-produce), so the group's offsets and this
  // sink's output move together. `source` must outlive this sink's use.
  void CommitOffsetsOf(const KafkaSource* source) { offsets_source_ = source; }

  // Enqueues `messages` in the current epoch (exactly-once: in its transaction); nothing
  // for an epoch this producer has committed already (skipping_epoch()).
  arrow::Status WriteMessages(const std::vector<KafkaMessage>& messages);
  // Exactly-once: BeginEpoch found the epoch committed by this producer already (a replay
  // for the sink's other producer): nothing is produced or staged for it.
  bool skipping_epoch() const { return skip_epoch_; }
  // The dead-letter producer (dlq.topic), or null.
  KafkaSink* dead_letter_producer() const { return dlq_.get(); }
  // Dead letters written: of committed epochs (exactly-once) or of successful flushes.
  uint64_t dlq_records() const { return dlq_records_.load(); }

  const KafkaSinkOptions& options() const { return options_; }
  TxnState txn_state() const { return state_.load(); }
  int32_t partition_count() const { return partitions_; }

 private:
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);
  // A transactional call of the open epoch failed: the transaction can only be aborted
  // (kAbortable), or the producer is unusable (kFatal, also when fenced).
  void NoteTransactionFailure(const arrow::Status& status);

  arrow::Status TransitionTo(TxnState next);
  // A new producer (and init_transactions in exactly-once): after a fatal error, or at Open.
  arrow::Status CreateProducer();
  arrow::Status AbortOpenTransaction(const std::string& why);
  // Whether `epoch` is committed according to the marker; refreshes last_committed_.
  arrow::Result<bool> MarkerCovers(uint64_t epoch);
  // Waits for every enqueued message; the first delivery failure since the last call.
  arrow::Status FlushAndCheck(const std::string& what);
  arrow::Status RefreshPartitionCount(bool force);
  // Enqueues `messages`. A message librdkafka refuses for a reason of its own (too large)
  // is added to `refused` when it is not null (index into `messages`, the error) instead
  // of failing; `rows` (when not null) gives each message's row for error texts.
  arrow::Status Produce(const std::vector<KafkaMessage>& messages, int64_t* enqueued_bytes,
                        std::vector<std::pair<size_t, SinkDeadLetter>>* refused = nullptr,
                        const std::vector<int64_t>* rows = nullptr, void* opaque = nullptr);
  // Exactly-once: the open transaction, begun if the runtime did not; or an error.
  arrow::Status ReadyToProduce();
  // This producer's part of the epoch calls (BeginEpoch etc. add the dead-letter producer's).
  arrow::Status BeginOwn(uint64_t epoch);
  arrow::Status PreCommitOwn(uint64_t epoch);
  arrow::Status CommitOwn(uint64_t epoch);
  arrow::Status RollbackOwn(uint64_t epoch);
  // Sends `letters` to the dead-letter producer (counted for the open epoch).
  arrow::Status DeadLetter(std::vector<SinkDeadLetter> letters);
  // At-least-once: the messages the broker refused for good are sent again one at a time
  // (the broker refuses a whole batch for one bad record); what it refuses alone too is
  // dead-lettered.
  arrow::Status RetryRefusedAlone();

  ConnectorConfig config_;
  KafkaSinkOptions options_;
  std::string where_;
  std::unique_ptr<serde::RecordEncoder> encoder_;
  int key_index_ = -1;
  std::unique_ptr<KafkaMessageMapper> mapper_;  // replaces encoder_ and key_index_ when set

  KafkaHandle producer_;  // destroyed after topic_ (declared before it)
  TopicHandle topic_;
  std::unique_ptr<EpochMarker> marker_;
  const KafkaSource* offsets_source_ = nullptr;
  Partitioner partitioner_{PartitionerKind::kKeyHash};
  int32_t partitions_ = 0;
  std::chrono::steady_clock::time_point partitions_at_{};

  std::atomic<TxnState> state_{TxnState::kNone};
  uint64_t epoch_ = 0;
  std::optional<uint64_t> last_committed_;
  bool open_ = false;
  std::atomic<bool> fenced_{false};  // another producer owns the transactional.id: never fight back
  bool skip_epoch_ = false;          // see skipping_epoch()

  // dlq.topic
  std::unique_ptr<KafkaSink> dlq_;
  int64_t dlq_max_message_bytes_ = 1000000;  // the dead-letter producer's message.max.bytes
  uint64_t epoch_letters_ = 0;                // dead letters of the open epoch (or since the last flush)
  std::map<uint64_t, uint64_t> staged_letters_;  // pre-committed epoch -> its dead letters
  // At-least-once: messages the broker refused for good (delivery callback), with whether
  // they were sent alone.
  std::vector<std::pair<SinkDeadLetter, bool>> refused_;

  // Delivery reports since the last FlushAndCheck (the callback runs on this thread,
  // inside rd_kafka_poll / rd_kafka_flush).
  int64_t delivery_failures_ = 0;
  std::string first_delivery_error_;
  rd_kafka_resp_err_t first_delivery_code_ = RD_KAFKA_RESP_ERR_NO_ERROR;

  // Read by Metrics()/Health() on the metrics thread.
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> delivered_bytes_{0};
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> epochs_committed_{0};
  std::atomic<uint64_t> epochs_rolled_back_{0};
  std::atomic<uint64_t> epochs_lost_{0};
  std::atomic<uint64_t> queue_full_waits_{0};
  std::atomic<uint64_t> dlq_records_{0};
};

}  // namespace laminar::kafka
