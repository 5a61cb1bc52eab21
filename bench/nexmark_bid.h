// The benchmarks' message: a Nexmark bid with the padding Nexmark's generator adds
// ("extra"), about 1 KB of JSON, and its columns. Shared by codec_bench and kafka_bench so
// both measure the same bytes.
#pragma once

#include <arrow/type.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>

namespace laminar::bench {

inline std::string BidJson(std::mt19937_64& rng, int64_t i) {
  char buf[1400];
  std::string extra(820 + rng() % 40, 'x');
  for (auto& c : extra) c = static_cast<char>('a' + rng() % 26);
  int n = std::snprintf(buf, sizeof(buf),
                        "{\"auction\":%lld,\"bidder\":%lld,\"price\":%lld,\"channel\":\"channel-%d\","
                        "\"url\":\"https://www.nexmark.com/%llx/item.htm?query=1\",\"date_time\":\"2026-11-%02dT%02d:%02d:%02d.%03dZ\","
                        "\"extra\":\"%s\"}",
                        static_cast<long long>(1000 + rng() % 100000), static_cast<long long>(rng() % 1000000),
                        static_cast<long long>(rng() % 100000000), static_cast<int>(rng() % 10000),
                        static_cast<unsigned long long>(rng()), static_cast<int>(1 + i % 28), static_cast<int>(i % 24),
                        static_cast<int>(i % 60), static_cast<int>((i / 60) % 60), static_cast<int>(i % 1000),
                        extra.c_str());
  return std::string(buf, static_cast<size_t>(n));
}

inline std::shared_ptr<arrow::Schema> BidSchema() {
  return arrow::schema({arrow::field("auction", arrow::int64(), false), arrow::field("bidder", arrow::int64(), false),
                        arrow::field("price", arrow::int64(), false), arrow::field("channel", arrow::utf8()),
                        arrow::field("url", arrow::utf8()),
                        arrow::field("date_time", arrow::timestamp(arrow::TimeUnit::MILLI, "UTC")),
                        arrow::field("extra", arrow::utf8())});
}

}  // namespace laminar::bench
