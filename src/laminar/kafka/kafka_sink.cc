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

// Given whole messages, never rows (a sink's dead-letter producer).
class MessagesOnly : public KafkaMessageMapper {
 public:
  arrow::Status Bind(const arrow::Schema&) override { return arrow::Status::OK(); }
  arrow::Status Map(const arrow::RecordBatch&, std::vector<KafkaMessage>*) override {
    return arrow::Status::Invalid("this producer is given messages, not rows");
  }
};

// The message itself is what librdkafka refuses to enqueue: another message may pass.
bool IsRefusedMessage(rd_kafka_resp_err_t err) { return err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE; }

// The broker refuses the record (or the batch holding it) for good: retrying it as it was
// cannot help. The broker refuses whole batches, so such a message is sent again alone
// before it is called a dead letter.
bool IsRefusedByBroker(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE || err == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE ||
         err == RD_KAFKA_RESP_ERR_INVALID_RECORD || err == RD_KAFKA_RESP_ERR_INVALID_MSG;
}

// The msg_opaque of a message sent again alone.
char kSentAlone;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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

std::unique_ptr<KafkaSink> KafkaSink::ForMessages() { return std::make_unique<KafkaSink>(std::make_unique<MessagesOnly>()); }

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
  if (sink->dlq_ && !sink->options_.exactly_once && IsRefusedByBroker(message->err)) {
    // At-least-once: sent again alone at the next flush, dead-lettered if refused alone too.
    SinkDeadLetter letter;
    if (message->key) letter.key = std::string(static_cast<const char*>(message->key), message->key_len);
    if (message->payload) letter.value = std::string(static_cast<const char*>(message->payload), message->len);
    letter.code = rd_kafka_err2name(message->err);
    letter.error = "the broker refused the message to " + sink->options_.topic + " [" +
                   std::to_string(message->partition) + "]: " + rd_kafka_err2str(message->err) + " (" +
                   letter.code + ")";
    letter.partition = message->partition;
    sink->refused_.emplace_back(std::move(letter), message->_private == &kSentAlone);
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
  ARROW_RETURN_NOT_OK(options.producer.MakeConf(config.Where()).status());
  if (!options.dlq_topic.empty()) {
    ARROW_ASSIGN_OR_RAISE(auto dlq, MakeSinkDeadLetterProducerConfig(config, options));
    ARROW_RETURN_NOT_OK(dlq.Explain(dlq.options.producer.MakeConf(dlq.config.Where()).status()));
  }
  return arrow::Status::OK();
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
  if (!options_.dlq_topic.empty()) {
    ARROW_ASSIGN_OR_RAISE(auto dlq, MakeSinkDeadLetterProducerConfig(config, options_));
    spdlog::debug("{}: dead-letter producer {}", where_, dlq.config.DisplayRedacted());
    dlq_ = ForMessages();
    if (auto status = dlq_->Open(dlq.config); !status.ok()) {
      dlq_.reset();
      return dlq.Explain(status);
    }
    auto max_bytes = ParseInt64(dlq_->options().producer.Get("message.max.bytes").value_or("1000000"));
    if (max_bytes.ok()) dlq_max_message_bytes_ = *max_bytes;
    spdlog::info("{}: rows it cannot deliver go to dead-letter topic '{}'", where_, options_.dlq_topic);
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
  epoch_letters_ = 0;
  partitioner_.Reset();
  if (partitioner_.kind() != PartitionerKind::kKeyHash) ARROW_RETURN_NOT_OK(RefreshPartitionCount(false));
  if (!options_.exactly_once) return arrow::Status::OK();
  ARROW_RETURN_NOT_OK(BeginOwn(epoch));
  if (dlq_) {
    if (auto status = dlq_->BeginEpoch(epoch); !status.ok()) {
      return status.WithMessage(where_, ": dead-letter producer: ", status.message());
    }
  }
  return arrow::Status::OK();
}

arrow::Status KafkaSink::BeginOwn(uint64_t epoch) {
  if (state_.load() == TxnState::kFatal || state_.load() == TxnState::kNone) ARROW_RETURN_NOT_OK(CreateProducer());
  ARROW_RETURN_NOT_OK(AbortOpenTransaction("a new epoch begins"));
  // A replay of an epoch this producer committed (its sink's other producer lost it):
  // nothing to stage again.
  skip_epoch_ = last_committed_ && epoch <= *last_committed_;
  if (skip_epoch_) return arrow::Status::OK();
  ARROW_RETURN_NOT_OK(ErrorObjectStatus(rd_kafka_begin_transaction(producer_.get()),
                                        where_ + ": begin_transaction for epoch " + std::to_string(epoch)));
  return TransitionTo(TxnState::kOpen);
}

arrow::Status KafkaSink::Produce(const std::vector<KafkaMessage>& messages, int64_t* enqueued_bytes,
                                 std::vector<std::pair<size_t, SinkDeadLetter>>* refused,
                                 const std::vector<int64_t>* rows, void* opaque) {
  const auto deadline_budget = options_.delivery_timeout;
  std::vector<rd_kafka_vu_t> vus;
  for (size_t index = 0; index < messages.size(); ++index) {
    const KafkaMessage& message = messages[index];
    const int64_t row = rows != nullptr ? (*rows)[index] : static_cast<int64_t>(index);
    if (vus.size() < 7 + message.headers.size()) vus.resize(7 + message.headers.size());
    size_t n = 0;
    if (opaque != nullptr) {
      vus[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
      vus[n++].u.ptr = opaque;
    }
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
      const rd_kafka_resp_err_t code = rd_kafka_error_code(error);
      if (refused != nullptr && IsRefusedMessage(code)) {
        SinkDeadLetter letter;
        letter.code = rd_kafka_err2name(code);
        letter.error = "row " + std::to_string(row) + ": librdkafka refused the message: " +
                       rd_kafka_error_string(error) + " (" + letter.code + ")";
        rd_kafka_error_destroy(error);
        if (message.key) letter.key = std::string(*message.key);
        if (message.value) letter.value = std::string(*message.value);
        refused->emplace_back(index, std::move(letter));
        break;
      }
      if (code != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
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
    if (refused != nullptr && !refused->empty() && refused->back().first == index) continue;
    *enqueued_bytes += message.value ? static_cast<int64_t>(message.value->size()) : 0;
  }
  rd_kafka_poll(producer_.get(), 0);  // serve reports that are already in
  return arrow::Status::OK();
}

arrow::Status KafkaSink::ReadyToProduce() {
  if (options_.exactly_once) {
    if (state_.load() == TxnState::kReady) ARROW_RETURN_NOT_OK(BeginOwn(epoch_));  // the runtime did not begin
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
  return arrow::Status::OK();
}

arrow::Status KafkaSink::WriteMessages(const std::vector<KafkaMessage>& messages) {
  if (!open_) return arrow::Status::Invalid(where_, ": write before open");
  if (skip_epoch_) return arrow::Status::OK();
  ARROW_RETURN_NOT_OK(ReadyToProduce());
  int64_t bytes = 0;
  auto status = Produce(messages, &bytes);
  if (!status.ok()) {
    if (options_.exactly_once && KindOf(status) != ErrorKind::kFatal && KindOf(status) != ErrorKind::kFenced) {
      (void)TransitionTo(TxnState::kAbortable);
    }
    return bytes > 0 || !IsRetryable(status) ? NeedsAbortError("kafka", status.message()) : status;
  }
  return arrow::Status::OK();
}

arrow::Status KafkaSink::DeadLetter(std::vector<SinkDeadLetter> letters) {
  if (letters.empty()) return arrow::Status::OK();
  const int64_t now = NowMs();
  const std::optional<uint64_t> epoch = options_.exactly_once ? std::optional<uint64_t>(epoch_) : std::nullopt;
  std::vector<KafkaMessage> messages;
  messages.reserve(letters.size());
  for (const auto& letter : letters) {
    // Room for the key and the headers; a value past the dead-letter producer's
    // message.max.bytes is cut (laminar.error.value.truncated).
    const int64_t overhead = 1024 + static_cast<int64_t>((letter.key ? letter.key->size() : 0) + letter.error.size() +
                                                         options_.topic.size() + config_.instance_name().size());
    const size_t room = static_cast<size_t>(std::max<int64_t>(0, dlq_max_message_bytes_ - overhead));
    messages.push_back(SinkDeadLetterMessage(letter, config_.instance_name(), options_.topic, epoch, now, room));
  }
  if (auto status = dlq_->WriteMessages(messages); !status.ok()) {
    return status.WithMessage(where_, ": dead letters to '", options_.dlq_topic, "': ", status.message());
  }
  if (!dlq_->skipping_epoch()) epoch_letters_ += letters.size();
  spdlog::warn("{}: {} row(s) to dead-letter topic '{}'; the first: {}", where_, letters.size(), options_.dlq_topic,
               letters.front().error);
  return arrow::Status::OK();
}

arrow::Result<WriteResult> KafkaSink::WriteBatch(const std::shared_ptr<arrow::RecordBatch>& batch) {
  if (!open_) return arrow::Status::Invalid(where_, ": write before open");
  if (!skip_epoch_) ARROW_RETURN_NOT_OK(ReadyToProduce());
  const int64_t num_rows = batch->num_rows();
  // The messages' keys and values point into these (a cast key column is a new array).
  std::vector<std::string> values;
  std::optional<KeyColumn> keys;
  std::vector<std::optional<std::string>> row_keys;  // a key column cast row by row
  std::vector<KafkaMessage> messages;
  std::vector<int64_t> rows;                // the row of each message, when some rows are dead letters
  std::vector<SinkDeadLetter> letters;      // rows that cannot become messages
  messages.reserve(static_cast<size_t>(num_rows));
  if (mapper_) {
    ARROW_RETURN_NOT_OK(mapper_->Map(*batch, &messages));
  } else {
    values.reserve(static_cast<size_t>(num_rows));
    std::vector<std::optional<std::string>> value_errors;
    if (auto status = encoder_->Encode(*batch, &values); !status.ok()) {
      if (!dlq_) return status;
      // Which rows: each alone, the others are written.
      values.assign(static_cast<size_t>(num_rows), std::string());
      value_errors.assign(static_cast<size_t>(num_rows), std::nullopt);
      for (int64_t row = 0; row < num_rows; ++row) {
        std::vector<std::string> one;
        auto row_status = encoder_->Encode(*batch->Slice(row, 1), &one);
        if (row_status.ok() && one.size() == 1) {
          values[static_cast<size_t>(row)] = std::move(one.front());
        } else {
          value_errors[static_cast<size_t>(row)] =
              row_status.ok() ? std::string("the encoder made no message") : row_status.message();
        }
      }
    }
    std::vector<std::optional<std::string>> key_errors;
    if (key_index_ >= 0) {
      auto made = KeyColumn::Make(batch->column(key_index_));
      if (made.ok()) {
        keys = std::move(*made);
      } else {
        if (!dlq_) return made.status().WithMessage(where_, ": key.column '", *options_.key_column, "': ", made.status().message());
        row_keys.assign(static_cast<size_t>(num_rows), std::nullopt);
        key_errors.assign(static_cast<size_t>(num_rows), std::nullopt);
        for (int64_t row = 0; row < num_rows; ++row) {
          auto one = KeyColumn::Make(batch->column(key_index_)->Slice(row, 1));
          if (!one.ok()) {
            key_errors[static_cast<size_t>(row)] = one.status().message();
          } else if (auto key = one->At(0)) {
            row_keys[static_cast<size_t>(row)] = std::string(*key);
          }
        }
      }
    }
    const bool some_failed = !value_errors.empty() || !key_errors.empty();
    for (int64_t row = 0; row < num_rows; ++row) {
      const auto r = static_cast<size_t>(row);
      std::optional<std::string_view> key;
      if (keys) key = keys->At(row);
      else if (!row_keys.empty() && row_keys[r]) key = *row_keys[r];
      const bool bad_value = !value_errors.empty() && value_errors[r];
      const bool bad_key = !key_errors.empty() && key_errors[r];
      if (bad_value || bad_key) {
        SinkDeadLetter& letter = letters.emplace_back();
        if (key) letter.key = std::string(*key);
        if (!bad_value) letter.value = values[r];
        letter.code = bad_value ? "ENCODE" : "KEY";
        letter.error = "row " + std::to_string(row) + ": " +
                       (bad_value ? "cannot encode its value as " + options_.format + ": " + *value_errors[r]
                                  : "cannot render key.column '" + *options_.key_column + "': " + *key_errors[r]);
        continue;
      }
      KafkaMessage& message = messages.emplace_back();
      message.value = values[r];
      message.key = key;
      if (some_failed) rows.push_back(row);
    }
  }
  if (static_cast<int64_t>(messages.size() + letters.size()) != num_rows) {
    return arrow::Status::Invalid(where_, ": ", mapper_ ? "the mapper" : "the encoder", " made ", messages.size(),
                                  " messages of ", num_rows, " rows");
  }
  int64_t bytes = 0;
  std::vector<std::pair<size_t, SinkDeadLetter>> refused;
  // An epoch this producer committed already is replayed for its dead letters alone.
  auto status = skip_epoch_ ? arrow::Status::OK()
                            : Produce(messages, &bytes, dlq_ ? &refused : nullptr, rows.empty() ? nullptr : &rows);
  for (auto& [index, letter] : refused) letters.push_back(std::move(letter));
  if (status.ok() && !letters.empty()) status = DeadLetter(std::move(letters));
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
  return WriteResult{static_cast<int64_t>(messages.size() - refused.size()), bytes};
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
  ARROW_RETURN_NOT_OK(FlushAndCheck("flush"));
  if (!dlq_ || options_.exactly_once) return arrow::Status::OK();
  // At-least-once: the checkpoint's flush is where the dead letters since the last one are
  // delivered (or fail, and the rows are written again).
  ARROW_RETURN_NOT_OK(RetryRefusedAlone());
  if (auto status = dlq_->Flush(); !status.ok()) {
    return status.WithMessage(where_, ": dead letters to '", options_.dlq_topic, "': ", status.message());
  }
  dlq_records_.fetch_add(epoch_letters_);
  epoch_letters_ = 0;
  return arrow::Status::OK();
}

arrow::Status KafkaSink::RetryRefusedAlone() {
  while (!refused_.empty()) {
    auto refused = std::move(refused_);
    refused_.clear();
    std::vector<SinkDeadLetter> letters;
    size_t retried = 0;
    for (auto& [letter, alone] : refused) {
      if (alone) {
        letters.push_back(std::move(letter));
        continue;
      }
      // Alone in its batch: the flush sends it at once, with nothing else.
      KafkaMessage message;
      if (letter.key) message.key = *letter.key;
      if (letter.value) message.value = *letter.value;
      int64_t bytes = 0;
      ARROW_RETURN_NOT_OK(Produce({message}, &bytes, nullptr, nullptr, &kSentAlone));
      ARROW_RETURN_NOT_OK(FlushAndCheck("flush of a message the broker refused in its batch, sent again alone"));
      ++retried;
    }
    if (retried > 0) spdlog::info("{}: {} message(s) of batches the broker refused sent again alone", where_, retried);
    ARROW_RETURN_NOT_OK(DeadLetter(std::move(letters)));
  }
  return arrow::Status::OK();
}

arrow::Status KafkaSink::PreCommit(uint64_t epoch) {
  if (!options_.exactly_once) return Flush();
  if (!skip_epoch_) ARROW_RETURN_NOT_OK(PreCommitOwn(epoch));
  if (dlq_) {
    // After this producer's flush: every dead letter of the epoch is known.
    if (auto status = dlq_->PreCommit(epoch); !status.ok()) {
      return status.WithMessage(where_, ": dead-letter producer: ", status.message());
    }
    staged_letters_[epoch] = epoch_letters_;
  }
  return arrow::Status::OK();
}

arrow::Status KafkaSink::PreCommitOwn(uint64_t epoch) {
  if (epoch != epoch_) {
    return arrow::Status::Invalid(where_, ": pre-commit of epoch ", epoch, " while in epoch ", epoch_);
  }
  // An epoch with no rows still records its marker, so a restart can tell it committed.
  if (state_.load() == TxnState::kReady) ARROW_RETURN_NOT_OK(BeginOwn(epoch));
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
  const bool own_committed = last_committed_ && epoch <= *last_committed_;
  if (dlq_) {
    // The dead letters first: the rows never become visible without them.
    if (auto status = dlq_->CommitEpoch(epoch); !status.ok()) {
      if (KindOf(status) == ErrorKind::kEpochLost && !own_committed) {
        // Abort the rows too; the runtime replays the epoch into both producers.
        if (state_.load() == TxnState::kPrepared && epoch == epoch_) {
          ARROW_RETURN_NOT_OK(AbortOpenTransaction("its dead letters were lost"));
        }
        epochs_lost_.fetch_add(1);
      }
      return status.WithMessage(where_, ": dead-letter producer: ", status.message());
    }
  }
  ARROW_RETURN_NOT_OK(CommitOwn(epoch));
  if (auto staged = staged_letters_.find(epoch); staged != staged_letters_.end()) {
    dlq_records_.fetch_add(staged->second);
    staged_letters_.erase(staged_letters_.begin(), std::next(staged));
  }
  return arrow::Status::OK();
}

arrow::Status KafkaSink::CommitOwn(uint64_t epoch) {
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
  epoch_letters_ = 0;
  staged_letters_.erase(staged_letters_.lower_bound(epoch), staged_letters_.end());
  arrow::Status dlq_status;
  if (dlq_) {
    dlq_status = dlq_->RollbackEpoch(epoch);
    if (!dlq_status.ok()) dlq_status = dlq_status.WithMessage(where_, ": dead-letter producer: ", dlq_status.message());
  }
  auto status = RollbackOwn(epoch);
  return status.ok() ? dlq_status : status;
}

arrow::Status KafkaSink::RollbackOwn(uint64_t epoch) {
  epochs_rolled_back_.fetch_add(1);
  skip_epoch_ = false;
  if (state_.load() == TxnState::kReady) return arrow::Status::OK();
  return AbortOpenTransaction("rollback of epoch " + std::to_string(epoch));
}

arrow::Result<std::optional<uint64_t>> KafkaSink::LastCommittedEpoch() {
  if (!options_.exactly_once) return std::optional<uint64_t>();
  std::optional<uint64_t> last = last_committed_;
  if (dlq_) {
    // Epochs go on after the later of the two, so that neither skips a new one.
    ARROW_ASSIGN_OR_RAISE(auto dlq_last, dlq_->LastCommittedEpoch());
    if (dlq_last && (!last || *dlq_last > *last)) last = dlq_last;
  }
  return last;
}

HealthStatus KafkaSink::Health() const {
  if (!open_) return HealthStatus();
  if (state_.load() == TxnState::kFatal) return HealthStatus::Unhealthy("producer failed; it is replaced at the next epoch");
  if (dlq_ && dlq_->txn_state() == TxnState::kFatal) {
    return HealthStatus::Unhealthy("dead-letter producer failed; it is replaced at the next epoch");
  }
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
  if (!options_.dlq_topic.empty()) metrics.AddCustom("dlq_records", static_cast<double>(dlq_records_.load()));
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
  if (!refused_.empty()) {
    spdlog::warn("{}: {} message(s) the broker refused were neither sent again nor dead-lettered before close",
                 where_, refused_.size());
    refused_.clear();
  }
  state_.store(TxnState::kNone);
  topic_.reset();
  producer_.reset();
  marker_.reset();
  if (dlq_) (void)dlq_->Close();
  return arrow::Status::OK();
}

}  // namespace laminar::kafka
