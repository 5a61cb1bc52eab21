#include "laminar/serde/json/row_decoder_internal.h"

#include <arrow/buffer.h>
#include <arrow/util/bit_util.h>
#include <arrow/util/key_value_metadata.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <type_traits>
#include <algorithm>
#include <bit>
#include <cstdlib>
#include <new>
#include <unordered_map>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define LAMINAR_JSON_AVX2 1
#endif

#include "laminar/core/status.h"
#include "laminar/serde/json/jsonb.h"

namespace laminar::serde::json_internal {

namespace od = simdjson::ondemand;

// A vector of trivially copyable values that grows without zero-filling what it is about
// to overwrite (std::vector::resize does), appends without a call, and hands its memory to
// Arrow without a copy. Only what the column code needs.
template <typename T>
class GrowableBuffer {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  GrowableBuffer() = default;
  GrowableBuffer(const GrowableBuffer&) = delete;
  GrowableBuffer& operator=(const GrowableBuffer&) = delete;
  GrowableBuffer(GrowableBuffer&& other) noexcept { *this = std::move(other); }
  GrowableBuffer& operator=(GrowableBuffer&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
    return *this;
  }
  ~GrowableBuffer() { std::free(data_); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  const T& back() const { return data_[size_ - 1]; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }

  void reserve(size_t n) {
    if (n > capacity_) Grow(n);
  }
  [[gnu::always_inline]] void push_back(T v) {
    if (size_ == capacity_) Grow(size_ + 1);
    data_[size_++] = v;
  }
  // Room for `n` more values, uninitialised; the caller writes them all.
  [[gnu::always_inline]] T* Extend(size_t n) {
    if (capacity_ - size_ < n) Grow(size_ + n);
    T* at = data_ + size_;
    size_ += n;
    return at;
  }
  // Room for at least `n` more values, uninitialised, without counting them (Commit does).
  [[gnu::always_inline]] T* Room(size_t n) {
    if (capacity_ - size_ < n) Grow(size_ + n);
    return data_ + size_;
  }
  void Commit(size_t n) { size_ += n; }
  // Shrinks, or grows with zeros.
  void resize(size_t n) {
    if (n > size_) std::memset(Extend(n - size_), 0, (n - size_) * sizeof(T));
    size_ = n;
  }
  // The values as an Arrow buffer (no copy); leaves this empty.
  std::shared_ptr<arrow::Buffer> Release() {
    if (data_ == nullptr) Grow(1);  // Arrow wants a real pointer even for no values
    auto out = std::make_shared<OwnedBuffer>(data_, static_cast<int64_t>(size_ * sizeof(T)));
    data_ = nullptr;
    size_ = capacity_ = 0;
    return out;
  }

 private:
  class OwnedBuffer final : public arrow::Buffer {
   public:
    OwnedBuffer(T* data, int64_t bytes) : arrow::Buffer(reinterpret_cast<const uint8_t*>(data), bytes), owned_(data) {}
    ~OwnedBuffer() override { std::free(owned_); }

   private:
    T* owned_;
  };

  [[gnu::noinline]] void Grow(size_t n) {
    const size_t capacity = std::max({n, capacity_ * 2, 64 / sizeof(T)});
    void* grown = std::realloc(data_, capacity * sizeof(T));
    if (grown == nullptr) throw std::bad_alloc();
    data_ = static_cast<T*>(grown);
    capacity_ = capacity;
  }

  T* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

enum class Kind : uint8_t {
  kBool, kInt, kUInt, kFloat32, kFloat64, kDecimal, kString, kJson, kBinary, kDate32, kTime64, kTimestamp,
  kList, kStruct,
};

struct Column {
  Kind kind = Kind::kString;
  std::shared_ptr<arrow::DataType> type;
  bool nullable = true;
  std::string name;
  std::string path;  // "a", "a.b", "tags[]"
  std::string sql;   // the expected type, for messages
  int width = 0;     // bytes per value for fixed-width kinds
  int64_t int_min = 0;
  uint64_t uint_max = 0;
  int32_t precision = 0, scale = 0;
  arrow::TimeUnit::type unit = arrow::TimeUnit::MICRO;

  TypeMismatch mismatch = TypeMismatch::kError;  // options, per column

  int64_t length = 0;
  // One byte per slot, packed at Finish; empty while every slot is valid (then nothing
  // is written per value), else `length` bytes.
  GrowableBuffer<uint8_t> validity;
  GrowableBuffer<uint8_t> values;    // fixed-width values (bool: one byte each)
  GrowableBuffer<int32_t> offsets;   // starts with 0 (Column() and FinishColumn put it there)
  GrowableBuffer<char> data;
  int64_t data_hint = 0;  // bytes per row seen in the last batch, for Reserve
  std::vector<Column> children;
  int num_children = 0;  // children.size(), which costs a division per call (set by IndexColumn)

  // Struct field lookup: the expected position first (fields usually arrive in the
  // same order), then a hash map.
  std::unordered_map<std::string_view, int> index;
  std::vector<uint8_t> seen;

  // The name followed by its closing quote, as up to two little-endian words and masks,
  // for MatchesRawKey; empty (quoted_bytes 0) when the name is longer than 15 bytes or
  // holds a quote or backslash (raw and unescaped keys differ then).
  uint64_t quoted_words[2] = {0, 0};
  uint64_t quoted_masks[2] = {0, 0};
  size_t quoted_bytes = 0;

  void SetName(std::string n) {
    name = std::move(n);
    if (name.size() > 15 || name.find_first_of("\"\\") != std::string::npos) return;
    const std::string quoted = name + '"';
    quoted_bytes = quoted.size();
    for (size_t k = 0; k < quoted.size(); ++k) {
      quoted_words[k / 8] |= static_cast<uint64_t>(static_cast<uint8_t>(quoted[k])) << (8 * (k % 8));
      quoted_masks[k / 8] |= uint64_t{0xff} << (8 * (k % 8));
    }
  }

  // Fields usually come in the declared order: do the bytes at `raw` (just after a key's
  // opening quote) spell child `i`'s name and the closing quote? Two word compares. The
  // 16 bytes read never pass the document's padding: a key is followed at least by ':',
  // a value and '}', and simdjson guarantees SIMDJSON_PADDING (>= 16) readable bytes
  // after the last.
  bool MatchesRawKey(int i, const char* raw) const {
    static_assert(simdjson::SIMDJSON_PADDING >= 16 && std::endian::native == std::endian::little);
    if (i >= num_children) return false;
    const Column& child = children[static_cast<size_t>(i)];
    if (child.quoted_bytes == 0) return false;
    uint64_t words[2];
    std::memcpy(words, raw, 16);
    return ((words[0] ^ child.quoted_words[0]) & child.quoted_masks[0]) == 0 &&
           ((words[1] ^ child.quoted_words[1]) & child.quoted_masks[1]) == 0;
  }

  int Find(std::string_view key, int hint) const {
    if (hint < num_children && children[static_cast<size_t>(hint)].name == key) return hint;
    auto it = index.find(key);
    return it == index.end() ? -1 : it->second;
  }

  Column() { offsets.push_back(0); }

  // Counts a slot whose value was appended.
  [[gnu::always_inline]] void AppendValid() {
    if (!validity.empty()) validity.push_back(1);
    ++length;
  }
  void AppendNullSlot() {
    if (validity.empty() && length > 0) {
      std::memset(validity.Extend(static_cast<size_t>(length)), 1, static_cast<size_t>(length));
    }
    validity.push_back(0);
    ++length;
  }
  template <typename T>
  [[gnu::always_inline]] void AppendFixed(T v) {
    std::memcpy(values.Extend(sizeof(T)), &v, sizeof(T));
    AppendValid();
  }
  [[gnu::always_inline]] void AppendBytes(std::string_view bytes) {
    if (!bytes.empty()) std::memcpy(data.Extend(bytes.size()), bytes.data(), bytes.size());
    offsets.push_back(static_cast<int32_t>(data.size()));
    AppendValid();
  }
  // AppendBytes of the body of a JSON string read in place (see CopyEscapeFree); false,
  // with nothing appended, when the body holds an escape.
  [[gnu::always_inline]] bool AppendEscapeFree(const char* body, size_t n);
};

namespace {

// Copies the `n` bytes of a JSON string's body at `src` to `dst`, unless one is a
// backslash (an escape: the caller then unescapes). With AVX2 (checked at run time), one
// pass of 32-byte blocks instead of memchr and then memcpy, and without their two calls
// per string. The blocks may read up to 31 bytes past `src + n`, which the document holds
// (the closing quote and what follows) or its SIMDJSON_PADDING covers, and write up to 31
// bytes past `dst + n`, which the caller leaves room for.
constexpr size_t kCopySlack = 32;

#ifdef LAMINAR_JSON_AVX2
[[gnu::target("avx2")]] bool CopyEscapeFreeAvx2(const char* src, size_t n, char* dst) {
  const __m256i backslash = _mm256_set1_epi8('\\');
  __m256i found = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    const auto* in = reinterpret_cast<const __m256i*>(src + i);
    auto* out = reinterpret_cast<__m256i*>(dst + i);
    const __m256i a = _mm256_loadu_si256(in), b = _mm256_loadu_si256(in + 1);
    const __m256i c = _mm256_loadu_si256(in + 2), d = _mm256_loadu_si256(in + 3);
    _mm256_storeu_si256(out, a);
    _mm256_storeu_si256(out + 1, b);
    _mm256_storeu_si256(out + 2, c);
    _mm256_storeu_si256(out + 3, d);
    const __m256i ab = _mm256_or_si256(_mm256_cmpeq_epi8(a, backslash), _mm256_cmpeq_epi8(b, backslash));
    const __m256i cd = _mm256_or_si256(_mm256_cmpeq_epi8(c, backslash), _mm256_cmpeq_epi8(d, backslash));
    found = _mm256_or_si256(found, _mm256_or_si256(ab, cd));
  }
  for (; i + 32 <= n; i += 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), v);
    found = _mm256_or_si256(found, _mm256_cmpeq_epi8(v, backslash));
  }
  if (!_mm256_testz_si256(found, found)) return false;
  if (i < n) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), v);
    const auto mask = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, backslash)));
    if ((mask & ((uint32_t{1} << (n - i)) - 1)) != 0) return false;
  }
  return true;
}

const bool kHaveAvx2 = [] {
  __builtin_cpu_init();  // this may run before the runtime's own constructors
  return __builtin_cpu_supports("avx2") != 0;
}();
#endif

[[gnu::always_inline]] inline bool CopyEscapeFree(const char* src, size_t n, char* dst) {
#ifdef LAMINAR_JSON_AVX2
  if (kHaveAvx2) return CopyEscapeFreeAvx2(src, n, dst);
#endif
  if (std::memchr(src, '\\', n) != nullptr) return false;
  std::memcpy(dst, src, n);
  return true;
}

}  // namespace

inline bool Column::AppendEscapeFree(const char* body, size_t n) {
  if (!CopyEscapeFree(body, n, data.Room(n + kCopySlack))) return false;
  data.Commit(n);
  offsets.push_back(static_cast<int32_t>(data.size()));
  AppendValid();
  return true;
}

namespace {

bool IsJsonField(const arrow::Field& field) {
  if (!field.metadata()) return false;
  auto v = field.metadata()->Get("laminar.type");
  return v.ok() && *v == "json";
}

arrow::Status BuildColumn(const arrow::Field& field, const std::string& path, const std::string& where, Column* c) {
  c->type = field.type();
  c->nullable = field.nullable();
  c->SetName(field.name());
  c->path = path;
  c->sql = text::SqlTypeName(field);
  switch (field.type()->id()) {
    case arrow::Type::BOOL: c->kind = Kind::kBool; c->width = 1; break;
    case arrow::Type::INT8: c->kind = Kind::kInt; c->width = 1; c->int_min = INT8_MIN; c->uint_max = INT8_MAX; break;
    case arrow::Type::INT16: c->kind = Kind::kInt; c->width = 2; c->int_min = INT16_MIN; c->uint_max = INT16_MAX; break;
    case arrow::Type::INT32: c->kind = Kind::kInt; c->width = 4; c->int_min = INT32_MIN; c->uint_max = INT32_MAX; break;
    case arrow::Type::INT64: c->kind = Kind::kInt; c->width = 8; c->int_min = INT64_MIN; c->uint_max = INT64_MAX; break;
    case arrow::Type::UINT8: c->kind = Kind::kUInt; c->width = 1; c->uint_max = UINT8_MAX; break;
    case arrow::Type::UINT16: c->kind = Kind::kUInt; c->width = 2; c->uint_max = UINT16_MAX; break;
    case arrow::Type::UINT32: c->kind = Kind::kUInt; c->width = 4; c->uint_max = UINT32_MAX; break;
    case arrow::Type::UINT64: c->kind = Kind::kUInt; c->width = 8; c->uint_max = UINT64_MAX; break;
    case arrow::Type::FLOAT: c->kind = Kind::kFloat32; c->width = 4; break;
    case arrow::Type::DOUBLE: c->kind = Kind::kFloat64; c->width = 8; break;
    case arrow::Type::DECIMAL128: {
      const auto& d = static_cast<const arrow::Decimal128Type&>(*field.type());
      c->kind = Kind::kDecimal;
      c->width = 16;
      c->precision = d.precision();
      c->scale = d.scale();
      break;
    }
    case arrow::Type::STRING: c->kind = IsJsonField(field) ? Kind::kJson : Kind::kString; break;
    case arrow::Type::BINARY: c->kind = Kind::kBinary; break;
    case arrow::Type::DATE32: c->kind = Kind::kDate32; c->width = 4; break;
    case arrow::Type::TIME64:
      c->kind = Kind::kTime64;
      c->width = 8;
      c->unit = static_cast<const arrow::Time64Type&>(*field.type()).unit();
      break;
    case arrow::Type::TIMESTAMP:
      c->kind = Kind::kTimestamp;
      c->width = 8;
      c->unit = static_cast<const arrow::TimestampType&>(*field.type()).unit();
      break;
    case arrow::Type::LIST: {
      c->kind = Kind::kList;
      c->children.resize(1);
      const auto& item = *static_cast<const arrow::ListType&>(*field.type()).value_field();
      ARROW_RETURN_NOT_OK(BuildColumn(item, path + "[]", where, &c->children[0]));
      break;
    }
    case arrow::Type::STRUCT: {
      c->kind = Kind::kStruct;
      c->children.resize(static_cast<size_t>(field.type()->num_fields()));
      for (int i = 0; i < field.type()->num_fields(); ++i) {
        const auto& child = *field.type()->field(i);
        ARROW_RETURN_NOT_OK(
            BuildColumn(child, path.empty() ? child.name() : path + "." + child.name(), where, &c->children[static_cast<size_t>(i)]));
      }
      break;
    }
    default:
      return ConfigError(where, "column '" + path + "' has type " + field.type()->ToString() +
                                    ", which the JSON format cannot decode");
  }
  return arrow::Status::OK();
}

// Builds the struct lookup tables once the tree no longer moves.
arrow::Status IndexColumn(Column* c, const std::string& where) {
  for (size_t i = 0; i < c->children.size(); ++i) {
    if (c->kind == Kind::kStruct && !c->index.emplace(c->children[i].name, static_cast<int>(i)).second) {
      return ConfigError(where, "duplicate column name '" + c->children[i].path + "'");
    }
    ARROW_RETURN_NOT_OK(IndexColumn(&c->children[i], where));
  }
  c->seen.assign(c->children.size(), 0);
  c->num_children = static_cast<int>(c->children.size());
  return arrow::Status::OK();
}

// Sets each column's mismatch strategy: its own override, else its parent's. Overrides
// used are erased, so what is left names no column.
void ApplyTypeMismatch(Column& c, TypeMismatch inherited, std::map<std::string, TypeMismatch>* overrides) {
  c.mismatch = inherited;
  if (auto it = overrides->find(c.path); it != overrides->end() && !c.path.empty()) {
    c.mismatch = it->second;
    overrides->erase(it);
  }
  for (auto& child : c.children) ApplyTypeMismatch(child, c.mismatch, overrides);
}

void AppendNull(Column& c) {
  c.AppendNullSlot();
  switch (c.kind) {
    case Kind::kString:
    case Kind::kJson:
    case Kind::kBinary:
    case Kind::kList: c.offsets.push_back(c.offsets.back()); break;
    case Kind::kStruct:
      for (auto& child : c.children) AppendNull(child);
      break;
    default: c.values.resize(c.values.size() + static_cast<size_t>(c.width)); break;
  }
}

// Also cleans up children written for a row whose own slot was never appended.
void TruncateColumn(Column& c, int64_t n) {
  if (n > c.length) return;
  if (c.kind == Kind::kStruct) {
    for (auto& child : c.children) TruncateColumn(child, n);
  } else if (c.kind == Kind::kList) {
    TruncateColumn(c.children[0], c.offsets[static_cast<size_t>(n)]);
  }
  if (n == c.length) return;
  c.length = n;
  if (!c.validity.empty()) c.validity.resize(static_cast<size_t>(n));
  switch (c.kind) {
    case Kind::kString:
    case Kind::kJson:
    case Kind::kBinary:
      c.data.resize(static_cast<size_t>(c.offsets[static_cast<size_t>(n)]));
      c.offsets.resize(static_cast<size_t>(n) + 1);
      break;
    case Kind::kList: c.offsets.resize(static_cast<size_t>(n) + 1); break;
    case Kind::kStruct: break;
    default: c.values.resize(static_cast<size_t>(n * c.width)); break;
  }
}

void ReserveColumn(Column& c, int64_t rows) {
  const auto n = static_cast<size_t>(rows);
  switch (c.kind) {
    case Kind::kString:
    case Kind::kJson:
    case Kind::kBinary:
      c.offsets.reserve(c.offsets.size() + n);
      // A quarter more than the last batch's mean: a batch only slightly above the mean
      // would otherwise grow the buffer by doubling, copying it and faulting in twice
      // the pages (measured: a tenth of the decoder's time on 1 KB messages).
      // (Plus the slack the string copy may write past its last string.)
      c.data.reserve(c.data.size() + n * static_cast<size_t>(std::max<int64_t>(c.data_hint + c.data_hint / 4, 8)) +
                     kCopySlack);
      break;
    case Kind::kList: c.offsets.reserve(c.offsets.size() + n); break;
    case Kind::kStruct:
      for (auto& child : c.children) ReserveColumn(child, rows);
      break;
    default: c.values.reserve(c.values.size() + n * static_cast<size_t>(c.width)); break;
  }
}

arrow::Result<std::shared_ptr<arrow::Buffer>> PackBits(const GrowableBuffer<uint8_t>& bytes, int64_t length) {
  ARROW_ASSIGN_OR_RAISE(auto buffer, arrow::AllocateEmptyBitmap(length));
  uint8_t* bits = buffer->mutable_data();
  for (int64_t i = 0; i < length; ++i) {
    if (bytes[static_cast<size_t>(i)]) arrow::bit_util::SetBit(bits, i);
  }
  return std::shared_ptr<arrow::Buffer>(std::move(buffer));
}

arrow::Result<std::shared_ptr<arrow::ArrayData>> FinishColumn(Column& c) {
  const int64_t length = c.length;
  int64_t nulls = 0;
  for (uint8_t v : c.validity) nulls += v == 0;  // none when empty
  std::shared_ptr<arrow::Buffer> validity;
  if (nulls > 0) {
    ARROW_ASSIGN_OR_RAISE(validity, PackBits(c.validity, length));
  }
  std::vector<std::shared_ptr<arrow::Buffer>> buffers{validity};
  std::vector<std::shared_ptr<arrow::ArrayData>> children;
  switch (c.kind) {
    case Kind::kBool: {
      ARROW_ASSIGN_OR_RAISE(auto bits, PackBits(c.values, length));
      buffers.push_back(std::move(bits));
      break;
    }
    case Kind::kString:
    case Kind::kJson:
    case Kind::kBinary:
      if (c.data.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
        return arrow::Status::CapacityError("column '", c.path, "': more than 2 GiB of data in one batch");
      }
      c.data_hint = length > 0 ? static_cast<int64_t>(c.data.size()) / length + 1 : c.data_hint;
      buffers.push_back(c.offsets.Release());
      buffers.push_back(c.data.Release());
      break;
    case Kind::kList: {
      buffers.push_back(c.offsets.Release());
      ARROW_ASSIGN_OR_RAISE(auto child, FinishColumn(c.children[0]));
      children.push_back(std::move(child));
      break;
    }
    case Kind::kStruct:
      for (auto& column : c.children) {
        ARROW_ASSIGN_OR_RAISE(auto child, FinishColumn(column));
        children.push_back(std::move(child));
      }
      break;
    default: buffers.push_back(c.values.Release()); break;
  }
  c.length = 0;
  c.validity = {};
  c.values = {};
  c.offsets = {};
  c.offsets.push_back(0);
  c.data = {};
  return arrow::ArrayData::Make(c.type, length, std::move(buffers), std::move(children), nulls);
}

// `value` counted in `from` units as a count of `to` units: exact when `to` is as fine or
// finer, else floored (toward the past, as timestamp text is); nullopt on overflow.
std::optional<int64_t> ConvertUnit(int64_t value, arrow::TimeUnit::type from, arrow::TimeUnit::type to) {
  static constexpr int64_t kPerSecond[] = {1, 1000, 1000000, 1000000000};
  const int64_t f = kPerSecond[static_cast<int>(from)], t = kPerSecond[static_cast<int>(to)];
  if (t >= f) {
    int64_t out = 0;
    if (__builtin_mul_overflow(value, t / f, &out)) return std::nullopt;
    return out;
  }
  const int64_t ratio = f / t;
  return value >= 0 ? value / ratio : -((-(value + 1)) / ratio) - 1;
}

int64_t UnitsPerDay(arrow::TimeUnit::type unit) {
  static constexpr int64_t kPerSecond[] = {1, 1000, 1000000, 1000000000};
  return 86400 * kPerSecond[static_cast<int>(unit)];
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if ((a[i] | 0x20) != b[i]) return false;
  }
  return true;
}

}  // namespace

std::vector<ConfigKeySpec> DecodeOptionKeySpecs() {
  return {
      ConfigKeySpec::Enum("format.unknown_fields", {"ignore", "reject", "collect"}, "ignore",
                          "JSON fields that are not columns: ignore them, reject the record, or collect them as "
                          "one JSONB object into the extra column _extra"),
      ConfigKeySpec::Enum("format.type_mismatch", {"error", "null"}, "error",
                          "a value that cannot become its column's type: a record error (on.error decides), "
                          "or null (counted)"),
      ConfigKeySpec::Unset("format.type_mismatch.*", ConfigType::kString,
                           "format.type_mismatch for one column (format.type_mismatch.price; a.b for a "
                           "nested field) and the fields it nests: error or null"),
      ConfigKeySpec::Optional("format.nested_as_jsonb", ConfigType::kBool, "false",
                              "BYTEA columns take any JSON value (object, array or scalar) as JSONB bytes "
                              "instead of a base64 string"),
      ConfigKeySpec::Optional("format.coerce", ConfigType::kBool, "true",
                              "accept numeric strings for numbers, \"true\"/\"false\" for BOOLEAN, integral "
                              "floats for integers, numbers and booleans for VARCHAR"),
      ConfigKeySpec::Unset("format.timestamp_formats", ConfigType::kString,
                           "';'-separated timestamp text formats tried in order: iso8601 or patterns with "
                           "%Y %m %d %H %M %S %f %z %T %F (default: iso8601)"),
  };
}

arrow::Result<DecodeOptions> DecodeOptionsFromConfig(const ConnectorConfig& config) {
  DecodeOptions options;
  auto bad = [&](const std::string& key, const std::string& value, const std::string& expected) {
    return ConfigError(config.Where(), "option '" + key + "' = '" + value + "' is not valid; expected " + expected);
  };
  if (auto v = config.Get("format.unknown_fields")) {
    if (*v == "ignore") options.unknown_fields = UnknownFields::kIgnore;
    else if (*v == "reject") options.unknown_fields = UnknownFields::kReject;
    else if (*v == "collect") options.unknown_fields = UnknownFields::kCollect;
    else return bad("format.unknown_fields", *v, "ignore, reject or collect");
  }
  if (auto v = config.Get("format.type_mismatch")) {
    if (*v == "error") options.type_mismatch = TypeMismatch::kError;
    else if (*v == "null") options.type_mismatch = TypeMismatch::kNull;
    else return bad("format.type_mismatch", *v, "error or null");
  }
  for (const auto& [column, v] : config.PropertiesWithPrefix("format.type_mismatch.")) {
    const std::string key = "format.type_mismatch." + column;
    if (v == "error") options.column_type_mismatch[column] = TypeMismatch::kError;
    else if (v == "null") options.column_type_mismatch[column] = TypeMismatch::kNull;
    else return bad(key, v, "error or null");
  }
  if (auto v = config.Get("format.nested_as_jsonb")) {
    if (*v == "true") options.nested_as_jsonb = true;
    else if (*v == "false") options.nested_as_jsonb = false;
    else return bad("format.nested_as_jsonb", *v, "true or false");
  }
  if (auto v = config.Get("format.coerce")) {
    if (*v == "true") options.coerce = true;
    else if (*v == "false") options.coerce = false;
    else return bad("format.coerce", *v, "true or false");
  }
  if (auto v = config.Get("format.timestamp_formats")) {
    std::string_view rest = *v;
    while (true) {
      const size_t semi = rest.find(';');
      std::string_view one = rest.substr(0, semi);
      while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
      while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
      if (!one.empty()) {
        auto pattern = text::TimestampPattern::Make(std::string(one));
        if (!pattern.ok()) {
          return ConfigError(config.Where(), "option 'format.timestamp_formats': " + pattern.status().message());
        }
        options.timestamp_formats.push_back(std::move(*pattern));
      }
      if (semi == std::string_view::npos) break;
      rest.remove_prefix(semi + 1);
    }
    if (options.timestamp_formats.empty()) {
      return bad("format.timestamp_formats", *v, "at least one format (iso8601 or a pattern)");
    }
  }
  return options;
}

std::string MalformedMessage(simdjson::error_code code) {
  return std::string("malformed JSON: ") + simdjson::error_message(code);
}

std::string DescribeJsonType(od::json_type type) {
  switch (type) {
    case od::json_type::array: return "an array";
    case od::json_type::object: return "an object";
    case od::json_type::number: return "a number";
    case od::json_type::string: return "a string";
    case od::json_type::boolean: return "a boolean";
    case od::json_type::null: return "null";
  }
  return "?";
}

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// simdjson may read up to SIMDJSON_PADDING bytes past the end, but what it finds there
// does not change the result (its maintainers' rule, and json_codec_test checks it with
// hostile bytes behind truncated documents). Memory protection works per page, so when
// those bytes lie in the page of the last byte the read cannot fault and the message
// needs no padded copy: that copy was a sixth of the decoder's time. Sanitizers would
// report the read, so they always get the copy.
bool PaddingStaysInPage(std::string_view bytes) {
  constexpr uintptr_t kPage = 4096;
  if (kSanitized || bytes.empty()) return false;
  const auto last = reinterpret_cast<uintptr_t>(bytes.data() + bytes.size() - 1);
  return last % kPage + simdjson::SIMDJSON_PADDING < kPage;
}

}  // namespace

simdjson::simdjson_result<od::document> PaddedParser::Iterate(std::string_view bytes) {
  if (PaddingStaysInPage(bytes)) {
    return parser_.iterate(
        simdjson::padded_string_view(bytes.data(), bytes.size(), bytes.size() + simdjson::SIMDJSON_PADDING));
  }
  const size_t needed = bytes.size() + simdjson::SIMDJSON_PADDING;
  if (needed > capacity_) {
    capacity_ = std::max(needed, capacity_ * 2);
    buffer_.reset(new char[capacity_]);
  }
  std::memcpy(buffer_.get(), bytes.data(), bytes.size());
  std::memset(buffer_.get() + bytes.size(), 0, simdjson::SIMDJSON_PADDING);
  return parser_.iterate(simdjson::padded_string_view(buffer_.get(), bytes.size(), capacity_));
}

arrow::Result<std::unique_ptr<RowDecoder>> RowDecoder::Make(const arrow::FieldVector& fields, DecodeOptions options,
                                                            const std::string& where) {
  std::unique_ptr<RowDecoder> out(new RowDecoder());
  out->options_ = std::move(options);
  out->root_ = std::make_unique<Column>();
  out->root_->kind = Kind::kStruct;
  out->root_->type = arrow::struct_(fields);
  out->root_->nullable = false;
  out->root_->children.resize(fields.size());
  for (size_t i = 0; i < fields.size(); ++i) {
    ARROW_RETURN_NOT_OK(BuildColumn(*fields[i], fields[i]->name(), where, &out->root_->children[i]));
  }
  ARROW_RETURN_NOT_OK(IndexColumn(out->root_.get(), where));
  auto overrides = out->options_.column_type_mismatch;
  ApplyTypeMismatch(*out->root_, out->options_.type_mismatch, &overrides);
  if (!overrides.empty()) {
    return ConfigError(where, "option 'format.type_mismatch." + overrides.begin()->first +
                                  "' names no column (a column name, or a.b for a nested field)");
  }
  if (out->options_.unknown_fields == UnknownFields::kCollect) {
    for (const auto& field : fields) {
      if (field->name() == kExtraColumn) {
        return ConfigError(where, std::string("format.unknown_fields 'collect' adds the column '") + kExtraColumn +
                                      "', which the DDL declares already");
      }
    }
    out->extra_ = std::make_unique<Column>();
    ARROW_RETURN_NOT_OK(BuildColumn(*ExtraField(), kExtraColumn, where, out->extra_.get()));
  }
  return out;
}

std::shared_ptr<arrow::Field> RowDecoder::ExtraField() {
  return arrow::field(kExtraColumn, arrow::binary(), /*nullable=*/true,
                      arrow::key_value_metadata({"laminar.type"}, {"jsonb"}));
}

RowDecoder::~RowDecoder() = default;

void RowDecoder::Reserve(int64_t rows) {
  for (auto& child : root_->children) ReserveColumn(child, rows);
  if (extra_) ReserveColumn(*extra_, rows);
}

void RowDecoder::Truncate(int64_t rows) {
  if (rows > rows_) return;
  for (auto& child : root_->children) TruncateColumn(child, rows);
  if (extra_) TruncateColumn(*extra_, rows);
  rows_ = rows;
}

arrow::Result<arrow::ArrayVector> RowDecoder::Finish() {
  arrow::ArrayVector out;
  out.reserve(root_->children.size());
  for (auto& child : root_->children) {
    ARROW_ASSIGN_OR_RAISE(auto data, FinishColumn(child));
    out.push_back(arrow::MakeArray(data));
  }
  if (extra_) {
    ARROW_ASSIGN_OR_RAISE(auto data, FinishColumn(*extra_));
    out.push_back(arrow::MakeArray(data));
  }
  rows_ = 0;
  return out;
}

bool RowDecoder::AppendObject(od::object& object, std::string* error, std::span<const ValueEncoding> encodings) {
  error_ = error;
  encodings_ = encodings.size() == root_->children.size() ? encodings : std::span<const ValueEncoding>();
  collected_.clear();
  if (!AppendStructFields(*root_, object)) {
    for (auto& child : root_->children) TruncateColumn(child, rows_);
    return false;
  }
  if (extra_) {
    if (collected_.empty()) {
      AppendNull(*extra_);
    } else {
      collected_ += '}';
      std::string bytes;
      if (auto status = jsonb_.EncodeText(collected_, &bytes); !status.ok()) {
        for (auto& child : root_->children) TruncateColumn(child, rows_);
        *error_ = "unknown fields cannot be kept as JSONB: " + status.message();
        return false;
      }
      extra_->AppendBytes(bytes);
    }
  }
  ++rows_;
  return true;
}

// Most strings hold no escape: their bytes between the quotes are the value (stage 1
// has validated the UTF-8), so they can be used in place instead of being unescaped into
// the parser's buffer first. False when the value is not a string or the string has an
// escape.
namespace {
// The bytes between the quotes of a string value, escapes and all; false when the value
// is not a string.
[[gnu::always_inline]] inline bool RawStringBody(od::value& value, std::string_view* out) {
  std::string_view raw = value.raw_json_token();
  if (raw.empty() || raw.back() != '"') raw = TrimRight(raw);  // whitespace before the next token
  if (raw.size() < 2 || raw.front() != '"' || raw.back() != '"') return false;
  *out = raw.substr(1, raw.size() - 2);
  return true;
}

[[gnu::always_inline]] inline bool UnescapedRawString(od::value& value, std::string_view* out) {
  return RawStringBody(value, out) && std::memchr(out->data(), '\\', out->size()) == nullptr;
}

// The common cases, inline and without AppendValue's dispatch on the JSON type: an
// escape-free string for VARCHAR, an int64 for BIGINT, ISO-8601 text for TIMESTAMP. They
// append what AppendValue would. False for anything else, with nothing appended and the
// value not consumed: AppendValue then decides (and reports the errors).
[[gnu::always_inline]] inline bool AppendCommon(Column& c, od::value& value, const DecodeOptions& options) {
  switch (c.kind) {
    case Kind::kString: {
      std::string_view body;
      return RawStringBody(value, &body) && c.AppendEscapeFree(body.data(), body.size());
    }
    case Kind::kInt: {
      int64_t i = 0;
      if (c.width != 8 || value.get_int64().get(i)) return false;
      c.AppendFixed<int64_t>(i);
      return true;
    }
    case Kind::kTimestamp: {
      std::string_view s;
      if (!options.timestamp_formats.empty() || !UnescapedRawString(value, &s)) return false;
      const auto instant = text::ParseIsoTimestamp(s);
      if (!instant) return false;
      const auto v = text::InstantToUnit(*instant, c.unit);
      if (!v) return false;
      c.AppendFixed<int64_t>(*v);
      return true;
    }
    default: return false;
  }
}
}  // namespace

bool RowDecoder::Malformed(simdjson::error_code code) {
  *error_ = MalformedMessage(code);
  return false;
}

bool RowDecoder::Mismatch(Column& c, od::value& value, od::json_type type, const char* why) {
  if (c.mismatch == TypeMismatch::kNull && c.nullable) {
    AppendNull(c);
    ++mismatches_;
    return true;
  }
  std::string found = DescribeJsonType(type);
  if (type != od::json_type::object && type != od::json_type::array) {
    {
      const std::string_view token = value.raw_json_token();
      found = (type == od::json_type::string ? "string " : type == od::json_type::number ? "number " : "boolean ") +
              text::Truncated(TrimRight(token));
    }
  }
  *error_ = "column '" + c.path + "': expected " + c.sql + ", found " + found;
  if (why) *error_ += std::string(" (") + why + ")";
  return false;
}

bool RowDecoder::AppendStructFields(Column& c, od::object& object) {
  // Fields usually arrive once each and in the declared order: while they do, children
  // [0, in_order) are the ones seen and `seen` is left alone. A field out of that order
  // switches to `seen`.
  size_t in_order = 0;
  bool tracking = false;
  int hint = 0;
  for (auto field_result : object) {
    if (auto code = field_result.error()) return Malformed(code);
    od::field& field = field_result.value_unsafe();
    const char* begin = field.key().raw();
    int idx = c.MatchesRawKey(hint, begin) ? hint : -1;
    std::string_view key;
    if (idx < 0) {
      // The raw key is the unescaped key unless it contains a backslash.
      const char* end = begin;
      bool escaped = false;
      while (*end != '"') {
        if (*end == '\\') {
          escaped = true;
          break;
        }
        ++end;
      }
      key = std::string_view(begin, static_cast<size_t>(end - begin));
      if (escaped) {
        if (auto code = field.unescaped_key().get(key)) return Malformed(code);
      }
      idx = c.Find(key, hint);
    }
    if (idx < 0) {
      if (options_.unknown_fields == UnknownFields::kReject) {
        *error_ = "unknown field '" + (c.path.empty() ? "" : c.path + ".") + text::Truncated(key) + "'";
        return false;
      }
      if (extra_ && &c == root_.get()) {
        // The key as written (escapes included) and the value's JSON text, in order.
        std::string_view value_text;
        if (auto code = simdjson::to_json_string(field.value()).get(value_text)) return Malformed(code);
        collected_ += collected_.empty() ? "{\"" : ",\"";
        const char* raw_end = begin;
        while (*raw_end != '"') raw_end += *raw_end == '\\' ? 2 : 1;
        collected_.append(begin, static_cast<size_t>(raw_end - begin));
        collected_ += "\":";
        collected_.append(TrimRight(value_text));
      }
      continue;
    }
    Column& child = c.children[static_cast<size_t>(idx)];
    if (!tracking && static_cast<size_t>(idx) == in_order) {
      ++in_order;
    } else {
      if (!tracking) {
        std::fill(c.seen.begin(), c.seen.end(), 0);
        std::fill(c.seen.begin(), c.seen.begin() + static_cast<std::ptrdiff_t>(in_order), 1);
        tracking = true;
      }
      if (c.seen[static_cast<size_t>(idx)]) TruncateColumn(child, child.length - 1);  // repeated key: last wins
      c.seen[static_cast<size_t>(idx)] = 1;
    }
    hint = idx + 1;
    if (!encodings_.empty() && &c == root_.get() &&
        encodings_[static_cast<size_t>(idx)].kind != ValueEncoding::Kind::kDefault) {
      if (!AppendEncoded(child, field.value(), encodings_[static_cast<size_t>(idx)])) return false;
    } else {
      od::value value = field.value();
      if (!AppendCommon(child, value, options_) && !AppendValue(child, value)) return false;
    }
  }
  for (size_t i = tracking ? 0 : in_order; i < static_cast<size_t>(c.num_children); ++i) {
    if (tracking && c.seen[i]) continue;
    Column& child = c.children[i];
    if (!child.nullable) {
      *error_ = "column '" + child.path + "': missing, but the column is NOT NULL";
      return false;
    }
    AppendNull(child);
  }
  return true;
}

bool RowDecoder::AppendValue(Column& c, od::value value) {
  od::json_type type;
  if (auto code = value.type().get(type)) return Malformed(code);
  if (type == od::json_type::null) {
    if (!c.nullable) {
      *error_ = "column '" + c.path + "': null, but the column is NOT NULL";
      return false;
    }
    AppendNull(c);
    return true;
  }
  const bool coerce = options_.coerce;
  switch (c.kind) {
    case Kind::kBool: {
      if (type == od::json_type::boolean) {
        bool b = false;
        if (auto code = value.get_bool().get(b)) return Malformed(code);
        c.AppendFixed<uint8_t>(b ? 1 : 0);
        return true;
      }
      if (type == od::json_type::string && coerce) {
        std::string_view s;
        if (auto code = value.get_string().get(s)) return Malformed(code);
        if (EqualsIgnoreCase(s, "true")) return c.AppendFixed<uint8_t>(1), true;
        if (EqualsIgnoreCase(s, "false")) return c.AppendFixed<uint8_t>(0), true;
      }
      return Mismatch(c, value, type, nullptr);
    }
    case Kind::kInt:
    case Kind::kUInt: {
      bool negative = false;
      uint64_t magnitude = 0;  // the value is negative ? -magnitude : magnitude
      if (type == od::json_type::number) {
        int64_t i = 0;
        uint64_t u = 0;
        if (!value.get_int64().get(i)) {
          negative = i < 0;
          magnitude = negative ? 0 - static_cast<uint64_t>(i) : static_cast<uint64_t>(i);
        } else if (!value.get_uint64().get(u)) {
          magnitude = u;
        } else {
          double d = 0;
          if (value.get_double().get(d)) return Mismatch(c, value, type, "out of range");
          if (!coerce || d != std::trunc(d)) return Mismatch(c, value, type, "not an integer");
          if (!(d > -18446744073709551616.0 && d < 18446744073709551616.0)) return Mismatch(c, value, type, "out of range");
          negative = d < 0;
          magnitude = static_cast<uint64_t>(negative ? -d : d);
        }
      } else if (type == od::json_type::string && coerce) {
        std::string_view s;
        if (auto code = value.get_string().get(s)) return Malformed(code);
        if (auto i = text::ParseInt64Text(s)) {
          negative = *i < 0;
          magnitude = negative ? 0 - static_cast<uint64_t>(*i) : static_cast<uint64_t>(*i);
        } else if (auto u = text::ParseUInt64Text(s)) {
          magnitude = *u;
        } else {
          return Mismatch(c, value, type, "not an integer");
        }
      } else {
        return Mismatch(c, value, type, nullptr);
      }
      if (negative ? (c.kind == Kind::kUInt || magnitude > static_cast<uint64_t>(-(c.int_min + 1)) + 1)
                   : magnitude > c.uint_max) {
        return Mismatch(c, value, type, "out of range");
      }
      const uint64_t bits = negative ? 0 - magnitude : magnitude;  // two's complement
      switch (c.width) {
        case 1: c.AppendFixed<uint8_t>(static_cast<uint8_t>(bits)); break;
        case 2: c.AppendFixed<uint16_t>(static_cast<uint16_t>(bits)); break;
        case 4: c.AppendFixed<uint32_t>(static_cast<uint32_t>(bits)); break;
        default: c.AppendFixed<uint64_t>(bits); break;
      }
      return true;
    }
    case Kind::kFloat32:
    case Kind::kFloat64: {
      double d = 0;
      if (type == od::json_type::number) {
        if (value.get_double().get(d)) return Mismatch(c, value, type, "out of range");
      } else if (type == od::json_type::string && coerce) {
        std::string_view s;
        if (auto code = value.get_string().get(s)) return Malformed(code);
        auto parsed = text::ParseDoubleText(s);
        if (!parsed) return Mismatch(c, value, type, "not a number");
        d = *parsed;
      } else {
        return Mismatch(c, value, type, nullptr);
      }
      if (c.kind == Kind::kFloat64) {
        c.AppendFixed<double>(d);
      } else {
        if (std::isfinite(d) && std::isinf(static_cast<float>(d))) {
          return Mismatch(c, value, type, "out of range");
        }
        c.AppendFixed<float>(static_cast<float>(d));
      }
      return true;
    }
    case Kind::kDecimal: {
      std::string_view s;
      if (type == od::json_type::number) {
        s = TrimRight(value.raw_json_token());
      } else if (type == od::json_type::string) {
        if (auto code = value.get_string().get(s)) return Malformed(code);
      } else {
        return Mismatch(c, value, type, nullptr);
      }
      arrow::Decimal128 d;
      const char* reason = nullptr;
      if (!text::ParseDecimal(s, c.precision, c.scale, &d, &reason)) return Mismatch(c, value, type, reason);
      uint8_t bytes[16];
      d.ToBytes(bytes);
      const size_t at = c.values.size();
      c.values.resize(at + 16);
      std::memcpy(c.values.data() + at, bytes, 16);
      c.AppendValid();
      return true;
    }
    case Kind::kString: {
      std::string_view s;
      if (type == od::json_type::string) {
        if (UnescapedRawString(value, &s)) {
          c.AppendBytes(s);
          return true;
        }
        if (auto code = value.get_string().get(s)) return Malformed(code);
      } else if (coerce && (type == od::json_type::number || type == od::json_type::boolean)) {
        s = TrimRight(value.raw_json_token());
      } else {
        return Mismatch(c, value, type, type == od::json_type::object || type == od::json_type::array
                                            ? "declare the column JSON to keep nested values"
                                            : nullptr);
      }
      c.AppendBytes(s);
      return true;
    }
    case Kind::kJson: {
      std::string_view raw;
      if (type == od::json_type::object || type == od::json_type::array) {
        if (auto code = simdjson::to_json_string(value).get(raw)) return Malformed(code);
        const size_t at = c.data.size();
        char* out = c.data.Extend(raw.size());
        size_t written = 0;
        if (auto code = simdjson::minify(raw.data(), raw.size(), out, written)) {
          c.data.resize(at);
          return Malformed(code);
        }
        c.data.resize(at + written);
        c.offsets.push_back(static_cast<int32_t>(c.data.size()));
        c.AppendValid();
        return true;
      }
      c.AppendBytes(TrimRight(value.raw_json_token()));
      return true;
    }
    case Kind::kBinary: {
      if (options_.nested_as_jsonb) {
        std::string_view json;
        if (auto code = simdjson::to_json_string(value).get(json)) return Malformed(code);
        scratch_.clear();
        if (auto status = jsonb_.EncodeText(TrimRight(json), &scratch_); !status.ok()) {
          return Mismatch(c, value, type, status.message().c_str());
        }
        c.AppendBytes(scratch_);
        return true;
      }
      if (type != od::json_type::string) return Mismatch(c, value, type, nullptr);
      std::string_view s;
      if (auto code = value.get_string().get(s)) return Malformed(code);
      scratch_.clear();
      if (!text::DecodeBase64(s, &scratch_)) return Mismatch(c, value, type, "not base64");
      c.AppendBytes(scratch_);
      return true;
    }
    case Kind::kDate32: {
      if (type == od::json_type::string) {
        std::string_view s;
        if (auto code = value.get_string().get(s)) return Malformed(code);
        auto days = text::ParseDate(s);
        if (!days) return Mismatch(c, value, type, "expected YYYY-MM-DD");
        c.AppendFixed<int32_t>(*days);
        return true;
      }
      int64_t days = 0;
      if (type != od::json_type::number) return Mismatch(c, value, type, nullptr);
      if (value.get_int64().get(days) || days < INT32_MIN || days > INT32_MAX) {
        return Mismatch(c, value, type, "expected an integer number of days");
      }
      c.AppendFixed<int32_t>(static_cast<int32_t>(days));
      return true;
    }
    case Kind::kTime64: {
      const int64_t per_micro = c.unit == arrow::TimeUnit::NANO ? 1000 : 1;
      if (type == od::json_type::string) {
        std::string_view s;
        if (auto code = value.get_string().get(s)) return Malformed(code);
        auto micros = text::ParseTimeMicros(s);
        if (!micros) return Mismatch(c, value, type, "expected HH:MM:SS[.ffffff]");
        c.AppendFixed<int64_t>(*micros * per_micro);
        return true;
      }
      int64_t v = 0;
      if (type != od::json_type::number) return Mismatch(c, value, type, nullptr);
      if (value.get_int64().get(v) || v < 0 || v >= 86400LL * 1000000 * per_micro) {
        return Mismatch(c, value, type, "out of range");
      }
      c.AppendFixed<int64_t>(v);
      return true;
    }
    case Kind::kTimestamp: {
      if (type == od::json_type::string) {
        std::string_view s;
        if (!UnescapedRawString(value, &s)) {
          if (auto code = value.get_string().get(s)) return Malformed(code);
        }
        std::optional<text::Instant> instant;
        if (options_.timestamp_formats.empty()) {
          instant = text::ParseIsoTimestamp(s);
        } else {
          for (const auto& format : options_.timestamp_formats) {
            if ((instant = format.Parse(s))) break;
          }
        }
        if (!instant) return Mismatch(c, value, type, "not a timestamp in a known format");
        auto v = text::InstantToUnit(*instant, c.unit);
        if (!v) return Mismatch(c, value, type, "out of range");
        c.AppendFixed<int64_t>(*v);
        return true;
      }
      if (type != od::json_type::number) return Mismatch(c, value, type, nullptr);
      int64_t millis = 0;
      if (!value.get_int64().get(millis)) {
        auto v = text::MillisToUnit(millis, c.unit);
        if (!v) return Mismatch(c, value, type, "out of range");
        c.AppendFixed<int64_t>(*v);
        return true;
      }
      double d = 0;
      if (value.get_double().get(d)) return Mismatch(c, value, type, "out of range");
      static constexpr double kPerMilli[] = {0.001, 1, 1000, 1000000};
      const double scaled = std::floor(d * kPerMilli[static_cast<int>(c.unit)]);
      if (!(scaled > -9.2e18 && scaled < 9.2e18)) return Mismatch(c, value, type, "out of range");
      c.AppendFixed<int64_t>(static_cast<int64_t>(scaled));
      return true;
    }
    case Kind::kList: {
      if (type != od::json_type::array) return Mismatch(c, value, type, nullptr);
      od::array array;
      if (auto code = value.get_array().get(array)) return Malformed(code);
      Column& child = c.children[0];
      for (auto element : array) {
        od::value v;
        if (auto code = std::move(element).get(v)) return Malformed(code);
        if (!AppendValue(child, v)) return false;
      }
      c.offsets.push_back(static_cast<int32_t>(child.length));
      c.AppendValid();
      return true;
    }
    case Kind::kStruct: {
      if (type != od::json_type::object) return Mismatch(c, value, type, nullptr);
      od::object object;
      if (auto code = value.get_object().get(object)) return Malformed(code);
      if (!AppendStructFields(c, object)) return false;
      c.AppendValid();
      return true;
    }
  }
  return Mismatch(c, value, type, nullptr);
}


bool RowDecoder::AppendEncoded(Column& c, od::value value, const ValueEncoding& e) {
  using K = ValueEncoding::Kind;
  od::json_type type;
  if (auto code = value.type().get(type)) return Malformed(code);
  if (type == od::json_type::null) return AppendValue(c, value);
  const std::string why = e.name;
  switch (e.kind) {
    case K::kDefault: break;
    case K::kEpoch:
    case K::kEpochDays:
    case K::kTimeOfDay: {
      const bool temporal = c.kind == Kind::kTimestamp || c.kind == Kind::kDate32 || c.kind == Kind::kTime64;
      if (!temporal) break;  // BIGINT and the like take the number as it is
      int64_t v = 0;
      if (type != od::json_type::number || value.get_int64().get(v)) {
        return Mismatch(c, value, type, (why + " holds an integer").c_str());
      }
      std::optional<int64_t> out;
      if (e.kind == K::kEpoch && c.kind == Kind::kTimestamp) {
        out = ConvertUnit(v, e.unit, c.unit);
      } else if (e.kind == K::kEpochDays && c.kind == Kind::kTimestamp) {
        out = ConvertUnit(v, arrow::TimeUnit::SECOND, c.unit);
        if (out && __builtin_mul_overflow(*out, 86400, &*out)) out.reset();
      } else if (e.kind == K::kEpochDays && c.kind == Kind::kDate32) {
        if (v >= INT32_MIN && v <= INT32_MAX) return c.AppendFixed<int32_t>(static_cast<int32_t>(v)), true;
      } else if (e.kind == K::kTimeOfDay && c.kind == Kind::kTime64) {
        out = ConvertUnit(v, e.unit, c.unit);
        if (out && (*out < 0 || *out >= UnitsPerDay(c.unit))) out.reset();
      } else {
        return Mismatch(c, value, type, (why + " cannot become " + c.sql).c_str());
      }
      if (!out) return Mismatch(c, value, type, (why + ", out of range").c_str());
      c.AppendFixed<int64_t>(*out);
      return true;
    }
    case K::kIsoTimestamp: {
      if (c.kind != Kind::kTimestamp) break;
      std::string_view s;
      if (type != od::json_type::string || value.get_string().get(s)) {
        return Mismatch(c, value, type, (why + " holds ISO-8601 text").c_str());
      }
      auto instant = text::ParseIsoTimestamp(s);
      if (!instant) return Mismatch(c, value, type, (why + " holds ISO-8601 text").c_str());
      auto v = text::InstantToUnit(*instant, c.unit);
      if (!v) return Mismatch(c, value, type, (why + ", out of range").c_str());
      c.AppendFixed<int64_t>(*v);
      return true;
    }
    case K::kUnscaledDecimal: {
      if (c.kind != Kind::kDecimal && c.kind != Kind::kFloat32 && c.kind != Kind::kFloat64 &&
          c.kind != Kind::kString) {
        return Mismatch(c, value, type, (why + " cannot become " + c.sql).c_str());
      }
      std::string_view s;
      scratch_.clear();
      if (type != od::json_type::string || value.get_string().get(s) || !text::DecodeBase64(s, &scratch_) ||
          scratch_.empty()) {
        return Mismatch(c, value, type, (why + " holds base64 bytes").c_str());
      }
      if (scratch_.size() > 16) return Mismatch(c, value, type, (why + ", out of range").c_str());
      auto unscaled = arrow::Decimal128::FromBigEndian(reinterpret_cast<const uint8_t*>(scratch_.data()),
                                                       static_cast<int32_t>(scratch_.size()));
      if (!unscaled.ok()) return Mismatch(c, value, type, (why + ", out of range").c_str());
      if (c.kind == Kind::kString) {
        c.AppendBytes(unscaled->ToString(e.scale));
        return true;
      }
      if (c.kind != Kind::kDecimal) {
        const double d = unscaled->ToDouble(e.scale);
        if (c.kind == Kind::kFloat64) {
          c.AppendFixed<double>(d);
        } else {
          c.AppendFixed<float>(static_cast<float>(d));
        }
        return true;
      }
      auto rescaled = unscaled->Rescale(e.scale, c.scale);
      if (!rescaled.ok()) return Mismatch(c, value, type, "more fractional digits than the column's scale");
      if (!rescaled->FitsInPrecision(c.precision)) return Mismatch(c, value, type, "more digits than the precision");
      uint8_t bytes[16];
      rescaled->ToBytes(bytes);
      const size_t at = c.values.size();
      c.values.resize(at + 16);
      std::memcpy(c.values.data() + at, bytes, 16);
      c.AppendValid();
      return true;
    }
  }
  return AppendValue(c, value);
}

}  // namespace laminar::serde::json_internal
