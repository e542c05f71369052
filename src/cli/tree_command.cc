// pystack-dump --subprocesses PID: PID and all its descendants, one section each, on stdout.
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/report.h"
#include "cli/tree_dump.h"
#include "common/errors.h"
#include "memory/process_tree.h"

namespace pystack {

int run_tree_dump(const Options& options) {
  TreeQuery query;
  query.roots = {options.pid};
  const std::vector<ProcessStat> tree = select_tree(list_processes(), query);
  if (tree.empty() || tree.front().pid != options.pid) {
    return report_error(
        make_error(ErrorKind::kNoSuchProcess, absl::StrCat("no such process: ", options.pid),
                   "check the pid (ps -e)"));
  }
  const TreeDumpCounts counts = write_tree_dump(stdout, tree, options);
  if (counts.write_failed) {
    errno = counts.write_errno;
    return report_error(write_error("standard output"));
  }
  if (counts.failed + counts.incomplete > 0) {
    return report_error(make_error(
        ErrorKind::kIncomplete,
        absl::StrCat("the dump is incomplete: ", counts.failed + counts.incomplete, " of ",
                     counts.processes, " processes could not be dumped fully (told in their "
                     "sections)")));
  }
  if (counts.python == 0) {
    return report_error(make_error(
        ErrorKind::kNoPythonRuntime, absl::StrCat("none of the ", counts.processes,
                                            " processes of the tree of ", options.pid,
                                            " is a Python process that could be dumped")));
  }
  return 0;
}

}  // namespace pystack
