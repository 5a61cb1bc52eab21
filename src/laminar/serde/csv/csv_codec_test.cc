#include <arrow/api.h>
#include <arrow/util/decimal.h>
#include <gtest/gtest.h>

#include <random>

#include "laminar/core/status.h"
#include "laminar/serde/csv/csv_codec.h"
#include "laminar/serde/csv/csv_stream_decoder.h"
#include "laminar/serde/csv/text_values.h"

namespace laminar::serde {
namespace {

ConnectorConfig Config(std::map<std::string, std::string> props = {}) {
  ConnectorConfig config("kafka", std::move(props));
  config.set_instance_name("orders");
  return config;
}

std::shared_ptr<arrow::Schema> IdNameSchema() {
  return arrow::schema({arrow::field("id", arrow::int64()), arrow::field("name", arrow::utf8())});
}

struct Messages {
  std::vector<std::string> values;
  std::vector<std::string> offsets;
  std::vector<RawRecord> records;
  explicit Messages(std::vector<std::string> v) : values(std::move(v)) {
    for (size_t i = 0; i < values.size(); ++i) offsets.push_back(std::to_string(i));
    for (size_t i = 0; i < values.size(); ++i) {
      RawRecord r;
      r.value = values[i];
      r.offset = offsets[i];
      records.push_back(r);
    }
  }
};

DecodedBatch DecodeMessages(RecordDecoder& decoder, std::vector<std::string> values) {
  Messages m(std::move(values));
  auto result = decoder.Decode(m.records);
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.MoveValueUnsafe();
}

std::unique_ptr<RecordDecoder> Decoder(std::shared_ptr<arrow::Schema> schema,
                                       std::map<std::string, std::string> props = {}) {
  auto decoder = MakeCsvDecoder(Config(std::move(props)), std::move(schema));
  EXPECT_TRUE(decoder.ok()) << decoder.status().ToString();
  return decoder.MoveValueUnsafe();
}

std::unique_ptr<CsvStreamDecoder> Stream(std::shared_ptr<arrow::Schema> schema,
                                         std::map<std::string, std::string> props = {}) {
  auto decoder = CsvStreamDecoder::Make(Config(std::move(props)), std::move(schema));
  EXPECT_TRUE(decoder.ok()) << decoder.status().ToString();
  return decoder.MoveValueUnsafe();
}

// Decodes a whole text in one call (last = true).
StreamDecodeResult DecodeText(std::shared_ptr<arrow::Schema> schema, const std::string& text,
                              std::map<std::string, std::string> props = {}) {
  auto decoder = Stream(std::move(schema), std::move(props));
  auto result = decoder->Decode(text, true, 1 << 30);
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.MoveValueUnsafe();
}

std::string Cell(const arrow::RecordBatch& batch, int column, int64_t row) {
  auto scalar = batch.column(column)->GetScalar(row);
  return scalar.ok() ? (*scalar)->ToString() : "?";
}

// ---------------------------------------------------------------- tokenizer & values

TEST(TextValuesTest, BooleanSpellings) {
  for (const char* t : {"true", "1", "yes", "t", "y", "TRUE", "Yes"}) EXPECT_EQ(ParseBoolText(t), true) << t;
  for (const char* f : {"false", "0", "no", "f", "n", "FALSE", "No"}) EXPECT_EQ(ParseBoolText(f), false) << f;
  EXPECT_FALSE(ParseBoolText("maybe").has_value());
  EXPECT_FALSE(ParseBoolText("").has_value());
}

TEST(TextValuesTest, DatesAndTimestamps) {
  EXPECT_EQ(ParseIsoDate("1970-01-01"), 0);
  EXPECT_EQ(ParseIsoDate("2024-03-01"), 19783);
  EXPECT_EQ(ParseIsoDate("1969-12-31"), -1);
  EXPECT_FALSE(ParseIsoDate("2023-02-29").has_value());
  EXPECT_TRUE(ParseIsoDate("2024-02-29").has_value());
  auto t = ParseIsoTimestamp("2024-01-02T03:04:05.123456789+01:00");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->seconds, 1704164645 - 3600);
  EXPECT_EQ(t->nanos, 123456789);
  EXPECT_TRUE(t->has_offset);
  EXPECT_FALSE(ParseIsoTimestamp("2024-01-02T25:00:00").has_value());
  auto pattern = DateTimePattern::Compile("%d/%m/%Y %H.%M");
  ASSERT_TRUE(pattern.ok());
  auto p = pattern->Parse("02/01/2024 03.04");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->seconds, 1704164640);
  EXPECT_FALSE(DateTimePattern::Compile("%Q").ok());
  EXPECT_EQ(ToUnit(*t, arrow::TimeUnit::MILLI), std::nullopt);  // finer than ms: no truncation
  std::string text;
  AppendTimestamp(-1, arrow::TimeUnit::MICRO, &text);
  EXPECT_EQ(text, "1969-12-31 23:59:59.999999");
}

TEST(TokenizerTest, QuotesEscapesAndLineBreaks) {
  CsvTokenizer tok(CsvDialect{});
  std::string data = "a,\"b,c\",\"he said \"\"hi\"\"\"\r\n\"multi\nline\",x\n";
  size_t pos = 0;
  ASSERT_EQ(tok.Next(data, &pos, false), CsvScan::kRecord);
  ASSERT_EQ(tok.fields().size(), 3u);
  EXPECT_EQ(tok.fields()[1].text, "b,c");
  EXPECT_EQ(tok.fields()[2].text, "he said \"hi\"");
  EXPECT_EQ(tok.line_breaks(), 1);
  ASSERT_EQ(tok.Next(data, &pos, false), CsvScan::kRecord);
  EXPECT_EQ(tok.fields()[0].text, "multi\nline");
  EXPECT_EQ(tok.line_breaks(), 2);
  EXPECT_EQ(tok.Next(data, &pos, false), CsvScan::kNeedMore);
  EXPECT_EQ(tok.Next(data, &pos, true), CsvScan::kEnd);

  size_t p2 = 0;
  std::string open = "\"never closed,1\n2";
  EXPECT_EQ(tok.Next(open, &p2, false), CsvScan::kNeedMore);
  ASSERT_EQ(tok.Next(open, &p2, true), CsvScan::kRecord);
  EXPECT_EQ(tok.error(), "unterminated quoted field");
}

// ---------------------------------------------------------------- config

TEST(CsvConfigTest, KeySpecsAndBadValues) {
  auto specs = CsvKeySpecs();
  std::vector<std::string> keys;
  for (const auto& s : specs) keys.push_back(s.key);
  for (const char* k : {"format.delimiter", "format.quote", "format.escape", "format.has_header", "format.null_string",
                        "format.comment", "format.skip_rows", "format.timestamp_format", "format.date_format",
                        "format.field_count_mismatch"}) {
    EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
  }
  auto bad = MakeCsvDecoder(Config({{"format.delimiter", ";;"}}), IdNameSchema());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("format.delimiter"), std::string::npos);
  EXPECT_EQ(KindOf(bad.status()), ErrorKind::kConfig);
  auto unknown = MakeCsvDecoder(Config({{"format.unknown_thing", "1"}}), IdNameSchema());
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("format.unknown_thing"), std::string::npos);
  auto pattern = MakeCsvDecoder(Config({{"format.timestamp_format", "%Q"}}), IdNameSchema());
  ASSERT_FALSE(pattern.ok());
  EXPECT_NE(pattern.status().message().find("format.timestamp_format"), std::string::npos);
  auto same = MakeCsvDecoder(Config({{"format.delimiter", "\""}}), IdNameSchema());
  EXPECT_FALSE(same.ok());
}

TEST(CsvConfigTest, NestedColumnsAreAConfigErrorNamingTheColumn) {
  auto schema = arrow::schema({arrow::field("id", arrow::int64()), arrow::field("tags", arrow::list(arrow::utf8()))});
  auto decoder = MakeCsvDecoder(Config(), schema);
  ASSERT_FALSE(decoder.ok());
  EXPECT_EQ(KindOf(decoder.status()), ErrorKind::kConfig);
  EXPECT_NE(decoder.status().message().find("'tags'"), std::string::npos);
  auto s = arrow::schema({arrow::field("s", arrow::struct_({arrow::field("a", arrow::int32())}))});
  EXPECT_FALSE(CsvStreamDecoder::Make(Config(), s).ok());
  EXPECT_FALSE(MakeCsvEncoder(Config(), s).ok());
}

// ---------------------------------------------------------------- decoding (§17 list)

TEST(CsvStreamTest, EmptyInput) {
  auto r = DecodeText(IdNameSchema(), "");
  EXPECT_EQ(r.batch->num_rows(), 0);
  EXPECT_TRUE(r.errors.empty());
  EXPECT_TRUE(r.finished);
}

TEST(CsvStreamTest, HeaderAndOneRowAndMultipleRows) {
  auto r = DecodeText(IdNameSchema(), "id,name\n1,Alice\n");
  ASSERT_EQ(r.batch->num_rows(), 1);
  EXPECT_EQ(Cell(*r.batch, 0, 0), "1");
  EXPECT_EQ(Cell(*r.batch, 1, 0), "Alice");
  auto m = DecodeText(IdNameSchema(), "id,name\n1,a\n2,b\n3,c");
  ASSERT_EQ(m.batch->num_rows(), 3);
  EXPECT_EQ(Cell(*m.batch, 1, 2), "c");
  EXPECT_EQ(m.row_offsets, (std::vector<int64_t>{8, 12, 16}));
}

TEST(CsvStreamTest, NoHeader) {
  auto r = DecodeText(IdNameSchema(), "1,a\n2,b\n", {{"format.has_header", "false"}});
  EXPECT_EQ(r.batch->num_rows(), 2);
}

TEST(CsvStreamTest, AllBasicTypes) {
  auto schema = arrow::schema({
      arrow::field("i8", arrow::int8()),
      arrow::field("i16", arrow::int16()),
      arrow::field("i32", arrow::int32()),
      arrow::field("i64", arrow::int64()),
      arrow::field("u8", arrow::uint8()),
      arrow::field("u16", arrow::uint16()),
      arrow::field("u32", arrow::uint32()),
      arrow::field("u64", arrow::uint64()),
      arrow::field("f32", arrow::float32()),
      arrow::field("f64", arrow::float64()),
      arrow::field("dec", arrow::decimal128(10, 2)),
      arrow::field("b", arrow::boolean()),
      arrow::field("s", arrow::utf8()),
      arrow::field("bin", arrow::binary()),
      arrow::field("d", arrow::date32()),
      arrow::field("t", arrow::time64(arrow::TimeUnit::MICRO)),
      arrow::field("ts_s", arrow::timestamp(arrow::TimeUnit::SECOND)),
      arrow::field("ts_ms", arrow::timestamp(arrow::TimeUnit::MILLI)),
      arrow::field("ts_us", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")),
      arrow::field("ts_ns", arrow::timestamp(arrow::TimeUnit::NANO)),
  });
  const std::string row =
      "-128,-32768,-2147483648,-9223372036854775808,255,65535,4294967295,18446744073709551615,1.5,2.25,"
      "12345678.91,yes,héllo,\x01\x02,2024-03-01,12:34:56.789012,2024-01-02 03:04:05,"
      "2024-01-02 03:04:05.123,2024-01-02T03:04:05.123456Z,2024-01-02 03:04:05.123456789\n";
  auto r = DecodeText(schema, row, {{"format.has_header", "false"}});
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].message;
  ASSERT_EQ(r.batch->num_rows(), 1);
  ASSERT_TRUE(r.batch->ValidateFull().ok());
  for (int c = 0; c < schema->num_fields(); ++c) {
    EXPECT_TRUE(r.batch->column(c)->type()->Equals(schema->field(c)->type())) << c;
  }
  EXPECT_EQ(std::static_pointer_cast<arrow::Int8Array>(r.batch->column(0))->Value(0), -128);
  EXPECT_EQ(std::static_pointer_cast<arrow::UInt64Array>(r.batch->column(7))->Value(0), 18446744073709551615ULL);
  EXPECT_FLOAT_EQ(std::static_pointer_cast<arrow::FloatArray>(r.batch->column(8))->Value(0), 1.5f);
  EXPECT_EQ(std::static_pointer_cast<arrow::Decimal128Array>(r.batch->column(10))->FormatValue(0), "12345678.91");
  EXPECT_TRUE(std::static_pointer_cast<arrow::BooleanArray>(r.batch->column(11))->Value(0));
  EXPECT_EQ(std::static_pointer_cast<arrow::StringArray>(r.batch->column(12))->GetView(0), "héllo");
  EXPECT_EQ(std::static_pointer_cast<arrow::BinaryArray>(r.batch->column(13))->GetView(0), "\x01\x02");
  EXPECT_EQ(std::static_pointer_cast<arrow::Date32Array>(r.batch->column(14))->Value(0), 19783);
  EXPECT_EQ(std::static_pointer_cast<arrow::Time64Array>(r.batch->column(15))->Value(0), 45296789012LL);
  EXPECT_EQ(std::static_pointer_cast<arrow::TimestampArray>(r.batch->column(16))->Value(0), 1704164645);
  EXPECT_EQ(std::static_pointer_cast<arrow::TimestampArray>(r.batch->column(17))->Value(0), 1704164645123LL);
  EXPECT_EQ(std::static_pointer_cast<arrow::TimestampArray>(r.batch->column(18))->Value(0), 1704164645123456LL);
  EXPECT_EQ(std::static_pointer_cast<arrow::TimestampArray>(r.batch->column(19))->Value(0), 1704164645123456789LL);
}

TEST(CsvStreamTest, RangeAndConversionErrorsNameTheColumnAndAppendNothing) {
  auto schema = arrow::schema({arrow::field("a", arrow::int8()), arrow::field("b", arrow::uint16()),
                               arrow::field("c", arrow::decimal128(5, 2)), arrow::field("d", arrow::float32())});
  const std::string text =
      "1,2,3.45,1.0\n"
      "128,2,3.45,1.0\n"  // int8 overflow
      "1,-1,3.45,1.0\n"   // negative unsigned
      "1,2,3.456,1.0\n"   // too many fraction digits: no silent rounding
      "1,2,1234.5,1.0\n"  // exceeds precision
      "1,2,3,1e40\n"      // float32 out of range
      "x,2,3,1\n"         // not a number
      "2,3,4,2\n";
  auto r = DecodeText(schema, text, {{"format.has_header", "false"}});
  EXPECT_EQ(r.batch->num_rows(), 2);
  ASSERT_TRUE(r.batch->ValidateFull().ok());
  ASSERT_EQ(r.errors.size(), 6u);
  const char* expected_columns[] = {"'a'", "'b'", "'c'", "'c'", "'d'", "'a'"};
  for (size_t i = 0; i < r.errors.size(); ++i) {
    EXPECT_NE(r.errors[i].message.find(expected_columns[i]), std::string::npos) << r.errors[i].message;
    EXPECT_EQ(r.errors[i].line, static_cast<int64_t>(i) + 2);
    EXPECT_EQ(r.errors[i].index, i + 1);
  }
  EXPECT_EQ(r.errors[0].position, "line 2");
  EXPECT_EQ(r.errors[0].raw, "128,2,3.45,1.0");
  EXPECT_EQ(r.row_indexes, (std::vector<int64_t>{0, 7}));
  EXPECT_EQ(Cell(*r.batch, 0, 1), "2");
}

TEST(CsvStreamTest, DefaultNullStringAndCustomNa) {
  auto schema = arrow::schema({arrow::field("a", arrow::int32()), arrow::field("b", arrow::utf8())});
  auto r = DecodeText(schema, ",\n", {{"format.has_header", "false"}});
  ASSERT_EQ(r.batch->num_rows(), 1);
  EXPECT_TRUE(r.batch->column(0)->IsNull(0));
  EXPECT_TRUE(r.batch->column(1)->IsNull(0));
  auto na = DecodeText(schema, "NA,NA\n1,\n", {{"format.has_header", "false"}, {"format.null_string", "NA"}});
  ASSERT_EQ(na.batch->num_rows(), 2) << (na.errors.empty() ? "" : na.errors[0].message);
  EXPECT_TRUE(na.batch->column(0)->IsNull(0));
  EXPECT_TRUE(na.batch->column(1)->IsNull(0));
  // With null_string NA an empty field is an empty string for utf8, an error for int32.
  EXPECT_FALSE(na.batch->column(1)->IsNull(1));
  ASSERT_EQ(na.errors.size(), 0u);
  auto na2 = DecodeText(schema, ",x\n", {{"format.has_header", "false"}, {"format.null_string", "NA"}});
  EXPECT_EQ(na2.errors.size(), 1u);
}

TEST(CsvStreamTest, QuotedEmptyIsEmptyStringNotNull) {
  auto schema = arrow::schema(
      {arrow::field("a", arrow::utf8()), arrow::field("b", arrow::utf8()), arrow::field("c", arrow::utf8())});
  auto r = DecodeText(schema, "\"\",,\"NA\"\n", {{"format.has_header", "false"}, {"format.null_string", ""}});
  ASSERT_EQ(r.batch->num_rows(), 1);
  EXPECT_FALSE(r.batch->column(0)->IsNull(0));
  EXPECT_EQ(std::static_pointer_cast<arrow::StringArray>(r.batch->column(0))->GetView(0), "");
  EXPECT_TRUE(r.batch->column(1)->IsNull(0));
  auto quoted_na = DecodeText(schema, "\"NA\",NA,x\n", {{"format.has_header", "false"}, {"format.null_string", "NA"}});
  ASSERT_EQ(quoted_na.batch->num_rows(), 1);
  EXPECT_FALSE(quoted_na.batch->column(0)->IsNull(0));
  EXPECT_TRUE(quoted_na.batch->column(1)->IsNull(0));
}

TEST(CsvStreamTest, InvalidUtf8IsARecordErrorButBinaryKeepsBytes) {
  auto schema = arrow::schema({arrow::field("s", arrow::utf8()), arrow::field("b", arrow::binary())});
  auto r = DecodeText(schema, "ok,\xff\n\xff\xfe,x\ngood,y\n", {{"format.has_header", "false"}});
  EXPECT_EQ(r.batch->num_rows(), 2);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].message.find("'s'"), std::string::npos);
  EXPECT_NE(r.errors[0].message.find("UTF-8"), std::string::npos);
  EXPECT_EQ(std::static_pointer_cast<arrow::BinaryArray>(r.batch->column(1))->GetView(0), "\xff");
}

TEST(CsvStreamTest, NotNullViolationIsARecordError) {
  auto schema = arrow::schema({arrow::field("id", arrow::int64(), false), arrow::field("s", arrow::utf8())});
  auto r =
      DecodeText(schema, ",a\n1,b\n1\n", {{"format.has_header", "false"}, {"format.field_count_mismatch", "null"}});
  EXPECT_EQ(r.batch->num_rows(), 2);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].message.find("'id' is NOT NULL"), std::string::npos);
  auto ok = DecodeText(schema, "1\n", {{"format.has_header", "false"}, {"format.field_count_mismatch", "null"}});
  ASSERT_EQ(ok.batch->num_rows(), 1);
  EXPECT_TRUE(ok.batch->column(1)->IsNull(0));  // padded
}

TEST(CsvStreamTest, FieldCountMismatchStrategies) {
  const std::string text = "1,a\n2\n3,c,extra\n";
  auto reject = DecodeText(IdNameSchema(), text, {{"format.has_header", "false"}});
  EXPECT_EQ(reject.batch->num_rows(), 1);
  ASSERT_EQ(reject.errors.size(), 2u);
  EXPECT_NE(reject.errors[0].message.find("field count mismatch: expected 2, got 1"), std::string::npos);
  auto null =
      DecodeText(IdNameSchema(), text, {{"format.has_header", "false"}, {"format.field_count_mismatch", "null"}});
  ASSERT_EQ(null.batch->num_rows(), 3);
  EXPECT_TRUE(null.batch->column(1)->IsNull(1));
  EXPECT_EQ(Cell(*null.batch, 1, 2), "c");  // extra field dropped
  auto skip =
      DecodeText(IdNameSchema(), text, {{"format.has_header", "false"}, {"format.field_count_mismatch", "skip"}});
  EXPECT_EQ(skip.batch->num_rows(), 1);
  EXPECT_EQ(skip.skipped_rows, 2);
  EXPECT_TRUE(skip.errors.empty());
}

TEST(CsvStreamTest, Delimiters) {
  for (auto [delim, text] : std::vector<std::pair<std::string, std::string>>{
           {"|", "1|a\n"}, {"tab", "1\ta\n"}, {"\\t", "1\ta\n"}, {";", "1;a\n"}}) {
    auto r = DecodeText(IdNameSchema(), text, {{"format.has_header", "false"}, {"format.delimiter", delim}});
    ASSERT_EQ(r.batch->num_rows(), 1) << delim;
    EXPECT_EQ(Cell(*r.batch, 1, 0), "a") << delim;
  }
}

TEST(CsvStreamTest, CommentsSkipRowsCrlfAndTrailingComma) {
  auto r = DecodeText(IdNameSchema(), "# top\nid,name\r\n# mid\r\nskip1,x\nskip2,y\n1,a\r\n2,\n3,c",
                      {{"format.comment", "#"}, {"format.skip_rows", "2"}});
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].message;
  ASSERT_EQ(r.batch->num_rows(), 3);
  EXPECT_EQ(Cell(*r.batch, 0, 0), "1");
  EXPECT_TRUE(r.batch->column(1)->IsNull(1));  // trailing comma -> null
  EXPECT_EQ(Cell(*r.batch, 1, 2), "c");
}

TEST(CsvStreamTest, QuotedDelimiterNewlineDoubledQuotesAndBackslashEscape) {
  auto r = DecodeText(IdNameSchema(), "1,\"a,b\"\n2,\"line1\nline2\"\n3,\"say \"\"hi\"\"\"\n4,x\n",
                      {{"format.has_header", "false"}});
  ASSERT_EQ(r.batch->num_rows(), 4);
  auto names = std::static_pointer_cast<arrow::StringArray>(r.batch->column(1));
  EXPECT_EQ(names->GetView(0), "a,b");
  EXPECT_EQ(names->GetView(1), "line1\nline2");
  EXPECT_EQ(names->GetView(2), "say \"hi\"");
  EXPECT_EQ(r.next_line, 6);
  auto e =
      DecodeText(IdNameSchema(), "1,\"a\\\"b\"\n2,c\\,d\n", {{"format.has_header", "false"}, {"format.escape", "\\"}});
  ASSERT_EQ(e.batch->num_rows(), 2);
  EXPECT_EQ(Cell(*e.batch, 1, 0), "a\"b");
  EXPECT_EQ(Cell(*e.batch, 1, 1), "c,d");
}

TEST(CsvStreamTest, TimestampPatternAndIsoFallback) {
  auto schema =
      arrow::schema({arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MILLI)), arrow::field("d", arrow::date32())});
  auto r = DecodeText(schema, "02/01/2024 03:04:05,02.01.2024\n2024-01-02T03:04:05.5+00:00,2024-01-02\n",
                      {{"format.has_header", "false"},
                       {"format.timestamp_format", "%d/%m/%Y %H:%M:%S"},
                       {"format.date_format", "%d.%m.%Y"}});
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].message;
  auto ts = std::static_pointer_cast<arrow::TimestampArray>(r.batch->column(0));
  EXPECT_EQ(ts->Value(0), 1704164645000LL);
  EXPECT_EQ(ts->Value(1), 1704164645500LL);
  auto d = std::static_pointer_cast<arrow::Date32Array>(r.batch->column(1));
  EXPECT_EQ(d->Value(0), 19724);
  EXPECT_EQ(d->Value(1), 19724);
  auto bad = DecodeText(schema, "yesterday,2024-01-02\n2024-01-02 00:00:00.0001,2024-01-02\n",
                        {{"format.has_header", "false"}});
  EXPECT_EQ(bad.errors.size(), 2u);  // unparsable; finer than ms
}

TEST(CsvStreamTest, BooleanSpellingsDecode) {
  auto schema = arrow::schema({arrow::field("b", arrow::boolean())});
  auto r = DecodeText(schema, "true\n1\nyes\nt\ny\nfalse\n0\nno\nf\nN\n", {{"format.has_header", "false"}});
  ASSERT_EQ(r.batch->num_rows(), 10);
  auto b = std::static_pointer_cast<arrow::BooleanArray>(r.batch->column(0));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(b->Value(i), i < 5) << i;
}

TEST(CsvStreamTest, UnicodeAndSingleColumnBlankLineIsNull) {
  auto schema = arrow::schema({arrow::field("s", arrow::utf8())});
  auto r = DecodeText(schema, "日本語\n\nΩ\n", {{"format.has_header", "false"}});
  ASSERT_EQ(r.batch->num_rows(), 3);
  EXPECT_EQ(Cell(*r.batch, 0, 0), "日本語");
  EXPECT_TRUE(r.batch->column(0)->IsNull(1));
  // Multi-column: blank lines are not rows.
  auto m = DecodeText(IdNameSchema(), "1,a\n\n\n2,b\n", {{"format.has_header", "false"}});
  EXPECT_EQ(m.batch->num_rows(), 2);
  EXPECT_TRUE(m.errors.empty());
}

TEST(CsvStreamTest, UnterminatedQuoteAtEndIsARecordError) {
  auto r = DecodeText(IdNameSchema(), "1,a\n2,\"oops\n3,c\n", {{"format.has_header", "false"}});
  EXPECT_EQ(r.batch->num_rows(), 1);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].message.find("unterminated"), std::string::npos);
  EXPECT_EQ(r.errors[0].position, "line 2");
}

// ---------------------------------------------------------------- stream properties

// A tricky input: quotes, doubled quotes, CRLF, quoted CRLF, comments, blank lines, header.
const char* kTricky =
    "id,name\r\n"
    "# a comment, with \"quotes\"\n"
    "1,\"a,b\"\r\n"
    "2,\"multi\r\nline \"\"quoted\"\"\"\n"
    "\n"
    "3,plain\r"
    "4,\"\"\n"
    "x,bad int\n"
    "5,\xc3\xa9t\xc3\xa9\n"
    "6,\"trailing quote\"\r\n"
    "7,last without newline";

struct Collected {
  std::vector<std::string> rows;  // "offset|id|name" or "E line|message"
  int64_t next_offset = 0;
};

std::string Describe(const StreamDecodeResult& r, int64_t i) {
  return std::to_string(r.row_offsets[i]) + "|" + Cell(*r.batch, 0, i) + "|" + Cell(*r.batch, 1, i);
}

void Collect(const StreamDecodeResult& r, Collected* out) {
  EXPECT_TRUE(r.batch->ValidateFull().ok());
  EXPECT_EQ(static_cast<size_t>(r.batch->num_rows()), r.row_offsets.size());
  size_t e = 0;
  int64_t row = 0;
  // Merge rows and errors in record order.
  while (row < r.batch->num_rows() || e < r.errors.size()) {
    if (e < r.errors.size() &&
        (row >= r.batch->num_rows() || r.errors[e].index < static_cast<size_t>(r.row_indexes[row]))) {
      out->rows.push_back("E " + r.errors[e].message);
      ++e;
    } else {
      out->rows.push_back(Describe(r, row));
      ++row;
    }
  }
  out->next_offset = r.next_offset;
}

// Feeds `text` in pieces split at the given points, re-feeding unconsumed bytes.
Collected FeedSplit(const std::string& text, std::vector<size_t> cuts, int64_t max_rows,
                    std::map<std::string, std::string> props = {{"format.comment", "#"}}) {
  auto decoder = Stream(arrow::schema({arrow::field("id", arrow::int32()), arrow::field("name", arrow::utf8())}),
                        std::move(props));
  Collected out;
  cuts.push_back(text.size());
  size_t begin = 0;
  std::string carry;
  for (size_t i = 0; i < cuts.size(); ++i) {
    std::string chunk = carry + text.substr(begin, cuts[i] - begin);
    begin = cuts[i];
    const bool last = i + 1 == cuts.size();
    for (;;) {
      auto r = decoder->Decode(chunk, last, max_rows);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      Collect(*r, &out);
      chunk = chunk.substr(static_cast<size_t>(r->bytes_consumed));
      if (r->finished || chunk.empty()) break;
    }
    carry = chunk;
  }
  return out;
}

TEST(CsvStreamTest, EverySplitPointGivesIdenticalRows) {
  const std::string text = kTricky;
  const Collected whole = FeedSplit(text, {}, 1 << 20);
  ASSERT_EQ(whole.rows.size(), 8u);
  EXPECT_EQ(whole.rows[0], "36|1|a,b");
  EXPECT_EQ(whole.rows[1], "45|2|multi\r\nline \"quoted\"");
  EXPECT_EQ(whole.rows[3], "81|4|");
  EXPECT_EQ(whole.rows[4].substr(0, 8), "E line 9");
  EXPECT_EQ(whole.rows[7], "124|7|last without newline");
  EXPECT_EQ(whole.next_offset, static_cast<int64_t>(text.size()));
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    EXPECT_EQ(FeedSplit(text, {cut}, 1 << 20).rows, whole.rows) << "cut at " << cut;
  }
  // Two random cuts and small max_rows.
  std::mt19937 rng(42);
  for (int i = 0; i < 300; ++i) {
    size_t a = rng() % (text.size() + 1), b = rng() % (text.size() + 1);
    if (a > b) std::swap(a, b);
    const int64_t max_rows = 1 + static_cast<int64_t>(rng() % 3);
    EXPECT_EQ(FeedSplit(text, {a, b}, max_rows).rows, whole.rows) << a << "," << b << " max " << max_rows;
  }
  // One byte at a time.
  std::vector<size_t> every;
  for (size_t i = 1; i < text.size(); ++i) every.push_back(i);
  EXPECT_EQ(FeedSplit(text, every, 1).rows, whole.rows);
}

// Random bytes from a hostile alphabet: any split gives the same rows and errors, batches
// are valid, and every record is accounted for.
TEST(CsvStreamTest, RandomInputsAreSplitInvariant) {
  const std::string alphabet = std::string("a1,\"\n\r#\\ \xff\xc3\xa9", 14);
  std::mt19937 rng(7);
  for (int round = 0; round < 300; ++round) {
    std::string text;
    const size_t len = rng() % 60;
    for (size_t i = 0; i < len; ++i) text.push_back(alphabet[rng() % alphabet.size()]);
    std::map<std::string, std::string> props = {{"format.comment", "#"}};
    if (round % 2) props["format.escape"] = "\\";
    if (round % 3 == 0) props["format.skip_rows"] = "1";
    const Collected whole = FeedSplit(text, {}, 1 << 20, props);
    for (int k = 0; k < 5; ++k) {
      size_t a = rng() % (text.size() + 1), b = rng() % (text.size() + 1);
      if (a > b) std::swap(a, b);
      EXPECT_EQ(FeedSplit(text, {a, b}, 1 + static_cast<int64_t>(rng() % 2), props).rows, whole.rows)
          << "input " << ::testing::PrintToString(text) << " cuts " << a << "," << b;
    }
  }
}

TEST(CsvStreamTest, ResumeFromReportedOffsetYieldsExactlyTheRest) {
  const std::string text = kTricky;
  auto schema = arrow::schema({arrow::field("id", arrow::int32()), arrow::field("name", arrow::utf8())});
  const Collected whole = FeedSplit(text, {}, 1 << 20);
  // Decode k records, "checkpoint", then restore a fresh decoder at the reported position.
  for (int64_t k = 1; k < 8; ++k) {
    auto first = Stream(schema, {{"format.comment", "#"}});
    auto r = first->Decode(text, true, k);
    ASSERT_TRUE(r.ok());
    Collected got;
    Collect(*r, &got);
    auto second = Stream(schema, {{"format.comment", "#"}});
    second->ResetAt(r->next_offset, r->next_line, r->header_done);
    auto rest = second->Decode(std::string_view(text).substr(static_cast<size_t>(r->next_offset)), true, 1 << 20);
    ASSERT_TRUE(rest.ok());
    Collect(*rest, &got);
    EXPECT_EQ(got.rows, whole.rows) << "checkpoint after " << k;
  }
}

TEST(CsvStreamTest, CheckpointInsideThePreambleRestartsIt) {
  auto schema = IdNameSchema();
  auto d = Stream(schema, {{"format.skip_rows", "1"}});
  auto r = d->Decode("id,name\nskipped,x\n1,", false, 10);  // the preamble is complete
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->header_done);
  EXPECT_EQ(r->next_offset, 18);
  auto d2 = Stream(schema, {{"format.skip_rows", "1"}});
  auto r2 = d2->Decode("id,name\nskip", false, 10);  // the preamble is not complete
  ASSERT_TRUE(r2.ok());
  EXPECT_FALSE(r2->header_done);
  EXPECT_EQ(r2->next_offset, 0);
  EXPECT_EQ(r2->bytes_consumed, 12);
  auto r3 = d2->Decode("ped,x\n1,a\n", true, 10);
  ASSERT_TRUE(r3.ok());
  ASSERT_EQ(r3->batch->num_rows(), 1);
  EXPECT_EQ(r3->row_offsets[0], 18);
}

// ---------------------------------------------------------------- message decoder

TEST(CsvMessageTest, HeaderAndSkipRowsAreRejectedForMessages) {
  // A header or skipped rows would be counted in memory only: after a restart the new
  // decoder would take the first message it sees (a data row) for the header.
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"format.has_header", "true"}, {"format.skip_rows", "1"}}) {
    auto made = MakeCsvDecoder(Config({{key, value}}), IdNameSchema());
    ASSERT_FALSE(made.ok()) << key;
    EXPECT_NE(made.status().message().find("option '" + key + "'"), std::string::npos) << made.status().ToString();
    // Files keep both: the stream decoder checkpoints whether the header is behind it.
    EXPECT_TRUE(CsvStreamDecoder::Make(Config({{key, value}}), IdNameSchema()).ok()) << key;
  }
  // Their defaults and explicit off are fine: no header at all.
  auto plain = Decoder(IdNameSchema(), {{"format.has_header", "false"}, {"format.skip_rows", "0"}});
  EXPECT_EQ(DecodeMessages(*plain, {"id,name", "1,a"}).errors.size(), 1u);  // "id" is not a BIGINT
  EXPECT_EQ(DecodeMessages(*Decoder(IdNameSchema()), {"1,a"}).batch->num_rows(), 1);
}

TEST(CsvMessageTest, RowsErrorsTombstonesAndTrailingNewline) {
  auto decoder = Decoder(IdNameSchema());
  Messages m({"1,a\n", "x,b", "3,\"multi\nline\"\r\n", "4,d\n5,e", "", "6,f"});
  m.records[4].value = std::string_view();  // tombstone
  auto r = decoder->Decode(m.records);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->batch->num_rows(), 3);
  EXPECT_EQ(r->tombstones, 1);
  ASSERT_EQ(r->errors.size(), 2u);
  EXPECT_EQ(r->errors[0].index, 1u);
  EXPECT_NE(r->errors[0].message.find("offset 1"), std::string::npos);
  EXPECT_NE(r->errors[0].message.find("'id'"), std::string::npos);
  EXPECT_EQ(r->errors[1].index, 3u);
  EXPECT_NE(r->errors[1].message.find("more than one CSV row"), std::string::npos);
  EXPECT_EQ(Cell(*r->batch, 1, 1), "multi\nline");
}

TEST(CsvMessageTest, SingleColumnEmptyMessageIsNullAndCommentsAreSkipped) {
  auto decoder = Decoder(arrow::schema({arrow::field("s", arrow::utf8())}), {{"format.comment", "#"}});
  auto r = DecodeMessages(*decoder, {"", "\"\"", "# only a comment", "x\n# trailing comment"});
  ASSERT_EQ(r.batch->num_rows(), 3);
  EXPECT_TRUE(r.errors.empty());
  EXPECT_TRUE(r.batch->column(0)->IsNull(0));
  EXPECT_FALSE(r.batch->column(0)->IsNull(1));
  EXPECT_EQ(Cell(*r.batch, 0, 2), "x");
}

TEST(CsvMessageTest, QuotedEmptyVsNullAndInvalidUtf8) {
  auto decoder = Decoder(arrow::schema({arrow::field("a", arrow::utf8()), arrow::field("b", arrow::utf8())}));
  auto r = DecodeMessages(*decoder, {"\"\",", "\xc3\x28,x", "ok,\"\""});
  ASSERT_EQ(r.batch->num_rows(), 2);
  EXPECT_FALSE(r.batch->column(0)->IsNull(0));
  EXPECT_TRUE(r.batch->column(1)->IsNull(0));
  EXPECT_FALSE(r.batch->column(1)->IsNull(1));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].message.find("UTF-8"), std::string::npos);
}

// ---------------------------------------------------------------- encoder

TEST(CsvEncoderTest, RoundTripThroughDecoder) {
  auto schema = arrow::schema({
      arrow::field("i", arrow::int32()),
      arrow::field("u", arrow::uint64()),
      arrow::field("f", arrow::float64()),
      arrow::field("dec", arrow::decimal128(12, 3)),
      arrow::field("b", arrow::boolean()),
      arrow::field("s", arrow::utf8()),
      arrow::field("bin", arrow::binary()),
      arrow::field("d", arrow::date32()),
      arrow::field("t", arrow::time64(arrow::TimeUnit::MICRO)),
      arrow::field("ts", arrow::timestamp(arrow::TimeUnit::NANO, "UTC")),
      arrow::field("ts_s", arrow::timestamp(arrow::TimeUnit::SECOND)),
  });
  arrow::Int32Builder i;
  ASSERT_TRUE(i.AppendValues({-5, 0, 1}, {1, 0, 1}).ok());
  arrow::UInt64Builder u;
  ASSERT_TRUE(u.AppendValues({18446744073709551615ULL, 0, 1}).ok());
  arrow::DoubleBuilder f;
  ASSERT_TRUE(f.AppendValues({0.1, -1e300, 0}, {1, 1, 0}).ok());
  arrow::Decimal128Builder dec(arrow::decimal128(12, 3));
  ASSERT_TRUE(dec.Append(arrow::Decimal128("-123456789125")).ok());
  ASSERT_TRUE(dec.Append(arrow::Decimal128(0)).ok());
  ASSERT_TRUE(dec.AppendNull().ok());
  arrow::BooleanBuilder b;
  ASSERT_TRUE(b.AppendValues(std::vector<bool>{true, false, false}, std::vector<bool>{true, true, false}).ok());
  arrow::StringBuilder s;
  ASSERT_TRUE(s.Append("a,\"b\"\nc").ok());
  ASSERT_TRUE(s.Append("").ok());
  ASSERT_TRUE(s.AppendNull().ok());
  arrow::BinaryBuilder bin;
  ASSERT_TRUE(bin.Append("x").ok());
  ASSERT_TRUE(bin.Append("").ok());
  ASSERT_TRUE(bin.AppendNull().ok());
  arrow::Date32Builder d;
  ASSERT_TRUE(d.AppendValues({-3, 0, 0}, {1, 1, 0}).ok());
  arrow::Time64Builder t(arrow::time64(arrow::TimeUnit::MICRO), arrow::default_memory_pool());
  ASSERT_TRUE(t.AppendValues({1, 86399999999LL, 0}, {1, 1, 0}).ok());
  arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::NANO, "UTC"), arrow::default_memory_pool());
  ASSERT_TRUE(ts.AppendValues({-1, 1704164645123456789LL, 0}, {1, 1, 0}).ok());
  arrow::TimestampBuilder ts_s(arrow::timestamp(arrow::TimeUnit::SECOND), arrow::default_memory_pool());
  ASSERT_TRUE(ts_s.AppendValues({1700000000, -1, 0}, {1, 1, 0}).ok());
  std::vector<std::shared_ptr<arrow::Array>> arrays(11);
  ASSERT_TRUE(i.Finish(&arrays[0]).ok());
  ASSERT_TRUE(u.Finish(&arrays[1]).ok());
  ASSERT_TRUE(f.Finish(&arrays[2]).ok());
  ASSERT_TRUE(dec.Finish(&arrays[3]).ok());
  ASSERT_TRUE(b.Finish(&arrays[4]).ok());
  ASSERT_TRUE(s.Finish(&arrays[5]).ok());
  ASSERT_TRUE(bin.Finish(&arrays[6]).ok());
  ASSERT_TRUE(d.Finish(&arrays[7]).ok());
  ASSERT_TRUE(t.Finish(&arrays[8]).ok());
  ASSERT_TRUE(ts.Finish(&arrays[9]).ok());
  ASSERT_TRUE(ts_s.Finish(&arrays[10]).ok());
  auto batch = arrow::RecordBatch::Make(schema, 3, arrays);

  for (const auto& props : std::vector<std::map<std::string, std::string>>{
           {}, {{"format.delimiter", ";"}}, {{"format.null_string", "NULL"}}, {{"format.escape", "\\"}}}) {
    auto encoder = MakeCsvEncoder(Config(props), schema);
    ASSERT_TRUE(encoder.ok()) << encoder.status().ToString();
    std::vector<std::string> lines;
    ASSERT_TRUE((*encoder)->Encode(*batch, &lines).ok());
    ASSERT_EQ(lines.size(), 3u);
    auto decoder = Decoder(schema, props);
    auto decoded = DecodeMessages(*decoder, lines);
    ASSERT_TRUE(decoded.errors.empty()) << decoded.errors[0].message << " in " << lines[0];
    EXPECT_TRUE(decoded.batch->Equals(*batch)) << decoded.batch->ToString() << "\nvs\n" << batch->ToString();
    // And as one file with a header through the stream decoder.
    auto with_header = props;
    with_header["format.has_header"] = "true";
    auto file_encoder = MakeCsvEncoder(Config(with_header), schema);
    ASSERT_TRUE(file_encoder.ok());
    std::vector<std::string> file_lines;
    ASSERT_TRUE((*file_encoder)->Encode(*batch, &file_lines).ok());
    ASSERT_EQ(file_lines.size(), 4u);
    EXPECT_EQ(file_lines[0].substr(0, 4), props.count("format.delimiter") ? "i;u;" : "i,u,");
    std::string file;
    for (const auto& l : file_lines) file += l + "\n";
    auto r = DecodeText(schema, file, props);
    ASSERT_TRUE(r.errors.empty()) << r.errors[0].message;
    EXPECT_TRUE(r.batch->Equals(*batch));
  }
}

TEST(CsvEncoderTest, QuoteNoneCannotEncodeAmbiguousValues) {
  auto schema = arrow::schema({arrow::field("s", arrow::utf8())});
  arrow::StringBuilder s;
  ASSERT_TRUE(s.Append("a,b").ok());
  std::shared_ptr<arrow::Array> a;
  ASSERT_TRUE(s.Finish(&a).ok());
  auto batch = arrow::RecordBatch::Make(schema, 1, {a});
  auto encoder = MakeCsvEncoder(Config({{"format.quote", "none"}}), schema);
  ASSERT_TRUE(encoder.ok());
  std::vector<std::string> out;
  auto st = (*encoder)->Encode(*batch, &out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("row 0 column 's'"), std::string::npos);
}

}  // namespace
}  // namespace laminar::serde
