// Unit tests of the DDL parser: good scripts (every type, options, env substitution,
// locations) and a table of bad ones, each pinned to the line, column and message it
// must produce. No file system except the ParseFile tests, which use a temp directory.

#include "laminar/ddl/ddl.h"

#include <arrow/type.h>
#include <arrow/util/key_value_metadata.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "laminar/core/status.h"
#include "laminar/ddl/types.h"

namespace laminar::ddl {
namespace {

EnvLookup FakeEnv(std::map<std::string, std::string> vars = {}) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

Script MustParse(const std::string& text, EnvLookup env = FakeEnv()) {
  auto result = ParseScript(text, "test.sql", std::move(env));
  EXPECT_TRUE(result.ok()) << result.status().message();
  return result.ok() ? *std::move(result) : Script{};
}

std::map<std::string, std::string> OptionMap(const std::vector<OptionDef>& options) {
  std::map<std::string, std::string> out;
  for (const auto& option : options) out[option.key] = option.value;
  return out;
}

void ExpectLocation(SourceLocation actual, int line, int column) {
  EXPECT_EQ(actual.line, line);
  EXPECT_EQ(actual.column, column);
}

std::shared_ptr<arrow::Field> Json(std::string name) {
  return arrow::field(std::move(name), arrow::utf8(), true, JsonTypeMetadata());
}

TEST(DdlParseTest, EveryTypeInTheTable) {
  const Script script = MustParse(R"sql(
CREATE SOURCE all_types (
  b1 BOOLEAN, b2 bool,
  i8 TINYINT, i16 SMALLINT, i32a INT, i32b INTEGER, i64 BIGINT,
  u8a TINYINT UNSIGNED, u8b UTINYINT, u16a SMALLINT UNSIGNED, u16b USMALLINT,
  u32a INT UNSIGNED, u32b INTEGER UNSIGNED, u32c UINTEGER, u64a BIGINT UNSIGNED, u64b UBIGINT,
  f32a REAL, f32b FLOAT, f32c FLOAT4, f64a DOUBLE, f64b DOUBLE PRECISION, f64c FLOAT8,
  d1 DECIMAL(10, 2), d2 NUMERIC(38,0), d3 DECIMAL, d4 NUMERIC(5), d5 DECIMAL(1,1), d6 NUMERIC,
  s1 VARCHAR, s2 VARCHAR(255), s3 TEXT, s4 STRING, s5 CHAR(3),
  y1 BYTEA, y2 VARBINARY, y3 BLOB, y4 BINARY,
  dt DATE, t TIME,
  ts TIMESTAMP, ts0 TIMESTAMP(0), ts3 TIMESTAMP(3), ts6 TIMESTAMP(6), ts9 TIMESTAMP(9),
  ts_ntz TIMESTAMP WITHOUT TIME ZONE, tz TIMESTAMP WITH TIME ZONE,
  tz3 TIMESTAMP(3) WITH TIME ZONE, tz_short TIMESTAMPTZ, tz_short9 TIMESTAMPTZ(9),
  j1 JSON, j2 JSONB,
  a1 INT[], a2 ARRAY<VARCHAR>, a3 ARRAY<ARRAY<BIGINT>>, a4 DOUBLE[][], a5 ARRAY<INT>[],
  st STRUCT<a INT, b VARCHAR NOT NULL>,
  nn BIGINT NOT NULL, n BIGINT NULL
) FROM datagen ();
)sql");
  ASSERT_EQ(script.sources.size(), 1u);
  auto list = [](std::shared_ptr<arrow::DataType> item) { return arrow::list(std::move(item)); };
  const auto expected = arrow::schema({
      arrow::field("b1", arrow::boolean()),
      arrow::field("b2", arrow::boolean()),
      arrow::field("i8", arrow::int8()),
      arrow::field("i16", arrow::int16()),
      arrow::field("i32a", arrow::int32()),
      arrow::field("i32b", arrow::int32()),
      arrow::field("i64", arrow::int64()),
      arrow::field("u8a", arrow::uint8()),
      arrow::field("u8b", arrow::uint8()),
      arrow::field("u16a", arrow::uint16()),
      arrow::field("u16b", arrow::uint16()),
      arrow::field("u32a", arrow::uint32()),
      arrow::field("u32b", arrow::uint32()),
      arrow::field("u32c", arrow::uint32()),
      arrow::field("u64a", arrow::uint64()),
      arrow::field("u64b", arrow::uint64()),
      arrow::field("f32a", arrow::float32()),
      arrow::field("f32b", arrow::float32()),
      arrow::field("f32c", arrow::float32()),
      arrow::field("f64a", arrow::float64()),
      arrow::field("f64b", arrow::float64()),
      arrow::field("f64c", arrow::float64()),
      arrow::field("d1", arrow::decimal128(10, 2)),
      arrow::field("d2", arrow::decimal128(38, 0)),
      arrow::field("d3", arrow::decimal128(38, 9)),
      arrow::field("d4", arrow::decimal128(5, 0)),
      arrow::field("d5", arrow::decimal128(1, 1)),
      arrow::field("d6", arrow::decimal128(38, 9)),
      arrow::field("s1", arrow::utf8()),
      arrow::field("s2", arrow::utf8()),
      arrow::field("s3", arrow::utf8()),
      arrow::field("s4", arrow::utf8()),
      arrow::field("s5", arrow::utf8()),
      arrow::field("y1", arrow::binary()),
      arrow::field("y2", arrow::binary()),
      arrow::field("y3", arrow::binary()),
      arrow::field("y4", arrow::binary()),
      arrow::field("dt", arrow::date32()),
      arrow::field("t", arrow::time64(arrow::TimeUnit::MICRO)),
      arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO)),
      arrow::field("ts0", arrow::timestamp(arrow::TimeUnit::SECOND)),
      arrow::field("ts3", arrow::timestamp(arrow::TimeUnit::MILLI)),
      arrow::field("ts6", arrow::timestamp(arrow::TimeUnit::MICRO)),
      arrow::field("ts9", arrow::timestamp(arrow::TimeUnit::NANO)),
      arrow::field("ts_ntz", arrow::timestamp(arrow::TimeUnit::MICRO)),
      arrow::field("tz", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")),
      arrow::field("tz3", arrow::timestamp(arrow::TimeUnit::MILLI, "UTC")),
      arrow::field("tz_short", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")),
      arrow::field("tz_short9", arrow::timestamp(arrow::TimeUnit::NANO, "UTC")),
      Json("j1"),
      Json("j2"),
      arrow::field("a1", list(arrow::int32())),
      arrow::field("a2", list(arrow::utf8())),
      arrow::field("a3", list(list(arrow::int64()))),
      arrow::field("a4", list(list(arrow::float64()))),
      arrow::field("a5", list(list(arrow::int32()))),
      arrow::field("st", arrow::struct_({arrow::field("a", arrow::int32()), arrow::field("b", arrow::utf8(), false)})),
      arrow::field("nn", arrow::int64(), false),
      arrow::field("n", arrow::int64(), true),
  });
  const auto schema = SchemaOf(script.sources[0]);
  ASSERT_NE(schema, nullptr);
  EXPECT_TRUE(schema->Equals(*expected, /*check_metadata=*/true)) << "got:\n"
                                                                  << schema->ToString(true) << "\nexpected:\n"
                                                                  << expected->ToString(true);
}

TEST(DdlParseTest, TimestampPrecisionUnits) {
  const std::map<int, arrow::TimeUnit::type> units = {{0, arrow::TimeUnit::SECOND}, {1, arrow::TimeUnit::MILLI},
                                                      {2, arrow::TimeUnit::MILLI},  {3, arrow::TimeUnit::MILLI},
                                                      {4, arrow::TimeUnit::MICRO},  {5, arrow::TimeUnit::MICRO},
                                                      {6, arrow::TimeUnit::MICRO},  {7, arrow::TimeUnit::NANO},
                                                      {8, arrow::TimeUnit::NANO},   {9, arrow::TimeUnit::NANO}};
  for (const auto& [precision, unit] : units) {
    const Script script =
        MustParse("CREATE SOURCE s (ts TIMESTAMP(" + std::to_string(precision) + ")) FROM datagen ()");
    ASSERT_EQ(script.sources.size(), 1u);
    EXPECT_TRUE(script.sources[0].columns[0].type->Equals(arrow::timestamp(unit))) << "precision " << precision;
  }
}

TEST(DdlParseTest, JsonMetadataReachesNestedFields) {
  const Script script = MustParse(
      "CREATE SOURCE s (doc JSON NOT NULL, docs JSONB[], rec STRUCT<payload JSON>) "
      "FROM datagen ()");
  ASSERT_EQ(script.sources.size(), 1u);
  const auto& columns = script.sources[0].columns;
  ASSERT_EQ(columns.size(), 3u);
  ASSERT_NE(columns[0].metadata, nullptr);
  EXPECT_EQ(columns[0].metadata->Get(kTypeMetadataKey).ValueOr(""), "json");
  EXPECT_FALSE(columns[0].nullable);
  EXPECT_EQ(columns[1].metadata, nullptr);  // the list itself is not JSON, its items are
  const auto docs = std::static_pointer_cast<arrow::ListType>(columns[1].type);
  EXPECT_TRUE(IsJsonField(*docs->value_field()));
  EXPECT_TRUE(IsJsonField(*columns[2].type->field(0)));
  const auto schema = SchemaOf(script.sources[0]);
  EXPECT_TRUE(IsJsonField(*schema->field(0)));
  EXPECT_FALSE(schema->field(0)->nullable());
}

TEST(DdlParseTest, SourceWithoutColumnsHasNoSchema) {
  const Script script = MustParse("CREATE SOURCE events FROM files (path = '/data/in')");
  ASSERT_EQ(script.sources.size(), 1u);
  EXPECT_TRUE(script.sources[0].columns.empty());
  EXPECT_EQ(SchemaOf(script.sources[0]), nullptr);
  EXPECT_EQ(script.sources[0].connector, "files");
}

TEST(DdlParseTest, KeywordsAndTypeNamesIgnoreCase) {
  const Script script = MustParse(
      "create source s (Id bigint not null, Amount decimal(10,2), At timestamp with time zone) "
      "from DataGen () format JSON;\n"
      "Create Sink k From s Into Kafka (topic = 'out');");
  ASSERT_EQ(script.sources.size(), 1u);
  ASSERT_EQ(script.sinks.size(), 1u);
  const auto& columns = script.sources[0].columns;
  ASSERT_EQ(columns.size(), 3u);
  EXPECT_TRUE(columns[0].type->Equals(arrow::int64()));
  EXPECT_FALSE(columns[0].nullable);
  EXPECT_TRUE(columns[2].type->Equals(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")));
  EXPECT_EQ(script.sources[0].connector, "datagen");
  EXPECT_EQ(OptionMap(script.sources[0].options).at("format"), "json");
  EXPECT_EQ(script.sinks[0].connector, "kafka");
}

TEST(DdlParseTest, ColumnNamesKeepTheirSpelling) {
  const Script script = MustParse(
      "CREATE SOURCE Orders (OrderId INT, \"Customer Name\" TEXT, \"say \"\"hi\"\"\" TEXT, "
      "\"from\" INT) FROM datagen ()");
  ASSERT_EQ(script.sources.size(), 1u);
  EXPECT_EQ(script.sources[0].name, "Orders");
  const auto schema = SchemaOf(script.sources[0]);
  EXPECT_EQ(schema->field_names(), (std::vector<std::string>{"OrderId", "Customer Name", "say \"hi\"", "from"}));
}

TEST(DdlParseTest, ConnectorNamesAreCanonical) {
  const Script script = MustParse(R"sql(
CREATE SOURCE a FROM DELTA_LAKE (path = 'p');
CREATE SOURCE b FROM delta-lake (path = 'p');
CREATE SOURCE c FROM "Delta_Lake" (path = 'p');
CREATE SOURCE d FROM Kafka (topic = 't');
CREATE SINK e FROM a INTO POSTGRES_SINK ();
)sql");
  ASSERT_EQ(script.sources.size(), 4u);
  EXPECT_EQ(script.sources[0].connector, "delta-lake");
  EXPECT_EQ(script.sources[1].connector, "delta-lake");
  EXPECT_EQ(script.sources[2].connector, "delta-lake");
  EXPECT_EQ(script.sources[3].connector, "kafka");
  EXPECT_EQ(script.sinks[0].connector, "postgres-sink");
}

TEST(DdlParseTest, OptionKeysAndValues) {
  const Script script = MustParse(R"sql(
CREATE SOURCE s FROM kafka (
  topic = 'orders',
  bootstrap.servers = 'b1:9092,b2:9092',
  rows-per-second = 1000,
  fields.id.kind = 'sequence',
  fields.v.null-rate = 0.25,
  fields.0.kind = 'random',
  'sasl.jaas config' = 'it''s quoted',
  "Quoted-Key" = '',
  offset = -5,
  ratio = 1.5e3,
  enabled = TRUE,
  strict = false,
  multi = 'line one
line two'
);
)sql");
  ASSERT_EQ(script.sources.size(), 1u);
  const std::vector<OptionDef>& options = script.sources[0].options;
  std::vector<std::string> keys;
  keys.reserve(options.size());
  for (const auto& option : options) keys.push_back(option.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"topic", "bootstrap.servers", "rows-per-second", "fields.id.kind",
                                            "fields.v.null-rate", "fields.0.kind", "sasl.jaas config", "Quoted-Key",
                                            "offset", "ratio", "enabled", "strict", "multi"}));
  const auto values = OptionMap(options);
  EXPECT_EQ(values.at("bootstrap.servers"), "b1:9092,b2:9092");
  EXPECT_EQ(values.at("rows-per-second"), "1000");
  EXPECT_EQ(values.at("fields.v.null-rate"), "0.25");
  EXPECT_EQ(values.at("sasl.jaas config"), "it's quoted");
  EXPECT_EQ(values.at("Quoted-Key"), "");
  EXPECT_EQ(values.at("offset"), "-5");
  EXPECT_EQ(values.at("ratio"), "1.5e3");
  EXPECT_EQ(values.at("enabled"), "true");
  EXPECT_EQ(values.at("strict"), "false");
  EXPECT_EQ(values.at("multi"), "line one\nline two");
}

TEST(DdlParseTest, EmptyOptionListAndOptionalSemicolons) {
  const Script script = MustParse(";; CREATE SOURCE a FROM datagen ();;\nCREATE SOURCE b FROM datagen ( )");
  ASSERT_EQ(script.sources.size(), 2u);
  EXPECT_TRUE(script.sources[0].options.empty());
  EXPECT_TRUE(script.sources[1].options.empty());
}

TEST(DdlParseTest, CommentsAreIgnored) {
  const Script script = MustParse(R"sql(
-- a line comment; with a ; inside
/* a block comment
   CREATE SOURCE ghost FROM datagen ();
*/
CREATE SOURCE /* inline */ s ( -- trailing
  id INT, -- the key
  v /* type: */ DOUBLE
) FROM datagen (rows-per-second = 5 /* per second */, url = 'http://x/--not-a-comment/*no*/');
-- the end, without a newline)sql");
  ASSERT_EQ(script.sources.size(), 1u);
  EXPECT_EQ(script.sources[0].name, "s");
  EXPECT_EQ(script.sources[0].columns.size(), 2u);
  EXPECT_EQ(OptionMap(script.sources[0].options).at("url"), "http://x/--not-a-comment/*no*/");
}

TEST(DdlParseTest, FormatBecomesAnOption) {
  const Script script = MustParse(
      "CREATE SOURCE s FROM kafka (topic = 't') FORMAT JSON;\n"
      "CREATE SINK k FROM s INTO files (path = '/out') FORMAT debezium-json;\n"
      "CREATE SINK q FROM s INTO files (path = '/out2') FORMAT 'Avro';");
  EXPECT_EQ(OptionMap(script.sources[0].options).at("format"), "json");
  EXPECT_EQ(OptionMap(script.sinks[0].options).at("format"), "debezium-json");
  EXPECT_EQ(OptionMap(script.sinks[1].options).at("format"), "Avro");
  const OptionDef& format = script.sources[0].options.back();
  ExpectLocation(format.key_location, 1, 42);
  ExpectLocation(format.value_location, 1, 49);
}

TEST(DdlParseTest, MultipleSourcesAndSinks) {
  const Script script = MustParse(R"sql(
CREATE SINK early FROM ORDERS INTO kafka (topic = 'a');
CREATE SOURCE orders (id BIGINT) FROM kafka (topic = 'orders');
CREATE SOURCE "Clicks" FROM datagen ();
CREATE SINK late FROM "Clicks" INTO delta-lake (path = '/t');
CREATE SINK also_orders FROM orders INTO files (path = '/f');
)sql");
  ASSERT_EQ(script.sources.size(), 2u);
  ASSERT_EQ(script.sinks.size(), 3u);
  EXPECT_EQ(script.sources[0].name, "orders");
  EXPECT_EQ(script.sources[1].name, "Clicks");
  EXPECT_EQ(script.sinks[0].name, "early");
  EXPECT_EQ(script.sinks[0].from, "orders");  // resolved to the declared spelling
  EXPECT_EQ(script.sinks[1].from, "Clicks");
  EXPECT_EQ(script.sinks[1].connector, "delta-lake");
  EXPECT_EQ(script.sinks[2].from, "orders");
}

TEST(DdlParseTest, LocationsPointAtTheNames) {
  const Script script = MustParse(
      "CREATE SOURCE orders (\n"
      "  id BIGINT,\n"
      "\tname TEXT\n"
      ") FROM kafka (topic = 'orders',\n"
      "    group.id = 'g');\n"
      "CREATE SINK out FROM orders INTO delta-lake (path = '/t');\n");
  const SourceDef& source = script.sources.at(0);
  ExpectLocation(source.location, 1, 15);
  ExpectLocation(source.columns.at(0).location, 2, 3);
  ExpectLocation(source.columns.at(1).location, 3, 2);
  ExpectLocation(source.connector_location, 4, 8);
  ExpectLocation(source.options.at(0).key_location, 4, 15);
  ExpectLocation(source.options.at(0).value_location, 4, 23);
  ExpectLocation(source.options.at(1).key_location, 5, 5);
  ExpectLocation(source.options.at(1).value_location, 5, 16);
  const SinkDef& sink = script.sinks.at(0);
  ExpectLocation(sink.location, 6, 13);
  ExpectLocation(sink.from_location, 6, 22);
  ExpectLocation(sink.connector_location, 6, 34);
}

TEST(DdlEnvTest, SubstitutesVariablesInValues) {
  const Script script = MustParse(
      "CREATE SOURCE s FROM kafka (\n"
      "  servers = '${BROKER}:9092',\n"
      "  user = '${KAFKA_USER:-laminar}',\n"
      "  group = '${GROUP:-default-group}',\n"
      "  empty_with_default = '${EMPTY:-fallback}',\n"
      "  empty = '${EMPTY}',\n"
      "  both = '${BROKER}/${BROKER}',\n"
      "  literal = 'cost: $5 and $${NOT_A_VAR}',\n"
      "  quote_default = '${MISSING:-it''s}',\n"
      "  '${BROKER}' = 'keys are not substituted'\n"
      ");",
      FakeEnv({{"BROKER", "kafka-1"}, {"GROUP", "g7"}, {"EMPTY", ""}}));
  const auto values = OptionMap(script.sources.at(0).options);
  EXPECT_EQ(values.at("servers"), "kafka-1:9092");
  EXPECT_EQ(values.at("user"), "laminar");
  EXPECT_EQ(values.at("group"), "g7");
  EXPECT_EQ(values.at("empty_with_default"), "fallback");
  EXPECT_EQ(values.at("empty"), "");
  EXPECT_EQ(values.at("both"), "kafka-1/kafka-1");
  EXPECT_EQ(values.at("literal"), "cost: $5 and ${NOT_A_VAR}");
  EXPECT_EQ(values.at("quote_default"), "it's");
  EXPECT_EQ(values.at("${BROKER}"), "keys are not substituted");
}

TEST(DdlEnvTest, DefaultLookupReadsTheProcessEnvironment) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) GTEST_SKIP() << "PATH is not set";
  auto result = ParseScript("CREATE SOURCE s FROM datagen (p = '${PATH}')", "env.sql");
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->sources[0].options[0].value, path);
}

// One bad script, and where and how it must fail.
struct BadCase {
  const char* name;
  std::string text;
  int line;
  int column;
  const char* fragment;
};

std::ostream& operator<<(std::ostream& out, const BadCase& bad) { return out << bad.name; }

class DdlErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(DdlErrorTest, ReportsLineColumnAndMessage) {
  const BadCase& bad = GetParam();
  auto result = ParseScript(bad.text, "bad.sql", FakeEnv({{"SET", "x"}}));
  ASSERT_FALSE(result.ok()) << "parsed without error";
  const std::string message = result.status().message();
  const std::string prefix = "bad.sql:" + std::to_string(bad.line) + ":" + std::to_string(bad.column) + ": ";
  EXPECT_EQ(message.substr(0, prefix.size()), prefix) << message;
  EXPECT_NE(message.find(bad.fragment), std::string::npos) << message;
  EXPECT_EQ(KindOf(result.status()), ErrorKind::kConfig);
  // The caret sits under the reported column (the cases below use no tabs).
  const size_t caret_line = message.rfind('\n');
  ASSERT_NE(caret_line, std::string::npos) << message;
  EXPECT_EQ(message.substr(caret_line + 1), std::string(bad.column + 1, ' ') + "^") << message;
}

const char* const kSource = "CREATE SOURCE s FROM datagen ();\n";

INSTANTIATE_TEST_SUITE_P(
    BadInputs, DdlErrorTest,
    ::testing::Values(
        BadCase{"UnterminatedString", "CREATE SOURCE s FROM kafka (topic = 'orders);\n", 1, 37, "unterminated string"},
        BadCase{"UnterminatedBlockComment", "CREATE SOURCE s FROM datagen ();\n  /* never closed\n", 2, 3,
                "unterminated block comment"},
        BadCase{"UnterminatedQuotedIdentifier", "CREATE SOURCE \"s FROM datagen ();", 1, 15,
                "unterminated quoted identifier"},
        BadCase{"MissingCloseParen", "CREATE SOURCE s (id INT, name VARCHAR\nFROM kafka (topic = 't');", 2, 1,
                "expected ')' or ',' after column definition, found 'FROM'"},
        BadCase{"MissingCloseParenAtEnd", "CREATE SOURCE s (id INT", 1, 24,
                "expected ')' or ',' after column definition, found end of file"},
        BadCase{"UnknownTypeWithSuggestion", "CREATE SOURCE s (id INTEGR) FROM datagen ();", 1, 21,
                "unknown type 'INTEGR'; did you mean INTEGER?"},
        BadCase{"UnknownType", "CREATE SOURCE s (\n  id INT,\n  g GEOGRAPHY\n) FROM datagen ();", 3, 5,
                "unknown type 'GEOGRAPHY'"},
        BadCase{"IntervalUnsupported", "CREATE SOURCE s (d INTERVAL) FROM datagen ();", 1, 20,
                "type INTERVAL is not supported"},
        BadCase{"DecimalPrecisionTooLarge", "CREATE SOURCE s (a DECIMAL(39, 2)) FROM datagen ();", 1, 28,
                "DECIMAL precision must be between 1 and 38, got 39"},
        BadCase{"DecimalPrecisionZero", "CREATE SOURCE s (a NUMERIC(0)) FROM datagen ();", 1, 28,
                "NUMERIC precision must be between 1 and 38"},
        BadCase{"DecimalScaleAbovePrecision", "CREATE SOURCE s (a DECIMAL(10, 11)) FROM datagen ();", 1, 32,
                "scale must be between 0 and the precision (10), got 11"},
        BadCase{"DecimalNegative", "CREATE SOURCE s (a DECIMAL(-1)) FROM datagen ();", 1, 28,
                "expected the DECIMAL precision (a whole number), found '-'"},
        BadCase{"TimestampPrecision", "CREATE SOURCE s (t TIMESTAMP(12)) FROM datagen ();", 1, 30,
                "TIMESTAMP precision must be between 0 and 9, got 12"},
        BadCase{"WithoutTimeZoneWord", "CREATE SOURCE s (t TIMESTAMP WITH ZONE) FROM datagen ();", 1, 35,
                "expected TIME ZONE after WITH, found 'ZONE'"},
        BadCase{"ParamsOnPlainType", "CREATE SOURCE s (a INT(11)) FROM datagen ();", 1, 23,
                "type INT takes no parameters"},
        BadCase{"ArraySize", "CREATE SOURCE s (a INT[3]) FROM datagen ();", 1, 24, "expected ']' after '['"},
        BadCase{"ArrayWithoutAngle", "CREATE SOURCE s (a ARRAY INT) FROM datagen ();", 1, 26,
                "expected '<' after ARRAY, found 'INT'"},
        BadCase{"ArrayUnclosed", "CREATE SOURCE s (a ARRAY<INT) FROM datagen ();", 1, 29,
                "expected '>' to close ARRAY<...>, found ')'"},
        BadCase{"DuplicateStructField", "CREATE SOURCE s (a STRUCT<x INT, X TEXT>) FROM datagen ();", 1, 34,
                "duplicate STRUCT field 'X' (first declared at line 1, column 27)"},
        BadCase{"StructTrailingComma", "CREATE SOURCE s (a STRUCT<x INT,>) FROM datagen ();", 1, 32, "trailing ','"},
        BadCase{"NotWithoutNull", "CREATE SOURCE s (a INT NOT, b INT) FROM datagen ();", 1, 27,
                "expected NULL after NOT, found ','"},
        BadCase{"DuplicateColumn", "CREATE SOURCE s (id INT,\n  ID BIGINT) FROM datagen ();", 2, 3,
                "duplicate column 'ID' (first declared at line 1, column 18)"},
        BadCase{"EmptyColumnList", "CREATE SOURCE s () FROM datagen ();", 1, 18, "leave out the parentheses"},
        BadCase{"ColumnListTrailingComma", "CREATE SOURCE s (a INT, b INT,) FROM datagen ();", 1, 30,
                "trailing ',' before ')' in the column list"},
        BadCase{"DuplicateOptionKey", "CREATE SOURCE s FROM kafka (\n  topic = 'a',\n  topic = 'b'\n);", 3, 3,
                "duplicate option 'topic' (first set at line 2, column 3)"},
        BadCase{"OptionListTrailingComma", "CREATE SOURCE s FROM kafka (topic = 'a',);", 1, 40,
                "trailing ',' before ')' in the option list"},
        BadCase{"EmptyOptionKey", "CREATE SOURCE s FROM kafka ('' = 'a');", 1, 29, "an option key cannot be empty"},
        BadCase{"MissingEquals", "CREATE SOURCE s FROM kafka (topic 'a');", 1, 35,
                "expected '=' after option 'topic', found string 'a'"},
        BadCase{"BareWordValue", "CREATE SOURCE s FROM kafka (offset = earliest);", 1, 38,
                "quote text values: 'earliest'"},
        BadCase{"BareDuration", "CREATE SOURCE s FROM kafka (poll = 10s);", 1, 36,
                "bare value 10s is not a number; quote it: '10s'"},
        BadCase{"MissingOptionList", "CREATE SOURCE s FROM kafka;", 1, 27,
                "expected '(' to start the options of connector 'kafka', found ';'"},
        BadCase{"DanglingDashInConnector", "CREATE SOURCE s FROM delta- (path = 'p');", 1, 29,
                "expected a name segment right after '-'"},
        BadCase{"DuplicateFormat", "CREATE SOURCE s FROM kafka (format = 'csv') FORMAT json;", 1, 45,
                "FORMAT given, but option 'format' is already set at line 1, column 29"},
        BadCase{"MissingFromAfterColumns", "CREATE SOURCE s (id INT) kafka (topic = 't');", 1, 26,
                "expected FROM after the column list, found 'kafka'"},
        BadCase{"MissingFromInSink", std::string(kSource) + "CREATE SINK out s INTO kafka ();", 2, 17,
                "expected FROM after the sink name, found 's'"},
        BadCase{"MissingInto", std::string(kSource) + "CREATE SINK out FROM s kafka ();", 2, 24,
                "expected INTO after the source name, found 'kafka'"},
        BadCase{"CreateTable", "CREATE TABLE t (id INT);", 1, 8, "expected SOURCE or SINK after CREATE, found 'TABLE'"},
        BadCase{"StrayTokenAfterSemicolon", "CREATE SOURCE s FROM datagen (); )", 1, 34,
                "expected CREATE SOURCE or CREATE SINK, found ')'"},
        BadCase{"MissingSemicolonBetweenStatements",
                "CREATE SOURCE a FROM datagen ()\nCREATE SOURCE b FROM datagen ();", 2, 1,
                "expected FORMAT or ';' after the option list, found 'CREATE'"},
        BadCase{"BacktickIdentifier", "CREATE SOURCE `s` FROM datagen ();", 1, 15, "unexpected character '`'"},
        BadCase{"DuplicateSource", "CREATE SOURCE orders FROM datagen ();\nCREATE SOURCE ORDERS FROM datagen ();", 2,
                15, "duplicate source 'ORDERS' (first declared at line 1, column 15)"},
        BadCase{"DuplicateSink",
                std::string(kSource) + "CREATE SINK k FROM s INTO files ();\n"
                                       "CREATE SINK k FROM s INTO files ();",
                3, 13, "duplicate sink 'k'"},
        BadCase{"SinkFromUnknownSource", std::string(kSource) + "CREATE SINK k FROM order INTO files ();", 2, 20,
                "sink 'k' reads from unknown source 'order'; declared sources: s"},
        BadCase{"UnsetVariable", "CREATE SOURCE s FROM postgres (\n  password = 'pw-${DB_PASS}-x'\n);", 2, 18,
                "environment variable DB_PASS is not set"},
        BadCase{"UnterminatedVariable", "CREATE SOURCE s FROM kafka (a = '${SET');", 1, 34, "unterminated '${'"},
        BadCase{"InvalidVariableName", "CREATE SOURCE s FROM kafka (a = 'x${1X}');", 1, 35,
                "invalid variable reference '${1X}'"},
        BadCase{"ColumnCountsCharactersNotBytes", "CREATE SOURCE s (\"na\xC3\xAFve\" INTX) FROM datagen ();", 1, 26,
                "unknown type 'INTX'"},
        BadCase{"NulByte", std::string("CREATE SOURCE \0s FROM datagen ();", 33), 1, 15,
                "unexpected control character 0x00"},
        BadCase{"LongTokenIsCutAtACharacterBoundary",
                "CREATE SOURCE s FROM kafka (a = 'x') '" + std::string(38, 'y') + "\xC3\xA9\xC3\xA9';", 1, 38,
                "found string 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy...\n"},
        BadCase{"EmptyFile", "", 1, 1, "the file declares no sources"},
        BadCase{"OnlyComments", "-- nothing here\n/* still nothing */\n", 1, 1, "the file declares no sources"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(DdlErrorMessageTest, HasLocationSourceLineAndCaret) {
  auto result = ParseScript("CREATE SOURCE s (id INTEGR) FROM kafka ();", "pipe.sql", FakeEnv());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(),
            "pipe.sql:1:21: unknown type 'INTEGR'; did you mean INTEGER?\n"
            "  CREATE SOURCE s (id INTEGR) FROM kafka ();\n"
            "                      ^");
}

TEST(DdlErrorMessageTest, CaretRepeatsTabsAndSkipsMultiByteCharacters) {
  const std::string text = "CREATE SOURCE s (\n\t\"\xC3\xA9t\xC3\xA9\" BAD\n) FROM datagen ();\r\n";
  auto result = ParseScript(text, "tabs.sql", FakeEnv());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(),
            "tabs.sql:2:8: unknown type 'BAD'\n"
            "  \t\"\xC3\xA9t\xC3\xA9\" BAD\n"
            "  \t      ^");
}

TEST(DdlErrorMessageTest, ErrorAtServesLaterStages) {
  const Script script = MustParse("CREATE SOURCE s FROM kafka (\r\n  acks = 'most'\r\n);");
  const OptionDef& acks = script.sources.at(0).options.at(0);
  const arrow::Status status = ErrorAt(script, acks.value_location, "acks must be 0, 1 or all");
  EXPECT_EQ(KindOf(status), ErrorKind::kConfig);
  EXPECT_EQ(status.message(),
            "test.sql:2:10: acks must be 0, 1 or all\n"
            "    acks = 'most'\n"
            "           ^");
  // A location outside the text still names the position.
  EXPECT_EQ(ErrorAt("", "x", SourceLocation{7, 3}, "gone").message(), "<input>:7:3: gone");
}

TEST(DdlErrorMessageTest, ExcerptStarsOutTheValuesOfSecretOptions) {
  const std::string line =
      "INTO kafka ('sasl.password' = 'hunter2', \"ssl.key.password\"='it''s', password = '\xC3\xA9t\xC3\xA9', "
      "topic = 'hunter2', 'client.secret' = 'unterminated";
  const arrow::Status status = ErrorAt("p.sql", "-- first\n" + line + "\n", SourceLocation{2, 90}, "boom");
  EXPECT_EQ(status.message(),
            "p.sql:2:90: boom\n"
            "  INTO kafka ('sasl.password' = '*******', \"ssl.key.password\"='*****', password = '***', "
            "topic = 'hunter2', 'client.secret' = '************\n"
            "  " + std::string(89, ' ') + "^");
}

TEST(DdlErrorMessageTest, FirstProblemInFileOrderWins) {
  // A syntax error before an unterminated string is reported, not the string.
  auto result =
      ParseScript("CREATE SOURCE s (a INT FROM x ();\nCREATE SOURCE t FROM k (a = 'open", "order.sql", FakeEnv());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message().substr(0, 14), "order.sql:1:24");
}

class DdlFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("laminar_ddl_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(DdlFileTest, ParsesAFileAndNamesItInErrors) {
  const auto good = dir_ / "good.sql";
  std::ofstream(good) << "\xEF\xBB\xBF"
                         "CREATE SOURCE s FROM datagen ();\n";
  auto script = ParseFile(good.string(), FakeEnv());
  ASSERT_TRUE(script.ok()) << script.status().message();
  EXPECT_EQ(script->file_name, good.string());
  EXPECT_EQ(script->text, "CREATE SOURCE s FROM datagen ();\n");  // BOM dropped

  const auto bad = dir_ / "bad.sql";
  std::ofstream(bad) << "CREATE SOURCE s FROM datagen ()\nnonsense";
  auto failed = ParseFile(bad.string(), FakeEnv());
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().message().rfind(bad.string() + ":2:1: ", 0), 0u) << failed.status().message();
}

TEST_F(DdlFileTest, UnreadableFileIsAConfigErrorNamingThePath) {
  const auto missing = dir_ / "missing.sql";
  auto result = ParseFile(missing.string(), FakeEnv());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(KindOf(result.status()), ErrorKind::kConfig);
  EXPECT_NE(result.status().message().find(missing.string()), std::string::npos);
  EXPECT_NE(result.status().message().find("No such file"), std::string::npos) << result.status().message();

  auto directory = ParseFile(dir_.string(), FakeEnv());
  ASSERT_FALSE(directory.ok());
  EXPECT_NE(directory.status().message().find(dir_.string()), std::string::npos);
}

TEST(DdlTypesTest, LookupIgnoresCaseAndKnowsMultiWordNames) {
  ASSERT_NE(FindSqlType("bigint unsigned"), nullptr);
  EXPECT_TRUE(FindSqlType("bigint unsigned")->type->Equals(arrow::uint64()));
  EXPECT_TRUE(IsSqlTypePrefix("double"));
  EXPECT_FALSE(IsSqlTypePrefix("VARCHAR"));
  EXPECT_EQ(FindSqlType("UUID"), nullptr);
  EXPECT_EQ(SuggestSqlType("VARCAHR"), "VARCHAR");
  EXPECT_EQ(SuggestSqlType("GEOGRAPHY"), "");
}

TEST(DdlTypesTest, DescribeSqlTypesNamesEveryType) {
  const std::string table = DescribeSqlTypes();
  for (const char* name :
       {"BOOLEAN", "TINYINT UNSIGNED", "UBIGINT", "DOUBLE PRECISION", "FLOAT8", "DECIMAL(p, s)", "CHAR(n)", "BYTEA",
        "TIME", "TIMESTAMPTZ", "JSONB", "ARRAY<T>", "STRUCT<", "INTERVAL", "decimal128", "list<item: T>"}) {
    EXPECT_NE(table.find(name), std::string::npos) << name;
  }
  // Aligned: every line has the same width.
  std::istringstream lines(table);
  std::string line;
  std::getline(lines, line);
  const size_t width = line.size();
  while (std::getline(lines, line)) EXPECT_EQ(line.size(), width) << line;
}

TEST(DdlTypesTest, ReadmeCarriesTheSameTable) {
  // Keeps the one documented table in sync with the code that implements it.
  const auto readme = std::filesystem::path(__FILE__).parent_path() / "README.md";
  std::ifstream in(readme);
  if (!in) GTEST_SKIP() << "no README next to " << __FILE__;
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find(DescribeSqlTypes()), std::string::npos)
      << "README.md's type table differs from DescribeSqlTypes():\n"
      << DescribeSqlTypes();
}

}  // namespace
}  // namespace laminar::ddl
