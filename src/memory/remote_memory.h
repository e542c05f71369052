// A read-only view of a target's address space: a live process or a core file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pystack {

class RemoteMemory {
 public:
  virtual ~RemoteMemory() = default;
  // Reads exactly `size` bytes at `address` into `out`, or fails without a partial result.
  virtual absl::Status read(uint64_t address, void* out, size_t size) const = 0;
};

// Reads one trivially copyable value (an integer, a pointer, a small struct image).
template <typename T>
absl::StatusOr<T> read_value(const RemoteMemory& memory, uint64_t address) {
  static_assert(std::is_trivially_copyable_v<T>);
  T value{};
  absl::Status status = memory.read(address, &value, sizeof value);
  if (!status.ok()) return status;
  return value;
}

}  // namespace pystack
