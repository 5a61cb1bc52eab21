#include "laminar/kafka/kafka_sink.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "laminar/kafka/kafka_avro_registry.h"
#include "laminar/kafka/kafka_source.h"
#include "laminar/runtime/fault_points.h"

namespace laminar::kafka {

namespace {

constexpr auto kMetadataRefresh = std::chrono::seconds(30);
constexpr auto kCloseTimeout = std::chrono::seconds(10);

// A view of row i's key bytes; nullopt for a null value.
class KeyColumn {
 public:
  static arrow::Result<KeyColumn> Make(const std::shared_ptr<arrow::Array>& column) {
    KeyColumn key;
    switch (column->type_id()) {
      case arrow::Type::STRING:
      case arrow::Type::BINARY:
        key.binary_ = std::static_pointer_cast<arrow::BinaryArray>(column);
        return key;
      case arrow::Type::LARGE_STRING:
      case arrow::Type::LARGE_BINARY:
        key.large_ = std::static_pointer_cast<arrow::LargeBinaryArray>(column);
        return key;
      default: {
        // Numbers, dates, decimals...: their text, as a Java StringSerializer would send it.
        ARROW_ASSIGN_OR_RAISE(auto cast, arrow::compute::Cast(*column, arrow::utf8()));
        key.binary_ = std::static_pointer_cast<arrow::BinaryArray>(cast);
        return key;
      }
    }
  }

  std::optional<std::string_view> At(int64_t row) const {
    if (binary_) {
      if (binary_->IsNull(row)) return std::nullopt;
      return binary_->GetView(row);
    }
    if (large_->IsNull(row)) return std::nullopt;
    return large_->GetView(row);
  }

 private:
  std::shared_ptr<arrow::BinaryArray> binary_;
  std::shared_ptr<arrow::LargeBinaryArray> large_;
};

}  // namespace

const char* TxnStateName(TxnState state) {
  switch (state) {
    case TxnState::kNone: return "None";
    case TxnState::kReady: return "Ready";
    case TxnState::kOpen: return "Open";
    case TxnState::kPrepared: return "Prepared";
    case TxnState::kAbortable: return "Abortable";
    case TxnState::kFatal: return "Fatal";
  }
  return "?";
}

bool IsValidTxnTransition(TxnState from, TxnState to) {
  if (to == TxnState::kFatal) return true;  // any call may find the producer fenced
  switch (from) {
    case TxnState::kNone: return to == TxnState::kReady;
    case TxnState::kReady: return to == TxnState::kOpen || to == TxnState::kNone;
    case TxnState::kOpen:
      return to == TxnState::kPrepared || to == TxnState::kAbortable || to == TxnState::kReady || to == TxnState::kNone;
    // Prepared: commit (-> Ready), abort (-> Ready), or an abortable commit error.
    case TxnState::kPrepared: return to == TxnState::kReady || to == TxnState::kAbortable || to == TxnState::kNone;
    case TxnState::kAbortable: return to == TxnState::kReady || to == TxnState::kNone;
    case TxnState::kFatal: return to == TxnState::kNone;
  }
  return false;
}

void RegisterKafkaSink(ConnectorRegistry& registry) {
  registry.RegisterSink(ConnectorInfo{"kafka",
                                      "Rows as messages of one Kafka topic; exactly-once through one transaction per "
                                      "epoch, Java-compatible key placement",
                                      KafkaSinkKeySpecs()},
                        [] { return std::make_unique<KafkaSink>(); });
}

KafkaSink::KafkaSink() = default;

KafkaSink::KafkaSink(std::unique_ptr<KafkaMessageMapper> mapper) : mapper_(std::move(mapper)) {}

KafkaSink::~KafkaSink() { (void)Close(); }

arrow::Status KafkaSink::TransitionTo(TxnState next) {
  const TxnState current = state_.load();
  if (!IsValidTxnTransition(current, next)) {
    return arrow::Status::Invalid(where_, ": transaction state ", TxnStateName(current), " -> ", TxnStateName(next),
                                  " is not allowed");
  }
  state_.store(next);
  return arrow::Status::OK();
}

SinkCapabilities KafkaSink::capabilities() const {
  SinkCapabilities caps;
  caps.WithIdempotent().WithPartitioned();
  if (options_.exactly_once) caps.WithExactlyOnce().WithTwoPhaseCommit();
  if (options_.registry) caps.WithSchemaEvolution();
  return caps;
}

void KafkaSink::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* sink = static_cast<KafkaSink*>(opaque);
  if (message->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || message->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
    return;  // dropped by our own abort_transaction: not a delivery failure of a live epoch
  }
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    sink->delivered_.fetch_add(1, std::memory_order_relaxed);
    sink->delivered_bytes_.fetch_add(message->len, std::memory_order_relaxed);
    return;
  }
  sink->failed_.fetch_add(1, std::memory_order_relaxed);
  if (sink->delivery_failures_++ == 0) {
    sink->first_delivery_code_ = message->err;
    sink->first_delivery_error_ = "message to " + sink->options_.topic + " [" + std::to_string(message->partition) +
                                  "] not delivered: " + rd_kafka_err2str(message->err) + " (" +
                                  rd_kafka_err2name(message->err) + ")";
  }
}

arrow::Status KafkaSink::CheckConfig(const ConnectorConfig& config) const {
  ARROW_ASSIGN_OR_RAISE(auto options, KafkaSinkOptions::FromConfig(config));
  return options.producer.MakeConf(config.Where()).status();
}

arrow::Status KafkaSink::Open(const ConnectorConfig& config) {
  config_ = config;
  where_ = config.Where();
  ARROW_ASSIGN_OR_RAISE(options_, KafkaSinkOptions::FromConfig(config));
  if (!config.schema()) return ConfigError(where_, "the sink needs the schema of its input");
  if (options_.format == "debezium") {
    return ConfigError(where_, "option 'format' = 'debezium' can only be read, not written; use json, csv, avro or raw");
  }
  if (mapper_) {
    ARROW_RETURN_NOT_OK(mapper_->Bind(*config.schema()));
  } else {
    ARROW_ASSIGN_OR_RAISE(encoder_, MakeKafkaEncoder(config, config.schema()));
  }
  if (options_.key_column) {
    key_index_ = config.schema()->GetFieldIndex(*options_.key_column);
    if (key_index_ < 0) {
      return ConfigError(where_, "option 'key.column' = '" + *options_.key_column + "' is not a column of the input (" +
                                     config.schema()->ToString() + ")");
    }
  }
  partitioner_ = Partitioner(options_.partitioner);
  spdlog::debug("{}: producer {}", where_, options_.producer.DisplayRedacted());
  ARROW_RETURN_NOT_OK(CreateProducer());
  ARROW_RETURN_NOT_OK(RefreshPartitionCount(/*force=*/true));
  if (options_.exactly_once) {
    marker_ = std::make_unique<EpochMarker>(options_.marker_group, options_.topic, options_.connection);
    auto marker = marker_->Read(options_.transaction_timeout);
    if (!marker.ok()) return marker.status().WithMessage(where_, ": ", marker.status().message());
    last_committed_ = *marker;
    spdlog::info("{}: transactional.id '{}', last committed epoch {}", where_, options_.transactional_id,
                 last_committed_ ? std::to_string(*last_committed_) : "none");
  }
  open_ = true;
  return arrow::Status::OK();
}

arrow::Status KafkaSink::CreateProducer() {
  if (fenced_) {
    return MakeError(ErrorKind::kFenced, "kafka",
                     where_ + ": another producer took over transactional.id '" + options_.transactional_id +
                         "'; this one stops rather than fence it back");
  }
  topic_.reset();
  producer_.reset();
  state_.store(TxnState::kNone);
  ARROW_ASSIGN_OR_RAISE(auto conf, options_.producer.MakeConf(where_));
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaSink::OnDelivery);
  InstallLogging(conf.get());
  ARROW_ASSIGN_OR_RAISE(producer_, NewClient(RD_KAFKA_PRODUCER, std::move(conf), where_));
  topic_.reset(rd_kafka_topic_new(producer_.get(), options_.topic.c_str(), nullptr));
  if (!topic_) return arrow::Status::Invalid(where_, ": cannot create a handle for topic '", options_.topic, "'");
  delivery_failures_ = 0;
  first_delivery_error_.clear();
  if (options_.exactly_once) {
    // Fences every earlier producer with this transactional.id; the broker completes or
    // aborts whatever transaction it left open before this returns.
    // In one-second slices (a timed-out call may be repeated), so that a refused login or
    // certificate stops the sink at once instead of after transaction.timeout.ms.
    const auto deadline = std::chrono::steady_clock::now() + options_.transaction_timeout;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      arrow::Status status = ErrorObjectStatus(
          rd_kafka_init_transactions(producer_.get(), TimeoutMs(std::clamp(left, std::chrono::milliseconds(1),
                                                                            std::chrono::milliseconds(1000)))),
          where_ + ": init_transactions('" + options_.transactional_id + "')");
      if (status.ok()) break;
      rd_kafka_poll(producer_.get(), 0);  // serves the error callback, which records refusals
      if (auto security = SecurityFailureOf(producer_.get(), where_)) return *security;
      if (!IsRetryable(status) || left <= std::chrono::milliseconds(1000)) return status;
    }
    return TransitionTo(TxnState::kReady);
  }
  return arrow::Status::OK();
}

arrow::Status KafkaSink::RefreshPartitionCount(bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - partitions_at_ < kMetadataRefresh) return arrow::Status::OK();
  auto count = PartitionCount(producer_.get(), options_.topic, std::min<std::chrono::milliseconds>(
                                                                   options_.delivery_timeout, std::chrono::seconds(30)));
  if (!count.ok()) {
    if (partitions_ > 0 && IsRetryable(count.status())) return arrow::Status::OK();  // keep the last known count
    return count.status().WithMessage(where_, ": ", count.status().message());
  }
  partitions_ = *count;
  partitions_at_ = now;
  return arrow::Status::OK();
}

arrow::Status KafkaSink::AbortOpenTransaction(const std::string& why) {
  const TxnState state = state_.load();
  if (state == TxnState::kReady || state == TxnState::kNone) return arrow::Status::OK();
  if (state != TxnState::kFatal) {
    auto status = ErrorObjectStatus(rd_kafka_abort_transaction(producer_.get(), TimeoutMs(options_.transaction_timeout)),
                                    where_ + ": abort_transaction (" + why + ")");
    if (status.ok()) {
      delivery_failures_ = 0;
      first_delivery_error_.clear();
      return TransitionTo(TxnState::kReady);
    }
    spdlog::warn("{}; replacing the producer, which aborts the transaction", status.ToString());
  }
  // A new producer with the same transactional.id fences this one and aborts its transaction.
  return CreateProducer();
}

arrow::Status KafkaSink::BeginEpoch(uint64_t epoch) {
  epoch_ = epoch;
  partitioner_.Reset();
  if (partitioner_.kind() != PartitionerKind::kKeyHash) ARROW_RETURN_NOT_OK(RefreshPartitionCount(false));
  if (!options_.exactly_once) return arrow::Status::OK();
  if (state_.load() == TxnState::kFatal || state_.load() == TxnState::kNone) ARROW_RETURN_NOT_OK(CreateProducer());
  ARROW_RETURN_NOT_OK(AbortOpenTransaction("a new epoch begins"));
  ARROW_RETURN_NOT_OK(ErrorObjectStatus(rd_kafka_begin_transaction(producer_.get()),
                                        where_ + ": begin_transaction for epoch " + std::to_string(epoch)));
  return TransitionTo(TxnState::kOpen);
}

arrow::Status KafkaSink::Produce(const std::vector<KafkaMessage>& messages, int64_t* enqueued_bytes) {
  const auto deadline_budget = options_.delivery_timeout;
  std::vector<rd_kafka_vu_t> vus;
  for (size_t row = 0; row < messages.size(); ++row) {
    const KafkaMessage& message = messages[row];
    if (vus.size() < 6 + message.headers.size()) vus.resize(6 + message.headers.size());
    size_t n = 0;
    vus[n].vtype = RD_KAFKA_VTYPE_RKT;
    vus[n++].u.rkt = topic_.get();
    if (message.value) {
      vus[n].vtype = RD_KAFKA_VTYPE_VALUE;
      vus[n].u.mem.ptr = const_cast<char*>(message.value->data());
      vus[n++].u.mem.size = message.value->size();
    }
    vus[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vus[n++].u.i = RD_KAFKA_MSG_F_COPY;
    if (message.key) {
      vus[n].vtype = RD_KAFKA_VTYPE_KEY;
      vus[n].u.mem.ptr = const_cast<char*>(message.key->data());
      vus[n++].u.mem.size = message.key->size();
    }
    if (auto partition = partitioner_.Next(partitions_)) {
      vus[n].vtype = RD_KAFKA_VTYPE_PARTITION;
      vus[n++].u.i32 = *partition;
    }
    if (message.timestamp_ms > 0) {
      vus[n].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
      vus[n++].u.i64 = message.timestamp_ms;
    }
    for (const auto& [name, header_value] : message.headers) {  // librdkafka copies them
      vus[n].vtype = RD_KAFKA_VTYPE_HEADER;
      vus[n].u.header.name = name.c_str();
      vus[n].u.header.val = header_value ? header_value->data() : nullptr;
      vus[n++].u.header.size = header_value ? static_cast<ssize_t>(header_value->size()) : 0;
    }
    std::chrono::steady_clock::time_point deadline{};
    while (true) {
      rd_kafka_error_t* error = rd_kafka_produceva(producer_.get(), vus.data(), n);
      if (error == nullptr) break;
      if (rd_kafka_error_code(error) != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        return ErrorObjectStatus(error, where_ + ": produce row " + std::to_string(row));
      }
      rd_kafka_error_destroy(error);
      // The local queue is full: serve delivery reports until room frees up.
      const auto now = std::chrono::steady_clock::now();
      if (deadline == std::chrono::steady_clock::time_point{}) deadline = now + deadline_budget;
      if (now >= deadline) {
        return TransientError("librdkafka", where_ + ": the producer queue stayed full for " +
                                                std::to_string(deadline_budget.count()) + " ms");
      }
      queue_full_waits_.fetch_add(1, std::memory_order_relaxed);
      rd_kafka_poll(producer_.get(), 10);
    }
    *enqueued_bytes += message.value ? static_cast<int64_t>(message.value->size()) : 0;
  }
  rd_kafka_poll(producer_.get(), 0);  // serve reports that are already in
  return arrow::Status::OK();
}

arrow::Result<WriteResult> KafkaSink::WriteBatch(const std::shared_ptr<arrow::RecordBatch>& batch) {
  if (!open_) return arrow::Status::Invalid(where_, ": write before open");
  if (options_.exactly_once) {
    if (state_.load() == TxnState::kReady) ARROW_RETURN_NOT_OK(BeginEpoch(epoch_));  // the runtime did not begin
    if (state_.load() != TxnState::kOpen) {
      return NeedsAbortError("kafka", where_ + ": no open transaction for epoch " + std::to_string(epoch_) +
                                          " (state " + TxnStateName(state_.load()) + ")");
    }
  }
  if (auto fatal = FatalErrorOf(producer_.get(), where_)) {
    (void)TransitionTo(TxnState::kFatal);
    fenced_ = fenced_ || KindOf(*fatal) == ErrorKind::kFenced;
    return *fatal;
  }
  // The messages' keys and values point into these two (a cast key column is a new array).
  std::vector<std::string> values;
  std::optional<KeyColumn> keys;
  std::vector<KafkaMessage> messages;
  messages.reserve(static_cast<size_t>(batch->num_rows()));
  if (mapper_) {
    ARROW_RETURN_NOT_OK(mapper_->Map(*batch, &messages));
  } else {
    values.reserve(static_cast<size_t>(batch->num_rows()));
    ARROW_RETURN_NOT_OK(encoder_->Encode(*batch, &values));
    if (key_index_ >= 0) {
      ARROW_ASSIGN_OR_RAISE(keys, KeyColumn::Make(batch->column(key_index_)));
    }
    for (size_t row = 0; row < values.size(); ++row) {
      KafkaMessage& message = messages.emplace_back();
      message.value = values[row];
      if (keys) message.key = keys->At(static_cast<int64_t>(row));
    }
  }
  if (static_cast<int64_t>(messages.size()) != batch->num_rows()) {
    return arrow::Status::Invalid(where_, ": ", mapper_ ? "the mapper" : "the encoder", " made ", messages.size(),
                                  " messages of ", batch->num_rows(), " rows");
  }
  int64_t bytes = 0;
  auto status = Produce(messages, &bytes);
  if (!status.ok()) {
    if (options_.exactly_once && KindOf(status) != ErrorKind::kFatal && KindOf(status) != ErrorKind::kFenced) {
      (void)TransitionTo(TxnState::kAbortable);
    }
    if (bytes > 0 || !IsRetryable(status)) {
      // Part of the batch is already queued: retrying it would duplicate rows, so the
      // epoch must go (exactly-once aborts the transaction; at-least-once replays).
      return NeedsAbortError("kafka", status.message());
    }
    return status;
  }
  return WriteResult{batch->num_rows(), bytes};
}

arrow::Status KafkaSink::FlushAndCheck(const std::string& what) {
  // A little past delivery.timeout.ms, so that messages that expire are reported as such.
  const rd_kafka_resp_err_t err =
      rd_kafka_flush(producer_.get(), TimeoutMs(options_.delivery_timeout + std::chrono::seconds(5)));
  if (auto fatal = FatalErrorOf(producer_.get(), where_)) {
    (void)TransitionTo(TxnState::kFatal);
    fenced_ = fenced_ || KindOf(*fatal) == ErrorKind::kFenced;
    return *fatal;
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_poll(producer_.get(), 0);
    if (auto security = SecurityFailureOf(producer_.get(), where_)) {
      (void)TransitionTo(TxnState::kFatal);
      return *security;
    }
    return TransientError("librdkafka", where_ + ": " + what + ": " + std::to_string(rd_kafka_outq_len(producer_.get())) +
                                            " messages still unacknowledged after delivery.timeout.ms (" +
                                            std::to_string(options_.delivery_timeout.count()) + " ms)",
                          static_cast<int>(err));
  }
  if (delivery_failures_ > 0) {
    std::string message = where_ + ": " + what + ": " + std::to_string(delivery_failures_) +
                          " messages failed; first: " + first_delivery_error_;
    const auto code = first_delivery_code_;
    delivery_failures_ = 0;
    first_delivery_error_.clear();
    return MakeError(KindOfResponse(code) == ErrorKind::kTransient ? ErrorKind::kTransient : ErrorKind::kFatal,
                     "librdkafka", std::move(message), static_cast<int>(code));
  }
  return arrow::Status::OK();
}

arrow::Status KafkaSink::Flush() {
  if (!producer_) return arrow::Status::OK();
  return FlushAndCheck("flush");
}

arrow::Status KafkaSink::PreCommit(uint64_t epoch) {
  if (!options_.exactly_once) return Flush();
  if (epoch != epoch_) {
    return arrow::Status::Invalid(where_, ": pre-commit of epoch ", epoch, " while in epoch ", epoch_);
  }
  // An epoch with no rows still records its marker, so a restart can tell it committed.
  if (state_.load() == TxnState::kReady) ARROW_RETURN_NOT_OK(BeginEpoch(epoch));
  if (state_.load() != TxnState::kOpen) {
    return NeedsAbortError("kafka", where_ + ": pre-commit of epoch " + std::to_string(epoch) + " in state " +
                                        TxnStateName(state_.load()));
  }
  if (auto status = FlushAndCheck("pre-commit of epoch " + std::to_string(epoch)); !status.ok()) {
    if (KindOf(status) != ErrorKind::kFatal && KindOf(status) != ErrorKind::kFenced) {
      (void)TransitionTo(TxnState::kAbortable);
      return NeedsAbortError("kafka", status.message());
    }
    return status;
  }
  runtime::FaultPoint("kafka.pre_commit.after_flush");
  if (auto status = marker_->Stage(producer_.get(), epoch, options_.transaction_timeout); !status.ok()) {
    NoteTransactionFailure(status);
    return status.WithMessage(where_, ": ", status.message());
  }
  runtime::FaultPoint("kafka.pre_commit.after_marker");
  if (offsets_source_ != nullptr) {
    auto [group, offsets] = offsets_source_->OffsetsForTransaction();
    if (offsets) {
      arrow::Status status = ErrorObjectStatus(
          rd_kafka_send_offsets_to_transaction(producer_.get(), offsets.get(), group.get(),
                                               TimeoutMs(options_.transaction_timeout)),
          where_ + ": committing the source's offsets of epoch " + std::to_string(epoch) + " in the transaction");
      if (!status.ok()) {
        // A member fenced by a newer generation lands here too: the epoch is aborted and its
        // partitions are read again by their current owner.
        NoteTransactionFailure(status);
        const bool unusable = KindOf(status) == ErrorKind::kFatal || KindOf(status) == ErrorKind::kFenced;
        return unusable ? status : NeedsAbortError("kafka", status.message());
      }
    }
  }
  return TransitionTo(TxnState::kPrepared);
}

void KafkaSink::NoteTransactionFailure(const arrow::Status& status) {
  const bool fenced = KindOf(status) == ErrorKind::kFenced;
  fenced_ = fenced_ || fenced;
  (void)TransitionTo(fenced || KindOf(status) == ErrorKind::kFatal ? TxnState::kFatal : TxnState::kAbortable);
}

arrow::Result<bool> KafkaSink::MarkerCovers(uint64_t epoch) {
  ARROW_ASSIGN_OR_RAISE(auto marker, marker_->Read(options_.transaction_timeout));
  if (marker && (!last_committed_ || *marker > *last_committed_)) last_committed_ = marker;
  return marker && *marker >= epoch;
}

arrow::Status KafkaSink::CommitEpoch(uint64_t epoch) {
  if (!options_.exactly_once) return Flush();
  if (last_committed_ && epoch <= *last_committed_) return arrow::Status::OK();  // committed before
  const TxnState state = state_.load();
  if (state == TxnState::kPrepared && epoch == epoch_) {
    runtime::FaultPoint("kafka.commit.before_commit_transaction");
    rd_kafka_error_t* error = rd_kafka_commit_transaction(producer_.get(), TimeoutMs(options_.transaction_timeout));
    if (error == nullptr) {
      last_committed_ = epoch;
      epochs_committed_.fetch_add(1);
      ARROW_RETURN_NOT_OK(TransitionTo(TxnState::kReady));
      runtime::FaultPoint("kafka.commit.after_commit_transaction");
      return arrow::Status::OK();
    }
    const bool retriable = rd_kafka_error_is_retriable(error);
    const bool abortable = rd_kafka_error_txn_requires_abort(error);
    auto status = ErrorObjectStatus(error, where_ + ": commit_transaction for epoch " + std::to_string(epoch));
    if (retriable) return status;  // commit_transaction may be called again
    if (abortable) {
      ARROW_RETURN_NOT_OK(TransitionTo(TxnState::kAbortable));
      ARROW_RETURN_NOT_OK(AbortOpenTransaction("commit failed"));
      epochs_lost_.fetch_add(1);
      return EpochLostError("kafka", status.message() + "; the transaction was aborted");
    }
    (void)TransitionTo(TxnState::kFatal);
    if (KindOf(status) == ErrorKind::kFenced) {
      // Another producer with this transactional.id started (a second copy of the
      // pipeline?); it aborted this transaction. Replacing the producer would fence that
      // one in turn, so stop instead.
      fenced_ = true;
      return status;
    }
    // Fatal otherwise: the outcome is unknown to this producer. A new one settles it
    // (init_transactions completes or aborts it) and the marker tells.
    spdlog::warn("{}; settling the transaction with a new producer", status.ToString());
  }
  if (state_.load() == TxnState::kFatal || state_.load() == TxnState::kNone) ARROW_RETURN_NOT_OK(CreateProducer());
  if (state_.load() != TxnState::kReady) {
    return arrow::Status::Invalid(where_, ": commit of epoch ", epoch, " in state ", TxnStateName(state_.load()),
                                  " (epoch ", epoch_, ")");
  }
  ARROW_ASSIGN_OR_RAISE(const bool committed, MarkerCovers(epoch));
  if (committed) {
    epochs_committed_.fetch_add(1);
    return arrow::Status::OK();
  }
  epochs_lost_.fetch_add(1);
  return EpochLostError("kafka", where_ + ": epoch " + std::to_string(epoch) +
                                     " was never committed and its transaction is gone (the producer that staged "
                                     "it was fenced; last committed epoch " +
                                     (last_committed_ ? std::to_string(*last_committed_) : std::string("none")) + ")");
}

arrow::Status KafkaSink::RollbackEpoch(uint64_t epoch) {
  if (!options_.exactly_once || !open_) return arrow::Status::OK();
  epochs_rolled_back_.fetch_add(1);
  if (state_.load() == TxnState::kReady) return arrow::Status::OK();
  return AbortOpenTransaction("rollback of epoch " + std::to_string(epoch));
}

arrow::Result<std::optional<uint64_t>> KafkaSink::LastCommittedEpoch() {
  if (!options_.exactly_once) return std::optional<uint64_t>();
  return last_committed_;
}

HealthStatus KafkaSink::Health() const {
  if (!open_) return HealthStatus();
  if (state_.load() == TxnState::kFatal) return HealthStatus::Unhealthy("producer failed; it is replaced at the next epoch");
  return HealthStatus::Healthy();
}

ConnectorMetrics KafkaSink::Metrics() const {
  ConnectorMetrics metrics;
  metrics.records_total = delivered_.load();
  metrics.bytes_total = delivered_bytes_.load();
  metrics.errors_total = failed_.load();
  metrics.AddCustom("epochs_committed", static_cast<double>(epochs_committed_.load()));
  metrics.AddCustom("epochs_rolled_back", static_cast<double>(epochs_rolled_back_.load()));
  metrics.AddCustom("epochs_lost", static_cast<double>(epochs_lost_.load()));
  metrics.AddCustom("queue_full_waits", static_cast<double>(queue_full_waits_.load()));
  return metrics;
}

arrow::Status KafkaSink::Close() {
  if (!producer_) return arrow::Status::OK();
  open_ = false;
  const TxnState state = state_.load();
  if (options_.exactly_once && state != TxnState::kReady && state != TxnState::kNone && state != TxnState::kFatal) {
    // Nothing is committed on close; an open transaction is aborted (a restart would fence it anyway).
    if (auto status = ErrorObjectStatus(rd_kafka_abort_transaction(producer_.get(), TimeoutMs(kCloseTimeout)),
                                        where_ + ": abort on close");
        !status.ok()) {
      spdlog::warn("{}", status.ToString());
    }
  } else if (!options_.exactly_once) {
    if (rd_kafka_flush(producer_.get(), TimeoutMs(kCloseTimeout)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("{}: {} messages undelivered at close", where_, rd_kafka_outq_len(producer_.get()));
    }
  }
  state_.store(TxnState::kNone);
  topic_.reset();
  producer_.reset();
  marker_.reset();
  return arrow::Status::OK();
}

}  // namespace laminar::kafka
