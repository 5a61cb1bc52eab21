// The exactly-once Kafka sink's record of the last epoch it committed, kept where a
// transaction can write it atomically with the epoch's messages: the committed offset of
// a dedicated consumer group ("laminar-epochs-<transactional.id>") on partition 0 of the
// sink's topic, sent with rd_kafka_send_offsets_to_transaction. The broker makes it
// visible exactly when the transaction commits, and discards it when the transaction is
// aborted (fencing by a restarted producer included), so after init_transactions has
// settled the previous producer's transaction, Read() tells whether an epoch committed.
// The group never has members; its offset means "epoch", not a position in the topic.
// Used on the sink's thread; every call blocks at most its timeout.
#pragma once

#include <arrow/result.h>
#include <arrow/status.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "laminar/kafka/kafka_client.h"

namespace laminar::kafka {

class EpochMarker {
 public:
  // `connection`: what a consumer needs to reach the cluster (bootstrap, security).
  EpochMarker(std::string group_id, std::string topic, ClientProperties connection)
      : group_id_(std::move(group_id)), topic_(std::move(topic)), connection_(std::move(connection)) {}

  const std::string& group_id() const { return group_id_; }

  // Inside `producer`'s open transaction: records `epoch` (>= 1). Errors come from the
  // transactional API (kNeedsAbort: abort the transaction; kFatal/kFenced: the producer is
  // unusable).
  arrow::Status Stage(rd_kafka_t* producer, uint64_t epoch, std::chrono::milliseconds timeout);

  // The epoch of the last committed transaction that staged one; nullopt when none ever
  // did (or the group's offsets expired: offsets.retention.minutes). Transient answers (a
  // coordinator still loading, a transaction still settling) are retried within `timeout`.
  arrow::Result<std::optional<uint64_t>> Read(std::chrono::milliseconds timeout);

 private:
  std::string group_id_;
  std::string topic_;
  ClientProperties connection_;
  KafkaHandle consumer_;  // created on first Read; never subscribes or joins the group
};

}  // namespace laminar::kafka
