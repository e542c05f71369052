// A read-only view of a target's address space: a live process or a core file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pystack {

// One part of a vectored read.
struct ReadRequest {
  uint64_t address = 0;
  void* out = nullptr;
  size_t size = 0;
  bool ok = false;  // set by read_many
};

class RemoteMemory {
 public:
  virtual ~RemoteMemory() = default;
  // Reads exactly `size` bytes at `address` into `out`, or fails without a partial result.
  virtual absl::Status read(uint64_t address, void* out, size_t size) const = 0;
  // Reads each request, setting its `ok`. A live process does it in as few system calls as it
  // can (a sampler's reads of one sample, at once); this default reads them one by one.
  virtual void read_many(ReadRequest* requests, size_t count) const {
    for (size_t i = 0; i < count; ++i) {
      requests[i].ok = read(requests[i].address, requests[i].out, requests[i].size).ok();
    }
  }
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
