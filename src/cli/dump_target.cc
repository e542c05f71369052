#include "cli/dump_target.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/render.h"
#include "cli/report.h"
#include "cpython/take_snapshot.h"

namespace pystack {
namespace {

void print_warnings(Target& target) {
  for (const std::string& warning : target.take_warnings()) {
    std::fprintf(stderr, "pystack-dump: warning: %s\n", one_line(warning).c_str());
  }
}

}  // namespace

int dump_target(Target& target, const Options& options, absl::Duration stop_timeout,
                const SnapshotBudget& budget) {
  print_warnings(target);
  SnapshotStats stats;
  absl::StatusOr<Snapshot> snapshot =
      take_snapshot(target, needs_of(options), stop_timeout, budget, &stats);
  print_warnings(target);
  if (!snapshot.ok()) return report_error(snapshot.status());
  if (std::getenv("PYSTACK_DUMP_TIMING") != nullptr) {
    std::fprintf(stderr, "pystack-dump: timing: stopped_us=%.1f threads=%zu\n",
                 absl::ToDoubleMicroseconds(stats.stopped), stats.threads_stopped);
  }
  warn_if_read_as_older(*snapshot);
  if (const int failed = write_stdout(render(*snapshot, options, target)); failed != 0) {
    return failed;
  }
  if (snapshot_is_partial(*snapshot)) return report_error(target.incomplete_error());
  return 0;
}

}  // namespace pystack
