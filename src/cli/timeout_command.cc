// pystack-dump --timeout SECS -- COMMAND, and pystack-dump --subprocesses PID
#include "cli/commands.h"
#include "cli/report.h"
#include "common/errors.h"

namespace pystack {

int run_tree_dump(const Options&) {
  return report_error(make_error(ErrorKind::kUsage, "--subprocesses is not implemented yet"));
}

int run_with_timeout(const Options&) {
  return report_error(make_error(ErrorKind::kUsage, "--timeout is not implemented yet"));
}

}  // namespace pystack
