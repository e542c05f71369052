// One dump of a live process: find its runtime, stop it, walk it, let it go.
#pragma once

#include <sys/types.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/options.h"
#include "cpython/snapshot_reader.h"
#include "snapshot/snapshot.h"

namespace pystack {

// What one dump cost, for the benchmark (PYSTACK_DUMP_TIMING=1).
struct DumpStats {
  absl::Duration stopped;  // from the first PTRACE_SEIZE to the last detach
  size_t threads_stopped = 0;
};

// Errors carry an ErrorKind (common/errors.h). The process runs again when this returns.
absl::StatusOr<Snapshot> dump_live_process(pid_t pid, absl::Duration attach_timeout,
                                           DumpStats* stats = nullptr,
                                           const ReadOptions& read_options = {});

// True for dump_live_process's error about a process without a CPython runtime, as opposed to
// one whose runtime was found but could not be read (both are ErrorKind::kNotPython).
bool lacks_python_runtime(const absl::Status& status);

// What the command line asks the reader for: locals with --locals, Python thread names for the
// formats that show them (traceback, JSON).
ReadOptions read_options_for(const Options& options);

// Sets Thread::os_name from /proc/PID/task/TID/comm for every thread whose OS thread id is
// known (native_thread_id: read by CPython 3.11+, else found by dump_live_process through the
// thread's fs_base register). A thread that has exited keeps no name.
void add_os_thread_names(pid_t pid, Snapshot& snapshot);

// add_os_thread_names when the chosen format shows them (shows_os_thread_names).
void add_os_thread_names_shown(pid_t pid, const Options& options, Snapshot& snapshot);

}  // namespace pystack
