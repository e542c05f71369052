// The cycles of a wait-for graph (--locks): thread -> the lock it waits for -> the thread that
// holds it -> ... A thread waits for one object at a time, so each thread has at most one
// edge out and every cycle is found by following edges from each thread.
#pragma once

#include <cstdint>
#include <vector>

#include "snapshot/snapshot.h"

namespace pystack {

// Every cycle through waits whose holder is a thread (recorded or inferred), each once, as the
// list of its threads starting from the smallest thread id and following the waits.
std::vector<std::vector<uint64_t>> find_deadlocks(const std::vector<LockWait>& waits);

}  // namespace pystack
