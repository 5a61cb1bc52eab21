// The DDL a pipeline is declared in: CREATE SOURCE / CREATE SINK statements parsed into
// plain structs, with the file position of every name and option so that later stages
// (connector validation, the runtime) can report errors against the user's file.
#pragma once

#include <arrow/result.h>
#include <arrow/type_fwd.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace laminar::ddl {

// 1-based; the column counts characters (UTF-8 code points), a tab counts as one.
struct SourceLocation {
  int line = 0;
  int column = 0;
};

struct ColumnDef {
  std::string name;  // as written (unquoted names keep their case)
  std::shared_ptr<arrow::DataType> type;
  bool nullable = true;
  // Field metadata; JSON/JSONB columns carry {"laminar.type": "json"} (see types.h).
  std::shared_ptr<const arrow::KeyValueMetadata> metadata;
  SourceLocation location;  // of the column name
};

struct OptionDef {
  std::string key;    // as written; FORMAT x becomes key "format"
  std::string value;  // after ${VAR} substitution; bare numbers and true/false as text
  SourceLocation key_location;
  SourceLocation value_location;  // of the opening quote (or of the bare value)
};

struct SourceDef {
  std::string name;
  std::vector<ColumnDef> columns;  // empty when the statement declares none (inferred later)
  std::string connector;           // canonical: lower case, '-' separated ("delta-lake")
  std::vector<OptionDef> options;  // in file order
  SourceLocation location;         // of the source name
  SourceLocation connector_location;
};

struct SinkDef {
  std::string name;
  // The source this sink reads, spelled as that source's declaration spells it (the
  // lookup is case-insensitive, so `FROM ORDERS` finds `orders` and stores "orders").
  std::string from;
  std::string connector;
  std::vector<OptionDef> options;
  SourceLocation location;  // of the sink name
  SourceLocation connector_location;
  SourceLocation from_location;
};

struct Script {
  std::string file_name;
  std::string text;                // the parsed text (a leading UTF-8 byte order mark removed)
  std::vector<SourceDef> sources;  // in file order
  std::vector<SinkDef> sinks;      // in file order
};

// Environment lookup for ${NAME}: the value, or nullopt when NAME is unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Parses a whole script. `file_name` is only used in messages. An empty `env` reads the
// process environment. Every error is a laminar::ConfigError made by ErrorAt: the first
// problem in file order (syntax, then the cross-statement checks), never a partial Script.
arrow::Result<Script> ParseScript(std::string text, std::string file_name, EnvLookup env = {});

// Reads and parses `path`; an unreadable file is a config error naming the path.
arrow::Result<Script> ParseFile(const std::string& path, EnvLookup env = {});

// Arrow schema of the declared columns (nullability and metadata kept); nullptr when the
// source declares no columns.
std::shared_ptr<arrow::Schema> SchemaOf(const SourceDef& source);

// Error for a position in a script: a laminar::ConfigError whose message is
//   "<file>:<line>:<col>: <message>\n  <the source line>\n  <spaces>^"
// The caret line repeats the tabs of the source line so the caret lines up in a terminal.
arrow::Status ErrorAt(const Script& script, SourceLocation location, const std::string& message);
// Same, for callers that only have the pieces (used while parsing).
arrow::Status ErrorAt(const std::string& file_name, std::string_view text, SourceLocation location,
                      const std::string& message);

}  // namespace laminar::ddl
