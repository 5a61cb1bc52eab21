// Avro schema parsing (Boost.JSON), canonical form, fingerprints and Arrow mappings.
#include "laminar/serde/avro/avro_schema.h"

#include <arrow/type.h>

#include <boost/json.hpp>

#include <array>
#include <cmath>
#include <set>

#include "laminar/serde/avro/binary_internal.h"

namespace laminar::serde::avro {

namespace json = boost::json;

const char* AvroTypeName(AvroType type) {
  switch (type) {
    case AvroType::kNull: return "null";
    case AvroType::kBoolean: return "boolean";
    case AvroType::kInt: return "int";
    case AvroType::kLong: return "long";
    case AvroType::kFloat: return "float";
    case AvroType::kDouble: return "double";
    case AvroType::kBytes: return "bytes";
    case AvroType::kString: return "string";
    case AvroType::kRecord: return "record";
    case AvroType::kEnum: return "enum";
    case AvroType::kArray: return "array";
    case AvroType::kMap: return "map";
    case AvroType::kUnion: return "union";
    case AvroType::kFixed: return "fixed";
  }
  return "?";
}

const char* LogicalTypeName(LogicalType logical) {
  switch (logical) {
    case LogicalType::kNone: return "";
    case LogicalType::kDecimal: return "decimal";
    case LogicalType::kUuid: return "uuid";
    case LogicalType::kDate: return "date";
    case LogicalType::kTimeMillis: return "time-millis";
    case LogicalType::kTimeMicros: return "time-micros";
    case LogicalType::kTimestampMillis: return "timestamp-millis";
    case LogicalType::kTimestampMicros: return "timestamp-micros";
    case LogicalType::kTimestampNanos: return "timestamp-nanos";
    case LogicalType::kLocalTimestampMillis: return "local-timestamp-millis";
    case LogicalType::kLocalTimestampMicros: return "local-timestamp-micros";
    case LogicalType::kLocalTimestampNanos: return "local-timestamp-nanos";
    case LogicalType::kDuration: return "duration";
  }
  return "";
}

std::string AvroNode::Describe() const {
  if (logical != LogicalType::kNone) return LogicalTypeName(logical);
  if (is_named()) return std::string(AvroTypeName(type)) + " " + full_name;
  if (type == AvroType::kUnion) {
    std::string out = "[";
    for (size_t i = 0; i < branches.size(); ++i) {
      if (i) out += ", ";
      out += branches[i]->is_named() ? branches[i]->full_name : branches[i]->Describe();
    }
    return out + "]";
  }
  return AvroTypeName(type);
}

int AvroNode::NullBranch() const {
  for (size_t i = 0; i < branches.size(); ++i) {
    if (branches[i]->type == AvroType::kNull) return static_cast<int>(i);
  }
  return -1;
}

const AvroNode* AvroNode::NullableValue() const {
  if (type != AvroType::kUnion || branches.size() != 2) return nullptr;
  const int n = NullBranch();
  if (n < 0) return nullptr;
  const AvroNode* other = branches[1 - n];
  return other->type == AvroType::kNull ? nullptr : other;
}

const AvroField* AvroNode::FindField(std::string_view field_name) const {
  for (const auto& f : fields) {
    if (f.name == field_name) return &f;
  }
  return nullptr;
}

namespace {

arrow::Status SchemaError(const std::string& path, const std::string& message) {
  return arrow::Status::Invalid("invalid Avro schema: ", path.empty() ? "" : path + ": ", message);
}

bool IsValidName(std::string_view name) {
  if (name.empty()) return false;
  auto first = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (!first(name[0])) return false;
  for (char c : name.substr(1)) {
    if (!first(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool IsValidFullName(std::string_view name) {
  size_t start = 0;
  while (true) {
    const size_t dot = name.find('.', start);
    if (!IsValidName(name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::optional<AvroType> PrimitiveType(std::string_view name) {
  if (name == "null") return AvroType::kNull;
  if (name == "boolean") return AvroType::kBoolean;
  if (name == "int") return AvroType::kInt;
  if (name == "long") return AvroType::kLong;
  if (name == "float") return AvroType::kFloat;
  if (name == "double") return AvroType::kDouble;
  if (name == "bytes") return AvroType::kBytes;
  if (name == "string") return AvroType::kString;
  return std::nullopt;
}

std::string Quote(std::string_view s) { return json::serialize(json::string(s)); }

}  // namespace

class SchemaParser {
 public:
  explicit SchemaParser(AvroSchema* schema) : schema_(schema) {}

  arrow::Result<const AvroNode*> ParseNode(const json::value& value, const std::string& space,
                                           const std::string& path) {
    if (value.is_string()) return ParseName(std::string(value.get_string()), space, path);
    if (value.is_array()) return ParseUnion(value.get_array(), space, path);
    if (!value.is_object()) {
      return SchemaError(path, "a type must be a name, an object or a union array, got " +
                                   json::serialize(value));
    }
    const json::object& obj = value.get_object();
    const json::value* type = obj.if_contains("type");
    if (type == nullptr) return SchemaError(path, "object without 'type'");
    if (!type->is_string()) {
      // {"type": {...}} and {"type": [...]} are only meaningful for fields.
      return SchemaError(path, "'type' must be a string here, got " + json::serialize(*type));
    }
    const std::string type_name(type->get_string());
    AvroNode* node = nullptr;
    if (auto prim = PrimitiveType(type_name)) {
      node = NewNode(*prim);
    } else if (type_name == "record" || type_name == "error") {
      return ParseRecord(obj, space, path);
    } else if (type_name == "enum") {
      return ParseEnum(obj, space, path);
    } else if (type_name == "fixed") {
      ARROW_ASSIGN_OR_RAISE(node, ParseFixed(obj, space, path));
    } else if (type_name == "array") {
      const json::value* items = obj.if_contains("items");
      if (items == nullptr) return SchemaError(path, "array without 'items'");
      node = NewNode(AvroType::kArray);
      ARROW_ASSIGN_OR_RAISE(node->items, ParseNode(*items, space, path + "[]"));
    } else if (type_name == "map") {
      const json::value* values = obj.if_contains("values");
      if (values == nullptr) return SchemaError(path, "map without 'values'");
      node = NewNode(AvroType::kMap);
      ARROW_ASSIGN_OR_RAISE(node->values, ParseNode(*values, space, path + "{}"));
    } else {
      // {"type": "com.x.Named"}: a reference in object form.
      ARROW_ASSIGN_OR_RAISE(const AvroNode* ref, ParseName(type_name, space, path));
      if (obj.if_contains("logicalType") == nullptr) return ref;
      return SchemaError(path, "a logicalType cannot annotate the reference '" + type_name + "'");
    }
    if (const json::value* logical = obj.if_contains("logicalType")) {
      ARROW_RETURN_NOT_OK(ApplyLogical(node, obj, *logical, path));
    }
    return node;
  }

  arrow::Status Finish(const AvroNode* root) {
    schema_->root_ = root;
    std::set<std::string> seen;
    Canonical(*root, &seen, &schema_->canonical_);
    return arrow::Status::OK();
  }

 private:
  AvroNode* NewNode(AvroType type) {
    schema_->nodes_.push_back(std::make_unique<AvroNode>());
    schema_->nodes_.back()->type = type;
    return schema_->nodes_.back().get();
  }

  arrow::Result<const AvroNode*> ParseName(const std::string& name, const std::string& space,
                                           const std::string& path) {
    if (auto prim = PrimitiveType(name)) return NewNode(*prim);
    if (name.find('.') == std::string::npos && !space.empty()) {
      if (const AvroNode* n = schema_->FindNamed(space + "." + name)) return n;
    }
    if (const AvroNode* n = schema_->FindNamed(name)) return n;
    return SchemaError(path, "unknown type '" + name + "'" +
                                 (IsValidFullName(name) ? " (named types must be defined before use)" : ""));
  }

  arrow::Result<const AvroNode*> ParseUnion(const json::array& array, const std::string& space,
                                            const std::string& path) {
    if (array.empty()) return SchemaError(path, "empty union");
    AvroNode* node = NewNode(AvroType::kUnion);
    std::set<std::string> keys;
    for (size_t i = 0; i < array.size(); ++i) {
      ARROW_ASSIGN_OR_RAISE(const AvroNode* branch,
                            ParseNode(array[i], space, path + "<" + std::to_string(i) + ">"));
      if (branch->type == AvroType::kUnion) {
        return SchemaError(path, "a union may not immediately contain another union");
      }
      const std::string key = branch->is_named() ? branch->full_name : AvroTypeName(branch->type);
      if (!keys.insert(key).second) {
        return SchemaError(path, "union contains '" + key + "' twice");
      }
      node->branches.push_back(branch);
    }
    return node;
  }

  struct NameParts {
    std::string name, full_name, space;
  };

  arrow::Result<NameParts> ParseFullName(const json::object& obj, const std::string& space,
                                         const std::string& path, const char* what) {
    const json::value* name = obj.if_contains("name");
    if (name == nullptr || !name->is_string()) {
      return SchemaError(path, std::string(what) + " without a string 'name'");
    }
    NameParts parts;
    const std::string text(name->get_string());
    if (!IsValidFullName(text)) return SchemaError(path, "invalid name '" + text + "'");
    const size_t dot = text.rfind('.');
    if (dot != std::string::npos) {
      parts.name = text.substr(dot + 1);
      parts.space = text.substr(0, dot);
    } else {
      parts.name = text;
      parts.space = space;
      if (const json::value* ns = obj.if_contains("namespace")) {
        if (!ns->is_string() && !ns->is_null()) return SchemaError(path, "'namespace' must be a string");
        parts.space = ns->is_string() ? std::string(ns->get_string()) : "";
        if (!parts.space.empty() && !IsValidFullName(parts.space)) {
          return SchemaError(path, "invalid namespace '" + parts.space + "'");
        }
      }
    }
    parts.full_name = parts.space.empty() ? parts.name : parts.space + "." + parts.name;
    if (PrimitiveType(parts.full_name)) {
      return SchemaError(path, "a named type cannot be called '" + parts.full_name + "'");
    }
    if (schema_->named_.count(parts.full_name)) {
      return SchemaError(path, "type '" + parts.full_name + "' is defined twice");
    }
    return parts;
  }

  arrow::Status ParseNamedCommon(AvroNode* node, const json::object& obj, const NameParts& parts,
                                 const std::string& path) {
    node->name = parts.name;
    node->full_name = parts.full_name;
    node->space = parts.space;
    if (const json::value* doc = obj.if_contains("doc"); doc && doc->is_string()) {
      node->doc = std::string(doc->get_string());
    }
    if (const json::value* aliases = obj.if_contains("aliases")) {
      if (!aliases->is_array()) return SchemaError(path, "'aliases' must be an array of names");
      for (const auto& a : aliases->get_array()) {
        if (!a.is_string() || !IsValidFullName(a.get_string())) {
          return SchemaError(path, "invalid alias " + json::serialize(a));
        }
        std::string alias(a.get_string());
        if (alias.find('.') == std::string::npos && !parts.space.empty()) alias = parts.space + "." + alias;
        node->aliases.push_back(std::move(alias));
      }
    }
    schema_->named_[parts.full_name] = node;
    return arrow::Status::OK();
  }

  arrow::Result<const AvroNode*> ParseRecord(const json::object& obj, const std::string& space,
                                             const std::string& path) {
    ARROW_ASSIGN_OR_RAISE(NameParts parts, ParseFullName(obj, space, path, "record"));
    const std::string rpath = path.empty() ? parts.full_name : path;
    AvroNode* node = NewNode(AvroType::kRecord);
    ARROW_RETURN_NOT_OK(ParseNamedCommon(node, obj, parts, rpath));
    const json::value* fields = obj.if_contains("fields");
    if (fields == nullptr || !fields->is_array()) {
      return SchemaError(rpath, "record without a 'fields' array");
    }
    std::set<std::string> names;
    for (const auto& fv : fields->get_array()) {
      if (!fv.is_object()) return SchemaError(rpath, "a field must be an object");
      const json::object& fo = fv.get_object();
      const json::value* fname = fo.if_contains("name");
      if (fname == nullptr || !fname->is_string()) return SchemaError(rpath, "field without a string 'name'");
      AvroField field;
      field.name = std::string(fname->get_string());
      const std::string fpath = (path.empty() ? std::string() : path + ".") + field.name;
      if (!IsValidName(field.name)) return SchemaError(fpath, "invalid field name '" + field.name + "'");
      if (!names.insert(field.name).second) return SchemaError(fpath, "duplicate field name");
      const json::value* ftype = fo.if_contains("type");
      if (ftype == nullptr) return SchemaError(fpath, "field without 'type'");
      ARROW_ASSIGN_OR_RAISE(field.type, ParseNode(*ftype, parts.space, fpath));
      if (const json::value* doc = fo.if_contains("doc"); doc && doc->is_string()) {
        field.doc = std::string(doc->get_string());
      }
      if (const json::value* order = fo.if_contains("order")) {
        if (!order->is_string() || (order->get_string() != "ascending" && order->get_string() != "descending" &&
                                    order->get_string() != "ignore")) {
          return SchemaError(fpath, "'order' must be ascending, descending or ignore");
        }
        if (order->get_string() != "ascending") field.order = std::string(order->get_string());
      }
      if (const json::value* aliases = fo.if_contains("aliases")) {
        if (!aliases->is_array()) return SchemaError(fpath, "'aliases' must be an array of names");
        for (const auto& a : aliases->get_array()) {
          if (!a.is_string() || !IsValidName(a.get_string())) {
            return SchemaError(fpath, "invalid alias " + json::serialize(a));
          }
          field.aliases.emplace_back(a.get_string());
        }
      }
      if (const json::value* def = fo.if_contains("default")) {
        field.default_json = *def;
        arrow::Status st = EncodeJsonDefault(*field.type, *def, &field.default_binary);
        if (!st.ok()) {
          return SchemaError(fpath, "default " + json::serialize(*def) + " does not match type " +
                                        field.type->Describe() + ": " + st.message());
        }
      }
      field.position = node->fields.size();
      node->fields.push_back(std::move(field));
    }
    return node;
  }

  arrow::Result<const AvroNode*> ParseEnum(const json::object& obj, const std::string& space,
                                           const std::string& path) {
    ARROW_ASSIGN_OR_RAISE(NameParts parts, ParseFullName(obj, space, path, "enum"));
    const std::string epath = path.empty() ? parts.full_name : path;
    AvroNode* node = NewNode(AvroType::kEnum);
    ARROW_RETURN_NOT_OK(ParseNamedCommon(node, obj, parts, epath));
    const json::value* symbols = obj.if_contains("symbols");
    if (symbols == nullptr || !symbols->is_array()) return SchemaError(epath, "enum without a 'symbols' array");
    std::set<std::string> seen;
    for (const auto& s : symbols->get_array()) {
      if (!s.is_string() || !IsValidName(s.get_string())) {
        return SchemaError(epath, "invalid enum symbol " + json::serialize(s));
      }
      if (!seen.insert(std::string(s.get_string())).second) {
        return SchemaError(epath, "duplicate enum symbol '" + std::string(s.get_string()) + "'");
      }
      node->symbols.emplace_back(s.get_string());
    }
    if (const json::value* def = obj.if_contains("default")) {
      if (!def->is_string() || !seen.count(std::string(def->get_string()))) {
        return SchemaError(epath, "enum default " + json::serialize(*def) + " is not one of its symbols");
      }
      node->enum_default = std::string(def->get_string());
    }
    return node;
  }

  arrow::Result<AvroNode*> ParseFixed(const json::object& obj, const std::string& space,
                                      const std::string& path) {
    ARROW_ASSIGN_OR_RAISE(NameParts parts, ParseFullName(obj, space, path, "fixed"));
    const std::string fpath = path.empty() ? parts.full_name : path;
    AvroNode* node = NewNode(AvroType::kFixed);
    ARROW_RETURN_NOT_OK(ParseNamedCommon(node, obj, parts, fpath));
    const json::value* size = obj.if_contains("size");
    if (size == nullptr) return SchemaError(fpath, "fixed without 'size'");
    if (!size->is_int64() && !size->is_uint64()) return SchemaError(fpath, "fixed 'size' must be an integer");
    const int64_t n = size->is_int64() ? size->get_int64() : static_cast<int64_t>(size->get_uint64());
    if (n < 0 || n > (1 << 30)) return SchemaError(fpath, "fixed 'size' out of range: " + std::to_string(n));
    node->size = static_cast<int32_t>(n);
    return node;
  }

  // Invalid logical types are ignored (spec), except for clear mistakes in decimal
  // parameters that we report rather than silently reading raw bytes.
  arrow::Status ApplyLogical(AvroNode* node, const json::object& obj, const json::value& logical,
                             const std::string& path) {
    if (!logical.is_string()) return arrow::Status::OK();
    node->logical_name = std::string(logical.get_string());
    const std::string& name = node->logical_name;
    const AvroType t = node->type;
    auto set_if = [&](bool ok, LogicalType lt) {
      if (ok) node->logical = lt;
    };
    if (name == "decimal") {
      if (t != AvroType::kBytes && t != AvroType::kFixed) return arrow::Status::OK();
      const json::value* p = obj.if_contains("precision");
      const json::value* s = obj.if_contains("scale");
      if (p == nullptr || !p->is_int64()) return SchemaError(path, "decimal without an integer 'precision'");
      if (s != nullptr && !s->is_int64()) return SchemaError(path, "decimal 'scale' must be an integer");
      const int64_t precision = p->get_int64();
      const int64_t scale = s ? s->get_int64() : 0;
      if (precision < 1) return SchemaError(path, "decimal precision must be positive");
      if (scale < 0 || scale > precision) {
        return SchemaError(path, "decimal scale must be between 0 and the precision (" + std::to_string(precision) + ")");
      }
      if (t == AvroType::kFixed) {
        const double max_digits = std::floor(std::log10(2.0) * (8.0 * node->size - 1));
        if (static_cast<double>(precision) > max_digits) {
          return SchemaError(path, "decimal precision " + std::to_string(precision) + " does not fit fixed(" +
                                       std::to_string(node->size) + ")");
        }
      }
      node->precision = static_cast<int32_t>(precision);
      node->scale = static_cast<int32_t>(scale);
      node->logical = LogicalType::kDecimal;
    } else if (name == "uuid") {
      set_if(t == AvroType::kString || (t == AvroType::kFixed && node->size == 16), LogicalType::kUuid);
    } else if (name == "date") {
      set_if(t == AvroType::kInt, LogicalType::kDate);
    } else if (name == "time-millis") {
      set_if(t == AvroType::kInt, LogicalType::kTimeMillis);
    } else if (name == "time-micros") {
      set_if(t == AvroType::kLong, LogicalType::kTimeMicros);
    } else if (name == "timestamp-millis") {
      set_if(t == AvroType::kLong, LogicalType::kTimestampMillis);
    } else if (name == "timestamp-micros") {
      set_if(t == AvroType::kLong, LogicalType::kTimestampMicros);
    } else if (name == "timestamp-nanos") {
      set_if(t == AvroType::kLong, LogicalType::kTimestampNanos);
    } else if (name == "local-timestamp-millis") {
      set_if(t == AvroType::kLong, LogicalType::kLocalTimestampMillis);
    } else if (name == "local-timestamp-micros") {
      set_if(t == AvroType::kLong, LogicalType::kLocalTimestampMicros);
    } else if (name == "local-timestamp-nanos") {
      set_if(t == AvroType::kLong, LogicalType::kLocalTimestampNanos);
    } else if (name == "duration") {
      set_if(t == AvroType::kFixed && node->size == 12, LogicalType::kDuration);
    }
    return arrow::Status::OK();
  }

  void Canonical(const AvroNode& node, std::set<std::string>* seen, std::string* out) {
    switch (node.type) {
      case AvroType::kRecord:
      case AvroType::kEnum:
      case AvroType::kFixed:
        if (!seen->insert(node.full_name).second) {
          *out += Quote(node.full_name);
          return;
        }
        *out += "{\"name\":" + Quote(node.full_name) + ",\"type\":\"" + AvroTypeName(node.type) + "\"";
        if (node.type == AvroType::kRecord) {
          *out += ",\"fields\":[";
          for (size_t i = 0; i < node.fields.size(); ++i) {
            if (i) *out += ",";
            *out += "{\"name\":" + Quote(node.fields[i].name) + ",\"type\":";
            Canonical(*node.fields[i].type, seen, out);
            *out += "}";
          }
          *out += "]";
        } else if (node.type == AvroType::kEnum) {
          *out += ",\"symbols\":[";
          for (size_t i = 0; i < node.symbols.size(); ++i) {
            if (i) *out += ",";
            *out += Quote(node.symbols[i]);
          }
          *out += "]";
        } else {
          *out += ",\"size\":" + std::to_string(node.size);
        }
        *out += "}";
        return;
      case AvroType::kArray:
        *out += "{\"type\":\"array\",\"items\":";
        Canonical(*node.items, seen, out);
        *out += "}";
        return;
      case AvroType::kMap:
        *out += "{\"type\":\"map\",\"values\":";
        Canonical(*node.values, seen, out);
        *out += "}";
        return;
      case AvroType::kUnion:
        *out += "[";
        for (size_t i = 0; i < node.branches.size(); ++i) {
          if (i) *out += ",";
          Canonical(*node.branches[i], seen, out);
        }
        *out += "]";
        return;
      default:
        *out += "\"" + std::string(AvroTypeName(node.type)) + "\"";
    }
  }

  AvroSchema* schema_;
};

arrow::Result<std::shared_ptr<const AvroSchema>> AvroSchema::Parse(std::string_view text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec) return arrow::Status::Invalid("invalid Avro schema: not valid JSON: ", ec.message());
  auto schema = std::make_shared<AvroSchema>();
  SchemaParser parser(schema.get());
  ARROW_ASSIGN_OR_RAISE(const AvroNode* root, parser.ParseNode(value, "", ""));
  ARROW_RETURN_NOT_OK(parser.Finish(root));
  return std::shared_ptr<const AvroSchema>(std::move(schema));
}

const AvroNode* AvroSchema::FindNamed(const std::string& full_name) const {
  auto it = named_.find(full_name);
  return it == named_.end() ? nullptr : it->second;
}

uint64_t Rabin64(std::string_view bytes) {
  constexpr uint64_t kEmpty = 0xc15d213aa4d7a795ULL;
  static const std::array<uint64_t, 256> table = [] {
    std::array<uint64_t, 256> t{};
    for (uint64_t i = 0; i < 256; ++i) {
      uint64_t fp = i;
      for (int j = 0; j < 8; ++j) fp = (fp >> 1) ^ (kEmpty & (~(fp & 1) + 1));
      t[i] = fp;
    }
    return t;
  }();
  uint64_t fp = kEmpty;
  for (unsigned char b : bytes) fp = (fp >> 8) ^ table[(fp ^ b) & 0xff];
  return fp;
}

uint64_t AvroSchema::Fingerprint64() const { return Rabin64(canonical_); }

namespace {

json::value NodeToJson(const AvroNode& node, std::set<std::string>* seen) {
  json::object obj;
  auto add_logical = [&](json::object* o) {
    if (node.logical_name.empty()) return;
    (*o)["logicalType"] = node.logical_name;
    if (node.logical == LogicalType::kDecimal) {
      (*o)["precision"] = node.precision;
      (*o)["scale"] = node.scale;
    }
  };
  switch (node.type) {
    case AvroType::kRecord:
    case AvroType::kEnum:
    case AvroType::kFixed: {
      if (!seen->insert(node.full_name).second) return json::string(node.full_name);
      obj["type"] = AvroTypeName(node.type);
      obj["name"] = node.full_name;
      if (!node.doc.empty()) obj["doc"] = node.doc;
      if (!node.aliases.empty()) {
        json::array a;
        for (const auto& s : node.aliases) a.emplace_back(s);
        obj["aliases"] = std::move(a);
      }
      if (node.type == AvroType::kRecord) {
        json::array fields;
        for (const auto& f : node.fields) {
          json::object fo;
          fo["name"] = f.name;
          fo["type"] = NodeToJson(*f.type, seen);
          if (f.default_json) fo["default"] = *f.default_json;
          if (!f.doc.empty()) fo["doc"] = f.doc;
          if (!f.order.empty()) fo["order"] = f.order;
          if (!f.aliases.empty()) {
            json::array a;
            for (const auto& s : f.aliases) a.emplace_back(s);
            fo["aliases"] = std::move(a);
          }
          fields.emplace_back(std::move(fo));
        }
        obj["fields"] = std::move(fields);
      } else if (node.type == AvroType::kEnum) {
        json::array symbols;
        for (const auto& s : node.symbols) symbols.emplace_back(s);
        obj["symbols"] = std::move(symbols);
        if (node.enum_default) obj["default"] = *node.enum_default;
      } else {
        obj["size"] = node.size;
        add_logical(&obj);
      }
      return obj;
    }
    case AvroType::kArray:
      obj["type"] = "array";
      obj["items"] = NodeToJson(*node.items, seen);
      return obj;
    case AvroType::kMap:
      obj["type"] = "map";
      obj["values"] = NodeToJson(*node.values, seen);
      return obj;
    case AvroType::kUnion: {
      json::array branches;
      for (const AvroNode* b : node.branches) branches.push_back(NodeToJson(*b, seen));
      return branches;
    }
    default:
      if (node.logical_name.empty()) return json::string(AvroTypeName(node.type));
      obj["type"] = AvroTypeName(node.type);
      add_logical(&obj);
      return obj;
  }
}

}  // namespace

std::string AvroSchema::ToJson() const {
  std::set<std::string> seen;
  return json::serialize(NodeToJson(*root_, &seen));
}

// ---- defaults ----------------------------------------------------------------------------

namespace {

// JSON strings stand for bytes as code points 0-255 (spec: "bytes and fixed ... as strings
// where Unicode code points 0-255 are mapped to unsigned 8-bit byte values").
arrow::Status JsonBytes(const json::string& s, std::string* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned cp = *p++;
    if (cp >= 0x80) {
      if ((cp & 0xe0) != 0xc0 || p == end) return arrow::Status::Invalid("byte string has a code point above 255");
      cp = ((cp & 0x1f) << 6) | (*p++ & 0x3f);
      if (cp > 0xff) return arrow::Status::Invalid("byte string has a code point above 255");
    }
    out->push_back(static_cast<char>(cp));
  }
  return arrow::Status::OK();
}

arrow::Result<int64_t> JsonInteger(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(v.get_uint64());
  if (v.is_double() && std::trunc(v.get_double()) == v.get_double() && std::fabs(v.get_double()) < 9.2e18) {
    return static_cast<int64_t>(v.get_double());
  }
  return arrow::Status::Invalid("expected an integer");
}

arrow::Result<double> JsonNumber(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double()) return v.get_double();
  if (v.is_string()) {
    if (v.get_string() == "NaN") return std::nan("");
    if (v.get_string() == "Infinity") return HUGE_VAL;
    if (v.get_string() == "-Infinity") return -HUGE_VAL;
  }
  return arrow::Status::Invalid("expected a number");
}

}  // namespace

arrow::Status EncodeJsonDefault(const AvroNode& node, const json::value& v, std::string* out) {
  using internal::WriteLong;
  switch (node.type) {
    case AvroType::kNull:
      if (!v.is_null()) return arrow::Status::Invalid("expected null");
      return arrow::Status::OK();
    case AvroType::kBoolean:
      if (!v.is_bool()) return arrow::Status::Invalid("expected true or false");
      out->push_back(v.get_bool() ? 1 : 0);
      return arrow::Status::OK();
    case AvroType::kInt: {
      ARROW_ASSIGN_OR_RAISE(int64_t n, JsonInteger(v));
      if (n < INT32_MIN || n > INT32_MAX) return arrow::Status::Invalid("int out of range");
      WriteLong(n, out);
      return arrow::Status::OK();
    }
    case AvroType::kLong: {
      ARROW_ASSIGN_OR_RAISE(int64_t n, JsonInteger(v));
      WriteLong(n, out);
      return arrow::Status::OK();
    }
    case AvroType::kFloat: {
      ARROW_ASSIGN_OR_RAISE(double d, JsonNumber(v));
      internal::WriteFloat(static_cast<float>(d), out);
      return arrow::Status::OK();
    }
    case AvroType::kDouble: {
      ARROW_ASSIGN_OR_RAISE(double d, JsonNumber(v));
      internal::WriteDouble(d, out);
      return arrow::Status::OK();
    }
    case AvroType::kBytes: {
      if (!v.is_string()) return arrow::Status::Invalid("expected a string of bytes");
      std::string bytes;
      ARROW_RETURN_NOT_OK(JsonBytes(v.get_string(), &bytes));
      internal::WriteBytes(bytes, out);
      return arrow::Status::OK();
    }
    case AvroType::kString:
      if (!v.is_string()) return arrow::Status::Invalid("expected a string");
      internal::WriteBytes(std::string_view(v.get_string()), out);
      return arrow::Status::OK();
    case AvroType::kFixed: {
      if (!v.is_string()) return arrow::Status::Invalid("expected a string of bytes");
      std::string bytes;
      ARROW_RETURN_NOT_OK(JsonBytes(v.get_string(), &bytes));
      if (bytes.size() != static_cast<size_t>(node.size)) {
        return arrow::Status::Invalid("expected ", node.size, " bytes, got ", bytes.size());
      }
      out->append(bytes);
      return arrow::Status::OK();
    }
    case AvroType::kEnum: {
      if (!v.is_string()) return arrow::Status::Invalid("expected an enum symbol");
      for (size_t i = 0; i < node.symbols.size(); ++i) {
        if (node.symbols[i] == v.get_string()) {
          WriteLong(static_cast<int64_t>(i), out);
          return arrow::Status::OK();
        }
      }
      return arrow::Status::Invalid("'", std::string(v.get_string()), "' is not a symbol of ", node.full_name);
    }
    case AvroType::kArray: {
      if (!v.is_array()) return arrow::Status::Invalid("expected an array");
      const auto& a = v.get_array();
      if (!a.empty()) {
        WriteLong(static_cast<int64_t>(a.size()), out);
        for (const auto& item : a) ARROW_RETURN_NOT_OK(EncodeJsonDefault(*node.items, item, out));
      }
      WriteLong(0, out);
      return arrow::Status::OK();
    }
    case AvroType::kMap: {
      if (!v.is_object()) return arrow::Status::Invalid("expected an object");
      const auto& o = v.get_object();
      if (!o.empty()) {
        WriteLong(static_cast<int64_t>(o.size()), out);
        for (const auto& kv : o) {
          internal::WriteBytes(std::string_view(kv.key()), out);
          ARROW_RETURN_NOT_OK(EncodeJsonDefault(*node.values, kv.value(), out));
        }
      }
      WriteLong(0, out);
      return arrow::Status::OK();
    }
    case AvroType::kRecord: {
      if (!v.is_object()) return arrow::Status::Invalid("expected an object");
      const auto& o = v.get_object();
      for (const auto& f : node.fields) {
        if (const json::value* fv = o.if_contains(f.name)) {
          ARROW_RETURN_NOT_OK(EncodeJsonDefault(*f.type, *fv, out));
        } else if (f.default_json) {
          out->append(f.default_binary);
        } else {
          return arrow::Status::Invalid("field '", f.name, "' missing");
        }
      }
      return arrow::Status::OK();
    }
    case AvroType::kUnion: {
      // Avro 1.11: the default matches the first branch. Later versions allow any branch;
      // we accept the first that matches.
      arrow::Status first;
      for (size_t i = 0; i < node.branches.size(); ++i) {
        std::string tmp;
        WriteLong(static_cast<int64_t>(i), &tmp);
        arrow::Status st = EncodeJsonDefault(*node.branches[i], v, &tmp);
        if (st.ok()) {
          out->append(tmp);
          return st;
        }
        if (i == 0) first = st;
      }
      return first;
    }
  }
  return arrow::Status::Invalid("unknown type");
}

// ---- Avro -> Arrow ---------------------------------------------------------------------------

namespace {

arrow::Result<ArrowTypeAndNullability> ToArrow(const AvroNode& node, std::set<const AvroNode*>* stack) {
  using R = ArrowTypeAndNullability;
  switch (node.type) {
    case AvroType::kNull: return R{arrow::null(), true};
    case AvroType::kBoolean: return R{arrow::boolean(), false};
    case AvroType::kInt:
      if (node.logical == LogicalType::kDate) return R{arrow::date32(), false};
      if (node.logical == LogicalType::kTimeMillis) return R{arrow::time32(arrow::TimeUnit::MILLI), false};
      return R{arrow::int32(), false};
    case AvroType::kLong:
      switch (node.logical) {
        case LogicalType::kTimeMicros: return R{arrow::time64(arrow::TimeUnit::MICRO), false};
        case LogicalType::kTimestampMillis: return R{arrow::timestamp(arrow::TimeUnit::MILLI, "UTC"), false};
        case LogicalType::kTimestampMicros: return R{arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"), false};
        case LogicalType::kTimestampNanos: return R{arrow::timestamp(arrow::TimeUnit::NANO, "UTC"), false};
        case LogicalType::kLocalTimestampMillis: return R{arrow::timestamp(arrow::TimeUnit::MILLI), false};
        case LogicalType::kLocalTimestampMicros: return R{arrow::timestamp(arrow::TimeUnit::MICRO), false};
        case LogicalType::kLocalTimestampNanos: return R{arrow::timestamp(arrow::TimeUnit::NANO), false};
        default: return R{arrow::int64(), false};
      }
    case AvroType::kFloat: return R{arrow::float32(), false};
    case AvroType::kDouble: return R{arrow::float64(), false};
    case AvroType::kBytes:
    case AvroType::kFixed:
      if (node.logical == LogicalType::kDecimal) {
        if (node.precision > 38) {
          return arrow::Status::NotImplemented("Avro decimal(", node.precision, ", ", node.scale,
                                               ") has more than 38 digits");
        }
        // Make() checks the range; decimal128() would abort the process on precision < 1
        // (found by the Avro schema fuzzer).
        ARROW_ASSIGN_OR_RAISE(auto type, arrow::Decimal128Type::Make(node.precision, node.scale));
        return R{type, false};
      }
      if (node.type == AvroType::kBytes) return R{arrow::binary(), false};
      if (node.logical == LogicalType::kDuration) return R{arrow::month_day_nano_interval(), false};
      return R{arrow::fixed_size_binary(node.size), false};
    case AvroType::kString: return R{arrow::utf8(), false};
    case AvroType::kEnum: return R{arrow::dictionary(arrow::int32(), arrow::utf8()), false};
    case AvroType::kArray: {
      ARROW_ASSIGN_OR_RAISE(R item, ToArrow(*node.items, stack));
      return R{arrow::list(arrow::field("item", item.type, item.nullable)), false};
    }
    case AvroType::kMap: {
      ARROW_ASSIGN_OR_RAISE(R value, ToArrow(*node.values, stack));
      return R{std::make_shared<arrow::MapType>(arrow::field("key", arrow::utf8(), false),
                                                arrow::field("value", value.type, value.nullable)),
               false};
    }
    case AvroType::kRecord: {
      if (!stack->insert(&node).second) {
        return arrow::Status::NotImplemented("recursive Avro type '", node.full_name, "' has no Arrow equivalent");
      }
      arrow::FieldVector fields;
      for (const auto& f : node.fields) {
        ARROW_ASSIGN_OR_RAISE(R t, ToArrow(*f.type, stack));
        fields.push_back(arrow::field(f.name, t.type, t.nullable));
      }
      stack->erase(&node);
      return R{arrow::struct_(std::move(fields)), false};
    }
    case AvroType::kUnion: {
      if (const AvroNode* value = node.NullableValue()) {
        ARROW_ASSIGN_OR_RAISE(R t, ToArrow(*value, stack));
        return R{t.type, true};
      }
      if (node.branches.size() == 1) return ToArrow(*node.branches[0], stack);
      arrow::FieldVector fields;
      std::vector<int8_t> codes;
      for (size_t i = 0; i < node.branches.size(); ++i) {
        const AvroNode& b = *node.branches[i];
        ARROW_ASSIGN_OR_RAISE(R t, ToArrow(b, stack));
        fields.push_back(arrow::field(b.is_named() ? b.full_name : AvroTypeName(b.type), t.type, true));
        codes.push_back(static_cast<int8_t>(i));
      }
      if (fields.size() > 127) return arrow::Status::NotImplemented("Avro union with more than 127 branches");
      return R{arrow::dense_union(std::move(fields), std::move(codes)), node.NullBranch() >= 0};
    }
  }
  return arrow::Status::Invalid("unknown Avro type");
}

}  // namespace

arrow::Result<ArrowTypeAndNullability> AvroToArrowType(const AvroNode& node) {
  std::set<const AvroNode*> stack;
  return ToArrow(node, &stack);
}

arrow::Result<std::shared_ptr<arrow::Schema>> AvroToArrowSchema(const AvroSchema& schema) {
  const AvroNode& root = schema.root();
  if (root.type != AvroType::kRecord) {
    return arrow::Status::Invalid("Avro schema: the top-level type must be a record to map to columns, got ",
                                  root.Describe());
  }
  ARROW_ASSIGN_OR_RAISE(auto t, AvroToArrowType(root));
  return arrow::schema(t.type->fields());
}

// ---- Arrow -> Avro ---------------------------------------------------------------------------

namespace {

arrow::Result<json::value> ArrowTypeToAvro(const arrow::DataType& type, const std::string& name_hint,
                                           const std::string& space, std::set<std::string>* names);

arrow::Result<json::value> ArrowFieldToAvro(const arrow::Field& field, const std::string& name_hint,
                                            const std::string& space, std::set<std::string>* names) {
  ARROW_ASSIGN_OR_RAISE(json::value t, ArrowTypeToAvro(*field.type(), name_hint, space, names));
  if (!field.nullable() || field.type()->id() == arrow::Type::NA) return t;
  if (t.is_array()) {  // a union: add null first unless present
    json::array& a = t.get_array();
    for (const auto& b : a) {
      if (b.is_string() && b.get_string() == "null") return t;
    }
    a.insert(a.begin(), json::string("null"));
    return t;
  }
  return json::array{json::string("null"), std::move(t)};
}

std::string UniqueName(const std::string& hint, std::set<std::string>* names) {
  std::string name;
  for (char c : hint) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    name.push_back(ok ? c : '_');
  }
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) name = "_" + name;
  std::string candidate = name;
  for (int i = 2; !names->insert(candidate).second; ++i) candidate = name + "_" + std::to_string(i);
  return candidate;
}

arrow::Result<json::value> ArrowTypeToAvro(const arrow::DataType& type, const std::string& name_hint,
                                           const std::string& space, std::set<std::string>* names) {
  auto logical = [](const char* base, const char* lt) {
    return json::object{{"type", base}, {"logicalType", lt}};
  };
  switch (type.id()) {
    case arrow::Type::NA: return json::string("null");
    case arrow::Type::BOOL: return json::string("boolean");
    case arrow::Type::INT8:
    case arrow::Type::INT16:
    case arrow::Type::INT32:
    case arrow::Type::UINT8:
    case arrow::Type::UINT16:
      return json::string("int");
    case arrow::Type::UINT32:
    case arrow::Type::INT64:
    case arrow::Type::UINT64:
      return json::string("long");
    case arrow::Type::HALF_FLOAT:
    case arrow::Type::FLOAT:
      return json::string("float");
    case arrow::Type::DOUBLE: return json::string("double");
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
    case arrow::Type::STRING_VIEW:
      return json::string("string");
    case arrow::Type::BINARY:
    case arrow::Type::LARGE_BINARY:
    case arrow::Type::BINARY_VIEW:
      return json::string("bytes");
    case arrow::Type::FIXED_SIZE_BINARY: {
      const auto& f = static_cast<const arrow::FixedSizeBinaryType&>(type);
      const std::string n = UniqueName(name_hint, names);
      return json::object{{"type", "fixed"}, {"name", space.empty() ? n : space + "." + n}, {"size", f.byte_width()}};
    }
    case arrow::Type::DECIMAL32:
    case arrow::Type::DECIMAL64:
    case arrow::Type::DECIMAL128: {
      const auto& d = static_cast<const arrow::DecimalType&>(type);
      return json::object{{"type", "bytes"}, {"logicalType", "decimal"}, {"precision", d.precision()},
                          {"scale", d.scale()}};
    }
    case arrow::Type::DATE32: return logical("int", "date");
    case arrow::Type::TIME32: return logical("int", "time-millis");
    case arrow::Type::TIME64: return logical("long", "time-micros");
    case arrow::Type::TIMESTAMP: {
      const auto& t = static_cast<const arrow::TimestampType&>(type);
      const bool local = t.timezone().empty();
      const char* unit = t.unit() == arrow::TimeUnit::NANO    ? "nanos"
                         : t.unit() == arrow::TimeUnit::MICRO ? "micros"
                                                              : "millis";
      const std::string lt = std::string(local ? "local-timestamp-" : "timestamp-") + unit;
      return json::object{{"type", "long"}, {"logicalType", lt}};
    }
    case arrow::Type::INTERVAL_MONTH_DAY_NANO: {
      const std::string n = UniqueName(name_hint, names);
      return json::object{{"type", "fixed"}, {"name", space.empty() ? n : space + "." + n}, {"size", 12},
                          {"logicalType", "duration"}};
    }
    case arrow::Type::DICTIONARY: {
      const auto& d = static_cast<const arrow::DictionaryType&>(type);
      return ArrowTypeToAvro(*d.value_type(), name_hint, space, names);
    }
    case arrow::Type::LIST:
    case arrow::Type::LARGE_LIST:
    case arrow::Type::FIXED_SIZE_LIST: {
      const auto& l = static_cast<const arrow::BaseListType&>(type);
      ARROW_ASSIGN_OR_RAISE(json::value items, ArrowFieldToAvro(*l.value_field(), name_hint + "_item", space, names));
      return json::object{{"type", "array"}, {"items", std::move(items)}};
    }
    case arrow::Type::MAP: {
      const auto& m = static_cast<const arrow::MapType&>(type);
      if (m.key_type()->id() != arrow::Type::STRING && m.key_type()->id() != arrow::Type::LARGE_STRING) {
        return arrow::Status::NotImplemented("Avro maps have string keys; got map<", m.key_type()->ToString(), ", ...>");
      }
      ARROW_ASSIGN_OR_RAISE(json::value values, ArrowFieldToAvro(*m.item_field(), name_hint + "_value", space, names));
      return json::object{{"type", "map"}, {"values", std::move(values)}};
    }
    case arrow::Type::STRUCT: {
      const std::string n = UniqueName(name_hint, names);
      json::array fields;
      for (const auto& f : type.fields()) {
        ARROW_ASSIGN_OR_RAISE(json::value ft, ArrowFieldToAvro(*f, n + "_" + f->name(), space, names));
        json::object fo{{"name", f->name()}, {"type", ft}};
        if (ft.is_array() && !ft.get_array().empty() && ft.get_array()[0] == json::value("null")) {
          fo["default"] = nullptr;
        }
        fields.emplace_back(std::move(fo));
      }
      return json::object{{"type", "record"}, {"name", space.empty() ? n : space + "." + n},
                          {"fields", std::move(fields)}};
    }
    case arrow::Type::DENSE_UNION:
    case arrow::Type::SPARSE_UNION: {
      json::array branches;
      for (const auto& f : type.fields()) {
        ARROW_ASSIGN_OR_RAISE(json::value b, ArrowTypeToAvro(*f->type(), name_hint + "_" + f->name(), space, names));
        branches.push_back(std::move(b));
      }
      return branches;
    }
    default:
      return arrow::Status::NotImplemented("Arrow type ", type.ToString(), " has no Avro equivalent");
  }
}

}  // namespace

arrow::Result<std::string> ArrowToAvroSchemaJson(const arrow::Schema& schema, const std::string& record_name,
                                                 const std::string& space) {
  std::set<std::string> names;
  ARROW_ASSIGN_OR_RAISE(json::value v, ArrowTypeToAvro(*arrow::struct_(schema.fields()), record_name, space, &names));
  return json::serialize(v);
}

}  // namespace laminar::serde::avro
