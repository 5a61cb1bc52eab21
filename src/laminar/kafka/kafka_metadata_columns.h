// The Kafka source's metadata columns (`include.metadata`: _key, _partition, _offset,
// _timestamp; `include.headers`: _headers) next to the columns decoded from the message
// value. A metadata column the DDL declares keeps its place and (compatible) type; the
// others are appended in that order. Used on the source's poll thread.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace laminar::kafka {

enum class MetadataKind { kKey, kPartition, kOffset, kTimestamp, kHeaders };

// The facts one message contributes to its row's metadata columns.
struct MessageMetadata {
  std::optional<std::string_view> key;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = -1;  // -1: the message has none
  const std::vector<std::pair<std::string, std::string>>* headers = nullptr;
};

class MetadataColumns {
 public:
  // Splits the declared schema (may be null: then only metadata columns are known, and the
  // value columns are whatever the decoder yields) into value columns and metadata
  // columns. A declared metadata column of a type it cannot have is a config error.
  static arrow::Result<MetadataColumns> Make(const std::shared_ptr<arrow::Schema>& declared, bool include_metadata,
                                             bool include_headers, const std::string& where);

  bool empty() const { return slots_.empty(); }
  // The columns the value decoder must produce (the declared ones that are not metadata).
  const std::shared_ptr<arrow::Schema>& value_schema() const { return value_schema_; }
  // The source's schema for a decoder producing `decoded` columns.
  arrow::Result<std::shared_ptr<arrow::Schema>> OutputSchema(const std::shared_ptr<arrow::Schema>& decoded) const;
  // True when a declared _key column is text, so keys must be valid UTF-8.
  bool key_is_text() const { return key_is_text_; }

  // The decoded value rows plus the metadata of the message behind each row.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> Assemble(const std::shared_ptr<arrow::Schema>& output,
                                                              const arrow::RecordBatch& decoded,
                                                              const std::vector<MessageMetadata>& rows) const;

  // Default types: _key utf8, _partition int32, _offset int64, _timestamp timestamp(ms, UTC),
  // _headers list<struct<key: utf8 not null, value: binary>>.
  static std::shared_ptr<arrow::DataType> HeadersType();

 private:
  struct Slot {
    MetadataKind kind;
    std::shared_ptr<arrow::Field> field;
    int declared_index = -1;  // position in the declared schema; -1: appended
  };
  std::vector<Slot> slots_;
  std::shared_ptr<arrow::Schema> value_schema_;
  bool key_is_text_ = true;
};

}  // namespace laminar::kafka
