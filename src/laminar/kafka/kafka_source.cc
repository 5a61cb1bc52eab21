#include "laminar/kafka/kafka_source.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/util/utf8.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <deque>

#include "laminar/kafka/kafka_avro_registry.h"

namespace laminar::kafka {

namespace {

std::vector<TopicPartition> PartitionsOf(const rd_kafka_topic_partition_list_t* list) {
  std::vector<TopicPartition> out;
  for (int i = 0; i < list->cnt; ++i) out.push_back({list->elems[i].topic, list->elems[i].partition});
  return out;
}

std::string Describe(const std::vector<TopicPartition>& partitions) {
  std::string out;
  for (const auto& tp : partitions) out += (out.empty() ? "" : ", ") + tp.ToString();
  return out.empty() ? "no partitions" : out;
}

// The larger of two positions, either of which may be unknown.
std::optional<int64_t> Furthest(std::optional<int64_t> a, std::optional<int64_t> b) {
  if (!a) return b;
  if (!b) return a;
  return std::max(*a, *b);
}

}  // namespace

// The batch's partitions (a handful; messages come in runs of one partition), so that
// per-partition bookkeeping happens once per partition, not once per message.
struct BatchPartition {
  const rd_kafka_topic_t* rkt;
  TopicPartition tp;
  std::string name;  // "<topic>-<partition>", the records' position
  int64_t first_offset, last_offset;
};

// Records view the messages, `offsets`, `headers` and the partition names (a deque, so
// the names never move); kept behind a pointer, so nothing moves once made.
struct KafkaSource::PreparedBatch {
  std::vector<MessageHandle> messages;
  std::vector<serde::RawRecord> records;
  std::vector<std::string> offsets;
  std::vector<std::vector<serde::Header>> headers;
  std::deque<BatchPartition> parts;
  std::vector<uint32_t> part_of;
  uint64_t bytes = 0;
  // Keys that cannot fill a text _key column are bad records too, like bad values.
  std::vector<serde::RecordError> key_errors;
  std::vector<size_t> decode_index;        // position in `records` of each decoded record
  std::vector<serde::RawRecord> to_decode;  // when some are left out
  // Held batches: what the decoder made of them; unset while the background decoder works.
  std::optional<arrow::Result<serde::DecodedBatch>> decoded;
  bool from_full_poll = false;  // the poll stopped at its limit: more is likely waiting
  uint64_t checked_at = 0;       // the tracker's changes() when held messages were checked

  std::span<const serde::RawRecord> ToDecode() const {
    return decode_index.size() == records.size() ? std::span<const serde::RawRecord>(records)
                                                 : std::span<const serde::RawRecord>(to_decode);
  }
};

void RegisterKafkaSource(ConnectorRegistry& registry) {
  registry.RegisterSource(ConnectorInfo{"kafka",
                                        "Messages of Kafka topics, decoded in batches; a consumer-group member whose "
                                        "offsets follow the checkpoints",
                                        KafkaSourceKeySpecs()},
                          [] { return std::make_unique<KafkaSource>(); });
}

KafkaSource::KafkaSource() = default;

KafkaSource::~KafkaSource() {
  DropPending();
  (void)Close();
}

arrow::Status KafkaSource::CheckConfig(const ConnectorConfig& config) const {
  ARROW_ASSIGN_OR_RAISE(auto options, KafkaSourceOptions::FromConfig(config));
  return options.consumer.MakeConf(config.Where()).status();
}

arrow::Status KafkaSource::Open(const ConnectorConfig& config) {
  config_ = config;
  where_ = config.Where();
  ARROW_ASSIGN_OR_RAISE(options_, KafkaSourceOptions::FromConfig(config));
  ARROW_ASSIGN_OR_RAISE(metadata_,
                        MetadataColumns::Make(config.schema(), options_.include_metadata, options_.include_headers, where_));
  auto value_schema = metadata_.empty() ? config.schema() : metadata_.value_schema();
  ARROW_ASSIGN_OR_RAISE(decoder_, MakeKafkaDecoder(config, value_schema));
  // A second, independent decoder for the other half of large polls. Not for csv, whose
  // decoder carries the header from message to message.
  background_.reset();
  if (options_.decode_threads >= 2 && serde::CanonicalFormatName(options_.format).value_or("") != "csv") {
    ARROW_ASSIGN_OR_RAISE(auto second, MakeKafkaDecoder(config, value_schema));
    background_ = std::make_unique<serde::BackgroundDecoder>(std::move(second));
  }
  ARROW_ASSIGN_OR_RAISE(schema_, metadata_.OutputSchema(decoder_->schema()));
  ARROW_ASSIGN_OR_RAISE(auto errors, dlq::ErrorOptions::FromConfig(config));
  router_ = std::make_unique<dlq::ErrorRouter>(config.instance_name(), errors);
  if (options_.watermarks) {
    watermarks_ = std::make_unique<PartitionWatermarks>(options_.max_out_of_orderness, options_.idle_timeout);
    if (!options_.event_time_column.empty()) {
      event_time_index_ = schema_->GetFieldIndex(options_.event_time_column);
      if (event_time_index_ < 0) {
        return ConfigError(where_, "option 'event.time.column' names '" + options_.event_time_column +
                                       "', which is not a column of the source");
      }
      const auto& type = schema_->field(event_time_index_)->type();
      if (type->id() != arrow::Type::TIMESTAMP && type->id() != arrow::Type::INT64) {
        return ConfigError(where_, "option 'event.time.column': column '" + options_.event_time_column +
                                       "' is " + type->ToString() +
                                       "; it must be a TIMESTAMP or a BIGINT of milliseconds");
      }
    }
    if (!options_.alignment_group.empty()) {
      alignment_ = AlignmentGroup::Get(options_.alignment_group);
      alignment_member_ = alignment_->Join();
    }
  }

  spdlog::debug("{}: consumer {}", where_, options_.consumer.DisplayRedacted());
  ARROW_ASSIGN_OR_RAISE(auto conf, options_.consumer.MakeConf(where_));
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_rebalance_cb(conf.get(), &KafkaSource::OnRebalance);
  InstallLogging(conf.get());
  ARROW_ASSIGN_OR_RAISE(consumer_, NewClient(RD_KAFKA_CONSUMER, std::move(conf), where_));
  rd_kafka_poll_set_consumer(consumer_.get());
  cooperative_ = options_.consumer.Get("partition.assignment.strategy").value_or("").find("cooperative") !=
                 std::string::npos;

  PartitionList subscription = NewPartitionList(static_cast<int>(std::max<size_t>(1, options_.topics.size())));
  if (!options_.pattern.empty()) {
    rd_kafka_topic_partition_list_add(subscription.get(), options_.pattern.c_str(), RD_KAFKA_PARTITION_UA);
  } else {
    for (const auto& topic : options_.topics) {
      rd_kafka_topic_partition_list_add(subscription.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
    }
  }
  const rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_.get(), subscription.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return ResponseError(err, where_ + ": subscribe");
  return arrow::Status::OK();
}

void KafkaSource::OnRebalance(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                              void* opaque) {
  static_cast<KafkaSource*>(opaque)->HandleRebalance(err, partitions);
}

void KafkaSource::HandleRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
  rd_kafka_t* rk = consumer_.get();
  const bool cooperative = Cooperative();
  const auto tps = PartitionsOf(partitions);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    // A partition given back while its revocation was still waiting for a commit: finish
    // that revocation (librdkafka still counts it as assigned) and keep its position.
    std::vector<TopicPartition> returning;
    for (const auto& tp : tps) {
      if (std::find(releasing_.begin(), releasing_.end(), tp) != releasing_.end()) returning.push_back(tp);
    }
    if (!returning.empty()) {
      PartitionList list = NewPartitionList(static_cast<int>(returning.size()));
      for (const auto& tp : returning) {
        rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition);
        releasing_.erase(std::find(releasing_.begin(), releasing_.end(), tp));
      }
      if (cooperative) (void)ErrorObjectStatus(rd_kafka_incremental_unassign(rk, list.get()), where_ + ": unassign");
    }
    if (auto status = ResolveStart(partitions); !status.ok() && callback_error_.ok()) callback_error_ = status;
    tracker_.Assigned(tps);
    for (int i = 0; i < partitions->cnt; ++i) {
      // A partition given back keeps where it began in this epoch.
      if (partitions->elems[i].offset >= 0) epoch_from_.emplace(tps[i], partitions->elems[i].offset);
    }
    if (watermarks_) {
      for (const auto& tp : tps) watermarks_->Add(tp, PartitionWatermarks::Clock::now());
    }
    arrow::Status assigned = cooperative
                                 ? ErrorObjectStatus(rd_kafka_incremental_assign(rk, partitions), where_ + ": assign")
                                 : (rd_kafka_assign(rk, partitions) == RD_KAFKA_RESP_ERR_NO_ERROR
                                        ? arrow::Status::OK()
                                        : arrow::Status::IOError(where_, ": assign failed"));
    if (!assigned.ok() && callback_error_.ok()) callback_error_ = assigned;
    std::string list;
    for (int i = 0; i < partitions->cnt; ++i) {
      list += (list.empty() ? "" : ", ") + PartitionKey(partitions->elems[i].topic, partitions->elems[i].partition) +
              "@" + std::to_string(partitions->elems[i].offset);
    }
    spdlog::info("{}: assigned {}", where_, list);
    if (fetch_paused_ && partitions->cnt > 0) rd_kafka_pause_partitions(rk, partitions);
    if (replay_end_) {
      for (const auto& tp : tps) {
        auto end = replay_end_->find(tp);
        auto next = tracker_.Next(tp);
        if (end == replay_end_->end() || (next && *next >= end->second)) PauseAtReplayEnd(tp);
      }
    }
    return;
  }
  if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    // Rows already returned from these partitions belong to the open epoch. Handing the
    // partitions over now would let the next owner start at the group's older offset and
    // read those rows again, so the revocation completes only once the epoch's checkpoint
    // is committed to the group (OnCheckpointCommitted); until then nothing more is read
    // from them. Partitions with nothing read since the last commit go at once.
    const bool lost = rd_kafka_assignment_lost(rk);
    tracker_.Revoked(tps);
    if (watermarks_) {
      for (const auto& tp : tps) watermarks_->Remove(tp);
    }
    for (const auto& tp : tps) paused_.erase(tp);
    std::vector<TopicPartition> clean;
    std::vector<TopicPartition> dirty;
    for (const auto& tp : tps) {
      auto next = tracker_.Next(tp);
      auto committed = committed_.find(tp);
      const bool read_since_commit = next && (committed == committed_.end() || committed->second != *next);
      (read_since_commit ? dirty : clean).push_back(tp);
    }
    spdlog::info("{}: revoked {}{}{}", where_, Describe(tps), lost ? " (assignment lost)" : "",
                 dirty.empty() || lost || closing_ ? "" : "; " + Describe(dirty) + " released after the next checkpoint");
    // Partitions still waiting for their commit are lost with the rest: the group has moved
    // on without this member, so that commit can no longer succeed.
    std::vector<TopicPartition> pending;
    if (lost) {
      for (const auto& tp : std::exchange(releasing_, {})) {
        if (std::find(tps.begin(), tps.end(), tp) == tps.end()) pending.push_back(tp);
      }
    }
    dirty.insert(dirty.end(), pending.begin(), pending.end());
    if (lost && !dirty.empty() && callback_error_.ok()) {
      // Another member may own them already and read from the group's offset: the open
      // epoch must not commit rows of them, so it is rolled back and read again.
      callback_error_ = NeedsAbortError("kafka", where_ + ": " + std::to_string(dirty.size()) +
                                                     " partition(s) were lost to the group with rows of the open "
                                                     "epoch read from them; rolling the epoch back");
    }
    if (lost || closing_) {
      Release(tps);
      Release(pending);
    } else {
      Release(clean);
      releasing_.insert(releasing_.end(), dirty.begin(), dirty.end());
    }
    return;
  }
  spdlog::warn("{}: rebalance error: {}", where_, rd_kafka_err2str(err));
  tracker_.Revoked(tps);
  rd_kafka_assign(rk, nullptr);
}

bool KafkaSource::Cooperative() {
  // NULL once the consumer has left its group (a revocation while closing after the group
  // dropped it): the protocol it last had still applies.
  if (const char* protocol = rd_kafka_rebalance_protocol(consumer_.get())) {
    cooperative_ = std::strcmp(protocol, "COOPERATIVE") == 0;
  }
  return cooperative_;
}

void KafkaSource::Release(const std::vector<TopicPartition>& partitions) {
  if (partitions.empty() || !consumer_) return;
  rd_kafka_t* rk = consumer_.get();
  if (Cooperative()) {
    PartitionList list = NewPartitionList(static_cast<int>(partitions.size()));
    for (const auto& tp : partitions) rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition);
    if (auto status = ErrorObjectStatus(rd_kafka_incremental_unassign(rk, list.get()), where_ + ": unassign");
        !status.ok()) {
      spdlog::warn("{}", status.ToString());
    }
  } else {
    rd_kafka_assign(rk, nullptr);  // eager protocol: the whole assignment goes
  }
  tracker_.Forget(partitions);
  for (const auto& tp : partitions) {
    started_at_.erase(tp);
    committed_.erase(tp);
    paused_.erase(tp);
    epoch_from_.erase(tp);
  }
}

arrow::Status KafkaSource::CommitAndReleaseRevoked(const Positions& positions, bool with_owned) {
  const auto owned = with_owned ? tracker_.assigned() : std::set<TopicPartition>();
  Positions to_commit;
  for (const auto& [tp, next] : positions) {
    if (owned.count(tp) || std::find(releasing_.begin(), releasing_.end(), tp) != releasing_.end()) {
      to_commit[tp] = next;
    }
  }
  if (auto status = CommitToGroup(to_commit); !status.ok()) {
    // Revoked partitions stay: releasing now would hand the next owner an offset behind
    // our rows. The checkpoint is durable either way; the next one commits again.
    spdlog::warn("{}: {}{}", where_, status.ToString(),
                 releasing_.empty() ? "" : "; keeping " + Describe(releasing_) + " until their offsets are committed");
    return status;
  }
  if (releasing_.empty()) return arrow::Status::OK();
  spdlog::info("{}: released {} after committing their offsets", where_, Describe(releasing_));
  Release(std::exchange(releasing_, {}));
  return arrow::Status::OK();
}

arrow::Status KafkaSource::ResolveStart(rd_kafka_topic_partition_list_t* partitions) {
  rd_kafka_t* rk = consumer_.get();
  const int timeout = TimeoutMs(options_.request_timeout);
  std::vector<int> unknown;
  for (int i = 0; i < partitions->cnt; ++i) {
    auto& entry = partitions->elems[i];
    const TopicPartition tp{entry.topic, entry.partition};
    if (auto next = tracker_.Next(tp)) {
      entry.offset = *next;
    } else if (auto it = started_at_.find(tp); it != started_at_.end()) {
      entry.offset = it->second;
      tracker_.SetNext(tp, it->second);
    } else {
      unknown.push_back(i);
    }
  }
  // Also while replaying a lost epoch: rows another member already delivered from the
  // group's offset on (or, into a sink storing offsets, from the sink's) are not produced a
  // second time.
  ARROW_RETURN_NOT_OK(CatchUpWithSink(partitions, &unknown));
  ARROW_RETURN_NOT_OK(CatchUpWithGroup(partitions, unknown));
  if (unknown.empty()) return arrow::Status::OK();

  arrow::Status status;
  auto watermark = [&](const rd_kafka_topic_partition_t& entry, bool high) -> std::optional<int64_t> {
    int64_t low = 0;
    int64_t hi = 0;
    const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, entry.topic, entry.partition, &low, &hi, timeout);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("{}: watermarks of {}: {}", where_, PartitionKey(entry.topic, entry.partition), rd_kafka_err2str(err));
      return std::nullopt;
    }
    return high ? hi : low;
  };
  // auto.offset.reset, for a partition with no committed (or listed) offset.
  auto reset = [&](rd_kafka_topic_partition_t& entry) {
    switch (options_.reset) {
      case OffsetReset::kEarliest: entry.offset = watermark(entry, false).value_or(RD_KAFKA_OFFSET_BEGINNING); break;
      case OffsetReset::kLatest: entry.offset = watermark(entry, true).value_or(RD_KAFKA_OFFSET_END); break;
      case OffsetReset::kError:
        entry.offset = RD_KAFKA_OFFSET_STORED;  // librdkafka raises the error when it finds none
        if (status.ok()) {
          status = FatalError("kafka", where_ + ": partition " + PartitionKey(entry.topic, entry.partition) +
                                           " has no starting offset and auto.offset.reset = none");
        }
        break;
    }
  };

  PartitionList query = NewPartitionList(static_cast<int>(unknown.size()));
  for (int i : unknown) {
    rd_kafka_topic_partition_list_add(query.get(), partitions->elems[i].topic, partitions->elems[i].partition);
  }
  switch (options_.startup) {
    case StartupMode::kGroupOffsets: {
      const rd_kafka_resp_err_t err = rd_kafka_committed(rk, query.get(), timeout);
      for (size_t k = 0; k < unknown.size(); ++k) {
        auto& entry = partitions->elems[unknown[k]];
        const auto& answer = query->elems[k];
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR && answer.err == RD_KAFKA_RESP_ERR_NO_ERROR && answer.offset >= 0) {
          entry.offset = answer.offset;
          committed_[TopicPartition{entry.topic, entry.partition}] = answer.offset;
        } else if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          spdlog::warn("{}: committed offsets unavailable ({}); librdkafka resolves them", where_, rd_kafka_err2str(err));
          entry.offset = RD_KAFKA_OFFSET_STORED;
        } else {
          reset(entry);
        }
      }
      break;
    }
    case StartupMode::kEarliest:
      for (int i : unknown) {
        partitions->elems[i].offset = watermark(partitions->elems[i], false).value_or(RD_KAFKA_OFFSET_BEGINNING);
      }
      break;
    case StartupMode::kLatest:
      for (int i : unknown) partitions->elems[i].offset = watermark(partitions->elems[i], true).value_or(RD_KAFKA_OFFSET_END);
      break;
    case StartupMode::kSpecificOffsets:
      for (int i : unknown) {
        auto& entry = partitions->elems[i];
        auto it = options_.specific_offsets.find({entry.topic, entry.partition});
        if (it == options_.specific_offsets.end()) it = options_.specific_offsets.find({"", entry.partition});
        if (it != options_.specific_offsets.end()) {
          entry.offset = it->second;
        } else {
          reset(entry);
        }
      }
      break;
    case StartupMode::kTimestamp: {
      for (int k = 0; k < query->cnt; ++k) query->elems[k].offset = options_.startup_timestamp_ms;
      const rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, query.get(), timeout);
      for (size_t k = 0; k < unknown.size(); ++k) {
        auto& entry = partitions->elems[unknown[k]];
        const auto& answer = query->elems[k];
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR && answer.err == RD_KAFKA_RESP_ERR_NO_ERROR && answer.offset >= 0) {
          entry.offset = answer.offset;
        } else {
          // No message at or after the timestamp (or the lookup failed): start at the end.
          entry.offset = watermark(entry, true).value_or(RD_KAFKA_OFFSET_END);
        }
      }
      break;
    }
  }
  for (int i : unknown) {
    const auto& entry = partitions->elems[i];
    if (entry.offset < 0) continue;  // a logical offset librdkafka resolves; known at the first message
    const TopicPartition tp{entry.topic, entry.partition};
    tracker_.SetNext(tp, entry.offset);
    started_at_[tp] = entry.offset;
  }
  return status;
}

arrow::Status KafkaSource::CatchUpWithGroup(rd_kafka_topic_partition_list_t* partitions,
                                           const std::vector<int>& unknown) {
  // A position this member holds (its checkpoint, or a partition it owned before) can be
  // behind the group's offset when another member read the partition meanwhile and
  // committed: starting there would read those rows twice. Offsets only move forward, and
  // both are checkpoint boundaries, so the larger one is where to continue.
  std::vector<int> known;
  for (int i = 0; i < partitions->cnt; ++i) {
    if (std::find(unknown.begin(), unknown.end(), i) == unknown.end()) known.push_back(i);
  }
  if (known.empty()) return arrow::Status::OK();
  PartitionList query = NewPartitionList(static_cast<int>(known.size()));
  for (int i : known) {
    rd_kafka_topic_partition_list_add(query.get(), partitions->elems[i].topic, partitions->elems[i].partition);
  }
  const rd_kafka_resp_err_t err = rd_kafka_committed(consumer_.get(), query.get(), TimeoutMs(options_.request_timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Without the group's answer a partition could be read twice: retry the epoch.
    return NeedsAbortError("kafka", where_ + ": reading the group's committed offsets: " + rd_kafka_err2str(err));
  }
  for (size_t k = 0; k < known.size(); ++k) {
    auto& entry = partitions->elems[known[k]];
    const auto& answer = query->elems[k];
    if (answer.err != RD_KAFKA_RESP_ERR_NO_ERROR || answer.offset < 0) continue;
    const TopicPartition tp{entry.topic, entry.partition};
    committed_[tp] = answer.offset;
    if (answer.offset > entry.offset) {
      spdlog::info("{}: {} continues at the group's offset {} (this member's position was {})", where_,
                   tp.ToString(), answer.offset, entry.offset);
      entry.offset = answer.offset;
      tracker_.SetNext(tp, answer.offset);
    }
  }
  return arrow::Status::OK();
}

arrow::Status KafkaSource::CatchUpWithSink(rd_kafka_topic_partition_list_t* partitions, std::vector<int>* unknown) {
  // The sink commits these offsets in the same transaction as the rows, so they are exact
  // even when the group's commit after it was lost (a member killed in between, or a
  // zombie whose commit the group refused). Offsets only move forward: the largest wins.
  if (!stored_offsets_ || partitions->cnt == 0) return arrow::Status::OK();
  std::vector<TopicPartition> tps = PartitionsOf(partitions);
  auto stored = stored_offsets_(tps);
  if (!stored.ok()) {
    return NeedsAbortError("kafka", where_ + ": reading the offsets the sink stored with its rows: " +
                                        stored.status().ToString());
  }
  std::vector<int> still_unknown;
  for (int i = 0; i < partitions->cnt; ++i) {
    auto& entry = partitions->elems[i];
    const bool is_unknown = std::find(unknown->begin(), unknown->end(), i) != unknown->end();
    auto it = stored->find(tps[i]);
    if (it == stored->end()) {
      if (is_unknown) still_unknown.push_back(i);
      continue;
    }
    if (is_unknown) {
      spdlog::info("{}: {} starts at offset {}, stored in the sink with the rows", where_, tps[i].ToString(), it->second);
      entry.offset = it->second;
      tracker_.SetNext(tps[i], it->second);
      started_at_[tps[i]] = it->second;
    } else if (it->second > entry.offset) {
      spdlog::info("{}: {} continues at offset {}, stored in the sink with the rows (this member's position was {})",
                   where_, tps[i].ToString(), it->second, entry.offset);
      entry.offset = it->second;
      tracker_.SetNext(tps[i], it->second);
    }
  }
  *unknown = std::move(still_unknown);
  return arrow::Status::OK();
}

arrow::Status KafkaSource::Seek(const std::vector<TopicPartition>& partitions) {
  if (partitions.empty()) return arrow::Status::OK();
  PartitionList list = NewPartitionList(static_cast<int>(partitions.size()));
  for (const auto& tp : partitions) rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition);
  ARROW_RETURN_NOT_OK(ResolveStart(list.get()));
  ARROW_RETURN_NOT_OK(ErrorObjectStatus(
      rd_kafka_seek_partitions(consumer_.get(), list.get(), TimeoutMs(options_.request_timeout)), where_ + ": seek"));
  for (int i = 0; i < list->cnt; ++i) {
    if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return ResponseError(list->elems[i].err,
                           where_ + ": seek " + PartitionKey(list->elems[i].topic, list->elems[i].partition));
    }
  }
  return arrow::Status::OK();
}

void KafkaSource::PauseAtReplayEnd(const TopicPartition& tp) {
  if (paused_.count(tp)) return;
  PartitionList list = NewPartitionList();
  rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition);
  if (rd_kafka_pause_partitions(consumer_.get(), list.get()) == RD_KAFKA_RESP_ERR_NO_ERROR) paused_.insert(tp);
}

arrow::Result<std::optional<SourceBatch>> KafkaSource::PollBatch(int64_t max_records, std::chrono::milliseconds timeout) {
  if (!consumer_) return arrow::Status::Invalid(where_, ": poll before open");
  auto out = PollAndDecode(max_records, timeout);
  if (!out.ok() && consumer_ && !fatal_) {
    // The runtime may poll again after a transient error without restoring: messages taken
    // from the consumer but not returned (held ones too) would be skipped. The fetch goes
    // back to the tracked positions instead.
    DropPending();
    const auto owned = tracker_.assigned();
    if (auto seek = Seek(std::vector<TopicPartition>(owned.begin(), owned.end())); !seek.ok()) {
      spdlog::warn("{}: after a failed poll: {}", where_, seek.ToString());
    }
  }
  return out;
}

arrow::Result<std::optional<SourceBatch>> KafkaSource::PollAndDecode(int64_t max_records,
                                                                    std::chrono::milliseconds timeout) {
  if (!callback_error_.ok()) return std::exchange(callback_error_, arrow::Status::OK());
  // Held messages of a poll that was not full: the stream is slow, so they are returned at
  // once rather than after another poll (unless a rebalance came since they were checked).
  if (pending_ && !pending_->from_full_poll && pending_->checked_at == tracker_.changes()) {
    return ReturnPending(nullptr);
  }
  if (auto security = SecurityFailureOf(consumer_.get(), where_)) return *security;
  UpdateFetchPause();
  const int64_t limit = std::min(max_records > 0 ? max_records : options_.max_poll_records, options_.max_poll_records);
  const auto deadline = std::chrono::steady_clock::now() + std::min(timeout, options_.poll_timeout);
  std::vector<MessageHandle> messages;
  messages.reserve(static_cast<size_t>(std::min<int64_t>(limit, 4096)));
  // Per partition of this call: is it assigned, and the first offset still to take (the
  // tracked position, then past each message taken). Refreshed when the tracker changes (a
  // rebalance inside the poll), so the lookups happen once per partition, not per message.
  struct Lookup {
    const rd_kafka_topic_t* rkt;
    int32_t partition;
    TopicPartition tp;
    bool assigned;
    std::optional<int64_t> next;
  };
  std::vector<Lookup> lookups;
  // Held messages were checked against the tracker as it was when they were held: a
  // rebalance since (in a call that failed before re-checking them) counts as in this call.
  const uint64_t changes_before = pending_ ? pending_->checked_at : tracker_.changes();
  uint64_t looked_up_at = tracker_.changes();
  // Past the held messages of a partition: after a restart behind them, the fetch brings
  // them again.
  auto past_held = [&](const TopicPartition& tp, std::optional<int64_t> next) {
    if (!pending_) return next;
    for (const auto& part : pending_->parts) {
      if (part.tp == tp) return Furthest(next, part.last_offset + 1);
    }
    return next;
  };
  while (static_cast<int64_t>(messages.size()) < limit) {
    int wait = 0;
    if (messages.empty() && !pending_) {  // with held rows, the poll only takes what is there
      const auto now = std::chrono::steady_clock::now();
      if (now < deadline) wait = TimeoutMs(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
    }
    MessageHandle message(rd_kafka_consumer_poll(consumer_.get(), wait));
    if (!callback_error_.ok()) return std::exchange(callback_error_, arrow::Status::OK());
    if (!message) {
      if (!messages.empty() || pending_ || std::chrono::steady_clock::now() >= deadline) break;
      continue;
    }
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
      consumer_errors_.fetch_add(1);
      if (auto fatal = FatalErrorOf(consumer_.get(), where_)) {
        fatal_ = true;
        return *fatal;
      }
      const std::string text = rd_kafka_message_errstr(message.get());
      if (message->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
        return FatalError("kafka", where_ + ": " + text + " (auto.offset.reset = none)");
      }
      spdlog::warn("{}: consumer: {} ({})", where_, text, rd_kafka_err2name(message->err));
      if (!messages.empty()) break;
      continue;
    }
    if (tracker_.changes() != looked_up_at) {
      looked_up_at = tracker_.changes();
      for (auto& l : lookups) {
        // Messages taken before a revoke and re-assign must not come twice: the fetch
        // restarts at the tracked position, behind what this call holds.
        l.assigned = tracker_.IsAssigned(l.tp);
        l.next = Furthest(past_held(l.tp, tracker_.Next(l.tp)), l.next);
      }
    }
    auto lookup = std::find_if(lookups.begin(), lookups.end(), [&](const Lookup& l) {
      return l.rkt == message->rkt && l.partition == message->partition;
    });
    if (lookup == lookups.end()) {
      TopicPartition tp{rd_kafka_topic_name(message->rkt), message->partition};
      const bool assigned = tracker_.IsAssigned(tp);
      auto next = past_held(tp, tracker_.Next(tp));
      lookups.push_back(Lookup{message->rkt, message->partition, std::move(tp), assigned, next});
      lookup = lookups.end() - 1;
    }
    const TopicPartition& tp = lookup->tp;
    if (!lookup->assigned) continue;                                // left over from a revoked partition
    if (lookup->next && message->offset < *lookup->next) continue;  // already returned before a seek
    if (replay_end_) {
      auto end = replay_end_->find(tp);
      if (end == replay_end_->end() || message->offset >= end->second) {
        PauseAtReplayEnd(tp);
        continue;
      }
    }
    lookup->next = message->offset + 1;
    messages.push_back(std::move(message));
  }
  if (tracker_.changes() != changes_before) {
    // A rebalance inside this call. Messages taken before it (held ones included) from a
    // partition revoked since were never returned: the partition may already be handed
    // over (nothing of it was read since the last commit), and its next owner reads them
    // from the group's offset. A partition given back to this member restarts at the
    // tracked position, which may be past them (the group's offset moved on meanwhile) or
    // behind held ones (fetched again: taken once). The rare case decodes again, here.
    if (pending_) {
      spdlog::info("{}: rebalance during a poll; {} held message(s) checked again", where_, pending_->messages.size());
      auto held = TakePending();
      held.insert(held.end(), std::make_move_iterator(messages.begin()), std::make_move_iterator(messages.end()));
      messages = std::move(held);
    }
    std::map<TopicPartition, int64_t> taken_next;
    std::erase_if(messages, [&](const MessageHandle& m) {
      const TopicPartition tp{rd_kafka_topic_name(m->rkt), m->partition};
      const auto tracked = tracker_.Next(tp);
      auto [taken, first] = taken_next.try_emplace(tp, tracked.value_or(m->offset));
      if (!tracker_.IsAssigned(tp) || m->offset < taken->second) return true;
      taken->second = m->offset + 1;
      return false;
    });
  }
  if (pending_) {
    // The pipeline's steady state: the rows held from the last poll (decoded meanwhile) are
    // returned, and this poll's messages decode in the background until the next call.
    std::unique_ptr<PreparedBatch> next;
    if (!messages.empty()) {
      const bool full = static_cast<int64_t>(messages.size()) >= limit;
      next = PrepareToHold(std::move(messages), full);
    }
    return ReturnPending(std::move(next));
  }
  if (messages.empty()) {
    if (watermarks_) {
      // Silence is what makes a partition idle: check it even when nothing arrives.
      watermarks_->CheckIdle(PartitionWatermarks::Clock::now());
      PublishWatermark();
    }
    return std::optional<SourceBatch>();
  }
  // (Held and new messages merged after a rebalance may exceed the limit: halves do not.)
  if (background_ && (messages.size() >= kMinSplitMessages || static_cast<int64_t>(messages.size()) > limit)) {
    const bool full = static_cast<int64_t>(messages.size()) >= limit;
    std::vector<MessageHandle> second_half(std::make_move_iterator(messages.begin() + messages.size() / 2),
                                           std::make_move_iterator(messages.end()));
    messages.resize(messages.size() / 2);
    auto first = Prepare(std::move(messages));
    auto second = PrepareToHold(std::move(second_half), full);
    background_->Start(second->ToDecode());
    auto decoded = decoder_->Decode(first->ToDecode());
    second->decoded = background_->Wait();  // even when the first half failed: it reads `second`
    ARROW_RETURN_NOT_OK(decoded.status());
    pending_ = std::move(second);
    auto out = Finish(*first, std::move(*decoded));
    if (!out.ok()) DropPending();  // its rows were not read: a restore reads them again
    return out;
  }
  auto batch = Prepare(std::move(messages));
  ARROW_ASSIGN_OR_RAISE(auto decoded, decoder_->Decode(batch->ToDecode()));
  return Finish(*batch, std::move(decoded));
}

std::unique_ptr<KafkaSource::PreparedBatch> KafkaSource::PrepareToHold(std::vector<MessageHandle> messages,
                                                                       bool from_full_poll) const {
  auto batch = Prepare(std::move(messages));
  batch->from_full_poll = from_full_poll;
  batch->checked_at = tracker_.changes();
  return batch;
}

size_t KafkaSource::held_messages() const { return pending_ ? pending_->messages.size() : 0; }

arrow::Result<std::optional<SourceBatch>> KafkaSource::ReturnPending(std::unique_ptr<PreparedBatch> next) {
  auto ready = std::move(pending_);
  if (!ready->decoded) ready->decoded = background_->Wait();
  if (next) {
    pending_ = std::move(next);
    background_->Start(pending_->ToDecode());
  }
  auto decoded = std::move(*ready->decoded);
  auto out = decoded.ok() ? Finish(*ready, std::move(*decoded)) : decoded.status();
  if (!out.ok()) DropPending();  // not read: a restore reads them again
  return out;
}

std::vector<MessageHandle> KafkaSource::TakePending() {
  if (!pending_) return {};
  if (!pending_->decoded) (void)background_->Wait();
  auto messages = std::move(pending_->messages);
  pending_.reset();
  return messages;
}

void KafkaSource::DropPending() { (void)TakePending(); }

std::unique_ptr<KafkaSource::PreparedBatch> KafkaSource::Prepare(std::vector<MessageHandle> messages_in) const {
  auto batch = std::make_unique<PreparedBatch>();
  batch->messages = std::move(messages_in);
  const auto& messages = batch->messages;
  const size_t n = messages.size();
  auto& records = batch->records;
  auto& offsets = batch->offsets;
  auto& headers = batch->headers;
  auto& parts = batch->parts;
  auto& part_of = batch->part_of;
  auto& bytes = batch->bytes;
  records.resize(n);
  offsets.resize(n);
  headers.resize(n);
  part_of.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const rd_kafka_message_t* m = messages[i].get();
    size_t p = i > 0 ? part_of[i - 1] : 0;
    if (parts.empty() || parts[p].rkt != m->rkt || parts[p].tp.partition != m->partition) {
      for (p = 0; p < parts.size() && (parts[p].rkt != m->rkt || parts[p].tp.partition != m->partition); ++p) {
      }
      if (p == parts.size()) {
        TopicPartition tp{rd_kafka_topic_name(m->rkt), m->partition};
        std::string name = tp.ToString();
        parts.push_back(BatchPartition{m->rkt, std::move(tp), std::move(name), m->offset, m->offset});
      }
    }
    part_of[i] = static_cast<uint32_t>(p);
    parts[p].last_offset = m->offset;
    const std::string& name = parts[p].name;
    offsets[i] = std::to_string(m->offset);
    auto& record = records[i];
    record.value = m->payload != nullptr ? std::string_view(static_cast<const char*>(m->payload), m->len)
                                         : std::string_view();
    if (m->key != nullptr) record.key = std::string_view(static_cast<const char*>(m->key), m->key_len);
    record.partition = name;
    record.offset = offsets[i];
    rd_kafka_timestamp_type_t type;
    record.timestamp_ms = rd_kafka_message_timestamp(m, &type);
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs != nullptr) {
      const char* header_name = nullptr;
      const void* value = nullptr;
      size_t size = 0;
      for (size_t h = 0; rd_kafka_header_get_all(hdrs, h, &header_name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++h) {
        headers[i].emplace_back(header_name, value != nullptr ? std::string(static_cast<const char*>(value), size)
                                                              : std::string());
      }
      record.headers = &headers[i];
    }
    bytes += m->len;
  }

  const bool check_keys = !metadata_.empty() && options_.include_metadata && metadata_.key_is_text();
  batch->decode_index.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const auto& key = records[i].key;
    if (check_keys && key &&
        !arrow::util::ValidateUTF8(reinterpret_cast<const uint8_t*>(key->data()), static_cast<int64_t>(key->size()))) {
      batch->key_errors.push_back(
          serde::RecordError{i, "_key: the message key is not valid UTF-8 (declare _key BYTEA)"});
      continue;
    }
    batch->decode_index.push_back(i);
  }
  if (batch->decode_index.size() != n) {
    batch->to_decode.reserve(batch->decode_index.size());
    for (size_t i : batch->decode_index) batch->to_decode.push_back(records[i]);
  }
  return batch;
}

arrow::Result<std::optional<SourceBatch>> KafkaSource::Finish(PreparedBatch& prepared, serde::DecodedBatch decoded) {
  const auto& messages = prepared.messages;
  const size_t n = messages.size();
  const auto& records = prepared.records;
  const auto& offsets = prepared.offsets;
  const auto& parts = prepared.parts;
  const auto& part_of = prepared.part_of;
  const auto& decode_index = prepared.decode_index;
  const auto& key_errors = prepared.key_errors;
  std::vector<bool> failed(n, false);
  for (auto& error : decoded.errors) {
    error.index = decode_index[error.index];
    failed[error.index] = true;
  }
  for (const auto& error : key_errors) failed[error.index] = true;
  if (!key_errors.empty()) {
    decoded.errors.insert(decoded.errors.end(), key_errors.begin(), key_errors.end());
    std::sort(decoded.errors.begin(), decoded.errors.end(),
              [](const serde::RecordError& a, const serde::RecordError& b) { return a.index < b.index; });
  }
  ARROW_ASSIGN_OR_RAISE(auto dead_letters, router_->Route(decoded, records));

  std::shared_ptr<arrow::RecordBatch> batch = decoded.batch;
  if (!metadata_.empty()) {
    std::vector<MessageMetadata> rows;
    rows.reserve(static_cast<size_t>(decoded.batch->num_rows()));
    for (size_t i : decode_index) {
      if (failed[i] || records[i].is_tombstone()) continue;
      const rd_kafka_message_t* m = messages[i].get();
      rows.push_back(MessageMetadata{records[i].key, m->partition, m->offset, records[i].timestamp_ms,
                                     records[i].headers});
    }
    ARROW_ASSIGN_OR_RAISE(batch, metadata_.Assemble(schema_, *decoded.batch, rows));
  }
  if (watermarks_) {
    std::vector<TopicPartition> row_partitions;
    std::vector<int64_t> row_timestamps;
    row_partitions.reserve(static_cast<size_t>(batch->num_rows()));
    row_timestamps.reserve(static_cast<size_t>(batch->num_rows()));
    for (size_t i : decode_index) {
      if (failed[i] || records[i].is_tombstone()) continue;
      row_partitions.push_back(parts[part_of[i]].tp);
      row_timestamps.push_back(records[i].timestamp_ms);
    }
    ARROW_ASSIGN_OR_RAISE(batch, TrackEventTime(std::move(batch), row_partitions, row_timestamps));
  }
  // Every message counts as read, tombstones and bad records included: a partition's
  // first message in the batch may open its epoch range, its last sets the next offset.
  for (const auto& part : parts) {
    epoch_from_.emplace(part.tp, part.first_offset);  // started at a logical offset
    tracker_.Consumed(part.tp, part.last_offset);
  }
  if (replay_end_) {
    for (const auto& part : parts) {
      auto end = replay_end_->find(part.tp);
      if (end != replay_end_->end() && tracker_.Next(part.tp).value_or(0) >= end->second) PauseAtReplayEnd(part.tp);
    }
  }
  records_.fetch_add(static_cast<uint64_t>(batch->num_rows()));
  bytes_.fetch_add(prepared.bytes);
  SourceBatch out;
  out.records = std::move(batch);
  out.dead_letters = std::move(dead_letters);
  out.partition = PartitionInfo{parts[part_of.back()].name, offsets.back()};
  if (watermarks_) out.watermark_ms = watermarks_->current();
  return std::optional<SourceBatch>(std::move(out));
}

std::vector<std::optional<int64_t>> KafkaSource::EventTimes(const arrow::RecordBatch& batch,
                                                            const std::vector<int64_t>& message_timestamps) const {
  const int64_t n = batch.num_rows();
  std::vector<std::optional<int64_t>> times(static_cast<size_t>(n));
  if (event_time_index_ < 0) {
    for (int64_t r = 0; r < n; ++r) {
      if (message_timestamps[r] >= 0) times[r] = message_timestamps[r];  // -1: the broker gave none
    }
    return times;
  }
  const auto& column = *batch.column(event_time_index_);
  int64_t per_ms = 1;  // column units per millisecond (negative: milliseconds per unit)
  if (column.type_id() == arrow::Type::TIMESTAMP) {
    switch (static_cast<const arrow::TimestampType&>(*column.type()).unit()) {
      case arrow::TimeUnit::SECOND: per_ms = -1000; break;
      case arrow::TimeUnit::MILLI: per_ms = 1; break;
      case arrow::TimeUnit::MICRO: per_ms = 1000; break;
      case arrow::TimeUnit::NANO: per_ms = 1000000; break;
    }
  }
  const auto* values = column.data()->GetValues<int64_t>(1);
  for (int64_t r = 0; r < n; ++r) {
    if (column.IsNull(r)) continue;
    const int64_t v = values[r];
    // Floor division, so an event just before the epoch is not rounded forward.
    times[r] = per_ms < 0 ? v * -per_ms : (v >= 0 ? v / per_ms : -((-v + per_ms - 1) / per_ms));
  }
  return times;
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> KafkaSource::TrackEventTime(
    std::shared_ptr<arrow::RecordBatch> batch, const std::vector<TopicPartition>& row_partitions,
    const std::vector<int64_t>& row_timestamps) {
  const auto now = PartitionWatermarks::Clock::now();
  if (static_cast<int64_t>(row_partitions.size()) != batch->num_rows()) {
    // A format that turns one message into several rows (debezium updates as retract +
    // insert): advance by the messages' own timestamps instead.
    for (size_t i = 0; i < row_partitions.size(); ++i) {
      if (row_timestamps[i] >= 0) watermarks_->Update(row_partitions[i], row_timestamps[i], now);
    }
  } else {
    const auto times = EventTimes(*batch, row_timestamps);
    std::optional<int64_t> bound;
    if (alignment_ && options_.alignment_mode == AlignmentMode::kDropExcess) {
      bound = alignment_->Bound(options_.alignment_max_drift);
    }
    arrow::BooleanBuilder keep;
    bool dropping = false;
    if (bound) ARROW_RETURN_NOT_OK(keep.Reserve(batch->num_rows()));
    for (size_t r = 0; r < times.size(); ++r) {
      const bool excess = bound && times[r] && *times[r] > *bound;
      if (bound) keep.UnsafeAppend(!excess);
      if (excess) {
        dropping = true;
        alignment_dropped_.fetch_add(1);
        continue;
      }
      if (times[r]) watermarks_->Update(row_partitions[r], *times[r], now);
    }
    if (dropping) {
      ARROW_ASSIGN_OR_RAISE(auto mask, keep.Finish());
      ARROW_ASSIGN_OR_RAISE(auto filtered, arrow::compute::Filter(batch, mask));
      batch = filtered.record_batch();
    }
  }
  watermarks_->CheckIdle(now);
  PublishWatermark();
  return batch;
}

void KafkaSource::PublishWatermark() {
  const auto current = watermarks_->current();
  if (current) watermark_ms_.store(*current);
  idle_partitions_.store(watermarks_->idle_partitions());
  watermark_advances_.store(watermarks_->counters().advances);
  idle_transitions_.store(watermarks_->counters().idle_transitions);
  if (alignment_) alignment_->Publish(alignment_member_, current);
}

void KafkaSource::UpdateFetchPause() {
  if (fill_probe_) {
    const double fill = fill_probe_();
    if (!backpressure_ && fill >= options_.backpressure_high) {
      backpressure_ = true;
      backpressure_pauses_.fetch_add(1);
      spdlog::debug("{}: queue {:.0f}% full: pausing consumption", where_, fill * 100);
    } else if (backpressure_ && fill <= options_.backpressure_low) {
      backpressure_ = false;
      spdlog::debug("{}: queue {:.0f}% full: resuming consumption", where_, fill * 100);
    }
  }
  paused_for_backpressure_.store(backpressure_);
  if (alignment_ && options_.alignment_mode != AlignmentMode::kDropExcess) {
    const auto bound = alignment_->Bound(options_.alignment_max_drift);
    const auto own = watermarks_->current();
    const bool ahead = bound && own && *own > *bound;
    if (ahead && !ahead_of_alignment_) {
      alignment_pauses_.fetch_add(1);
      spdlog::warn("{}: watermark {} ms is more than {} ms ahead of alignment group '{}'{}", where_, *own,
                   options_.alignment_max_drift.count(), options_.alignment_group,
                   options_.alignment_mode == AlignmentMode::kPause ? ": pausing until the group catches up" : "");
    }
    ahead_of_alignment_ = ahead;
  }
  const bool pause = backpressure_ || (ahead_of_alignment_ && options_.alignment_mode == AlignmentMode::kPause);
  if (pause != fetch_paused_) SetFetchPaused(pause);
}

void KafkaSource::SetFetchPaused(bool pause) {
  fetch_paused_ = pause;
  // Partitions paused at a replay's end stay paused either way.
  std::vector<TopicPartition> held;
  for (const auto& tp : tracker_.assigned()) {
    if (!paused_.count(tp)) held.push_back(tp);
  }
  if (held.empty()) return;
  PartitionList list = NewPartitionList(static_cast<int>(held.size()));
  for (const auto& tp : held) rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition);
  if (pause) {
    rd_kafka_pause_partitions(consumer_.get(), list.get());
  } else {
    rd_kafka_resume_partitions(consumer_.get(), list.get());
  }
}

SourceCheckpoint KafkaSource::Checkpoint() const {
  last_checkpoint_ = tracker_.positions();
  cut_from_ = std::exchange(epoch_from_, last_checkpoint_);
  return tracker_.ToCheckpoint();
}

arrow::Status KafkaSource::Restore(const SourceCheckpoint& checkpoint) {
  ARROW_ASSIGN_OR_RAISE(auto positions, OffsetTracker::FromCheckpoint(checkpoint));
  DropPending();  // read from the restored positions again
  tracker_.Replace(positions);
  last_checkpoint_ = positions;
  epoch_from_ = positions;
  callback_error_ = arrow::Status::OK();
  if (!consumer_) return arrow::Status::OK();
  // Revoked partitions waiting for a commit: the epoch that read them is gone, so the
  // restored positions are what the next owner must start from.
  if (!releasing_.empty()) (void)CommitAndReleaseRevoked(positions, /*with_owned=*/false);
  // Partitions this member owns move now; the others start where the positions say when
  // the group assigns them (HandleRebalance).
  const auto owned = tracker_.assigned();
  std::vector<TopicPartition> seek(owned.begin(), owned.end());
  ARROW_RETURN_NOT_OK(Seek(seek));
  for (const auto& tp : owned) {
    if (auto next = tracker_.Next(tp)) epoch_from_[tp] = *next;  // raised to the group's or the sink's
  }
  std::vector<TopicPartition> resume;
  for (const auto& tp : owned) {
    if (!paused_.count(tp)) continue;
    bool stay = false;
    if (replay_end_) {
      auto end = replay_end_->find(tp);
      stay = end == replay_end_->end() || tracker_.Next(tp).value_or(0) >= end->second;
    }
    if (!stay) resume.push_back(tp);
  }
  if (!resume.empty()) {
    PartitionList list = NewPartitionList(static_cast<int>(resume.size()));
    for (const auto& tp : resume) {
      rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition);
      paused_.erase(tp);
    }
    rd_kafka_resume_partitions(consumer_.get(), list.get());
  }
  return arrow::Status::OK();
}

arrow::Status KafkaSource::SetReplayEnd(const std::optional<SourceCheckpoint>& end) {
  if (!end) {
    replay_end_.reset();
    if (consumer_ && !paused_.empty()) {
      PartitionList list = NewPartitionList(static_cast<int>(paused_.size()));
      for (const auto& tp : paused_) rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition);
      rd_kafka_resume_partitions(consumer_.get(), list.get());
      paused_.clear();
    }
    return arrow::Status::OK();
  }
  ARROW_ASSIGN_OR_RAISE(auto positions, OffsetTracker::FromCheckpoint(*end));
  replay_end_ = std::move(positions);
  return arrow::Status::OK();
}

bool KafkaSource::ReplayReachedEnd() const {
  if (!replay_end_) return false;
  for (const auto& [tp, end] : *replay_end_) {
    if (tracker_.Next(tp).value_or(-1) < end) return false;
  }
  return true;
}

arrow::Status KafkaSource::CommitToGroup(const Positions& positions) {
  if (positions.empty()) return arrow::Status::OK();
  PartitionList list = NewPartitionList(static_cast<int>(positions.size()));
  for (const auto& [tp, next] : positions) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset = next;
  }
  QueueHandle queue(rd_kafka_queue_new(consumer_.get()));
  rd_kafka_resp_err_t err = rd_kafka_commit_queue(consumer_.get(), list.get(), queue.get(), nullptr, nullptr);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_event_t* event = rd_kafka_queue_poll(
        queue.get(), TimeoutMs(std::min<std::chrono::milliseconds>(options_.request_timeout, std::chrono::seconds(5))));
    if (event == nullptr) {
      err = RD_KAFKA_RESP_ERR__TIMED_OUT;
    } else {
      err = rd_kafka_event_error(event);
      // A per-partition failure (e.g. not the owner any more) counts as a failed commit.
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (const auto* answer = rd_kafka_event_topic_partition_list(event)) {
          for (int i = 0; i < answer->cnt && err == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) err = answer->elems[i].err;
        }
      }
      rd_kafka_event_destroy(event);
    }
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    commit_failures_.fetch_add(1);
    return TransientError("kafka", "committing offsets to group '" + options_.group_id + "': " + rd_kafka_err2str(err));
  }
  commits_.fetch_add(1);
  for (const auto& [tp, next] : positions) committed_[tp] = next;
  return arrow::Status::OK();
}

arrow::Status KafkaSource::OnCheckpointCommitted(uint64_t /*epoch*/) {
  if (!consumer_ || last_checkpoint_.empty()) return arrow::Status::OK();
  // The partitions this member owns, plus those revoked while their rows were in this
  // epoch; another member may own the rest now, and its offsets are its own.
  (void)CommitAndReleaseRevoked(last_checkpoint_, /*with_owned=*/true);
  return arrow::Status::OK();
}

std::pair<GroupMetadataHandle, PartitionList> KafkaSource::OffsetsForTransaction() const {
  if (!consumer_) return {};
  const Positions& positions = replay_end_ ? *replay_end_ : last_checkpoint_;
  auto held = tracker_.assigned();
  held.insert(releasing_.begin(), releasing_.end());
  PartitionList list = NewPartitionList(static_cast<int>(std::max<size_t>(1, positions.size())));
  for (const auto& [tp, next] : positions) {
    if (held.count(tp)) rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset = next;
  }
  if (list->cnt == 0) return {};
  return {GroupMetadataHandle(rd_kafka_consumer_group_metadata(consumer_.get())), std::move(list)};
}

std::vector<KafkaSource::EpochRead> KafkaSource::OffsetsOfEpoch() const {
  std::vector<EpochRead> out;
  if (!consumer_) return out;
  // While replaying, the epoch is the replayed one and no cut was taken for it.
  const Positions& positions = replay_end_ ? *replay_end_ : last_checkpoint_;
  const Positions& from = replay_end_ ? epoch_from_ : cut_from_;
  auto held = tracker_.assigned();
  held.insert(releasing_.begin(), releasing_.end());
  for (const auto& [tp, next] : positions) {
    if (!held.count(tp)) continue;
    auto began = from.find(tp);
    if (began != from.end() && next <= began->second) continue;  // nothing read in the epoch
    out.push_back(EpochRead{tp, next, began == from.end() ? std::nullopt : std::optional<int64_t>(began->second)});
  }
  return out;
}

HealthStatus KafkaSource::Health() const {
  if (!consumer_) return HealthStatus();
  if (fatal_.load()) return HealthStatus::Unhealthy("the consumer hit a fatal error");
  if (paused_for_backpressure_.load()) return HealthStatus::Degraded("backpressure: consumption paused");
  return HealthStatus::Healthy();
}

ConnectorMetrics KafkaSource::Metrics() const {
  ConnectorMetrics metrics;
  metrics.records_total = records_.load();
  metrics.bytes_total = bytes_.load();
  metrics.errors_total = consumer_errors_.load();
  if (router_) {
    const auto& c = router_->counters();
    metrics.errors_total += static_cast<uint64_t>(c.errors);  // bad records; tombstones are not errors
    metrics.AddCustom("decoded", static_cast<double>(c.decoded));
    metrics.AddCustom("skipped", static_cast<double>(c.skipped));
    metrics.AddCustom("dead_lettered", static_cast<double>(c.dead_lettered));
    metrics.AddCustom("tombstones", static_cast<double>(c.tombstones));
  }
  metrics.AddCustom("rebalances", static_cast<double>(tracker_.rebalances()));
  metrics.AddCustom("assigned_partitions", static_cast<double>(tracker_.assigned().size()));
  metrics.AddCustom("offset_commits", static_cast<double>(commits_.load()));
  metrics.AddCustom("offset_commit_failures", static_cast<double>(commit_failures_.load()));
  metrics.AddCustom("backpressure_pauses", static_cast<double>(backpressure_pauses_.load()));
  if (options_.watermarks) {
    if (const int64_t w = watermark_ms_.load(); w != INT64_MIN) metrics.AddCustom("watermark_ms", static_cast<double>(w));
    metrics.AddCustom("idle_partitions", static_cast<double>(idle_partitions_.load()));
    metrics.AddCustom("watermark_advances", static_cast<double>(watermark_advances_.load()));
    metrics.AddCustom("idle_transitions", static_cast<double>(idle_transitions_.load()));
  }
  if (!options_.alignment_group.empty()) {
    metrics.AddCustom("alignment_pauses", static_cast<double>(alignment_pauses_.load()));
    metrics.AddCustom("alignment_dropped", static_cast<double>(alignment_dropped_.load()));
  }
  return metrics;
}

arrow::Status KafkaSource::Close() {
  if (!consumer_) return arrow::Status::OK();
  // Leaves the group (the revoke callback unassigns); commits nothing: rows not covered by
  // a committed checkpoint are read again by whoever owns their partitions next.
  closing_ = true;
  DropPending();  // its messages go before the consumer they belong to
  Release(std::exchange(releasing_, {}));
  if (alignment_) alignment_->Leave(alignment_member_);
  alignment_.reset();
  const rd_kafka_resp_err_t err = rd_kafka_consumer_close(consumer_.get());
  consumer_.reset();
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) spdlog::warn("{}: close: {}", where_, rd_kafka_err2str(err));
  return arrow::Status::OK();
}

}  // namespace laminar::kafka
