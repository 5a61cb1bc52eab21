#include "laminar/serde/json/json_codec.h"

#include <arrow/api.h>
#include <arrow/util/key_value_metadata.h>
#include <gtest/gtest.h>

#include <arrow/json/from_string.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "laminar/files/json_lines.h"
#include "laminar/serde/json/json_writer.h"
#include "laminar/serde/json/jsonb.h"
#include "laminar/serde/json/text_values_internal.h"

namespace laminar::serde {
namespace {

std::shared_ptr<const arrow::KeyValueMetadata> JsonMeta() {
  return arrow::key_value_metadata({"laminar.type"}, {"json"});
}

std::shared_ptr<arrow::Array> A(const std::shared_ptr<arrow::DataType>& type, const std::string& json) {
  auto array = arrow::json::ArrayFromJSONString(type, json);
  EXPECT_TRUE(array.ok()) << array.status().ToString();
  return *array;
}

std::shared_ptr<arrow::RecordBatch> BatchFromJson(const std::shared_ptr<arrow::Schema>& schema, const std::string& json) {
  auto array = A(arrow::struct_(schema->fields()), json);
  auto batch = arrow::RecordBatch::FromStructArray(array);
  EXPECT_TRUE(batch.ok()) << batch.status().ToString();
  return *batch;
}

RawRecord Rec(std::string_view value) {
  RawRecord r;
  r.value = value;
  return r;
}

struct Decoded {
  DecodedBatch batch;
  std::unique_ptr<RecordDecoder> decoder;
};

Decoded DecodeAll(std::shared_ptr<arrow::Schema> schema, const std::vector<std::string>& messages,
                  std::map<std::string, std::string> options = {}) {
  ConnectorConfig config("test", std::move(options));
  auto decoder = MakeJsonDecoder(config, schema);
  EXPECT_TRUE(decoder.ok()) << decoder.status().ToString();
  std::vector<RawRecord> records;
  for (const auto& m : messages) records.push_back(Rec(m));
  auto out = (*decoder)->Decode(records);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE((*out).batch->ValidateFull().ok()) << (*out).batch->ValidateFull().ToString();
  return Decoded{std::move(*out), std::move(*decoder)};
}

std::string OneError(std::shared_ptr<arrow::Schema> schema, const std::string& message,
                     std::map<std::string, std::string> options = {}) {
  auto d = DecodeAll(schema, {message}, std::move(options));
  EXPECT_EQ(d.batch.batch->num_rows(), 0);
  if (d.batch.errors.size() != 1) {
    ADD_FAILURE() << "expected one error for " << message;
    return "";
  }
  return d.batch.errors[0].message;
}

std::shared_ptr<arrow::Array> Column(const Decoded& d, int i) { return d.batch.batch->column(i); }


TEST(JsonDecoder, EmptyInputGivesEmptyBatchWithSchema) {
  auto schema = arrow::schema({arrow::field("a", arrow::int64())});
  auto d = DecodeAll(schema, {});
  EXPECT_EQ(d.batch.batch->num_rows(), 0);
  EXPECT_TRUE(d.batch.batch->schema()->Equals(*schema));
}

TEST(JsonDecoder, ScalarTypes) {
  auto schema = arrow::schema({
      arrow::field("b", arrow::boolean()), arrow::field("i8", arrow::int8()), arrow::field("i16", arrow::int16()),
      arrow::field("i32", arrow::int32()), arrow::field("i64", arrow::int64()), arrow::field("u8", arrow::uint8()),
      arrow::field("u16", arrow::uint16()), arrow::field("u32", arrow::uint32()), arrow::field("u64", arrow::uint64()),
      arrow::field("f32", arrow::float32()), arrow::field("f64", arrow::float64()),
      arrow::field("s", arrow::utf8()), arrow::field("bin", arrow::binary()),
  });
  auto d = DecodeAll(schema, {
      R"({"b":true,"i8":-128,"i16":32767,"i32":-5,"i64":9223372036854775807,"u8":255,"u16":65535,"u32":4294967295,)"
      R"("u64":18446744073709551615,"f32":1.5,"f64":-2.25e3,"s":"h\u00e9\"llo","bin":"AAEC/w=="})",
      R"({"b":false,"i8":0,"i16":-32768,"i32":2147483647,"i64":-9223372036854775808,"u8":0,"u16":0,"u32":0,)"
      R"("u64":0,"f32":0,"f64":1,"s":"","bin":""})",
      R"({})",
  });
  ASSERT_TRUE(d.batch.errors.empty()) << d.batch.errors[0].message;
  auto expected = BatchFromJson(schema, R"([
    {"b":true,"i8":-128,"i16":32767,"i32":-5,"i64":9223372036854775807,"u8":255,"u16":65535,"u32":4294967295,
     "u64":18446744073709551615,"f32":1.5,"f64":-2250,"s":"hé\"llo","bin":"\u0000\u0001\u0002\u00ff"},
    {"b":false,"i8":0,"i16":-32768,"i32":2147483647,"i64":-9223372036854775808,"u8":0,"u16":0,"u32":0,
     "u64":0,"f32":0,"f64":1,"s":"","bin":""},
    {}
  ])");
  // ArrayFromJSON encodes "\u00ff" in a binary column as UTF-8; compare that column separately.
  for (int c = 0; c < schema->num_fields() - 1; ++c) {
    EXPECT_TRUE(d.batch.batch->column(c)->Equals(*expected->column(c)))
        << schema->field(c)->name() << ": " << d.batch.batch->column(c)->ToString();
  }
  const auto& bin = static_cast<const arrow::BinaryArray&>(*Column(d, 12));
  EXPECT_EQ(bin.GetView(0), std::string_view("\x00\x01\x02\xff", 4));
  EXPECT_EQ(bin.GetView(1), "");
  EXPECT_TRUE(bin.IsNull(2));
}

TEST(JsonDecoder, IntegerRangeErrorsNameTheColumn) {
  EXPECT_EQ(OneError(arrow::schema({arrow::field("n", arrow::int8())}), R"({"n":128})"),
            "column 'n': expected TINYINT, found number 128 (out of range)");
  EXPECT_EQ(OneError(arrow::schema({arrow::field("n", arrow::int8())}), R"({"n":-129})"),
            "column 'n': expected TINYINT, found number -129 (out of range)");
  EXPECT_EQ(OneError(arrow::schema({arrow::field("n", arrow::uint8())}), R"({"n":-1})"),
            "column 'n': expected TINYINT UNSIGNED, found number -1 (out of range)");
  EXPECT_EQ(OneError(arrow::schema({arrow::field("n", arrow::int64())}), R"({"n":9223372036854775808})"),
            "column 'n': expected BIGINT, found number 9223372036854775808 (out of range)");
  EXPECT_EQ(OneError(arrow::schema({arrow::field("n", arrow::int32())}), R"({"n":1.5})"),
            "column 'n': expected INT, found number 1.5 (not an integer)");
  EXPECT_EQ(OneError(arrow::schema({arrow::field("n", arrow::int32())}), R"({"n":true})"),
            "column 'n': expected INT, found boolean true");
  EXPECT_EQ(OneError(arrow::schema({arrow::field("n", arrow::int32())}), R"({"n":[1]})"),
            "column 'n': expected INT, found an array");
  EXPECT_EQ(OneError(arrow::schema({arrow::field("n", arrow::uint64())}), R"({"n":18446744073709551616})"),
            "column 'n': expected BIGINT UNSIGNED, found number 18446744073709551616 (out of range)");
}

TEST(JsonDecoder, Coercions) {
  auto schema = arrow::schema({arrow::field("b", arrow::boolean()), arrow::field("i", arrow::int32()),
                               arrow::field("u", arrow::uint16()), arrow::field("f", arrow::float64()),
                               arrow::field("s", arrow::utf8())});
  auto d = DecodeAll(schema, {R"({"b":"TRUE","i":"-42","u":"7","f":"2.5","s":12.50})",
                              R"({"b":"false","i":3.0,"u":1e2,"f":"NaN","s":true})"});
  ASSERT_TRUE(d.batch.errors.empty()) << d.batch.errors[0].message;
  EXPECT_TRUE(Column(d, 0)->Equals(*A(arrow::boolean(), "[true,false]")));
  EXPECT_TRUE(Column(d, 1)->Equals(*A(arrow::int32(), "[-42,3]")));
  EXPECT_TRUE(Column(d, 2)->Equals(*A(arrow::uint16(), "[7,100]")));
  EXPECT_EQ(static_cast<const arrow::DoubleArray&>(*Column(d, 3)).Value(0), 2.5);
  EXPECT_TRUE(std::isnan(static_cast<const arrow::DoubleArray&>(*Column(d, 3)).Value(1)));
  EXPECT_TRUE(Column(d, 4)->Equals(*A(arrow::utf8(), R"(["12.50","true"])")));

  // Integers into floats need no coercion.
  auto f = DecodeAll(arrow::schema({arrow::field("f", arrow::float64())}), {R"({"f":42})"});
  EXPECT_EQ(static_cast<const arrow::DoubleArray&>(*Column(f, 0)).Value(0), 42.0);
}

TEST(JsonDecoder, CoerceFalseRejectsStringsForNumbers) {
  const std::map<std::string, std::string> strict{{"format.coerce", "false"}};
  EXPECT_EQ(OneError(arrow::schema({arrow::field("i", arrow::int32())}), R"({"i":"42"})", strict),
            "column 'i': expected INT, found string \"42\"");
  EXPECT_EQ(OneError(arrow::schema({arrow::field("i", arrow::int32())}), R"({"i":3.0})", strict),
            "column 'i': expected INT, found number 3.0 (not an integer)");
  EXPECT_EQ(OneError(arrow::schema({arrow::field("b", arrow::boolean())}), R"({"b":"true"})", strict),
            "column 'b': expected BOOLEAN, found string \"true\"");
  EXPECT_EQ(OneError(arrow::schema({arrow::field("f", arrow::float32())}), R"({"f":"1"})", strict),
            "column 'f': expected REAL, found string \"1\"");
  EXPECT_EQ(OneError(arrow::schema({arrow::field("s", arrow::utf8())}), R"({"s":1})", strict),
            "column 's': expected VARCHAR, found number 1");
  // Decimals and timestamps from strings are always accepted.
  auto d = DecodeAll(arrow::schema({arrow::field("d", arrow::decimal128(5, 2)),
                                    arrow::field("t", arrow::timestamp(arrow::TimeUnit::SECOND))}),
                     {R"({"d":"1.25","t":"1970-01-01T00:00:10Z"})"}, strict);
  ASSERT_TRUE(d.batch.errors.empty());
  EXPECT_EQ(static_cast<const arrow::Decimal128Array&>(*Column(d, 0)).FormatValue(0), "1.25");
  EXPECT_EQ(static_cast<const arrow::TimestampArray&>(*Column(d, 1)).Value(0), 10);
}

TEST(JsonDecoder, BadCoercedStrings) {
  EXPECT_EQ(OneError(arrow::schema({arrow::field("i", arrow::int16())}), R"({"i":"12a"})"),
            "column 'i': expected SMALLINT, found string \"12a\" (not an integer)");
  EXPECT_EQ(OneError(arrow::schema({arrow::field("i", arrow::int16())}), R"({"i":"70000"})"),
            "column 'i': expected SMALLINT, found string \"70000\" (out of range)");
  EXPECT_EQ(OneError(arrow::schema({arrow::field("b", arrow::boolean())}), R"({"b":"yes"})"),
            "column 'b': expected BOOLEAN, found string \"yes\"");
  EXPECT_EQ(OneError(arrow::schema({arrow::field("f", arrow::float64())}), R"({"f":"x1"})"),
            "column 'f': expected DOUBLE, found string \"x1\" (not a number)");
  EXPECT_EQ(OneError(arrow::schema({arrow::field("f", arrow::float32())}), R"({"f":1e300})"),
            "column 'f': expected REAL, found number 1e300 (out of range)");
  EXPECT_EQ(OneError(arrow::schema({arrow::field("s", arrow::utf8())}), R"({"s":{"a":1}})"),
            "column 's': expected VARCHAR, found an object (declare the column JSON to keep nested values)");
  EXPECT_EQ(OneError(arrow::schema({arrow::field("x", arrow::binary())}), R"({"x":"%%%"})"),
            "column 'x': expected BYTEA (base64), found string \"%%%\" (not base64)");
}

TEST(JsonDecoder, Decimals) {
  auto schema = arrow::schema({arrow::field("d", arrow::decimal128(10, 2))});
  auto d = DecodeAll(schema, {R"({"d":123.45})", R"({"d":"-0.5"})", R"({"d":1e3})", R"({"d":"12345678.90"})",
                              R"({"d":0.10000})", R"({"d":"1.5E-1"})", R"({"d":-0})", R"({"d":1234567890000e-5})"});
  ASSERT_TRUE(d.batch.errors.empty()) << d.batch.errors[0].message;
  const auto& a = static_cast<const arrow::Decimal128Array&>(*Column(d, 0));
  std::vector<std::string> got;
  for (int64_t i = 0; i < a.length(); ++i) got.push_back(a.FormatValue(i));
  EXPECT_EQ(got, (std::vector<std::string>{"123.45", "-0.50", "1000.00", "12345678.90", "0.10", "0.15", "0.00",
                                           "12345678.90"}));

  EXPECT_EQ(OneError(schema, R"({"d":"abc"})"),
            "column 'd': expected DECIMAL(10,2), found string \"abc\" (not a decimal number)");
  EXPECT_EQ(OneError(schema, R"({"d":123456789.00})"),
            "column 'd': expected DECIMAL(10,2), found number 123456789.00 (too many digits for the precision)");
  EXPECT_EQ(OneError(schema, R"({"d":1.234})"),
            "column 'd': expected DECIMAL(10,2), found number 1.234 (more fractional digits than the scale allows)");
  EXPECT_EQ(OneError(schema, R"({"d":true})"), "column 'd': expected DECIMAL(10,2), found boolean true");

  // Full 38-digit precision, exact.
  auto wide = DecodeAll(arrow::schema({arrow::field("d", arrow::decimal128(38, 0))}),
                        {R"({"d":99999999999999999999999999999999999999})",
                         R"({"d":"-99999999999999999999999999999999999999"})"});
  ASSERT_TRUE(wide.batch.errors.empty());
  EXPECT_EQ(static_cast<const arrow::Decimal128Array&>(*Column(wide, 0)).FormatValue(0),
            "99999999999999999999999999999999999999");
  EXPECT_EQ(static_cast<const arrow::Decimal128Array&>(*Column(wide, 0)).FormatValue(1),
            "-99999999999999999999999999999999999999");
  EXPECT_EQ(OneError(arrow::schema({arrow::field("d", arrow::decimal128(38, 0))}),
                     R"({"d":100000000000000000000000000000000000000})"),
            "column 'd': expected DECIMAL(38,0), found number 100000000000000000000000000000000000000 (too many "
            "digits for the precision)");
}

TEST(JsonDecoder, DatesAndTimes) {
  auto schema = arrow::schema({arrow::field("d", arrow::date32()), arrow::field("t", arrow::time64(arrow::TimeUnit::MICRO))});
  auto d = DecodeAll(schema, {R"({"d":"2024-02-29","t":"13:45:30.123456"})", R"({"d":19000,"t":"00:00"})",
                              R"({"d":"1969-12-31","t":5000000})"});
  ASSERT_TRUE(d.batch.errors.empty()) << d.batch.errors[0].message;
  EXPECT_TRUE(Column(d, 0)->Equals(*A(arrow::date32(), "[19782, 19000, -1]")));
  EXPECT_TRUE(Column(d, 1)->Equals(
      *A(arrow::time64(arrow::TimeUnit::MICRO), "[49530123456, 0, 5000000]")));
  EXPECT_EQ(OneError(schema, R"({"d":"2023-02-29"})"),
            "column 'd': expected DATE, found string \"2023-02-29\" (expected YYYY-MM-DD)");
  EXPECT_EQ(OneError(schema, R"({"t":"25:00:00"})"),
            "column 't': expected TIME, found string \"25:00:00\" (expected HH:MM:SS[.ffffff])");
}

TEST(JsonDecoder, TimestampsEveryUnitAndOffsets) {
  using arrow::TimeUnit;
  auto schema = arrow::schema({
      arrow::field("s", arrow::timestamp(TimeUnit::SECOND)), arrow::field("ms", arrow::timestamp(TimeUnit::MILLI)),
      arrow::field("us", arrow::timestamp(TimeUnit::MICRO, "UTC")),
      arrow::field("ns", arrow::timestamp(TimeUnit::NANO, "UTC"))});
  // 2024-01-15T10:30:00Z = 1705314600 s
  auto d = DecodeAll(schema, {
      R"({"s":"2024-01-15T10:30:00Z","ms":"2024-01-15 10:30:00.123","us":"2024-01-15T12:30:00.123456+02:00","ns":"2024-01-15T05:30:00.123456789-05:00"})",
      R"({"s":1705314600000,"ms":1705314600123,"us":1705314600123,"ns":1705312200000})",
      R"({"s":"2024-01-15T10:30:00.999","ms":"2024-01-15T10:30:00.1234567Z","us":"2024-01-15t10:30:00z","ns":"2024-01-15T10:30:00+0000"})",
      R"({"s":-1,"ms":1705314600123.9,"us":"2024-01-15","ns":"1969-12-31T23:59:59.5Z"})",
  });
  ASSERT_TRUE(d.batch.errors.empty()) << d.batch.errors[0].message;
  auto value = [&](int col, int row) { return static_cast<const arrow::TimestampArray&>(*Column(d, col)).Value(row); };
  EXPECT_EQ(value(0, 0), 1705314600);
  EXPECT_EQ(value(1, 0), 1705314600123);
  EXPECT_EQ(value(2, 0), 1705314600123456);
  EXPECT_EQ(value(3, 0), 1705314600123456789);
  // Integers are epoch milliseconds in every unit (spec §16.1: 1705312200000 -> ns x 10^6).
  EXPECT_EQ(value(0, 1), 1705314600);
  EXPECT_EQ(value(1, 1), 1705314600123);
  EXPECT_EQ(value(2, 1), 1705314600123000);
  EXPECT_EQ(value(3, 1), 1705312200000000000);
  // Finer digits than the unit are truncated.
  EXPECT_EQ(value(0, 2), 1705314600);
  EXPECT_EQ(value(1, 2), 1705314600123);
  EXPECT_EQ(value(2, 2), 1705314600000000);
  EXPECT_EQ(value(3, 2), 1705314600000000000);
  EXPECT_EQ(value(0, 3), -1);  // -1 ms floors to -1 s
  EXPECT_EQ(value(1, 3), 1705314600123);
  EXPECT_EQ(value(2, 3), int64_t{1705276800} * 1000000);
  EXPECT_EQ(value(3, 3), -500000000);

  EXPECT_EQ(OneError(schema, R"({"ms":"yesterday"})"),
            "column 'ms': expected TIMESTAMP(3), found string \"yesterday\" (not a timestamp in a known format)");
  EXPECT_EQ(OneError(schema, R"({"us":"2024-01-15T10:30:00+25:00"})"),
            "column 'us': expected TIMESTAMP(6) WITH TIME ZONE, found string \"2024-01-15T10:30:00+25:00\" (not a "
            "timestamp in a known format)");
  EXPECT_EQ(OneError(schema, R"({"ns":"2300-01-01T00:00:00Z"})"),
            "column 'ns': expected TIMESTAMP(9) WITH TIME ZONE, found string \"2300-01-01T00:00:00Z\" (out of range)");
}

TEST(JsonDecoder, TimestampFormatsOption) {
  auto schema = arrow::schema({arrow::field("t", arrow::timestamp(arrow::TimeUnit::MILLI))});
  auto d = DecodeAll(schema, {R"({"t":"15/01/2024 10:30:00.5"})", R"({"t":"2024-01-15T10:30:00Z"})",
                              R"({"t":"20240115 103000 +0100"})"},
                     {{"format.timestamp_formats", "%d/%m/%Y %H:%M:%S.%f; iso8601 ;%Y%m%d %H%M%S %z"}});
  ASSERT_TRUE(d.batch.errors.empty()) << d.batch.errors[0].message;
  EXPECT_TRUE(Column(d, 0)->Equals(*A(arrow::timestamp(arrow::TimeUnit::MILLI),
                                                         "[1705314600500, 1705314600000, 1705311000000]")));
  auto bad = MakeJsonDecoder(ConnectorConfig("test", {{"format.timestamp_formats", "%Q"}}), schema);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("format.timestamp_formats"), std::string::npos) << bad.status().ToString();
}

TEST(JsonDecoder, JsonColumnsKeepCompactText) {
  auto schema = arrow::schema({arrow::field("j", arrow::utf8(), true, JsonMeta())});
  auto d = DecodeAll(schema, {R"({"j": { "a" : [1, 2 , {"b": "x y"}] } })", R"({"j":"text"})", R"({"j":12.5 })",
                              R"({"j":null})", R"({"j":[ ]})", R"({"j":false})"});
  ASSERT_TRUE(d.batch.errors.empty()) << d.batch.errors[0].message;
  EXPECT_TRUE(Column(d, 0)->Equals(*A(
      arrow::utf8(), R"(["{\"a\":[1,2,{\"b\":\"x y\"}]}", "\"text\"", "12.5", null, "[]", "false"])")))
      << Column(d, 0)->ToString();
}

TEST(JsonDecoder, NestedListsAndStructs) {
  auto point = arrow::struct_({arrow::field("x", arrow::int32()), arrow::field("y", arrow::float64()),
                               arrow::field("tags", arrow::list(arrow::utf8()))});
  auto schema = arrow::schema({arrow::field("id", arrow::int64(), false), arrow::field("ints", arrow::list(arrow::int16())),
                               arrow::field("grid", arrow::list(arrow::list(arrow::int32()))),
                               arrow::field("p", point), arrow::field("ps", arrow::list(point))});
  auto d = DecodeAll(schema, {
      R"({"id":1,"ints":[1,null,3],"grid":[[1,2],[],null],"p":{"x":1,"y":2.5,"tags":["a"]},"ps":[{"x":2},null]})",
      R"({"id":2,"ints":[],"p":null})",
      R"({"id":3,"p":{"tags":null,"y":1}})",
  });
  ASSERT_TRUE(d.batch.errors.empty()) << d.batch.errors[0].message;
  auto expected = BatchFromJson(schema, R"([
    {"id":1,"ints":[1,null,3],"grid":[[1,2],[],null],"p":{"x":1,"y":2.5,"tags":["a"]},"ps":[{"x":2,"y":null,"tags":null},null]},
    {"id":2,"ints":[],"grid":null,"p":null,"ps":null},
    {"id":3,"ints":null,"grid":null,"p":{"x":null,"y":1,"tags":null},"ps":null}
  ])");
  EXPECT_TRUE(d.batch.batch->Equals(*expected)) << d.batch.batch->ToString();

  EXPECT_EQ(OneError(schema, R"({"id":1,"ps":[{"x":"a"}]})"),
            "column 'ps[].x': expected INT, found string \"a\" (not an integer)");
  EXPECT_EQ(OneError(schema, R"({"id":1,"ints":[1,"x"]})"),
            "column 'ints[]': expected SMALLINT, found string \"x\" (not an integer)");
  EXPECT_EQ(OneError(schema, R"({"id":1,"p":[1]})"), "column 'p': expected STRUCT, found an array");
  EXPECT_EQ(OneError(schema, R"({"id":1,"ints":{"a":1}})"),
            "column 'ints': expected ARRAY<SMALLINT>, found an object");
}

TEST(JsonDecoder, NotNullViolations) {
  auto inner = arrow::struct_({arrow::field("k", arrow::utf8(), false)});
  auto schema = arrow::schema({arrow::field("id", arrow::int64(), false), arrow::field("s", inner)});
  EXPECT_EQ(OneError(schema, R"({"s":null})"), "column 'id': missing, but the column is NOT NULL");
  EXPECT_EQ(OneError(schema, R"({"id":null})"), "column 'id': null, but the column is NOT NULL");
  EXPECT_EQ(OneError(schema, R"({"id":1,"s":{}})"), "column 's.k': missing, but the column is NOT NULL");
  // type_mismatch=null cannot put a null into a NOT NULL column.
  EXPECT_EQ(OneError(schema, R"({"id":"x"})", {{"format.type_mismatch", "null"}}),
            "column 'id': expected BIGINT, found string \"x\" (not an integer)");
}

TEST(JsonDecoder, BadRecordAmongGoodOnesAddsNothing) {
  auto inner = arrow::struct_({arrow::field("a", arrow::int32()), arrow::field("b", arrow::list(arrow::int32()))});
  auto schema = arrow::schema({arrow::field("id", arrow::int64()), arrow::field("name", arrow::utf8()),
                               arrow::field("s", inner), arrow::field("l", arrow::list(inner))});
  auto d = DecodeAll(schema, {
      R"({"id":1,"name":"one","s":{"a":1,"b":[1]},"l":[{"a":1,"b":[1,2]}]})",
      // Fails deep inside, after name, s and part of l were written.
      R"({"id":2,"name":"two","s":{"a":2,"b":[2,2]},"l":[{"a":2,"b":[2]},{"a":2,"b":[2,"bad"]}]})",
      "{not json",
      R"([1,2])",
      R"({"id":3,"name":"three","s":{"b":[3]},"l":[]})",
  });
  ASSERT_EQ(d.batch.errors.size(), 3u);
  EXPECT_EQ(d.batch.errors[0].index, 1u);
  EXPECT_EQ(d.batch.errors[0].message, "column 'l[].b[]': expected INT, found string \"bad\" (not an integer)");
  EXPECT_EQ(d.batch.errors[1].index, 2u);
  EXPECT_EQ(d.batch.errors[1].message.rfind("malformed JSON", 0), 0u) << d.batch.errors[1].message;
  EXPECT_EQ(d.batch.errors[2].index, 3u);
  EXPECT_EQ(d.batch.errors[2].message, "expected a JSON object, found an array");
  auto expected = BatchFromJson(schema, R"([
    {"id":1,"name":"one","s":{"a":1,"b":[1]},"l":[{"a":1,"b":[1,2]}]},
    {"id":3,"name":"three","s":{"a":null,"b":[3]},"l":[]}
  ])");
  EXPECT_TRUE(d.batch.batch->Equals(*expected)) << d.batch.batch->ToString();
}

TEST(JsonDecoder, MalformedInputs) {
  auto schema = arrow::schema({arrow::field("a", arrow::int64()), arrow::field("s", arrow::utf8())});
  auto d = DecodeAll(schema, {R"({"a":1)", "", R"({"a":1} {"a":2})", R"({"a":1,"s":"\ud800"})", "\"str\"",
                              "{\"s\":\"\xff\xfe\"}", R"({"a":1})"});
  ASSERT_EQ(d.batch.errors.size(), 6u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(d.batch.errors[i].index, i);
  EXPECT_EQ(d.batch.errors[4].message, "expected a JSON object, found a string");
  EXPECT_EQ(d.batch.batch->num_rows(), 1);
  EXPECT_TRUE(d.batch.batch->column(0)->Equals(*A(arrow::int64(), "[1]")));
}

// The decoder hands simdjson an unpadded message when the bytes simdjson may read past its
// end stay in the same page. Whatever those bytes are must not change the result: each
// message here sits at the start of a page, followed by bytes that would complete or
// extend it, and must decode exactly as it does from a buffer of its own.
TEST(JsonDecoder, BytesAfterTheMessageNeverChangeTheResult) {
  auto schema = arrow::schema({arrow::field("a", arrow::int64()), arrow::field("s", arrow::utf8()),
                               arrow::field("l", arrow::list(arrow::int64()))});
  const std::vector<std::string> messages = {R"({"a":1)",      R"({"a":12)",         R"({"s":"ab)",
                                             R"({"s":"ab")",   R"({"l":[1,2)",       R"({"a":1,)",
                                             R"({"a":tru)",    R"({"a":1,"s":"x"})", R"({"a":-)",
                                             R"({"a":1.5e)",   R"({"s":"x\)",        R"({)"};
  const std::vector<std::string> tails = {"}", R"("})", "3}", "]}", "0}", R"(e}"})", std::string(64, '}'),
                                          std::string(64, '"'), std::string(64, '9')};
  auto expected = DecodeAll(schema, messages);
  // Page-aligned, so that every message and its tail lie in one page.
  constexpr size_t kPage = 4096;
  std::vector<char> storage(kPage * (messages.size() + 1));
  char* pages = storage.data() + (kPage - reinterpret_cast<uintptr_t>(storage.data()) % kPage);
  for (const auto& tail : tails) {
    std::vector<RawRecord> records;
    for (size_t i = 0; i < messages.size(); ++i) {
      char* at = pages + i * kPage;
      std::memcpy(at, messages[i].data(), messages[i].size());
      std::memcpy(at + messages[i].size(), tail.data(), tail.size());
      records.push_back(Rec(std::string_view(at, messages[i].size())));
    }
    auto decoder = *MakeJsonDecoder(ConnectorConfig("test"), schema);
    auto out = decoder->Decode(records);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ASSERT_EQ(out->errors.size(), expected.batch.errors.size()) << "tail " << tail;
    for (size_t i = 0; i < out->errors.size(); ++i) {
      EXPECT_EQ(out->errors[i].index, expected.batch.errors[i].index) << "tail " << tail;
      EXPECT_EQ(out->errors[i].message, expected.batch.errors[i].message) << "tail " << tail;
    }
    EXPECT_TRUE(out->batch->Equals(*expected.batch.batch)) << "tail " << tail << "\n" << out->batch->ToString();
  }
  // Only the one complete message decodes.
  EXPECT_EQ(expected.batch.errors.size(), messages.size() - 1);
  EXPECT_TRUE(expected.batch.batch->Equals(*BatchFromJson(schema, R"([{"a":1,"s":"x","l":null}])")));
}

TEST(JsonDecoder, TombstonesAreSkipped) {
  auto schema = arrow::schema({arrow::field("a", arrow::int64())});
  auto decoder = *MakeJsonDecoder(ConnectorConfig("test"), schema);
  std::string good = R"({"a":5})";
  std::vector<RawRecord> records{Rec(std::string_view()), Rec(good)};
  auto out = *decoder->Decode(records);
  EXPECT_EQ(out.tombstones, 1);
  EXPECT_TRUE(out.errors.empty());
  EXPECT_EQ(out.batch->num_rows(), 1);
}

TEST(JsonDecoder, StringsWithAndWithoutEscapesAndSpacing) {
  auto schema = arrow::schema({arrow::field("s", arrow::utf8()), arrow::field("n", arrow::int32())});
  auto d = DecodeAll(schema, {R"({"s":"plain","n":1})", R"({ "s" :  "spaced"  ,  "n" : 2 })", R"({"s":"","n":3})",
                              R"({"s":"tab\there \\ \"q\"","n":4})", "{\"s\":\"multi\u00e9byte \u00e9\",\"n\":5}\n",
                              R"({"n":6,"s":"last"   })"});
  ASSERT_TRUE(d.batch.errors.empty());
  EXPECT_TRUE(d.batch.batch->column(0)->Equals(
      *A(arrow::utf8(), R"(["plain","spaced","","tab\there \\ \"q\"","multi\u00e9byte \u00e9","last"])")))
      << d.batch.batch->column(0)->ToString();
}

// Escape-free strings are checked and copied in blocks of 32 and 128 bytes: every length
// around those sizes, with an escape (decoded) at the start, the end or nowhere, and the
// string last in its message so that the blocks reach past the message.
TEST(JsonDecoder, StringsOfEveryLengthAroundTheCopyBlocks) {
  auto schema = arrow::schema({arrow::field("n", arrow::int32()), arrow::field("s", arrow::utf8())});
  std::vector<std::string> messages;
  std::vector<std::string> expected;
  for (size_t length = 0; length <= 300; ++length) {
    std::string body;
    for (size_t i = 0; i < length; ++i) body += static_cast<char>('a' + i % 26);
    for (int escape = 0; escape < 3; ++escape) {
      std::string json = body, value = body;
      if (escape == 1) json = "\\n" + body, value = "\n" + body;
      if (escape == 2) json = body + "\\\"", value = body + "\"";
      messages.push_back("{\"n\":1,\"s\":\"" + json + "\"}");
      expected.push_back(value);
    }
  }
  auto d = DecodeAll(schema, messages);
  ASSERT_TRUE(d.batch.errors.empty()) << d.batch.errors[0].message;
  const auto& strings = static_cast<const arrow::StringArray&>(*d.batch.batch->column(1));
  ASSERT_EQ(strings.length(), static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(strings.GetView(static_cast<int64_t>(i)), expected[i]) << i;
}

TEST(JsonDecoder, UnknownFields) {
  auto schema = arrow::schema({arrow::field("a", arrow::int64()),
                               arrow::field("s", arrow::struct_({arrow::field("x", arrow::int32())}))});
  auto ignored = DecodeAll(schema, {R"({"zz":{"deep":[1,2,{"q":null}]},"a":1,"b":"x","s":{"x":1,"y":2}})"});
  ASSERT_TRUE(ignored.batch.errors.empty());
  EXPECT_EQ(ignored.batch.batch->num_columns(), 2);
  EXPECT_EQ(OneError(schema, R"({"a":1,"b":"x"})", {{"format.unknown_fields", "reject"}}), "unknown field 'b'");
  EXPECT_EQ(OneError(schema, R"({"a":1,"s":{"x":1,"y":2}})", {{"format.unknown_fields", "reject"}}),
            "unknown field 's.y'");
}

TEST(JsonDecoder, TypeMismatchPerColumn) {
  auto schema = arrow::schema({arrow::field("a", arrow::int64()), arrow::field("b", arrow::int64()),
                               arrow::field("s", arrow::struct_({arrow::field("x", arrow::int32()),
                                                                 arrow::field("y", arrow::int32())}))});
  const std::map<std::string, std::string> options = {
      {"format.type_mismatch", "error"}, {"format.type_mismatch.b", "null"}, {"format.type_mismatch.s", "null"},
      {"format.type_mismatch.s.y", "error"}};
  auto d = DecodeAll(schema, {R"({"a":1,"b":"x","s":{"x":"y","y":2}})", R"({"a":"x","b":2})",
                              R"({"a":3,"s":{"y":"z"}})"},
                     options);
  ASSERT_EQ(d.batch.errors.size(), 2u);
  EXPECT_EQ(d.batch.errors[0].index, 1u);
  EXPECT_EQ(d.batch.errors[0].message, R"(column 'a': expected BIGINT, found string "x" (not an integer))");
  EXPECT_EQ(d.batch.errors[1].index, 2u);
  EXPECT_EQ(d.batch.errors[1].message, R"(column 's.y': expected INT, found string "z" (not an integer))");
  EXPECT_TRUE(d.batch.batch->Equals(*BatchFromJson(schema, R"([{"a":1,"b":null,"s":{"x":null,"y":2}}])")))
      << d.batch.batch->ToString();
  EXPECT_EQ(TypeMismatchCount(*d.decoder), 2);

  auto unknown = MakeJsonDecoder(ConnectorConfig("test", {{"format.type_mismatch.c", "null"}}), schema);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("'format.type_mismatch.c' names no column"), std::string::npos)
      << unknown.status().ToString();
  auto bad = MakeJsonDecoder(ConnectorConfig("test", {{"format.type_mismatch.a", "skip"}}), schema);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'format.type_mismatch.a' = 'skip'"), std::string::npos)
      << bad.status().ToString();
}

TEST(JsonDecoder, NestedAsJsonbFillsBinaryColumnsWithJsonb) {
  auto schema = arrow::schema({arrow::field("doc", arrow::binary()), arrow::field("n", arrow::int32())});
  auto d = DecodeAll(schema, {R"({"doc":{"k":[1,2.5,null],"a":"x"},"n":1})", R"({"doc":"text","n":2})",
                              R"({"doc":[true],"n":3})", R"({"doc":null,"n":4})"},
                     {{"format.nested_as_jsonb", "true"}});
  ASSERT_TRUE(d.batch.errors.empty()) << d.batch.errors[0].message;
  auto doc = std::static_pointer_cast<arrow::BinaryArray>(Column(d, 0));
  const char* texts[] = {R"({"k":[1,2.5,null],"a":"x"})", R"("text")", "[true]"};
  for (int i = 0; i < 3; ++i) {
    std::string expected;
    jsonb::Encoder encoder;
    ASSERT_TRUE(encoder.EncodeText(texts[i], &expected).ok());
    EXPECT_EQ(doc->GetView(i), expected) << texts[i];
  }
  EXPECT_TRUE(doc->IsNull(3));
  // Without the option a BYTEA column takes base64 text only.
  EXPECT_EQ(OneError(schema, R"({"doc":{"k":1}})"), "column 'doc': expected BYTEA (base64), found an object");
}

TEST(JsonDecoder, UnknownFieldsCollectedAsJsonb) {
  auto schema = arrow::schema({arrow::field("a", arrow::int64())});
  auto d = DecodeAll(schema, {R"({"a":1,"b":"x","c":{"d":[1,2.5,null]},"e\u0041":true})", R"({"a":2})",
                              R"({"z":1,"a":3})"},
                     {{"format.unknown_fields", "collect"}});
  ASSERT_TRUE(d.batch.errors.empty());
  const auto& out = *d.batch.batch;
  ASSERT_EQ(out.num_columns(), 2);
  EXPECT_EQ(out.schema()->field(1)->name(), "_extra");
  EXPECT_EQ(out.schema()->field(1)->metadata()->Get("laminar.type").ValueOrDie(), "jsonb");
  auto extra = std::static_pointer_cast<arrow::BinaryArray>(out.column(1));
  EXPECT_TRUE(extra->IsNull(1)) << "no unknown field: null";
  EXPECT_EQ(jsonb::ToJsonText(extra->GetView(0)).ValueOrDie(), R"({"b":"x","c":{"d":[1,2.5,null]},"eA":true})");
  EXPECT_EQ(jsonb::ToJsonText(extra->GetView(2)).ValueOrDie(), R"({"z":1})");
  EXPECT_TRUE(out.column(0)->Equals(*A(arrow::int64(), "[1,2,3]")));
  // The DDL cannot declare _extra itself when collecting.
  ConnectorConfig config("test", {{"format.unknown_fields", "collect"}});
  EXPECT_FALSE(MakeJsonDecoder(config, arrow::schema({arrow::field("_extra", arrow::utf8())})).ok());
}

TEST(JsonDecoder, TypeMismatchNullCountsAndKeepsTheRow) {
  auto schema = arrow::schema({arrow::field("a", arrow::int32()), arrow::field("l", arrow::list(arrow::int32()))});
  auto d = DecodeAll(schema, {R"({"a":"x","l":[1,"y",3]})", R"({"a":2,"l":"z"})"}, {{"format.type_mismatch", "null"}});
  ASSERT_TRUE(d.batch.errors.empty());
  auto expected = BatchFromJson(schema, R"([{"a":null,"l":[1,null,3]},{"a":2,"l":null}])");
  EXPECT_TRUE(d.batch.batch->Equals(*expected)) << d.batch.batch->ToString();
  EXPECT_EQ(TypeMismatchCount(*d.decoder), 3);
}

TEST(JsonDecoder, FieldOrderEscapedKeysAndRepeatedKeys) {
  auto schema = arrow::schema({arrow::field("a", arrow::int32()), arrow::field("b\"q", arrow::int32()),
                               arrow::field("c", arrow::list(arrow::int32()))});
  auto d = DecodeAll(schema, {R"({"c":[9],"b\"q":2,"a":1})", R"({"a":1,"a":5,"c":[1,2],"c":[3]})",
                              R"({"\u0061":7})"});
  ASSERT_TRUE(d.batch.errors.empty()) << d.batch.errors[0].message;
  auto expected = BatchFromJson(
      schema, R"([{"a":1,"b\"q":2,"c":[9]},{"a":5,"b\"q":null,"c":[3]},{"a":7,"b\"q":null,"c":null}])");
  EXPECT_TRUE(d.batch.batch->Equals(*expected)) << d.batch.batch->ToString();
}

// The validity bytes are only written from a column's first null on, fields in declared
// order skip the seen-marks, and the common values take an inline path: nulls after
// values, a rolled-back row that held a column's only null, out-of-order and repeated
// keys, and values the inline path leaves to the general one.
TEST(JsonDecoder, NullsOrderAndFallbacksAfterTheCommonPath) {
  auto inner = arrow::struct_({arrow::field("k", arrow::int32())});
  auto schema = arrow::schema({arrow::field("id", arrow::int64()), arrow::field("s", arrow::utf8()),
                               arrow::field("t", arrow::timestamp(arrow::TimeUnit::MILLI, "UTC")),
                               arrow::field("st", inner)});
  auto d = DecodeAll(schema, {
      R"({"id":1,"s":"a","t":"2026-11-05T01:02:03Z","st":{"k":1}})",
      R"({"id":2.0,"s":"b\u0062","t":1000,"st":{"k":2}})",
      R"({"id":"3","s":null,"st":{"k":3}})",
      R"({"id":4,"st":null,"t":"bad"})",
      R"({"s":"e","id":5,"id":6,"t":"2026-11-05T01:02:03.5Z","st":{"k":null}})",
      R"({"id":7 , "s":7 ,"t":"2026-11-05 01:02:03+01:00" ,"st":{}})",
  });
  ASSERT_EQ(d.batch.errors.size(), 1u);
  EXPECT_EQ(d.batch.errors[0].index, 3u);
  EXPECT_EQ(d.batch.errors[0].message.rfind("column 't': expected ", 0), 0u) << d.batch.errors[0].message;
  auto expected = BatchFromJson(schema, R"([
    {"id":1,"s":"a","t":1793840523000,"st":{"k":1}},
    {"id":2,"s":"bb","t":1000,"st":{"k":2}},
    {"id":3,"s":null,"t":null,"st":{"k":3}},
    {"id":6,"s":"e","t":1793840523500,"st":{"k":null}},
    {"id":7,"s":"7","t":1793836923000,"st":{"k":null}}
  ])");
  EXPECT_TRUE(d.batch.batch->Equals(*expected)) << d.batch.batch->ToString();
  EXPECT_EQ(d.batch.batch->column(3)->null_count(), 0);
  EXPECT_EQ(d.batch.batch->column(0)->null_count(), 0);
}

TEST(JsonDecoder, LongValuesAreTruncatedInErrors) {
  std::string long_text(200, 'x');
  auto message = OneError(arrow::schema({arrow::field("d", arrow::date32())}), "{\"d\":\"" + long_text + "\"}");
  EXPECT_LT(message.size(), 140u) << message;
  EXPECT_NE(message.find("xxx..."), std::string::npos) << message;
}

TEST(JsonDecoder, DecoderIsReusableAcrossBatches) {
  auto schema = arrow::schema({arrow::field("s", arrow::utf8()), arrow::field("l", arrow::list(arrow::int64()))});
  auto decoder = *MakeJsonDecoder(ConnectorConfig("test"), schema);
  for (int round = 0; round < 3; ++round) {
    std::vector<std::string> messages;
    for (int i = 0; i < 100; ++i) {
      messages.push_back("{\"s\":\"v" + std::to_string(round * 100 + i) + "\",\"l\":[" + std::to_string(i) + "]}");
    }
    std::vector<RawRecord> records;
    for (const auto& m : messages) records.push_back(Rec(m));
    auto out = *decoder->Decode(records);
    ASSERT_TRUE(out.batch->ValidateFull().ok());
    ASSERT_EQ(out.batch->num_rows(), 100);
    EXPECT_EQ(static_cast<const arrow::StringArray&>(*out.batch->column(0)).GetView(99),
              "v" + std::to_string(round * 100 + 99));
  }
}

TEST(JsonOptions, BadValuesNameTheKey) {
  auto schema = arrow::schema({arrow::field("a", arrow::int64())});
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"format.unknown_fields", "drop"}, {"format.type_mismatch", "coerce"}, {"format.coerce", "yes"},
           {"format.nested_as_jsonb", "1"}}) {
    auto bad = MakeJsonDecoder(ConnectorConfig("test", {{key, value}}), schema);
    ASSERT_FALSE(bad.ok()) << key;
    EXPECT_NE(bad.status().message().find("'" + key + "'"), std::string::npos) << bad.status().ToString();
  }
  auto unsupported = MakeJsonDecoder(ConnectorConfig("test"), arrow::schema({arrow::field("m", arrow::map(arrow::utf8(), arrow::int32()))}));
  ASSERT_FALSE(unsupported.ok());
  EXPECT_NE(unsupported.status().message().find("column 'm'"), std::string::npos);
  // The key specs name every option with its default.
  auto specs = JsonKeySpecs();
  ASSERT_EQ(specs.size(), 6u);
  EXPECT_EQ(specs[0].key, "format.unknown_fields");
  EXPECT_EQ(specs[1].default_value, "error");
  EXPECT_TRUE(specs[2].Matches("format.type_mismatch.price"));
  EXPECT_EQ(specs[3].default_value, "false");
}

std::shared_ptr<arrow::Schema> AllTypesSchema() {
  using arrow::TimeUnit;
  auto inner = arrow::struct_({arrow::field("n", arrow::int32()), arrow::field("j", arrow::utf8(), true, JsonMeta()),
                               arrow::field("l", arrow::list(arrow::utf8()))});
  return arrow::schema({
      arrow::field("b", arrow::boolean()), arrow::field("i8", arrow::int8()), arrow::field("i16", arrow::int16()),
      arrow::field("i32", arrow::int32()), arrow::field("i64", arrow::int64()), arrow::field("u8", arrow::uint8()),
      arrow::field("u16", arrow::uint16()), arrow::field("u32", arrow::uint32()), arrow::field("u64", arrow::uint64()),
      arrow::field("f32", arrow::float32()), arrow::field("f64", arrow::float64()),
      arrow::field("dec", arrow::decimal128(12, 3)), arrow::field("s", arrow::utf8()),
      arrow::field("j", arrow::utf8(), true, JsonMeta()), arrow::field("bin", arrow::binary()),
      arrow::field("d", arrow::date32()), arrow::field("t", arrow::time64(TimeUnit::MICRO)),
      arrow::field("ts_s", arrow::timestamp(TimeUnit::SECOND)), arrow::field("ts_ms", arrow::timestamp(TimeUnit::MILLI)),
      arrow::field("ts_us", arrow::timestamp(TimeUnit::MICRO, "UTC")),
      arrow::field("ts_ns", arrow::timestamp(TimeUnit::NANO, "UTC")),
      arrow::field("list", arrow::list(arrow::list(arrow::float64()))), arrow::field("st", inner),
  });
}

TEST(JsonEncoder, RoundTripEveryType) {
  auto schema = AllTypesSchema();
  auto batch = BatchFromJson(schema, R"([
    {"b":true,"i8":-128,"i16":-32768,"i32":-2147483648,"i64":-9223372036854775808,"u8":255,"u16":65535,
     "u32":4294967295,"u64":18446744073709551615,"f32":0.1,"f64":-1.0e-300,"dec":"-123456789.123","s":"tab\t\"q\" é 😀",
     "j":"{\"k\":[1,true,null]}","bin":"bytes","d":-719162,"t":86399999999,"ts_s":-1,"ts_ms":1705314600123,
     "ts_us":-1,"ts_ns":1705314600123456789,"list":[[1.5,null],[],null],"st":{"n":1,"j":"\"x\"","l":["a",null]}},
    {"b":null,"i8":null,"i16":null,"i32":null,"i64":null,"u8":null,"u16":null,"u32":null,"u64":null,"f32":null,
     "f64":null,"dec":null,"s":null,"j":null,"bin":null,"d":null,"t":null,"ts_s":null,"ts_ms":null,"ts_us":null,
     "ts_ns":null,"list":null,"st":null},
    {"b":false,"i8":0,"i16":1,"i32":2,"i64":3,"u8":4,"u16":5,"u32":6,"u64":7,"f32":3.4028234e38,"f64":5e-324,
     "dec":"0.001","s":"","j":"[]","bin":"","d":2932896,"t":0,"ts_s":253402300799,"ts_ms":0,"ts_us":0,"ts_ns":0,
     "list":[],"st":{"n":null,"j":null,"l":[]}}
  ])");
  auto encoder = *MakeJsonEncoder(ConnectorConfig("test"), schema);
  std::vector<std::string> messages;
  ASSERT_TRUE(encoder->Encode(*batch, &messages).ok());
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[1].substr(0, 30), R"({"b":null,"i8":null,"i16":null)");
  auto d = DecodeAll(schema, messages);
  ASSERT_TRUE(d.batch.errors.empty()) << d.batch.errors[0].message << "\n" << messages[d.batch.errors[0].index];
  EXPECT_TRUE(d.batch.batch->Equals(*batch)) << d.batch.batch->ToString() << "\n" << messages[0];
}

TEST(JsonEncoder, FormatsAndEmptyBatch) {
  auto schema = arrow::schema({arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MILLI, "UTC")),
                               arrow::field("f", arrow::float64()), arrow::field("dec", arrow::decimal128(5, 2))});
  auto batch = BatchFromJson(schema, R"([{"ts":1705314600123,"f":1.5,"dec":"1.50"}])");
  std::vector<std::string> out;
  auto encoder = *MakeJsonEncoder(ConnectorConfig("test"), schema);
  ASSERT_TRUE(encoder->Encode(*batch, &out).ok());
  EXPECT_EQ(out[0], R"({"ts":"2024-01-15T10:30:00.123Z","f":1.5,"dec":"1.50"})");
  out.clear();
  ASSERT_TRUE(encoder->Encode(*batch->Slice(0, 0), &out).ok());
  EXPECT_TRUE(out.empty());
  // The files sink's JSON lines are the same rows, one per line.
  std::string lines;
  ASSERT_TRUE(files::AppendJsonLines(*batch, &lines).ok());
  EXPECT_EQ(lines, R"({"ts":"2024-01-15T10:30:00.123Z","f":1.5,"dec":"1.50"})" "\n");
}

TEST(TextValues, DecimalEdgeCases) {
  arrow::Decimal128 d;
  const char* reason = nullptr;
  EXPECT_TRUE(text::ParseDecimal("1.2300", 5, 2, &d, &reason));
  EXPECT_EQ(d.ToString(2), "1.23");
  EXPECT_FALSE(text::ParseDecimal("1.", 5, 2, &d, &reason) && false);
  EXPECT_FALSE(text::ParseDecimal("", 5, 2, &d, &reason));
  EXPECT_FALSE(text::ParseDecimal("-", 5, 2, &d, &reason));
  EXPECT_FALSE(text::ParseDecimal("1e", 5, 2, &d, &reason));
  EXPECT_FALSE(text::ParseDecimal("1 ", 5, 2, &d, &reason));
  EXPECT_TRUE(text::ParseDecimal("0e999999", 5, 2, &d, &reason));
  EXPECT_FALSE(text::ParseDecimal("1e999999", 5, 2, &d, &reason));
  EXPECT_TRUE(text::ParseDecimal("123e-2", 3, 2, &d, &reason));
  EXPECT_EQ(d.ToString(2), "1.23");
  EXPECT_FALSE(text::ParseDecimal("1000", 3, 0, &d, &reason));
}

// ParseIsoTimestamp reads the common UTC shape at fixed positions before the general
// reader: both must agree on every input, in range or not.
TEST(TextValues, IsoTimestampFastShapeAgreesWithTheGeneralReader) {
  struct Case {
    const char* text;
    std::optional<int64_t> seconds;
    int32_t nanos;
  };
  const Case cases[] = {
      {"2026-11-05T01:02:03Z", 1793840523, 0},
      {"2026-11-05T01:02:03.004Z", 1793840523, 4000000},
      {"2024-02-29T23:59:59.999999999Z", 1709251199, 999999999},
      {"1969-12-31T23:59:59.5Z", -1, 500000000},
      {"2026-11-05T01:02:03.0123456789Z", 1793840523, 12345678},  // 10 digits: the general reader truncates
      {"2026-11-05T01:02:03,5Z", 1793840523, 500000000},          // comma fraction: general reader
      {"2026-11-05t01:02:03z", 1793840523, 0},                    // lower case: general reader
      {"2023-02-29T00:00:00Z", std::nullopt, 0},
      {"2026-13-05T01:02:03Z", std::nullopt, 0},
      {"2026-11-05T24:00:00Z", std::nullopt, 0},
      {"2026-11-05T23:60:00Z", std::nullopt, 0},
      {"2026-11-05T23:59:60Z", std::nullopt, 0},
      {"2026-11-05T01:02:03.Z", std::nullopt, 0},
      {"2026-11-05T01:02:0xZ", std::nullopt, 0},
      {"2026-1a-05T01:02:03Z", std::nullopt, 0},
      {"2026-11-05T01:02:03.00aZ", std::nullopt, 0},
      {"9999-12-31T23:59:59Z", 253402300799, 0},
      {"0001-01-01T00:00:00Z", -62135596800, 0},
      {"2000-02-29T12:00:00.1Z", 951825600, 100000000},
      {"1900-02-29T00:00:00Z", std::nullopt, 0},
      {"2026-00-05T01:02:03Z", std::nullopt, 0},
      {"2026-11-00T01:02:03Z", std::nullopt, 0},
      {"2026-11-31T01:02:03Z", std::nullopt, 0},
      {"2026-11-05T01:02:03.123456789Z", 1793840523, 123456789},
      {"2026-11-05T01:02:03.12345678Z", 1793840523, 123456780},
  };
  for (const auto& c : cases) {
    auto parsed = text::ParseIsoTimestamp(c.text);
    ASSERT_EQ(parsed.has_value(), c.seconds.has_value()) << c.text;
    if (!parsed) continue;
    EXPECT_EQ(parsed->seconds, *c.seconds) << c.text;
    EXPECT_EQ(parsed->nanos, c.nanos) << c.text;
  }
}

}  // namespace
}  // namespace laminar::serde
