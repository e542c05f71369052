// What a snapshot is asked for: what the chosen formats need (each formatter declares it,
// format/needs.h), and how much the walk may cost the target.
#pragma once

#include <cstdint>
#include <optional>

#include "absl/time/time.h"
#include "snapshot/snapshot.h"

namespace pystack {

// Beyond the stacks, each of these costs reads while the target is stopped.
struct SnapshotNeeds {
  bool locals = false;        // Frame::locals (--locals)
  bool thread_names = false;  // Thread::name (threading.Thread.name)
  bool tasks = false;         // Interpreter::tasks: every asyncio task (--tasks)
  bool locks = false;         // Interpreter::locks: what blocked threads wait for (--locks)
  bool exceptions = false;    // Thread::exception: the exception each thread handles (--exceptions)
  bool native = false;        // Thread::native: each thread's C stack (--native)
  bool native_source_info = true;  // with file, line and inlined calls (DWARF) for every frame
  // Thread::os_name, for targets of this release on (nullopt: never).
  std::optional<PythonVersion> os_thread_names_since;

  bool os_thread_names(const PythonVersion& version) const {
    return os_thread_names_since &&
           version.at_least(os_thread_names_since->major, os_thread_names_since->minor);
  }
};

// How much one snapshot may cost. A walk that would spend more stops where it is, marks the
// thread or interpreter it was reading (walk_error) and gives what it has: a partial snapshot.
struct SnapshotBudget {
  int64_t max_frames = int64_t{1} << 20;         // over all threads
  uint64_t max_bytes_read = uint64_t{256} << 20;  // from the target, through the page cache
  absl::Duration max_stopped = absl::Seconds(10);  // the target held stopped
};

}  // namespace pystack
