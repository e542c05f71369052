// pystack-dump --core CORE: the report that faulthandler would have printed when the process
// died, read from its core file (or, for a core of a live process such as gcore makes, the dump
// of that moment, as for a live process).
#include "cli/commands.h"
#include "cli/dump_target.h"
#include "cli/report.h"
#include "memory/core_target.h"

namespace pystack {

int run_core_dump(const Options& options) {
  absl::StatusOr<std::unique_ptr<CoreTarget>> core =
      CoreTarget::open(options.core_path, {options.sysroot, options.executable});
  if (!core.ok()) return report_error(core.status());
  // A core holds still by itself: no stop to time out, no stopped time to bound.
  SnapshotBudget budget;
  budget.max_stopped = absl::InfiniteDuration();
  return dump_target(**core, options, absl::InfiniteDuration(), budget);
}

}  // namespace pystack
