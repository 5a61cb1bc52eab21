#include "laminar/serde/parquet/parquet_codec.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

namespace laminar::serde {
namespace {

std::shared_ptr<arrow::RecordBatch> Rows(int64_t n) {
  arrow::Int64Builder ids;
  arrow::StringBuilder regions;
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_TRUE(ids.Append(i).ok());
    EXPECT_TRUE(regions.Append(i < n / 2 ? "eu" : "us").ok());
  }
  return arrow::RecordBatch::Make(
      arrow::schema({arrow::field("id", arrow::int64(), false), arrow::field("region", arrow::utf8())}), n,
      {ids.Finish().ValueOrDie(), regions.Finish().ValueOrDie()});
}

std::string FileOf(int64_t rows, int64_t row_group) {
  ConnectorConfig config("x", {{"format.max_row_group_size", std::to_string(row_group)}});
  auto encoder = MakeParquetEncoder(config, nullptr).ValueOrDie();
  std::vector<std::string> out;
  EXPECT_TRUE(encoder->Encode(*Rows(rows), &out).ok());
  EXPECT_EQ(out.size(), 1u);
  return out[0];
}

DecodedBatch DecodeWith(std::map<std::string, std::string> options, std::shared_ptr<arrow::Schema> schema,
                        const std::string& file) {
  ConnectorConfig config("x", std::move(options));
  auto decoder = MakeParquetDecoder(config, std::move(schema));
  EXPECT_TRUE(decoder.ok()) << decoder.status().ToString();
  RawRecord record;
  record.value = file;
  auto decoded = (*decoder)->Decode(std::span(&record, 1));
  EXPECT_TRUE(decoded.ok());
  return *decoded;
}

TEST(ParquetCodecTest, RoundTripAndProjection) {
  const auto file = FileOf(1000, 100);
  auto all = DecodeWith({}, Rows(0)->schema(), file);
  EXPECT_TRUE(all.batch->Equals(*Rows(1000)));
  auto projected = DecodeWith({}, arrow::schema({arrow::field("region", arrow::utf8())}), file);
  EXPECT_EQ(projected.batch->num_columns(), 1);
  EXPECT_EQ(projected.batch->num_rows(), 1000);
}

TEST(ParquetCodecTest, PredicateSkipsRowGroupsByStatistics) {
  const auto file = FileOf(1000, 100);  // 10 groups: ids 0-99, 100-199, ...
  EXPECT_EQ(DecodeWith({{"format.predicate", "id >= '950'"}}, Rows(0)->schema(), file).batch->num_rows(), 100);
  EXPECT_EQ(DecodeWith({{"format.predicate", "id BETWEEN '150' AND '250'"}}, Rows(0)->schema(), file).batch->num_rows(), 200);
  EXPECT_EQ(DecodeWith({{"format.predicate", "id = '5' OR id = '999'"}}, Rows(0)->schema(), file).batch->num_rows(), 200);
  EXPECT_EQ(DecodeWith({{"format.predicate", "region = 'us' AND id < '600'"}}, Rows(0)->schema(), file).batch->num_rows(), 100);
  EXPECT_EQ(DecodeWith({{"format.predicate", "id > '5000'"}}, Rows(0)->schema(), file).batch->num_rows(), 0);
  EXPECT_EQ(DecodeWith({{"format.row_groups", "0,9"}}, Rows(0)->schema(), file).batch->num_rows(), 200);
}

TEST(ParquetCodecTest, BadInputAndBadOptions) {
  auto bad = DecodeWith({}, Rows(0)->schema(), "not a parquet file");
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.batch->num_rows(), 0);
  auto wrong_type = DecodeWith({}, arrow::schema({arrow::field("id", arrow::utf8())}), FileOf(10, 10));
  ASSERT_EQ(wrong_type.errors.size(), 1u);
  EXPECT_NE(wrong_type.errors[0].message.find("column 'id' is int64"), std::string::npos);
  ConnectorConfig config("x", {{"format.predicate", "id >> '1'"}});
  auto made = MakeParquetDecoder(config, Rows(0)->schema());
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.status().message().find("format.predicate"), std::string::npos);
}

}  // namespace
}  // namespace laminar::serde
