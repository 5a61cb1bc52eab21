// Confluent framing and the schema-id keyed decoder.
#include "laminar/serde/avro/confluent.h"

#include <cstdio>
#include <map>
#include <new>

#include "laminar/serde/avro/avro_decoder.h"

namespace laminar::serde::avro {

std::optional<int32_t> ExtractConfluentSchemaId(std::string_view message) {
  if (message.size() < kConfluentHeaderSize || message[0] != 0) return std::nullopt;
  const auto* b = reinterpret_cast<const uint8_t*>(message.data());
  const uint32_t id = (uint32_t{b[1]} << 24) | (uint32_t{b[2]} << 16) | (uint32_t{b[3]} << 8) | b[4];
  return static_cast<int32_t>(id);
}

arrow::Result<std::pair<int32_t, std::string_view>> ParseConfluentHeader(std::string_view message) {
  if (message.size() < kConfluentHeaderSize) {
    return arrow::Status::Invalid("malformed input: Confluent message of ", message.size(),
                                  " bytes is shorter than the 5-byte header");
  }
  if (message[0] != 0) {
    char text[64];
    std::snprintf(text, sizeof(text), "invalid Confluent header: expected 0x00, got 0x%02x",
                  static_cast<unsigned>(static_cast<uint8_t>(message[0])));
    return arrow::Status::Invalid(text);
  }
  return std::make_pair(*ExtractConfluentSchemaId(message), message.substr(kConfluentHeaderSize));
}

std::string ConfluentHeader(int32_t schema_id) {
  const auto id = static_cast<uint32_t>(schema_id);
  return std::string{'\0', static_cast<char>(id >> 24), static_cast<char>(id >> 16), static_cast<char>(id >> 8),
                     static_cast<char>(id)};
}

namespace {

class ConfluentDecoder : public RecordDecoder {
 public:
  ConfluentDecoder(std::unique_ptr<AvroRowDecoder> decoder, SchemaLookup lookup)
      : decoder_(std::move(decoder)), lookup_(std::move(lookup)) {}

  const std::shared_ptr<arrow::Schema>& schema() const override { return decoder_->schema(); }

  arrow::Result<DecodedBatch> Decode(std::span<const RawRecord> records) override {
    DecodedBatch out;
    std::string error;
    try {
      for (size_t i = 0; i < records.size(); ++i) {
        const RawRecord& rec = records[i];
        if (rec.is_tombstone()) {
          ++out.tombstones;
          continue;
        }
        auto header = ParseConfluentHeader(rec.value);
        if (!header.ok()) {
          out.errors.push_back({i, header.status().message()});
          continue;
        }
        auto found = Lookup(header->first);
        if (!found.ok()) {
          // The whole call fails and its records are read again: the rows decoded so far
          // must not stay behind for the next call.
          (void)decoder_->Flush();
          return found.status();
        }
        const Entry* entry = *found;
        if (entry->program == nullptr) {
          out.errors.push_back({i, entry->error});
          continue;
        }
        if (!decoder_->DecodeDatum(*entry->program, header->second, &error)) out.errors.push_back({i, error});
      }
    } catch (const std::bad_alloc&) {
      try {
        (void)decoder_->Flush();
      } catch (const std::bad_alloc&) {
      }
      return arrow::Status::OutOfMemory("Avro decoder: out of memory");
    }
    ARROW_ASSIGN_OR_RAISE(out.batch, decoder_->Flush());
    return out;
  }

 private:
  struct Entry {
    std::shared_ptr<const DecodeProgram> program;
    std::string error;  // when program is null
  };

  arrow::Result<const Entry*> Lookup(int32_t id) {
    if (last_ != nullptr && last_id_ == id) return last_;
    auto it = cache_.find(id);
    if (it == cache_.end()) {
      Entry entry;
      auto text = lookup_ ? lookup_(id) : arrow::Result<std::string>(arrow::Status::KeyError("no registry"));
      if (!text.ok()) {
        if (!text.status().IsKeyError()) return text.status();
        entry.error = "schema not found: schema ID " + std::to_string(id);
      } else {
        auto schema = AvroSchema::Parse(*text);
        if (!schema.ok()) {
          entry.error = "schema ID " + std::to_string(id) + ": " + schema.status().message();
        } else {
          auto program = decoder_->Compile(*schema);
          if (program.ok()) {
            entry.program = *program;
          } else {
            entry.error = "schema ID " + std::to_string(id) + " cannot be read into the declared columns: " +
                          program.status().message();
          }
        }
      }
      it = cache_.emplace(id, std::move(entry)).first;
    }
    last_id_ = id;
    last_ = &it->second;
    return last_;
  }

  std::unique_ptr<AvroRowDecoder> decoder_;
  SchemaLookup lookup_;
  std::map<int32_t, Entry> cache_;
  int32_t last_id_ = 0;
  const Entry* last_ = nullptr;
};

}  // namespace

arrow::Result<std::unique_ptr<RecordDecoder>> MakeConfluentDecoder(std::shared_ptr<arrow::Schema> columns,
                                                                   std::shared_ptr<const AvroSchema> reader,
                                                                   SchemaLookup lookup) {
  if (columns == nullptr) {
    if (reader == nullptr) {
      return arrow::Status::Invalid("Confluent Avro decoding needs declared columns or a reader schema");
    }
    ARROW_ASSIGN_OR_RAISE(columns, AvroToArrowSchema(*reader));
  }
  ARROW_ASSIGN_OR_RAISE(auto decoder, AvroRowDecoder::Make(columns, reader));
  return std::make_unique<ConfluentDecoder>(std::move(decoder), std::move(lookup));
}

}  // namespace laminar::serde::avro
