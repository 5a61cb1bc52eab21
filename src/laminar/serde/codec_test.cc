#include "laminar/serde/codec.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

namespace laminar::serde {
namespace {

TEST(FormatNames, CaseInsensitiveWithAliases) {
  EXPECT_EQ(CanonicalFormatName("JSON"), "json");
  EXPECT_EQ(CanonicalFormatName("Csv"), "csv");
  EXPECT_EQ(CanonicalFormatName("bytes"), "raw");
  EXPECT_EQ(CanonicalFormatName("BYTES"), "raw");
  EXPECT_EQ(CanonicalFormatName("debezium-json"), "debezium");
  EXPECT_EQ(CanonicalFormatName("Debezium"), "debezium");
  EXPECT_EQ(CanonicalFormatName("confluent-avro"), "avro");
  EXPECT_EQ(CanonicalFormatName("PARQUET"), "parquet");
  EXPECT_EQ(CanonicalFormatName("protobuf"), std::nullopt);
}

TEST(FormatNames, DecodersBuiltByAliasAndCase) {
  auto schema = arrow::schema({arrow::field("id", arrow::int64())});
  const std::vector<std::pair<std::string, std::shared_ptr<arrow::Schema>>> cases = {
      {"JSON", schema}, {"Debezium-JSON", schema}, {"debezium-json", schema},
      {"BYTES", nullptr}, {"bytes", nullptr}, {"Raw", nullptr}};
  for (const auto& [name, columns] : cases) {
    auto decoder = MakeDecoder(ConnectorConfig("test", {{"format", name}}), columns);
    EXPECT_TRUE(decoder.ok()) << name << ": " << decoder.status().ToString();
  }
  // bytes decodes as raw: one binary value column.
  auto raw = MakeDecoder(ConnectorConfig("test", {{"format", "bytes"}}), nullptr);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ((*raw)->schema()->field(0)->name(), "value");
  // debezium-json yields the changelog column.
  auto cdc = MakeDecoder(ConnectorConfig("test", {{"format", "debezium-json"}}), schema);
  ASSERT_TRUE(cdc.ok());
  EXPECT_EQ((*cdc)->schema()->num_fields(), 2);
  // confluent-avro is avro with the Confluent framing; the plain wire contradicts it.
  EXPECT_TRUE(MakeDecoder(ConnectorConfig("test", {{"format", "Confluent-Avro"}}), schema).ok());
  auto plain = MakeDecoder(
      ConnectorConfig("test", {{"format", "confluent-avro"}, {"format.avro.wire", "plain"}}), schema);
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.status().message().find("option 'format.avro.wire'"), std::string::npos);
  // Options are checked against the canonical format.
  auto stray = MakeDecoder(ConnectorConfig("test", {{"format", "BYTES"}, {"format.delimiter", ";"}}), nullptr);
  ASSERT_FALSE(stray.ok());
  EXPECT_NE(stray.status().message().find("does not apply to format 'raw'"), std::string::npos);
  auto unknown = MakeDecoder(ConnectorConfig("test", {{"format", "ProtoBuf"}}), schema);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("'protobuf' is not a known format"), std::string::npos);
}

}  // namespace
}  // namespace laminar::serde
