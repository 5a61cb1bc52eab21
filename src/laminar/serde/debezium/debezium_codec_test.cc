#include "laminar/serde/debezium/debezium_codec.h"

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>

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
  ASSERT_EQ(out.errors.size(), 8u);
  std::vector<std::pair<size_t, std::string>> got;
  for (const auto& e : out.errors) got.emplace_back(e.index, e.message);
  EXPECT_EQ(got[0], std::make_pair(size_t{1}, std::string("in 'after': column 'id': expected BIGINT, found string \"x\" (not an integer)")));
  EXPECT_EQ(got[1], std::make_pair(size_t{2}, std::string("truncate events are not supported")));
  EXPECT_EQ(got[2], std::make_pair(size_t{3}, std::string("unknown Debezium op 'x'")));
  EXPECT_EQ(got[3], std::make_pair(size_t{4}, std::string("missing field 'op'")));
  EXPECT_EQ(got[4], std::make_pair(size_t{5}, std::string("op 'c' without 'after'")));
  EXPECT_EQ(got[5].first, 6u);
  EXPECT_EQ(got[6], std::make_pair(size_t{7}, std::string("in 'after': column 'id': missing, but the column is NOT NULL")));
  EXPECT_EQ(got[7], std::make_pair(size_t{8}, std::string("'after' must be an object or null, found an array")));
  EXPECT_TRUE(out.batch->Equals(*Expected(R"([{"id":1,"name":null,"_op":0},{"id":2,"name":null,"_op":0}])")))
      << out.batch->ToString();
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
  EXPECT_EQ(DebeziumKeySpecs().back().key, "format.debezium.include_metadata");
}

}  // namespace
}  // namespace laminar::serde
