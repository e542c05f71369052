// A RemoteMemory that reads whole pages and keeps them for the length of one snapshot, so that a
// walk over thread states, frames (3.11+ frames share a thread's data-stack chunk) and code
// objects costs few, large reads. Only valid while the target is stopped; clear() between
// snapshots.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "memory/remote_memory.h"

namespace pystack {

class PageCache final : public RemoteMemory {
 public:
  static constexpr uint64_t kPageSize = 4096;
  // `inner` must outlive the cache.
  explicit PageCache(const RemoteMemory& inner, size_t max_pages = 16384)
      : inner_(inner), max_pages_(max_pages) {}

  absl::Status read(uint64_t address, void* out, size_t size) const override;
  // Forgets every page, and the count of bytes read. The page buffers are kept for the next
  // use: a sampler clears the cache thousands of times a second.
  void clear() {
    pages_.clear();
    used_ = 0;
    bytes_read_ = 0;
  }
  // The bytes asked of the target since clear(): whole pages, and the reads passed through.
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  using Page = std::unique_ptr<uint8_t[]>;
  // A buffer for one more page: from the pool, which grows as needed.
  uint8_t* take_buffer() const;
  // The cached page at `page_address`, read on first use; nullptr when the page is unreadable.
  const uint8_t* page(uint64_t page_address) const;
  // A read past the cache, counted.
  absl::Status read_through(uint64_t address, void* out, size_t size) const;

  const RemoteMemory& inner_;
  size_t max_pages_;
  mutable absl::flat_hash_map<uint64_t, const uint8_t*> pages_;  // nullptr: known unreadable
  mutable std::vector<Page> pool_;  // pool_[0, used_) hold the pages cached now
  mutable size_t used_ = 0;
  mutable uint64_t bytes_read_ = 0;
};

}  // namespace pystack
