// pystack-dump: prints what every thread of a CPython process is doing, as faulthandler would.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cli/live_dump.h"
#include "cli/options.h"
#include "common/errors.h"
#include "format/faulthandler.h"
#include "target/stopped_process.h"

namespace pystack {
namespace {

int report_error(const absl::Status& status) {
  std::string line = "pystack-dump: error: " + std::string(status.message());
  const std::string hint = error_hint(status);
  if (!hint.empty()) line += " (hint: " + hint + ")";
  std::fprintf(stderr, "%s\n", line.c_str());
  return static_cast<int>(error_kind(status));
}

bool snapshot_is_partial(const Snapshot& snapshot) {
  for (const Interpreter& interpreter : snapshot.interpreters) {
    if (interpreter.walk_error) return true;
    for (const Thread& thread : interpreter.threads) {
      if (thread.walk_error) return true;
    }
  }
  return false;
}

bool write_all(const std::string& text) {
  return std::fwrite(text.data(), 1, text.size(), stdout) == text.size() && std::fflush(stdout) == 0;
}

int run(const std::vector<std::string>& args) {
  absl::StatusOr<Options> options = parse_options(args);
  if (!options.ok()) return report_error(options.status());
  switch (options->action) {
    case Options::Action::kHelp:
      return write_all(usage_text()) ? 0 : 1;
    case Options::Action::kVersion:
      return write_all(std::string("pystack-dump ") + kToolVersion + "\n") ? 0 : 1;
    case Options::Action::kDump:
      break;
  }
  install_detach_on_signal();
  DumpStats stats;
  absl::StatusOr<Snapshot> snapshot =
      dump_live_process(options->pid, absl::Seconds(options->attach_timeout_seconds), &stats);
  if (!snapshot.ok()) return report_error(snapshot.status());
  // For `make bench`: the time the target was held stopped.
  if (std::getenv("PYSTACK_DUMP_TIMING") != nullptr) {
    std::fprintf(stderr, "pystack-dump: timing: stopped_us=%.1f threads=%zu\n",
                 absl::ToDoubleMicroseconds(stats.stopped), stats.threads_stopped);
  }
  if (!write_all(format_faulthandler(*snapshot))) return 1;
  if (snapshot_is_partial(*snapshot)) {
    return report_error(make_error(ErrorKind::kPartial, "the dump is incomplete: parts of the "
                                   "process's memory could not be read (marked in the output)"));
  }
  return 0;
}

}  // namespace
}  // namespace pystack

int main(int argc, char** argv) {
  return pystack::run(std::vector<std::string>(argv + 1, argv + argc));
}
