// A decoder on a thread of its own: Start hands it a span of records and returns at once,
// Wait returns what it decoded. A source hands it one poll's messages and polls the next
// meanwhile (or decodes the other half of a large poll itself), so decoding and polling
// share the time on a machine with a core to spare.
//
// The decoder it owns must not share mutable state with the caller's (two instances made
// by MakeDecoder do not). The records' bytes must stay alive until Wait returns.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>

#include "laminar/serde/codec.h"

namespace laminar::serde {

class BackgroundDecoder {
 public:
  explicit BackgroundDecoder(std::unique_ptr<RecordDecoder> decoder);
  ~BackgroundDecoder();
  BackgroundDecoder(const BackgroundDecoder&) = delete;
  BackgroundDecoder& operator=(const BackgroundDecoder&) = delete;

  // Begins decoding `records`. One span at a time: Wait before the next Start.
  void Start(std::span<const RawRecord> records);
  // Blocks until the span given to Start is decoded.
  arrow::Result<DecodedBatch> Wait();

 private:
  void Run();

  std::unique_ptr<RecordDecoder> decoder_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<std::span<const RawRecord>> work_;
  std::optional<arrow::Result<DecodedBatch>> result_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace laminar::serde
