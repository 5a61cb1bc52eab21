// Unit tests of the datagen source: every declarable type, determinism across runs and
// restores, bounded sources, option errors and rate pacing (the only tests that sleep).
#include "laminar/datagen/datagen_source.h"

#include <arrow/api.h>
#include <arrow/util/key_value_metadata.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <numeric>
#include <set>
#include <thread>

#include "laminar/core/status.h"

namespace laminar::datagen {
namespace {

using std::chrono::milliseconds;
using Properties = std::map<std::string, std::string>;

std::shared_ptr<arrow::Field> JsonField(const std::string& name) {
  return arrow::field(name, arrow::utf8(), true, arrow::key_value_metadata({"laminar.type"}, {"json"}));
}

// Every type the DDL can declare, nested ones included, plus a few Arrow-only extras.
std::shared_ptr<arrow::Schema> AllTypesSchema() {
  using arrow::field;
  using arrow::TimeUnit;
  return arrow::schema({
      field("b", arrow::boolean()),
      field("i8", arrow::int8()),
      field("i16", arrow::int16(), false),
      field("i32", arrow::int32()),
      field("i64", arrow::int64(), false),
      field("u8", arrow::uint8()),
      field("u16", arrow::uint16()),
      field("u32", arrow::uint32()),
      field("u64", arrow::uint64()),
      field("f32", arrow::float32()),
      field("f64", arrow::float64(), false),
      field("dec", arrow::decimal128(10, 2)),
      field("dec38", arrow::decimal128(38, 9)),
      field("s", arrow::utf8(), false),
      JsonField("doc"),
      field("bin", arrow::binary()),
      field("day", arrow::date32()),
      field("tod", arrow::time64(TimeUnit::MICRO)),
      field("ts_s", arrow::timestamp(TimeUnit::SECOND)),
      field("ts_ms", arrow::timestamp(TimeUnit::MILLI)),
      field("ts_us", arrow::timestamp(TimeUnit::MICRO), false),
      field("ts_ns", arrow::timestamp(TimeUnit::NANO)),
      field("ts_tz", arrow::timestamp(TimeUnit::MICRO, "UTC")),
      field("ints", arrow::list(arrow::int32())),
      field("nested_lists", arrow::list(arrow::list(arrow::utf8()))),
      field("rec", arrow::struct_({field("a", arrow::int32(), false), field("b", arrow::utf8()),
                                   field("c", arrow::list(arrow::float64())), JsonField("j")})),
      field("recs", arrow::list(arrow::struct_({field("x", arrow::int64()), field("y", arrow::date32())}))),
      field("ls", arrow::large_utf8()),
      field("lb", arrow::large_binary()),
      field("fsb", arrow::fixed_size_binary(4)),
      field("t32", arrow::time32(TimeUnit::MILLI)),
      field("ll", arrow::large_list(arrow::int8())),
      field("fsl", arrow::fixed_size_list(arrow::int16(), 2)),
  });
}

std::shared_ptr<arrow::Schema> SmallSchema() {
  return arrow::schema({arrow::field("id", arrow::int64(), false), arrow::field("n", arrow::int32()),
                        arrow::field("x", arrow::float64()), arrow::field("s", arrow::utf8())});
}

ConnectorConfig MakeConfig(Properties properties, std::shared_ptr<arrow::Schema> schema) {
  // Tests run unpaced unless they ask for a rate.
  properties.emplace("rows-per-second", "0");
  ConnectorConfig config("datagen", std::move(properties));
  config.set_instance_name("gen");
  config.set_schema(std::move(schema));
  return config;
}

// Created through the registry, as the runtime does: key-spec validation first, then Open.
arrow::Result<std::unique_ptr<SourceConnector>> MakeSource(Properties properties,
                                                           std::shared_ptr<arrow::Schema> schema) {
  ConnectorConfig config = MakeConfig(std::move(properties), std::move(schema));
  ConnectorRegistry registry;
  RegisterDatagen(registry);
  ARROW_ASSIGN_OR_RAISE(auto source, registry.CreateSource(config));
  ARROW_RETURN_NOT_OK(source->Open(config));
  return source;
}

std::unique_ptr<SourceConnector> MustMakeSource(Properties properties,
                                                std::shared_ptr<arrow::Schema> schema) {
  auto source = MakeSource(std::move(properties), std::move(schema));
  EXPECT_TRUE(source.ok()) << source.status().ToString();
  return source.ok() ? std::move(*source) : nullptr;
}

// Polls until `rows` rows (or the end of a bounded source) in batches of `batch_size`.
std::shared_ptr<arrow::RecordBatch> PollRows(SourceConnector& source, int64_t rows, int64_t batch_size) {
  arrow::RecordBatchVector batches;
  int64_t total = 0;
  while (total < rows) {
    auto batch = source.PollBatch(std::min(batch_size, rows - total), milliseconds(100));
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    if (!batch.ok() || !batch->has_value()) break;
    total += (*batch)->num_rows();
    batches.push_back((*batch)->records);
  }
  if (batches.empty()) return nullptr;
  auto combined = arrow::ConcatenateRecordBatches(batches);
  EXPECT_TRUE(combined.ok()) << combined.status().ToString();
  return *combined;
}

SourceCheckpoint RowCheckpoint(const std::string& row) {
  SourceCheckpoint checkpoint;
  checkpoint.SetOffset("row", row);
  return checkpoint;
}

TEST(DatagenSourceTest, RegistersWithKeySpecs) {
  ConnectorRegistry registry;
  RegisterDatagen(registry);
  const ConnectorInfo* info = registry.SourceInfo("datagen");
  ASSERT_NE(info, nullptr);
  bool has_kind = false;
  for (const auto& spec : info->config_keys) has_kind |= spec.Matches("fields.id.kind");
  EXPECT_TRUE(has_kind);
}

TEST(DatagenSourceTest, EveryTypeGeneratesValidData) {
  auto schema = AllTypesSchema();
  auto source = MustMakeSource({}, schema);
  ASSERT_NE(source, nullptr);
  EXPECT_TRUE(source->schema()->Equals(*schema, /*check_metadata=*/true));
  auto batch = PollRows(*source, 300, 300);
  ASSERT_NE(batch, nullptr);
  EXPECT_EQ(batch->num_rows(), 300);
  EXPECT_TRUE(batch->schema()->Equals(*schema, true));
  ASSERT_TRUE(batch->ValidateFull().ok()) << batch->ValidateFull().ToString();
  for (int i = 0; i < batch->num_columns(); ++i) {
    EXPECT_EQ(batch->column(i)->null_count(), 0) << schema->field(i)->name();
  }

  // JSON columns hold JSON objects.
  const auto& docs = static_cast<const arrow::StringArray&>(*batch->GetColumnByName("doc"));
  for (int64_t i = 0; i < docs.length(); ++i) {
    boost::system::error_code ec;
    auto value = boost::json::parse(docs.GetView(i), ec);
    ASSERT_FALSE(ec) << docs.GetString(i);
    EXPECT_TRUE(value.is_object()) << docs.GetString(i);
  }
  const auto& strings = static_cast<const arrow::StringArray&>(*batch->GetColumnByName("s"));
  EXPECT_EQ(strings.GetView(0).size(), 10u);
  const auto& lists = static_cast<const arrow::ListArray&>(*batch->GetColumnByName("ints"));
  EXPECT_EQ(lists.value_length(0), 3);

  // Temporal defaults stay within 2000-01-01 .. 2030-12-31.
  const auto& days = static_cast<const arrow::Date32Array&>(*batch->GetColumnByName("day"));
  const auto& micros = static_cast<const arrow::TimestampArray&>(*batch->GetColumnByName("ts_us"));
  for (int64_t i = 0; i < batch->num_rows(); ++i) {
    EXPECT_GE(days.Value(i), 10957);
    EXPECT_LE(days.Value(i), 22279);
    EXPECT_GE(micros.Value(i), 946684800LL * 1000000);
    EXPECT_LT(micros.Value(i), 1924992000LL * 1000000);
  }
}

TEST(DatagenSourceTest, SameSeedGivesIdenticalBatches) {
  auto first = MustMakeSource({{"seed", "42"}}, AllTypesSchema());
  auto second = MustMakeSource({{"seed", "42"}}, AllTypesSchema());
  for (int round = 0; round < 3; ++round) {
    auto a = first->PollBatch(500, milliseconds(0));
    auto b = second->PollBatch(500, milliseconds(0));
    ASSERT_TRUE(a.ok() && a->has_value() && b.ok() && b->has_value());
    EXPECT_TRUE((*a)->records->Equals(*(*b)->records));
  }
}

TEST(DatagenSourceTest, DifferentSeedGivesDifferentData) {
  auto first = MustMakeSource({{"seed", "1"}}, SmallSchema());
  auto second = MustMakeSource({{"seed", "2"}}, SmallSchema());
  auto a = PollRows(*first, 100, 100);
  auto b = PollRows(*second, 100, 100);
  for (int i = 0; i < a->num_columns(); ++i) {
    EXPECT_FALSE(a->column(i)->Equals(*b->column(i))) << a->schema()->field(i)->name();
  }
}

TEST(DatagenSourceTest, ColumnsOfTheSameTypeDiffer) {
  auto schema = arrow::schema({arrow::field("a", arrow::int64()), arrow::field("b", arrow::int64())});
  auto batch = PollRows(*MustMakeSource({}, schema), 100, 100);
  EXPECT_FALSE(batch->column(0)->Equals(*batch->column(1)));
}

TEST(DatagenSourceTest, AddingAColumnLeavesTheOthersUnchanged) {
  auto narrow = arrow::schema({arrow::field("a", arrow::int64()), arrow::field("s", arrow::utf8())});
  auto wide = arrow::schema({arrow::field("new", arrow::float64()), arrow::field("a", arrow::int64()),
                             arrow::field("s", arrow::utf8())});
  auto before = PollRows(*MustMakeSource({{"seed", "9"}}, narrow), 200, 200);
  auto after = PollRows(*MustMakeSource({{"seed", "9"}}, wide), 200, 200);
  EXPECT_TRUE(before->GetColumnByName("a")->Equals(*after->GetColumnByName("a")));
  EXPECT_TRUE(before->GetColumnByName("s")->Equals(*after->GetColumnByName("s")));
}

TEST(DatagenSourceTest, SequenceRunsFromStartToEndThenFinishes) {
  auto source = MustMakeSource(
      {{"fields.id.kind", "sequence"}, {"fields.id.start", "5"}, {"fields.id.end", "14"}}, SmallSchema());
  std::vector<int64_t> sizes;
  std::vector<int64_t> ids;
  while (!source->finished()) {
    auto batch = source->PollBatch(4, milliseconds(0));
    ASSERT_TRUE(batch.ok() && batch->has_value());
    sizes.push_back((*batch)->num_rows());
    const auto& column = static_cast<const arrow::Int64Array&>(*(*batch)->records->column(0));
    for (int64_t i = 0; i < column.length(); ++i) ids.push_back(column.Value(i));
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4, 2}));
  std::vector<int64_t> expected;
  for (int64_t v = 5; v <= 14; ++v) expected.push_back(v);
  EXPECT_EQ(ids, expected);
  auto after = source->PollBatch(4, milliseconds(0));
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->has_value());
  EXPECT_EQ(source->Checkpoint().GetOffset("row"), "10");
}

// Replay of a lost epoch: exactly the rows between two checkpoints, unpaced, then nothing.
TEST(DatagenSourceTest, ReplayReturnsExactlyTheRowsBetweenTwoCheckpoints) {
  auto source = MustMakeSource({{"fields.id.kind", "sequence"}, {"rows-per-second", "10"}}, SmallSchema());
  ASSERT_TRUE(source->SetReplayEnd(RowCheckpoint("250")).ok());
  ASSERT_TRUE(source->Restore(RowCheckpoint("100")).ok());
  std::vector<int64_t> ids;
  const auto started = std::chrono::steady_clock::now();
  while (!source->ReplayReachedEnd()) {
    auto batch = source->PollBatch(64, milliseconds(100));
    ASSERT_TRUE(batch.ok() && batch->has_value());
    const auto& column = static_cast<const arrow::Int64Array&>(*(*batch)->records->column(0));
    for (int64_t i = 0; i < column.length(); ++i) ids.push_back(column.Value(i));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));  // 10 rows/s does not pace it
  std::vector<int64_t> expected(150);
  std::iota(expected.begin(), expected.end(), 100);
  EXPECT_EQ(ids, expected);
  auto after = source->PollBatch(64, milliseconds(0));
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->has_value());
  ASSERT_TRUE(source->SetReplayEnd(std::nullopt).ok());
  EXPECT_FALSE(source->ReplayReachedEnd());
  ASSERT_TRUE(source->Restore(RowCheckpoint("250")).ok());
  EXPECT_EQ(source->Checkpoint().GetOffset("row"), "250");
}

TEST(DatagenSourceTest, NegativeSequenceOnNarrowType) {
  auto schema = arrow::schema({arrow::field("n", arrow::int8())});
  auto source = MustMakeSource({{"fields.n.kind", "sequence"}, {"fields.n.start", "-3"}}, schema);
  // No end: the sequence stops at the type's maximum, 127.
  auto batch = PollRows(*source, 1000, 64);
  EXPECT_EQ(batch->num_rows(), 131);
  const auto& column = static_cast<const arrow::Int8Array&>(*batch->column(0));
  EXPECT_EQ(column.Value(0), -3);
  EXPECT_EQ(column.Value(130), 127);
  EXPECT_TRUE(source->finished());
}

TEST(DatagenSourceTest, NumberOfRowsBoundsTheSource) {
  auto source = MustMakeSource({{"number-of-rows", "25"}}, SmallSchema());
  EXPECT_FALSE(source->finished());
  std::vector<int64_t> sizes;
  for (int i = 0; i < 3; ++i) {
    auto batch = source->PollBatch(10, milliseconds(0));
    ASSERT_TRUE(batch.ok() && batch->has_value());
    sizes.push_back((*batch)->num_rows());
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{10, 10, 5}));
  EXPECT_TRUE(source->finished());
  auto after = source->PollBatch(10, milliseconds(0));
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->has_value());
}

TEST(DatagenSourceTest, NumberOfRowsAndSequenceTakeTheSmaller) {
  auto source = MustMakeSource(
      {{"number-of-rows", "100"}, {"fields.n.kind", "sequence"}, {"fields.n.end", "9"}}, SmallSchema());
  EXPECT_EQ(PollRows(*source, 1000, 1000)->num_rows(), 10);
}

TEST(DatagenSourceTest, RestoreReplaysTheTailExactly) {
  const Properties properties = {
      {"seed", "7"}, {"fields.i32.null-rate", "0.3"}, {"fields.rec.null-rate", "0.2"}};
  auto full_source = MustMakeSource(properties, AllTypesSchema());
  auto full = PollRows(*full_source, 1000, 128);
  ASSERT_EQ(full->num_rows(), 1000);

  // A fresh instance, as after a crash, with other batch boundaries.
  auto restored = MustMakeSource(properties, AllTypesSchema());
  ASSERT_TRUE(restored->Restore(RowCheckpoint("370")).ok());
  auto tail = PollRows(*restored, 630, 77);
  ASSERT_EQ(tail->num_rows(), 630);
  EXPECT_TRUE(tail->Equals(*full->Slice(370)));

  // Rewinding the instance that already ran past the position.
  ASSERT_TRUE(full_source->Restore(RowCheckpoint("370")).ok());
  EXPECT_TRUE(PollRows(*full_source, 630, 1000)->Equals(*full->Slice(370)));
  ASSERT_TRUE(full_source->Restore(SourceCheckpoint()).ok());
  EXPECT_TRUE(PollRows(*full_source, 1000, 333)->Equals(*full));
}

TEST(DatagenSourceTest, CheckpointRoundTripsThroughJson) {
  auto source = MustMakeSource({{"seed", "3"}}, SmallSchema());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(source->PollBatch(10, milliseconds(0)).ok());
  SourceCheckpoint checkpoint = source->Checkpoint();
  EXPECT_EQ(checkpoint.GetOffset("row"), "30");
  checkpoint.set_epoch(7);
  auto parsed = SourceCheckpoint::FromJson(checkpoint.ToJson());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, checkpoint);

  auto restored = MustMakeSource({{"seed", "3"}}, SmallSchema());
  ASSERT_TRUE(restored->Restore(*parsed).ok());
  auto expected = source->PollBatch(10, milliseconds(0));
  auto actual = restored->PollBatch(10, milliseconds(0));
  ASSERT_TRUE(expected.ok() && expected->has_value() && actual.ok() && actual->has_value());
  EXPECT_TRUE((*actual)->records->Equals(*(*expected)->records));
}

TEST(DatagenSourceTest, RestoreRejectsBadPositions) {
  auto source = MustMakeSource({{"number-of-rows", "100"}}, SmallSchema());
  for (const std::string bad : {"abc", "-3", "1.5", "", "101"}) {
    auto status = source->Restore(RowCheckpoint(bad));
    ASSERT_FALSE(status.ok()) << bad;
    EXPECT_NE(status.message().find("row='" + bad + "'"), std::string::npos) << status.ToString();
  }
  SourceCheckpoint no_row;
  no_row.SetOffset("offset", "1");
  EXPECT_FALSE(source->Restore(no_row).ok());

  // The end itself is reachable: the source is simply finished there.
  ASSERT_TRUE(source->Restore(RowCheckpoint("100")).ok());
  EXPECT_TRUE(source->finished());
  ASSERT_TRUE(source->Restore(SourceCheckpoint()).ok());
  EXPECT_FALSE(source->finished());
  EXPECT_EQ(source->Checkpoint().GetOffset("row"), "0");
}

TEST(DatagenSourceTest, ValuesAreDrawnFromTheList) {
  auto schema =
      arrow::schema({arrow::field("color", arrow::utf8()), arrow::field("n", arrow::int32()),
                     arrow::field("day", arrow::date32()), arrow::field("price", arrow::decimal128(6, 2))});
  auto source = MustMakeSource({{"fields.color.values", "red,green,blue"},
                                {"fields.n.values", "1, 5,9"},
                                {"fields.day.values", "2024-01-01,19000"},
                                {"fields.price.values", "1.5,2.25"}},
                               schema);
  auto batch = PollRows(*source, 300, 300);
  ASSERT_TRUE(batch->ValidateFull().ok());
  std::set<std::string> colors;
  std::set<int32_t> numbers;
  std::set<int32_t> days;
  std::set<std::string> prices;
  const auto& color = static_cast<const arrow::StringArray&>(*batch->column(0));
  const auto& n = static_cast<const arrow::Int32Array&>(*batch->column(1));
  const auto& day = static_cast<const arrow::Date32Array&>(*batch->column(2));
  const auto& price = static_cast<const arrow::Decimal128Array&>(*batch->column(3));
  for (int64_t i = 0; i < batch->num_rows(); ++i) {
    colors.insert(color.GetString(i));
    numbers.insert(n.Value(i));
    days.insert(day.Value(i));
    prices.insert(price.FormatValue(i));
  }
  EXPECT_EQ(colors, (std::set<std::string>{"red", "green", "blue"}));
  EXPECT_EQ(numbers, (std::set<int32_t>{1, 5, 9}));
  EXPECT_EQ(days, (std::set<int32_t>{19723, 19000}));
  EXPECT_EQ(prices, (std::set<std::string>{"1.50", "2.25"}));
}

TEST(DatagenSourceTest, MinAndMaxBoundRandomValues) {
  auto schema = arrow::schema({arrow::field("i", arrow::int32()), arrow::field("d", arrow::float64()),
                               arrow::field("dec", arrow::decimal128(10, 2)),
                               arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MILLI)),
                               arrow::field("day", arrow::date32()), arrow::field("u", arrow::uint64()),
                               arrow::field("tod", arrow::time64(arrow::TimeUnit::MICRO))});
  auto source = MustMakeSource({{"fields.i.min", "-5"},
                                {"fields.i.max", "5"},
                                {"fields.d.min", "10"},
                                {"fields.d.max", "20"},
                                {"fields.dec.min", "-1.5"},
                                {"fields.dec.max", "2.25"},
                                {"fields.ts.min", "1000"},
                                {"fields.ts.max", "1999"},
                                {"fields.day.min", "2024-01-01"},
                                {"fields.day.max", "2024-01-31"},
                                {"fields.u.min", "18446744073709551610"},
                                {"fields.u.max", "18446744073709551615"},
                                {"fields.tod.min", "12:00:00"},
                                {"fields.tod.max", "12:00:01"}},
                               schema);
  auto batch = PollRows(*source, 2000, 2000);
  const auto& i = static_cast<const arrow::Int32Array&>(*batch->column(0));
  const auto& d = static_cast<const arrow::DoubleArray&>(*batch->column(1));
  const auto& dec = static_cast<const arrow::Decimal128Array&>(*batch->column(2));
  const auto& ts = static_cast<const arrow::TimestampArray&>(*batch->column(3));
  const auto& day = static_cast<const arrow::Date32Array&>(*batch->column(4));
  const auto& u = static_cast<const arrow::UInt64Array&>(*batch->column(5));
  const auto& tod = static_cast<const arrow::Time64Array&>(*batch->column(6));
  std::set<int32_t> seen;
  for (int64_t row = 0; row < batch->num_rows(); ++row) {
    seen.insert(i.Value(row));
    EXPECT_GE(d.Value(row), 10.0);
    EXPECT_LE(d.Value(row), 20.0);
    const arrow::Decimal128 value(dec.GetValue(row));
    EXPECT_GE(value, arrow::Decimal128(-150));
    EXPECT_LE(value, arrow::Decimal128(225));
    EXPECT_GE(ts.Value(row), 1000);
    EXPECT_LE(ts.Value(row), 1999);
    EXPECT_GE(day.Value(row), 19723);
    EXPECT_LE(day.Value(row), 19753);
    EXPECT_GE(u.Value(row), 18446744073709551610ULL);
    EXPECT_GE(tod.Value(row), 43200LL * 1000000);
    EXPECT_LE(tod.Value(row), 43201LL * 1000000);
  }
  EXPECT_EQ(seen.size(), 11u);  // every value of [-5, 5], endpoints included
  EXPECT_EQ(*seen.begin(), -5);
  EXPECT_EQ(*seen.rbegin(), 5);
}

TEST(DatagenSourceTest, LengthSetsStringAndListSizes) {
  auto schema = arrow::schema({arrow::field("s", arrow::utf8()), arrow::field("b", arrow::binary()),
                               arrow::field("l", arrow::list(arrow::int32()))});
  auto source =
      MustMakeSource({{"fields.s.length", "25"}, {"fields.b.length", "3"}, {"fields.l.length", "0"}}, schema);
  auto batch = PollRows(*source, 50, 50);
  const auto& s = static_cast<const arrow::StringArray&>(*batch->column(0));
  const auto& b = static_cast<const arrow::BinaryArray&>(*batch->column(1));
  const auto& l = static_cast<const arrow::ListArray&>(*batch->column(2));
  for (int64_t row = 0; row < batch->num_rows(); ++row) {
    EXPECT_EQ(s.GetView(row).size(), 25u);
    EXPECT_EQ(b.GetView(row).size(), 3u);
    EXPECT_EQ(l.value_length(row), 0);
  }
}

TEST(DatagenSourceTest, NullRateOnlyTouchesNullableColumns) {
  auto schema = arrow::schema({arrow::field("id", arrow::int64(), false), arrow::field("v", arrow::int64()),
                               arrow::field("s", arrow::utf8()), arrow::field("all", arrow::float64())});
  auto source = MustMakeSource(
      {{"fields.v.null-rate", "0.5"}, {"fields.s.null-rate", "0.5"}, {"fields.all.null-rate", "1"}}, schema);
  auto batch = PollRows(*source, 10000, 4096);
  ASSERT_EQ(batch->num_rows(), 10000);
  EXPECT_EQ(batch->column(0)->null_count(), 0);
  EXPECT_GT(batch->column(1)->null_count(), 4500);
  EXPECT_LT(batch->column(1)->null_count(), 5500);
  EXPECT_GT(batch->column(2)->null_count(), 4500);
  EXPECT_LT(batch->column(2)->null_count(), 5500);
  EXPECT_EQ(batch->column(3)->null_count(), 10000);
  // Independent streams: the two half-null columns are not null on the same rows.
  EXPECT_FALSE(batch->column(1)->null_bitmap()->Equals(*batch->column(2)->null_bitmap()));
}

TEST(DatagenSourceTest, NullRateOnNotNullColumnIsAnError) {
  auto source = MakeSource({{"fields.id.null-rate", "0.1"}}, SmallSchema());
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(KindOf(source.status()), ErrorKind::kConfig);
  EXPECT_NE(source.status().message().find("fields.id.null-rate"), std::string::npos)
      << source.status().ToString();
  // Zero is harmless.
  EXPECT_TRUE(MakeSource({{"fields.id.null-rate", "0"}}, SmallSchema()).ok());
}

TEST(DatagenSourceTest, NeedsDeclaredColumns) {
  for (auto schema : {std::shared_ptr<arrow::Schema>(), arrow::schema(arrow::FieldVector{})}) {
    auto source = MakeSource({}, schema);
    ASSERT_FALSE(source.ok());
    EXPECT_EQ(KindOf(source.status()), ErrorKind::kConfig);
    EXPECT_NE(source.status().message().find("datagen needs declared columns"), std::string::npos);
  }
}

struct BadOption {
  Properties properties;
  std::string key;  // the key the error must name
};

class DatagenBadOptionTest : public ::testing::TestWithParam<BadOption> {};

TEST_P(DatagenBadOptionTest, ErrorNamesTheKey) {
  auto schema =
      arrow::schema({arrow::field("i", arrow::int32()), arrow::field("i8", arrow::int8()),
                     arrow::field("d", arrow::float64()), arrow::field("s", arrow::utf8()),
                     arrow::field("l", arrow::list(arrow::int32())),
                     arrow::field("r", arrow::struct_({arrow::field("a", arrow::int32())})),
                     arrow::field("dec", arrow::decimal128(5, 2)), arrow::field("b", arrow::boolean())});
  auto source = MakeSource(GetParam().properties, schema);
  ASSERT_FALSE(source.ok()) << GetParam().key;
  EXPECT_EQ(KindOf(source.status()), ErrorKind::kConfig) << source.status().ToString();
  EXPECT_NE(source.status().message().find("'" + GetParam().key + "'"), std::string::npos)
      << source.status().ToString();
}

INSTANTIATE_TEST_SUITE_P(
    AllErrors, DatagenBadOptionTest,
    ::testing::Values(BadOption{{{"fields.nope.min", "1"}}, "fields.nope.min"},
                      BadOption{{{"fields.i.kind", "zigzag"}}, "fields.i.kind"},
                      BadOption{{{"fields.i.bogus", "1"}}, "fields.i.bogus"},
                      BadOption{{{"fields.s.kind", "sequence"}}, "fields.s.kind"},
                      BadOption{{{"fields.d.kind", "sequence"}}, "fields.d.kind"},
                      BadOption{{{"fields.i.min", "10"}, {"fields.i.max", "5"}}, "fields.i.min"},
                      BadOption{{{"fields.d.min", "2.5"}, {"fields.d.max", "1"}}, "fields.d.min"},
                      BadOption{{{"fields.dec.min", "3"}, {"fields.dec.max", "-3"}}, "fields.dec.min"},
                      BadOption{{{"fields.dec.max", "1000"}}, "fields.dec.max"},
                      BadOption{{{"fields.i.min", "abc"}}, "fields.i.min"},
                      BadOption{{{"fields.i8.max", "300"}}, "fields.i8.max"},
                      BadOption{{{"fields.i.length", "5"}}, "fields.i.length"},
                      BadOption{{{"fields.s.length", "-1"}}, "fields.s.length"},
                      BadOption{{{"fields.s.min", "1"}}, "fields.s.min"},
                      BadOption{{{"fields.b.max", "1"}}, "fields.b.max"},
                      BadOption{{{"fields.i.start", "1"}}, "fields.i.start"},
                      BadOption{
                          {{"fields.i.kind", "sequence"}, {"fields.i.start", "10"}, {"fields.i.end", "5"}},
                          "fields.i.end"},
                      BadOption{{{"fields.i.kind", "sequence"}, {"fields.i.min", "1"}}, "fields.i.min"},
                      BadOption{{{"fields.i.kind", "sequence"}, {"fields.i.end", "x"}}, "fields.i.end"},
                      BadOption{{{"fields.i.null-rate", "1.5"}}, "fields.i.null-rate"},
                      BadOption{{{"fields.i.values", "1,x,3"}}, "fields.i.values"},
                      BadOption{{{"fields.i.values", "1,2"}, {"fields.i.min", "1"}}, "fields.i.min"},
                      BadOption{{{"fields.l.values", "1,2"}}, "fields.l.values"},
                      BadOption{{{"fields.r.length", "2"}}, "fields.r.length"},
                      BadOption{{{"number-of-rows", "-1"}}, "number-of-rows"},
                      BadOption{{{"rows-per-second", "fast"}}, "rows-per-second"},
                      BadOption{{{"seed", "1.5"}}, "seed"}));

TEST(DatagenSourceTest, DottedColumnNames) {
  auto schema = arrow::schema({arrow::field("a.b", arrow::int64())});
  auto source = MustMakeSource({{"fields.a.b.kind", "sequence"}, {"fields.a.b.end", "2"}}, schema);
  EXPECT_EQ(PollRows(*source, 10, 10)->num_rows(), 3);
}

TEST(DatagenSourceTest, MetricsCountRowsAndBytes) {
  auto source = MustMakeSource({}, SmallSchema());
  ASSERT_TRUE(source->PollBatch(100, milliseconds(0)).ok());
  ASSERT_TRUE(source->PollBatch(50, milliseconds(0)).ok());
  const ConnectorMetrics metrics = source->Metrics();
  EXPECT_EQ(metrics.records_total, 150u);
  EXPECT_GT(metrics.bytes_total, 150u * 8);
}

TEST(DatagenSourceTest, ZeroMaxRecordsMeansDefaultBatch) {
  auto source = MustMakeSource({}, SmallSchema());
  auto batch = source->PollBatch(0, milliseconds(0));
  ASSERT_TRUE(batch.ok() && batch->has_value());
  EXPECT_EQ((*batch)->num_rows(), 8192);
}

TEST(DatagenSourceTest, RateLimitsRows) {
  auto source = MustMakeSource({{"rows-per-second", "1000"}}, SmallSchema());
  const auto start = std::chrono::steady_clock::now();
  int64_t rows = 0;
  while (std::chrono::steady_clock::now() - start < milliseconds(200)) {
    auto batch = source->PollBatch(100000, milliseconds(20));
    ASSERT_TRUE(batch.ok());
    if (batch->has_value()) rows += (*batch)->num_rows();
  }
  EXPECT_GE(rows, 100);
  EXPECT_LE(rows, 400);
}

TEST(DatagenSourceTest, PollWaitsNoLongerThanTheTimeout) {
  auto source = MustMakeSource({{"rows-per-second", "1"}}, SmallSchema());
  const auto start = std::chrono::steady_clock::now();
  auto batch = source->PollBatch(100, milliseconds(50));
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(batch.ok());
  EXPECT_FALSE(batch->has_value());  // the first row is due after a second
  EXPECT_GE(waited, milliseconds(40));
  EXPECT_LT(waited, milliseconds(500));
}

TEST(DatagenSourceTest, PacingRestartsAfterRestore) {
  auto source = MustMakeSource({{"rows-per-second", "1000"}}, SmallSchema());
  ASSERT_TRUE(source->PollBatch(100, milliseconds(50)).ok());
  ASSERT_TRUE(source->Restore(RowCheckpoint("0")).ok());
  // Time spent before the first poll after a restore is not owed: no burst.
  std::this_thread::sleep_for(milliseconds(300));
  auto batch = source->PollBatch(100000, milliseconds(30));
  ASSERT_TRUE(batch.ok());
  if (batch->has_value()) {
    EXPECT_LE((*batch)->num_rows(), 100);
  }
}

}  // namespace
}  // namespace laminar::datagen
