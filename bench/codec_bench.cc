// JSON -> Arrow and CSV -> Arrow on the same bytes: our decoders against Arrow C++'s own
// readers (one thread) and, for JSON, simdjson's bare parse (the ceiling: it builds
// nothing). Prints MB/s and rows/s per CPU second of the decoding thread, and the
// ratios; absolute numbers vary with the machine, the ratios are the result. Usage: codec_bench [megabytes, default 256] [json|csv|all]
#include <arrow/api.h>
#include <arrow/csv/api.h>
#include <arrow/io/memory.h>
#include <arrow/json/api.h>
#include <simdjson.h>

#include <ctime>
#include <cstdlib>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "nexmark_bid.h"
#include "laminar/serde/codec.h"

namespace {

using laminar::bench::BidJson;
using laminar::bench::BidSchema;

// This thread's CPU time, not the wall clock: on a shared machine a contestant that loses
// the core for a moment would otherwise be charged for it.
double ThreadSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string CsvRow(std::mt19937_64& rng, int64_t i) {
  std::string row;
  for (int c = 0; c < 16; ++c) {
    if (c) row += ',';
    switch (c % 4) {
      case 0: row += std::to_string(static_cast<int64_t>(rng() % 10000000)); break;
      case 1: row += std::to_string(static_cast<double>(rng() % 1000000) / 100.0); break;
      case 2: row += "name-" + std::to_string(rng() % 100000); break;
      case 3: row += "2026-11-" + std::to_string(10 + i % 18) + " 12:34:56"; break;
    }
  }
  return row;
}

std::shared_ptr<arrow::Schema> CsvSchema() {
  arrow::FieldVector fields;
  for (int c = 0; c < 16; ++c) {
    std::shared_ptr<arrow::DataType> type;
    switch (c % 4) {
      case 0: type = arrow::int64(); break;
      case 1: type = arrow::float64(); break;
      case 2: type = arrow::utf8(); break;
      default: type = arrow::timestamp(arrow::TimeUnit::MICRO); break;
    }
    fields.push_back(arrow::field("c" + std::to_string(c), type));
  }
  return arrow::schema(fields);
}

struct Result {
  std::string name;
  double seconds = 0;
  int64_t rows = 0;
};

// Runs the contestants in interleaved rounds (so a noisy moment hits all of them alike)
// and keeps each one's best round. LAMINAR_BENCH_ONLY=<name prefix> runs just that one
// many times, for a profiler.
std::vector<Result> Compare(int64_t bytes, const std::vector<std::pair<std::string, std::function<int64_t()>>>& runs) {
  const char* only = std::getenv("LAMINAR_BENCH_ONLY");
  std::vector<Result> results;
  for (const auto& [name, run] : runs) {
    results.push_back({name, 1e30, run()});  // warm up
  }
  const int rounds = only ? 20 : 5;
  for (int round = 0; round < rounds; ++round) {
    for (size_t i = 0; i < runs.size(); ++i) {
      if (only && runs[i].first.rfind(only, 0) != 0) continue;
      const double start = ThreadSeconds();
      results[i].rows = runs[i].second();
      results[i].seconds = std::min(results[i].seconds, ThreadSeconds() - start);
    }
  }
  for (const auto& r : results) {
    std::printf("  %-34s %9.1f MB/s %12.0f rows/s\n", r.name.c_str(), static_cast<double>(bytes) / r.seconds / 1e6,
                static_cast<double>(r.rows) / r.seconds);
  }
  return results;
}

void Check(const arrow::Status& status) {
  if (!status.ok()) {
    std::fprintf(stderr, "benchmark failed: %s\n", status.ToString().c_str());
    std::exit(1);
  }
}

void RunJson(std::mt19937_64& rng, int64_t megabytes);
void RunCsv(std::mt19937_64& rng, int64_t megabytes);

}  // namespace

int main(int argc, char** argv) {
  const int64_t megabytes = argc > 1 ? std::atoll(argv[1]) : 256;
  const std::string only = argc > 2 ? argv[2] : "all";
  std::mt19937_64 rng(42);
  if (only != "csv") RunJson(rng, megabytes);
  if (only != "json") RunCsv(rng, megabytes);
  return 0;
}

namespace {

void RunJson(std::mt19937_64& rng, int64_t megabytes) {

  // JSON
  std::vector<std::string> messages;
  std::string ndjson;
  while (static_cast<int64_t>(ndjson.size()) < megabytes * 1000000 / 2) {
    messages.push_back(BidJson(rng, static_cast<int64_t>(messages.size())));
    ndjson += messages.back();
    ndjson += '\n';
  }
  const int64_t json_bytes = static_cast<int64_t>(ndjson.size());
  std::printf("JSON: %zu messages, %.1f MB, ~%zu bytes each\n", messages.size(), json_bytes / 1e6,
              messages[0].size());

  laminar::ConnectorConfig config("bench", {{"format", "json"}});
  auto decoder = laminar::serde::MakeDecoder(config, BidSchema());
  Check(decoder.status());
  std::vector<laminar::serde::RawRecord> records(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) records[i].value = messages[i];
  // Two batch sizes: the Kafka source's default (max.poll.records = 1000) and a larger
  // one, whose ~4 MB of column data per batch no longer stays in cache.
  auto ours_in_batches_of = [&](size_t batch) {
    return [&, batch] {
      int64_t rows = 0;
      for (size_t i = 0; i < records.size(); i += batch) {
        auto n = std::min<size_t>(batch, records.size() - i);
        auto decoded = (*decoder)->Decode(std::span(records.data() + i, n));
        Check(decoded.status());
        rows += decoded->batch->num_rows();
      }
      return rows;
    };
  };
  auto arrow_json = [&] {
    auto input = std::make_shared<arrow::io::BufferReader>(arrow::Buffer::FromString(ndjson));
    auto read = arrow::json::ReadOptions::Defaults();
    read.use_threads = false;
    read.block_size = 1 << 22;
    auto parse = arrow::json::ParseOptions::Defaults();
    parse.explicit_schema = BidSchema();
    auto reader = arrow::json::TableReader::Make(arrow::default_memory_pool(), input, read, parse);
    Check(reader.status());
    auto table = (*reader)->Read();
    Check(table.status());
    return (*table)->num_rows();
  };
  simdjson::ondemand::parser parser;
  std::vector<simdjson::padded_string> padded;
  for (const auto& m : messages) padded.emplace_back(m);
  auto bare = [&] {
    int64_t rows = 0;
    uint64_t sink = 0;
    for (auto& p : padded) {
      auto doc = parser.iterate(p);
      for (auto field : doc.get_object()) {
        auto value = field.value();
        if (value.type() == simdjson::ondemand::json_type::number) {
          sink += static_cast<uint64_t>(int64_t(value.get_int64()));
        } else {
          sink += std::string_view(value.get_string()).size();
        }
      }
      ++rows;
    }
    if (sink == 42) std::printf(" ");
    return rows;
  };
  auto r = Compare(json_bytes, {{"laminar JSON decoder (1000/batch)", ours_in_batches_of(1000)},
                                {"laminar JSON decoder (4096/batch)", ours_in_batches_of(4096)},
                                {"arrow::json::TableReader (1 thread)", arrow_json},
                                {"simdjson on-demand, bare parse", bare}});
  for (int i = 0; i < 2; ++i) {
    std::printf("  ratio (%s): ours / arrow::json = %.2fx   ours / simdjson bare = %.2f\n", i == 0 ? "1000/batch" : "4096/batch",
                r[2].seconds / r[i].seconds, r[3].seconds / r[i].seconds);
  }
  std::printf("\n");
}

void RunCsv(std::mt19937_64& rng, int64_t megabytes) {
  std::vector<std::string> rows;
  std::string csv;
  while (static_cast<int64_t>(csv.size()) < megabytes * 1000000 / 2) {
    rows.push_back(CsvRow(rng, static_cast<int64_t>(rows.size())));
    csv += rows.back();
    csv += '\n';
  }
  const int64_t csv_bytes = static_cast<int64_t>(csv.size());
  std::printf("CSV: %zu rows of 16 columns, %.1f MB\n", rows.size(), csv_bytes / 1e6);
  laminar::ConnectorConfig csv_config("bench", {{"format", "csv"}, {"format.has_header", "false"}});
  auto csv_decoder = laminar::serde::MakeDecoder(csv_config, CsvSchema());
  Check(csv_decoder.status());
  std::vector<laminar::serde::RawRecord> csv_records(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) csv_records[i].value = rows[i];
  auto ours_csv = [&] {
    int64_t n_rows = 0;
    for (size_t i = 0; i < csv_records.size(); i += 4096) {
      auto n = std::min<size_t>(4096, csv_records.size() - i);
      auto decoded = (*csv_decoder)->Decode(std::span(csv_records.data() + i, n));
      Check(decoded.status());
      n_rows += decoded->batch->num_rows();
    }
    return n_rows;
  };
  auto arrow_csv = [&] {
    auto input = std::make_shared<arrow::io::BufferReader>(arrow::Buffer::FromString(csv));
    auto read = arrow::csv::ReadOptions::Defaults();
    read.use_threads = false;
    read.autogenerate_column_names = true;
    auto convert = arrow::csv::ConvertOptions::Defaults();
    auto schema = CsvSchema();
    for (int c = 0; c < 16; ++c) convert.column_types["f" + std::to_string(c)] = schema->field(c)->type();
    auto reader = arrow::csv::TableReader::Make(arrow::io::default_io_context(), input, read,
                                                arrow::csv::ParseOptions::Defaults(), convert);
    Check(reader.status());
    auto table = (*reader)->Read();
    Check(table.status());
    return (*table)->num_rows();
  };
  auto r = Compare(csv_bytes, {{"laminar CSV decoder (4096/batch)", ours_csv}, {"arrow::csv::TableReader (1 thread)", arrow_csv}});
  std::printf("  ratio: ours / arrow::csv = %.2fx\n", r[1].seconds / r[0].seconds);
}

}  // namespace
