#include <arrow/api.h>
#include <gtest/gtest.h>

#include "laminar/core/status.h"
#include "laminar/ddl/types.h"
#include "laminar/schema/evolution.h"
#include "laminar/schema/inference.h"
#include "laminar/schema/resolver.h"

namespace laminar::schema {
namespace {

using arrow::field;

std::shared_ptr<arrow::Schema> Infer(InferenceFormat format, std::vector<std::string_view> samples,
                                     InferenceOptions options = {}) {
  auto result = InferSchema(format, samples, options);
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.ok() ? *result : nullptr;
}

// ---------------------------------------------------------------- inference

TEST(InferenceTest, OptionsDefaults) {
  InferenceOptions o;
  EXPECT_EQ(o.number_inference, NumberInference::kPreferLarger);
  EXPECT_EQ(o.array_inference, ArrayInference::kUtf8);
  EXPECT_EQ(o.max_samples, 1000u);
  EXPECT_DOUBLE_EQ(o.min_confidence, 0.8);
  EXPECT_FALSE(o.empty_as_null);
  EXPECT_FALSE(o.detect_temporal);
}

TEST(InferenceTest, FormatsAndUnknownFormat) {
  EXPECT_EQ(*ParseInferenceFormat("json"), InferenceFormat::kJson);
  EXPECT_EQ(*ParseInferenceFormat("CSV"), InferenceFormat::kCsv);
  EXPECT_EQ(*ParseInferenceFormat("raw"), InferenceFormat::kRaw);
  auto xml = ParseInferenceFormat("xml");
  ASSERT_FALSE(xml.ok());
  EXPECT_NE(xml.status().message().find("'xml'"), std::string::npos);
}

TEST(InferenceTest, JsonKindsMapToTypes) {
  auto s = Infer(InferenceFormat::kJson, {R"({"i": 1, "f": 1.5, "b": true, "s": "x", "o": {"a": 1}, "a": [1]})"});
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->Equals(arrow::Schema({field("i", arrow::int64(), false), field("f", arrow::float64(), false),
                                       field("b", arrow::boolean(), false), field("s", arrow::utf8(), false),
                                       field("o", arrow::utf8(), false), field("a", arrow::utf8(), false)})))
      << s->ToString();
  EXPECT_TRUE(ddl::IsJsonField(*s->GetFieldByName("o")));
  EXPECT_TRUE(ddl::IsJsonField(*s->GetFieldByName("a")));
}

TEST(InferenceTest, NullAndMissingMakeNullable) {
  auto s = Infer(InferenceFormat::kJson, {R"({"a": 1, "b": null, "c": 1})", R"({"a": 2, "b": 3})"});
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->GetFieldByName("a")->nullable());
  EXPECT_TRUE(s->GetFieldByName("b")->nullable());
  EXPECT_TRUE(s->GetFieldByName("c")->nullable());  // missing from a sample
  EXPECT_EQ(s->field(1)->type()->id(), arrow::Type::INT64);
  auto all_null = Infer(InferenceFormat::kJson, {R"({"n": null})"});
  EXPECT_TRUE(all_null->field(0)->type()->Equals(arrow::utf8()));
  EXPECT_TRUE(all_null->field(0)->nullable());
}

TEST(InferenceTest, MixedKinds) {
  auto s = Infer(InferenceFormat::kJson, {R"({"x": 1, "y": 1})", R"({"x": 2.5, "y": "s"})"});
  EXPECT_EQ(s->GetFieldByName("x")->type()->id(), arrow::Type::DOUBLE);
  EXPECT_EQ(s->GetFieldByName("y")->type()->id(), arrow::Type::STRING);
  auto big = Infer(InferenceFormat::kJson, {R"({"u": 18446744073709551615})", R"({"u": 1})"});
  EXPECT_EQ(big->field(0)->type()->id(), arrow::Type::UINT64);
}

TEST(InferenceTest, HintConfidenceAndCounts) {
  InferenceOptions o;
  o.type_hints["id"] = arrow::int32();
  std::vector<std::string_view> samples = {R"({"id": 1, "v": "a"})", R"({"id": 2, "v": "b"})",
                                           R"({"id": 3, "v": "c"})"};
  auto r = InferSchemaDetailed(InferenceFormat::kJson, samples, o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->schema->field(0)->type()->Equals(arrow::int32()));
  EXPECT_TRUE(r->fields[0].hint_applied);
  EXPECT_FALSE(r->fields[1].hint_applied);
  EXPECT_DOUBLE_EQ(r->fields[1].confidence, 1.0);
  EXPECT_EQ(r->fields[1].non_null, 3);
  EXPECT_EQ(r->sample_count, 3u);
  EXPECT_DOUBLE_EQ(r->confidence, 1.0);
}

TEST(InferenceTest, LowConfidenceFallsBackToUtf8WithAWarning) {
  std::vector<std::string_view> samples = {R"({"x": 1})", R"({"x": 2})", R"({"x": "three"})", R"({"x": true})"};
  auto r = InferSchemaDetailed(InferenceFormat::kJson, samples, {});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->schema->field(0)->type()->Equals(arrow::utf8()));
  EXPECT_DOUBLE_EQ(r->fields[0].confidence, 0.25);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("'x'"), std::string::npos);
}

TEST(InferenceTest, ErrorsNameTheSample) {
  std::vector<std::string_view> bad = {R"({"a": 1})", "not json"};
  auto r = InferSchema(InferenceFormat::kJson, bad, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("sample 1"), std::string::npos);
  std::vector<std::string_view> array = {"[1, 2]"};
  auto a = InferSchema(InferenceFormat::kJson, array, {});
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("expected JSON object, got array"), std::string::npos);
  EXPECT_FALSE(InferSchema(InferenceFormat::kJson, {}, {}).ok());
  std::vector<std::string_view> empty = {"{}"};
  EXPECT_FALSE(InferSchema(InferenceFormat::kJson, empty, {}).ok());
}

TEST(InferenceTest, MaxSamplesIsHonoured) {
  InferenceOptions o;
  o.max_samples = 2;
  std::vector<std::string_view> samples = {R"({"a": 1})", R"({"a": 2})", R"({"a": "late string"})"};
  auto r = InferSchemaDetailed(InferenceFormat::kJson, samples, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->sample_count, 2u);
  EXPECT_EQ(r->schema->field(0)->type()->id(), arrow::Type::INT64);
}

TEST(InferenceTest, NumberInferenceModes) {
  std::vector<std::string_view> samples = {R"({"small": 1, "mid": 300, "big": 3000000000})",
                                           R"({"small": -5, "mid": -300, "big": 1})"};
  InferenceOptions smallest;
  smallest.number_inference = NumberInference::kPreferSmallest;
  auto s = Infer(InferenceFormat::kJson, samples, smallest);
  EXPECT_TRUE(s->field(0)->type()->Equals(arrow::int8()));
  EXPECT_TRUE(s->field(1)->type()->Equals(arrow::int16()));
  EXPECT_TRUE(s->field(2)->type()->Equals(arrow::int64()));
  InferenceOptions floats;
  floats.number_inference = NumberInference::kAlwaysFloat64;
  EXPECT_TRUE(Infer(InferenceFormat::kJson, samples, floats)->field(0)->type()->Equals(arrow::float64()));
}

TEST(InferenceTest, ArrayInferenceList) {
  InferenceOptions o;
  o.array_inference = ArrayInference::kList;
  auto s = Infer(InferenceFormat::kJson, {R"({"a": [1, 2], "b": [[1.5]], "c": []})", R"({"a": [3, null]})"}, o);
  EXPECT_TRUE(s->field(0)->type()->Equals(arrow::list(arrow::int64()))) << s->ToString();
  EXPECT_TRUE(s->field(1)->type()->Equals(arrow::list(arrow::list(arrow::float64())))) << s->ToString();
  EXPECT_TRUE(s->field(2)->type()->Equals(arrow::list(arrow::utf8())));
}

TEST(InferenceTest, TemporalDetectionIsOptIn) {
  std::vector<std::string_view> samples = {
      R"({"d": "2024-01-02", "ts": "2024-01-02T03:04:05Z", "n": "2024-01-02 03:04:05.1234567"})",
      R"({"d": "2024-02-29", "ts": "2024-01-02", "n": "2024-01-02 03:04:05"})"};
  auto off = Infer(InferenceFormat::kJson, samples);
  for (const auto& f : off->fields()) EXPECT_TRUE(f->type()->Equals(arrow::utf8())) << f->ToString();
  InferenceOptions o;
  o.detect_temporal = true;
  auto on = Infer(InferenceFormat::kJson, samples, o);
  EXPECT_TRUE(on->field(0)->type()->Equals(arrow::date32()));
  EXPECT_TRUE(on->field(1)->type()->Equals(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")));
  EXPECT_TRUE(on->field(2)->type()->Equals(arrow::timestamp(arrow::TimeUnit::NANO)));
  auto mixed = Infer(InferenceFormat::kJson, {R"({"d": "2024-01-02"})", R"({"d": "soon"})"}, o);
  EXPECT_TRUE(mixed->field(0)->type()->Equals(arrow::utf8()));
}

TEST(InferenceTest, EmptyAsNull) {
  std::vector<std::string_view> samples = {R"({"s": ""})", R"({"s": "x"})"};
  EXPECT_FALSE(Infer(InferenceFormat::kJson, samples)->field(0)->nullable());
  InferenceOptions o;
  o.empty_as_null = true;
  EXPECT_TRUE(Infer(InferenceFormat::kJson, samples, o)->field(0)->nullable());
}

TEST(InferenceTest, CsvBasicUsesTheRealTokenizer) {
  std::vector<std::string_view> samples = {"id,name,score,ok,note\n", "1,\"Smith, J\",1.5,true,\n",
                                           "2,\"Doe\",2,FALSE,\"x,y\"\n3,Roe,3.25,true,z"};
  auto r = InferSchemaDetailed(InferenceFormat::kCsv, samples, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->sample_count, 3u);  // data rows
  EXPECT_TRUE(r->schema->Equals(arrow::Schema(
      {field("id", arrow::int64(), false), field("name", arrow::utf8(), false), field("score", arrow::float64(), false),
       field("ok", arrow::boolean(), false), field("note", arrow::utf8(), true)})))
      << r->schema->ToString();
}

TEST(InferenceTest, CsvHeaderOnlyMismatchAndNoHeader) {
  auto header_only = InferSchemaDetailed(InferenceFormat::kCsv, std::vector<std::string_view>{"a,b\n"}, {});
  ASSERT_TRUE(header_only.ok());
  EXPECT_EQ(header_only->schema->num_fields(), 2);
  EXPECT_TRUE(header_only->schema->field(0)->type()->Equals(arrow::utf8()));
  EXPECT_DOUBLE_EQ(header_only->fields[0].confidence, 0.5);
  auto mismatch = InferSchemaDetailed(InferenceFormat::kCsv, std::vector<std::string_view>{"a,b\n1,2\n3,4,5\n"}, {});
  ASSERT_TRUE(mismatch.ok());
  ASSERT_EQ(mismatch->warnings.size(), 1u);
  EXPECT_NE(mismatch->warnings[0].find("column count mismatch: expected 2, got 3"), std::string::npos);
  InferenceOptions o;
  o.csv_has_header = false;
  auto plain = Infer(InferenceFormat::kCsv, {"1;x\n2;y\n"}, [] {
    InferenceOptions p;
    p.csv_has_header = false;
    p.csv_dialect.delimiter = ';';
    return p;
  }());
  EXPECT_EQ(plain->field(0)->name(), "column_1");
  EXPECT_TRUE(plain->field(0)->type()->Equals(arrow::int64()));
}

TEST(InferenceTest, RawIsBinaryValue) {
  auto s = Infer(InferenceFormat::kRaw, {"anything"});
  EXPECT_TRUE(s->Equals(arrow::Schema({field("value", arrow::binary(), false)})));
}

TEST(InferenceTest, SdkWrapperUsesTheSameEngine) {
  std::vector<std::string_view> json = {R"({"a": 1, "b": "x"})", R"({"a": 2})"};
  SchemaHints hints;
  hints.field_names = {"b", "a", "zz"};
  hints.nullable_fields = {"a"};
  auto s = InferSchemaFromSamples(json, "json", hints);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ((*s)->num_fields(), 3);
  EXPECT_EQ((*s)->field(0)->name(), "b");
  EXPECT_TRUE((*s)->field(0)->nullable());  // missing from a sample: the engine's rule
  EXPECT_TRUE((*s)->field(1)->nullable());  // forced
  EXPECT_EQ((*s)->field(1)->type()->id(), arrow::Type::INT64);
  std::vector<std::string_view> csv = {"1,x", "2,y"};
  SchemaHints names;
  names.field_names = {"id", "name"};
  auto c = InferSchemaFromSamples(csv, "csv", names);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->field(0)->name(), "id");
  EXPECT_EQ((*c)->field(0)->type()->id(), arrow::Type::INT64);
  auto header = InferSchemaFromSamples(std::vector<std::string_view>{"id,name", "1,x"}, "csv", {});
  ASSERT_TRUE(header.ok());
  EXPECT_EQ((*header)->field(1)->name(), "name");
  EXPECT_FALSE(InferSchemaFromSamples({}, "json", {}).ok());
  EXPECT_FALSE(InferSchemaFromSamples(csv, "avro", {}).ok());
  EXPECT_FALSE(InferSchemaFromSamples(csv, "raw", {}).ok());
}

// ---------------------------------------------------------------- resolver

std::shared_ptr<arrow::Schema> SourceSchema() {
  return arrow::schema({field("id", arrow::int64()), field("name", arrow::utf8()), field("age", arrow::int64())});
}

SchemaSources Provider(std::shared_ptr<arrow::Schema> s) {
  SchemaSources sources;
  sources.provider = [s]() -> arrow::Result<std::shared_ptr<arrow::Schema>> { return s; };
  return sources;
}

std::vector<std::string> Names(const arrow::Schema& s) {
  std::vector<std::string> out;
  for (const auto& f : s.fields()) out.push_back(f->name());
  return out;
}

TEST(ResolverTest, DeclaredWithoutWildcard) {
  DeclaredSchema d{arrow::schema({field("x", arrow::int32())}), false, ""};
  auto r = ResolveSchema(d, Provider(SourceSchema()), {}, "source 'orders'");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, SchemaKind::kDeclared);
  EXPECT_EQ(r->origins, std::vector<FieldOrigin>{FieldOrigin::kUserDeclared});
  EXPECT_STREQ(FieldOriginName(FieldOrigin::kWildcardInferred), "WILDCARD");
}

TEST(ResolverTest, WildcardMergeOrderOriginsAndOverride) {
  DeclaredSchema d{arrow::schema({field("extra", arrow::utf8())}), true, ""};
  auto r = ResolveSchema(d, Provider(SourceSchema()), {}, "source 'orders'");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Names(*r->schema), (std::vector<std::string>{"extra", "id", "name", "age"}));
  EXPECT_EQ(r->origins[0], FieldOrigin::kUserDeclared);
  EXPECT_EQ(r->origins[1], FieldOrigin::kWildcardInferred);
  EXPECT_EQ(r->kind, SchemaKind::kSourceProvided);

  DeclaredSchema overlap{arrow::schema({field("id", arrow::int32())}), true, ""};
  auto o = ResolveSchema(overlap, Provider(SourceSchema()), {}, "source 'orders'");
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->schema->field(0)->type()->Equals(arrow::int32()));
  bool warned = false;
  for (const auto& w : o->warnings) warned = warned || w.find("int32") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST(ResolverTest, ConflictingDeclaredTypeIsAnErrorNamingTheColumn) {
  DeclaredSchema d{arrow::schema({field("name", arrow::int32())}), true, ""};
  auto r = ResolveSchema(d, Provider(SourceSchema()), {}, "source 'orders'");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("column 'name'"), std::string::npos);
  EXPECT_EQ(KindOf(r.status()), ErrorKind::kConfig);
}

TEST(ResolverTest, PrefixAndCollisions) {
  DeclaredSchema d{arrow::schema({field("extra", arrow::utf8())}), true, "src_"};
  auto r = ResolveSchema(d, Provider(SourceSchema()), {}, "x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Names(*r->schema), (std::vector<std::string>{"extra", "src_id", "src_name", "src_age"}));
  DeclaredSchema clash{arrow::schema({field("src_name", arrow::utf8())}), true, "src_"};
  auto c = ResolveSchema(clash, Provider(SourceSchema()), {}, "x");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("src_name"), std::string::npos);
  DeclaredSchema clash_id{arrow::schema({field("src_id", arrow::int64())}), true, "src_"};
  EXPECT_FALSE(ResolveSchema(clash_id, Provider(SourceSchema()), {}, "x").ok());
}

TEST(ResolverTest, EmptyDeclarationAndWildcardErrors) {
  auto none = ResolveSchema(DeclaredSchema{}, SchemaSources{}, {}, "source 'orders'");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no schema could be resolved"), std::string::npos);
  DeclaredSchema wildcard{nullptr, true, ""};
  auto w = ResolveSchema(wildcard, SchemaSources{}, {}, "x");
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("'*'"), std::string::npos);
  DeclaredSchema all{SourceSchema(), true, ""};
  auto nothing_new = ResolveSchema(all, Provider(SourceSchema()), {}, "x");
  ASSERT_FALSE(nothing_new.ok());
  EXPECT_NE(nothing_new.status().message().find("no column beyond"), std::string::npos);
}

TEST(ResolverTest, PriorityFallThroughAndInference) {
  SchemaSources sources;
  sources.registry = []() -> arrow::Result<RegistrySchema> { return arrow::Status::IOError("registry down"); };
  sources.provider = []() -> arrow::Result<std::shared_ptr<arrow::Schema>> {
    return arrow::Status::IOError("no table");
  };
  sources.sampler = [](size_t) -> arrow::Result<std::vector<std::string>> {
    return std::vector<std::string>{R"({"a": 1})", R"({"a": 2, "b": "x"})"};
  };
  auto r = ResolveSchema(DeclaredSchema{}, sources, {}, "x");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->kind, SchemaKind::kInferred);
  EXPECT_EQ(r->sample_count, 2u);
  EXPECT_EQ(r->origins, (std::vector<FieldOrigin>{FieldOrigin::kAutoResolved, FieldOrigin::kAutoResolved}));
  ASSERT_GE(r->warnings.size(), 2u);  // both failures surfaced, not swallowed
  EXPECT_NE(r->warnings[0].find("registry down"), std::string::npos);

  sources.provider_is_authoritative = true;
  EXPECT_FALSE(ResolveSchema(DeclaredSchema{}, sources, {}, "x").ok());

  SchemaSources registry;
  registry.registry = []() -> arrow::Result<RegistrySchema> {
    return RegistrySchema{arrow::schema({field("r", arrow::utf8())}), 42};
  };
  auto g = ResolveSchema(DeclaredSchema{}, registry, {}, "x");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->kind, SchemaKind::kRegistry);
  EXPECT_EQ(g->registry_schema_id, 42);
}

TEST(ResolverTest, RegistrySubjectFromConfig) {
  ConnectorConfig config("kafka", {{"topic", "orders"}});
  EXPECT_EQ(*RegistrySubject(config), "orders-value");
  config.Set("schema.registry.subject", "custom");
  EXPECT_EQ(*RegistrySubject(config), "custom");
  EXPECT_FALSE(RegistrySubject(ConnectorConfig("kafka")).ok());
}

// ---------------------------------------------------------------- evolution

TEST(EvolutionTest, WideningTable) {
  using namespace arrow;
  const std::vector<std::pair<std::shared_ptr<DataType>, std::vector<std::shared_ptr<DataType>>>> safe = {
      {int8(), {int16(), int32(), int64(), float32(), float64()}},
      {int16(), {int32(), int64(), float32(), float64()}},
      {int32(), {int64(), float64()}},
      {uint8(), {uint16(), uint32(), uint64()}},
      {uint16(), {uint32(), uint64()}},
      {uint32(), {uint64()}},
      {float16(), {float32(), float64()}},
      {float32(), {float64()}},
      {utf8(), {large_utf8()}},
      {binary(), {large_binary()}},
  };
  for (const auto& [from, tos] : safe) {
    for (const auto& to : tos) {
      EXPECT_TRUE(IsSafeWidening(*from, *to)) << from->ToString() << " -> " << to->ToString();
      EXPECT_FALSE(IsSafeWidening(*to, *from)) << to->ToString() << " -> " << from->ToString();
    }
  }
  EXPECT_FALSE(IsSafeWidening(*int64(), *float64()));
  EXPECT_FALSE(IsSafeWidening(*int32(), *float32()));
  EXPECT_FALSE(IsSafeWidening(*utf8(), *int64()));
  EXPECT_FALSE(IsSafeWidening(*int8(), *uint8()));
  EvolutionOptions lossy;
  lossy.allow_lossy_int64_to_float64 = true;
  EXPECT_TRUE(IsSafeWidening(*int64(), *float64(), lossy));
}

TEST(EvolutionTest, Diff) {
  auto old_s =
      arrow::schema({field("a", arrow::int32()), field("b", arrow::utf8()), field("c", arrow::int64(), false)});
  auto new_s = arrow::schema({field("a", arrow::int64()), field("c", arrow::int64(), true), field("d", arrow::utf8())});
  auto changes = DiffSchemas(*old_s, *new_s);
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes[0].kind, SchemaChange::Kind::kColumnRemoved);
  EXPECT_EQ(changes[0].name, "b");
  EXPECT_EQ(changes[1].kind, SchemaChange::Kind::kColumnAdded);
  EXPECT_EQ(changes[1].name, "d");
  EXPECT_EQ(changes[2].kind, SchemaChange::Kind::kTypeChanged);
  EXPECT_EQ(changes[3].kind, SchemaChange::Kind::kNullabilityChanged);
  EXPECT_TRUE(DiffSchemas(*old_s, *old_s).empty());
  auto multi = DiffSchemas(*arrow::schema({field("x", arrow::int32()), field("y", arrow::utf8())}),
                           *arrow::schema({field("x", arrow::int64()), field("z", arrow::utf8())}));
  EXPECT_EQ(multi.size(), 3u);
}

SchemaChange Change(SchemaChange::Kind kind, std::shared_ptr<arrow::DataType> from = nullptr,
                    std::shared_ptr<arrow::DataType> to = nullptr, bool old_nullable = true, bool new_nullable = true) {
  SchemaChange c;
  c.kind = kind;
  c.name = "col";
  c.new_name = "col2";
  c.old_type = from ? from : arrow::int32();
  c.new_type = to ? to : arrow::int32();
  c.old_nullable = old_nullable;
  c.new_nullable = new_nullable;
  return c;
}

TEST(EvolutionTest, EvaluationRules) {
  using K = SchemaChange::Kind;
  using M = CompatibilityMode;
  auto verdict = [](SchemaChange c, M mode) { return EvaluateEvolution({c}, mode).verdict; };
  EXPECT_EQ(EvaluateEvolution({}, M::kFull).verdict, Verdict::kCompatible);
  EXPECT_EQ(verdict(Change(K::kTypeChanged, arrow::utf8(), arrow::int64()), M::kNone), Verdict::kCompatible);
  // add nullable / non-nullable
  EXPECT_EQ(verdict(Change(K::kColumnAdded), M::kFull), Verdict::kCompatible);
  EXPECT_EQ(verdict(Change(K::kColumnAdded, nullptr, nullptr, true, false), M::kBackward), Verdict::kIncompatible);
  EXPECT_EQ(verdict(Change(K::kColumnAdded, nullptr, nullptr, true, false), M::kForward), Verdict::kCompatible);
  // remove
  EXPECT_EQ(verdict(Change(K::kColumnRemoved), M::kForward), Verdict::kIncompatible);
  EXPECT_EQ(verdict(Change(K::kColumnRemoved), M::kBackward), Verdict::kRequiresMigration);
  // widening / narrowing / unrelated
  EXPECT_EQ(verdict(Change(K::kTypeChanged, arrow::int32(), arrow::int64()), M::kBackward), Verdict::kCompatible);
  EXPECT_EQ(verdict(Change(K::kTypeChanged, arrow::int32(), arrow::int64()), M::kForward), Verdict::kIncompatible);
  EXPECT_EQ(verdict(Change(K::kTypeChanged, arrow::int64(), arrow::int32()), M::kBackward), Verdict::kIncompatible);
  EXPECT_EQ(verdict(Change(K::kTypeChanged, arrow::int64(), arrow::int32()), M::kForward), Verdict::kRequiresMigration);
  EXPECT_EQ(verdict(Change(K::kTypeChanged, arrow::utf8(), arrow::int32()), M::kBackward), Verdict::kIncompatible);
  // nullability
  EXPECT_EQ(verdict(Change(K::kNullabilityChanged, nullptr, nullptr, true, false), M::kBackward),
            Verdict::kIncompatible);
  EXPECT_EQ(verdict(Change(K::kNullabilityChanged, nullptr, nullptr, true, false), M::kForward),
            Verdict::kRequiresMigration);
  EXPECT_EQ(verdict(Change(K::kNullabilityChanged, nullptr, nullptr, false, true), M::kFull), Verdict::kCompatible);
  // rename
  auto rename = EvaluateEvolution({Change(K::kColumnRenamed)}, M::kBackward);
  EXPECT_EQ(rename.verdict, Verdict::kIncompatible);
  EXPECT_NE(rename.reason.find("field IDs"), std::string::npos);
  EXPECT_NE(rename.reason.find("'col'"), std::string::npos);
  // The lossy int64 -> float64 option.
  EvolutionOptions lossy;
  lossy.allow_lossy_int64_to_float64 = true;
  EXPECT_EQ(EvaluateEvolution({Change(K::kTypeChanged, arrow::int64(), arrow::float64())}, M::kBackward, lossy).verdict,
            Verdict::kCompatible);
  EXPECT_EQ(verdict(Change(K::kTypeChanged, arrow::int64(), arrow::float64()), M::kBackward), Verdict::kIncompatible);
  EXPECT_EQ(*ParseCompatibilityMode("FULL-transitive"), M::kFullTransitive);
  EXPECT_FALSE(ParseCompatibilityMode("sideways").ok());
}

TEST(EvolutionTest, ApplyKeepsTheProposedOrder) {
  auto a = arrow::schema({field("a", arrow::int32())});
  auto ab = arrow::schema({field("a", arrow::int32()), field("b", arrow::utf8())});
  auto p1 = ApplyEvolution(*a, *ab, DiffSchemas(*a, *ab));
  EXPECT_EQ(p1.mappings, (std::vector<std::optional<int>>{0, std::nullopt}));
  auto p2 = ApplyEvolution(*ab, *a, DiffSchemas(*ab, *a));
  EXPECT_EQ(p2.mappings, (std::vector<std::optional<int>>{0}));
  auto abc = arrow::schema({field("a", arrow::int64()), field("b", arrow::utf8()), field("c", arrow::utf8())});
  auto p3 = ApplyEvolution(*ab, *abc, DiffSchemas(*ab, *abc));
  EXPECT_EQ(p3.mappings, (std::vector<std::optional<int>>{0, 1, std::nullopt}));
  EXPECT_TRUE(p3.target_schema->Equals(*abc));
  auto reordered = arrow::schema({field("c", arrow::utf8()), field("b", arrow::utf8()), field("a", arrow::int32())});
  auto p4 = ApplyEvolution(*ab, *reordered, DiffSchemas(*ab, *reordered));
  EXPECT_EQ(p4.mappings, (std::vector<std::optional<int>>{std::nullopt, 1, 0}));
  SchemaChange rename;
  rename.kind = SchemaChange::Kind::kColumnRenamed;
  rename.name = "b";
  rename.new_name = "bee";
  auto renamed = arrow::schema({field("a", arrow::int32()), field("bee", arrow::utf8())});
  EXPECT_EQ(ApplyEvolution(*ab, *renamed, {rename}).mappings, (std::vector<std::optional<int>>{0, 1}));
}

TEST(EvolutionTest, HistoryAndEngine) {
  SchemaHistory history;
  EXPECT_EQ(history.Latest("s"), nullptr);
  EXPECT_EQ(history.Record("s", arrow::schema({field("a", arrow::int32())}), {}, EvolutionTrigger::kDdl), 1);
  EXPECT_EQ(history.Record("s", arrow::schema({field("a", arrow::int64())}), {}, EvolutionTrigger::kRegistry, 7), 2);
  ASSERT_NE(history.Latest("s"), nullptr);
  EXPECT_EQ(history.Latest("s")->version, 2);
  EXPECT_EQ(history.Latest("s")->registry_schema_id, 7);
  EXPECT_EQ(history.Versions("s").size(), 2u);
  EXPECT_TRUE(history.Versions("other").empty());

  SchemaEvolutionEngine engine(CompatibilityMode::kBackward);
  auto v0 = arrow::schema({field("id", arrow::int32(), false)});
  auto same = engine.Evolve("orders", v0, v0, EvolutionTrigger::kDdl);
  ASSERT_TRUE(same.ok());
  EXPECT_FALSE(same->changed);
  auto v1 = arrow::schema({field("id", arrow::int64(), false), field("note", arrow::utf8())});
  auto applied = engine.Evolve("orders", v0, v1, EvolutionTrigger::kDdl);
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_TRUE(applied->changed);
  EXPECT_EQ(applied->version, 1);
  EXPECT_EQ(applied->projection.mappings, (std::vector<std::optional<int>>{0, std::nullopt}));
  auto v2 = arrow::schema(
      {field("id", arrow::int64(), false), field("note", arrow::utf8()), field("must", arrow::utf8(), false)});
  auto rejected = engine.Evolve("orders", v1, v2, EvolutionTrigger::kDdl);
  ASSERT_FALSE(rejected.ok());
  EXPECT_NE(rejected.status().message().find("'must'"), std::string::npos);
  EXPECT_NE(rejected.status().message().find("'orders'"), std::string::npos);
  EXPECT_EQ(engine.history().Versions("orders").size(), 1u);
}

TEST(EvolutionTest, TransitiveModesCheckEveryVersion) {
  auto x1 = arrow::schema({field("a", arrow::int32())});
  auto x2 = arrow::schema({field("a", arrow::int32()), field("b", arrow::utf8())});
  auto strict = arrow::schema({field("a", arrow::int32()), field("b", arrow::utf8(), false)});
  auto strict_c =
      arrow::schema({field("a", arrow::int32()), field("b", arrow::utf8(), false), field("c", arrow::utf8())});
  // Both engines record x2 as version 1.
  SchemaEvolutionEngine plain(CompatibilityMode::kBackward);
  SchemaEvolutionEngine transitive(CompatibilityMode::kBackwardTransitive);
  for (auto* engine : {&plain, &transitive}) {
    ASSERT_TRUE(engine->Evolve("u", x1, x2, EvolutionTrigger::kDdl).ok());
    EXPECT_FALSE(engine->Evolve("u", x2, strict, EvolutionTrigger::kDdl).ok());  // b -> NOT NULL
  }
  // strict -> strict_c only adds a nullable column: fine against the current schema, but
  // against version 1 (x2) it still turns 'b' NOT NULL.
  EXPECT_TRUE(plain.Evolve("u", strict, strict_c, EvolutionTrigger::kDdl).ok());
  auto t = transitive.Evolve("u", strict, strict_c, EvolutionTrigger::kDdl);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("'b'"), std::string::npos);
  EXPECT_NE(t.status().message().find("against version 1"), std::string::npos);
}

}  // namespace
}  // namespace laminar::schema
