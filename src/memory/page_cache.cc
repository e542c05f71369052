#include "memory/page_cache.h"

#include <algorithm>
#include <cstring>

namespace pystack {

uint8_t* PageCache::take_buffer() const {
  if (used_ == pool_.size()) pool_.emplace_back(new uint8_t[kPageSize]);
  return pool_[used_++].get();
}

const uint8_t* PageCache::page(uint64_t page_address) const {
  auto it = pages_.find(page_address);
  if (it != pages_.end()) return it->second;
  if (pages_.size() >= max_pages_) return nullptr;
  uint8_t* data = take_buffer();
  if (!inner_.read(page_address, data, kPageSize).ok()) {
    --used_;  // unreadable: the buffer goes back to the pool
    data = nullptr;
  }
  bytes_read_ += kPageSize;
  return pages_.emplace(page_address, data).first->second;
}

absl::Status PageCache::read_through(uint64_t address, void* out, size_t size) const {
  bytes_read_ += size;
  return inner_.read(address, out, size);
}

absl::Status PageCache::read(uint64_t address, void* out, size_t size) const {
  if (size == 0) return absl::OkStatus();
  if (address + size < address) return absl::OutOfRangeError("read wraps around the address space");
  // Large reads (strings, line tables) gain nothing from page granularity.
  if (size > 4 * kPageSize) return read_through(address, out, size);
  uint8_t* dest = static_cast<uint8_t*>(out);
  uint64_t cursor = address;
  const uint64_t end = address + size;
  while (cursor < end) {
    const uint64_t page_address = cursor & ~(kPageSize - 1);
    const uint8_t* data = page(page_address);
    // A page we cannot have (unmapped, or the cache is full): let the source decide.
    if (data == nullptr) return read_through(address, out, size);
    const uint64_t chunk = std::min(end, page_address + kPageSize) - cursor;
    std::memcpy(dest, data + (cursor - page_address), chunk);
    dest += chunk;
    cursor += chunk;
  }
  return absl::OkStatus();
}

}  // namespace pystack
