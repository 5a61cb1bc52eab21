#include "laminar/schema/resolver.h"

#include <arrow/api.h>

#include <algorithm>

#include "laminar/core/status.h"
#include "laminar/schema/evolution.h"

namespace laminar::schema {

const char* SchemaKindName(SchemaKind kind) {
  switch (kind) {
    case SchemaKind::kDeclared:
      return "declared";
    case SchemaKind::kRegistry:
      return "registry";
    case SchemaKind::kSourceProvided:
      return "source-provided";
    case SchemaKind::kInferred:
      return "inferred";
  }
  return "?";
}

const char* FieldOriginName(FieldOrigin origin) {
  switch (origin) {
    case FieldOrigin::kUserDeclared:
      return "DECLARED";
    case FieldOrigin::kAutoResolved:
      return "AUTO";
    case FieldOrigin::kWildcardInferred:
      return "WILDCARD";
    case FieldOrigin::kDefaultAdded:
      return "DEFAULT";
  }
  return "?";
}

namespace {

bool IsNumeric(const arrow::DataType& t) {
  return arrow::is_integer(t.id()) || arrow::is_floating(t.id()) || t.id() == arrow::Type::DECIMAL128 ||
         t.id() == arrow::Type::DECIMAL256;
}
bool IsText(const arrow::DataType& t) { return t.id() == arrow::Type::STRING || t.id() == arrow::Type::LARGE_STRING; }
bool IsTemporal(const arrow::DataType& t) {
  return t.id() == arrow::Type::DATE32 || t.id() == arrow::Type::DATE64 || t.id() == arrow::Type::TIMESTAMP ||
         t.id() == arrow::Type::TIME32 || t.id() == arrow::Type::TIME64;
}

std::string Lower(const std::string& s) {
  std::string out = s;
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

bool CanDeclareOver(const arrow::DataType& declared, const arrow::DataType& resolved) {
  if (declared.Equals(resolved)) return true;
  if (IsSafeWidening(resolved, declared)) return true;
  if (IsText(declared) || declared.id() == arrow::Type::BINARY || declared.id() == arrow::Type::LARGE_BINARY) {
    return true;  // every value has a text form
  }
  if (IsNumeric(declared)) return IsNumeric(resolved) || (declared.id() == arrow::Type::DECIMAL128 && IsText(resolved));
  if (IsTemporal(declared)) return IsTemporal(resolved) || IsText(resolved) || arrow::is_integer(resolved.id());
  if (declared.id() == arrow::Type::BOOL) return resolved.id() == arrow::Type::BOOL;
  if (declared.id() == arrow::Type::LIST && resolved.id() == arrow::Type::LIST) {
    return CanDeclareOver(*declared.field(0)->type(), *resolved.field(0)->type());
  }
  if (declared.id() == arrow::Type::STRUCT && resolved.id() == arrow::Type::STRUCT) return true;
  return false;
}

arrow::Result<std::string> RegistrySubject(const ConnectorConfig& config) {
  if (auto subject = config.Get("schema.registry.subject")) return *subject;
  if (auto topic = config.Get("topic")) return *topic + "-value";
  return ConfigError(config.Where(), "no schema registry subject: set 'schema.registry.subject' or 'topic'");
}

arrow::Result<ResolvedSchema> ResolveSchema(const DeclaredSchema& declared, const SchemaSources& sources,
                                            const InferenceOptions& inference, const std::string& where) {
  const bool has_columns = declared.columns && declared.columns->num_fields() > 0;
  ResolvedSchema out;
  if (has_columns && !declared.has_wildcard) {
    out.schema = declared.columns;
    out.kind = SchemaKind::kDeclared;
    out.origins.assign(static_cast<size_t>(declared.columns->num_fields()), FieldOrigin::kUserDeclared);
    return out;
  }
  const bool capable = sources.registry || sources.provider || sources.sampler;
  if (declared.has_wildcard && !capable) {
    return ConfigError(where,
                       "the column list has '*' but this source cannot discover columns "
                       "(no schema registry, source schema or sampling); declare every column");
  }

  std::shared_ptr<arrow::Schema> found;
  std::vector<std::string> passed_over;
  if (sources.registry) {
    auto got = sources.registry();
    if (got.ok() && got->schema) {
      found = got->schema;
      out.kind = SchemaKind::kRegistry;
      out.registry_schema_id = got->schema_id;
    } else {
      passed_over.push_back("schema registry: " + (got.ok() ? std::string("no schema") : got.status().message()));
    }
  }
  if (!found && sources.provider) {
    auto got = sources.provider();
    if (got.ok() && *got) {
      found = *got;
      out.kind = SchemaKind::kSourceProvided;
    } else if (sources.provider_is_authoritative) {
      return got.ok() ? FatalError("schema", where + ": the source provided no schema") : got.status();
    } else {
      passed_over.push_back("source schema: " + (got.ok() ? std::string("none") : got.status().message()));
    }
  }
  if (!found && sources.sampler) {
    ARROW_ASSIGN_OR_RAISE(auto samples, sources.sampler(inference.max_samples));
    if (!samples.empty()) {
      std::vector<std::string_view> views(samples.begin(), samples.end());
      ARROW_ASSIGN_OR_RAISE(auto inferred, InferSchemaDetailed(sources.format, views, inference));
      found = inferred.schema;
      out.kind = SchemaKind::kInferred;
      out.sample_count = inferred.sample_count;
      out.warnings = inferred.warnings;
    } else {
      passed_over.push_back("sampling: no records to sample");
    }
  }
  for (const auto& p : passed_over) out.warnings.push_back("passed over " + p);
  if (!found) {
    std::string why;
    for (const auto& p : passed_over) why += (why.empty() ? "" : "; ") + p;
    return ConfigError(where,
                       "no schema could be resolved: " + (why.empty() ? std::string("declare the columns") : why));
  }

  if (!has_columns) {
    out.schema = found;
    out.origins.assign(static_cast<size_t>(found->num_fields()), FieldOrigin::kAutoResolved);
    return out;
  }

  // Wildcard merge: declared columns first, then the rest.
  std::vector<std::shared_ptr<arrow::Field>> fields = declared.columns->fields();
  out.origins.assign(fields.size(), FieldOrigin::kUserDeclared);
  for (const auto& d : declared.columns->fields()) {
    std::shared_ptr<arrow::Field> match;
    for (const auto& f : found->fields()) {
      if (Lower(f->name()) == Lower(d->name())) match = f;
    }
    if (!match) {
      out.warnings.push_back("declared column '" + d->name() + "' is not in the " + SchemaKindName(out.kind) +
                             " schema");
      continue;
    }
    if (match->type()->Equals(d->type())) continue;
    if (!CanDeclareOver(*d->type(), *match->type())) {
      return ConfigError(where, "column '" + d->name() + "': declared type " + d->type()->ToString() +
                                    " conflicts with the " + SchemaKindName(out.kind) + " type " +
                                    match->type()->ToString() + " (its values cannot be read as the declared type)");
    }
    out.warnings.push_back("field '" + d->name() + "': declared type " + d->type()->ToString() +
                           " overrides resolved type " + match->type()->ToString());
  }
  size_t added = 0;
  for (const auto& f : found->fields()) {
    const bool is_declared = std::any_of(declared.columns->fields().begin(), declared.columns->fields().end(),
                                         [&](const auto& d) { return Lower(d->name()) == Lower(f->name()); });
    if (is_declared) continue;
    const std::string name = declared.wildcard_prefix + f->name();
    for (const auto& d : declared.columns->fields()) {
      if (Lower(d->name()) == Lower(name)) {
        return ConfigError(where, "wildcard column '" + name + "' (from the source's '" + f->name() +
                                      "') collides with the declared column '" + d->name() + "'");
      }
    }
    fields.push_back(f->WithName(name));
    out.origins.push_back(FieldOrigin::kWildcardInferred);
    ++added;
  }
  if (added == 0) {
    return ConfigError(where, "the column list has '*' but the " + std::string(SchemaKindName(out.kind)) +
                                  " schema has no column beyond the declared ones; remove the '*'");
  }
  out.schema = arrow::schema(std::move(fields));
  return out;
}

}  // namespace laminar::schema
