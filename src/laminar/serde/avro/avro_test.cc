// Unit tests of the Avro module: schema grammar and errors, canonical form and
// fingerprints, resolution, round trips of every type, corrupt input, container files,
// Confluent framing and the format factories. Byte compatibility with fastavro is proven
// separately (tests/interop/test_avro_fastavro.py).
#include <arrow/array.h>
#include <arrow/json/from_string.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <gtest/gtest.h>

#include "laminar/serde/avro/avro_decoder.h"
#include "laminar/serde/avro/avro_encoder.h"
#include "laminar/serde/avro/avro_format.h"
#include "laminar/serde/avro/avro_schema.h"
#include "laminar/serde/avro/binary_internal.h"
#include "laminar/serde/avro/confluent.h"
#include "laminar/serde/avro/object_container.h"

namespace laminar::serde::avro {
namespace {

std::shared_ptr<const AvroSchema> ParseOk(const std::string& json) {
  auto r = AvroSchema::Parse(json);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : nullptr;
}

std::string ParseError(const std::string& json) {
  auto r = AvroSchema::Parse(json);
  EXPECT_FALSE(r.ok()) << json;
  return r.ok() ? "" : r.status().message();
}

std::shared_ptr<arrow::RecordBatch> BatchFromJson(const std::shared_ptr<arrow::Schema>& schema,
                                                  const std::string& rows) {
  auto array = arrow::json::ArrayFromJSONString(arrow::struct_(schema->fields()), rows);
  EXPECT_TRUE(array.ok()) << array.status().ToString();
  auto batch = arrow::RecordBatch::FromStructArray(*array);
  EXPECT_TRUE(batch.ok()) << batch.status().ToString();
  return arrow::RecordBatch::Make(schema, (*batch)->num_rows(), (*batch)->columns());
}

std::string Long(int64_t v) {
  std::string s;
  internal::WriteLong(v, &s);
  return s;
}

// Encodes every row, decodes them again into the same columns, and compares.
void RoundTrip(const std::string& avro_json, const std::shared_ptr<arrow::Schema>& columns,
               const std::string& rows_json) {
  auto schema = ParseOk(avro_json);
  ASSERT_NE(schema, nullptr);
  auto batch = BatchFromJson(columns, rows_json);
  ASSERT_TRUE(batch->ValidateFull().ok());
  auto encoder = AvroEncoder::Make(*columns, schema);
  ASSERT_TRUE(encoder.ok()) << encoder.status().ToString();
  auto decoder = AvroRowDecoder::Make(columns);
  ASSERT_TRUE(decoder.ok()) << decoder.status().ToString();
  auto program = (*decoder)->Compile(schema);
  ASSERT_TRUE(program.ok()) << program.status().ToString();
  for (int64_t row = 0; row < batch->num_rows(); ++row) {
    std::string datum;
    ASSERT_TRUE((*encoder)->EncodeRow(*batch, row, &datum).ok());
    std::string error;
    ASSERT_TRUE((*decoder)->DecodeDatum(**program, datum, &error)) << error;
  }
  auto out = (*decoder)->Flush();
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE((*out)->ValidateFull().ok()) << (*out)->ValidateFull().ToString();
  EXPECT_TRUE((*out)->Equals(*batch)) << (*out)->ToString() << "\nvs\n" << batch->ToString();
}

// ---- schema grammar ----------------------------------------------------------------------

TEST(AvroSchemaTest, PrimitivesInBothForms) {
  for (const char* name : {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}) {
    auto a = ParseOk(std::string("\"") + name + "\"");
    auto b = ParseOk(std::string("{\"type\": \"") + name + "\"}");
    EXPECT_EQ(AvroTypeName(a->root().type), std::string(name));
    EXPECT_EQ(a->CanonicalForm(), b->CanonicalForm());
  }
  EXPECT_NE(ParseError("\"integer\"").find("unknown type 'integer'"), std::string::npos);
}

TEST(AvroSchemaTest, NamedTypesNamespacesAndReferences) {
  auto s = ParseOk(R"({"type":"record","name":"Order","namespace":"com.shop","aliases":["Old"],"fields":[
      {"name":"id","type":"long"},
      {"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID"],"default":"NEW"}},
      {"name":"prev","type":["null","Status"],"default":null},
      {"name":"hash","type":{"type":"fixed","name":"other.Hash","size":4}},
      {"name":"hash2","type":"other.Hash"},
      {"name":"inner","type":{"type":"record","name":"Inner","namespace":"","fields":[{"name":"x","type":"int"}]}},
      {"name":"inner2","type":"Inner"},
      {"name":"self","type":["null","Order"],"default":null}]})");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->root().full_name, "com.shop.Order");
  EXPECT_EQ(s->root().aliases, std::vector<std::string>{"com.shop.Old"});
  EXPECT_NE(s->FindNamed("com.shop.Status"), nullptr);
  EXPECT_NE(s->FindNamed("other.Hash"), nullptr);
  EXPECT_NE(s->FindNamed("Inner"), nullptr);
  EXPECT_EQ(s->root().fields[2].type->branches[1], s->FindNamed("com.shop.Status"));
  EXPECT_EQ(s->root().fields[7].type->branches[1], &s->root());  // recursive reference
  EXPECT_EQ(s->root().fields[1].type->enum_default, "NEW");
}

TEST(AvroSchemaTest, LogicalTypes) {
  struct Case {
    const char* json;
    LogicalType logical;
    std::string arrow;
  };
  const Case cases[] = {
      {R"({"type":"bytes","logicalType":"decimal","precision":10,"scale":2})", LogicalType::kDecimal, "decimal128(10, 2)"},
      {R"({"type":"fixed","name":"D","size":8,"logicalType":"decimal","precision":18})", LogicalType::kDecimal, "decimal128(18, 0)"},
      {R"({"type":"string","logicalType":"uuid"})", LogicalType::kUuid, "string"},
      {R"({"type":"int","logicalType":"date"})", LogicalType::kDate, "date32[day]"},
      {R"({"type":"int","logicalType":"time-millis"})", LogicalType::kTimeMillis, "time32[ms]"},
      {R"({"type":"long","logicalType":"time-micros"})", LogicalType::kTimeMicros, "time64[us]"},
      {R"({"type":"long","logicalType":"timestamp-millis"})", LogicalType::kTimestampMillis, "timestamp[ms, tz=UTC]"},
      {R"({"type":"long","logicalType":"timestamp-micros"})", LogicalType::kTimestampMicros, "timestamp[us, tz=UTC]"},
      {R"({"type":"long","logicalType":"timestamp-nanos"})", LogicalType::kTimestampNanos, "timestamp[ns, tz=UTC]"},
      {R"({"type":"long","logicalType":"local-timestamp-millis"})", LogicalType::kLocalTimestampMillis, "timestamp[ms]"},
      {R"({"type":"long","logicalType":"local-timestamp-micros"})", LogicalType::kLocalTimestampMicros, "timestamp[us]"},
      {R"({"type":"long","logicalType":"local-timestamp-nanos"})", LogicalType::kLocalTimestampNanos, "timestamp[ns]"},
      {R"({"type":"fixed","name":"Dur","size":12,"logicalType":"duration"})", LogicalType::kDuration, "month_day_nano_interval"},
      // Invalid or unknown logical types are ignored (spec): the underlying type stays.
      {R"({"type":"string","logicalType":"date"})", LogicalType::kNone, "string"},
      {R"({"type":"long","logicalType":"mystery"})", LogicalType::kNone, "int64"},
      {R"({"type":"fixed","name":"F","size":10,"logicalType":"duration"})", LogicalType::kNone, "fixed_size_binary[10]"},
  };
  for (const auto& c : cases) {
    auto s = ParseOk(c.json);
    ASSERT_NE(s, nullptr) << c.json;
    EXPECT_EQ(s->root().logical, c.logical) << c.json;
    auto t = AvroToArrowType(s->root());
    ASSERT_TRUE(t.ok()) << c.json;
    EXPECT_EQ(t->type->ToString(), c.arrow) << c.json;
  }
}

TEST(AvroSchemaTest, Errors) {
  const std::pair<const char*, const char*> cases[] = {
      {"{not json", "not valid JSON"},
      {R"({"type":"record","name":"R"})", "record without a 'fields' array"},
      {R"({"type":"record","fields":[]})", "record without a string 'name'"},
      {R"({"type":"record","name":"R","fields":[{"name":"a"}]})", "a: field without 'type'"},
      {R"({"type":"record","name":"R","fields":[{"name":"a","type":"lng"}]})", "a: unknown type 'lng'"},
      {R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"int"}]})", "duplicate field name"},
      {R"({"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]})", "default \"x\" does not match type int"},
      {R"({"type":"record","name":"R","fields":[{"name":"a","type":["null","int"],"default":"x"}]})", "does not match"},
      {R"({"type":"record","name":"R","fields":[{"name":"a","type":{"type":"enum","name":"R","symbols":["A"]}}]})", "defined twice"},
      {R"({"type":"record","name":"1R","fields":[]})", "invalid name '1R'"},
      {R"({"type":"enum","name":"E","symbols":["A","A"]})", "duplicate enum symbol 'A'"},
      {R"({"type":"enum","name":"E","symbols":["A"],"default":"B"})", "not one of its symbols"},
      {R"({"type":"enum","name":"E"})", "enum without a 'symbols' array"},
      {R"({"type":"array"})", "array without 'items'"},
      {R"({"type":"map"})", "map without 'values'"},
      {R"({"type":"fixed","name":"F"})", "fixed without 'size'"},
      {R"({"type":"fixed","name":"F","size":-1})", "out of range"},
      {R"(["int","int"])", "union contains 'int' twice"},
      {R"(["int",["null","long"]])", "may not immediately contain another union"},
      {R"([])", "empty union"},
      {R"({"type":"bytes","logicalType":"decimal","precision":4,"scale":5})", "decimal scale must be between"},
      {R"({"type":"fixed","name":"F","size":2,"logicalType":"decimal","precision":9})", "does not fit fixed(2)"},
      {R"(42)", "a type must be a name"},
      {R"({"type":"record","name":"int","fields":[]})", "cannot be called 'int'"},
  };
  for (const auto& [json, expected] : cases) {
    const std::string message = ParseError(json);
    EXPECT_NE(message.find(expected), std::string::npos) << json << " -> " << message;
    EXPECT_EQ(message.rfind("invalid Avro schema: ", 0), 0u) << message;
  }
}

TEST(AvroSchemaTest, DefaultsAreEncoded) {
  auto s = ParseOk(R"({"type":"record","name":"R","fields":[
      {"name":"a","type":"int","default":-1},
      {"name":"b","type":"string","default":"hi"},
      {"name":"c","type":["null","long"],"default":null},
      {"name":"d","type":"bytes","default":"\u00ff\u0001"},
      {"name":"e","type":{"type":"array","items":"int"},"default":[1,2]},
      {"name":"f","type":{"type":"map","values":"boolean"},"default":{"k":true}},
      {"name":"g","type":["long","null"],"default":7}]})");
  ASSERT_NE(s, nullptr);
  const auto& f = s->root().fields;
  EXPECT_EQ(f[0].default_binary, Long(-1));
  EXPECT_EQ(f[1].default_binary, Long(2) + "hi");
  EXPECT_EQ(f[2].default_binary, Long(0));
  EXPECT_EQ(f[3].default_binary, Long(2) + std::string("\xff\x01", 2));
  EXPECT_EQ(f[4].default_binary, Long(2) + Long(1) + Long(2) + Long(0));
  EXPECT_EQ(f[5].default_binary, Long(1) + Long(1) + "k" + std::string(1, '\x01') + Long(0));
  EXPECT_EQ(f[6].default_binary, Long(0) + Long(7));
}

// ---- canonical form and fingerprints -------------------------------------------------------

TEST(AvroSchemaTest, CanonicalFormAndFingerprints) {
  // Values from the Avro specification's test data (share/test/data/schema-tests.txt),
  // confirmed with fastavro: CRC-64-AVRO of the canonical form, as a signed long.
  const std::pair<const char*, int64_t> primitives[] = {
      {"\"null\"", 7195948357588979594LL},    {"\"boolean\"", -6970731678124411036LL},
      {"\"int\"", 8247732601305521295LL},     {"\"long\"", -3434872931120570953LL},
      {"\"float\"", 5583340709985441680LL},   {"\"double\"", -8181574048448539266LL},
      {"\"bytes\"", 5746618253357095269LL},   {"\"string\"", -8142146995180207161LL},
  };
  for (const auto& [json, fp] : primitives) {
    EXPECT_EQ(static_cast<int64_t>(ParseOk(json)->Fingerprint64()), fp) << json;
  }
  // [PRIMITIVES] [FULLNAMES] [STRIP] [ORDER] [WHITESPACE]; named types once, then by name.
  auto s = ParseOk(R"({"namespace":"org.example","doc":"x","type":"record","name":"Test","fields":[
      {"default":0,"type":{"type":"long","logicalType":"timestamp-millis"},"name":"a"},
      {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"],"doc":"d"}},
      {"name":"f","type":["null","E"]}]})");
  EXPECT_EQ(s->CanonicalForm(),
            R"({"name":"org.example.Test","type":"record","fields":[{"name":"a","type":"long"},)"
            R"({"name":"e","type":{"name":"org.example.E","type":"enum","symbols":["A","B"]}},)"
            R"({"name":"f","type":["null","org.example.E"]}]})");
  // fastavro.schema.fingerprint(..., "CRC-64-AVRO") = 6b7d972fd4412a31 (little-endian bytes).
  EXPECT_EQ(s->Fingerprint64(), 0x312a41d42f977d6bULL);
  EXPECT_EQ(ParseOk(R"({"type":"array","items":{"type":"int"}})")->CanonicalForm(), R"({"type":"array","items":"int"})");
}

TEST(AvroSchemaTest, ToJsonReparsesToTheSameSchema) {
  const std::string json = R"({"type":"record","name":"R","namespace":"n","fields":[
      {"name":"a","type":{"type":"bytes","logicalType":"decimal","precision":5,"scale":2},"default":"\u0000"},
      {"name":"b","type":{"type":"enum","name":"E","symbols":["X"]}},{"name":"c","type":"E"}]})";
  auto s = ParseOk(json);
  auto again = ParseOk(s->ToJson());
  EXPECT_EQ(s->CanonicalForm(), again->CanonicalForm());
  EXPECT_EQ(again->root().fields[0].type->logical, LogicalType::kDecimal);
  EXPECT_EQ(again->root().fields[0].default_binary, s->root().fields[0].default_binary);
}

// ---- Arrow <-> Avro schema mapping ---------------------------------------------------------

TEST(AvroSchemaTest, ArrowToAvroToArrow) {
  auto columns = arrow::schema({
      arrow::field("id", arrow::int64(), false),
      arrow::field("name", arrow::utf8()),
      arrow::field("price", arrow::decimal128(10, 2)),
      arrow::field("at", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"), false),
      arrow::field("local", arrow::timestamp(arrow::TimeUnit::NANO)),
      arrow::field("day", arrow::date32()),
      arrow::field("t", arrow::time64(arrow::TimeUnit::MICRO)),
      arrow::field("tags", arrow::list(arrow::field("item", arrow::utf8(), true))),
      arrow::field("attrs", arrow::map(arrow::utf8(), arrow::int32())),
      arrow::field("s1", arrow::struct_({arrow::field("x", arrow::int32(), false)})),
      arrow::field("s2", arrow::struct_({arrow::field("x", arrow::int32(), false)})),
      arrow::field("h", arrow::fixed_size_binary(16), false),
      arrow::field("d", arrow::month_day_nano_interval()),
  });
  auto json = ArrowToAvroSchemaJson(*columns, "Row", "ns");
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  auto avro = ParseOk(*json);  // unique nested names: the two structs must not clash
  ASSERT_NE(avro, nullptr);
  auto back = AvroToArrowSchema(*avro);
  ASSERT_TRUE(back.ok());
  // map values come back nullable-named "value"; everything else identical.
  for (int i = 0; i < columns->num_fields(); ++i) {
    if (columns->field(i)->name() == "attrs") continue;
    EXPECT_TRUE(columns->field(i)->Equals(*(*back)->field(i))) << columns->field(i)->ToString() << " vs "
                                                               << (*back)->field(i)->ToString();
  }
}

TEST(AvroSchemaTest, AvroToArrowUnions) {
  auto s = ParseOk(R"({"type":"record","name":"R","fields":[
      {"name":"a","type":["null","int"]},{"name":"b","type":["int"]},{"name":"c","type":["int","null"]},
      {"name":"d","type":["null","int","string"]}]})");
  auto schema = AvroToArrowSchema(*s);
  ASSERT_TRUE(schema.ok());
  EXPECT_TRUE((*schema)->field(0)->nullable());
  EXPECT_FALSE((*schema)->field(1)->nullable());
  EXPECT_TRUE((*schema)->field(2)->nullable());
  EXPECT_EQ((*schema)->field(3)->type()->id(), arrow::Type::DENSE_UNION);
  EXPECT_FALSE(AvroToArrowSchema(*ParseOk("\"int\"")).ok());
  auto recursive = ParseOk(R"({"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]})");
  EXPECT_NE(AvroToArrowSchema(*recursive).status().message().find("recursive"), std::string::npos);
}

// ---- round trips ---------------------------------------------------------------------------

TEST(AvroRoundTripTest, Primitives) {
  RoundTrip(R"({"type":"record","name":"R","fields":[
      {"name":"b","type":"boolean"},{"name":"i","type":"int"},{"name":"l","type":"long"},
      {"name":"f","type":"float"},{"name":"d","type":"double"},{"name":"s","type":"string"},
      {"name":"y","type":"bytes"},{"name":"n","type":"null"}]})",
            arrow::schema({arrow::field("b", arrow::boolean(), false), arrow::field("i", arrow::int32(), false),
                           arrow::field("l", arrow::int64(), false), arrow::field("f", arrow::float32(), false),
                           arrow::field("d", arrow::float64(), false), arrow::field("s", arrow::utf8(), false),
                           arrow::field("y", arrow::binary(), false), arrow::field("n", arrow::null())}),
            R"([{"b":true,"i":-2147483648,"l":9223372036854775807,"f":1.5,"d":-2.25,"s":"héllo","y":"AAEC","n":null},
                {"b":false,"i":2147483647,"l":-9223372036854775808,"f":0,"d":1e300,"s":"","y":"","n":null}])");
}

TEST(AvroRoundTripTest, NestedWithData) {
  const std::string avro = R"({"type":"record","name":"R","fields":[
      {"name":"a","type":["null","long"]},
      {"name":"tags","type":{"type":"array","items":["null","string"]}},
      {"name":"m","type":["null",{"type":"map","values":"int"}]},
      {"name":"s","type":["null",{"type":"record","name":"S","fields":[
          {"name":"x","type":"int"},{"name":"y","type":{"type":"array","items":"long"}}]}]},
      {"name":"e","type":{"type":"enum","name":"E","symbols":["RED","GREEN"]}},
      {"name":"fx","type":{"type":"fixed","name":"F","size":3}}]})";
  auto columns = arrow::schema(
      {arrow::field("a", arrow::int64()), arrow::field("tags", arrow::list(arrow::field("item", arrow::utf8())), false),
       arrow::field("m", arrow::map(arrow::utf8(), arrow::field("value", arrow::int32(), false))),
       arrow::field("s", arrow::struct_({arrow::field("x", arrow::int32(), false),
                                         arrow::field("y", arrow::list(arrow::field("item", arrow::int64(), false)), false)})),
       arrow::field("e", arrow::utf8(), false), arrow::field("fx", arrow::fixed_size_binary(3), false)});
  RoundTrip(avro, columns, R"([
      {"a":1,"tags":["x",null,"z"],"m":[["k1",1],["k2",2]],"s":{"x":5,"y":[1,2,3]},"e":"GREEN","fx":"abc"},
      {"a":null,"tags":[],"m":null,"s":null,"e":"RED","fx":"000"},
      {"a":-7,"tags":[null],"m":[],"s":{"x":-1,"y":[]},"e":"RED","fx":"///"}])");
}

TEST(AvroRoundTripTest, LogicalTypes) {
  const std::string avro = R"({"type":"record","name":"R","fields":[
      {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":20,"scale":3}},
      {"name":"decf","type":{"type":"fixed","name":"DF","size":9,"logicalType":"decimal","precision":20,"scale":3}},
      {"name":"uuid","type":{"type":"string","logicalType":"uuid"}},
      {"name":"date","type":{"type":"int","logicalType":"date"}},
      {"name":"tms","type":{"type":"int","logicalType":"time-millis"}},
      {"name":"tus","type":{"type":"long","logicalType":"time-micros"}},
      {"name":"tsms","type":{"type":"long","logicalType":"timestamp-millis"}},
      {"name":"tsus","type":{"type":"long","logicalType":"timestamp-micros"}},
      {"name":"tsns","type":{"type":"long","logicalType":"timestamp-nanos"}},
      {"name":"ltms","type":{"type":"long","logicalType":"local-timestamp-millis"}},
      {"name":"ltus","type":{"type":"long","logicalType":"local-timestamp-micros"}},
      {"name":"ltns","type":{"type":"long","logicalType":"local-timestamp-nanos"}},
      {"name":"dur","type":{"type":"fixed","name":"Dur","size":12,"logicalType":"duration"}}]})";
  auto schema = ParseOk(avro);
  auto columns = AvroToArrowSchema(*schema);
  ASSERT_TRUE(columns.ok());
  RoundTrip(avro, *columns, R"([
      {"dec":"12345678901234567.891","decf":"-0.001","uuid":"123e4567-e89b-12d3-a456-426614174000","date":19000,
       "tms":86399999,"tus":1,"tsms":1700000000123,"tsus":-1,"tsns":1700000000123456789,"ltms":0,"ltus":5,"ltns":-5,
       "dur":[1,2,3000000]},
      {"dec":"-128.000","decf":"99999999999999999.999","uuid":"","date":-1,"tms":0,"tus":0,"tsms":0,"tsus":0,"tsns":0,
       "ltms":1,"ltus":1,"ltns":1,"dur":[0,0,0]}])");
}

TEST(AvroRoundTripTest, EnumAsDictionaryAndDenseUnion) {
  const std::string avro = R"({"type":"record","name":"R","fields":[
      {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B","C"]}},
      {"name":"u","type":["null","int","string"]}]})";
  auto schema = ParseOk(avro);
  auto columns = *AvroToArrowSchema(*schema);
  ASSERT_EQ(columns->field(0)->type()->id(), arrow::Type::DICTIONARY);
  auto decoder = *AvroRowDecoder::Make(columns);
  auto program = *decoder->Compile(schema);
  std::string error;
  ASSERT_TRUE(decoder->DecodeDatum(*program, Long(2) + Long(1) + Long(-3), &error)) << error;
  ASSERT_TRUE(decoder->DecodeDatum(*program, Long(0) + Long(2) + Long(2) + "hi", &error)) << error;
  ASSERT_TRUE(decoder->DecodeDatum(*program, Long(1) + Long(0), &error)) << error;
  auto batch = *decoder->Flush();
  ASSERT_TRUE(batch->ValidateFull().ok()) << batch->ValidateFull().ToString();
  auto e = std::static_pointer_cast<arrow::DictionaryArray>(batch->column(0));
  EXPECT_EQ(e->GetValueIndex(0), 2);
  EXPECT_EQ(e->dictionary()->ToString(), arrow::json::ArrayFromJSONString(arrow::utf8(), R"(["A","B","C"])")
                                             .ValueOrDie()->ToString());
  auto u = std::static_pointer_cast<arrow::DenseUnionArray>(batch->column(1));
  EXPECT_EQ(u->child_id(0), 1);
  EXPECT_EQ(u->child_id(1), 2);
  EXPECT_EQ(u->child_id(2), 0);
  // And back: the encoder writes the same bytes.
  auto encoder = *AvroEncoder::Make(*columns, schema);
  std::string out;
  ASSERT_TRUE(encoder->EncodeRow(*batch, 0, &out).ok());
  ASSERT_TRUE(encoder->EncodeRow(*batch, 1, &out).ok());
  ASSERT_TRUE(encoder->EncodeRow(*batch, 2, &out).ok());
  EXPECT_EQ(out, Long(2) + Long(1) + Long(-3) + Long(0) + Long(2) + Long(2) + "hi" + Long(1) + Long(0));
}

TEST(AvroRoundTripTest, NonRecordTopLevelFillsTheOnlyColumn) {
  RoundTrip(R"(["null","string"])", arrow::schema({arrow::field("v", arrow::utf8())}), R"([{"v":"a"},{"v":null}])");
}

// ---- resolution -----------------------------------------------------------------------------

struct Decoded {
  std::shared_ptr<arrow::RecordBatch> batch;
  std::vector<std::string> errors;
};

Decoded DecodeWith(const std::string& writer, const std::shared_ptr<arrow::Schema>& columns,
                   const std::vector<std::string>& datums, const std::string& reader = "") {
  Decoded out;
  auto w = ParseOk(writer);
  auto r = reader.empty() ? nullptr : ParseOk(reader);
  auto decoder = AvroRowDecoder::Make(columns, r);
  EXPECT_TRUE(decoder.ok()) << decoder.status().ToString();
  auto program = (*decoder)->Compile(w);
  if (!program.ok()) {
    out.errors.push_back("compile: " + program.status().message());
    return out;
  }
  for (const auto& d : datums) {
    std::string error;
    if (!(*decoder)->DecodeDatum(**program, d, &error)) out.errors.push_back(error);
  }
  out.batch = *(*decoder)->Flush();
  EXPECT_TRUE(out.batch->ValidateFull().ok()) << out.batch->ValidateFull().ToString();
  return out;
}

std::string Str(const std::string& s) { return Long(static_cast<int64_t>(s.size())) + s; }
std::string Float(float f) {
  std::string s;
  internal::WriteFloat(f, &s);
  return s;
}

TEST(AvroResolutionTest, Promotions) {
  auto columns = arrow::schema({arrow::field("a", arrow::int64()), arrow::field("b", arrow::float64()),
                                arrow::field("c", arrow::float32()), arrow::field("d", arrow::float64()),
                                arrow::field("e", arrow::binary()), arrow::field("f", arrow::utf8()),
                                arrow::field("g", arrow::int16())});
  auto d = DecodeWith(R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"int"},
      {"name":"c","type":"long"},{"name":"d","type":"float"},{"name":"e","type":"string"},{"name":"f","type":"bytes"},
      {"name":"g","type":"long"}]})",
                      columns,
                      {Long(-5) + Long(7) + Long(1 << 20) + Float(0.5f) + Str("s") + Str("b") + Long(300),
                       Long(0) + Long(0) + Long(0) + Float(0) + Str("") + Str("\xff") + Long(0),
                       Long(0) + Long(0) + Long(0) + Float(0) + Str("") + Str("") + Long(40000)});
  ASSERT_EQ(d.errors.size(), 2u);
  EXPECT_NE(d.errors[0].find("column 'f' (avro type 'bytes'): invalid UTF-8"), std::string::npos) << d.errors[0];
  EXPECT_NE(d.errors[1].find("column 'g' (avro type 'long'): value 40000 out of range for int16"), std::string::npos)
      << d.errors[1];
  auto expected = BatchFromJson(columns, R"([{"a":-5,"b":7,"c":1048576,"d":0.5,"e":"s","f":"b","g":300}])");
  EXPECT_TRUE(d.batch->Equals(*expected)) << d.batch->ToString();
}

TEST(AvroResolutionTest, DefaultsSkipsAndAliases) {
  const std::string writer = R"({"type":"record","name":"R","fields":[
      {"name":"old_name","type":"int"},
      {"name":"gone","type":{"type":"record","name":"G","fields":[{"name":"x","type":{"type":"array","items":"string"}},
                                                                 {"name":"y","type":{"type":"map","values":["null","G"]}}]}},
      {"name":"also_gone","type":["null","string",{"type":"fixed","name":"FX","size":2}]},
      {"name":"kept","type":"string"}]})";
  const std::string reader = R"({"type":"record","name":"R","fields":[
      {"name":"new_name","type":"int","aliases":["old_name"]},
      {"name":"kept","type":"string"},
      {"name":"added","type":"string","default":"dflt"},
      {"name":"added_rec","type":{"type":"record","name":"A","fields":[{"name":"z","type":"long"}]},"default":{"z":9}},
      {"name":"added_null","type":["null","long"],"default":null}]})";
  auto columns = *AvroToArrowSchema(*ParseOk(reader));
  // gone = {x: ["a"], y: {"k": G{x: [], y: {}}}}, also_gone = fixed branch.
  const std::string gone = Long(1) + Str("a") + Long(0) + Long(1) + Str("k") + Long(1) + Long(0) + Long(0) + Long(0);
  auto d = DecodeWith(writer, columns, {Long(3) + gone + Long(2) + "xy" + Str("K")}, reader);
  ASSERT_TRUE(d.errors.empty()) << d.errors[0];
  auto expected = BatchFromJson(
      columns, R"([{"new_name":3,"kept":"K","added":"dflt","added_rec":{"z":9},"added_null":null}])");
  EXPECT_TRUE(d.batch->Equals(*expected)) << d.batch->ToString();
  // Without the reader schema a NOT NULL column the writer lacks is a compile error.
  auto strict = arrow::schema({arrow::field("missing", arrow::int32(), false)});
  auto e = DecodeWith(writer, strict, {});
  ASSERT_EQ(e.errors.size(), 1u);
  EXPECT_NE(e.errors[0].find("column 'missing' is not in the writer schema"), std::string::npos) << e.errors[0];
}

TEST(AvroResolutionTest, EnumsAndUnions) {
  const std::string writer = R"({"type":"record","name":"R","fields":[
      {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B","Z"]}},
      {"name":"u","type":["null","int","string"]}]})";
  const std::string reader = R"({"type":"record","name":"R","fields":[
      {"name":"e","type":{"type":"enum","name":"E","symbols":["B","A","OTHER"],"default":"OTHER"}},
      {"name":"u","type":["null","long"]}]})";
  auto columns = arrow::schema({arrow::field("e", arrow::utf8(), false), arrow::field("u", arrow::int64())});
  auto d = DecodeWith(writer, columns,
                      {Long(0) + Long(1) + Long(5), Long(2) + Long(0), Long(1) + Long(2) + Str("no")}, reader);
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_NE(d.errors[0].find("column 'u' (avro type 'string'): union branch 2"), std::string::npos) << d.errors[0];
  auto expected = BatchFromJson(columns, R"([{"e":"A","u":5},{"e":"OTHER","u":null}])");
  EXPECT_TRUE(d.batch->Equals(*expected)) << d.batch->ToString();
  // Unknown symbol without a reader default: record error. Writer non-union into a union column.
  auto plain = DecodeWith(R"({"type":"record","name":"R","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["A","Z"]}},
      {"name":"u","type":"int"}]})",
                          columns, {Long(1) + Long(1), Long(0) + Long(2)},
                          R"({"type":"record","name":"R","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["A"]}},
      {"name":"u","type":["null","long"]}]})");
  ASSERT_EQ(plain.errors.size(), 1u);
  EXPECT_NE(plain.errors[0].find("not in the reader's enum"), std::string::npos);
  EXPECT_TRUE(plain.batch->Equals(*BatchFromJson(columns, R"([{"e":"A","u":2}])")));
}

TEST(AvroResolutionTest, TemporalUnits) {
  auto columns = arrow::schema({arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO)),
                                arrow::field("t", arrow::time64(arrow::TimeUnit::NANO))});
  auto d = DecodeWith(R"({"type":"record","name":"R","fields":[
      {"name":"ts","type":{"type":"long","logicalType":"timestamp-nanos"}},
      {"name":"t","type":{"type":"int","logicalType":"time-millis"}}]})",
                      columns, {Long(5000) + Long(2), Long(5001) + Long(0)});
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_NE(d.errors[0].find("without losing precision"), std::string::npos) << d.errors[0];
  EXPECT_TRUE(d.batch->Equals(*BatchFromJson(columns, R"([{"ts":5,"t":2000000}])"))) << d.batch->ToString();
  auto bad = DecodeWith(R"({"type":"record","name":"R","fields":[{"name":"ts","type":"string"}]})", columns, {});
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_NE(bad.errors[0].find("cannot read Avro type 'string' into Arrow type timestamp[us]"), std::string::npos);
}

TEST(AvroResolutionTest, NegativeBlockCountsAndSkippedBlocks) {
  // Writers may emit blocks as (-count, byte size, items); readers must accept both, and
  // skipping may jump by the byte size.
  const std::string writer = R"({"type":"record","name":"R","fields":[
      {"name":"a","type":{"type":"array","items":"long"}},{"name":"skip","type":{"type":"array","items":"string"}},
      {"name":"m","type":{"type":"map","values":"int"}}]})";
  auto columns = arrow::schema({arrow::field("a", arrow::list(arrow::int64())),
                                arrow::field("m", arrow::map(arrow::utf8(), arrow::field("value", arrow::int32(), false)))});
  const std::string items = Long(5) + Long(6);
  const std::string skipped = Str("xx") + Str("y");
  const std::string datum = Long(-2) + Long(static_cast<int64_t>(items.size())) + items + Long(1) + Long(7) + Long(0) +
                            Long(-2) + Long(static_cast<int64_t>(skipped.size())) + skipped + Long(0) +
                            Long(-1) + Long(3) + Str("k") + Long(9) + Long(0);
  auto d = DecodeWith(writer, columns, {datum});
  ASSERT_TRUE(d.errors.empty()) << d.errors[0];
  EXPECT_TRUE(d.batch->Equals(*BatchFromJson(columns, R"([{"a":[5,6,7],"m":[["k",9]]}])"))) << d.batch->ToString();
}

TEST(AvroRoundTripTest, ManyBatchesReuseTheDecoder) {
  const std::string avro = R"({"type":"record","name":"R","fields":[{"name":"s","type":["null","string"]},
      {"name":"l","type":{"type":"array","items":"int"}}]})";
  auto schema = ParseOk(avro);
  auto columns = *AvroToArrowSchema(*schema);
  auto decoder = *AvroRowDecoder::Make(columns);
  auto program = *decoder->Compile(schema);
  for (int round = 0; round < 3; ++round) {
    std::string error;
    for (int i = 0; i < 100 * (round + 1); ++i) {
      const std::string datum = (i % 2 ? Long(1) + Str(std::string(i % 17, 'a')) : Long(0)) + Long(1) + Long(i) + Long(0);
      ASSERT_TRUE(decoder->DecodeDatum(*program, datum, &error)) << error;
    }
    ASSERT_FALSE(decoder->DecodeDatum(*program, Long(1) + Str("x") + Long(5), &error));
    auto batch = *decoder->Flush();
    ASSERT_TRUE(batch->ValidateFull().ok());
    EXPECT_EQ(batch->num_rows(), 100 * (round + 1));
    EXPECT_EQ(batch->column(0)->null_count(), 50 * (round + 1));
  }
  auto other = *AvroRowDecoder::Make(columns);
  std::string error;
  EXPECT_FALSE(other->DecodeDatum(*program, Long(0) + Long(0), &error));
  EXPECT_NE(error.find("another decoder"), std::string::npos);
}

TEST(AvroContainerTest, BlocksAndBadDatum) {
  auto schema = ParseOk(R"({"type":"record","name":"R","fields":[{"name":"id","type":"int"}]})");
  auto ocf = *OcfWriter::Make(schema, OcfCodec::kDeflate, std::string(16, 'S'));
  std::string file = ocf->header();
  ASSERT_TRUE(ocf->WriteBlock(Long(1) + Long(2), 2, &file).ok());
  ASSERT_TRUE(ocf->WriteBlock(Long(3) + Long(int64_t{1} << 40), 2, &file).ok());
  auto reader = *OcfReader::Open(file);
  std::string datums;
  int64_t count = 0;
  EXPECT_TRUE(*reader->NextBlock(&datums, &count));
  EXPECT_EQ(count, 2);
  EXPECT_EQ(datums, Long(1) + Long(2));
  auto st = ReadObjectContainer(file).status();
  EXPECT_NE(st.message().find("column 'id' (avro type 'int'): int value 1099511627776 out of 32-bit range (datum 1 of the block)"),
            std::string::npos) << st.ToString();
}

// ---- corrupt input --------------------------------------------------------------------------

TEST(AvroDecodeErrorTest, CorruptInputNeverLeavesHalfARow) {
  const std::string writer = R"({"type":"record","name":"R","fields":[
      {"name":"x","type":"long"},{"name":"s","type":"string"},{"name":"l","type":{"type":"array","items":"int"}},
      {"name":"u","type":["null","double"]},{"name":"b","type":"boolean"}]})";
  auto columns = *AvroToArrowSchema(*ParseOk(writer));
  const std::string good = Long(1) + Str("ok") + Long(2) + Long(1) + Long(2) + Long(0) + Long(0) + std::string(1, '\1');
  const std::pair<std::string, std::string> bad[] = {
      {"", "column 'x' (avro type 'long'): truncated varint"},
      {std::string(11, '\xff'), "column 'x' (avro type 'long'): varint longer than 10 bytes"},
      {Long(1) + Long(10) + "abc", "column 's' (avro type 'string'): truncated: length 10 but 3 bytes left"},
      {Long(1) + Long(-1), "column 's' (avro type 'string'): negative length -1"},
      {Long(1) + Str("ok") + Long(2) + "\x80\x80", "column 'l[]' (avro type 'int'): truncated varint"},
      {Long(1) + Str("ok") + Long(1000) + Long(1), "column 'l' (avro type 'array'): truncated: block of 1000 items"},
      {Long(1) + Str("ok") + Long(0) + Long(7), "column 'u' (avro type '[null, double]'): union branch 7 out of range"},
      {Long(1) + Str("ok") + Long(0) + Long(1) + "abc", "column 'u' (avro type 'double'): truncated double"},
      {Long(1) + Str("ok") + Long(0) + Long(0) + std::string(1, '\2'), "invalid boolean byte 2"},
      {good + "x", "1 bytes left after the record"},
      {Long(1) + Str("\xc3\x28") , "invalid UTF-8"},
  };
  std::vector<std::string> datums;
  for (const auto& [bytes, message] : bad) {
    datums.push_back(good);
    datums.push_back(bytes);
  }
  datums.push_back(good);
  auto d = DecodeWith(writer, columns, datums);
  ASSERT_EQ(d.errors.size(), std::size(bad));
  for (size_t i = 0; i < d.errors.size(); ++i) {
    EXPECT_NE(d.errors[i].find(bad[i].second), std::string::npos) << d.errors[i];
    EXPECT_EQ(d.errors[i].rfind("Avro decode error: ", 0), 0u);
  }
  ASSERT_EQ(d.batch->num_rows(), static_cast<int64_t>(std::size(bad) + 1));
  auto expected_row = BatchFromJson(columns, R"([{"x":1,"s":"ok","l":[1,2],"u":null,"b":true}])");
  for (int64_t r = 0; r < d.batch->num_rows(); ++r) {
    EXPECT_TRUE(d.batch->Slice(r, 1)->Equals(*expected_row)) << r << ": " << d.batch->Slice(r, 1)->ToString();
  }
}

TEST(AvroDecodeErrorTest, NullIntoNotNullAndIntRange) {
  auto columns = arrow::schema({arrow::field("a", arrow::int32(), false)});
  auto d = DecodeWith(R"({"type":"record","name":"R","fields":[{"name":"a","type":["null","int"]}]})", columns,
                      {Long(0), Long(1) + Long(int64_t{1} << 40), Long(1) + Long(3)});
  ASSERT_EQ(d.errors.size(), 2u);
  EXPECT_NE(d.errors[0].find("null for a NOT NULL column"), std::string::npos) << d.errors[0];
  EXPECT_NE(d.errors[1].find("out of 32-bit range"), std::string::npos) << d.errors[1];
  EXPECT_EQ(d.batch->num_rows(), 1);
}

TEST(AvroDecodeErrorTest, DeepRecursionIsBounded) {
  const std::string writer = R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"},
      {"name":"next","type":["null","R"]}]})";
  auto columns = arrow::schema({arrow::field("a", arrow::int32())});
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += Long(1) + Long(1);
  deep += Long(1) + Long(0);
  auto d = DecodeWith(writer, columns, {Long(1) + deep, Long(2) + Long(1) + Long(3) + Long(0)});
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_NE(d.errors[0].find("nesting deeper than"), std::string::npos) << d.errors[0];
  EXPECT_EQ(d.batch->num_rows(), 1);
}

TEST(AvroEncodeErrorTest, NamesRowAndColumn) {
  auto columns = arrow::schema({arrow::field("a", arrow::int64())});
  auto schema = ParseOk(R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"}]})");
  auto encoder = *AvroEncoder::Make(*columns, schema);
  auto batch = BatchFromJson(columns, R"([{"a":1},{"a":null},{"a":4294967296}])");
  std::string out;
  EXPECT_TRUE(encoder->EncodeRow(*batch, 0, &out).ok());
  EXPECT_EQ(encoder->EncodeRow(*batch, 1, &out).message(),
            "Avro encode error: row 1: column 'a' (avro type 'int'): null, but the Avro type is not nullable");
  EXPECT_NE(encoder->EncodeRow(*batch, 2, &out).message().find("does not fit an Avro int"), std::string::npos);
  auto missing = AvroEncoder::Make(*arrow::schema({}), schema);
  EXPECT_NE(missing.status().message().find("no such column and the Avro field has no default"), std::string::npos);
}

// ---- object container files -----------------------------------------------------------------

TEST(AvroContainerTest, EveryCodecRoundTrips) {
  const std::string avro = R"({"type":"record","name":"R","fields":[{"name":"id","type":"long"},
      {"name":"s","type":["null","string"]}]})";
  auto schema = ParseOk(avro);
  auto columns = *AvroToArrowSchema(*schema);
  std::string rows = "[";
  for (int i = 0; i < 1000; ++i) {
    rows += (i ? "," : "") + std::string("{\"id\":") + std::to_string(i * 7919) + ",\"s\":" +
            (i % 3 ? "\"row " + std::to_string(i) + "\"" : std::string("null")) + "}";
  }
  auto batch = BatchFromJson(columns, rows + "]");
  for (OcfCodec codec : {OcfCodec::kNull, OcfCodec::kDeflate, OcfCodec::kSnappy, OcfCodec::kZstandard}) {
    auto file = WriteObjectContainer({batch}, schema, codec, 300);
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    EXPECT_EQ(file->substr(0, 4), std::string("Obj\x01", 4));
    auto table = ReadObjectContainer(*file);
    ASSERT_TRUE(table.ok()) << OcfCodecName(codec) << ": " << table.status().ToString();
    auto combined = *(*table)->CombineChunksToBatch();
    EXPECT_TRUE(combined->Equals(*batch)) << OcfCodecName(codec);
    auto reader = *OcfReader::Open(*file);
    EXPECT_EQ(reader->codec(), codec);
    EXPECT_EQ(reader->metadata().at("avro.codec"), OcfCodecName(codec));
  }
  EXPECT_EQ(*ParseOcfCodec("zstd"), OcfCodec::kZstandard);
  EXPECT_FALSE(ParseOcfCodec("lzo").ok());
}

TEST(AvroContainerTest, CorruptFiles) {
  auto schema = ParseOk(R"({"type":"record","name":"R","fields":[{"name":"id","type":"long"}]})");
  auto columns = *AvroToArrowSchema(*schema);
  auto batch = BatchFromJson(columns, R"([{"id":1},{"id":2}])");
  const std::string file = *WriteObjectContainer({batch}, schema, OcfCodec::kSnappy);
  EXPECT_NE(ReadObjectContainer("PAR1").status().message().find("bad magic"), std::string::npos);
  std::string bad_sync = file;
  bad_sync[bad_sync.size() - 1] ^= 1;
  EXPECT_NE(ReadObjectContainer(bad_sync).status().message().find("sync marker mismatch"), std::string::npos);
  std::string bad_crc = file;
  bad_crc[bad_crc.size() - 17] ^= 1;  // last CRC byte
  EXPECT_NE(ReadObjectContainer(bad_crc).status().message().find("CRC mismatch"), std::string::npos);
  EXPECT_NE(ReadObjectContainer(file.substr(0, file.size() - 20)).status().message().find("truncated"),
            std::string::npos);
  auto deflate = *WriteObjectContainer({batch}, schema, OcfCodec::kDeflate);
  deflate[deflate.size() - 18] ^= 0x55;
  EXPECT_FALSE(ReadObjectContainer(deflate).ok());
}

// ---- Confluent --------------------------------------------------------------------------------

TEST(AvroConfluentTest, Header) {
  EXPECT_EQ(ExtractConfluentSchemaId(std::string("\0\0\0\0\1", 5)), 1);
  EXPECT_EQ(ExtractConfluentSchemaId(std::string("\0\0\0\1\0", 5)), 256);
  EXPECT_EQ(ExtractConfluentSchemaId(ConfluentHeader(INT32_MAX)), INT32_MAX);
  EXPECT_EQ(ExtractConfluentSchemaId(ConfluentHeader(INT32_MIN)), INT32_MIN);
  EXPECT_EQ(ExtractConfluentSchemaId(std::string("\0\0\0\0", 4)), std::nullopt);
  EXPECT_EQ(ExtractConfluentSchemaId(std::string("\1\0\0\0\0", 5)), std::nullopt);
  EXPECT_EQ(ParseConfluentHeader(std::string("\xff\0\0\0\0", 5)).status().message(),
            "invalid Confluent header: expected 0x00, got 0xff");
  EXPECT_NE(ParseConfluentHeader("\0").status().message().find("malformed input"), std::string::npos);
}

TEST(AvroConfluentTest, DecoderLooksUpAndCachesSchemas) {
  const std::string v1 = R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"}]})";
  const std::string v2 = R"({"type":"record","name":"R","fields":[{"name":"a","type":"long"},{"name":"b","type":"string"}]})";
  int lookups = 0;
  SchemaLookup lookup = [&](int32_t id) -> arrow::Result<std::string> {
    ++lookups;
    if (id == 1) return v1;
    if (id == 2) return v2;
    if (id == 3) return std::string("{broken");
    if (id == 99) return arrow::Status::IOError("registry down");
    return arrow::Status::KeyError("no such id");
  };
  auto columns = arrow::schema({arrow::field("a", arrow::int64()), arrow::field("b", arrow::utf8())});
  auto decoder = *MakeConfluentDecoder(columns, nullptr, lookup);
  const std::vector<std::string> payloads = {
      ConfluentHeader(1) + Long(5), ConfluentHeader(2) + Long(6) + Str("x"), ConfluentHeader(1) + Long(7),
      ConfluentHeader(7) + Long(1), std::string("\x01\0\0\0\1", 5), ConfluentHeader(3), "\0\0"};
  std::vector<RawRecord> records(payloads.size() + 1);
  for (size_t i = 0; i < payloads.size(); ++i) records[i].value = payloads[i];
  // records.back() is a tombstone
  auto out = decoder->Decode(records);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->tombstones, 1);
  ASSERT_EQ(out->errors.size(), 4u);
  EXPECT_EQ(out->errors[0].index, 3u);
  EXPECT_EQ(out->errors[0].message, "schema not found: schema ID 7");
  EXPECT_EQ(out->errors[1].message, "invalid Confluent header: expected 0x00, got 0x01");
  EXPECT_NE(out->errors[2].message.find("schema ID 3: invalid Avro schema"), std::string::npos);
  EXPECT_NE(out->errors[3].message.find("malformed input"), std::string::npos);
  EXPECT_TRUE(out->batch->Equals(*BatchFromJson(columns, R"([{"a":5,"b":null},{"a":6,"b":"x"},{"a":7,"b":null}])")));
  EXPECT_EQ(lookups, 4);  // ids 1, 2, 7 and 3: once each
  auto again = decoder->Decode(std::span<const RawRecord>(records.data(), 3));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(lookups, 4);  // cached
  RawRecord down;
  const std::string p99 = ConfluentHeader(99) + Long(1);
  down.value = p99;
  EXPECT_TRUE(decoder->Decode(std::span<const RawRecord>(&down, 1)).status().IsIOError());
  auto empty = decoder->Decode({});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->batch->num_rows(), 0);
  // A failed call's good rows do not stay behind for the next call: its caller reads the
  // whole batch again.
  std::vector<RawRecord> good_then_down(2);
  good_then_down[0].value = payloads[0];
  good_then_down[1].value = p99;
  EXPECT_TRUE(decoder->Decode(good_then_down).status().IsIOError());
  auto after = decoder->Decode({});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->batch->num_rows(), 0);
}

// ---- the format factories ---------------------------------------------------------------------

TEST(AvroFormatTest, KeySpecsAndFactories) {
  auto specs = AvroKeySpecs();
  ASSERT_FALSE(specs.empty());
  EXPECT_EQ(specs[0].key, "format.avro.wire");
  const std::string schema = R"({"type":"record","name":"R","fields":[{"name":"a","type":"long"}]})";
  auto columns = arrow::schema({arrow::field("a", arrow::int64())});

  ConnectorConfig plain("kafka", {{"format", "avro"}, {"format.avro.wire", "plain"}, {"format.avro.schema", schema}});
  auto encoder = MakeAvroEncoder(plain, columns);
  ASSERT_TRUE(encoder.ok()) << encoder.status().ToString();
  std::vector<std::string> messages;
  ASSERT_TRUE((*encoder)->Encode(*BatchFromJson(columns, R"([{"a":1},{"a":-2}])"), &messages).ok());
  EXPECT_EQ(messages, (std::vector<std::string>{Long(1), Long(-2)}));
  auto decoder = MakeAvroDecoder(plain, columns);
  ASSERT_TRUE(decoder.ok()) << decoder.status().ToString();
  std::vector<RawRecord> records(2);
  records[0].value = messages[0];
  records[1].value = messages[1];
  auto out = (*decoder)->Decode(records);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->batch->num_rows(), 2);

  ConnectorConfig confluent("kafka", {{"format", "avro"}, {"format.avro.schema.id", "42"}});
  auto cenc = MakeAvroEncoder(confluent, columns);  // schema derived from the columns
  ASSERT_TRUE(cenc.ok()) << cenc.status().ToString();
  messages.clear();
  ASSERT_TRUE((*cenc)->Encode(*BatchFromJson(columns, R"([{"a":3}])"), &messages).ok());
  EXPECT_EQ(messages[0], ConfluentHeader(42) + Long(1) + Long(3));  // ["null","long"] branch 1
  ConnectorConfig pinned("kafka", {{"format.avro.schema", R"({"type":"record","name":"record","fields":[
      {"name":"a","type":["null","long"],"default":null}]})"}, {"format.avro.schema.id", "42"}});
  auto cdec = MakeAvroDecoder(pinned, columns);
  ASSERT_TRUE(cdec.ok()) << cdec.status().ToString();
  RawRecord rec;
  rec.value = messages[0];
  auto decoded = (*cdec)->Decode(std::span<const RawRecord>(&rec, 1));
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->batch->Equals(*BatchFromJson(columns, R"([{"a":3}])")));

  ConnectorConfig no_id("kafka", {{"format", "avro"}});
  EXPECT_NE(MakeAvroEncoder(no_id, columns).status().message().find("format.avro.schema.id is required"),
            std::string::npos);
  ConnectorConfig no_schema("kafka", {{"format.avro.wire", "plain"}});
  EXPECT_NE(MakeAvroDecoder(no_schema, columns).status().message().find("needs format.avro.schema"),
            std::string::npos);
  ConnectorConfig bad_schema("kafka", {{"format.avro.wire", "plain"}, {"format.avro.schema", "{"}});
  EXPECT_NE(MakeAvroDecoder(bad_schema, columns).status().message().find("format.avro.schema: invalid Avro schema"),
            std::string::npos);
  ConnectorConfig bad_wire("kafka", {{"format.avro.wire", "json"}});
  EXPECT_FALSE(MakeAvroDecoder(bad_wire, columns).ok());
}

}  // namespace
}  // namespace laminar::serde::avro

// Found by the Avro schema fuzzer: a decimal whose precision Arrow cannot hold must be an
// error, never an abort inside arrow::decimal128().
TEST(AvroRegressionTest, DecimalPrecisionOutsideArrowsRangeIsAnError) {
  for (const char* precision : {"0", "5333333333333"}) {
    const std::string schema = std::string(R"({"type":"record","name":"R","fields":[{"name":"a","type":)") +
                               R"({"type":"bytes","logicalType":"decimal","precision":)" + precision + "}}]}";
    auto parsed = laminar::serde::avro::AvroSchema::Parse(schema);
    if (!parsed.ok()) continue;  // rejected at parse time is fine too
    EXPECT_FALSE(laminar::serde::avro::AvroToArrowSchema(**parsed).ok()) << schema;
  }
}

// Found by the Avro data fuzzer: a map whose second entry has a bad key must leave no
// entry behind (the batch stays valid, the record is an error).
TEST(AvroRegressionTest, FailedMapEntryLeavesNoPartialEntry) {
  const char* schema = R"({"type":"record","name":"R","fields":[
    {"name":"id","type":"long"},
    {"name":"attrs","type":{"type":"map","values":"long"}}]})";
  laminar::ConnectorConfig config("t", {{"format", "avro"}, {"format.avro.wire", "plain"},
                                        {"format.avro.schema", schema}});
  auto decoder = laminar::serde::MakeAvroDecoder(config, nullptr);
  ASSERT_TRUE(decoder.ok()) << decoder.status().ToString();
  // good: id 1, map {"a": 2}; bad: id 2, map block of 2 entries whose first key has length -11
  const std::string good("\x02\x02\x02\x61\x04\x00", 6);
  const std::string bad("\x04\x04\x15\x00\x00", 5);
  std::vector<laminar::serde::RawRecord> records(2);
  records[0].value = good;
  records[1].value = bad;
  auto decoded = (*decoder)->Decode(records);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->batch->num_rows(), 1);
  ASSERT_EQ(decoded->errors.size(), 1u);
  EXPECT_EQ(decoded->errors[0].index, 1u);
  EXPECT_TRUE(decoded->batch->ValidateFull().ok()) << decoded->batch->ValidateFull().ToString();
}
