#include "memory/page_cache.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace pystack {
PageCache::PageCache(const RemoteMemory& inner, size_t max_blocks, uint64_t block_size)
    : inner_(inner),
      max_blocks_(max_blocks),
      block_size_(std::clamp<uint64_t>(std::bit_floor(block_size), 64, kPageSize)) {}

void PageCache::clear() {
  last_data_ = nullptr;
  blocks_.clear();
  prefetched_.clear();
  prefetched_data_.clear();
  prefetched_used_.clear();
  used_ = 0;
  bytes_read_ = 0;
  misses_ = 0;
}

uint8_t* PageCache::take_buffer() const {
  if (used_ == pool_.size()) pool_.emplace_back(new uint8_t[block_size_]);
  return pool_[used_++].get();
}

const uint8_t* PageCache::block(uint64_t block_address) const {
  // Reads come in runs over one block (a frame's fields, a code object's head).
  if (block_address == last_address_ && last_data_ != nullptr) return last_data_;
  const uint8_t* data = find_block(block_address);
  last_address_ = block_address;
  last_data_ = data;
  return data;
}

const uint8_t* PageCache::find_block(uint64_t block_address) const {
  if (!prefetched_.empty()) {
    auto at = std::lower_bound(prefetched_.begin(), prefetched_.end(), block_address);
    if (at != prefetched_.end() && *at == block_address) {
      prefetched_used_[at - prefetched_.begin()] = 1;
      return prefetched_data_[at - prefetched_.begin()];
    }
  }
  auto it = blocks_.find(block_address);
  if (it != blocks_.end()) return it->second;
  ++misses_;
  if (blocks_.size() >= max_blocks_) return nullptr;
  uint8_t* data = take_buffer();
  if (!inner_.read(block_address, data, block_size_).ok()) {
    --used_;  // unreadable: the buffer goes back to the pool
    data = nullptr;
  }
  bytes_read_ += block_size_;
  return blocks_.emplace(block_address, data).first->second;
}

void PageCache::prefetch(const std::vector<uint64_t>& block_addresses) {
  sorted_.clear();
  for (uint64_t address : block_addresses) {
    if ((address & (block_size_ - 1)) == 0 && !blocks_.contains(address)) {
      sorted_.push_back(address);
    }
  }
  if (!std::is_sorted(sorted_.begin(), sorted_.end())) std::sort(sorted_.begin(), sorted_.end());
  sorted_.erase(std::unique(sorted_.begin(), sorted_.end()), sorted_.end());
  if (sorted_.size() + blocks_.size() > max_blocks_) sorted_.resize(max_blocks_ - blocks_.size());
  prefetched_.clear();
  prefetched_data_.clear();
  last_data_ = nullptr;
  if (sorted_.empty()) return;
  // Ranges: runs of adjacent blocks. (Reading the gaps between blocks of one page too, to save
  // iovecs, measured slower: more bytes, more blocks to look up.)
  requests_.clear();
  size_t total = 0;
  for (uint64_t address : sorted_) {
    if (!requests_.empty() && address == requests_.back().address + requests_.back().size) {
      requests_.back().size += block_size_;
      total += block_size_;
    } else {
      requests_.push_back(ReadRequest{address, nullptr, block_size_, false});
      total += block_size_;
    }
  }
  // The arena is sized before any pointer into it is taken: it does not move afterwards.
  arena_.resize(total);
  size_t offset = 0;
  for (ReadRequest& request : requests_) {
    request.out = arena_.data() + offset;
    offset += request.size;
  }
  inner_.read_many(requests_.data(), requests_.size());
  // A range that could not be read is not kept: its blocks are asked again, one by one, if used.
  for (const ReadRequest& request : requests_) {
    bytes_read_ += request.size;
    if (!request.ok) continue;
    for (uint64_t offset = 0; offset < request.size; offset += block_size_) {
      prefetched_.push_back(request.address + offset);
      prefetched_data_.push_back(static_cast<const uint8_t*>(request.out) + offset);
    }
  }
  prefetched_used_.assign(prefetched_.size(), 0);
}

void PageCache::update_working_set(uint8_t max_idle_rounds) {
  // Blocks of the set that could not be read this time are dropped: they come back as misses.
  next_.clear();
  next_idle_.clear();
  size_t w = 0;
  for (size_t i = 0; i < prefetched_.size(); ++i) {
    while (w < working_.size() && working_[w] < prefetched_[i]) ++w;
    const uint8_t before = w < working_.size() && working_[w] == prefetched_[i]
                               ? working_idle_[w] : 0;
    const uint8_t idle = prefetched_used_[i] ? 0 : static_cast<uint8_t>(before + 1);
    if (idle > max_idle_rounds) continue;
    next_.push_back(prefetched_[i]);
    next_idle_.push_back(idle);
  }
  missed_.clear();
  for (const auto& [address, data] : blocks_) {
    if (data != nullptr) missed_.push_back(address);
  }
  if (!missed_.empty()) {
    std::sort(missed_.begin(), missed_.end());
    // Merge the misses in, in order (both lists are sorted; a miss is never a prefetched block).
    working_.clear();
    working_idle_.clear();
    size_t a = 0, b = 0;
    while (a < next_.size() || b < missed_.size()) {
      if (b == missed_.size() || (a < next_.size() && next_[a] < missed_[b])) {
        working_.push_back(next_[a]);
        working_idle_.push_back(next_idle_[a++]);
      } else {
        working_.push_back(missed_[b++]);
        working_idle_.push_back(0);
      }
    }
    return;
  }
  working_.swap(next_);
  working_idle_.swap(next_idle_);
}

void PageCache::cached_blocks(std::vector<uint64_t>& out) const {
  out.assign(prefetched_.begin(), prefetched_.end());
  for (const auto& [address, data] : blocks_) {
    if (data != nullptr) out.push_back(address);
  }
  std::sort(out.begin(), out.end());
}

absl::Status PageCache::read_through(uint64_t address, void* out, size_t size) const {
  bytes_read_ += size;
  return inner_.read(address, out, size);
}

absl::Status PageCache::read(uint64_t address, void* out, size_t size) const {
  if (size == 0) return absl::OkStatus();
  if (address + size < address) return absl::OutOfRangeError("read wraps around the address space");
  // Large reads (strings, line tables) gain nothing from block granularity.
  if (size > 4 * kPageSize) return read_through(address, out, size);
  uint8_t* dest = static_cast<uint8_t*>(out);
  uint64_t cursor = address;
  const uint64_t end = address + size;
  while (cursor < end) {
    const uint64_t block_address = cursor & ~(block_size_ - 1);
    const uint8_t* data = block(block_address);
    // A block we cannot have (unmapped, or the cache is full): let the source decide.
    if (data == nullptr) return read_through(address, out, size);
    const uint64_t chunk = std::min(end, block_address + block_size_) - cursor;
    std::memcpy(dest, data + (cursor - block_address), chunk);
    dest += chunk;
    cursor += chunk;
  }
  return absl::OkStatus();
}

}  // namespace pystack
