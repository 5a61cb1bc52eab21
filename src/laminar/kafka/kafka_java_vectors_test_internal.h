// Key placements computed by the Java client itself (kafka-clients 3.9.2, the jar the test
// broker runs: Utils.murmur2 and BuiltInPartitioner.partitionForKey(key, 3 | 12)), for the
// unit test of our murmur2 and the mock-cluster test of librdkafka's murmur2_random.
#pragma once

#include <cstdint>

namespace laminar::kafka {

struct JavaPlacement {
  const char* key;
  int32_t murmur2;
  int32_t on3;
  int32_t on12;
};

inline constexpr JavaPlacement kJava[] = {
    {"", 275646681, 0, 9},
    {"a", -1563381124, 1, 4},
    {"21", -973932308, 0, 0},
    {"abc", 479470107, 0, 3},
    {"foobar", -790332482, 0, 6},
    {"order-123", -940440895, 1, 1},
    {"customer-42", -542987495, 0, 9},
    {"a-little-bit-long-string", -985981536, 2, 8},
    {"a-little-bit-longer-string", -1486304829, 2, 11},
    {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971, 2, 5},
    {"key-0", 29210041, 1, 1},
    {"key-1", 193331640, 0, 0},
    {"key-2", 852269702, 2, 2},
    {"key-3", -1839136101, 2, 11},
    {"key-4", 647367033, 0, 9},
    {"key-5", -1698326880, 2, 8},
    {"key-6", -758453868, 2, 8},
    {"key-7", 713419675, 1, 7},
    {"key-8", -1340033413, 1, 7},
    {"key-9", -1335190451, 0, 9},
    {"\xc3\xa9t\xc3\xa9", -2101193575, 1, 1},  // "été" in UTF-8
    {"12345", -1188365604, 2, 8},
};

}  // namespace laminar::kafka
