// What `pystack-dump PID` and `pystack-dump --core CORE` share once they have chosen their
// target: one snapshot, printed in the chosen format, and the exit code.
#pragma once

#include "absl/time/time.h"
#include "cli/options.h"
#include "memory/target.h"
#include "snapshot/request.h"

namespace pystack {

// Prints the target's warnings (pystack-dump: warning: ...), the snapshot in the chosen format,
// and any error; returns the exit code. PYSTACK_DUMP_TIMING=1 adds the time the target was held
// stopped (for `make bench`).
int dump_target(Target& target, const Options& options, absl::Duration stop_timeout,
                const SnapshotBudget& budget = {});

}  // namespace pystack
