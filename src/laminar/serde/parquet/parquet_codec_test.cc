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

// 100 rows in 4 row groups of 25; row i holds 2024-01-01 + i days, 2024-01-01T00:00Z + i
// minutes (ms and us, two time zones) and + i nanoseconds (ns: neighbours a double cannot
// tell apart), and 10:00:00 + i seconds (time32 ms, time64 us).
std::shared_ptr<arrow::RecordBatch> TemporalRows() {
  constexpr int64_t kRows = 100;
  constexpr int64_t kBaseSeconds = 1704067200;  // 2024-01-01T00:00:00Z
  constexpr int32_t kBaseDays = 19723;
  arrow::Date32Builder days;
  arrow::TimestampBuilder ms(arrow::timestamp(arrow::TimeUnit::MILLI, "UTC"), arrow::default_memory_pool());
  arrow::TimestampBuilder us(arrow::timestamp(arrow::TimeUnit::MICRO, "+01:00"), arrow::default_memory_pool());
  arrow::TimestampBuilder ns(arrow::timestamp(arrow::TimeUnit::NANO, "UTC"), arrow::default_memory_pool());
  arrow::Time32Builder time_ms(arrow::time32(arrow::TimeUnit::MILLI), arrow::default_memory_pool());
  arrow::Time64Builder time_us(arrow::time64(arrow::TimeUnit::MICRO), arrow::default_memory_pool());
  for (int64_t i = 0; i < kRows; ++i) {
    EXPECT_TRUE(days.Append(kBaseDays + static_cast<int32_t>(i)).ok());
    EXPECT_TRUE(ms.Append((kBaseSeconds + i * 60) * 1000).ok());
    EXPECT_TRUE(us.Append((kBaseSeconds + i * 60) * 1000000).ok());
    EXPECT_TRUE(ns.Append(kBaseSeconds * 1000000000 + i).ok());
    EXPECT_TRUE(time_ms.Append(static_cast<int32_t>((36000 + i) * 1000)).ok());
    EXPECT_TRUE(time_us.Append((36000 + i) * 1000000).ok());
  }
  return arrow::RecordBatch::Make(
      arrow::schema({arrow::field("d", arrow::date32()), arrow::field("ts_ms", ms.type()),
                     arrow::field("ts_us", us.type()), arrow::field("ts_ns", ns.type()),
                     arrow::field("t_ms", time_ms.type()), arrow::field("t_us", time_us.type())}),
      kRows,
      {days.Finish().ValueOrDie(), ms.Finish().ValueOrDie(), us.Finish().ValueOrDie(), ns.Finish().ValueOrDie(),
       time_ms.Finish().ValueOrDie(), time_us.Finish().ValueOrDie()});
}

TEST(ParquetCodecTest, PredicateOnDatesTimestampsAndTimes) {
  ConnectorConfig config("x", {{"format.max_row_group_size", "25"}});
  std::vector<std::string> files;
  ASSERT_TRUE(MakeParquetEncoder(config, nullptr).ValueOrDie()->Encode(*TemporalRows(), &files).ok());
  ASSERT_EQ(files.size(), 1u);
  const auto schema = TemporalRows()->schema();
  ASSERT_EQ(DecodeWith({}, schema, files[0]).batch->num_rows(), 100);
  // The literals of rows 30, 60 (inside group 2), 74 (group 2's max) and 75 (group 3's min).
  struct Column {
    std::string name;
    std::string row30, row60, row74, row75;
  };
  const std::vector<Column> columns = {
      {"d", "2024-01-31", "2024-03-01", "2024-03-15", "2024-03-16"},
      {"ts_ms", "2024-01-01 00:30:00", "2024-01-01T01:00:00Z", "2024-01-01 01:14:00", "2024-01-01T01:15:00.000"},
      // An offset in the literal is honoured: 02:00+01:00 is row 60.
      {"ts_us", "2024-01-01 00:30:00", "2024-01-01T02:00:00+01:00", "2024-01-01 01:14:00", "2024-01-01 01:15:00"},
      {"ts_ns", "2024-01-01 00:00:00.000000030", "2024-01-01 00:00:00.000000060", "2024-01-01 00:00:00.000000074",
       "2024-01-01T00:00:00.000000075Z"},
      {"t_ms", "10:00:30", "10:01:00", "10:01:14", "10:01:15.000"},
      {"t_us", "10:00:30", "10:01:00", "10:01:14", "10:01:15"},
  };
  for (const auto& c : columns) {
    SCOPED_TRACE(c.name);
    auto rows = [&](const std::string& predicate) {
      auto decoded = DecodeWith({{"format.predicate", predicate}}, schema, files[0]);
      EXPECT_TRUE(decoded.errors.empty());
      return decoded.batch->num_rows();
    };
    auto term = [&](const std::string& op, const std::string& literal) {
      return c.name + " " + op + " '" + literal + "'";
    };
    EXPECT_EQ(rows(term("=", c.row60)), 25);
    EXPECT_EQ(rows(term(">", c.row60)), 50);
    EXPECT_EQ(rows(term(">", c.row74)), 25);  // group 2's max is not greater than itself
    EXPECT_EQ(rows(term(">=", c.row60)), 50);
    EXPECT_EQ(rows(term(">=", c.row75)), 25);
    EXPECT_EQ(rows(term("<", c.row60)), 75);
    EXPECT_EQ(rows(term("<", c.row75)), 75);  // group 3's min is not less than itself
    EXPECT_EQ(rows(term("<=", c.row75)), 100);
    EXPECT_EQ(rows(term("<=", c.row30)), 50);
    EXPECT_EQ(rows(c.name + " BETWEEN '" + c.row30 + "' AND '" + c.row60 + "'"), 50);
    EXPECT_EQ(rows(c.name + " BETWEEN '" + c.row75 + "' AND '" + c.row75 + "'"), 25);
  }
  // Before the first row and after the last: nothing can match.
  EXPECT_EQ(DecodeWith({{"format.predicate", "d < '2023-12-31'"}}, schema, files[0]).batch->num_rows(), 0);
  EXPECT_EQ(DecodeWith({{"format.predicate", "ts_us > '2024-01-02 00:00:00'"}}, schema, files[0]).batch->num_rows(), 0);
}

TEST(ParquetCodecTest, RecordFailingInALaterRowGroupYieldsNoRows) {
  // Two row groups of 10; only the second holds a null in 'region'.
  arrow::StringBuilder regions;
  for (int i = 0; i < 20; ++i) ASSERT_TRUE((i == 15 ? regions.AppendNull() : regions.Append("eu")).ok());
  auto rows = Rows(20);
  auto with_null = arrow::RecordBatch::Make(rows->schema(), 20, {rows->column(0), regions.Finish().ValueOrDie()});
  ConnectorConfig config("x", {{"format.max_row_group_size", "10"}});
  std::vector<std::string> files;
  ASSERT_TRUE(MakeParquetEncoder(config, nullptr).ValueOrDie()->Encode(*with_null, &files).ok());
  files.push_back(FileOf(5, 10));
  auto not_null =
      arrow::schema({arrow::field("id", arrow::int64(), false), arrow::field("region", arrow::utf8(), false)});
  auto decoder = MakeParquetDecoder(ConnectorConfig("x", {{"format.batch_size", "10"}}), not_null).ValueOrDie();
  std::vector<RawRecord> records(2);
  records[0].value = files[0];
  records[1].value = files[1];
  auto decoded = decoder->Decode(records);
  ASSERT_TRUE(decoded.ok());
  ASSERT_EQ(decoded->errors.size(), 1u);
  EXPECT_EQ(decoded->errors[0].index, 0u);
  EXPECT_NE(decoded->errors[0].message.find("'region' is NOT NULL"), std::string::npos);
  // Only the good file's rows: none of the first file's first row group.
  ASSERT_EQ(decoded->batch->num_rows(), 5);
  EXPECT_TRUE(decoded->batch->column(0)->Equals(*Rows(5)->column(0)));
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
