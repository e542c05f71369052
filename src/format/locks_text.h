// --locks in the text formats: after the threads' dumps, the section that says for each blocked
// thread what it waits for and who holds it, then the deadlocks (pystack-dump's own text; no
// CPython tool prints this).
#pragma once

#include <string>

#include "snapshot/snapshot.h"

namespace pystack {

// Every interpreter's lock report, or "" when none was read. Each wait one line:
//   Thread 0x00007f... "worker-a" waits for RLock at 0x7f... (app.LOCK_A): held by
//   thread 0x00007f... "worker-b" (recorded by CPython: the RLock's owner)
// then `Deadlock: thread A -> thread B -> thread A` per cycle, or `No deadlock found.`
std::string format_locks(const Snapshot& snapshot);

}  // namespace pystack
