// pystack-dump PID
#include <cstdlib>

#include "absl/time/time.h"
#include "cli/commands.h"
#include "cli/render.h"
#include "cli/report.h"
#include "cpython/take_snapshot.h"
#include "memory/live_process.h"

namespace pystack {

int run_process_dump(const Options& options) {
  absl::StatusOr<std::unique_ptr<LiveProcess>> process = LiveProcess::open(options.pid);
  if (!process.ok()) return report_error(process.status());
  SnapshotStats stats;
  absl::StatusOr<Snapshot> snapshot =
      take_snapshot(**process, needs_of(options), absl::Seconds(options.attach_timeout_seconds),
                    SnapshotBudget{}, &stats);
  if (!snapshot.ok()) return report_error(snapshot.status());
  // For `make bench`: the time the target was held stopped.
  if (std::getenv("PYSTACK_DUMP_TIMING") != nullptr) {
    std::fprintf(stderr, "pystack-dump: timing: stopped_us=%.1f threads=%zu\n",
                 absl::ToDoubleMicroseconds(stats.stopped), stats.threads_stopped);
  }
  warn_if_read_as_older(*snapshot);
  if (!write_all(stdout, render(*snapshot, options, live_source_resolver(options.pid)))) return 1;
  if (snapshot_is_partial(*snapshot)) return report_error((*process)->incomplete_error());
  return 0;
}

}  // namespace pystack
