#include "laminar/kafka/kafka_epoch_marker.h"

#include <algorithm>
#include <thread>

namespace laminar::kafka {

arrow::Status EpochMarker::Stage(rd_kafka_t* producer, uint64_t epoch, std::chrono::milliseconds timeout) {
  if (epoch == 0 || epoch > static_cast<uint64_t>(INT64_MAX)) {
    return arrow::Status::Invalid("epoch marker: epoch ", epoch, " cannot be recorded");
  }
  PartitionList offsets = NewPartitionList();
  rd_kafka_topic_partition_list_add(offsets.get(), topic_.c_str(), 0)->offset = static_cast<int64_t>(epoch);
  GroupMetadataHandle group(rd_kafka_consumer_group_metadata_new(group_id_.c_str()));
  return ErrorObjectStatus(
      rd_kafka_send_offsets_to_transaction(producer, offsets.get(), group.get(), TimeoutMs(timeout)),
      "recording epoch " + std::to_string(epoch) + " in the transaction (group '" + group_id_ + "')");
}

arrow::Result<std::optional<uint64_t>> EpochMarker::Read(std::chrono::milliseconds timeout) {
  if (!consumer_) {
    ClientProperties properties = connection_;
    properties.Set("group.id", group_id_);
    properties.Set("enable.auto.commit", "false");
    properties.Set("enable.auto.offset.store", "false");
    // Ask the coordinator for stable offsets only: none still pending in a transaction.
    properties.Set("isolation.level", "read_committed");
    properties.Set("client.id", group_id_);
    ARROW_ASSIGN_OR_RAISE(auto conf, properties.MakeConf("epoch marker"));
    InstallLogging(conf.get());
    ARROW_ASSIGN_OR_RAISE(consumer_, NewClient(RD_KAFKA_CONSUMER, std::move(conf), "epoch marker"));
  }
  const std::string what = "reading the last committed epoch (group '" + group_id_ + "')";
  // A coordinator that is still loading (a broker just started, a group never used) or a
  // transaction still settling answers with a transient error: ask again until the timeout.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    PartitionList partitions = NewPartitionList();
    rd_kafka_topic_partition_list_add(partitions.get(), topic_.c_str(), 0);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    rd_kafka_resp_err_t err = rd_kafka_committed(consumer_.get(), partitions.get(),
                                                 TimeoutMs(std::max(left, std::chrono::milliseconds(1))));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) err = partitions->elems[0].err;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const int64_t offset = partitions->elems[0].offset;
      if (offset < 1) return std::optional<uint64_t>();
      return std::optional<uint64_t>(static_cast<uint64_t>(offset));
    }
    if (KindOfResponse(err) != ErrorKind::kTransient || std::chrono::steady_clock::now() >= deadline) {
      return ResponseError(err, what);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace laminar::kafka
