#include "snapshot/deadlocks.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

namespace pystack {

std::vector<std::vector<uint64_t>> find_deadlocks(const std::vector<LockWait>& waits) {
  absl::flat_hash_map<uint64_t, uint64_t> holder_of;  // waiting thread -> holding thread
  std::vector<uint64_t> threads;
  for (const LockWait& wait : waits) {
    if (!wait.holder_thread_id) continue;
    if (wait.holder != LockHolder::kRecorded && wait.holder != LockHolder::kInferred) continue;
    if (holder_of.emplace(wait.thread_id, *wait.holder_thread_id).second) {
      threads.push_back(wait.thread_id);
    }
  }
  std::sort(threads.begin(), threads.end());
  std::vector<std::vector<uint64_t>> cycles;
  absl::flat_hash_set<uint64_t> done;  // threads whose path was followed to its end
  for (uint64_t start : threads) {
    if (done.contains(start)) continue;
    // Follow the single edge out of each thread until a thread seen on this path (a cycle),
    // one done before (no new cycle), or one that waits for nothing.
    std::vector<uint64_t> path;
    absl::flat_hash_map<uint64_t, size_t> position;
    uint64_t thread = start;
    while (!done.contains(thread) && !position.contains(thread)) {
      position[thread] = path.size();
      path.push_back(thread);
      auto next = holder_of.find(thread);
      if (next == holder_of.end()) break;
      thread = next->second;
    }
    if (auto at = position.find(thread); at != position.end() && holder_of.contains(thread) &&
                                         !done.contains(thread)) {
      std::vector<uint64_t> cycle(path.begin() + static_cast<std::ptrdiff_t>(at->second),
                                  path.end());
      std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
      cycles.push_back(std::move(cycle));
    }
    for (uint64_t t : path) done.insert(t);
  }
  std::sort(cycles.begin(), cycles.end());
  return cycles;
}

}  // namespace pystack
