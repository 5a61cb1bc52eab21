// Delta Lake sink throughput and commit latency. Builds one 16-column batch of
// `epoch_rows` rows (deterministic), saves it as Arrow IPC for the Python peer
// (bench/delta_bench.py runs deltalake.write_deltalake on the very same batch), then:
//   phase 1: `epochs` epochs of that batch through the sink (begin, write, pre_commit,
//            commit): rows/s, MB/s of Arrow data;
//   phase 2: 200 small epochs (1000 rows): commit latency p50/p99 (pre_commit + commit)
//            and resident memory after commit 1, 100 and 200 (flat = no growth per commit);
//   phase 3: memory as the table grows: 3000 epochs of 100 rows, once without and once with
//            background compaction; resident memory after 500 and 3000 commits and the live
//            files then (the sink keeps one add action per live file).
// Prints one "key value" per line for the driver. Usage:
//   delta_bench OUT_DIR [epochs=100] [epoch_rows=100000]
#include <arrow/api.h>
#include <arrow/filesystem/localfs.h>
#include <arrow/io/file.h>
#include <arrow/ipc/writer.h>
#include <spdlog/spdlog.h>
#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "laminar/delta/delta_sink.h"

namespace {

using Clock = std::chrono::steady_clock;

void Check(const arrow::Status& status, const char* what) {
  if (!status.ok()) {
    std::fprintf(stderr, "delta_bench: %s: %s\n", what, status.ToString().c_str());
    std::exit(1);
  }
}

std::shared_ptr<arrow::RecordBatch> MakeBatch(int64_t rows) {
  std::mt19937_64 rng(42);
  arrow::FieldVector fields;
  arrow::ArrayVector columns;
  for (int c = 0; c < 16; ++c) {
    const std::string name = "c" + std::to_string(c);
    switch (c % 4) {
      case 0: {
        arrow::Int64Builder b;
        for (int64_t i = 0; i < rows; ++i) Check(b.Append(static_cast<int64_t>(rng() % 10000000)), "append");
        columns.push_back(b.Finish().ValueOrDie());
        fields.push_back(arrow::field(name, arrow::int64(), false));
        break;
      }
      case 1: {
        arrow::DoubleBuilder b;
        for (int64_t i = 0; i < rows; ++i) Check(b.Append(static_cast<double>(rng() % 1000000) / 100.0), "append");
        columns.push_back(b.Finish().ValueOrDie());
        fields.push_back(arrow::field(name, arrow::float64()));
        break;
      }
      case 2: {
        arrow::StringBuilder b;
        for (int64_t i = 0; i < rows; ++i) Check(b.Append("name-" + std::to_string(rng() % 100000)), "append");
        columns.push_back(b.Finish().ValueOrDie());
        fields.push_back(arrow::field(name, arrow::utf8()));
        break;
      }
      default: {
        arrow::TimestampBuilder b(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"), arrow::default_memory_pool());
        for (int64_t i = 0; i < rows; ++i) Check(b.Append(1767225600000000LL + static_cast<int64_t>(rng() % 86400000000ULL)), "append");
        columns.push_back(b.Finish().ValueOrDie());
        fields.push_back(arrow::field(name, arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")));
        break;
      }
    }
  }
  return arrow::RecordBatch::Make(arrow::schema(fields), rows, columns);
}

long RssKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

// Memory in use: malloc's allocated bytes plus what Arrow's pool has handed out. Resident
// memory also counts what the allocators keep cached per thread (mimalloc in Arrow's pool
// retains pages freed by the compaction and checkpoint threads), which says little about
// what the sink holds.
long HeldKb() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<long>((info.uordblks + info.hblkhd + arrow::default_memory_pool()->bytes_allocated()) / 1024);
}

std::unique_ptr<laminar::delta::DeltaSink> OpenSink(const std::string& path,
                                                    const std::shared_ptr<arrow::Schema>& schema,
                                                    std::map<std::string, std::string> options = {}) {
  options["table.path"] = path;
  laminar::ConnectorConfig config("delta-lake", options);
  config.set_instance_name("bench");
  config.set_pipeline_name("delta_bench");
  config.set_schema(schema);
  Check(config.Validate(laminar::delta::DeltaSinkKeySpecs()), "config");
  auto sink = std::make_unique<laminar::delta::DeltaSink>();
  Check(sink->Open(config), "open");
  return sink;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: delta_bench OUT_DIR [epochs] [epoch_rows]\n");
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);  // stdout carries the figures
  const std::filesystem::path out = argv[1];
  const int epochs = argc > 2 ? std::atoi(argv[2]) : 100;
  const int64_t epoch_rows = argc > 3 ? std::atoll(argv[3]) : 100000;
  std::filesystem::remove_all(out / "laminar");
  std::filesystem::remove_all(out / "laminar_small");
  std::filesystem::create_directories(out);
  auto batch = MakeBatch(epoch_rows);
  {
    auto file = arrow::io::FileOutputStream::Open((out / "batch.arrow").string()).ValueOrDie();
    auto writer = arrow::ipc::MakeFileWriter(file, batch->schema()).ValueOrDie();
    Check(writer->WriteRecordBatch(*batch), "ipc");
    Check(writer->Close(), "ipc close");
  }
  int64_t arrow_bytes = 0;
  for (const auto& column : batch->columns()) {
    for (const auto& buffer : column->data()->buffers) arrow_bytes += buffer ? buffer->size() : 0;
  }

  // Phase 1: throughput.
  auto sink = OpenSink((out / "laminar").string(), batch->schema());
  const auto start = Clock::now();
  for (int e = 1; e <= epochs; ++e) {
    Check(sink->BeginEpoch(static_cast<uint64_t>(e)), "begin");
    Check(sink->WriteBatch(batch).status(), "write");
    Check(sink->PreCommit(static_cast<uint64_t>(e)), "pre_commit");
    Check(sink->CommitEpoch(static_cast<uint64_t>(e)), "commit");
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  Check(sink->Close(), "close");
  std::printf("rows %lld\n", static_cast<long long>(epoch_rows * epochs));
  std::printf("arrow_bytes %lld\n", static_cast<long long>(arrow_bytes * epochs));
  std::printf("seconds %.4f\n", seconds);
  std::printf("rows_per_second %.0f\n", static_cast<double>(epoch_rows * epochs) / seconds);

  // Phase 2: 200 small commits.
  auto small = batch->Slice(0, 1000);
  auto small_sink = OpenSink((out / "laminar_small").string(), batch->schema());
  std::vector<double> latencies;
  long rss_1 = 0, rss_100 = 0, rss_200 = 0;
  for (int e = 1; e <= 200; ++e) {
    Check(small_sink->BeginEpoch(static_cast<uint64_t>(e)), "begin");
    Check(small_sink->WriteBatch(small).status(), "write");
    const auto commit_start = Clock::now();
    Check(small_sink->PreCommit(static_cast<uint64_t>(e)), "pre_commit");
    Check(small_sink->CommitEpoch(static_cast<uint64_t>(e)), "commit");
    latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - commit_start).count());
    if (e == 1) rss_1 = RssKb();
    if (e == 100) rss_100 = RssKb();
    if (e == 200) rss_200 = RssKb();
  }
  std::sort(latencies.begin(), latencies.end());
  std::printf("commit_p50_ms %.3f\n", latencies[latencies.size() / 2]);
  std::printf("commit_p99_ms %.3f\n", latencies[latencies.size() * 99 / 100]);
  std::printf("commit_max_ms %.3f\n", latencies.back());
  std::printf("rss_kb_after_1 %ld\nrss_kb_after_100 %ld\nrss_kb_after_200 %ld\n", rss_1, rss_100, rss_200);
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("peak_rss_kb %ld\n", usage.ru_maxrss);
  Check(small_sink->Close(), "close");
  small_sink.reset();

  // Phase 3: a growing table.
  auto tiny = batch->Slice(0, 100);
  const int grow_commits = std::getenv("DELTA_BENCH_GROW_COMMITS") ? std::atoi(std::getenv("DELTA_BENCH_GROW_COMMITS")) : 3000;
  for (const bool compaction : {false, true}) {
    const std::string name = compaction ? "growing_compacted" : "growing";
    std::filesystem::remove_all(out / name);
    auto sink = OpenSink((out / name).string(), batch->schema(),
                         compaction ? std::map<std::string, std::string>{{"compaction.enabled", "true"},
                                                                         {"compaction.interval.ms", "200"},
                                                                         {"compaction.min-files", "20"}}
                                    : std::map<std::string, std::string>{});
    long rss_500 = 0;
    long held_500 = 0;
    for (int e = 1; e <= grow_commits; ++e) {
      Check(sink->BeginEpoch(static_cast<uint64_t>(e)), "begin");
      Check(sink->WriteBatch(tiny).status(), "write");
      Check(sink->PreCommit(static_cast<uint64_t>(e)), "pre_commit");
      Check(sink->CommitEpoch(static_cast<uint64_t>(e)), "commit");
      if (e == 500) {
        rss_500 = RssKb();
        held_500 = HeldKb();
      }
      if (e % 500 == 0 && std::getenv("DELTA_BENCH_TRACE")) {
        std::fprintf(stderr, "%s %d held %ld KB, resident %ld KB\n", name.c_str(), e, HeldKb(), RssKb());
      }
    }
    const long rss_3000 = RssKb();
    const long held_3000 = HeldKb();
    Check(sink->Close(), "close");
    laminar::storage::TableLocation location;
    location.fs = std::make_shared<arrow::fs::LocalFileSystem>();
    location.root = (out / name).string();
    location.local = true;
    laminar::delta::DeltaLog log(location);
    auto snapshot = log.Load().ValueOrDie();
    std::printf("%s_rss_kb_after_500 %ld\n%s_rss_kb_after_3000 %ld\n%s_live_files %zu\n%s_tombstones %zu\n",
                name.c_str(), rss_500, name.c_str(), rss_3000, name.c_str(), snapshot->files().size(), name.c_str(),
                snapshot->tombstones().size());
    std::printf("%s_held_kb_after_500 %ld\n%s_held_kb_after_3000 %ld\n", name.c_str(), held_500, name.c_str(), held_3000);
  }
  return 0;
}
