// Test-only CLI around the Avro codec, for the fastavro interop suite
// (tests/interop/test_avro_fastavro.py). Rows travel as Arrow IPC files so that no value
// passes through a text rendering.
//
//   avro_tool arrow-schema SCHEMA.json OUT.arrow          empty file with the Arrow mapping
//   avro_tool encode SCHEMA.json IN.arrow OUT.bin         datums back to back
//   avro_tool decode WRITER.json IN.bin COUNT OUT.arrow [READER.json]
//   avro_tool ocf-write SCHEMA.json IN.arrow OUT.avro CODEC [ROWS_PER_BLOCK]
//   avro_tool ocf-read IN.avro OUT.arrow [READER.json]
//   avro_tool fingerprint SCHEMA.json                     canonical form, then the fingerprint
//   avro_tool bench WRITER.json IN.bin COUNT REPEAT       decode throughput
#include <arrow/io/file.h>
#include <arrow/ipc/reader.h>
#include <arrow/ipc/writer.h>
#include <arrow/table.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "laminar/serde/avro/avro_decoder.h"
#include "laminar/serde/avro/avro_encoder.h"
#include "laminar/serde/avro/avro_schema.h"
#include "laminar/serde/avro/object_container.h"

namespace avro = laminar::serde::avro;

namespace {

arrow::Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return arrow::Status::IOError("cannot open ", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

arrow::Status WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) return arrow::Status::IOError("cannot write ", path);
  return arrow::Status::OK();
}

arrow::Result<std::shared_ptr<const avro::AvroSchema>> LoadSchema(const std::string& path) {
  ARROW_ASSIGN_OR_RAISE(std::string text, ReadFile(path));
  return avro::AvroSchema::Parse(text);
}

arrow::Result<std::shared_ptr<arrow::Table>> ReadArrow(const std::string& path) {
  ARROW_ASSIGN_OR_RAISE(auto file, arrow::io::ReadableFile::Open(path));
  ARROW_ASSIGN_OR_RAISE(auto reader, arrow::ipc::RecordBatchFileReader::Open(file));
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  for (int i = 0; i < reader->num_record_batches(); ++i) {
    ARROW_ASSIGN_OR_RAISE(auto batch, reader->ReadRecordBatch(i));
    batches.push_back(std::move(batch));
  }
  return arrow::Table::FromRecordBatches(reader->schema(), batches);
}

arrow::Status WriteArrow(const std::string& path, const arrow::Table& table) {
  ARROW_ASSIGN_OR_RAISE(auto file, arrow::io::FileOutputStream::Open(path));
  ARROW_ASSIGN_OR_RAISE(auto writer, arrow::ipc::MakeFileWriter(file, table.schema()));
  ARROW_RETURN_NOT_OK(writer->WriteTable(table));
  ARROW_RETURN_NOT_OK(writer->Close());
  return file->Close();
}

arrow::Result<std::vector<std::shared_ptr<arrow::RecordBatch>>> Batches(const arrow::Table& table) {
  arrow::TableBatchReader reader(table);
  std::vector<std::shared_ptr<arrow::RecordBatch>> out;
  while (true) {
    std::shared_ptr<arrow::RecordBatch> batch;
    ARROW_RETURN_NOT_OK(reader.ReadNext(&batch));
    if (!batch) break;
    out.push_back(std::move(batch));
  }
  return out;
}

arrow::Result<std::shared_ptr<arrow::Table>> DecodeDatums(const avro::AvroSchema* reader_schema,
                                                          std::shared_ptr<const avro::AvroSchema> writer,
                                                          std::shared_ptr<const avro::AvroSchema> reader,
                                                          const std::string& bytes, int64_t count) {
  ARROW_ASSIGN_OR_RAISE(auto columns, avro::AvroToArrowSchema(reader_schema ? *reader_schema : *writer));
  ARROW_ASSIGN_OR_RAISE(auto decoder, avro::AvroRowDecoder::Make(columns, reader));
  ARROW_ASSIGN_OR_RAISE(auto program, decoder->Compile(writer));
  ARROW_RETURN_NOT_OK(decoder->DecodeBlock(*program, bytes, count));
  ARROW_ASSIGN_OR_RAISE(auto batch, decoder->Flush());
  ARROW_RETURN_NOT_OK(batch->ValidateFull());
  return arrow::Table::FromRecordBatches(columns, {batch});
}

arrow::Status Run(const std::vector<std::string>& args) {
  if (args.empty()) return arrow::Status::Invalid("usage: avro_tool COMMAND ... (see avro_tool.cc)");
  const std::string& cmd = args[0];
  auto need = [&](size_t n) {
    return args.size() >= n ? arrow::Status::OK() : arrow::Status::Invalid(cmd, ": missing arguments");
  };
  if (cmd == "arrow-schema") {
    ARROW_RETURN_NOT_OK(need(3));
    ARROW_ASSIGN_OR_RAISE(auto schema, LoadSchema(args[1]));
    ARROW_ASSIGN_OR_RAISE(auto columns, avro::AvroToArrowSchema(*schema));
    ARROW_ASSIGN_OR_RAISE(auto table, arrow::Table::MakeEmpty(columns));
    return WriteArrow(args[2], *table);
  }
  if (cmd == "encode") {
    ARROW_RETURN_NOT_OK(need(4));
    ARROW_ASSIGN_OR_RAISE(auto schema, LoadSchema(args[1]));
    ARROW_ASSIGN_OR_RAISE(auto table, ReadArrow(args[2]));
    ARROW_ASSIGN_OR_RAISE(auto encoder, avro::AvroEncoder::Make(*table->schema(), schema));
    ARROW_ASSIGN_OR_RAISE(auto batches, Batches(*table));
    std::string out;
    for (const auto& batch : batches) {
      for (int64_t row = 0; row < batch->num_rows(); ++row) ARROW_RETURN_NOT_OK(encoder->EncodeRow(*batch, row, &out));
    }
    return WriteFile(args[3], out);
  }
  if (cmd == "decode") {
    ARROW_RETURN_NOT_OK(need(5));
    ARROW_ASSIGN_OR_RAISE(auto writer, LoadSchema(args[1]));
    ARROW_ASSIGN_OR_RAISE(std::string bytes, ReadFile(args[2]));
    std::shared_ptr<const avro::AvroSchema> reader;
    if (args.size() > 5) {
      ARROW_ASSIGN_OR_RAISE(reader, LoadSchema(args[5]));
    }
    ARROW_ASSIGN_OR_RAISE(auto table, DecodeDatums(reader.get(), writer, reader, bytes, std::stoll(args[3])));
    return WriteArrow(args[4], *table);
  }
  if (cmd == "ocf-write") {
    ARROW_RETURN_NOT_OK(need(5));
    ARROW_ASSIGN_OR_RAISE(auto schema, LoadSchema(args[1]));
    ARROW_ASSIGN_OR_RAISE(auto table, ReadArrow(args[2]));
    ARROW_ASSIGN_OR_RAISE(auto codec, avro::ParseOcfCodec(args[4]));
    const int64_t per_block = args.size() > 5 ? std::stoll(args[5]) : 4096;
    ARROW_ASSIGN_OR_RAISE(auto batches, Batches(*table));
    ARROW_ASSIGN_OR_RAISE(std::string file, avro::WriteObjectContainer(batches, schema, codec, per_block));
    return WriteFile(args[3], file);
  }
  if (cmd == "ocf-read") {
    ARROW_RETURN_NOT_OK(need(3));
    ARROW_ASSIGN_OR_RAISE(std::string bytes, ReadFile(args[1]));
    std::shared_ptr<const avro::AvroSchema> reader;
    if (args.size() > 3) {
      ARROW_ASSIGN_OR_RAISE(reader, LoadSchema(args[3]));
    }
    ARROW_ASSIGN_OR_RAISE(auto table, avro::ReadObjectContainer(bytes, nullptr, reader));
    ARROW_RETURN_NOT_OK(table->ValidateFull());
    return WriteArrow(args[2], *table);
  }
  if (cmd == "fingerprint") {
    ARROW_RETURN_NOT_OK(need(2));
    ARROW_ASSIGN_OR_RAISE(auto schema, LoadSchema(args[1]));
    std::cout << schema->CanonicalForm() << "\n" << static_cast<int64_t>(schema->Fingerprint64()) << "\n";
    return arrow::Status::OK();
  }
  if (cmd == "bench") {
    ARROW_RETURN_NOT_OK(need(5));
    ARROW_ASSIGN_OR_RAISE(auto writer, LoadSchema(args[1]));
    ARROW_ASSIGN_OR_RAISE(std::string bytes, ReadFile(args[2]));
    const int64_t count = std::stoll(args[3]);
    const int repeat = std::stoi(args[4]);
    ARROW_ASSIGN_OR_RAISE(auto columns, avro::AvroToArrowSchema(*writer));
    ARROW_ASSIGN_OR_RAISE(auto decoder, avro::AvroRowDecoder::Make(columns));
    ARROW_ASSIGN_OR_RAISE(auto program, decoder->Compile(writer));
    const auto start = std::chrono::steady_clock::now();
    for (int r = 0; r < repeat; ++r) {
      ARROW_RETURN_NOT_OK(decoder->DecodeBlock(*program, bytes, count));
      ARROW_ASSIGN_OR_RAISE(auto batch, decoder->Flush());
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%.3f s, %.1f MB/s, %.0f rows/s\n", secs, bytes.size() * repeat / secs / 1e6, count * repeat / secs);
    return arrow::Status::OK();
  }
  return arrow::Status::Invalid("unknown command '", cmd, "'");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  arrow::Status st = Run(args);
  if (!st.ok()) {
    std::cerr << "avro_tool: " << st.ToString() << "\n";
    return 1;
  }
  return 0;
}
