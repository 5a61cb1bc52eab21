// Avro object container files (spec "Object Container Files"): header (magic "Obj\x01",
// metadata map with avro.schema / avro.codec, 16-byte sync marker) and blocks of datums,
// compressed with null, deflate (raw RFC 1951), snappy (+ CRC32 of the uncompressed
// block, big-endian) or zstandard. Readers and writers are single-threaded objects.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>
#include <arrow/table.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "laminar/serde/avro/avro_schema.h"

namespace laminar::serde::avro {

enum class OcfCodec { kNull, kDeflate, kSnappy, kZstandard };

// "null", "deflate", "snappy", "zstandard" (also "zstd"); anything else is Invalid.
arrow::Result<OcfCodec> ParseOcfCodec(std::string_view name);
const char* OcfCodecName(OcfCodec codec);  // the name written to avro.codec

arrow::Result<std::string> CompressBlock(OcfCodec codec, std::string_view data, int level = -1);
arrow::Result<std::string> DecompressBlock(OcfCodec codec, std::string_view data);

class OcfWriter {
 public:
  // `sync` must be 16 bytes, or empty for a random marker.
  static arrow::Result<std::unique_ptr<OcfWriter>> Make(std::shared_ptr<const AvroSchema> schema, OcfCodec codec,
                                                        std::string sync = "",
                                                        std::map<std::string, std::string> metadata = {});
  // The file header; written once, first.
  const std::string& header() const { return header_; }
  // Appends one block holding `count` datums (their encodings back to back) to *out.
  arrow::Status WriteBlock(std::string_view datums, int64_t count, std::string* out) const;

 private:
  std::shared_ptr<const AvroSchema> schema_;
  OcfCodec codec_ = OcfCodec::kNull;
  std::string sync_;
  std::string header_;
};

class OcfReader {
 public:
  // Parses the header of a whole file held in memory (the view must outlive the reader).
  static arrow::Result<std::unique_ptr<OcfReader>> Open(std::string_view file);

  const std::shared_ptr<const AvroSchema>& schema() const { return schema_; }
  OcfCodec codec() const { return codec_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // The next block's datums (decompressed) and count; false after the last block.
  // Corrupt blocks or a wrong sync marker are Invalid statuses naming the byte offset.
  arrow::Result<bool> NextBlock(std::string* datums, int64_t* count);
  int64_t position() const { return pos_; }

 private:
  std::string_view file_;
  int64_t pos_ = 0;
  std::shared_ptr<const AvroSchema> schema_;
  OcfCodec codec_ = OcfCodec::kNull;
  std::map<std::string, std::string> metadata_;
  std::string sync_;
};

// Reads a whole file into a table of `columns` (null: the file schema's Arrow mapping),
// resolving the file's schema against them (and `reader` when given).
arrow::Result<std::shared_ptr<arrow::Table>> ReadObjectContainer(std::string_view file,
                                                                 std::shared_ptr<arrow::Schema> columns = nullptr,
                                                                 std::shared_ptr<const AvroSchema> reader = nullptr);

// Writes batches as one file, `rows_per_block` datums per block.
arrow::Result<std::string> WriteObjectContainer(const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches,
                                                std::shared_ptr<const AvroSchema> schema, OcfCodec codec,
                                                int64_t rows_per_block = 4096, std::string sync = "");

}  // namespace laminar::serde::avro
