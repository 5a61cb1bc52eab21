// Growable byte and bit buffers for RowDecoder's columns, allocated from Arrow's memory
// pool and handed to the batch at Finish without a copy. Single-threaded. Not installed.
//
// Why not std::vector / std::string: their memory goes back to glibc when a batch is
// released and came back as freshly zeroed pages for the next one (page faults were a
// fifth of codec_bench's decode time); Arrow's pool (mimalloc, jemalloc) keeps freed
// pages for reuse. Appends check capacity inline and grow by doubling; a failed
// allocation throws std::bad_alloc, as the std::vector these replace did.
#pragma once

#include <arrow/buffer.h>
#include <arrow/memory_pool.h>
#include <arrow/util/bitmap_ops.h>
#include <arrow/util/macros.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <utility>

namespace laminar::serde::json_internal {

class ByteBuffer {
 public:
  int64_t size() const { return size_; }
  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }

  // `n` more bytes at the end, returned for writing.
  uint8_t* Extend(int64_t n) {
    if (ARROW_PREDICT_FALSE(size_ + n > capacity_)) Grow(size_ + n);
    uint8_t* out = data_ + size_;
    size_ += n;
    return out;
  }
  void Append(const void* bytes, int64_t n) {
    if (n > 0) std::memcpy(Extend(n), bytes, static_cast<size_t>(n));
  }
  template <typename T>
  void AppendValue(T v) {
    std::memcpy(Extend(sizeof(T)), &v, sizeof(T));
  }
  // Room for `n` more bytes without another allocation.
  void Reserve(int64_t n) {
    if (size_ + n > capacity_) Grow(size_ + n);
  }
  // Keeps the first `n` bytes (n <= size()).
  void Truncate(int64_t n) { size_ = n; }
  // Empty again, keeping the memory.
  void Clear() { size_ = 0; }

  // The bytes written so far; this buffer starts over empty (new memory on next write).
  arrow::Result<std::shared_ptr<arrow::Buffer>> Finish() {
    if (!buffer_) return arrow::AllocateBuffer(0);
    ARROW_RETURN_NOT_OK(buffer_->Resize(size_, /*shrink_to_fit=*/false));
    std::shared_ptr<arrow::Buffer> out = std::move(buffer_);
    buffer_.reset();
    data_ = nullptr;
    size_ = capacity_ = 0;
    return out;
  }

 private:
  void Grow(int64_t min_capacity) {
    const int64_t capacity = std::max<int64_t>({min_capacity, capacity_ * 2, 64});
    if (!buffer_) {
      auto made = arrow::AllocateResizableBuffer(0);
      if (!made.ok()) throw std::bad_alloc();
      buffer_ = std::move(*made);
    }
    // Reserve keeps the contents: the buffer's own size stays 0 until Finish.
    if (!buffer_->Reserve(capacity).ok()) throw std::bad_alloc();
    data_ = buffer_->mutable_data();
    capacity_ = buffer_->capacity();
  }

  std::shared_ptr<arrow::ResizableBuffer> buffer_;
  uint8_t* data_ = nullptr;
  int64_t size_ = 0;
  int64_t capacity_ = 0;
};

// Bits in Arrow's order (LSB first): validity bitmaps and BOOLEAN values.
class BitBuffer {
 public:
  int64_t length() const { return length_; }

  void Append(bool bit) {
    if ((length_ & 7) == 0) *bytes_.Extend(1) = 0;
    bytes_.data()[length_ >> 3] |= static_cast<uint8_t>(static_cast<uint8_t>(bit) << (length_ & 7));
    ++length_;
  }
  void Reserve(int64_t bits) { bytes_.Reserve(bits / 8 + 1); }
  // Keeps the first `n` bits; the rest of the last byte is cleared for later appends.
  void Truncate(int64_t n) {
    length_ = n;
    bytes_.Truncate((n + 7) / 8);
    if (n & 7) bytes_.data()[n >> 3] &= static_cast<uint8_t>((1u << (n & 7)) - 1);
  }
  void Clear() {
    length_ = 0;
    bytes_.Clear();
  }
  int64_t CountSet() const { return length_ == 0 ? 0 : arrow::internal::CountSetBits(bytes_.data(), 0, length_); }
  // As ByteBuffer::Finish.
  arrow::Result<std::shared_ptr<arrow::Buffer>> Finish() {
    length_ = 0;
    return bytes_.Finish();
  }

 private:
  ByteBuffer bytes_;
  int64_t length_ = 0;
};

}  // namespace laminar::serde::json_internal
