// A target's address space for fuzzing: regions of bytes at fixed addresses, everything else
// unmapped, as in a process.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "memory/remote_memory.h"

namespace pystack::fuzz {

class FakeMemory : public RemoteMemory {
 public:
  void map(uint64_t address, std::string bytes) { regions_[address] = std::move(bytes); }
  // Writes into a mapped region; false, writing nothing, where it is not all mapped.
  bool poke(uint64_t address, const void* data, size_t size) {
    auto it = regions_.upper_bound(address);
    if (it == regions_.begin()) return false;
    --it;
    const uint64_t offset = address - it->first;
    if (offset > it->second.size() || size > it->second.size() - offset) return false;
    std::memcpy(it->second.data() + offset, data, size);
    return true;
  }
  absl::Status read(uint64_t address, void* out, size_t size) const override {
    auto it = regions_.upper_bound(address);
    if (it == regions_.begin()) return absl::DataLossError("unmapped");
    --it;
    const uint64_t offset = address - it->first;
    if (offset > it->second.size() || size > it->second.size() - offset) {
      return absl::DataLossError("unmapped");
    }
    if (size > 0) std::memcpy(out, it->second.data() + offset, size);
    return absl::OkStatus();
  }

 private:
  std::map<uint64_t, std::string> regions_;
};

}  // namespace pystack::fuzz
