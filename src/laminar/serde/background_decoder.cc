#include "laminar/serde/background_decoder.h"

#include <exception>
#include <new>
#include <utility>

namespace laminar::serde {

BackgroundDecoder::BackgroundDecoder(std::unique_ptr<RecordDecoder> decoder)
    : decoder_(std::move(decoder)), thread_([this] { Run(); }) {}

BackgroundDecoder::~BackgroundDecoder() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void BackgroundDecoder::Start(std::span<const RawRecord> records) {
  {
    std::lock_guard lock(mutex_);
    work_ = records;
    result_.reset();
  }
  wake_.notify_all();
}

arrow::Result<DecodedBatch> BackgroundDecoder::Wait() {
  std::unique_lock lock(mutex_);
  wake_.wait(lock, [this] { return result_.has_value(); });
  auto result = std::move(*result_);
  result_.reset();
  return result;
}

void BackgroundDecoder::Run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || work_.has_value(); });
    if (stopping_) return;
    const auto records = *std::exchange(work_, std::nullopt);
    lock.unlock();
    arrow::Result<DecodedBatch> result = arrow::Status::UnknownError("background decoder: no result");
    try {
      result = decoder_->Decode(records);
    } catch (const std::bad_alloc&) {
      // An exception would end the process on this thread; the caller gets a status.
      result = arrow::Status::OutOfMemory("decoding a batch of ", records.size(), " records");
    } catch (const std::exception& e) {
      result = arrow::Status::UnknownError("decoding a batch of ", records.size(), " records: ", e.what());
    }
    lock.lock();
    result_ = std::move(result);
    wake_.notify_all();
  }
}

}  // namespace laminar::serde
