#include "laminar/schema/evolution.h"

#include <arrow/api.h>

#include "laminar/core/status.h"

namespace laminar::schema {

arrow::Result<CompatibilityMode> ParseCompatibilityMode(std::string_view text) {
  std::string t(text);
  for (auto& c : t) c = c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t == "none") return CompatibilityMode::kNone;
  if (t == "backward") return CompatibilityMode::kBackward;
  if (t == "forward") return CompatibilityMode::kForward;
  if (t == "full") return CompatibilityMode::kFull;
  if (t == "backward_transitive") return CompatibilityMode::kBackwardTransitive;
  if (t == "forward_transitive") return CompatibilityMode::kForwardTransitive;
  if (t == "full_transitive") return CompatibilityMode::kFullTransitive;
  return arrow::Status::Invalid("'", text,
                                "' is not a compatibility mode (none, backward, forward, full, "
                                "backward_transitive, forward_transitive, full_transitive)");
}

bool RequiresBackward(CompatibilityMode m) {
  return m == CompatibilityMode::kBackward || m == CompatibilityMode::kFull ||
         m == CompatibilityMode::kBackwardTransitive || m == CompatibilityMode::kFullTransitive;
}
bool RequiresForward(CompatibilityMode m) {
  return m == CompatibilityMode::kForward || m == CompatibilityMode::kFull ||
         m == CompatibilityMode::kForwardTransitive || m == CompatibilityMode::kFullTransitive;
}
bool IsTransitive(CompatibilityMode m) {
  return m == CompatibilityMode::kBackwardTransitive || m == CompatibilityMode::kForwardTransitive ||
         m == CompatibilityMode::kFullTransitive;
}

bool IsSafeWidening(const arrow::DataType& from, const arrow::DataType& to, const EvolutionOptions& options) {
  using T = arrow::Type;
  const auto f = from.id();
  const auto t = to.id();
  auto any = [t](std::initializer_list<T::type> targets) {
    for (auto x : targets) {
      if (x == t) return true;
    }
    return false;
  };
  switch (f) {
    case T::INT8:
      return any({T::INT16, T::INT32, T::INT64, T::FLOAT, T::DOUBLE});
    case T::INT16:
      return any({T::INT32, T::INT64, T::FLOAT, T::DOUBLE});
    case T::INT32:
      return any({T::INT64, T::DOUBLE});
    case T::INT64:
      return options.allow_lossy_int64_to_float64 && t == T::DOUBLE;
    case T::UINT8:
      return any({T::UINT16, T::UINT32, T::UINT64});
    case T::UINT16:
      return any({T::UINT32, T::UINT64});
    case T::UINT32:
      return t == T::UINT64;
    case T::HALF_FLOAT:
      return any({T::FLOAT, T::DOUBLE});
    case T::FLOAT:
      return t == T::DOUBLE;
    case T::STRING:
      return t == T::LARGE_STRING;
    case T::BINARY:
      return t == T::LARGE_BINARY;
    default:
      return false;
  }
}

std::string SchemaChange::ToString() const {
  switch (kind) {
    case Kind::kColumnRemoved:
      return "column '" + name + "' removed";
    case Kind::kColumnAdded:
      return "column '" + name + "' added (" + new_type->ToString() + (new_nullable ? "" : " NOT NULL") + ")";
    case Kind::kTypeChanged:
      return "column '" + name + "' changed type from " + old_type->ToString() + " to " + new_type->ToString();
    case Kind::kNullabilityChanged:
      return "column '" + name + "' changed from " + (old_nullable ? "nullable" : "NOT NULL") + " to " +
             (new_nullable ? "nullable" : "NOT NULL");
    case Kind::kColumnRenamed:
      return "column '" + name + "' renamed to '" + new_name + "'";
  }
  return "?";
}

std::vector<SchemaChange> DiffSchemas(const arrow::Schema& old_schema, const arrow::Schema& new_schema) {
  using K = SchemaChange::Kind;
  std::vector<SchemaChange> changes;
  for (const auto& f : old_schema.fields()) {
    if (!new_schema.GetFieldByName(f->name())) {
      SchemaChange c;
      c.kind = K::kColumnRemoved;
      c.name = f->name();
      c.old_type = f->type();
      c.old_nullable = f->nullable();
      changes.push_back(std::move(c));
    }
  }
  for (const auto& f : new_schema.fields()) {
    if (!old_schema.GetFieldByName(f->name())) {
      SchemaChange c;
      c.kind = K::kColumnAdded;
      c.name = f->name();
      c.new_type = f->type();
      c.new_nullable = f->nullable();
      changes.push_back(std::move(c));
    }
  }
  for (const auto& f : old_schema.fields()) {
    auto n = new_schema.GetFieldByName(f->name());
    if (!n) continue;
    if (!f->type()->Equals(n->type())) {
      SchemaChange c;
      c.kind = K::kTypeChanged;
      c.name = f->name();
      c.old_type = f->type();
      c.new_type = n->type();
      c.old_nullable = f->nullable();
      c.new_nullable = n->nullable();
      changes.push_back(std::move(c));
    }
    if (f->nullable() != n->nullable()) {
      SchemaChange c;
      c.kind = K::kNullabilityChanged;
      c.name = f->name();
      c.old_type = f->type();
      c.new_type = n->type();
      c.old_nullable = f->nullable();
      c.new_nullable = n->nullable();
      changes.push_back(std::move(c));
    }
  }
  return changes;
}

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kCompatible:
      return "compatible";
    case Verdict::kRequiresMigration:
      return "requires migration";
    case Verdict::kIncompatible:
      return "incompatible";
  }
  return "?";
}

EvolutionVerdict EvaluateEvolution(const std::vector<SchemaChange>& changes, CompatibilityMode mode,
                                   const EvolutionOptions& options) {
  using K = SchemaChange::Kind;
  EvolutionVerdict out;
  if (changes.empty() || mode == CompatibilityMode::kNone) return out;
  const bool backward = RequiresBackward(mode);
  const bool forward = RequiresForward(mode);
  bool migration = false;
  auto reject = [&](const SchemaChange& c, const std::string& why) {
    return EvolutionVerdict{Verdict::kIncompatible, c.ToString() + ": " + why};
  };
  for (const auto& c : changes) {
    switch (c.kind) {
      case K::kColumnAdded:
        if (!c.new_nullable && backward) {
          return reject(c, "a NOT NULL column cannot be added under backward compatibility (old rows have no value)");
        }
        break;
      case K::kColumnRemoved:
        if (forward) return reject(c, "a column cannot be removed under forward compatibility (old readers need it)");
        migration = true;
        break;
      case K::kTypeChanged:
        if (IsSafeWidening(*c.old_type, *c.new_type, options)) {
          if (forward) return reject(c, "widening is not forward compatible (old readers cannot hold the new values)");
        } else if (IsSafeWidening(*c.new_type, *c.old_type, options)) {
          if (backward) return reject(c, "narrowing is not backward compatible (old values may not fit)");
          migration = true;
        } else {
          return reject(c, "the types are unrelated (only the widenings of the evolution table are allowed)");
        }
        break;
      case K::kNullabilityChanged:
        if (!c.new_nullable) {
          if (backward) return reject(c, "NOT NULL is not backward compatible (old rows may hold nulls)");
          migration = true;
        }
        break;
      case K::kColumnRenamed:
        return reject(c, "renames are not supported without field IDs");
    }
  }
  if (migration) out.verdict = Verdict::kRequiresMigration;
  return out;
}

ColumnProjection ApplyEvolution(const arrow::Schema& old_schema, const arrow::Schema& new_schema,
                                const std::vector<SchemaChange>& changes) {
  ColumnProjection out;
  out.target_schema = std::make_shared<arrow::Schema>(new_schema.fields(), new_schema.metadata());
  for (const auto& f : new_schema.fields()) {
    std::string old_name = f->name();
    for (const auto& c : changes) {
      if (c.kind == SchemaChange::Kind::kColumnRenamed && c.new_name == f->name()) old_name = c.name;
    }
    const int index = old_schema.GetFieldIndex(old_name);
    out.mappings.push_back(index >= 0 ? std::optional<int>(index) : std::nullopt);
  }
  return out;
}

int64_t SchemaHistory::Record(const std::string& source, std::shared_ptr<arrow::Schema> schema,
                              std::vector<SchemaChange> changes, EvolutionTrigger trigger,
                              std::optional<int64_t> registry_schema_id) {
  auto& list = versions_[source];
  SchemaVersion v;
  v.version = static_cast<int64_t>(list.size()) + 1;
  v.schema = std::move(schema);
  v.changes = std::move(changes);
  v.recorded_at = std::chrono::system_clock::now();
  v.trigger = trigger;
  v.registry_schema_id = registry_schema_id;
  list.push_back(std::move(v));
  return list.back().version;
}

const std::vector<SchemaVersion>& SchemaHistory::Versions(const std::string& source) const {
  static const std::vector<SchemaVersion> kEmpty;
  auto it = versions_.find(source);
  return it == versions_.end() ? kEmpty : it->second;
}

const SchemaVersion* SchemaHistory::Latest(const std::string& source) const {
  const auto& list = Versions(source);
  return list.empty() ? nullptr : &list.back();
}

arrow::Result<EvolutionOutcome> SchemaEvolutionEngine::Evolve(const std::string& source,
                                                              const std::shared_ptr<arrow::Schema>& current,
                                                              const std::shared_ptr<arrow::Schema>& proposed,
                                                              EvolutionTrigger trigger) {
  EvolutionOutcome out;
  out.changes = DiffSchemas(*current, *proposed);
  if (out.changes.empty()) {
    out.schema = current;
    out.projection = ApplyEvolution(*current, *current, {});
    out.version = history_.Latest(source) ? history_.Latest(source)->version : 0;
    return out;
  }
  EvolutionVerdict verdict = EvaluateEvolution(out.changes, mode_, options_);
  if (verdict.verdict != Verdict::kIncompatible && IsTransitive(mode_)) {
    for (const auto& earlier : history_.Versions(source)) {
      auto v = EvaluateEvolution(DiffSchemas(*earlier.schema, *proposed), mode_, options_);
      if (v.verdict == Verdict::kIncompatible) {
        verdict = v;
        verdict.reason += " (against version " + std::to_string(earlier.version) + ")";
        break;
      }
      if (v.verdict == Verdict::kRequiresMigration) verdict.verdict = Verdict::kRequiresMigration;
    }
  }
  if (verdict.verdict == Verdict::kIncompatible) {
    return FatalError("schema", "schema change of '" + source + "' rejected: " + verdict.reason);
  }
  out.changed = true;
  out.verdict = verdict.verdict;
  out.schema = proposed;
  out.projection = ApplyEvolution(*current, *proposed, out.changes);
  out.version = history_.Record(source, proposed, out.changes, trigger);
  return out;
}

}  // namespace laminar::schema
