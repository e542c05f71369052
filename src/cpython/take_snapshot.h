// One snapshot of any target: find its CPython runtime, hold it still, walk it, let it go, and
// fill in what the target knows beside CPython (OS thread ids and names, the fatal signal).
#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cpython/runtime.h"
#include "cpython/snapshot_reader.h"
#include "memory/target.h"
#include "snapshot/request.h"
#include "snapshot/snapshot.h"

namespace pystack {

// What one snapshot cost, for `make bench` (PYSTACK_DUMP_TIMING=1).
struct SnapshotStats {
  absl::Duration stopped;      // from the stop to the resume
  size_t threads_stopped = 0;  // the threads held (a core: the threads it recorded)
};

// The target's CPython runtime, found without stopping it: once per target (a sampler keeps it,
// with a SnapshotReader, across its snapshots). Errors as take_snapshot's.
absl::StatusOr<PythonRuntime> find_runtime(Target& target);

// One snapshot through `reader` (made for this target's runtime). Errors carry an ErrorKind
// (common/errors.h), phrased by the target (Target::no_runtime_error, unreadable_runtime_error).
// The target runs again when this returns. Damage below the runtime, or a walk over `budget`,
// gives a partial snapshot (see snapshot_is_partial) rather than an error.
absl::StatusOr<Snapshot> take_snapshot(Target& target, SnapshotReader& reader,
                                       const SnapshotNeeds& needs, absl::Duration stop_timeout,
                                       const SnapshotBudget& budget = {},
                                       SnapshotStats* stats = nullptr);

// find_runtime, then take_snapshot: one snapshot of a target.
absl::StatusOr<Snapshot> take_snapshot(Target& target, const SnapshotNeeds& needs,
                                       absl::Duration stop_timeout,
                                       const SnapshotBudget& budget = {},
                                       SnapshotStats* stats = nullptr);

// True when some part of the walk stopped early: unreadable memory, a cycle, or the budget.
bool snapshot_is_partial(const Snapshot& snapshot);

// faulthandler_handlers[] (Modules/faulthandler.c): the fatal signals its crash handler reports,
// and their names, the same from 3.3 on; nullopt for any other signal.
std::optional<std::string> faulthandler_signal_name(int signal);

}  // namespace pystack
