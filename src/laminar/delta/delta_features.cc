#include "laminar/delta/delta_features.h"

#include <boost/json.hpp>

#include <cctype>
#include <set>
#include <string>

namespace laminar::delta {

namespace json = boost::json;

namespace {

// Writer versions before table features (7) imply a fixed set of features.
std::set<std::string> FeaturesOf(const ProtocolAction& protocol) {
  if (protocol.min_writer_version >= 7) return {protocol.writer_features.begin(), protocol.writer_features.end()};
  std::set<std::string> features;
  const int v = protocol.min_writer_version;
  if (v >= 2) features.insert({"appendOnly", "invariants"});
  if (v >= 3) features.insert("checkConstraints");
  if (v >= 4) features.insert({"changeDataFeed", "generatedColumns"});
  if (v >= 5) features.insert("columnMapping");
  if (v >= 6) features.insert("identityColumns");
  return features;
}

std::string Property(const Snapshot& snapshot, const std::string& key) {
  const auto& configuration = snapshot.metadata().configuration;
  auto it = configuration.find(key);
  return it == configuration.end() ? "" : it->second;
}

bool IsTrue(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text == "true";
}

// The first column (dotted path for nested fields) whose metadata holds a key starting with
// `prefix`, or "" when none does.
std::string ColumnWithMetadata(const json::value& type, const std::string& prefix, const std::string& path) {
  if (!type.is_object()) return "";
  const auto& o = type.as_object();
  if (const auto* fields = o.if_contains("fields"); fields && fields->is_array()) {
    for (const auto& field : fields->as_array()) {
      if (!field.is_object()) continue;
      const auto& f = field.as_object();
      std::string name = path;
      if (const auto* n = f.if_contains("name"); n && n->is_string()) {
        name += (path.empty() ? "" : ".") + std::string(n->as_string());
      }
      if (const auto* metadata = f.if_contains("metadata"); metadata && metadata->is_object()) {
        for (const auto& entry : metadata->as_object()) {
          if (std::string(entry.key()).rfind(prefix, 0) == 0) return name;
        }
      }
      if (const auto* child = f.if_contains("type")) {
        auto found = ColumnWithMetadata(*child, prefix, name);
        if (!found.empty()) return found;
      }
    }
  }
  for (const char* nested : {"elementType", "keyType", "valueType"}) {
    if (const auto* child = o.if_contains(nested)) {
      auto found = ColumnWithMetadata(*child, prefix, path);
      if (!found.empty()) return found;
    }
  }
  return "";
}

arrow::Status Refuse(const std::string& what) {
  return arrow::Status::NotImplemented("the table ", what, "; this writer does not support that, so it does not write "
                                       "into the table");
}

}  // namespace

arrow::Status CheckWritable(const Snapshot& snapshot, const WriteIntent& intent) {
  const auto& protocol = snapshot.protocol();
  if (protocol.min_writer_version > 7) {
    return Refuse("needs writer version " + std::to_string(protocol.min_writer_version) + " (supported: up to 7)");
  }
  boost::system::error_code ec;
  const json::value schema = json::parse(snapshot.metadata().schema_string, ec);
  auto column_with = [&](const std::string& prefix) { return ec ? std::string() : ColumnWithMetadata(schema, prefix, ""); };

  for (const auto& feature : FeaturesOf(protocol)) {
    if (feature == "appendOnly") {
      if (intent.removes_data && IsTrue(Property(snapshot, "delta.appendOnly"))) {
        return Refuse("is append-only (delta.appendOnly = true), so overwrite and upsert cannot remove rows from it");
      }
    } else if (feature == "invariants") {
      if (auto column = column_with("delta.invariants"); !column.empty()) {
        return Refuse("has an invariant on column '" + column + "' (writer feature 'invariants')");
      }
    } else if (feature == "checkConstraints") {
      for (const auto& [key, value] : snapshot.metadata().configuration) {
        if (key.rfind("delta.constraints.", 0) == 0) {
          return Refuse("has the CHECK constraint '" + key.substr(18) + "' (writer feature 'checkConstraints')");
        }
      }
    } else if (feature == "changeDataFeed") {
      // Blind appends need no change files; removes would need _change_data files.
      if (intent.removes_data && IsTrue(Property(snapshot, "delta.enableChangeDataFeed"))) {
        return Refuse("records a change data feed (delta.enableChangeDataFeed = true), which overwrite and upsert "
                      "would have to write");
      }
    } else if (feature == "generatedColumns") {
      if (auto column = column_with("delta.generationExpression"); !column.empty()) {
        return Refuse("has the generated column '" + column + "' (writer feature 'generatedColumns')");
      }
    } else if (feature == "columnMapping") {
      const auto mode = Property(snapshot, "delta.columnMapping.mode");
      if (!mode.empty() && mode != "none") {
        return Refuse("uses column mapping (delta.columnMapping.mode = " + mode + ", writer feature 'columnMapping')");
      }
    } else if (feature == "identityColumns") {
      if (auto column = column_with("delta.identity."); !column.empty()) {
        return Refuse("has the identity column '" + column + "' (writer feature 'identityColumns')");
      }
    } else if (feature == "deletionVectors") {
      // Readers refuse tables with deletion vectors; a writer that only appends never
      // touches the vectors, one that rewrites files would have to apply them.
      if (intent.rewrites_files) return Refuse("may hold deletion vectors (writer feature 'deletionVectors')");
    } else if (feature == "timestampNtz" || feature == "vacuumProtocolCheck") {
      // Nothing for a writer to do beyond what it does already.
    } else {
      // domainMetadata (checkpoints would drop it), rowTracking, v2Checkpoint,
      // inCommitTimestamp, clustering, icebergCompat*, typeWidening, ... each asks writers
      // for something this one does not do.
      return Refuse("uses writer feature '" + feature + "'");
    }
  }
  return arrow::Status::OK();
}

}  // namespace laminar::delta
