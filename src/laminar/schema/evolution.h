// Schema evolution: what changed between two schemas (DiffSchemas), whether a compatibility
// mode allows it (EvaluateEvolution), how old columns map onto the new schema
// (ApplyEvolution), and a per-source version history with an engine that ties them
// together, checking the transitive modes against every earlier version. Free functions are
// pure; SchemaEvolutionEngine is used by one thread at a time.
#pragma once

#include <arrow/result.h>
#include <arrow/type_fwd.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace laminar::schema {

enum class CompatibilityMode {
  kNone,
  kBackward,
  kForward,
  kFull,
  kBackwardTransitive,
  kForwardTransitive,
  kFullTransitive
};
// none, backward, forward, full, backward_transitive, ... (any case, '-' or '_').
arrow::Result<CompatibilityMode> ParseCompatibilityMode(std::string_view text);
bool RequiresBackward(CompatibilityMode mode);  // new readers can read old data
bool RequiresForward(CompatibilityMode mode);   // old readers can read new data
bool IsTransitive(CompatibilityMode mode);

struct EvolutionOptions {
  // int64 -> float64 loses precision above 2^53; allowed only when asked for.
  bool allow_lossy_int64_to_float64 = false;
};

// Int8 -> Int16/32/64/Float32/64; Int16 -> Int32/64/Float32/64; Int32 -> Int64/Float64;
// UInt8 -> UInt16/32/64; UInt16 -> UInt32/64; UInt32 -> UInt64; Float16 -> Float32/64;
// Float32 -> Float64; Utf8 -> LargeUtf8; Binary -> LargeBinary; (Int64 -> Float64 by option).
bool IsSafeWidening(const arrow::DataType& from, const arrow::DataType& to, const EvolutionOptions& options = {});

struct SchemaChange {
  enum class Kind { kColumnRemoved, kColumnAdded, kTypeChanged, kNullabilityChanged, kColumnRenamed };
  Kind kind = Kind::kColumnAdded;
  std::string name;      // the column (old name for a rename)
  std::string new_name;  // kColumnRenamed
  std::shared_ptr<arrow::DataType> old_type, new_type;
  bool old_nullable = true, new_nullable = true;
  std::string ToString() const;
};

// By name: removed columns (old order), added (new order), then for common columns (old
// order) a type change and a nullability change. Renames are never guessed.
std::vector<SchemaChange> DiffSchemas(const arrow::Schema& old_schema, const arrow::Schema& new_schema);

enum class Verdict { kCompatible, kRequiresMigration, kIncompatible };
const char* VerdictName(Verdict verdict);

struct EvolutionVerdict {
  Verdict verdict = Verdict::kCompatible;
  std::string reason;  // for kIncompatible: names the column and the rule
};

// The first violation decides (kIncompatible); else kRequiresMigration if any change needs
// it; else kCompatible. Mode none accepts everything.
EvolutionVerdict EvaluateEvolution(const std::vector<SchemaChange>& changes, CompatibilityMode mode,
                                   const EvolutionOptions& options = {});

struct ColumnProjection {
  std::vector<std::optional<int>> mappings;  // per target column: its index in the old schema, or none
  std::shared_ptr<arrow::Schema> target_schema;
};

// The target schema is `new_schema` itself (its column order kept); each column maps to the
// old column of the same name, or of the old name for renames in `changes`.
ColumnProjection ApplyEvolution(const arrow::Schema& old_schema, const arrow::Schema& new_schema,
                                const std::vector<SchemaChange>& changes);

enum class EvolutionTrigger { kDdl, kRegistry, kManualRefresh };

struct SchemaVersion {
  int64_t version = 0;  // 1, 2, ...
  std::shared_ptr<arrow::Schema> schema;
  std::vector<SchemaChange> changes;  // from the previous version
  std::chrono::system_clock::time_point recorded_at;
  EvolutionTrigger trigger = EvolutionTrigger::kDdl;
  std::optional<int64_t> registry_schema_id;
};

class SchemaHistory {
 public:
  int64_t Record(const std::string& source, std::shared_ptr<arrow::Schema> schema, std::vector<SchemaChange> changes,
                 EvolutionTrigger trigger, std::optional<int64_t> registry_schema_id = std::nullopt);
  const std::vector<SchemaVersion>& Versions(const std::string& source) const;  // empty when unknown
  const SchemaVersion* Latest(const std::string& source) const;

 private:
  std::map<std::string, std::vector<SchemaVersion>> versions_;
};

struct EvolutionOutcome {
  bool changed = false;  // false: no difference, nothing recorded
  std::shared_ptr<arrow::Schema> schema;
  ColumnProjection projection;
  int64_t version = 0;
  std::vector<SchemaChange> changes;
  Verdict verdict = Verdict::kCompatible;
};

class SchemaEvolutionEngine {
 public:
  explicit SchemaEvolutionEngine(CompatibilityMode mode, EvolutionOptions options = {})
      : mode_(mode), options_(options) {}

  // Compares `proposed` with `current` (and, for transitive modes, with every recorded
  // version of `source` too). Incompatible: a fatal error whose message names the source,
  // the column and the rule; nothing is recorded. No difference: changed = false. Otherwise
  // `proposed` is recorded as the source's next version (1 for the first evolution).
  arrow::Result<EvolutionOutcome> Evolve(const std::string& source, const std::shared_ptr<arrow::Schema>& current,
                                         const std::shared_ptr<arrow::Schema>& proposed, EvolutionTrigger trigger);

  const SchemaHistory& history() const { return history_; }

 private:
  CompatibilityMode mode_;
  EvolutionOptions options_;
  SchemaHistory history_;
};

}  // namespace laminar::schema
