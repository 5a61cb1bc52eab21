// Lets TypeMismatchCount read the counter of any decoder built on RowDecoder. Not installed.
#pragma once

#include <cstdint>

namespace laminar::serde::json_internal {

class MismatchCounter {
 public:
  virtual ~MismatchCounter() = default;
  virtual int64_t type_mismatches() const = 0;
};

}  // namespace laminar::serde::json_internal
