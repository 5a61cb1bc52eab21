// Which columns a source produces: the DDL's declared columns, or the schema a registry or
// the source system provides, or one inferred from samples; with a wildcard, declared
// columns first and the discovered rest after them. Runs once per source at startup, on
// the control thread; the capability callbacks may block (network).
#pragma once

#include <arrow/result.h>
#include <arrow/type_fwd.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "laminar/core/config.h"
#include "laminar/schema/inference.h"

namespace laminar::schema {

struct DeclaredSchema {
  std::shared_ptr<arrow::Schema> columns;  // null or empty: none declared
  bool has_wildcard = false;               // `*`: add the source's other columns
  std::string wildcard_prefix;             // prepended to the names the wildcard adds
};

enum class SchemaKind { kDeclared, kRegistry, kSourceProvided, kInferred };
const char* SchemaKindName(SchemaKind kind);

enum class FieldOrigin { kUserDeclared, kAutoResolved, kWildcardInferred, kDefaultAdded };
// DECLARED, AUTO, WILDCARD, DEFAULT
const char* FieldOriginName(FieldOrigin origin);

struct RegistrySchema {
  std::shared_ptr<arrow::Schema> schema;
  int64_t schema_id = 0;
};

// What the connector can do; an empty function is a capability it lacks.
struct SchemaSources {
  // Fetches the subject's latest schema (see RegistrySubject).
  std::function<arrow::Result<RegistrySchema>()> registry;
  // The source system's own schema (a table's columns).
  std::function<arrow::Result<std::shared_ptr<arrow::Schema>>()> provider;
  // The provider's schema is the truth: its failure is an error, not a fall-through.
  bool provider_is_authoritative = false;
  // Up to `max` sample records, for inference in `format`.
  std::function<arrow::Result<std::vector<std::string>>(size_t max)> sampler;
  InferenceFormat format = InferenceFormat::kJson;
};

struct ResolvedSchema {
  std::shared_ptr<arrow::Schema> schema;
  SchemaKind kind = SchemaKind::kDeclared;
  std::optional<int64_t> registry_schema_id;
  size_t sample_count = 0;            // kInferred
  std::vector<FieldOrigin> origins;   // parallel to schema
  std::vector<std::string> warnings;  // includes registry/provider failures that were passed over
};

// Priority: (1) declared columns without a wildcard -> kDeclared; (2) registry; (3)
// provider; (4) samples -> inference; the first that yields a schema wins. A registry or
// non-authoritative provider failure falls through to the next level and is kept in
// `warnings` (and in the final error when nothing resolves); sampling/inference errors are
// returned. With a wildcard the declared columns come first and win: a declared type the
// source's values can be read as (same type, widening, numbers into a narrower or decimal
// column, anything into text, text/integers into temporal columns) is kept with a warning;
// any other difference is an error naming the column. Also errors: a wildcard without any
// source capability, a wildcard that adds no column, a prefixed name equal to a declared
// column. `where` is the connector's Where() text.
arrow::Result<ResolvedSchema> ResolveSchema(const DeclaredSchema& declared, const SchemaSources& sources,
                                            const InferenceOptions& inference, const std::string& where);

// True when values of the source's type `resolved` can be decoded into the declared type.
bool CanDeclareOver(const arrow::DataType& declared, const arrow::DataType& resolved);

// The registry subject of a connector: option `schema.registry.subject`, else
// `<topic>-value`; a config error when neither is set.
arrow::Result<std::string> RegistrySubject(const ConnectorConfig& config);

}  // namespace laminar::schema
