// The compiled Avro decoder: column buffers that can roll back a half-decoded row, the
// compiler (writer schema x Arrow columns -> ops) and the interpreter that runs the ops.
#include "laminar/serde/avro/avro_decoder.h"

#include <arrow/array.h>
#include <arrow/array/builder_binary.h>
#include <arrow/buffer.h>
#include <arrow/type.h>
#include <arrow/util/decimal.h>
#include <arrow/util/utf8.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <new>
#include <set>
#include <unordered_map>

#include "laminar/serde/avro/binary_internal.h"

namespace laminar::serde::avro {

using internal::ReadLong;
using internal::ReadStatus;
using internal::Pow10;
using internal::UnitDigits;

namespace dec {

// A growable buffer with a visible size, so that a failed row can be cut off again.
// Throws std::bad_alloc when Arrow cannot allocate (caught at the Decode boundary).
#define LAMINAR_AVRO_INLINE [[gnu::always_inline]] inline

struct Buf {
  uint8_t* data = nullptr;
  int64_t size = 0;
  int64_t cap = 0;
  int64_t last_cap = 0;  // capacity of the previous batch: the next one starts there
  std::shared_ptr<arrow::ResizableBuffer> buffer;

  LAMINAR_AVRO_INLINE void Ensure(int64_t extra) {
    if (ARROW_PREDICT_FALSE(size + extra > cap)) Grow(size + extra);
  }
  void Grow(int64_t need) {
    const int64_t new_cap = std::max<int64_t>(need, std::max<int64_t>(std::max<int64_t>(64, last_cap), cap * 2));
    if (!buffer) {
      auto r = arrow::AllocateResizableBuffer(new_cap);
      if (!r.ok()) throw std::bad_alloc();
      buffer = std::move(*r);
    } else if (!buffer->Resize(new_cap, /*shrink_to_fit=*/false).ok()) {
      throw std::bad_alloc();
    }
    data = buffer->mutable_data();
    cap = buffer->capacity();
  }
  template <typename T>
  LAMINAR_AVRO_INLINE void Push(T v) {
    Ensure(sizeof(T));
    std::memcpy(data + size, &v, sizeof(T));
    size += sizeof(T);
  }
  LAMINAR_AVRO_INLINE void Append(const void* p, int64_t n) {
    Ensure(n);
    if (n > 0) std::memcpy(data + size, p, n);
    size += n;
  }
  template <typename T>
  T At(int64_t i) const {
    T v;
    std::memcpy(&v, data + i * sizeof(T), sizeof(T));
    return v;
  }
  std::shared_ptr<arrow::Buffer> Take() {
    if (!buffer) Grow(0);
    if (!buffer->Resize(size, false).ok()) throw std::bad_alloc();
    std::shared_ptr<arrow::Buffer> out = std::move(buffer);
    buffer.reset();
    data = nullptr;
    last_cap = std::max<int64_t>(last_cap / 2, size);
    size = cap = 0;
    return out;
  }
};

enum class Kind : uint8_t { kNull, kBool, kFixed, kBinary, kStruct, kList, kUnion, kDict };

}  // namespace dec

using dec::Buf;
using dec::Kind;

struct Column {
  Kind kind = Kind::kNull;
  int32_t width = 0;
  std::shared_ptr<arrow::DataType> type;
  std::string path;
  std::string name;
  bool nullable = true;
  bool track = true;  // keeps a validity bitmap; false for NOT NULL columns until a null shows up
  int64_t length = 0;
  int64_t null_count = 0;
  Buf validity, values, offsets, data;
  std::vector<std::unique_ptr<Column>> children;
  std::vector<int8_t> type_codes;        // kUnion
  std::vector<std::string> dict;         // kDict: symbols in dictionary order
  std::unordered_map<std::string, int32_t> dict_index;

  void Init() {
    if (kind == Kind::kBinary || kind == Kind::kList) offsets.Push<int32_t>(0);
    track = nullable;
  }
  LAMINAR_AVRO_INLINE void SetValid() {
    if (track) {
      if ((length & 7) == 0) validity.Push<uint8_t>(0);
      validity.data[length >> 3] |= static_cast<uint8_t>(1u << (length & 7));
    }
    ++length;
  }
  void SetNull() {
    if (!track) {  // materialise the bitmap: all earlier slots are valid
      validity.size = 0;
      for (int64_t i = 0; i < (length + 7) / 8; ++i) validity.Push<uint8_t>(0xff);
      if (length & 7) validity.data[length >> 3] = static_cast<uint8_t>((1u << (length & 7)) - 1);
      track = true;
    }
    if ((length & 7) == 0) validity.Push<uint8_t>(0);
    ++null_count;
    ++length;
  }
  LAMINAR_AVRO_INLINE void PushBit(bool bit) {  // kBool values, before SetValid
    if ((length & 7) == 0) values.Push<uint8_t>(0);
    if (bit) values.data[length >> 3] |= static_cast<uint8_t>(1u << (length & 7));
  }
  int32_t Intern(const std::string& symbol) {
    auto [it, inserted] = dict_index.emplace(symbol, static_cast<int32_t>(dict.size()));
    if (inserted) dict.push_back(symbol);
    return it->second;
  }
};

struct ColumnTree {
  Column root;  // a struct whose children are the top-level columns; has no validity
  int64_t rows = 0;
};

namespace {

// Appends a null (`valid` false) or, for a non-nullable child under a null struct, an
// empty valid placeholder (`valid` true): zero, "", [], a struct of placeholders.
void AppendSlot(Column* c, bool valid) {
  switch (c->kind) {
    case Kind::kNull:
      ++c->length;
      ++c->null_count;
      return;
    case Kind::kBool:
      c->PushBit(false);
      break;
    case Kind::kFixed: {
      c->values.Ensure(c->width);
      std::memset(c->values.data + c->values.size, 0, c->width);
      c->values.size += c->width;
      break;
    }
    case Kind::kDict:
      if (c->dict.empty()) c->Intern("");
      c->values.Push<int32_t>(0);
      break;
    case Kind::kBinary:
      c->offsets.Push<int32_t>(static_cast<int32_t>(c->data.size));
      break;
    case Kind::kStruct:
      for (auto& child : c->children) AppendSlot(child.get(), !child->nullable);
      break;
    case Kind::kList:
      c->offsets.Push<int32_t>(static_cast<int32_t>(c->children[0]->length));
      break;
    case Kind::kUnion: {
      // No validity of its own: a null is a null in the first null-typed child (else child 0).
      size_t k = 0;
      for (size_t i = 0; i < c->children.size(); ++i) {
        if (c->children[i]->kind == Kind::kNull) {
          k = i;
          break;
        }
      }
      c->values.Push<int8_t>(c->type_codes[k]);
      c->offsets.Push<int32_t>(static_cast<int32_t>(c->children[k]->length));
      AppendSlot(c->children[k].get(), valid && !c->children[k]->nullable);
      ++c->length;
      return;
    }
  }
  if (valid) {
    c->SetValid();
  } else {
    c->SetNull();
  }
}

void AppendNull(Column* c) { AppendSlot(c, false); }

void TruncateBits(Buf* b, int64_t n) {
  b->size = (n + 7) / 8;
  if (n & 7) b->data[n >> 3] &= static_cast<uint8_t>((1u << (n & 7)) - 1);
}

void Truncate(Column* c, int64_t n) {
  if (c->kind == Kind::kList && n == c->length) {
    // A list (or map) counts its row only once its items are all read, but the items of a
    // record that failed inside that loop are already in the child: cut them too (found by
    // the Avro fuzzer: a bad map key left an entry behind).
    Truncate(c->children[0].get(), c->offsets.At<int32_t>(n));
    return;
  }
  if (n >= c->length) return;
  if (c->kind == Kind::kNull) {
    c->length = c->null_count = n;
    return;
  }
  if (c->kind != Kind::kUnion && c->track) {
    for (int64_t i = n; i < c->length; ++i) {
      if ((c->validity.data[i >> 3] & (1u << (i & 7))) == 0) --c->null_count;
    }
    TruncateBits(&c->validity, n);
  }
  switch (c->kind) {
    case Kind::kBool:
      TruncateBits(&c->values, n);
      break;
    case Kind::kFixed:
      c->values.size = n * c->width;
      break;
    case Kind::kDict:
      c->values.size = n * 4;
      break;
    case Kind::kBinary:
      c->data.size = c->offsets.At<int32_t>(n);
      c->offsets.size = (n + 1) * 4;
      break;
    case Kind::kStruct:
      for (auto& child : c->children) Truncate(child.get(), n);
      break;
    case Kind::kList: {
      const int64_t child_len = c->offsets.At<int32_t>(n);
      c->offsets.size = (n + 1) * 4;
      Truncate(c->children[0].get(), child_len);
      break;
    }
    case Kind::kUnion: {
      std::vector<int64_t> keep(c->children.size(), -1);
      for (int64_t i = n; i < c->length; ++i) {
        const int8_t code = c->values.At<int8_t>(i);
        for (size_t k = 0; k < c->type_codes.size(); ++k) {
          if (c->type_codes[k] == code && keep[k] < 0) keep[k] = c->offsets.At<int32_t>(i);
        }
      }
      for (size_t k = 0; k < keep.size(); ++k) {
        if (keep[k] >= 0) Truncate(c->children[k].get(), keep[k]);
      }
      c->values.size = n;
      c->offsets.size = n * 4;
      break;
    }
    default:
      break;
  }
  c->length = n;
}

std::shared_ptr<arrow::ArrayData> FinishColumn(Column* c) {
  const int64_t len = c->length;
  std::shared_ptr<arrow::ArrayData> out;
  std::shared_ptr<arrow::Buffer> validity;
  if (c->kind != Kind::kNull && c->kind != Kind::kUnion) {
    if (c->null_count > 0) {
      validity = c->validity.Take();
    } else {
      c->validity.size = 0;
    }
  }
  switch (c->kind) {
    case Kind::kNull:
      out = arrow::ArrayData::Make(c->type, len, {nullptr}, len);
      break;
    case Kind::kBool:
    case Kind::kFixed:
      out = arrow::ArrayData::Make(c->type, len, {validity, c->values.Take()}, c->null_count);
      break;
    case Kind::kDict: {
      out = arrow::ArrayData::Make(c->type, len, {validity, c->values.Take()}, c->null_count);
      arrow::StringBuilder builder;
      if (!builder.AppendValues(c->dict).ok()) throw std::bad_alloc();
      std::shared_ptr<arrow::Array> dict;
      if (!builder.Finish(&dict).ok()) throw std::bad_alloc();
      out->dictionary = dict->data();
      break;
    }
    case Kind::kBinary:
      out = arrow::ArrayData::Make(c->type, len, {validity, c->offsets.Take(), c->data.Take()}, c->null_count);
      break;
    case Kind::kStruct: {
      std::vector<std::shared_ptr<arrow::ArrayData>> children;
      for (auto& child : c->children) children.push_back(FinishColumn(child.get()));
      out = arrow::ArrayData::Make(c->type, len, {validity}, std::move(children), c->null_count);
      break;
    }
    case Kind::kList: {
      auto offsets = c->offsets.Take();
      out = arrow::ArrayData::Make(c->type, len, {validity, offsets}, {FinishColumn(c->children[0].get())},
                                   c->null_count);
      break;
    }
    case Kind::kUnion: {
      std::vector<std::shared_ptr<arrow::ArrayData>> children;
      for (auto& child : c->children) children.push_back(FinishColumn(child.get()));
      out = arrow::ArrayData::Make(c->type, len, {nullptr, c->values.Take(), c->offsets.Take()}, std::move(children),
                                   0);
      break;
    }
  }
  c->length = 0;
  c->null_count = 0;
  c->Init();
  return out;
}

arrow::Result<std::unique_ptr<Column>> MakeColumn(const arrow::Field& field, const std::string& path) {
  auto c = std::make_unique<Column>();
  c->type = field.type();
  c->nullable = field.nullable();
  c->path = path;
  c->name = field.name();
  const arrow::DataType& t = *field.type();
  switch (t.id()) {
    case arrow::Type::NA:
      c->kind = Kind::kNull;
      break;
    case arrow::Type::BOOL:
      c->kind = Kind::kBool;
      break;
    case arrow::Type::INT8: case arrow::Type::INT16: case arrow::Type::INT32: case arrow::Type::INT64:
    case arrow::Type::UINT8: case arrow::Type::UINT16: case arrow::Type::UINT32: case arrow::Type::UINT64:
    case arrow::Type::FLOAT: case arrow::Type::DOUBLE: case arrow::Type::DATE32: case arrow::Type::DATE64:
    case arrow::Type::TIME32: case arrow::Type::TIME64: case arrow::Type::TIMESTAMP:
    case arrow::Type::DECIMAL128: case arrow::Type::INTERVAL_MONTH_DAY_NANO: case arrow::Type::FIXED_SIZE_BINARY:
      c->kind = Kind::kFixed;
      c->width = static_cast<const arrow::FixedWidthType&>(t).byte_width();
      break;
    case arrow::Type::STRING:
    case arrow::Type::BINARY:
      c->kind = Kind::kBinary;
      break;
    case arrow::Type::STRUCT:
      c->kind = Kind::kStruct;
      for (const auto& f : t.fields()) {
        ARROW_ASSIGN_OR_RAISE(auto child, MakeColumn(*f, path + "." + f->name()));
        c->children.push_back(std::move(child));
      }
      break;
    case arrow::Type::LIST: {
      c->kind = Kind::kList;
      ARROW_ASSIGN_OR_RAISE(auto child, MakeColumn(*t.field(0), path + "[]"));
      c->children.push_back(std::move(child));
      break;
    }
    case arrow::Type::MAP: {
      c->kind = Kind::kList;
      const auto& m = static_cast<const arrow::MapType&>(t);
      if (m.key_type()->id() != arrow::Type::STRING) {
        return arrow::Status::NotImplemented("column '", path, "': Avro maps need string keys, got ", t.ToString());
      }
      auto entries = std::make_unique<Column>();
      entries->kind = Kind::kStruct;
      entries->type = t.field(0)->type();
      entries->nullable = false;
      entries->path = path + "{}";
      ARROW_ASSIGN_OR_RAISE(auto key, MakeColumn(*m.key_field(), path + "{key}"));
      ARROW_ASSIGN_OR_RAISE(auto value, MakeColumn(*m.item_field(), path + "{}"));
      entries->children.push_back(std::move(key));
      entries->children.push_back(std::move(value));
      c->children.push_back(std::move(entries));
      break;
    }
    case arrow::Type::DENSE_UNION: {
      c->kind = Kind::kUnion;
      const auto& u = static_cast<const arrow::UnionType&>(t);
      for (int i = 0; i < u.num_fields(); ++i) {
        ARROW_ASSIGN_OR_RAISE(auto child, MakeColumn(*u.field(i), path + "<" + u.field(i)->name() + ">"));
        c->children.push_back(std::move(child));
        c->type_codes.push_back(u.type_codes()[i]);
      }
      break;
    }
    case arrow::Type::DICTIONARY: {
      const auto& d = static_cast<const arrow::DictionaryType&>(t);
      if (d.index_type()->id() != arrow::Type::INT32 || d.value_type()->id() != arrow::Type::STRING) {
        return arrow::Status::NotImplemented("column '", path, "': only dictionary<int32, utf8> is supported, got ",
                                             t.ToString());
      }
      c->kind = Kind::kDict;
      break;
    }
    default:
      return arrow::Status::NotImplemented("column '", path, "': Arrow type ", t.ToString(),
                                           " is not supported by the Avro decoder");
  }
  c->Init();
  return c;
}

}  // namespace

// ---- the program ---------------------------------------------------------------------------

namespace dec {

enum class Op : uint8_t {
  kSkipVarint, kSkipN, kSkipBytes, kSkipSub, kSkipArray, kSkipMap, kSkipUnion,
  kNullValue, kBool, kInt32, kInt64, kInteger, kFloat, kFloatToDouble, kDouble,
  kUtf8, kBinary, kFixed, kFixedToBinary, kEnumUtf8, kEnumDict, kDecimalBytes, kDecimalFixed, kDuration,
  kStructBegin, kArray, kUnion, kUnionSelect, kDefault, kError,
};

// Integer target stores, with their range.
enum class Store : uint8_t { kI8, kI16, kI32, kI64, kU8, kU16, kU32, kU64, kF32, kF64 };

struct Instr {
  Op op;
  Store store = Store::kI64;
  bool writer_int = false;  // the writer type is int (32-bit range)
  bool may_be_empty = false;  // kArray/kSkipArray: items can take zero bytes
  int32_t sub = -1;
  int32_t info = -1;
  Column* col = nullptr;
  int64_t n = 0;    // byte count, child index, precision
  int64_t mul = 1;  // unit conversion
  int64_t div = 1;
};

struct OpInfo {
  std::string column;
  std::string avro_type;
  std::vector<int32_t> table;         // enum mapping (-1: no symbol), union branch subs
  std::vector<std::string> symbols;   // kEnumUtf8
  std::string bytes;                  // kDefault: the default's encoding; kError: the message
};

}  // namespace dec

using dec::Instr;
using dec::Op;
using dec::OpInfo;
using dec::Store;

struct DecodeProgram {
  std::vector<std::vector<Instr>> subs;  // sub 0 runs once per datum
  std::vector<OpInfo> infos;
  std::shared_ptr<const AvroSchema> writer;
  const ColumnTree* columns = nullptr;
};

namespace {

constexpr int kMaxDepth = 512;
constexpr int64_t kMaxEmptyItems = int64_t{1} << 24;

struct Ctx {
  const DecodeProgram* prog;
  std::string* error;
  int depth = 0;
};

[[gnu::noinline]] bool Fail(Ctx& ctx, const Instr& in, const std::string& message) {
  if (in.info >= 0) {
    const OpInfo& info = ctx.prog->infos[in.info];
    *ctx.error = "Avro decode error: column '" + info.column + "' (avro type '" + info.avro_type + "'): " + message;
  } else {
    *ctx.error = "Avro decode error: " + message;
  }
  return false;
}

bool FailRead(Ctx& ctx, const Instr& in, ReadStatus st) {
  return Fail(ctx, in, st == ReadStatus::kTruncated ? "truncated varint" : "varint longer than 10 bytes");
}

bool Run(Ctx& ctx, int32_t sub, const uint8_t*& p, const uint8_t* end);

// Reads a length-prefixed byte string.
LAMINAR_AVRO_INLINE bool ReadBytes(Ctx& ctx, const Instr& in, const uint8_t*& p, const uint8_t* end, const uint8_t** data,
                      int64_t* len) {
  ReadStatus st = ReadLong(p, end, len);
  if (ARROW_PREDICT_FALSE(st != ReadStatus::kOk)) return FailRead(ctx, in, st);
  if (ARROW_PREDICT_FALSE(*len < 0)) return Fail(ctx, in, "negative length " + std::to_string(*len));
  if (ARROW_PREDICT_FALSE(*len > end - p)) {
    return Fail(ctx, in, "truncated: length " + std::to_string(*len) + " but " + std::to_string(end - p) +
                             " bytes left");
  }
  *data = p;
  p += *len;
  return true;
}

LAMINAR_AVRO_INLINE void AppendBinary(Column* c, const uint8_t* data, int64_t len) {
  c->data.Append(data, len);
  c->offsets.Push<int32_t>(static_cast<int32_t>(c->data.size));
  c->SetValid();
}

bool CheckBinarySize(Ctx& ctx, const Instr& in, const Column* c, int64_t len) {
  if (c->data.size + len > INT32_MAX) return Fail(ctx, in, "more than 2 GiB of data in one batch");
  return true;
}

bool StoreInteger(Ctx& ctx, const Instr& in, int64_t v) {
  if (in.writer_int && (v < INT32_MIN || v > INT32_MAX)) {
    return Fail(ctx, in, "int value " + std::to_string(v) + " out of 32-bit range");
  }
  if (in.mul != 1 && __builtin_mul_overflow(v, in.mul, &v)) {
    return Fail(ctx, in, "value overflows when converted to the column's unit");
  }
  if (in.div != 1) {
    if (v % in.div != 0) {
      return Fail(ctx, in, "value " + std::to_string(v) + " cannot be stored in column type " +
                               in.col->type->ToString() + " without losing precision");
    }
    v /= in.div;
  }
  Column* c = in.col;
  auto range = [&](int64_t lo, int64_t hi) {
    if (v < lo || v > hi) {
      return Fail(ctx, in, "value " + std::to_string(v) + " out of range for " + c->type->ToString());
    }
    return true;
  };
  switch (in.store) {
    case Store::kI8: if (!range(INT8_MIN, INT8_MAX)) return false; c->values.Push<int8_t>(static_cast<int8_t>(v)); break;
    case Store::kI16: if (!range(INT16_MIN, INT16_MAX)) return false; c->values.Push<int16_t>(static_cast<int16_t>(v)); break;
    case Store::kI32: if (!range(INT32_MIN, INT32_MAX)) return false; c->values.Push<int32_t>(static_cast<int32_t>(v)); break;
    case Store::kI64: c->values.Push<int64_t>(v); break;
    case Store::kU8: if (!range(0, UINT8_MAX)) return false; c->values.Push<uint8_t>(static_cast<uint8_t>(v)); break;
    case Store::kU16: if (!range(0, UINT16_MAX)) return false; c->values.Push<uint16_t>(static_cast<uint16_t>(v)); break;
    case Store::kU32: if (!range(0, UINT32_MAX)) return false; c->values.Push<uint32_t>(static_cast<uint32_t>(v)); break;
    case Store::kU64: if (!range(0, INT64_MAX)) return false; c->values.Push<uint64_t>(static_cast<uint64_t>(v)); break;
    case Store::kF32: c->values.Push<float>(static_cast<float>(v)); break;
    case Store::kF64: c->values.Push<double>(static_cast<double>(v)); break;
  }
  c->SetValid();
  return true;
}

bool StoreDecimal(Ctx& ctx, const Instr& in, const uint8_t* data, int64_t len) {
  // Big-endian two's complement; longer than 16 bytes only with pure sign extension.
  if (len == 0) return Fail(ctx, in, "empty decimal");
  while (len > 16) {
    const uint8_t sign = (data[1] & 0x80) ? 0xff : 0x00;
    if (data[0] != sign) return Fail(ctx, in, "decimal does not fit in 128 bits");
    ++data;
    --len;
  }
  auto d = arrow::Decimal128::FromBigEndian(data, static_cast<int32_t>(len));
  if (!d.ok()) return Fail(ctx, in, d.status().message());
  if (!d->FitsInPrecision(static_cast<int32_t>(in.n))) {
    return Fail(ctx, in, "decimal " + d->ToIntegerString() + " (unscaled) does not fit precision " +
                             std::to_string(in.n));
  }
  uint8_t bytes[16];
  d->ToBytes(bytes);
  in.col->values.Append(bytes, 16);
  in.col->SetValid();
  return true;
}

bool RunArray(Ctx& ctx, const Instr& in, const uint8_t*& p, const uint8_t* end, bool skip) {
  int64_t total = 0;
  while (true) {
    int64_t count = 0;
    ReadStatus st = ReadLong(p, end, &count);
    if (ARROW_PREDICT_FALSE(st != ReadStatus::kOk)) return FailRead(ctx, in, st);
    if (count == 0) break;
    if (count < 0) {
      if (count == INT64_MIN) return Fail(ctx, in, "invalid block count");
      count = -count;
      int64_t size = 0;
      st = ReadLong(p, end, &size);
      if (ARROW_PREDICT_FALSE(st != ReadStatus::kOk)) return FailRead(ctx, in, st);
      if (skip && size >= 0) {
        if (size > end - p) return Fail(ctx, in, "truncated block");
        p += size;
        continue;
      }
    }
    if (!in.may_be_empty && count > end - p) {
      return Fail(ctx, in, "truncated: block of " + std::to_string(count) + " items but " +
                               std::to_string(end - p) + " bytes left");
    }
    total += count;
    if (in.may_be_empty && total > kMaxEmptyItems) return Fail(ctx, in, "too many items");
    for (int64_t i = 0; i < count; ++i) {
      if (!Run(ctx, in.sub, p, end)) return false;
    }
  }
  if (!skip) {
    Column* c = in.col;
    const int64_t child_len = c->children[0]->length;
    if (child_len > INT32_MAX) return Fail(ctx, in, "more than 2^31 items in one batch");
    c->offsets.Push<int32_t>(static_cast<int32_t>(child_len));
    c->SetValid();
  }
  return true;
}

bool Run(Ctx& ctx, int32_t sub, const uint8_t*& p, const uint8_t* end) {
  if (ARROW_PREDICT_FALSE(++ctx.depth > kMaxDepth)) {
    *ctx.error = "Avro decode error: nesting deeper than " + std::to_string(kMaxDepth);
    return false;
  }
  for (const Instr& in : ctx.prog->subs[sub]) {
    switch (in.op) {
      case Op::kSkipVarint: {
        int64_t v = 0;
        ReadStatus st = ReadLong(p, end, &v);
        if (ARROW_PREDICT_FALSE(st != ReadStatus::kOk)) return FailRead(ctx, in, st);
        break;
      }
      case Op::kSkipN:
        if (ARROW_PREDICT_FALSE(end - p < in.n)) return Fail(ctx, in, "truncated");
        p += in.n;
        break;
      case Op::kSkipBytes: {
        const uint8_t* data = nullptr;
        int64_t len = 0;
        if (!ReadBytes(ctx, in, p, end, &data, &len)) return false;
        break;
      }
      case Op::kSkipSub:
        if (!Run(ctx, in.sub, p, end)) return false;
        break;
      case Op::kSkipArray:
        if (!RunArray(ctx, in, p, end, /*skip=*/true)) return false;
        break;
      case Op::kSkipMap:
        if (!RunArray(ctx, in, p, end, /*skip=*/true)) return false;
        break;
      case Op::kUnion:
      case Op::kSkipUnion: {
        int64_t branch = 0;
        ReadStatus st = ReadLong(p, end, &branch);
        if (ARROW_PREDICT_FALSE(st != ReadStatus::kOk)) return FailRead(ctx, in, st);
        const auto& table = ctx.prog->infos[in.info].table;
        if (ARROW_PREDICT_FALSE(branch < 0 || branch >= static_cast<int64_t>(table.size()))) {
          return Fail(ctx, in, "union branch " + std::to_string(branch) + " out of range (" +
                                   std::to_string(table.size()) + " branches)");
        }
        if (!Run(ctx, table[branch], p, end)) return false;
        break;
      }
      case Op::kNullValue:
        AppendNull(in.col);
        break;
      case Op::kBool: {
        if (ARROW_PREDICT_FALSE(p == end)) return Fail(ctx, in, "truncated");
        const uint8_t b = *p++;
        if (ARROW_PREDICT_FALSE(b > 1)) return Fail(ctx, in, "invalid boolean byte " + std::to_string(b));
        in.col->PushBit(b != 0);
        in.col->SetValid();
        break;
      }
      case Op::kInt32: {
        int64_t v = 0;
        ReadStatus st = ReadLong(p, end, &v);
        if (ARROW_PREDICT_FALSE(st != ReadStatus::kOk)) return FailRead(ctx, in, st);
        if (ARROW_PREDICT_FALSE(v < INT32_MIN || v > INT32_MAX)) {
          return Fail(ctx, in, "int value " + std::to_string(v) + " out of 32-bit range");
        }
        in.col->values.Push<int32_t>(static_cast<int32_t>(v));
        in.col->SetValid();
        break;
      }
      case Op::kInt64: {
        int64_t v = 0;
        ReadStatus st = ReadLong(p, end, &v);
        if (ARROW_PREDICT_FALSE(st != ReadStatus::kOk)) return FailRead(ctx, in, st);
        in.col->values.Push<int64_t>(v);
        in.col->SetValid();
        break;
      }
      case Op::kInteger: {
        int64_t v = 0;
        ReadStatus st = ReadLong(p, end, &v);
        if (ARROW_PREDICT_FALSE(st != ReadStatus::kOk)) return FailRead(ctx, in, st);
        if (!StoreInteger(ctx, in, v)) return false;
        break;
      }
      case Op::kFloat: {
        if (ARROW_PREDICT_FALSE(end - p < 4)) return Fail(ctx, in, "truncated float");
        in.col->values.Append(p, 4);
        p += 4;
        in.col->SetValid();
        break;
      }
      case Op::kFloatToDouble: {
        if (ARROW_PREDICT_FALSE(end - p < 4)) return Fail(ctx, in, "truncated float");
        float f;
        std::memcpy(&f, p, 4);
        p += 4;
        in.col->values.Push<double>(f);
        in.col->SetValid();
        break;
      }
      case Op::kDouble: {
        if (ARROW_PREDICT_FALSE(end - p < 8)) return Fail(ctx, in, "truncated double");
        in.col->values.Append(p, 8);
        p += 8;
        in.col->SetValid();
        break;
      }
      case Op::kUtf8:
      case Op::kBinary: {
        const uint8_t* data = nullptr;
        int64_t len = 0;
        if (!ReadBytes(ctx, in, p, end, &data, &len)) return false;
        if (in.op == Op::kUtf8 && ARROW_PREDICT_FALSE(!arrow::util::ValidateUTF8(data, len))) {
          return Fail(ctx, in, "invalid UTF-8");
        }
        if (!CheckBinarySize(ctx, in, in.col, len)) return false;
        AppendBinary(in.col, data, len);
        break;
      }
      case Op::kFixed: {
        if (ARROW_PREDICT_FALSE(end - p < in.n)) return Fail(ctx, in, "truncated fixed");
        in.col->values.Append(p, in.n);
        p += in.n;
        in.col->SetValid();
        break;
      }
      case Op::kFixedToBinary: {
        if (ARROW_PREDICT_FALSE(end - p < in.n)) return Fail(ctx, in, "truncated fixed");
        if (!CheckBinarySize(ctx, in, in.col, in.n)) return false;
        AppendBinary(in.col, p, in.n);
        p += in.n;
        break;
      }
      case Op::kEnumUtf8:
      case Op::kEnumDict: {
        int64_t v = 0;
        ReadStatus st = ReadLong(p, end, &v);
        if (ARROW_PREDICT_FALSE(st != ReadStatus::kOk)) return FailRead(ctx, in, st);
        const OpInfo& info = ctx.prog->infos[in.info];
        if (ARROW_PREDICT_FALSE(v < 0 || v >= static_cast<int64_t>(info.table.size()))) {
          return Fail(ctx, in, "enum index " + std::to_string(v) + " out of range (" +
                                   std::to_string(info.table.size()) + " symbols)");
        }
        const int32_t mapped = info.table[v];
        if (ARROW_PREDICT_FALSE(mapped < 0)) {
          return Fail(ctx, in, "enum symbol #" + std::to_string(v) + " is not in the reader's enum (and it has no default)");
        }
        if (in.op == Op::kEnumDict) {
          in.col->values.Push<int32_t>(mapped);
          in.col->SetValid();
        } else {
          const std::string& s = info.symbols[mapped];
          AppendBinary(in.col, reinterpret_cast<const uint8_t*>(s.data()), static_cast<int64_t>(s.size()));
        }
        break;
      }
      case Op::kDecimalBytes: {
        const uint8_t* data = nullptr;
        int64_t len = 0;
        if (!ReadBytes(ctx, in, p, end, &data, &len)) return false;
        if (!StoreDecimal(ctx, in, data, len)) return false;
        break;
      }
      case Op::kDecimalFixed: {
        const int64_t size = ctx.prog->infos[in.info].table[0];
        if (ARROW_PREDICT_FALSE(end - p < size)) return Fail(ctx, in, "truncated fixed");
        const uint8_t* data = p;
        p += size;
        if (!StoreDecimal(ctx, in, data, size)) return false;
        break;
      }
      case Op::kDuration: {
        if (ARROW_PREDICT_FALSE(end - p < 12)) return Fail(ctx, in, "truncated duration");
        uint32_t parts[3];
        std::memcpy(parts, p, 12);
        p += 12;
        if (parts[0] > INT32_MAX || parts[1] > INT32_MAX) return Fail(ctx, in, "duration months/days above 2^31-1");
        arrow::MonthDayNanoIntervalType::MonthDayNanos v{static_cast<int32_t>(parts[0]),
                                                         static_cast<int32_t>(parts[1]),
                                                         static_cast<int64_t>(parts[2]) * 1000000};
        in.col->values.Push(v);
        in.col->SetValid();
        break;
      }
      case Op::kStructBegin:
        in.col->SetValid();
        break;
      case Op::kArray:
        if (!RunArray(ctx, in, p, end, /*skip=*/false)) return false;
        break;
      case Op::kUnionSelect: {
        Column* c = in.col;
        Column* child = c->children[in.n].get();
        c->values.Push<int8_t>(c->type_codes[in.n]);
        c->offsets.Push<int32_t>(static_cast<int32_t>(child->length));
        ++c->length;
        break;
      }
      case Op::kDefault: {
        const std::string& bytes = ctx.prog->infos[in.info].bytes;
        const uint8_t* q = reinterpret_cast<const uint8_t*>(bytes.data());
        if (!Run(ctx, in.sub, q, q + bytes.size())) return false;
        break;
      }
      case Op::kError:
        return Fail(ctx, in, ctx.prog->infos[in.info].bytes);
    }
  }
  --ctx.depth;
  return true;
}

// ---- the compiler --------------------------------------------------------------------------

bool CanBeEmpty(const AvroNode& node, std::set<const AvroNode*>* stack) {
  switch (node.type) {
    case AvroType::kNull: return true;
    case AvroType::kFixed: return node.size == 0;
    case AvroType::kRecord: {
      if (!stack->insert(&node).second) return false;
      bool empty = true;
      for (const auto& f : node.fields) empty = empty && CanBeEmpty(*f.type, stack);
      stack->erase(&node);
      return empty;
    }
    default: return false;
  }
}


class Compiler {
 public:
  Compiler(DecodeProgram* prog, ColumnTree* /*tree*/) : prog_(prog) {}

  int32_t NewSub() {
    prog_->subs.emplace_back();
    return static_cast<int32_t>(prog_->subs.size() - 1);
  }

  int32_t AddInfo(const Column* col, const AvroNode& w) {
    OpInfo info;
    info.column = col ? col->path : std::string("(skipped)");
    info.avro_type = w.Describe();
    prog_->infos.push_back(std::move(info));
    return static_cast<int32_t>(prog_->infos.size() - 1);
  }

  Instr Make(Op op, Column* col, const AvroNode& w) {
    Instr in{op};
    in.col = col;
    in.info = AddInfo(col, w);
    return in;
  }

  void CompileSkip(const AvroNode& w, std::vector<Instr>* out) {
    switch (w.type) {
      case AvroType::kNull:
        return;
      case AvroType::kBoolean: {
        Instr in = Make(Op::kSkipN, nullptr, w);
        in.n = 1;
        out->push_back(in);
        return;
      }
      case AvroType::kInt:
      case AvroType::kLong:
      case AvroType::kEnum:
        out->push_back(Make(Op::kSkipVarint, nullptr, w));
        return;
      case AvroType::kFloat:
      case AvroType::kDouble:
      case AvroType::kFixed: {
        Instr in = Make(Op::kSkipN, nullptr, w);
        in.n = w.type == AvroType::kFloat ? 4 : w.type == AvroType::kDouble ? 8 : w.size;
        if (in.n > 0) out->push_back(in);
        return;
      }
      case AvroType::kBytes:
      case AvroType::kString:
        out->push_back(Make(Op::kSkipBytes, nullptr, w));
        return;
      case AvroType::kRecord: {
        auto it = skip_subs_.find(&w);
        int32_t sub;
        if (it != skip_subs_.end()) {
          sub = it->second;
        } else {
          sub = NewSub();
          skip_subs_[&w] = sub;
          std::vector<Instr> body;
          for (const auto& f : w.fields) CompileSkip(*f.type, &body);
          prog_->subs[sub] = std::move(body);
        }
        Instr in = Make(Op::kSkipSub, nullptr, w);
        in.sub = sub;
        out->push_back(in);
        return;
      }
      case AvroType::kArray:
      case AvroType::kMap: {
        const int32_t sub = NewSub();
        std::vector<Instr> body;
        if (w.type == AvroType::kMap) body.push_back(Make(Op::kSkipBytes, nullptr, w));
        CompileSkip(w.type == AvroType::kArray ? *w.items : *w.values, &body);
        prog_->subs[sub] = std::move(body);
        Instr in = Make(w.type == AvroType::kArray ? Op::kSkipArray : Op::kSkipMap, nullptr, w);
        in.sub = sub;
        std::set<const AvroNode*> stack;
        in.may_be_empty = w.type == AvroType::kArray && CanBeEmpty(*w.items, &stack);
        out->push_back(in);
        return;
      }
      case AvroType::kUnion: {
        Instr in = Make(Op::kSkipUnion, nullptr, w);
        std::vector<int32_t> table;
        for (const AvroNode* b : w.branches) {
          const int32_t sub = NewSub();
          std::vector<Instr> body;
          CompileSkip(*b, &body);
          prog_->subs[sub] = std::move(body);
          table.push_back(sub);
        }
        prog_->infos[in.info].table = std::move(table);
        out->push_back(in);
        return;
      }
    }
  }

  static arrow::Status Mismatch(const AvroNode& w, const Column* col) {
    return arrow::Status::Invalid("column '", col->path, "': cannot read Avro type '", w.Describe(),
                                  "' into Arrow type ", col->type->ToString());
  }

  // The reader Avro node for a column's value (unwrapping [null, T]).
  static const AvroNode* ReaderValue(const AvroNode* r) {
    if (r == nullptr || r->type != AvroType::kUnion) return r;
    if (const AvroNode* v = r->NullableValue()) return v;
    if (r->branches.size() == 1) return r->branches[0];
    return r;
  }

  arrow::Status CompileValue(const AvroNode& w, Column* col, const AvroNode* r, std::vector<Instr>* out) {
    if (w.type == AvroType::kUnion) {
      Instr in = Make(Op::kUnion, col, w);
      std::vector<int32_t> table;
      for (size_t i = 0; i < w.branches.size(); ++i) {
        const int32_t sub = NewSub();
        std::vector<Instr> body;
        arrow::Status st = CompileValue(*w.branches[i], col, r, &body);
        if (!st.ok()) {
          body.clear();
          Instr err = Make(Op::kError, col, *w.branches[i]);
          prog_->infos[err.info].bytes = "union branch " + std::to_string(i) + ": " + st.message();
          body.push_back(err);
        }
        prog_->subs[sub] = std::move(body);
        table.push_back(sub);
      }
      prog_->infos[in.info].table = std::move(table);
      out->push_back(in);
      return arrow::Status::OK();
    }
    if (col->kind == Kind::kUnion) return CompileIntoUnion(w, col, r, out);
    r = ReaderValue(r);
    if (w.type == AvroType::kNull) {
      if (!col->nullable && col->kind != Kind::kNull) {
        return arrow::Status::Invalid("column '", col->path, "': null for a NOT NULL column");
      }
      out->push_back(Make(Op::kNullValue, col, w));
      return arrow::Status::OK();
    }
    const arrow::Type::type tid = col->type->id();
    switch (w.type) {
      case AvroType::kBoolean:
        if (tid != arrow::Type::BOOL) return Mismatch(w, col);
        out->push_back(Make(Op::kBool, col, w));
        return arrow::Status::OK();
      case AvroType::kInt:
      case AvroType::kLong:
        return CompileInteger(w, col, out);
      case AvroType::kFloat:
        if (tid == arrow::Type::FLOAT) {
          out->push_back(Make(Op::kFloat, col, w));
        } else if (tid == arrow::Type::DOUBLE) {
          out->push_back(Make(Op::kFloatToDouble, col, w));
        } else {
          return Mismatch(w, col);
        }
        return arrow::Status::OK();
      case AvroType::kDouble:
        if (tid != arrow::Type::DOUBLE) return Mismatch(w, col);
        out->push_back(Make(Op::kDouble, col, w));
        return arrow::Status::OK();
      case AvroType::kBytes:
      case AvroType::kString:
        if (w.logical == LogicalType::kDecimal && tid == arrow::Type::DECIMAL128) {
          ARROW_RETURN_NOT_OK(CheckDecimal(w, col));
          Instr in = Make(Op::kDecimalBytes, col, w);
          in.n = static_cast<const arrow::Decimal128Type&>(*col->type).precision();
          out->push_back(in);
        } else if (tid == arrow::Type::STRING) {
          out->push_back(Make(Op::kUtf8, col, w));
        } else if (tid == arrow::Type::BINARY) {
          out->push_back(Make(Op::kBinary, col, w));
        } else {
          return Mismatch(w, col);
        }
        return arrow::Status::OK();
      case AvroType::kFixed:
        if (w.logical == LogicalType::kDecimal && tid == arrow::Type::DECIMAL128) {
          ARROW_RETURN_NOT_OK(CheckDecimal(w, col));
          Instr in = Make(Op::kDecimalFixed, col, w);
          in.n = static_cast<const arrow::Decimal128Type&>(*col->type).precision();
          prog_->infos[in.info].table = {w.size};
          out->push_back(in);
        } else if (w.logical == LogicalType::kDuration && tid == arrow::Type::INTERVAL_MONTH_DAY_NANO) {
          out->push_back(Make(Op::kDuration, col, w));
        } else if (tid == arrow::Type::FIXED_SIZE_BINARY && col->width == w.size) {
          Instr in = Make(Op::kFixed, col, w);
          in.n = w.size;
          out->push_back(in);
        } else if (tid == arrow::Type::BINARY) {
          Instr in = Make(Op::kFixedToBinary, col, w);
          in.n = w.size;
          out->push_back(in);
        } else {
          return Mismatch(w, col);
        }
        return arrow::Status::OK();
      case AvroType::kEnum:
        return CompileEnum(w, col, r, out);
      case AvroType::kArray: {
        if (tid != arrow::Type::LIST) return Mismatch(w, col);
        const int32_t sub = NewSub();
        std::vector<Instr> body;
        ARROW_RETURN_NOT_OK(CompileValue(*w.items, col->children[0].get(),
                                         r && r->type == AvroType::kArray ? r->items : nullptr, &body));
        prog_->subs[sub] = std::move(body);
        Instr in = Make(Op::kArray, col, w);
        in.sub = sub;
        std::set<const AvroNode*> stack;
        in.may_be_empty = CanBeEmpty(*w.items, &stack);
        out->push_back(in);
        return arrow::Status::OK();
      }
      case AvroType::kMap: {
        if (tid != arrow::Type::MAP) return Mismatch(w, col);
        Column* entries = col->children[0].get();
        const int32_t sub = NewSub();
        std::vector<Instr> body;
        body.push_back(Make(Op::kStructBegin, entries, w));
        body.push_back(Make(Op::kUtf8, entries->children[0].get(), w));
        ARROW_RETURN_NOT_OK(CompileValue(*w.values, entries->children[1].get(),
                                         r && r->type == AvroType::kMap ? r->values : nullptr, &body));
        prog_->subs[sub] = std::move(body);
        Instr in = Make(Op::kArray, col, w);
        in.sub = sub;
        out->push_back(in);
        return arrow::Status::OK();
      }
      case AvroType::kRecord:
        if (tid != arrow::Type::STRUCT) return Mismatch(w, col);
        out->push_back(Make(Op::kStructBegin, col, w));
        return CompileFields(w, col, r && r->type == AvroType::kRecord ? r : nullptr, out);
      default:
        return Mismatch(w, col);
    }
  }

  arrow::Status CheckDecimal(const AvroNode& w, const Column* col) {
    const auto& d = static_cast<const arrow::Decimal128Type&>(*col->type);
    if (d.scale() != w.scale) {
      return arrow::Status::Invalid("column '", col->path, "': decimal scale ", w.scale, " in the writer schema, ",
                                    d.scale(), " in the column");
    }
    return arrow::Status::OK();
  }

  arrow::Status CompileInteger(const AvroNode& w, Column* col, std::vector<Instr>* out) {
    const bool is_int = w.type == AvroType::kInt;
    Instr in = Make(Op::kInteger, col, w);
    in.writer_int = is_int;
    // The writer's unit in powers of ten of seconds, for time and timestamps.
    int writer_digits = -1;
    bool writer_timestamp = false, writer_time = false, writer_date = false;
    switch (w.logical) {
      case LogicalType::kDate: writer_date = true; break;
      case LogicalType::kTimeMillis: writer_time = true; writer_digits = 3; break;
      case LogicalType::kTimeMicros: writer_time = true; writer_digits = 6; break;
      case LogicalType::kTimestampMillis: case LogicalType::kLocalTimestampMillis:
        writer_timestamp = true; writer_digits = 3; break;
      case LogicalType::kTimestampMicros: case LogicalType::kLocalTimestampMicros:
        writer_timestamp = true; writer_digits = 6; break;
      case LogicalType::kTimestampNanos: case LogicalType::kLocalTimestampNanos:
        writer_timestamp = true; writer_digits = 9; break;
      default: break;
    }
    const bool plain = w.logical == LogicalType::kNone || w.logical == LogicalType::kDecimal;
    auto scale = [&](int from, int to) {
      if (to > from) in.mul = Pow10(to - from);
      if (from > to) in.div = Pow10(from - to);
    };
    switch (col->type->id()) {
      case arrow::Type::INT8: in.store = Store::kI8; break;
      case arrow::Type::INT16: in.store = Store::kI16; break;
      case arrow::Type::INT32: in.store = Store::kI32; break;
      case arrow::Type::INT64: in.store = Store::kI64; break;
      case arrow::Type::UINT8: in.store = Store::kU8; break;
      case arrow::Type::UINT16: in.store = Store::kU16; break;
      case arrow::Type::UINT32: in.store = Store::kU32; break;
      case arrow::Type::UINT64: in.store = Store::kU64; break;
      case arrow::Type::FLOAT: in.store = Store::kF32; break;
      case arrow::Type::DOUBLE: in.store = Store::kF64; break;
      case arrow::Type::DATE32:
        if (!plain && !writer_date) return Mismatch(w, col);
        in.store = Store::kI32;
        break;
      case arrow::Type::DATE64:
        if (!plain && !writer_date) return Mismatch(w, col);
        in.store = Store::kI64;
        in.mul = 86400000;
        break;
      case arrow::Type::TIME32:
      case arrow::Type::TIME64: {
        if (!plain && !writer_time) return Mismatch(w, col);
        const auto unit = static_cast<const arrow::TimeType&>(*col->type).unit();
        in.store = col->type->id() == arrow::Type::TIME32 ? Store::kI32 : Store::kI64;
        if (writer_time) scale(writer_digits, UnitDigits(unit));
        break;
      }
      case arrow::Type::TIMESTAMP: {
        const auto unit = static_cast<const arrow::TimestampType&>(*col->type).unit();
        in.store = Store::kI64;
        if (writer_timestamp) {
          scale(writer_digits, UnitDigits(unit));
        } else if (writer_date) {
          in.mul = 86400 * Pow10(UnitDigits(unit));
        } else if (!plain) {
          return Mismatch(w, col);
        }
        break;
      }
      default:
        return Mismatch(w, col);
    }
    if (in.mul == 1 && in.div == 1) {
      if (is_int && in.store == Store::kI32) in.op = Op::kInt32;
      if (!is_int && in.store == Store::kI64) in.op = Op::kInt64;
    }
    out->push_back(in);
    return arrow::Status::OK();
  }

  arrow::Status CompileEnum(const AvroNode& w, Column* col, const AvroNode* r, std::vector<Instr>* out) {
    if (col->kind != Kind::kDict && col->type->id() != arrow::Type::STRING) return Mismatch(w, col);
    const AvroNode* reader = r && r->type == AvroType::kEnum ? r : &w;
    Instr in = Make(col->kind == Kind::kDict ? Op::kEnumDict : Op::kEnumUtf8, col, w);
    OpInfo& info = prog_->infos[in.info];
    std::vector<int32_t> reader_to_target;
    for (const auto& s : reader->symbols) {
      reader_to_target.push_back(col->kind == Kind::kDict ? col->Intern(s) : static_cast<int32_t>(info.symbols.size()));
      if (col->kind != Kind::kDict) info.symbols.push_back(s);
    }
    for (const auto& s : w.symbols) {
      auto it = std::find(reader->symbols.begin(), reader->symbols.end(), s);
      if (it == reader->symbols.end() && reader->enum_default) {
        it = std::find(reader->symbols.begin(), reader->symbols.end(), *reader->enum_default);
      }
      info.table.push_back(it == reader->symbols.end() ? -1 : reader_to_target[it - reader->symbols.begin()]);
    }
    out->push_back(in);
    return arrow::Status::OK();
  }

  arrow::Status CompileIntoUnion(const AvroNode& w, Column* col, const AvroNode* r, std::vector<Instr>* out) {
    if (w.type == AvroType::kNull) {
      for (size_t k = 0; k < col->children.size(); ++k) {
        if (col->children[k]->kind == Kind::kNull) return CompileUnionChild(w, col, k, r, out);
      }
      return arrow::Status::Invalid("column '", col->path, "': the union has no null member");
    }
    // Prefer the member whose Arrow type is the writer type's own mapping, then the first
    // member that accepts it.
    auto own = AvroToArrowType(w);
    if (own.ok()) {
      for (size_t k = 0; k < col->children.size(); ++k) {
        if (col->children[k]->type->Equals(*own->type)) return CompileUnionChild(w, col, k, r, out);
      }
    }
    for (size_t k = 0; k < col->children.size(); ++k) {
      std::vector<Instr> body;
      if (CompileUnionChild(w, col, k, r, &body).ok()) {
        out->insert(out->end(), body.begin(), body.end());
        return arrow::Status::OK();
      }
    }
    return arrow::Status::Invalid("column '", col->path, "': no union member accepts Avro type '", w.Describe(), "'");
  }

  arrow::Status CompileUnionChild(const AvroNode& w, Column* col, size_t k, const AvroNode* r,
                                  std::vector<Instr>* out) {
    const AvroNode* rb = nullptr;
    if (r && r->type == AvroType::kUnion && r->branches.size() == col->children.size()) rb = r->branches[k];
    std::vector<Instr> body;
    Instr sel = Make(Op::kUnionSelect, col, w);
    sel.n = static_cast<int64_t>(k);
    body.push_back(sel);
    ARROW_RETURN_NOT_OK(CompileValue(w, col->children[k].get(), rb, &body));
    out->insert(out->end(), body.begin(), body.end());
    return arrow::Status::OK();
  }

  // Record fields into a struct column's children (or the top-level columns).
  arrow::Status CompileFields(const AvroNode& w, Column* col, const AvroNode* r, std::vector<Instr>* out) {
    std::vector<bool> matched(col->children.size(), false);
    for (const auto& wf : w.fields) {
      int found = -1;
      const AvroNode* rtype = nullptr;
      for (size_t k = 0; k < col->children.size() && found < 0; ++k) {
        if (!matched[k] && col->children[k]->name == wf.name) found = static_cast<int>(k);
      }
      if (r != nullptr) {
        // Reader fields may name the writer's field as an alias.
        for (const auto& rf : r->fields) {
          const bool alias = std::find(rf.aliases.begin(), rf.aliases.end(), wf.name) != rf.aliases.end();
          if (rf.name == wf.name || (found < 0 && alias)) {
            rtype = rf.type;
            if (found < 0) {
              for (size_t k = 0; k < col->children.size(); ++k) {
                if (!matched[k] && col->children[k]->name == rf.name) found = static_cast<int>(k);
              }
            }
            break;
          }
        }
      }
      if (found >= 0) {
        ARROW_RETURN_NOT_OK(CompileValue(*wf.type, col->children[found].get(), rtype, out));
        matched[found] = true;
      } else {
        CompileSkip(*wf.type, out);
      }
    }
    for (size_t k = 0; k < col->children.size(); ++k) {
      if (matched[k]) continue;
      Column* child = col->children[k].get();
      const AvroField* rf = r ? r->FindField(child->name) : nullptr;
      if (rf != nullptr && rf->default_json) {
        const int32_t sub = NewSub();
        std::vector<Instr> body;
        ARROW_RETURN_NOT_OK(CompileValue(*rf->type, child, rf->type, &body));
        prog_->subs[sub] = std::move(body);
        Instr in = Make(Op::kDefault, child, *rf->type);
        in.sub = sub;
        prog_->infos[in.info].bytes = rf->default_binary;
        out->push_back(in);
      } else if (child->nullable || child->kind == Kind::kNull) {
        Instr in = Make(Op::kNullValue, child, w);
        out->push_back(in);
      } else {
        return arrow::Status::Invalid("column '", child->path,
                                      "' is not in the writer schema, is NOT NULL and has no default");
      }
    }
    return arrow::Status::OK();
  }

 private:
  DecodeProgram* prog_;
  std::map<const AvroNode*, int32_t> skip_subs_;
};

}  // namespace

AvroRowDecoder::~AvroRowDecoder() = default;

arrow::Result<std::unique_ptr<AvroRowDecoder>> AvroRowDecoder::Make(std::shared_ptr<arrow::Schema> columns,
                                                                     std::shared_ptr<const AvroSchema> reader) {
  static const bool utf8_ready = [] {
    arrow::util::InitializeUTF8();
    return true;
  }();
  (void)utf8_ready;
  if (columns == nullptr) return arrow::Status::Invalid("Avro decoder: no columns given");
  std::unique_ptr<AvroRowDecoder> d(new AvroRowDecoder());
  d->schema_ = columns;
  d->reader_ = std::move(reader);
  d->columns_ = std::make_unique<ColumnTree>();
  Column& root = d->columns_->root;
  root.kind = Kind::kStruct;
  root.type = arrow::struct_(columns->fields());
  root.nullable = false;
  for (const auto& f : columns->fields()) {
    ARROW_ASSIGN_OR_RAISE(auto child, MakeColumn(*f, f->name()));
    root.children.push_back(std::move(child));
  }
  return d;
}

arrow::Result<std::shared_ptr<const DecodeProgram>> AvroRowDecoder::Compile(
    std::shared_ptr<const AvroSchema> writer) const {
  auto prog = std::make_shared<DecodeProgram>();
  prog->writer = writer;
  prog->columns = columns_.get();
  Compiler compiler(prog.get(), columns_.get());
  const int32_t main = compiler.NewSub();
  std::vector<Instr> body;
  const AvroNode& w = writer->root();
  const AvroNode* r = reader_ ? &reader_->root() : nullptr;
  Column* root = &columns_->root;
  if (w.type == AvroType::kRecord) {
    ARROW_RETURN_NOT_OK(compiler.CompileFields(w, root, r && r->type == AvroType::kRecord ? r : nullptr, &body));
  } else if (root->children.size() == 1) {
    // A non-record writer schema fills the single column.
    ARROW_RETURN_NOT_OK(compiler.CompileValue(w, root->children[0].get(), r, &body));
  } else {
    return arrow::Status::Invalid("Avro schema of type '", w.Describe(),
                                  "' is not a record and there is not exactly one column to fill");
  }
  prog->subs[main] = std::move(body);
  return std::shared_ptr<const DecodeProgram>(std::move(prog));
}

bool AvroRowDecoder::DecodeDatum(const DecodeProgram& program, std::string_view datum, std::string* error) {
  if (ARROW_PREDICT_FALSE(program.columns != columns_.get())) {
    *error = "Avro decode error: program compiled by another decoder";
    return false;
  }
  const uint8_t* p = reinterpret_cast<const uint8_t*>(datum.data());
  const uint8_t* end = p + datum.size();
  Ctx ctx{&program, error};
  bool ok = Run(ctx, 0, p, end);
  if (ok && p != end) {
    *error = "Avro decode error: " + std::to_string(end - p) + " bytes left after the record (wrong writer schema?)";
    ok = false;
  }
  if (!ok) {
    for (auto& c : columns_->root.children) Truncate(c.get(), columns_->rows);
    return false;
  }
  ++columns_->rows;
  return true;
}

arrow::Status AvroRowDecoder::DecodeBlock(const DecodeProgram& program, std::string_view block, int64_t count) {
  if (program.columns != columns_.get()) return arrow::Status::Invalid("Avro decoder: program compiled by another decoder");
  const uint8_t* p = reinterpret_cast<const uint8_t*>(block.data());
  const uint8_t* end = p + block.size();
  std::string error;
  for (int64_t i = 0; i < count; ++i) {
    Ctx ctx{&program, &error};
    if (!Run(ctx, 0, p, end)) {
      for (auto& c : columns_->root.children) Truncate(c.get(), columns_->rows);
      return arrow::Status::Invalid(error, " (datum ", i, " of the block)");
    }
    ++columns_->rows;
  }
  if (p != end) return arrow::Status::Invalid("Avro decode error: ", end - p, " bytes left after the block's datums");
  return arrow::Status::OK();
}

int64_t AvroRowDecoder::num_rows() const { return columns_->rows; }

arrow::Result<std::shared_ptr<arrow::RecordBatch>> AvroRowDecoder::Flush() {
  try {
    std::vector<std::shared_ptr<arrow::ArrayData>> arrays;
    for (auto& c : columns_->root.children) arrays.push_back(FinishColumn(c.get()));
    const int64_t rows = columns_->rows;
    columns_->rows = 0;
    return arrow::RecordBatch::Make(schema_, rows, std::move(arrays));
  } catch (const std::bad_alloc&) {
    return arrow::Status::OutOfMemory("Avro decoder: out of memory");
  }
}

namespace {

class PlainDecoder : public RecordDecoder {
 public:
  PlainDecoder(std::unique_ptr<AvroRowDecoder> decoder, std::shared_ptr<const DecodeProgram> program)
      : decoder_(std::move(decoder)), program_(std::move(program)) {}

  const std::shared_ptr<arrow::Schema>& schema() const override { return decoder_->schema(); }

  arrow::Result<DecodedBatch> Decode(std::span<const RawRecord> records) override {
    DecodedBatch out;
    try {
      std::string error;
      for (size_t i = 0; i < records.size(); ++i) {
        if (records[i].is_tombstone()) {
          ++out.tombstones;
          continue;
        }
        if (!decoder_->DecodeDatum(*program_, records[i].value, &error)) out.errors.push_back({i, error});
      }
    } catch (const std::bad_alloc&) {
      return arrow::Status::OutOfMemory("Avro decoder: out of memory");
    }
    ARROW_ASSIGN_OR_RAISE(out.batch, decoder_->Flush());
    return out;
  }

 private:
  std::unique_ptr<AvroRowDecoder> decoder_;
  std::shared_ptr<const DecodeProgram> program_;
};

}  // namespace

arrow::Result<std::unique_ptr<RecordDecoder>> MakePlainDecoder(std::shared_ptr<const AvroSchema> writer,
                                                               std::shared_ptr<arrow::Schema> columns,
                                                               std::shared_ptr<const AvroSchema> reader) {
  if (columns == nullptr) {
    ARROW_ASSIGN_OR_RAISE(columns, AvroToArrowSchema(reader ? *reader : *writer));
  }
  ARROW_ASSIGN_OR_RAISE(auto decoder, AvroRowDecoder::Make(columns, reader));
  ARROW_ASSIGN_OR_RAISE(auto program, decoder->Compile(writer));
  return std::make_unique<PlainDecoder>(std::move(decoder), std::move(program));
}

}  // namespace laminar::serde::avro
