// Object container files and their block codecs (zlib, snappy, zstd).
#include "laminar/serde/avro/object_container.h"

#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <random>

#include "laminar/serde/avro/avro_decoder.h"
#include "laminar/serde/avro/avro_encoder.h"
#include "laminar/serde/avro/binary_internal.h"

namespace laminar::serde::avro {

namespace {
constexpr char kMagic[4] = {'O', 'b', 'j', '\x01'};
}

arrow::Result<OcfCodec> ParseOcfCodec(std::string_view name) {
  if (name == "null") return OcfCodec::kNull;
  if (name == "deflate") return OcfCodec::kDeflate;
  if (name == "snappy") return OcfCodec::kSnappy;
  if (name == "zstandard" || name == "zstd") return OcfCodec::kZstandard;
  return arrow::Status::Invalid("unsupported Avro codec '", std::string(name),
                                "' (supported: null, deflate, snappy, zstandard)");
}

const char* OcfCodecName(OcfCodec codec) {
  switch (codec) {
    case OcfCodec::kNull: return "null";
    case OcfCodec::kDeflate: return "deflate";
    case OcfCodec::kSnappy: return "snappy";
    case OcfCodec::kZstandard: return "zstandard";
  }
  return "null";
}

arrow::Result<std::string> CompressBlock(OcfCodec codec, std::string_view data, int level) {
  switch (codec) {
    case OcfCodec::kNull:
      return std::string(data);
    case OcfCodec::kDeflate: {
      z_stream zs{};
      if (deflateInit2(&zs, level < 0 ? Z_DEFAULT_COMPRESSION : level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return arrow::Status::IOError("deflate: init failed");
      }
      std::string out(deflateBound(&zs, data.size()), '\0');
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
      zs.avail_in = static_cast<uInt>(data.size());
      zs.next_out = reinterpret_cast<Bytef*>(out.data());
      zs.avail_out = static_cast<uInt>(out.size());
      const int rc = deflate(&zs, Z_FINISH);
      out.resize(zs.total_out);
      deflateEnd(&zs);
      if (rc != Z_STREAM_END) return arrow::Status::IOError("deflate failed: ", rc);
      return out;
    }
    case OcfCodec::kSnappy: {
      std::string out;
      snappy::Compress(data.data(), data.size(), &out);
      const uint32_t crc = static_cast<uint32_t>(
          crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
      const char be[4] = {static_cast<char>(crc >> 24), static_cast<char>(crc >> 16), static_cast<char>(crc >> 8),
                          static_cast<char>(crc)};
      out.append(be, 4);
      return out;
    }
    case OcfCodec::kZstandard: {
      std::string out(ZSTD_compressBound(data.size()), '\0');
      const size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level < 0 ? 3 : level);
      if (ZSTD_isError(n)) return arrow::Status::IOError("zstd: ", ZSTD_getErrorName(n));
      out.resize(n);
      return out;
    }
  }
  return arrow::Status::Invalid("unknown codec");
}

arrow::Result<std::string> DecompressBlock(OcfCodec codec, std::string_view data) {
  switch (codec) {
    case OcfCodec::kNull:
      return std::string(data);
    case OcfCodec::kDeflate: {
      z_stream zs{};
      if (inflateInit2(&zs, -15) != Z_OK) return arrow::Status::IOError("inflate: init failed");
      std::string out;
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
      zs.avail_in = static_cast<uInt>(data.size());
      char buf[65536];
      int rc;
      do {
        zs.next_out = reinterpret_cast<Bytef*>(buf);
        zs.avail_out = sizeof(buf);
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
          inflateEnd(&zs);
          return arrow::Status::Invalid("corrupt deflate block: ", zs.msg ? zs.msg : "error ", rc);
        }
        out.append(buf, sizeof(buf) - zs.avail_out);
        if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
          inflateEnd(&zs);
          return arrow::Status::Invalid("corrupt deflate block: truncated");
        }
      } while (rc != Z_STREAM_END);
      inflateEnd(&zs);
      return out;
    }
    case OcfCodec::kSnappy: {
      if (data.size() < 4) return arrow::Status::Invalid("corrupt snappy block: shorter than its CRC");
      const std::string_view body = data.substr(0, data.size() - 4);
      std::string out;
      if (!snappy::Uncompress(body.data(), body.size(), &out)) return arrow::Status::Invalid("corrupt snappy block");
      const auto* c = reinterpret_cast<const uint8_t*>(data.data() + data.size() - 4);
      const uint32_t want = (uint32_t{c[0]} << 24) | (uint32_t{c[1]} << 16) | (uint32_t{c[2]} << 8) | c[3];
      const uint32_t got = static_cast<uint32_t>(
          crc32(0, reinterpret_cast<const Bytef*>(out.data()), static_cast<uInt>(out.size())));
      if (want != got) return arrow::Status::Invalid("snappy block CRC mismatch");
      return out;
    }
    case OcfCodec::kZstandard: {
      ZSTD_DStream* ds = ZSTD_createDStream();
      ZSTD_initDStream(ds);
      std::string out;
      ZSTD_inBuffer in{data.data(), data.size(), 0};
      char buf[65536];
      size_t rc = 1;
      while (in.pos < in.size) {
        ZSTD_outBuffer ob{buf, sizeof(buf), 0};
        rc = ZSTD_decompressStream(ds, &ob, &in);
        if (ZSTD_isError(rc)) {
          ZSTD_freeDStream(ds);
          return arrow::Status::Invalid("corrupt zstandard block: ", ZSTD_getErrorName(rc));
        }
        out.append(buf, ob.pos);
      }
      while (rc != 0) {  // flush what the decoder still holds
        ZSTD_outBuffer ob{buf, sizeof(buf), 0};
        rc = ZSTD_decompressStream(ds, &ob, &in);
        if (ZSTD_isError(rc) || ob.pos == 0) {
          ZSTD_freeDStream(ds);
          return arrow::Status::Invalid("corrupt zstandard block: truncated");
        }
        out.append(buf, ob.pos);
      }
      ZSTD_freeDStream(ds);
      return out;
    }
  }
  return arrow::Status::Invalid("unknown codec");
}

arrow::Result<std::unique_ptr<OcfWriter>> OcfWriter::Make(std::shared_ptr<const AvroSchema> schema, OcfCodec codec,
                                                          std::string sync,
                                                          std::map<std::string, std::string> metadata) {
  auto w = std::make_unique<OcfWriter>();
  if (sync.empty()) {
    std::random_device rd;
    for (int i = 0; i < 16; ++i) sync.push_back(static_cast<char>(rd() & 0xff));
  }
  if (sync.size() != 16) return arrow::Status::Invalid("Avro sync marker must be 16 bytes");
  w->schema_ = schema;
  w->codec_ = codec;
  w->sync_ = sync;
  metadata["avro.schema"] = schema->ToJson();
  metadata["avro.codec"] = OcfCodecName(codec);
  w->header_.append(kMagic, 4);
  internal::WriteLong(static_cast<int64_t>(metadata.size()), &w->header_);
  for (const auto& [k, v] : metadata) {
    internal::WriteBytes(k, &w->header_);
    internal::WriteBytes(v, &w->header_);
  }
  internal::WriteLong(0, &w->header_);
  w->header_.append(sync);
  return w;
}

arrow::Status OcfWriter::WriteBlock(std::string_view datums, int64_t count, std::string* out) const {
  if (count == 0) return arrow::Status::OK();
  ARROW_ASSIGN_OR_RAISE(std::string block, CompressBlock(codec_, datums));
  internal::WriteLong(count, out);
  internal::WriteBytes(block, out);
  out->append(sync_);
  return arrow::Status::OK();
}

arrow::Result<std::unique_ptr<OcfReader>> OcfReader::Open(std::string_view file) {
  auto r = std::make_unique<OcfReader>();
  r->file_ = file;
  if (file.size() < 4 || file.substr(0, 4) != std::string_view(kMagic, 4)) {
    return arrow::Status::Invalid("not an Avro object container file: bad magic (expected \"Obj\\x01\")");
  }
  const uint8_t* begin = reinterpret_cast<const uint8_t*>(file.data());
  const uint8_t* p = begin + 4;
  const uint8_t* end = begin + file.size();
  auto fail = [&](const std::string& what) {
    return arrow::Status::Invalid("corrupt Avro container header at byte ", p - begin, ": ", what);
  };
  auto read_string = [&](std::string* s) -> arrow::Status {
    int64_t n = 0;
    if (internal::ReadLong(p, end, &n) != internal::ReadStatus::kOk) return fail("truncated varint");
    if (n < 0 || n > end - p) return fail("bad string length");
    s->assign(reinterpret_cast<const char*>(p), n);
    p += n;
    return arrow::Status::OK();
  };
  while (true) {
    int64_t count = 0;
    if (internal::ReadLong(p, end, &count) != internal::ReadStatus::kOk) return fail("truncated metadata");
    if (count == 0) break;
    if (count < 0) {
      count = -count;
      int64_t size = 0;
      if (internal::ReadLong(p, end, &size) != internal::ReadStatus::kOk) return fail("truncated metadata");
    }
    for (int64_t i = 0; i < count; ++i) {
      std::string k, v;
      ARROW_RETURN_NOT_OK(read_string(&k));
      ARROW_RETURN_NOT_OK(read_string(&v));
      r->metadata_[k] = v;
    }
  }
  if (end - p < 16) return fail("truncated sync marker");
  r->sync_.assign(reinterpret_cast<const char*>(p), 16);
  p += 16;
  r->pos_ = p - begin;
  auto schema_it = r->metadata_.find("avro.schema");
  if (schema_it == r->metadata_.end()) return arrow::Status::Invalid("Avro container header has no avro.schema");
  ARROW_ASSIGN_OR_RAISE(r->schema_, AvroSchema::Parse(schema_it->second));
  auto codec_it = r->metadata_.find("avro.codec");
  if (codec_it != r->metadata_.end()) {
    ARROW_ASSIGN_OR_RAISE(r->codec_, ParseOcfCodec(codec_it->second));
  }
  return r;
}

arrow::Result<bool> OcfReader::NextBlock(std::string* datums, int64_t* count) {
  const uint8_t* begin = reinterpret_cast<const uint8_t*>(file_.data());
  const uint8_t* p = begin + pos_;
  const uint8_t* end = begin + file_.size();
  if (p == end) return false;
  auto fail = [&](const std::string& what) {
    return arrow::Status::Invalid("corrupt Avro container block at byte ", pos_, ": ", what);
  };
  int64_t n = 0, size = 0;
  if (internal::ReadLong(p, end, &n) != internal::ReadStatus::kOk || n < 0) return fail("bad object count");
  if (internal::ReadLong(p, end, &size) != internal::ReadStatus::kOk || size < 0) return fail("bad block size");
  if (size > end - p) return fail("block of " + std::to_string(size) + " bytes is truncated");
  const std::string_view data(reinterpret_cast<const char*>(p), size);
  p += size;
  if (end - p < 16 || std::string_view(reinterpret_cast<const char*>(p), 16) != sync_) {
    return fail("sync marker mismatch after the block");
  }
  p += 16;
  auto decompressed = DecompressBlock(codec_, data);
  if (!decompressed.ok()) return fail(decompressed.status().message());
  *datums = std::move(*decompressed);
  *count = n;
  pos_ = p - begin;
  return true;
}

arrow::Result<std::shared_ptr<arrow::Table>> ReadObjectContainer(std::string_view file,
                                                                 std::shared_ptr<arrow::Schema> columns,
                                                                 std::shared_ptr<const AvroSchema> reader) {
  ARROW_ASSIGN_OR_RAISE(auto ocf, OcfReader::Open(file));
  if (columns == nullptr) {
    ARROW_ASSIGN_OR_RAISE(columns, AvroToArrowSchema(reader ? *reader : *ocf->schema()));
  }
  ARROW_ASSIGN_OR_RAISE(auto decoder, AvroRowDecoder::Make(columns, reader));
  ARROW_ASSIGN_OR_RAISE(auto program, decoder->Compile(ocf->schema()));
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  std::string datums;
  int64_t count = 0;
  while (true) {
    ARROW_ASSIGN_OR_RAISE(bool more, ocf->NextBlock(&datums, &count));
    if (!more) break;
    try {
      ARROW_RETURN_NOT_OK(decoder->DecodeBlock(*program, datums, count));
    } catch (const std::bad_alloc&) {
      return arrow::Status::OutOfMemory("Avro decoder: out of memory");
    }
    if (decoder->num_rows() >= 65536) {
      ARROW_ASSIGN_OR_RAISE(auto batch, decoder->Flush());
      batches.push_back(std::move(batch));
    }
  }
  ARROW_ASSIGN_OR_RAISE(auto batch, decoder->Flush());
  if (batch->num_rows() > 0 || batches.empty()) batches.push_back(std::move(batch));
  return arrow::Table::FromRecordBatches(columns, batches);
}

arrow::Result<std::string> WriteObjectContainer(const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches,
                                                std::shared_ptr<const AvroSchema> schema, OcfCodec codec,
                                                int64_t rows_per_block, std::string sync) {
  ARROW_ASSIGN_OR_RAISE(auto writer, OcfWriter::Make(schema, codec, std::move(sync)));
  std::string out = writer->header();
  std::unique_ptr<AvroEncoder> encoder;
  std::string datums;
  int64_t count = 0;
  for (const auto& batch : batches) {
    if (!encoder) {
      ARROW_ASSIGN_OR_RAISE(encoder, AvroEncoder::Make(*batch->schema(), schema));
    }
    for (int64_t row = 0; row < batch->num_rows(); ++row) {
      ARROW_RETURN_NOT_OK(encoder->EncodeRow(*batch, row, &datums));
      if (++count == rows_per_block) {
        ARROW_RETURN_NOT_OK(writer->WriteBlock(datums, count, &out));
        datums.clear();
        count = 0;
      }
    }
  }
  ARROW_RETURN_NOT_OK(writer->WriteBlock(datums, count, &out));
  return out;
}

}  // namespace laminar::serde::avro
