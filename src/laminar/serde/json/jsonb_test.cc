#include "laminar/serde/json/jsonb.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace laminar::serde::jsonb {
namespace {

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

std::string Encode(std::string_view json) {
  auto out = FromJsonText(json);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? *out : std::string();
}

TEST(Jsonb, ScalarLayouts) {
  EXPECT_EQ(Encode("null"), Bytes({0x00}));
  EXPECT_EQ(Encode("false"), Bytes({0x01}));
  EXPECT_EQ(Encode("true"), Bytes({0x02}));
  EXPECT_EQ(Encode("42"), Bytes({0x03, 42, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(Encode("-2"), Bytes({0x03, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
  // 1.5 = 0x3FF8000000000000
  EXPECT_EQ(Encode("1.5"), Bytes({0x04, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f}));
  // Large unsigned values become float64: 2^64-1 -> 1.8446744073709552e19 = 0x43F0000000000000.
  EXPECT_EQ(Encode("18446744073709551615"), Bytes({0x04, 0, 0, 0, 0, 0, 0, 0xf0, 0x43}));
  EXPECT_EQ(Encode(R"("hi")"), Bytes({0x05, 2, 0, 0, 0, 'h', 'i'}));
}

TEST(Jsonb, ArrayLayout) {
  // [1,"a"]: tag, count 2, offsets 0 and 9, int64 1, string "a".
  EXPECT_EQ(Encode(R"([1,"a"])"), Bytes({0x06, 2, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0,  //
                                         0x03, 1, 0, 0, 0, 0, 0, 0, 0,            //
                                         0x05, 1, 0, 0, 0, 'a'}));
  EXPECT_EQ(Encode("[]"), Bytes({0x06, 0, 0, 0, 0}));
}

TEST(Jsonb, ObjectLayoutSortsKeys) {
  // {"b":true,"a":null}: keys sorted a, b. Field a: key at 0 (u16 1,'a'), value at 3; field b: key at 4, value at 7.
  EXPECT_EQ(Encode(R"({"b":true,"a":null})"), Bytes({0x07, 2, 0, 0, 0,  //
                                                     0, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0,  //
                                                     1, 0, 'a', 0x00, 1, 0, 'b', 0x02}));
  EXPECT_EQ(Encode("{}"), Bytes({0x07, 0, 0, 0, 0}));
  // A repeated key keeps its last value.
  EXPECT_EQ(Encode(R"({"a":1,"a":true})"), Bytes({0x07, 1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 'a', 0x02}));
}

TEST(Jsonb, Accessors) {
  auto bytes = Encode(R"({"name":"Alice","age":30,"active":true,"score":9.5,"tags":["x",null,{"deep":[1,2,3]}],"none":null})");
  Value root(bytes);
  EXPECT_EQ(root.ObjectLength(), 6u);
  EXPECT_EQ(root.GetField("name")->AsString(), "Alice");
  EXPECT_EQ(root.GetField("age")->AsInt64(), 30);
  EXPECT_EQ(root.GetField("active")->AsBool(), true);
  EXPECT_EQ(root.GetField("score")->AsDouble(), 9.5);
  EXPECT_TRUE(root.GetField("none")->is_null());
  EXPECT_FALSE(root.GetField("missing").has_value());
  EXPECT_FALSE(root.GetField("age")->AsString().has_value());
  auto tags = *root.GetField("tags");
  EXPECT_EQ(tags.ArrayLength(), 3u);
  EXPECT_EQ(tags.ArrayGet(0)->AsString(), "x");
  EXPECT_TRUE(tags.ArrayGet(1)->is_null());
  EXPECT_FALSE(tags.ArrayGet(3).has_value());
  auto deep = *tags.ArrayGet(2)->GetField("deep");
  EXPECT_EQ(deep.ArrayGet(2)->AsInt64(), 3);
  // Views are bounded: the element ends where the next one starts.
  EXPECT_EQ(deep.ArrayGet(0)->bytes().size(), 9u);
  EXPECT_EQ(tags.ArrayGet(0)->bytes().size(), 6u);
  EXPECT_FALSE(Value(Encode("[1]")).GetField("a").has_value());
  EXPECT_FALSE(Value(Encode("{}")).GetField("a").has_value());
  EXPECT_FALSE(Value("").tag().has_value());
}

TEST(Jsonb, LargeObjectBinarySearch) {
  std::string json = "{";
  for (int i = 99; i >= 0; --i) json += (i == 99 ? "" : ",") + std::string("\"field_") + std::to_string(1000 + i) + "\":" + std::to_string(i);
  json += "}";
  auto bytes = Encode(json);
  Value root(bytes);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(root.GetField("field_" + std::to_string(1000 + i))->AsInt64(), i);
  EXPECT_FALSE(root.GetField("field_0999").has_value());
}

TEST(Jsonb, RoundTrips) {
  for (const char* json : {R"({"a":[1,2.5,"x\"y",null,true,false],"b":{"c":{}},"e":[]})", "-9223372036854775808",
                           R"("é😀\n")", "[[[]]]", "1.0", "1e+300", R"({"":0})"}) {
    auto bytes = Encode(json);
    auto text = ToJsonText(bytes);
    ASSERT_TRUE(text.ok()) << text.status().ToString();
    EXPECT_EQ(Encode(*text), bytes) << json << " -> " << *text;
  }
  EXPECT_EQ(*ToJsonText(Encode(R"({ "z" : 1, "a" : [ 2.0 , "s" ] })")), R"({"a":[2.0,"s"],"z":1})");
}

TEST(Jsonb, RejectsBadInput) {
  EXPECT_FALSE(FromJsonText("{").ok());
  EXPECT_FALSE(FromJsonText(R"({"a":1} x)").ok());
  std::string long_key = "{\"" + std::string(70000, 'k') + "\":1}";
  auto status = FromJsonText(long_key).status();
  EXPECT_NE(status.message().find("65535"), std::string::npos) << status.ToString();
  std::string deep(kMaxDepth + 2, '[');
  deep += std::string(kMaxDepth + 2, ']');
  EXPECT_FALSE(FromJsonText(deep).ok());
  // Malformed JSONB: truncated values, offsets out of bounds, unknown tags.
  EXPECT_FALSE(ToJsonText("").ok());
  EXPECT_FALSE(ToJsonText(Bytes({0x03, 1, 2})).ok());
  EXPECT_FALSE(ToJsonText(Bytes({0x05, 9, 0, 0, 0, 'a'})).ok());
  EXPECT_FALSE(ToJsonText(Bytes({0x06, 1, 0, 0, 0, 50, 0, 0, 0, 0x00})).ok());
  EXPECT_FALSE(ToJsonText(Bytes({0x07, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0, 'a', 0x00})).ok());
  EXPECT_FALSE(ToJsonText(Bytes({0x09})).ok());
  EXPECT_FALSE(ToJsonText(Bytes({0x06, 0xff, 0xff, 0xff, 0xff})).ok());
}

}  // namespace
}  // namespace laminar::serde::jsonb
