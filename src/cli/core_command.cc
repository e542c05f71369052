// pystack-dump --core CORE
#include "cli/commands.h"
#include "cli/report.h"
#include "common/errors.h"

namespace pystack {

int run_core_dump(const Options&) {
  return report_error(make_error(ErrorKind::kUsage, "--core is not implemented yet"));
}

}  // namespace pystack
