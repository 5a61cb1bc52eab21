#include "laminar/schema/inference.h"

#include <arrow/api.h>
#include <boost/json.hpp>

#include <algorithm>
#include <limits>
#include <unordered_map>

#include "laminar/core/status.h"
#include "laminar/ddl/types.h"
#include "laminar/serde/csv/text_values.h"

namespace laminar::schema {

namespace {

// What was seen for one column (or for the elements of an array column).
struct Acc {
  int64_t nulls = 0;
  int64_t present = 0;  // samples that had the field at all
  int64_t bools = 0, ints = 0, big_uints = 0, floats = 0, strings = 0, arrays = 0, objects = 0;
  int64_t dates = 0, timestamps = 0, with_offset = 0;
  int max_fraction_digits = 0;
  int64_t min_int = std::numeric_limits<int64_t>::max();
  int64_t max_int = std::numeric_limits<int64_t>::min();
  std::unique_ptr<Acc> element;

  int64_t non_null() const { return bools + ints + big_uints + floats + strings + arrays + objects; }

  void AddInt(int64_t v) {
    ++ints;
    min_int = std::min(min_int, v);
    max_int = std::max(max_int, v);
  }
  void AddString(std::string_view s, const InferenceOptions& options) {
    if (s.empty() && options.empty_as_null) {
      ++nulls;
      return;
    }
    ++strings;
    if (!options.detect_temporal) return;
    if (s.size() == 10 && serde::ParseIsoDate(s)) {
      ++dates;
    } else if (auto t = serde::ParseIsoTimestamp(s); t && t->has_time) {
      ++timestamps;
      if (t->has_offset) ++with_offset;
      max_fraction_digits = std::max(max_fraction_digits, t->fraction_digits);
    }
  }
};

struct Columns {
  std::vector<std::pair<std::string, Acc>> list;
  std::unordered_map<std::string, size_t> index;

  Acc& Get(const std::string& name) {
    auto it = index.find(name);
    if (it != index.end()) return list[it->second].second;
    index.emplace(name, list.size());
    list.emplace_back(name, Acc());
    return list.back().second;
  }
};

void AddJson(Acc& acc, const boost::json::value& v, const InferenceOptions& options) {
  switch (v.kind()) {
    case boost::json::kind::null:
      ++acc.nulls;
      break;
    case boost::json::kind::bool_:
      ++acc.bools;
      break;
    case boost::json::kind::int64:
      acc.AddInt(v.get_int64());
      break;
    case boost::json::kind::uint64:
      if (v.get_uint64() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        acc.AddInt(static_cast<int64_t>(v.get_uint64()));
      } else {
        ++acc.big_uints;
      }
      break;
    case boost::json::kind::double_:
      ++acc.floats;
      break;
    case boost::json::kind::string: {
      const auto& s = v.get_string();
      acc.AddString(std::string_view(s.data(), s.size()), options);
      break;
    }
    case boost::json::kind::array:
      ++acc.arrays;
      if (options.array_inference == ArrayInference::kList) {
        if (!acc.element) acc.element = std::make_unique<Acc>();
        for (const auto& item : v.get_array()) {
          ++acc.element->present;
          AddJson(*acc.element, item, options);
        }
      }
      break;
    case boost::json::kind::object:
      ++acc.objects;
      break;
  }
}

const char* JsonKindName(boost::json::kind kind) {
  switch (kind) {
    case boost::json::kind::null:
      return "null";
    case boost::json::kind::bool_:
      return "boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_:
      return "number";
    case boost::json::kind::string:
      return "string";
    case boost::json::kind::array:
      return "array";
    case boost::json::kind::object:
      return "object";
  }
  return "?";
}

std::shared_ptr<arrow::Field> JsonTextField(const std::string& name, bool nullable) {
  return arrow::field(name, arrow::utf8(), nullable, ddl::JsonTypeMetadata());
}

std::shared_ptr<arrow::DataType> SmallestInt(int64_t lo, int64_t hi) {
  auto fits = [&](int64_t min, int64_t max) { return lo >= min && hi <= max; };
  if (fits(std::numeric_limits<int8_t>::min(), std::numeric_limits<int8_t>::max())) return arrow::int8();
  if (fits(std::numeric_limits<int16_t>::min(), std::numeric_limits<int16_t>::max())) return arrow::int16();
  if (fits(std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max())) return arrow::int32();
  return arrow::int64();
}

// The type for what `acc` saw, and how many non-null samples are of that type.
struct Decision {
  std::shared_ptr<arrow::DataType> type;
  bool json_text = false;
  int64_t matching = 0;
};

Decision Decide(const Acc& acc, const InferenceOptions& options) {
  const int64_t numbers = acc.ints + acc.big_uints + acc.floats;
  const int kinds = (acc.bools > 0) + (numbers > 0) + (acc.strings > 0) + (acc.arrays > 0) + (acc.objects > 0);
  if (kinds == 0) return {arrow::utf8(), false, 0};
  if (kinds > 1) return {arrow::utf8(), false, acc.strings};
  if (acc.bools > 0) return {arrow::boolean(), false, acc.bools};
  if (numbers > 0) {
    if (options.number_inference == NumberInference::kAlwaysFloat64 || acc.floats > 0 ||
        (acc.big_uints > 0 && acc.ints > 0 && acc.min_int < 0)) {
      return {arrow::float64(), false, numbers};
    }
    if (acc.big_uints > 0) return {arrow::uint64(), false, numbers};
    if (options.number_inference == NumberInference::kPreferSmallest) {
      return {SmallestInt(acc.min_int, acc.max_int), false, numbers};
    }
    return {arrow::int64(), false, numbers};
  }
  if (acc.strings > 0) {
    if (options.detect_temporal && acc.dates == acc.strings) return {arrow::date32(), false, acc.strings};
    if (options.detect_temporal && acc.timestamps > 0 && acc.dates + acc.timestamps == acc.strings) {
      const auto unit = acc.max_fraction_digits > 6 ? arrow::TimeUnit::NANO : arrow::TimeUnit::MICRO;
      return {acc.with_offset > 0 ? arrow::timestamp(unit, "UTC") : arrow::timestamp(unit), false, acc.strings};
    }
    return {arrow::utf8(), false, acc.strings};
  }
  if (acc.arrays > 0) {
    if (options.array_inference == ArrayInference::kList) {
      std::shared_ptr<arrow::DataType> item = arrow::utf8();
      std::shared_ptr<const arrow::KeyValueMetadata> item_meta;
      if (acc.element) {
        const Decision d = Decide(*acc.element, options);
        item = d.type;
        if (d.json_text) item_meta = ddl::JsonTypeMetadata();
      }
      return {arrow::list(arrow::field("item", item, true, item_meta)), false, acc.arrays};
    }
    return {arrow::utf8(), true, acc.arrays};
  }
  return {arrow::utf8(), true, acc.objects};
}

InferenceResult Finish(const Columns& columns, size_t sample_count, const InferenceOptions& options) {
  InferenceResult result;
  result.sample_count = sample_count;
  std::vector<std::shared_ptr<arrow::Field>> fields;
  double total = 0;
  for (const auto& [name, acc] : columns.list) {
    FieldInference info;
    info.name = name;
    info.non_null = acc.non_null();
    const int64_t missing = static_cast<int64_t>(sample_count) - acc.present;
    info.nulls = acc.nulls + std::max<int64_t>(missing, 0);
    const bool nullable = info.nulls > 0 || info.non_null == 0;
    Decision d = Decide(acc, options);
    info.confidence = info.non_null == 0 ? 0.5 : static_cast<double>(d.matching) / static_cast<double>(info.non_null);
    auto hint = options.type_hints.find(name);
    if (hint != options.type_hints.end()) {
      d.type = hint->second;
      d.json_text = false;
      info.hint_applied = true;
      info.confidence = 1.0;
    } else if (info.non_null > 0 && info.confidence < options.min_confidence) {
      result.warnings.push_back("column '" + name + "': low confidence " + std::to_string(info.confidence) +
                                " (its samples have mixed types), falling back to utf8");
      d.type = arrow::utf8();
      d.json_text = false;
    }
    fields.push_back(d.json_text ? JsonTextField(name, nullable) : arrow::field(name, d.type, nullable));
    total += info.confidence;
    result.fields.push_back(std::move(info));
  }
  for (const auto& [name, type] : options.type_hints) {
    if (!columns.index.count(name))
      result.warnings.push_back("type hint for '" + name + "': no such column in the samples");
  }
  result.confidence = result.fields.empty() ? 0 : total / static_cast<double>(result.fields.size());
  result.schema = arrow::schema(std::move(fields));
  return result;
}

arrow::Result<InferenceResult> InferJson(std::span<const std::string_view> samples, const InferenceOptions& options) {
  Columns columns;
  const size_t used = std::min(samples.size(), options.max_samples);
  for (size_t i = 0; i < used; ++i) {
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(boost::json::string_view(samples[i].data(), samples[i].size()), ec);
    if (ec) return arrow::Status::Invalid("schema inference: sample ", i, " is not valid JSON: ", ec.message());
    if (!v.is_object()) {
      return arrow::Status::Invalid("schema inference: sample ", i, ": expected JSON object, got ",
                                    JsonKindName(v.kind()));
    }
    for (const auto& kv : v.get_object()) {
      Acc& acc = columns.Get(std::string(kv.key()));
      ++acc.present;
      AddJson(acc, kv.value(), options);
    }
  }
  if (columns.list.empty()) return arrow::Status::Invalid("schema inference: the samples have no fields");
  return Finish(columns, used, options);
}

void AddCsvValue(Acc& acc, const serde::CsvField& field, const InferenceOptions& options) {
  if (!field.quoted && field.text == options.csv_null_string) {
    ++acc.nulls;
    return;
  }
  const std::string_view t = serde::TrimBlanks(field.text);
  if (t.empty()) {
    acc.AddString(field.text, options);
    return;
  }
  if (t.size() <= 5 && (t.size() == 4 || t.size() == 5)) {
    std::string lower(t);
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "true" || lower == "false") {
      ++acc.bools;
      return;
    }
  }
  if (auto i = serde::ParseInt64Text(t)) {
    acc.AddInt(*i);
    return;
  }
  if (serde::ParseUInt64Text(t)) {
    ++acc.big_uints;
    return;
  }
  // Only real numbers: "inf"/"nan" are words in a CSV column.
  if (std::any_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }) && serde::ParseDoubleText(t)) {
    ++acc.floats;
    return;
  }
  acc.AddString(field.text, options);
}

arrow::Result<InferenceResult> InferCsv(std::span<const std::string_view> samples, const InferenceOptions& options) {
  serde::CsvTokenizer tokenizer(options.csv_dialect);
  std::vector<std::string> names = options.csv_has_header ? std::vector<std::string>() : options.csv_field_names;
  bool header_pending = options.csv_has_header;
  bool fixed_width = !header_pending && !names.empty();  // extra fields are ignored, not new columns
  Columns columns;
  std::vector<std::string> warnings;
  auto column = [&](size_t i) -> Acc& {
    while (columns.list.size() <= i) {
      const size_t n = columns.list.size();
      std::string name = n < names.size() ? names[n] : std::string();
      if (name.empty()) name = "column_" + std::to_string(n + 1);
      const std::string base = name;
      for (int k = 2; columns.index.count(name); ++k) name = base + "_" + std::to_string(k);
      if (name != base) warnings.push_back("duplicate column name '" + base + "' renamed to '" + name + "'");
      columns.Get(name);
    }
    return columns.list[i].second;
  };
  for (size_t i = 0; i < names.size(); ++i) column(i);
  size_t rows = 0;
  size_t skip = options.csv_skip_rows;
  for (size_t s = 0; s < samples.size() && rows < options.max_samples; ++s) {
    size_t pos = 0;
    while (rows < options.max_samples) {
      const serde::CsvScan scan = tokenizer.Next(samples[s], &pos, /*last=*/true);
      if (scan == serde::CsvScan::kEnd) break;
      if (scan == serde::CsvScan::kComment || scan == serde::CsvScan::kBlank) continue;
      if (!tokenizer.error().empty()) {
        return arrow::Status::Invalid("schema inference: sample ", s, ": ", tokenizer.error());
      }
      const auto& fields = tokenizer.fields();
      if (header_pending) {
        header_pending = false;
        fixed_width = true;
        for (const auto& f : fields) names.emplace_back(serde::TrimBlanks(f.text));
        for (size_t i = 0; i < names.size(); ++i) column(i);
        continue;
      }
      if (skip > 0) {  // skipped as the decoder skips them: once, after the header
        --skip;
        continue;
      }
      ++rows;
      if (fixed_width && fields.size() != names.size()) {
        warnings.push_back("row " + std::to_string(rows) + ": column count mismatch: expected " +
                           std::to_string(names.size()) + ", got " + std::to_string(fields.size()));
      }
      const size_t count = fixed_width ? std::min(fields.size(), names.size()) : fields.size();
      for (size_t i = 0; i < count; ++i) {
        Acc& acc = column(i);
        ++acc.present;
        AddCsvValue(acc, fields[i], options);
      }
    }
  }
  if (columns.list.empty()) return arrow::Status::Invalid("schema inference: the CSV samples have no columns");
  auto result = Finish(columns, rows, options);
  result.warnings.insert(result.warnings.begin(), warnings.begin(), warnings.end());
  return result;
}

}  // namespace

arrow::Result<InferenceFormat> ParseInferenceFormat(std::string_view name) {
  std::string lower(name);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "json" || lower == "debezium" || lower == "debezium-json") return InferenceFormat::kJson;
  if (lower == "csv") return InferenceFormat::kCsv;
  if (lower == "raw" || lower == "bytes") return InferenceFormat::kRaw;
  return arrow::Status::Invalid("schema inference: no inferencer for format '", lower,
                                "' (supported: json, debezium, csv, raw)");
}

arrow::Result<InferenceResult> InferSchemaDetailed(InferenceFormat format, std::span<const std::string_view> samples,
                                                   const InferenceOptions& options) {
  if (format == InferenceFormat::kRaw) {
    InferenceResult result;
    result.schema = arrow::schema({arrow::field("value", arrow::binary(), false)});
    result.fields.push_back(FieldInference{"value", 1.0, static_cast<int64_t>(samples.size()), 0, false});
    result.sample_count = std::min(samples.size(), options.max_samples);
    return result;
  }
  if (samples.empty()) return arrow::Status::Invalid("schema inference: no samples");
  if (options.max_samples == 0) return arrow::Status::Invalid("schema inference: max_samples must be at least 1");
  if (format == InferenceFormat::kJson) return InferJson(samples, options);
  return InferCsv(samples, options);
}

arrow::Result<std::shared_ptr<arrow::Schema>> InferSchema(InferenceFormat format,
                                                          std::span<const std::string_view> samples,
                                                          const InferenceOptions& options) {
  ARROW_ASSIGN_OR_RAISE(auto result, InferSchemaDetailed(format, samples, options));
  return result.schema;
}

arrow::Result<std::shared_ptr<arrow::Schema>> InferSchemaFromSamples(std::span<const std::string_view> samples,
                                                                     std::string_view format,
                                                                     const SchemaHints& hints) {
  if (samples.empty()) return ConfigError("schema discovery", "no samples to infer a schema from");
  std::string lower(format);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "raw" || lower == "bytes" || lower == "avro") {
    return ConfigError("schema discovery", "format '" + lower + "' does not support inference from samples");
  }
  ARROW_ASSIGN_OR_RAISE(InferenceFormat parsed, ParseInferenceFormat(lower));
  InferenceOptions options;
  options.type_hints = hints.type_hints;
  options.empty_as_null = hints.empty_as_null;
  if (parsed == InferenceFormat::kCsv && !hints.field_names.empty()) {
    options.csv_has_header = false;
    options.csv_field_names = hints.field_names;
  }
  ARROW_ASSIGN_OR_RAISE(auto result, InferSchemaDetailed(parsed, samples, options));
  auto schema = result.schema;
  if (!hints.field_names.empty()) {
    std::vector<std::shared_ptr<arrow::Field>> ordered;
    for (const auto& name : hints.field_names) {
      auto field = schema->GetFieldByName(name);
      if (!field) {
        auto hint = hints.type_hints.find(name);
        field = arrow::field(name, hint != hints.type_hints.end() ? hint->second : arrow::utf8(), true);
      }
      ordered.push_back(field);
    }
    schema = arrow::schema(std::move(ordered));
  }
  std::vector<std::shared_ptr<arrow::Field>> fields = schema->fields();
  for (auto& field : fields) {
    if (hints.nullable_fields.count(field->name())) field = field->WithNullable(true);
  }
  return arrow::schema(std::move(fields));
}

}  // namespace laminar::schema
