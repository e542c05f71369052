#include "cli/dump_target.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/exit_codes.h"
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

// --tasks where no task list could be read says why (the table is printed empty).
void warn_if_tasks_unavailable(const Snapshot& snapshot) {
  for (const Interpreter& interpreter : snapshot.interpreters) {
    if (interpreter.tasks && interpreter.tasks->unavailable) {
      std::fprintf(stderr, "pystack-dump: warning: no asyncio tasks read: %s\n",
                   one_line(*interpreter.tasks->unavailable).c_str());
      return;
    }
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
  warn_if_unverified(*snapshot);
  if (options.tasks) warn_if_tasks_unavailable(*snapshot);
  std::string cycle_error;
  if (const int failed = write_stdout(render(*snapshot, options, target, &cycle_error));
      failed != 0) {
    return failed;
  }
  if (snapshot_is_partial(*snapshot)) return report_error(target.incomplete_error());
  if (!cycle_error.empty()) {
    std::fputs(cycle_error.c_str(), stderr);
    return kExitTaskCycle;
  }
  return 0;
}

}  // namespace pystack
