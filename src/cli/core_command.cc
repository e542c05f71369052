// pystack-dump --core CORE: the report that faulthandler would have printed when the process
// died, read from its core file (or, for a core of a live process such as gcore makes, the dump
// of that moment, as for a live process).
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "absl/strings/match.h"
#include "cli/commands.h"
#include "cli/render.h"
#include "cli/report.h"
#include "cli/source_reader.h"
#include "cpython/take_snapshot.h"
#include "memory/core_target.h"

namespace pystack {
namespace {

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

void warn(const std::string& message) {
  std::fprintf(stderr, "pystack-dump: warning: %s\n", message.c_str());
}

// Source files for the traceback and JSON formats: under --sysroot first, then where they were.
// A core does not record the working directory: relative names are taken as relative to ours.
SourcePathResolver core_source_resolver(const Options& options) {
  SourcePathResolver plain = plain_source_resolver();
  return [sysroot = options.sysroot, plain](const std::string& path) -> std::string {
    if (!sysroot.empty() && absl::StartsWith(path, "/") && exists(sysroot + path)) {
      return sysroot + path;
    }
    return plain(path);
  };
}

void print_warnings(Target& target) {
  for (const std::string& warning : target.take_warnings()) warn(warning);
}

}  // namespace

int run_core_dump(const Options& options) {
  absl::StatusOr<std::unique_ptr<CoreTarget>> core =
      CoreTarget::open(options.core_path, {options.sysroot, options.executable});
  if (!core.ok()) return report_error(core.status());
  print_warnings(**core);
  // A core holds still by itself: no stop to time out, no stopped time to bound.
  SnapshotBudget budget;
  budget.max_stopped = absl::InfiniteDuration();
  absl::StatusOr<Snapshot> snapshot =
      take_snapshot(**core, needs_of(options), absl::InfiniteDuration(), budget);
  print_warnings(**core);
  if (!snapshot.ok()) return report_error(snapshot.status());
  warn_if_read_as_older(*snapshot);
  if (!write_all(stdout, render(*snapshot, options, core_source_resolver(options)))) return 1;
  if (snapshot_is_partial(*snapshot)) return report_error((*core)->incomplete_error());
  return 0;
}

}  // namespace pystack
