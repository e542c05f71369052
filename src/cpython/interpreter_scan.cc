#include "cpython/interpreter_scan.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_format.h"
#include "common/errors.h"
#include "memory/page_cache.h"

namespace pystack {
namespace {

constexpr uint64_t kChunkSize = uint64_t{64} << 10;
constexpr uint64_t kPointerAlignment = 8;
constexpr uint64_t kLowestPointer = 0x10000;  // below: NULL page and small integers
constexpr int kMaxChain = 1024;               // interpreters followed through `next`

struct Slot {
  uint64_t address = 0;
  uint64_t value = 0;
};

bool plausible_pointer(uint64_t value) {
  return value >= kLowestPointer && value % kPointerAlignment == 0 && value < (uint64_t{1} << 47);
}

absl::StatusOr<uint64_t> read_pointer(const RemoteMemory& memory, uint64_t address) {
  return read_value<uint64_t>(memory, address);
}

bool inside_any(const std::vector<AddressRange>& ranges, uint64_t value) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [value](const AddressRange& r) { return r.contains(value); });
}

// Appends the words of [start, start + size) that could point to a heap object: not into the
// scanned data itself (static objects: types, small ints, the binary's own tables).
void collect_slots(const uint8_t* words, uint64_t start, uint64_t size,
                   const std::vector<AddressRange>& ranges, std::vector<Slot>& out) {
  for (uint64_t offset = 0; offset + 8 <= size; offset += 8) {
    uint64_t value;
    std::memcpy(&value, words + offset, sizeof value);
    if (plausible_pointer(value) && !inside_any(ranges, value)) {
      out.push_back({start + offset, value});
    }
  }
}

// Every candidate slot of the ranges, read in chunks; an unreadable chunk is read page by page
// so that one hole does not hide the rest. At most kMaxScannedDataBytes in all.
std::vector<Slot> pointer_slots(const RemoteMemory& memory,
                                const std::vector<AddressRange>& ranges) {
  std::vector<Slot> slots;
  std::vector<uint8_t> buffer(kChunkSize);
  uint64_t budget = kMaxScannedDataBytes;
  for (const AddressRange& range : ranges) {
    if (range.size > kMaxScannedDataBytes || range.start > UINT64_MAX - range.size) continue;
    const uint64_t start = (range.start + kPointerAlignment - 1) & ~(kPointerAlignment - 1);
    if (range.size < start - range.start) continue;
    const uint64_t end = range.start + range.size;
    for (uint64_t chunk = start; chunk < end && budget > 0;) {
      const uint64_t size = std::min({kChunkSize, end - chunk, budget});
      if (memory.read(chunk, buffer.data(), size).ok()) {
        collect_slots(buffer.data(), chunk, size, ranges, slots);
      } else {
        for (uint64_t at = chunk; at < chunk + size;) {
          const uint64_t page_end = (at / PageCache::kPageSize + 1) * PageCache::kPageSize;
          const uint64_t n = std::min(page_end, chunk + size) - at;
          if (memory.read(at, buffer.data(), n).ok()) {
            collect_slots(buffer.data(), at, n, ranges, slots);
          }
          at += n;
        }
      }
      chunk += size;
      budget -= size;
    }
  }
  return slots;
}

// The interpreter that `_PyThreadState_Current` leads to, when a thread holds the GIL.
std::optional<uint64_t> interpreter_of_current_thread(const RemoteMemory& memory,
                                                      const Layout& layout,
                                                      std::optional<uint64_t> current_slot) {
  if (!current_slot) return std::nullopt;
  absl::StatusOr<uint64_t> tstate = read_pointer(memory, *current_slot);
  if (!tstate.ok() || !plausible_pointer(*tstate)) return std::nullopt;
  absl::StatusOr<uint64_t> interp = read_pointer(memory, *tstate + layout.tstate.interp);
  if (!interp.ok() || !is_interpreter(memory, layout, *interp)) return std::nullopt;
  return *interp;
}

// The thread states of `interp`'s thread list (bounded).
absl::flat_hash_set<uint64_t> thread_states_of(const RemoteMemory& memory, const Layout& layout,
                                               uint64_t interp) {
  absl::flat_hash_set<uint64_t> out;
  absl::StatusOr<uint64_t> tstate = read_pointer(memory, interp + layout.interp.threads_head);
  while (tstate.ok() && plausible_pointer(*tstate) && out.size() < kMaxChain &&
         out.insert(*tstate).second) {
    tstate = read_pointer(memory, *tstate + layout.tstate.next);
  }
  return out;
}

// The interpreters among the slots' values (bounded).
absl::flat_hash_set<uint64_t> interpreters_among(const RemoteMemory& memory, const Layout& layout,
                                                 const std::vector<Slot>& slots) {
  absl::flat_hash_set<uint64_t> looked_at, found;
  for (const Slot& slot : slots) {
    if (looked_at.size() >= kMaxScanCandidates || found.size() >= kMaxScanInterpreters) break;
    if (!looked_at.insert(slot.value).second) continue;
    if (is_interpreter(memory, layout, slot.value)) found.insert(slot.value);
  }
  return found;
}

// The interpreter that no other one's `next` points to; with several (stale memory), the one
// whose list reaches the most of the others.
std::optional<uint64_t> list_head(const RemoteMemory& memory, const Layout& layout,
                                  const absl::flat_hash_set<uint64_t>& interpreters) {
  absl::flat_hash_map<uint64_t, uint64_t> next_of;
  for (uint64_t interp : interpreters) {
    absl::StatusOr<uint64_t> next = read_pointer(memory, interp + layout.interp.next);
    next_of[interp] = next.ok() ? *next : 0;
  }
  std::optional<uint64_t> best;
  int best_reach = -1;
  for (uint64_t interp : interpreters) {
    bool is_someones_next = std::any_of(next_of.begin(), next_of.end(),
                                        [interp](const auto& kv) { return kv.second == interp; });
    if (is_someones_next) continue;
    int reach = 0;
    for (auto it = next_of.find(interp); it != next_of.end() && reach < kMaxChain; ++reach) {
      it = next_of.find(it->second);
    }
    if (reach > best_reach || (reach == best_reach && interp < *best)) {
      best = interp;
      best_reach = reach;
    }
  }
  return best;
}

}  // namespace

bool is_interpreter(const RemoteMemory& memory, const Layout& layout, uint64_t candidate) {
  if (!plausible_pointer(candidate) || layout.interp.threads_head < 0 || layout.tstate.interp < 0) {
    return false;
  }
  absl::StatusOr<uint64_t> tstate = read_pointer(memory, candidate + layout.interp.threads_head);
  if (!tstate.ok() || !plausible_pointer(*tstate)) return false;
  absl::StatusOr<uint64_t> back = read_pointer(memory, *tstate + layout.tstate.interp);
  if (!back.ok() || *back != candidate) return false;
  if (layout.tstate.prev >= 0) {
    absl::StatusOr<uint64_t> prev = read_pointer(memory, *tstate + layout.tstate.prev);
    if (!prev.ok() || *prev != 0) return false;
  }
  return read_pointer(memory, candidate + layout.interp.next).ok();
}

absl::StatusOr<uint64_t> find_interpreter_head_slot(const RemoteMemory& memory,
                                                    const Layout& layout,
                                                    const std::vector<AddressRange>& writable_data,
                                                    std::optional<uint64_t> thread_state_current) {
  // Candidates share heap pages: read each page once.
  PageCache cache(memory);
  const std::vector<Slot> slots = pointer_slots(memory, writable_data);
  absl::flat_hash_set<uint64_t> interpreters = interpreters_among(cache, layout, slots);
  if (std::optional<uint64_t> current =
          interpreter_of_current_thread(cache, layout, thread_state_current)) {
    interpreters.insert(*current);
    // 2.7 keeps interp->tstate_head and tstate->interp at the same offset (8) and has no
    // tstate->prev, so the first thread state of a list passes is_interpreter as well (T+8 is
    // the interpreter, whose +8 is T). _PyThreadState_Current holds that thread state whenever
    // the newest thread has the GIL: it is a thread of `current`, not an interpreter.
    for (uint64_t tstate : thread_states_of(cache, layout, *current)) interpreters.erase(tstate);
  }
  std::optional<uint64_t> head = list_head(cache, layout, interpreters);
  if (head) {
    for (const Slot& slot : slots) {
      if (slot.value == *head) return slot.address;
    }
  }
  uint64_t scanned = 0;
  for (const AddressRange& range : writable_data) scanned += range.size;
  return make_error(ErrorKind::kRuntimeUnreadable,
                    absl::StrFormat("no interpreter state found through %d bytes of writable data "
                                    "(%d candidate pointers)",
                                    scanned, slots.size()),
                    "the process may not have finished starting Python");
}

}  // namespace pystack
