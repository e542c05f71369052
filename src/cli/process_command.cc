// pystack-dump PID
#include "absl/time/time.h"
#include "cli/commands.h"
#include "cli/dump_target.h"
#include "cli/report.h"
#include "memory/live_process.h"

namespace pystack {

int run_process_dump(const Options& options) {
  absl::StatusOr<std::unique_ptr<LiveProcess>> process = LiveProcess::open(options.pid);
  if (!process.ok()) return report_error(process.status());
  return dump_target(**process, options, absl::Seconds(options.attach_timeout_seconds));
}

}  // namespace pystack
