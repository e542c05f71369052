// One dump of a live process: find its runtime, stop it, walk it, let it go.
#pragma once

#include <sys/types.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "snapshot/snapshot.h"

namespace pystack {

// What one dump cost, for the benchmark (PYSTACK_DUMP_TIMING=1).
struct DumpStats {
  absl::Duration stopped;  // from the first PTRACE_SEIZE to the last detach
  size_t threads_stopped = 0;
};

// Errors carry an ErrorKind (common/errors.h). The process runs again when this returns.
absl::StatusOr<Snapshot> dump_live_process(pid_t pid, absl::Duration attach_timeout,
                                           DumpStats* stats = nullptr);

}  // namespace pystack
