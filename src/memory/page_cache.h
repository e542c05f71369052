// A RemoteMemory that reads whole blocks (pages, by default) and keeps them for the length of one
// snapshot, so that a walk over thread states, frames (3.11+ frames share a thread's data-stack
// chunk) and code objects costs few, large reads. Only valid while the target is stopped, or for
// one sample of a running one; clear() between snapshots.
//
// A sampler uses small blocks and prefetch(): each sample first reads, in one vectored read, the
// blocks the last sample used (runs of adjacent blocks as one range), so that a sample of a
// steady stack costs one system call and copies a few KiB, not a page per structure.
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
  // `inner` must outlive the cache. `block_size`: a power of two from 64 to kPageSize.
  explicit PageCache(const RemoteMemory& inner, size_t max_blocks = 16384,
                     uint64_t block_size = kPageSize);

  absl::Status read(uint64_t address, void* out, size_t size) const override;
  // Forgets every block, and the count of bytes read. The buffers are kept for the next use: a
  // sampler clears the cache thousands of times a second.
  void clear();
  // The bytes asked of the target since clear(): whole blocks, and the reads passed through.
  uint64_t bytes_read() const { return bytes_read_; }
  // Reads these blocks now (addresses of blocks, sorted or not), adjacent ones as one range, in
  // one vectored read (RemoteMemory::read_many).
  void prefetch(const std::vector<uint64_t>& block_addresses);
  // The readable blocks cached now, sorted.
  void cached_blocks(std::vector<uint64_t>& out) const;
  // Blocks read one by one since clear() (not prefetched): 0 means the last prefetch held all.
  size_t misses() const { return misses_; }

  // A sampler's working set: the blocks used by one of its last samples. prefetch_working_set()
  // reads them (after clear()); update_working_set() then keeps those used since, and those
  // unused for at most `max_idle_rounds` samples (a stack that grows and shrinks), and adds the
  // blocks read one by one.
  void prefetch_working_set() { prefetch(working_); }
  void update_working_set(uint8_t max_idle_rounds);
  const std::vector<uint64_t>& working_set() const { return working_; }

 private:
  using Buffer = std::unique_ptr<uint8_t[]>;
  // A buffer for one more block: from the pool, which grows as needed.
  uint8_t* take_buffer() const;
  // The cached block at `block_address`, read on first use; nullptr when it is unreadable.
  const uint8_t* block(uint64_t block_address) const;
  const uint8_t* find_block(uint64_t block_address) const;
  // A read past the cache, counted.
  absl::Status read_through(uint64_t address, void* out, size_t size) const;

  const RemoteMemory& inner_;
  size_t max_blocks_;
  uint64_t block_size_;
  mutable absl::flat_hash_map<uint64_t, const uint8_t*> blocks_;  // nullptr: known unreadable
  mutable std::vector<Buffer> pool_;  // pool_[0, used_) hold blocks read one by one
  mutable size_t used_ = 0;
  // prefetch's: the ranges asked, and one arena holding every prefetched block.
  std::vector<ReadRequest> requests_;
  std::vector<uint64_t> sorted_;
  std::vector<uint8_t> arena_;
  mutable uint64_t bytes_read_ = 0;
  mutable size_t misses_ = 0;
  mutable uint64_t last_address_ = 0;  // the block read last, and its data (nullptr: none)
  mutable const uint8_t* last_data_ = nullptr;
  // The blocks of the last prefetch, sorted, and where each is in the arena: found by binary
  // search, without a hash insert per block.
  std::vector<uint64_t> prefetched_;
  std::vector<const uint8_t*> prefetched_data_;
  mutable std::vector<uint8_t> prefetched_used_;
  // The working set, sorted, and for each block the samples since it was last used.
  std::vector<uint64_t> working_;
  std::vector<uint8_t> working_idle_;
  std::vector<uint64_t> next_;       // update_working_set's, reused
  std::vector<uint8_t> next_idle_;
  std::vector<uint64_t> missed_;
};

}  // namespace pystack
