// pystack-dump PID
#include <cstdlib>

#include "absl/time/time.h"
#include "cli/commands.h"
#include "cli/live_dump.h"
#include "cli/render.h"
#include "cli/report.h"
#include "common/errors.h"

namespace pystack {

int run_process_dump(const Options& options) {
  DumpStats stats;
  absl::StatusOr<Snapshot> snapshot =
      dump_live_process(options.pid, absl::Seconds(options.attach_timeout_seconds), &stats,
                        read_options_for(options));
  if (!snapshot.ok()) return report_error(snapshot.status());
  // For `make bench`: the time the target was held stopped.
  if (std::getenv("PYSTACK_DUMP_TIMING") != nullptr) {
    std::fprintf(stderr, "pystack-dump: timing: stopped_us=%.1f threads=%zu\n",
                 absl::ToDoubleMicroseconds(stats.stopped), stats.threads_stopped);
  }
  warn_if_read_as_older(*snapshot);
  add_os_thread_names_shown(options.pid, options, *snapshot);
  if (!write_all(stdout, render(*snapshot, options, live_source_resolver(options.pid)))) return 1;
  if (snapshot_is_partial(*snapshot)) {
    return report_error(make_error(ErrorKind::kPartial,
                                   "the dump is incomplete: parts of the process's memory could "
                                   "not be read (marked in the output)"));
  }
  return 0;
}

}  // namespace pystack
