// PyLongObject (int; 2.7: long) read from a target's memory: its sign and digit count, and its
// digits. What to make of them (a decimal repr, a thread ident) is the caller's.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "cpython/layout.h"
#include "memory/remote_memory.h"

namespace pystack {

struct LongHeader {
  uint64_t ndigits = 0;
  bool negative = false;
};

// Up to 3.11, |ob_size| digits and the sign of ob_size; from 3.12, lv_tag holds the digit count
// above bit 3 and the sign in bits 0-1 (0 positive, 1 zero, 2 negative).
absl::StatusOr<LongHeader> read_long_header(const RemoteMemory& memory, const Layout& layout,
                                            uint64_t object);

// The first `ndigits` digits of ob_digit, least significant first, each of long_shift bits as
// stored (not masked). One read; callers bound `ndigits` first.
absl::StatusOr<std::vector<uint32_t>> read_long_digits(const RemoteMemory& memory,
                                                       const Layout& layout, uint64_t object,
                                                       uint64_t ndigits);

}  // namespace pystack
