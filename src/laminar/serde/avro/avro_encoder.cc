// The Avro encoder: a plan built from (Arrow columns, Avro schema), walked per row.
#include "laminar/serde/avro/avro_encoder.h"

#include <arrow/array.h>
#include <arrow/type.h>
#include <arrow/util/decimal.h>

#include <unordered_map>

#include "laminar/serde/avro/binary_internal.h"

namespace laminar::serde::avro {

using internal::WriteBytes;
using internal::WriteLong;
using internal::Pow10;
using internal::UnitDigits;

enum class PlanKind : uint8_t {
  kNull, kBool, kInteger, kFloat, kDouble, kBytes, kFixed, kEnum, kDecimalBytes, kDecimalFixed,
  kDuration, kRecord, kArray, kMap, kNullable, kDenseUnion,
};

struct EncodePlan {
  PlanKind kind = PlanKind::kNull;
  const AvroNode* avro = nullptr;
  std::string path;
  bool avro_int = false;
  int64_t mul = 1, div = 1;
  std::vector<std::unique_ptr<EncodePlan>> children;
  std::vector<int> columns;            // record: per Avro field, the column index or -1
  std::vector<std::string> defaults;   // record: per Avro field, the default's encoding
  int64_t null_branch = -1, value_branch = -1;
  std::vector<int64_t> branches;       // dense union: per member, the Avro branch
  std::unordered_map<std::string, int64_t> symbols;
};

namespace {


bool IsInteger(arrow::Type::type id) {
  return arrow::is_integer(id);
}

arrow::Status PlanError(const std::string& path, const std::string& message) {
  return arrow::Status::Invalid("Avro encoder: column '", path, "': ", message);
}

arrow::Status Mismatch(const std::string& path, const arrow::DataType& type, const AvroNode& avro) {
  return PlanError(path, "cannot write Arrow type " + type.ToString() + " as Avro type '" + avro.Describe() + "'");
}

arrow::Result<std::unique_ptr<EncodePlan>> BuildPlan(const arrow::DataType& type, const AvroNode& avro,
                                                     const std::string& path);

arrow::Status PlanRecord(EncodePlan* plan, const arrow::FieldVector& fields, const AvroNode& avro,
                         const std::string& prefix) {
  plan->kind = PlanKind::kRecord;
  for (const auto& f : avro.fields) {
    int index = -1;
    for (size_t k = 0; k < fields.size(); ++k) {
      if (fields[k]->name() == f.name) index = static_cast<int>(k);
    }
    if (index < 0) {
      for (size_t k = 0; k < fields.size() && index < 0; ++k) {
        for (const auto& alias : f.aliases) {
          if (fields[k]->name() == alias) index = static_cast<int>(k);
        }
      }
    }
    plan->columns.push_back(index);
    plan->defaults.push_back(f.default_binary);
    if (index < 0) {
      if (!f.default_json) {
        return PlanError(prefix + f.name, "no such column and the Avro field has no default");
      }
      plan->children.push_back(nullptr);
      continue;
    }
    ARROW_ASSIGN_OR_RAISE(auto child, BuildPlan(*fields[index]->type(), *f.type, prefix + fields[index]->name()));
    plan->children.push_back(std::move(child));
  }
  return arrow::Status::OK();
}

// The best union branch for a value of `type`: the branch whose own Arrow mapping is the
// type, else the first non-null branch that plans.
arrow::Result<std::pair<int64_t, std::unique_ptr<EncodePlan>>> PickBranch(const arrow::DataType& type,
                                                                          const AvroNode& avro,
                                                                          const std::string& path) {
  for (size_t b = 0; b < avro.branches.size(); ++b) {
    const AvroNode& branch = *avro.branches[b];
    if (branch.type == AvroType::kNull) continue;
    auto own = AvroToArrowType(branch);
    if (own.ok() && own->type->Equals(type)) {
      auto plan = BuildPlan(type, branch, path);
      if (plan.ok()) return std::make_pair(static_cast<int64_t>(b), std::move(*plan));
    }
  }
  for (size_t b = 0; b < avro.branches.size(); ++b) {
    if (avro.branches[b]->type == AvroType::kNull) continue;
    auto plan = BuildPlan(type, *avro.branches[b], path);
    if (plan.ok()) return std::make_pair(static_cast<int64_t>(b), std::move(*plan));
  }
  if (type.id() == arrow::Type::NA && avro.NullBranch() >= 0) {
    auto plan = std::make_unique<EncodePlan>();
    plan->kind = PlanKind::kNull;
    return std::make_pair(static_cast<int64_t>(avro.NullBranch()), std::move(plan));
  }
  return PlanError(path, "no branch of the Avro union " + avro.Describe() + " accepts Arrow type " + type.ToString());
}

arrow::Result<std::unique_ptr<EncodePlan>> BuildPlan(const arrow::DataType& type, const AvroNode& avro,
                                                     const std::string& path) {
  auto plan = std::make_unique<EncodePlan>();
  plan->avro = &avro;
  plan->path = path;
  const arrow::Type::type id = type.id();
  if (avro.type == AvroType::kUnion) {
    if (id == arrow::Type::DENSE_UNION) {
      plan->kind = PlanKind::kDenseUnion;
      for (const auto& member : type.fields()) {
        ARROW_ASSIGN_OR_RAISE(auto picked, PickBranch(*member->type(), avro, path + "<" + member->name() + ">"));
        plan->branches.push_back(picked.first);
        plan->children.push_back(std::move(picked.second));
      }
      return plan;
    }
    plan->kind = PlanKind::kNullable;
    plan->null_branch = avro.NullBranch();
    ARROW_ASSIGN_OR_RAISE(auto picked, PickBranch(type, avro, path));
    plan->value_branch = picked.first;
    plan->children.push_back(std::move(picked.second));
    return plan;
  }
  auto scale = [&](int from, int to) {
    if (to > from) plan->mul = Pow10(to - from);
    if (from > to) plan->div = Pow10(from - to);
  };
  switch (avro.type) {
    case AvroType::kNull:
      if (id != arrow::Type::NA) return Mismatch(path, type, avro);
      plan->kind = PlanKind::kNull;
      return plan;
    case AvroType::kBoolean:
      if (id != arrow::Type::BOOL) return Mismatch(path, type, avro);
      plan->kind = PlanKind::kBool;
      return plan;
    case AvroType::kInt:
    case AvroType::kLong: {
      plan->kind = PlanKind::kInteger;
      plan->avro_int = avro.type == AvroType::kInt;
      switch (avro.logical) {
        case LogicalType::kDate:
          if (id == arrow::Type::DATE64) plan->div = 86400000;
          else if (id != arrow::Type::DATE32 && !IsInteger(id)) return Mismatch(path, type, avro);
          return plan;
        case LogicalType::kTimeMillis:
        case LogicalType::kTimeMicros: {
          const int to = avro.logical == LogicalType::kTimeMillis ? 3 : 6;
          if (id == arrow::Type::TIME32 || id == arrow::Type::TIME64) {
            scale(UnitDigits(static_cast<const arrow::TimeType&>(type).unit()), to);
          } else if (!IsInteger(id)) {
            return Mismatch(path, type, avro);
          }
          return plan;
        }
        case LogicalType::kTimestampMillis: case LogicalType::kLocalTimestampMillis:
        case LogicalType::kTimestampMicros: case LogicalType::kLocalTimestampMicros:
        case LogicalType::kTimestampNanos: case LogicalType::kLocalTimestampNanos: {
          const LogicalType lt = avro.logical;
          const int to = (lt == LogicalType::kTimestampMillis || lt == LogicalType::kLocalTimestampMillis) ? 3
                         : (lt == LogicalType::kTimestampMicros || lt == LogicalType::kLocalTimestampMicros) ? 6
                                                                                                              : 9;
          if (id == arrow::Type::TIMESTAMP) {
            scale(UnitDigits(static_cast<const arrow::TimestampType&>(type).unit()), to);
          } else if (id == arrow::Type::DATE32) {
            plan->mul = 86400 * Pow10(to);
          } else if (!IsInteger(id)) {
            return Mismatch(path, type, avro);
          }
          return plan;
        }
        default:
          if (!IsInteger(id) && id != arrow::Type::DATE32 && id != arrow::Type::DATE64 && id != arrow::Type::TIME32 &&
              id != arrow::Type::TIME64 && id != arrow::Type::TIMESTAMP) {
            return Mismatch(path, type, avro);
          }
          return plan;
      }
    }
    case AvroType::kFloat:
    case AvroType::kDouble:
      if (id != arrow::Type::FLOAT && id != arrow::Type::DOUBLE && !IsInteger(id)) {
        return Mismatch(path, type, avro);
      }
      plan->kind = avro.type == AvroType::kFloat ? PlanKind::kFloat : PlanKind::kDouble;
      return plan;
    case AvroType::kBytes:
    case AvroType::kString:
      if (avro.logical == LogicalType::kDecimal && id == arrow::Type::DECIMAL128) {
        if (static_cast<const arrow::Decimal128Type&>(type).scale() != avro.scale) {
          return PlanError(path, "decimal scale differs: column " + type.ToString() + ", Avro scale " +
                                     std::to_string(avro.scale));
        }
        plan->kind = PlanKind::kDecimalBytes;
        return plan;
      }
      if (id != arrow::Type::STRING && id != arrow::Type::BINARY && id != arrow::Type::LARGE_STRING &&
          id != arrow::Type::LARGE_BINARY && id != arrow::Type::FIXED_SIZE_BINARY &&
          id != arrow::Type::STRING_VIEW && id != arrow::Type::BINARY_VIEW) {
        return Mismatch(path, type, avro);
      }
      plan->kind = PlanKind::kBytes;
      return plan;
    case AvroType::kFixed:
      if (avro.logical == LogicalType::kDecimal && id == arrow::Type::DECIMAL128) {
        if (static_cast<const arrow::Decimal128Type&>(type).scale() != avro.scale) {
          return PlanError(path, "decimal scale differs: column " + type.ToString() + ", Avro scale " +
                                     std::to_string(avro.scale));
        }
        plan->kind = PlanKind::kDecimalFixed;
        return plan;
      }
      if (avro.logical == LogicalType::kDuration && id == arrow::Type::INTERVAL_MONTH_DAY_NANO) {
        plan->kind = PlanKind::kDuration;
        return plan;
      }
      if (id == arrow::Type::FIXED_SIZE_BINARY &&
          static_cast<const arrow::FixedSizeBinaryType&>(type).byte_width() != avro.size) {
        return Mismatch(path, type, avro);
      }
      if (id != arrow::Type::FIXED_SIZE_BINARY && id != arrow::Type::BINARY && id != arrow::Type::LARGE_BINARY) {
        return Mismatch(path, type, avro);
      }
      plan->kind = PlanKind::kFixed;
      return plan;
    case AvroType::kEnum: {
      const bool dict_of_strings = id == arrow::Type::DICTIONARY &&
          static_cast<const arrow::DictionaryType&>(type).value_type()->id() == arrow::Type::STRING;
      if (id != arrow::Type::STRING && id != arrow::Type::LARGE_STRING && !dict_of_strings) {
        return Mismatch(path, type, avro);
      }
      plan->kind = PlanKind::kEnum;
      for (size_t i = 0; i < avro.symbols.size(); ++i) plan->symbols[avro.symbols[i]] = static_cast<int64_t>(i);
      if (avro.enum_default) plan->value_branch = plan->symbols[*avro.enum_default];
      return plan;
    }
    case AvroType::kArray: {
      if (id != arrow::Type::LIST && id != arrow::Type::LARGE_LIST && id != arrow::Type::FIXED_SIZE_LIST) {
        return Mismatch(path, type, avro);
      }
      plan->kind = PlanKind::kArray;
      ARROW_ASSIGN_OR_RAISE(auto child, BuildPlan(*type.field(0)->type(), *avro.items, path + "[]"));
      plan->children.push_back(std::move(child));
      return plan;
    }
    case AvroType::kMap: {
      if (id != arrow::Type::MAP) return Mismatch(path, type, avro);
      const auto& m = static_cast<const arrow::MapType&>(type);
      if (m.key_type()->id() != arrow::Type::STRING) return PlanError(path, "Avro map keys must be utf8");
      plan->kind = PlanKind::kMap;
      ARROW_ASSIGN_OR_RAISE(auto child, BuildPlan(*m.item_type(), *avro.values, path + "{}"));
      plan->children.push_back(std::move(child));
      return plan;
    }
    case AvroType::kRecord:
      if (id != arrow::Type::STRUCT) return Mismatch(path, type, avro);
      ARROW_RETURN_NOT_OK(PlanRecord(plan.get(), type.fields(), avro, path + "."));
      return plan;
    default:
      return Mismatch(path, type, avro);
  }
}

arrow::Status ValueError(const EncodePlan& plan, const std::string& message) {
  return arrow::Status::Invalid("column '", plan.path, "' (avro type '", plan.avro ? plan.avro->Describe() : "?",
                                "'): ", message);
}

arrow::Result<int64_t> IntegerAt(const arrow::Array& a, int64_t i) {
  const arrow::ArrayData& d = *a.data();
  switch (a.type_id()) {
    case arrow::Type::INT8: return d.GetValues<int8_t>(1)[i];
    case arrow::Type::INT16: return d.GetValues<int16_t>(1)[i];
    case arrow::Type::INT32: case arrow::Type::DATE32: case arrow::Type::TIME32: return d.GetValues<int32_t>(1)[i];
    case arrow::Type::INT64: case arrow::Type::DATE64: case arrow::Type::TIME64: case arrow::Type::TIMESTAMP:
      return d.GetValues<int64_t>(1)[i];
    case arrow::Type::UINT8: return d.GetValues<uint8_t>(1)[i];
    case arrow::Type::UINT16: return d.GetValues<uint16_t>(1)[i];
    case arrow::Type::UINT32: return d.GetValues<uint32_t>(1)[i];
    case arrow::Type::UINT64: {
      const uint64_t v = d.GetValues<uint64_t>(1)[i];
      if (v > static_cast<uint64_t>(INT64_MAX)) return arrow::Status::Invalid("value ", v, " does not fit an Avro long");
      return static_cast<int64_t>(v);
    }
    default: return arrow::Status::Invalid("not an integer column");
  }
}

std::string_view BytesAt(const arrow::Array& a, int64_t i) {
  switch (a.type_id()) {
    case arrow::Type::STRING: case arrow::Type::BINARY:
      return static_cast<const arrow::BinaryArray&>(a).GetView(i);
    case arrow::Type::LARGE_STRING: case arrow::Type::LARGE_BINARY:
      return static_cast<const arrow::LargeBinaryArray&>(a).GetView(i);
    case arrow::Type::STRING_VIEW: case arrow::Type::BINARY_VIEW:
      return static_cast<const arrow::BinaryViewArray&>(a).GetView(i);
    case arrow::Type::FIXED_SIZE_BINARY:
      return static_cast<const arrow::FixedSizeBinaryArray&>(a).GetView(i);
    default: return {};
  }
}

arrow::Status Encode(const EncodePlan& plan, const arrow::Array& a, int64_t i, std::string* out);

arrow::Status EncodeFields(const EncodePlan& plan, const std::vector<const arrow::Array*>& columns, int64_t i,
                           std::string* out) {
  for (size_t f = 0; f < plan.columns.size(); ++f) {
    if (plan.columns[f] < 0) {
      out->append(plan.defaults[f]);
    } else {
      ARROW_RETURN_NOT_OK(Encode(*plan.children[f], *columns[plan.columns[f]], i, out));
    }
  }
  return arrow::Status::OK();
}

arrow::Status Encode(const EncodePlan& plan, const arrow::Array& a, int64_t i, std::string* out) {
  if (plan.kind == PlanKind::kNullable) {
    if (a.IsNull(i)) {
      if (plan.null_branch < 0) return ValueError(plan, "null, but the Avro union has no null branch");
      WriteLong(plan.null_branch, out);
      return arrow::Status::OK();
    }
    WriteLong(plan.value_branch, out);
    return Encode(*plan.children[0], a, i, out);
  }
  if (plan.kind == PlanKind::kNull) return arrow::Status::OK();
  if (plan.kind != PlanKind::kDenseUnion && a.IsNull(i)) {
    return ValueError(plan, "null, but the Avro type is not nullable");
  }
  switch (plan.kind) {
    case PlanKind::kBool:
      out->push_back(static_cast<const arrow::BooleanArray&>(a).Value(i) ? 1 : 0);
      return arrow::Status::OK();
    case PlanKind::kInteger: {
      auto r = IntegerAt(a, i);
      if (!r.ok()) return ValueError(plan, r.status().message());
      int64_t v = *r;
      if (plan.mul != 1 && __builtin_mul_overflow(v, plan.mul, &v)) return ValueError(plan, "overflow converting units");
      if (plan.div != 1) {
        if (v % plan.div != 0) {
          return ValueError(plan, "value " + std::to_string(v) + " would lose precision in the Avro unit");
        }
        v /= plan.div;
      }
      if (plan.avro_int && (v < INT32_MIN || v > INT32_MAX)) {
        return ValueError(plan, "value " + std::to_string(v) + " does not fit an Avro int");
      }
      WriteLong(v, out);
      return arrow::Status::OK();
    }
    case PlanKind::kFloat:
    case PlanKind::kDouble: {
      double v;
      if (a.type_id() == arrow::Type::FLOAT) {
        v = static_cast<const arrow::FloatArray&>(a).Value(i);
      } else if (a.type_id() == arrow::Type::DOUBLE) {
        v = static_cast<const arrow::DoubleArray&>(a).Value(i);
      } else {
        auto r = IntegerAt(a, i);
        if (!r.ok()) return ValueError(plan, r.status().message());
        v = static_cast<double>(*r);
      }
      if (plan.kind == PlanKind::kFloat) {
        internal::WriteFloat(static_cast<float>(v), out);
      } else {
        internal::WriteDouble(v, out);
      }
      return arrow::Status::OK();
    }
    case PlanKind::kBytes:
      WriteBytes(BytesAt(a, i), out);
      return arrow::Status::OK();
    case PlanKind::kFixed: {
      std::string_view v = BytesAt(a, i);
      if (static_cast<int64_t>(v.size()) != plan.avro->size) {
        return ValueError(plan, "value of " + std::to_string(v.size()) + " bytes for fixed(" +
                                    std::to_string(plan.avro->size) + ")");
      }
      out->append(v);
      return arrow::Status::OK();
    }
    case PlanKind::kEnum: {
      std::string_view symbol;
      if (a.type_id() == arrow::Type::DICTIONARY) {
        const auto& d = static_cast<const arrow::DictionaryArray&>(a);
        symbol = BytesAt(*d.dictionary(), d.GetValueIndex(i));
      } else {
        symbol = BytesAt(a, i);
      }
      auto it = plan.symbols.find(std::string(symbol));
      if (it == plan.symbols.end()) {
        if (plan.value_branch >= 0) {
          WriteLong(plan.value_branch, out);
          return arrow::Status::OK();
        }
        return ValueError(plan, "'" + std::string(symbol) + "' is not a symbol of the enum");
      }
      WriteLong(it->second, out);
      return arrow::Status::OK();
    }
    case PlanKind::kDecimalBytes:
    case PlanKind::kDecimalFixed: {
      const arrow::Decimal128 d(static_cast<const arrow::Decimal128Array&>(a).GetValue(i));
      if (!d.FitsInPrecision(plan.avro->precision)) {
        return ValueError(plan, "decimal does not fit precision " + std::to_string(plan.avro->precision));
      }
      uint8_t le[16];
      d.ToBytes(le);
      uint8_t be[17];
      be[0] = d.IsNegative() ? 0xff : 0x00;
      for (int k = 0; k < 16; ++k) be[1 + k] = le[15 - k];
      if (plan.kind == PlanKind::kDecimalBytes) {
        // fastavro's width: (bit_length(|v|) + 8) / 8.
        const unsigned __int128 raw = (static_cast<unsigned __int128>(d.high_bits()) << 64) | d.low_bits();
        const unsigned __int128 mag = d.IsNegative() ? (~raw + 1) : raw;
        int bits = 0;
        for (unsigned __int128 m = mag; m != 0; m >>= 1) ++bits;
        const int n = (bits + 8) / 8;
        WriteBytes(std::string_view(reinterpret_cast<const char*>(be) + 17 - n, n), out);
      } else {
        const int size = plan.avro->size;
        if (size >= 17) {
          out->append(static_cast<size_t>(size - 17), static_cast<char>(be[0]));
          out->append(reinterpret_cast<const char*>(be), 17);
        } else {
          for (int k = 0; k < 17 - size; ++k) {
            if (be[k] != be[0] || ((be[17 - size] ^ be[0]) & 0x80)) {
              return ValueError(plan, "decimal does not fit fixed(" + std::to_string(size) + ")");
            }
          }
          out->append(reinterpret_cast<const char*>(be) + 17 - size, size);
        }
      }
      return arrow::Status::OK();
    }
    case PlanKind::kDuration: {
      const auto v = static_cast<const arrow::MonthDayNanoIntervalArray&>(a).GetValue(i);
      if (v.months < 0 || v.days < 0 || v.nanoseconds < 0 || v.nanoseconds % 1000000 != 0 ||
          v.nanoseconds / 1000000 > UINT32_MAX) {
        return ValueError(plan, "a duration needs non-negative months, days and whole milliseconds below 2^32");
      }
      const uint32_t parts[3] = {static_cast<uint32_t>(v.months), static_cast<uint32_t>(v.days),
                                 static_cast<uint32_t>(v.nanoseconds / 1000000)};
      out->append(reinterpret_cast<const char*>(parts), 12);
      return arrow::Status::OK();
    }
    case PlanKind::kRecord: {
      const auto& s = static_cast<const arrow::StructArray&>(a);
      std::vector<const arrow::Array*> columns;
      for (int k = 0; k < s.num_fields(); ++k) columns.push_back(s.field(k).get());
      return EncodeFields(plan, columns, i, out);
    }
    case PlanKind::kArray: {
      int64_t start, count;
      const arrow::Array* values;
      if (a.type_id() == arrow::Type::LIST) {
        const auto& l = static_cast<const arrow::ListArray&>(a);
        start = l.value_offset(i);
        count = l.value_length(i);
        values = l.values().get();
      } else if (a.type_id() == arrow::Type::LARGE_LIST) {
        const auto& l = static_cast<const arrow::LargeListArray&>(a);
        start = l.value_offset(i);
        count = l.value_length(i);
        values = l.values().get();
      } else {
        const auto& l = static_cast<const arrow::FixedSizeListArray&>(a);
        start = l.value_offset(i);
        count = l.value_length(i);
        values = l.values().get();
      }
      if (count > 0) {
        WriteLong(count, out);
        for (int64_t k = 0; k < count; ++k) ARROW_RETURN_NOT_OK(Encode(*plan.children[0], *values, start + k, out));
      }
      WriteLong(0, out);
      return arrow::Status::OK();
    }
    case PlanKind::kMap: {
      const auto& m = static_cast<const arrow::MapArray&>(a);
      const int64_t start = m.value_offset(i);
      const int64_t count = m.value_length(i);
      if (count > 0) {
        WriteLong(count, out);
        for (int64_t k = 0; k < count; ++k) {
          if (m.keys()->IsNull(start + k)) return ValueError(plan, "null map key");
          WriteBytes(BytesAt(*m.keys(), start + k), out);
          ARROW_RETURN_NOT_OK(Encode(*plan.children[0], *m.items(), start + k, out));
        }
      }
      WriteLong(0, out);
      return arrow::Status::OK();
    }
    case PlanKind::kDenseUnion: {
      const auto& u = static_cast<const arrow::DenseUnionArray&>(a);
      const int child = u.child_id(i);
      WriteLong(plan.branches[child], out);
      return Encode(*plan.children[child], *u.field(child), u.value_offset(i), out);
    }
    default:
      return ValueError(plan, "internal: unexpected plan");
  }
}

}  // namespace

AvroEncoder::~AvroEncoder() = default;

arrow::Result<std::unique_ptr<AvroEncoder>> AvroEncoder::Make(const arrow::Schema& columns,
                                                              std::shared_ptr<const AvroSchema> schema) {
  std::unique_ptr<AvroEncoder> e(new AvroEncoder());
  e->schema_ = std::move(schema);
  const AvroNode& root = e->schema_->root();
  if (root.type == AvroType::kRecord) {
    e->plan_ = std::make_unique<EncodePlan>();
    e->plan_->avro = &root;
    ARROW_RETURN_NOT_OK(PlanRecord(e->plan_.get(), columns.fields(), root, ""));
  } else if (columns.num_fields() == 1) {
    ARROW_ASSIGN_OR_RAISE(e->plan_, BuildPlan(*columns.field(0)->type(), root, columns.field(0)->name()));
  } else {
    return arrow::Status::Invalid("Avro encoder: schema of type '", root.Describe(),
                                  "' is not a record and there is not exactly one column");
  }
  return e;
}

arrow::Status AvroEncoder::EncodeRow(const arrow::RecordBatch& batch, int64_t row, std::string* out) const {
  arrow::Status st;
  if (plan_->kind == PlanKind::kRecord && plan_->avro == &schema_->root()) {
    std::vector<const arrow::Array*> columns;
    for (int k = 0; k < batch.num_columns(); ++k) columns.push_back(batch.column(k).get());
    st = EncodeFields(*plan_, columns, row, out);
  } else {
    st = Encode(*plan_, *batch.column(0), row, out);
  }
  if (!st.ok()) return arrow::Status::Invalid("Avro encode error: row ", row, ": ", st.message());
  return st;
}

namespace {

class PlainEncoder : public RecordEncoder {
 public:
  PlainEncoder(std::unique_ptr<AvroEncoder> encoder, std::string prefix)
      : encoder_(std::move(encoder)), prefix_(std::move(prefix)) {}

  arrow::Status Encode(const arrow::RecordBatch& batch, std::vector<std::string>* out) override {
    const size_t mark = out->size();
    for (int64_t row = 0; row < batch.num_rows(); ++row) {
      std::string message = prefix_;
      arrow::Status st = encoder_->EncodeRow(batch, row, &message);
      if (!st.ok()) {
        out->resize(mark);
        return st;
      }
      out->push_back(std::move(message));
    }
    return arrow::Status::OK();
  }

 private:
  std::unique_ptr<AvroEncoder> encoder_;
  std::string prefix_;
};

}  // namespace

arrow::Result<std::unique_ptr<RecordEncoder>> MakePlainEncoder(const arrow::Schema& columns,
                                                               std::shared_ptr<const AvroSchema> schema,
                                                               std::string prefix) {
  ARROW_ASSIGN_OR_RAISE(auto encoder, AvroEncoder::Make(columns, std::move(schema)));
  return std::make_unique<PlainEncoder>(std::move(encoder), std::move(prefix));
}

}  // namespace laminar::serde::avro
