// pystack-dump: prints what every thread of a CPython process is doing, as faulthandler would.
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/report.h"
#include "memory/stopped_process.h"

namespace pystack {
namespace {

int run(const std::vector<std::string>& args) {
  absl::StatusOr<Options> options = parse_options(args);
  if (!options.ok()) return report_error(options.status());
  switch (options->action) {
    case Options::Action::kHelp:
      return write_stdout(usage_text());
    case Options::Action::kVersion:
      return write_stdout(std::string("pystack-dump ") + kToolVersion + "\n");
    case Options::Action::kDumpCore:
      return run_core_dump(*options);
    case Options::Action::kRunWithTimeout:
      return run_with_timeout(*options);
    case Options::Action::kRecord:
      return run_record(*options);
    case Options::Action::kTop:
      return run_top(*options);
    case Options::Action::kDumpTree:
      install_detach_on_signal();
      return run_tree_dump(*options);
    case Options::Action::kDumpAll:
      install_detach_on_signal();
      return run_all_dump(*options);
    case Options::Action::kDumpProcess:
      break;
  }
  install_detach_on_signal();
  return run_process_dump(*options);
}

}  // namespace
}  // namespace pystack

int main(int argc, char** argv) {
  pystack::guard_standard_descriptors();
  return pystack::run(std::vector<std::string>(argv + 1, argv + argc));
}
