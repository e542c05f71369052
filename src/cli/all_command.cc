// pystack-dump --all: every Python process of the host (of the PID namespace the tool runs in),
// one section each as --subprocesses prints them, or one JSON line each; the other processes are
// left out. Each process is stopped only while its own dump is taken.
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/report.h"
#include "cli/tree_dump.h"
#include "common/errors.h"
#include "format/json.h"
#include "memory/process_tree.h"

namespace pystack {
namespace {

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

struct AllCounts {
  size_t python = 0;
  size_t incomplete = 0;  // Python processes dumped in part, or not at all (told in their section)
  size_t unexamined = 0;  // refused (permission): whether they run Python is not known
  bool write_failed = false;
  int write_errno = 0;
};

// Writes one process's section (or JSON line), unless it is no Python process or is gone.
void dump_one(const ProcessStat& stat, const Options& options, const std::string& host,
              AllCounts& counts) {
  const ProcessInfo process = describe_process(stat);
  const bool json = options.format == OutputFormat::kJson;
  const ProcessLabel label{host, stat.pid, process.command_line};
  const ProcessSection section = dump_process_section(process, options, json ? &label : nullptr);
  switch (section.kind) {
    case ProcessSection::Kind::kNotPython:
    case ProcessSection::Kind::kExited:
      return;
    case ProcessSection::Kind::kFailed:
      // Refused before its memory could be read: it may not be a Python process at all.
      if (section.error == ErrorKind::kPermissionDenied) {
        ++counts.unexamined;
        return;
      }
      ++counts.incomplete;
      break;
    case ProcessSection::Kind::kIncomplete:
      ++counts.incomplete;
      ++counts.python;
      break;
    case ProcessSection::Kind::kPython:
      ++counts.python;
      break;
  }
  const std::string text =
      json ? section.text : absl::StrCat(tree_section_header(process), section.text, "\n");
  if (!write_all(stdout, text) && !counts.write_failed) {
    counts.write_failed = true;
    counts.write_errno = errno;
  }
}

}  // namespace

int run_all_dump(const Options& options) {
  const std::string host = host_name();
  AllCounts counts;
  for (const ProcessStat& stat : list_processes()) {
    if (stat.pid == getpid()) continue;
    if (stat.pid == 2 || stat.ppid == 2) continue;  // kthreadd and the kernel's threads
    dump_one(stat, options, host, counts);
    if (counts.write_failed) break;
  }
  if (counts.write_failed) {
    errno = counts.write_errno;
    return report_error(write_error("standard output"));
  }
  if (counts.unexamined > 0) {
    std::fprintf(stderr,
                 "pystack-dump: note: %zu processes could not be examined (permission denied) "
                 "(hint: run as root, or with CAP_SYS_PTRACE, to include them)\n",
                 counts.unexamined);
  }
  if (counts.incomplete > 0) {
    return report_error(make_error(
        ErrorKind::kIncomplete,
        absl::StrCat("the dump is incomplete: ", counts.incomplete,
                     " Python processes could not be dumped fully (told in their sections)")));
  }
  if (counts.python == 0) {
    return report_error(make_error(ErrorKind::kNoPythonRuntime,
                                   "no Python process found",
                                   counts.unexamined > 0
                                       ? "run as root to examine every process"
                                       : "is the Python process in another PID namespace?"));
  }
  return 0;
}

}  // namespace pystack
