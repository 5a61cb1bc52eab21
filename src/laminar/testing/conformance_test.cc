// The built-in connectors run the conformance suites.
#include "laminar/testing/conformance.h"

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <gtest/gtest.h>
#include <parquet/arrow/reader.h>

#include <filesystem>
#include <fstream>

#include "laminar/builtin_connectors.h"
#include "laminar/testing/test_connectors.h"

namespace laminar::testing {
namespace {

namespace fs = std::filesystem;

TEST(ConformanceTest, DatagenSource) {
  ConnectorRegistry registry;
  RegisterBuiltinConnectors(registry);
  SourceUnderTest spec;
  spec.config = ConnectorConfig("datagen", {{"rows-per-second", "0"}, {"fields.id.kind", "sequence"}, {"seed", "3"}});
  spec.config.set_schema(arrow::schema({arrow::field("id", arrow::int64(), false), arrow::field("v", arrow::utf8())}));
  ASSERT_TRUE(spec.config.Validate(registry.SourceInfo("datagen")->config_keys).ok());
  spec.make = [&] {
    ConnectorConfig copy = spec.config;
    return registry.CreateSource(copy).ValueOrDie();
  };
  CheckSourceConformance(spec);
}

TEST(ConformanceTest, SequenceTestSource) {
  SourceUnderTest spec;
  spec.make = [] { return std::make_unique<SequenceSource>(10000, 100); };
  CheckSourceConformance(spec);
}

std::shared_ptr<arrow::RecordBatch> Batch(int64_t from, int64_t n) {
  arrow::Int64Builder ids;
  for (int64_t i = from; i < from + n; ++i) EXPECT_TRUE(ids.Append(i).ok());
  return arrow::RecordBatch::Make(arrow::schema({arrow::field("id", arrow::int64(), false)}), n,
                                  {ids.Finish().ValueOrDie()});
}

TEST(ConformanceTest, FilesSinkEveryFormat) {
  for (const std::string format : {"parquet", "json", "csv"}) {
    SCOPED_TRACE(format);
    const fs::path dir = fs::temp_directory_path() / ("laminar-conformance-" + std::to_string(::getpid()) + format);
    fs::remove_all(dir);
    ConnectorRegistry registry;
    RegisterBuiltinConnectors(registry);
    SinkUnderTest spec;
    spec.config = ConnectorConfig("files", {{"path", dir.string()}, {"format", format}});
    spec.config.set_schema(Batch(0, 0)->schema());
    ASSERT_TRUE(spec.config.Validate(registry.SinkInfo("files")->config_keys).ok());
    spec.make = [&] {
      ConnectorConfig copy = spec.config;
      return registry.CreateSink(copy).ValueOrDie();
    };
    spec.batches = {Batch(0, 10), Batch(10, 10), Batch(20, 10)};
    spec.read_visible = [&] {
      std::vector<std::shared_ptr<arrow::RecordBatch>> out;
      std::vector<int64_t> ids;
      for (const auto& entry : fs::directory_iterator(dir)) {
        const auto name = entry.path().filename().string();
        if (name[0] == '_' || name[0] == '.') continue;
        if (format == "parquet") {
          auto file = arrow::io::ReadableFile::Open(entry.path().string()).ValueOrDie();
          auto reader = parquet::arrow::OpenFile(file, arrow::default_memory_pool()).ValueOrDie();
          auto table = reader->ReadTable().ValueOrDie()->CombineChunksToBatch().ValueOrDie();
          out.push_back(table);
        } else {
          std::ifstream in(entry.path());
          std::string line;
          bool header = format == "csv";
          while (std::getline(in, line)) {
            if (header) { header = false; continue; }
            ids.push_back(std::stoll(format == "csv" ? line : line.substr(line.find(':') + 1)));
          }
        }
      }
      if (!ids.empty()) {
        arrow::Int64Builder b;
        EXPECT_TRUE(b.AppendValues(ids).ok());
        out.push_back(arrow::RecordBatch::Make(Batch(0, 0)->schema(), static_cast<int64_t>(ids.size()),
                                               {b.Finish().ValueOrDie()}));
      }
      return out;
    };
    CheckSinkConformance(spec);
    fs::remove_all(dir);
  }
}

}  // namespace
}  // namespace laminar::testing
