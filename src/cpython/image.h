// Helpers for bytes copied out of the target: reading fixed-size values out of a local image of
// a struct, and the error for memory that does not hold what it should.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace pystack {

// The value of type T stored at `p` (no alignment required).
template <typename T>
T load(const uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

inline uint64_t load_u64(const uint8_t* p) { return load<uint64_t>(p); }
inline uint32_t load_u32(const uint8_t* p) { return load<uint32_t>(p); }
inline int32_t load_i32(const uint8_t* p) { return load<int32_t>(p); }

// "WHAT at 0xADDRESS" as a DataLoss status: corrupt or impossible contents of remote memory.
inline absl::Status corrupt(std::string_view what, uint64_t address) {
  return absl::DataLossError(
      absl::StrFormat("%s at 0x%x", absl::string_view(what.data(), what.size()), address));
}

}  // namespace pystack
