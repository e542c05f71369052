#include "cli/tree_dump.h"

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/render.h"
#include "cli/report.h"
#include "common/errors.h"
#include "cpython/take_snapshot.h"
#include "memory/live_process.h"

namespace pystack {
namespace {

using Kind = ProcessSection::Kind;

ProcessSection not_dumped(Kind kind, std::string line, const ProcessLabel* json_line,
                          ErrorKind error = ErrorKind::kInternal) {
  if (json_line != nullptr) return {kind, format_json_line_error(*json_line, line), error};
  return {kind, absl::StrCat("(", line, ")\n"), error};
}

ProcessSection failure_section(const absl::Status& status, const ProcessLabel* json_line) {
  const ErrorKind kind = error_kind(status);
  if (kind == ErrorKind::kNoPythonRuntime) {
    return not_dumped(Kind::kNotPython, "not a Python process", json_line);
  }
  if (kind == ErrorKind::kProcessExited || kind == ErrorKind::kNoSuchProcess) {
    return not_dumped(Kind::kExited, "exited before it could be dumped", json_line);
  }
  std::string line = absl::StrCat(json_line != nullptr ? "" : "no dump: ", status.message());
  const std::string hint = error_hint(status);
  if (!hint.empty()) absl::StrAppend(&line, " (hint: ", hint, ")");
  return not_dumped(Kind::kFailed, line, json_line, kind);
}

}  // namespace

ProcessSection dump_process_section(const ProcessInfo& process, const Options& options,
                                    const ProcessLabel* json_line) {
  if (process.zombie()) {
    return not_dumped(Kind::kExited, "exited before it could be dumped", json_line);
  }
  absl::StatusOr<std::unique_ptr<LiveProcess>> target = LiveProcess::open(process.stat.pid);
  if (!target.ok()) return failure_section(target.status(), json_line);
  absl::StatusOr<Snapshot> snapshot = take_snapshot(
      **target, needs_of(options), absl::Seconds(options.attach_timeout_seconds));
  if (!snapshot.ok()) return failure_section(snapshot.status(), json_line);
  // As `pystack-dump PID` does (process_command.cc): source lines read through the process's
  // own root and working directory.
  warn_if_unverified(*snapshot);
  ProcessSection section{Kind::kPython, json_line != nullptr
                                            ? render_json_line(*snapshot, options, **target,
                                                               *json_line)
                                            : render(*snapshot, options, **target)};
  if (snapshot_is_partial(*snapshot)) section.kind = Kind::kIncomplete;
  if (section.text.empty() || section.text.back() != '\n') section.text += '\n';
  return section;
}

namespace {

void count(Kind kind, TreeDumpCounts& counts) {
  ++counts.processes;
  switch (kind) {
    case Kind::kIncomplete:
      ++counts.incomplete;
      [[fallthrough]];
    case Kind::kPython:
      ++counts.python;
      break;
    case Kind::kNotPython:
      ++counts.not_python;
      break;
    case Kind::kExited:
      ++counts.exited;
      break;
    case Kind::kFailed:
      ++counts.failed;
      break;
  }
}

}  // namespace

std::string tree_section_header(const ProcessInfo& process) {
  return absl::StrCat("=== pid ", process.stat.pid, " (parent ", process.stat.ppid,
                      "): ", process.command_line, " ===\n");
}

TreeDumpCounts write_tree_dump(std::FILE* out, const std::vector<ProcessStat>& tree,
                               const Options& options, const std::function<void()>& between) {
  TreeDumpCounts counts;
  for (const ProcessStat& stat : tree) {
    // The command line is read now, not when the tree was listed: an exec since then shows.
    const ProcessInfo process = describe_process(stat);
    ProcessSection section = dump_process_section(process, options);
    count(section.kind, counts);
    if (!write_all(out, absl::StrCat(tree_section_header(process), section.text, "\n"))) {
      if (!counts.write_failed) counts.write_errno = errno;
      counts.write_failed = true;
    }
    if (between) between();
  }
  return counts;
}

}  // namespace pystack
