#include "laminar/serde/raw/raw_codec.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

namespace laminar::serde {
namespace {

RawRecord Rec(std::string_view value, std::optional<std::string_view> key = std::nullopt) {
  RawRecord r;
  r.value = value;
  r.key = key;
  return r;
}

TEST(RawCodec, DefaultSchemaIsBinaryValue) {
  auto decoder = *MakeRawDecoder(ConnectorConfig("test"), nullptr);
  ASSERT_EQ(decoder->schema()->ToString(), "value: binary not null");
  std::string bytes("\xff\x00x", 3);
  std::vector<RawRecord> records{Rec(bytes), Rec(std::string_view()), Rec("b")};
  auto out = *decoder->Decode(records);
  EXPECT_EQ(out.tombstones, 1);
  ASSERT_EQ(out.batch->num_rows(), 2);
  EXPECT_EQ(static_cast<const arrow::BinaryArray&>(*out.batch->column(0)).GetView(0), bytes);
  EXPECT_TRUE(out.batch->ValidateFull().ok());
}

TEST(RawCodec, Utf8ValueRejectsInvalidUtf8AndKeepsOrder) {
  auto schema = arrow::schema({arrow::field("line", arrow::utf8(), false)});
  auto decoder = *MakeRawDecoder(ConnectorConfig("test"), schema);
  std::vector<RawRecord> records{Rec("a"), Rec("b\xc3\x28"), Rec("é"), Rec("")};
  auto out = *decoder->Decode(records);
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_EQ(out.errors[0].index, 1u);
  EXPECT_EQ(out.errors[0].message, "column 'line': invalid UTF-8");
  ASSERT_EQ(out.batch->num_rows(), 3);
  const auto& a = static_cast<const arrow::StringArray&>(*out.batch->column(0));
  EXPECT_EQ(a.GetView(0), "a");
  EXPECT_EQ(a.GetView(1), "é");
  EXPECT_EQ(a.GetView(2), "");
}

TEST(RawCodec, KeyColumn) {
  auto schema = arrow::schema({arrow::field("k", arrow::utf8()), arrow::field("v", arrow::binary())});
  ConnectorConfig config("test", {{"format.key_column", "k"}});
  auto decoder = *MakeRawDecoder(config, schema);
  std::vector<RawRecord> records{Rec("1", "key1"), Rec("2"), Rec("3", "\xff")};
  auto out = *decoder->Decode(records);
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_EQ(out.errors[0].message, "column 'k': invalid UTF-8");
  ASSERT_EQ(out.batch->num_rows(), 2);
  const auto& keys = static_cast<const arrow::StringArray&>(*out.batch->column(0));
  EXPECT_EQ(keys.GetView(0), "key1");
  EXPECT_TRUE(keys.IsNull(1));

  auto not_null = arrow::schema({arrow::field("k", arrow::binary(), false), arrow::field("v", arrow::binary())});
  auto strict = *MakeRawDecoder(config, not_null);
  std::vector<RawRecord> keyless{Rec("x")};
  auto bad = *strict->Decode(keyless);
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0].message, "column 'k': null key, but the column is NOT NULL");

  auto defaults = *MakeRawDecoder(config, nullptr);
  EXPECT_EQ(defaults->schema()->ToString(), "value: binary not null\nk: binary");
}

TEST(RawCodec, ConfigErrors) {
  auto two = arrow::schema({arrow::field("a", arrow::binary()), arrow::field("b", arrow::binary())});
  EXPECT_FALSE(MakeRawDecoder(ConnectorConfig("test"), two).ok());
  auto wrong_type = arrow::schema({arrow::field("a", arrow::int32())});
  auto status = MakeRawDecoder(ConnectorConfig("test"), wrong_type).status();
  EXPECT_NE(status.message().find("column 'a'"), std::string::npos) << status.ToString();
  auto missing = MakeRawDecoder(ConnectorConfig("test", {{"format.key_column", "nope"}}), two).status();
  EXPECT_NE(missing.message().find("format.key_column"), std::string::npos) << missing.ToString();
  ASSERT_EQ(RawKeySpecs().size(), 1u);
}

TEST(RawCodec, RoundTrip) {
  auto schema = arrow::schema({arrow::field("value", arrow::utf8())});
  auto encoder = *MakeRawEncoder(ConnectorConfig("test"), schema);
  arrow::StringBuilder builder;
  ASSERT_TRUE(builder.AppendValues({"one", "two", "three"}).ok());
  auto batch = arrow::RecordBatch::Make(schema, 3, {*builder.Finish()});
  std::vector<std::string> messages;
  ASSERT_TRUE(encoder->Encode(*batch, &messages).ok());
  EXPECT_EQ(messages, (std::vector<std::string>{"one", "two", "three"}));
  auto decoder = *MakeRawDecoder(ConnectorConfig("test"), schema);
  std::vector<RawRecord> records;
  for (const auto& m : messages) records.push_back(Rec(m));
  auto out = *decoder->Decode(records);
  EXPECT_TRUE(out.batch->Equals(*batch));
}

// Columns named key, partition, offset, timestamp and headers take the message's metadata.
TEST(RawCodec, MetadataColumnsByName) {
  auto header_type = arrow::list(arrow::struct_({arrow::field("key", arrow::utf8()), arrow::field("value", arrow::binary())}));
  auto schema = arrow::schema({arrow::field("payload", arrow::utf8()), arrow::field("key", arrow::binary()),
                               arrow::field("partition", arrow::int32()), arrow::field("offset", arrow::int64()),
                               arrow::field("timestamp", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")),
                               arrow::field("headers", header_type)});
  auto decoder = MakeRawDecoder(ConnectorConfig("test"), schema);
  ASSERT_TRUE(decoder.ok()) << decoder.status().ToString();
  std::vector<Header> headers = {{"trace", "t1"}, {"bin", std::string("\xff", 1)}};
  RawRecord full = Rec("hello", "k1");
  full.partition = "3";
  full.offset = "42";
  full.timestamp_ms = 1700000000123;
  full.headers = &headers;
  RawRecord bare = Rec("bye");  // no key, position, time or headers: nulls
  RawRecord file = Rec("x");
  file.partition = "a.txt";      // not an INTEGER partition: a record error
  file.offset = "7";
  std::vector<RawRecord> records{full, bare, file};
  auto out = (*decoder)->Decode(records);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->errors.size(), 1u);
  EXPECT_EQ(out->errors[0].index, 2u);
  EXPECT_EQ(out->errors[0].message, "column 'partition': 'a.txt' is not a int32 partition");
  ASSERT_TRUE(out->batch->ValidateFull().ok());
  ASSERT_EQ(out->batch->num_rows(), 2);
  auto text = [&](const char* column, int64_t row) {
    return out->batch->GetColumnByName(column)->GetScalar(row).ValueOrDie()->ToString();
  };
  EXPECT_EQ(text("payload", 0), "hello");
  EXPECT_EQ(text("key", 0), "k1");
  EXPECT_EQ(text("partition", 0), "3");
  EXPECT_EQ(text("offset", 0), "42");
  EXPECT_EQ(static_cast<const arrow::TimestampArray&>(*out->batch->GetColumnByName("timestamp")).Value(0),
            1700000000123000);
  const auto& list = static_cast<const arrow::ListArray&>(*out->batch->GetColumnByName("headers"));
  EXPECT_EQ(list.value_length(0), 2);
  for (const char* column : {"key", "partition", "offset", "timestamp", "headers"}) {
    EXPECT_TRUE(out->batch->GetColumnByName(column)->IsNull(1)) << column;
  }

  // A lone column named key is the value; metadata columns of the wrong type are config errors.
  EXPECT_TRUE(MakeRawDecoder(ConnectorConfig("test"), arrow::schema({arrow::field("key", arrow::binary())})).ok());
  auto bad = MakeRawDecoder(ConnectorConfig("test"), arrow::schema({arrow::field("v", arrow::binary()),
                                                                    arrow::field("timestamp", arrow::utf8())}));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("metadata column 'timestamp'"), std::string::npos);
  auto strict = *MakeRawDecoder(ConnectorConfig("test"), arrow::schema({arrow::field("v", arrow::binary()),
                                                                       arrow::field("offset", arrow::int64(), false)}));
  std::vector<RawRecord> unplaced{Rec("x")};
  auto missing = *strict->Decode(unplaced);
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_EQ(missing.errors[0].message, "column 'offset': the message has no offset, but the column is NOT NULL");
}

}  // namespace
}  // namespace laminar::serde
