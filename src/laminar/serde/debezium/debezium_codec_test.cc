#include "laminar/serde/debezium/debezium_codec.h"

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>

#include <tuple>

#include "laminar/core/changelog.h"

namespace laminar::serde {
namespace {

RawRecord Rec(std::string_view value) {
  RawRecord r;
  r.value = value;
  return r;
}

std::shared_ptr<arrow::Schema> Declared() {
  return arrow::schema({arrow::field("id", arrow::int64(), false), arrow::field("name", arrow::utf8())});
}

DecodedBatch Decode(const std::vector<std::string>& messages, std::map<std::string, std::string> options = {},
                    std::shared_ptr<arrow::Schema> schema = Declared()) {
  auto decoder = MakeDebeziumDecoder(ConnectorConfig("test", std::move(options)), schema);
  EXPECT_TRUE(decoder.ok()) << decoder.status().ToString();
  std::vector<RawRecord> records;
  for (const auto& m : messages) records.push_back(m == "<tombstone>" ? Rec(std::string_view()) : Rec(m));
  auto out = (*decoder)->Decode(records);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(out->batch->ValidateFull().ok());
  return std::move(*out);
}

std::shared_ptr<arrow::RecordBatch> Expected(const std::string& json, bool metadata = false) {
  arrow::FieldVector fields = Declared()->fields();
  if (metadata) {
    fields.push_back(arrow::field("_source_ts_ms", arrow::int64()));
    fields.push_back(arrow::field("_source_table", arrow::utf8()));
  }
  fields.push_back(ChangelogField());
  auto array = *arrow::json::ArrayFromJSONString(arrow::struct_(fields), json);
  return *arrow::RecordBatch::FromStructArray(array);
}

TEST(Debezium, AllOpsBareEnvelope) {
  auto out = Decode({
      R"({"before":null,"after":{"id":1,"name":"a"},"source":{"table":"t"},"op":"c","ts_ms":1})",
      R"({"before":null,"after":{"id":2,"name":"b"},"op":"r"})",
      R"({"before":{"id":1,"name":"a"},"after":{"id":1,"name":"a2"},"op":"u"})",
      R"({"after":{"id":2,"name":"b2"},"op":"u"})",
      R"({"before":{"id":2,"name":"b2"},"after":null,"op":"d"})",
  });
  ASSERT_TRUE(out.errors.empty()) << out.errors[0].message;
  EXPECT_TRUE(IsChangelogSchema(*out.batch->schema()));
  auto expected = Expected(R"([
    {"id":1,"name":"a","_op":0}, {"id":2,"name":"b","_op":0},
    {"id":1,"name":"a","_op":1}, {"id":1,"name":"a2","_op":2},
    {"id":2,"name":"b2","_op":2},
    {"id":2,"name":"b2","_op":3}
  ])");
  EXPECT_TRUE(out.batch->Equals(*expected)) << out.batch->ToString();
}

TEST(Debezium, SchemaPayloadWrapperAndTombstones) {
  auto out = Decode({
      R"({"schema":{"type":"struct","fields":[{"field":"op"}]},"payload":{"before":null,"after":{"id":7,"name":"x"},"op":"c"}})",
      "<tombstone>",
      "null",
      R"({"schema":null,"payload":null})",
      R"({"payload":{"op":"d","before":{"id":7}},"schema":{}})",
  });
  ASSERT_TRUE(out.errors.empty()) << out.errors[0].message;
  EXPECT_EQ(out.tombstones, 3);
  EXPECT_TRUE(out.batch->Equals(*Expected(R"([{"id":7,"name":"x","_op":0},{"id":7,"name":null,"_op":3}])")))
      << out.batch->ToString();
}

TEST(Debezium, ErrorsAddNoRows) {
  auto out = Decode({
      R"({"after":{"id":1},"op":"c"})",
      R"({"before":{"id":1},"after":{"id":"x"},"op":"u"})",
      R"({"op":"t"})",
      R"({"after":{"id":1},"op":"x"})",
      R"({"after":{"id":1}})",
      R"({"after":null,"op":"c"})",
      R"({"before":null,"op":"d"})",
      R"({"after":{"name":"no id"},"op":"c"})",
      R"({"after":[1],"op":"c"})",
      R"({"after":{"id":2},"op":"c"})",
  });
  ASSERT_EQ(out.errors.size(), 7u);  // the truncate event is skipped, not an error
  std::vector<std::pair<size_t, std::string>> got;
  for (const auto& e : out.errors) got.emplace_back(e.index, e.message);
  EXPECT_EQ(got[0], std::make_pair(size_t{1}, std::string("in 'after': column 'id': expected BIGINT, found string \"x\" (not an integer)")));
  EXPECT_EQ(got[1], std::make_pair(size_t{3}, std::string("unknown Debezium op 'x'")));
  EXPECT_EQ(got[2], std::make_pair(size_t{4}, std::string("missing field 'op'")));
  EXPECT_EQ(got[3], std::make_pair(size_t{5}, std::string("op 'c' without 'after'")));
  EXPECT_EQ(got[4].first, 6u);
  EXPECT_EQ(got[5], std::make_pair(size_t{7}, std::string("in 'after': column 'id': missing, but the column is NOT NULL")));
  EXPECT_EQ(got[6], std::make_pair(size_t{8}, std::string("'after' must be an object or null, found an array")));
  EXPECT_TRUE(out.batch->Equals(*Expected(R"([{"id":1,"name":null,"_op":0},{"id":2,"name":null,"_op":0}])")))
      << out.batch->ToString();
}

TEST(Debezium, TruncateIsSkippedAndCounted) {
  auto decoder = *MakeDebeziumDecoder(ConnectorConfig("test"), Declared());
  const std::vector<std::string> messages = {
      R"({"op":"t","source":{"table":"t"}})",
      R"({"after":{"id":1},"op":"c"})",
      R"({"schema":{},"payload":{"op":"t","before":null,"after":null}})",
  };
  std::vector<RawRecord> records;
  for (const auto& m : messages) records.push_back(Rec(m));
  auto out = decoder->Decode(records);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->errors.empty());
  EXPECT_EQ(out->tombstones, 0);
  EXPECT_EQ(out->batch->num_rows(), 1);
  EXPECT_EQ(DebeziumTruncateCount(*decoder), 2);
}

// The schema block of a Debezium event whose before/after rows have these fields
// ("name" is the column, then the Connect type, semantic name and decimal scale).
std::string SchemaBlock(const std::vector<std::tuple<std::string, std::string, std::string, int>>& fields) {
  std::string row;
  for (const auto& [name, type, semantic, scale] : fields) {
    if (!row.empty()) row += ",";
    row += R"({"type":")" + type + R"(","optional":true,"field":")" + name + "\"";
    if (!semantic.empty()) row += R"(,"name":")" + semantic + R"(","version":1)";
    if (scale >= 0) {
      row += R"(,"parameters":{"scale":")" + std::to_string(scale) + R"(","connect.decimal.precision":"10"})";
    }
    row += "}";
  }
  return R"({"type":"struct","fields":[{"type":"struct","fields":[)" + row +
         R"(],"optional":true,"name":"srv.db.t.Value","field":"before"},{"type":"struct","fields":[)" + row +
         R"(],"optional":true,"name":"srv.db.t.Value","field":"after"},{"type":"string","optional":false,"field":"op"}],)"
         R"("optional":false,"name":"srv.db.t.Envelope"})";
}

TEST(Debezium, SemanticTypesFromTheSchemaBlock) {
  using arrow::TimeUnit;
  auto declared = arrow::schema({
      arrow::field("id", arrow::int64(), false),
      arrow::field("ts_ms", arrow::timestamp(TimeUnit::MILLI, "UTC")),
      arrow::field("ts_us", arrow::timestamp(TimeUnit::MICRO, "UTC")),
      arrow::field("ts_ns", arrow::timestamp(TimeUnit::NANO, "UTC")),
      arrow::field("zoned", arrow::timestamp(TimeUnit::MICRO, "UTC")),
      arrow::field("d", arrow::date32()),
      arrow::field("t_ms", arrow::time64(TimeUnit::MICRO)),
      arrow::field("t_us", arrow::time64(TimeUnit::MICRO)),
      arrow::field("t_ns", arrow::time64(TimeUnit::NANO)),
      arrow::field("price", arrow::decimal128(10, 2)),
      arrow::field("k_ts", arrow::timestamp(TimeUnit::MICRO)),
      arrow::field("k_date", arrow::timestamp(TimeUnit::MILLI)),
      arrow::field("k_time", arrow::time64(TimeUnit::NANO)),
      arrow::field("raw_us", arrow::int64()),
  });
  const std::string schema = SchemaBlock({
      {"id", "int64", "", -1},
      {"ts_ms", "int64", "io.debezium.time.Timestamp", -1},
      {"ts_us", "int64", "io.debezium.time.MicroTimestamp", -1},
      {"ts_ns", "int64", "io.debezium.time.NanoTimestamp", -1},
      {"zoned", "string", "io.debezium.time.ZonedTimestamp", -1},
      {"d", "int32", "io.debezium.time.Date", -1},
      {"t_ms", "int32", "io.debezium.time.Time", -1},
      {"t_us", "int64", "io.debezium.time.MicroTime", -1},
      {"t_ns", "int64", "io.debezium.time.NanoTime", -1},
      {"price", "bytes", "org.apache.kafka.connect.data.Decimal", 2},
      {"k_ts", "int64", "org.apache.kafka.connect.data.Timestamp", -1},
      {"k_date", "int32", "org.apache.kafka.connect.data.Date", -1},
      {"k_time", "int32", "org.apache.kafka.connect.data.Time", -1},
      {"raw_us", "int64", "io.debezium.time.MicroTimestamp", -1},
  });
  auto row = [](int id, const std::string& price) {
    return R"({"id":)" + std::to_string(id) +
           R"(,"ts_ms":1700000000123,"ts_us":1700000000123456,"ts_ns":1700000000123456789,)"
           R"("zoned":"2023-11-14T23:13:20.123456+01:00","d":19675,"t_ms":3723004,"t_us":3723004005,)"
           R"("t_ns":3723004005006,"price":")" +
           price + R"(","k_ts":1700000000123,"k_date":19675,"k_time":3723004,"raw_us":1700000000123456})";
  };
  const std::string with_schema = R"({"schema":)" + schema + R"(,"payload":{"before":)" + row(1, "z8c=") +
                                  R"(,"after":)" + row(2, "MDk=") + R"(,"op":"u"}})";
  // A user's timestamp_formats do not apply to ZonedTimestamp, which is ISO-8601 by definition.
  for (const auto& options :
       std::vector<std::map<std::string, std::string>>{{}, {{"format.timestamp_formats", "%Y-%m-%d %H:%M:%S"}}}) {
    auto out = Decode({with_schema}, options, declared);
    ASSERT_TRUE(out.errors.empty()) << out.errors[0].message;
    ASSERT_EQ(out.batch->num_rows(), 2);
    auto value = [&](const std::string& column, int r) {
      return out.batch->GetColumnByName(column)->GetScalar(r).ValueOrDie();
    };
    for (int r = 0; r < 2; ++r) {
      EXPECT_EQ(value("ts_ms", r)->ToString(), "2023-11-14 22:13:20.123Z");
      EXPECT_EQ(value("ts_us", r)->ToString(), "2023-11-14 22:13:20.123456Z");
      EXPECT_EQ(value("ts_ns", r)->ToString(), "2023-11-14 22:13:20.123456789Z");
      EXPECT_EQ(value("zoned", r)->ToString(), "2023-11-14 22:13:20.123456Z");
      EXPECT_EQ(value("d", r)->ToString(), "2023-11-14");
      EXPECT_EQ(value("t_ms", r)->ToString(), "01:02:03.004000");
      EXPECT_EQ(value("t_us", r)->ToString(), "01:02:03.004005");
      EXPECT_EQ(value("t_ns", r)->ToString(), "01:02:03.004005006");
      EXPECT_EQ(value("k_ts", r)->ToString(), "2023-11-14 22:13:20.123000");
      EXPECT_EQ(value("k_date", r)->ToString(), "2023-11-14 00:00:00.000");
      EXPECT_EQ(value("k_time", r)->ToString(), "01:02:03.004000000");
      EXPECT_EQ(value("raw_us", r)->ToString(), "1700000000123456");  // BIGINT keeps the number
    }
    EXPECT_EQ(value("price", 0)->ToString(), "-123.45");  // before
    EXPECT_EQ(value("price", 1)->ToString(), "123.45");   // after
  }
  // Without the schema block the same payload decodes as before: numbers in timestamp
  // columns are epoch milliseconds.
  auto bare = Decode({R"({"after":)" + row(3, "MDk=") + R"(,"op":"c"})"}, {}, declared);
  ASSERT_EQ(bare.errors.size(), 1u);
  EXPECT_NE(bare.errors[0].message.find("column 'ts_ns'"), std::string::npos) << bare.errors[0].message;
}

TEST(Debezium, SemanticDecimalsAreExact) {
  auto declared =
      arrow::schema({arrow::field("id", arrow::int64(), false), arrow::field("price", arrow::decimal128(10, 2)),
                     arrow::field("ratio", arrow::float64()), arrow::field("text", arrow::utf8())});
  const std::string schema = SchemaBlock({{"id", "int64", "", -1},
                                          {"price", "bytes", "org.apache.kafka.connect.data.Decimal", 3},
                                          {"ratio", "bytes", "org.apache.kafka.connect.data.Decimal", 3},
                                          {"text", "bytes", "org.apache.kafka.connect.data.Decimal", 3}});
  auto event = [&](const std::string& price) {
    return R"({"schema":)" + schema + R"(,"payload":{"after":{"id":1,"price":")" + price +
           R"(","ratio":"AeJA","text":"AeJA"},"op":"c"}})";
  };
  auto out = Decode({event("AeI6"), event("AeJA"), event("BWvHXi1jEAAA"), event("not base64!")}, {}, declared);
  ASSERT_EQ(out.batch->num_rows(), 1);
  EXPECT_EQ(out.batch->GetColumnByName("price")->GetScalar(0).ValueOrDie()->ToString(), "123.45");  // 123.450
  EXPECT_EQ(out.batch->GetColumnByName("ratio")->GetScalar(0).ValueOrDie()->ToString(), "123.456");
  EXPECT_EQ(out.batch->GetColumnByName("text")->GetScalar(0).ValueOrDie()->ToString(), "123.456");
  ASSERT_EQ(out.errors.size(), 3u);
  EXPECT_EQ(out.errors[0].index, 1u);  // 123.456 does not fit scale 2
  EXPECT_NE(out.errors[0].message.find("column 'price'"), std::string::npos) << out.errors[0].message;
  EXPECT_EQ(out.errors[1].index, 2u);  // 10^17 does not fit precision 10
  EXPECT_EQ(out.errors[2].index, 3u);
}

TEST(Debezium, SemanticTypeAColumnCannotHoldIsARecordError) {
  auto declared = arrow::schema({arrow::field("id", arrow::int64(), false), arrow::field("at", arrow::date32())});
  const std::string schema =
      SchemaBlock({{"id", "int64", "", -1}, {"at", "int64", "io.debezium.time.MicroTimestamp", -1}});
  auto out = Decode({R"({"schema":)" + schema + R"(,"payload":{"after":{"id":1,"at":1700000000123456},"op":"c"}})"}, {},
                    declared);
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_NE(out.errors[0].message.find("column 'at'"), std::string::npos) << out.errors[0].message;
  EXPECT_NE(out.errors[0].message.find("io.debezium.time.MicroTimestamp"), std::string::npos) << out.errors[0].message;
}

TEST(Debezium, MetadataColumns) {
  auto out = Decode({R"({"payload":{"after":{"id":1},"op":"c","source":{"ts_ms":1700000000000,"table":"orders","db":"x"}}})",
                     R"({"after":{"id":2},"op":"r"})"},
                    {{"format.debezium.include_metadata", "true"}});
  ASSERT_TRUE(out.errors.empty()) << out.errors[0].message;
  EXPECT_TRUE(out.batch->Equals(*Expected(
      R"([{"id":1,"name":null,"_source_ts_ms":1700000000000,"_source_table":"orders","_op":0},
          {"id":2,"name":null,"_source_ts_ms":null,"_source_table":null,"_op":0}])",
      true)))
      << out.batch->ToString();
}

TEST(Debezium, ConfigAndSchema) {
  auto with_op = arrow::schema({arrow::field("id", arrow::int64()), ChangelogField()});
  auto decoder = *MakeDebeziumDecoder(ConnectorConfig("test"), with_op);
  EXPECT_EQ(decoder->schema()->num_fields(), 2);
  EXPECT_FALSE(MakeDebeziumDecoder(ConnectorConfig("test", {{"format.debezium.include_metadata", "yes"}}), Declared()).ok());
  EXPECT_FALSE(MakeDebeziumDecoder(ConnectorConfig("test"), nullptr).ok());
  EXPECT_EQ(DebeziumKeySpecs().back().key, "format.debezium.updates");
}

TEST(Debezium, UpsertUpdatesYieldTheAfterImageAlone) {
  auto out = Decode({
      R"({"op":"u","before":{"id":1,"name":"a"},"after":{"id":1,"name":"b"}})",
      R"({"op":"d","before":{"id":1,"name":"b"}})",
  }, {{"format.debezium.updates", "upsert"}});
  ASSERT_TRUE(out.errors.empty()) << out.errors[0].message;
  EXPECT_TRUE(out.batch->Equals(*Expected(R"([{"id":1,"name":"b","_op":2},{"id":1,"name":"b","_op":3}])")))
      << out.batch->ToString();
  auto bad = MakeDebeziumDecoder(ConnectorConfig("test", {{"format.debezium.updates", "merge"}}), Declared());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("format.debezium.updates"), std::string::npos);
}

// A declared `_ts_ms` column takes the envelope's ts_ms (not a field of before/after), in
// its declared place; a TIMESTAMP column gets it in its unit.
TEST(Debezium, DeclaredTsMsColumnTakesTheEnvelopesTsMs) {
  auto schema = arrow::schema({arrow::field("id", arrow::int64(), false), arrow::field("_ts_ms", arrow::int64()),
                               arrow::field("name", arrow::utf8())});
  auto out = Decode({
      R"({"op":"u","ts_ms":1700000000123,"before":{"id":1,"name":"a","_ts_ms":5},"after":{"id":1,"name":"b"}})",
      R"({"schema":{},"payload":{"op":"c","ts_ms":7,"after":{"id":2}}})",
      R"({"op":"c","after":{"id":3}})",
  }, {}, schema);
  ASSERT_TRUE(out.errors.empty()) << out.errors[0].message;
  auto expected = *arrow::RecordBatch::FromStructArray(*arrow::json::ArrayFromJSONString(
      arrow::struct_({schema->field(0), schema->field(1), schema->field(2), ChangelogField()}), R"([
    {"id":1,"_ts_ms":1700000000123,"name":"a","_op":1},
    {"id":1,"_ts_ms":1700000000123,"name":"b","_op":2},
    {"id":2,"_ts_ms":7,"name":null,"_op":0},
    {"id":3,"_ts_ms":null,"name":null,"_op":0}
  ])"));
  EXPECT_TRUE(out.batch->Equals(*expected)) << out.batch->ToString();

  auto micros = arrow::schema({arrow::field("id", arrow::int64(), false),
                               arrow::field("_ts_ms", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"), false)});
  auto ts = Decode({R"({"op":"c","ts_ms":1500,"after":{"id":1}})", R"({"op":"c","after":{"id":2}})"}, {}, micros);
  ASSERT_EQ(ts.errors.size(), 1u);
  EXPECT_EQ(ts.errors[0].message, "no 'ts_ms' for the NOT NULL column '_ts_ms'");
  ASSERT_EQ(ts.batch->num_rows(), 1);
  EXPECT_EQ(static_cast<const arrow::TimestampArray&>(*ts.batch->column(1)).Value(0), 1500000);
  auto bad = MakeDebeziumDecoder(ConnectorConfig("test"),
                                 arrow::schema({arrow::field("id", arrow::int64()), arrow::field("_ts_ms", arrow::utf8())}));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'_ts_ms'"), std::string::npos);
}

}  // namespace
}  // namespace laminar::serde
