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

// What a section holds below its header, and how to count it.
struct SectionBody {
  std::string text;  // ends with a newline
  enum class Kind { kPython, kIncomplete, kNotPython, kExited, kFailed } kind;
};

SectionBody not_dumped(SectionBody::Kind kind, std::string line) {
  return {line + "\n", kind};
}

SectionBody failure_body(const absl::Status& status) {
  const ErrorKind kind = error_kind(status);
  if (kind == ErrorKind::kNoPythonRuntime) {
    return not_dumped(SectionBody::Kind::kNotPython, "(not a Python process)");
  }
  if (kind == ErrorKind::kProcessExited || kind == ErrorKind::kNoSuchProcess) {
    return not_dumped(SectionBody::Kind::kExited, "(exited before it could be dumped)");
  }
  std::string line = absl::StrCat("(no dump: ", status.message());
  const std::string hint = error_hint(status);
  if (!hint.empty()) absl::StrAppend(&line, " (hint: ", hint, ")");
  return not_dumped(SectionBody::Kind::kFailed, line + ")");
}

SectionBody dump_body(const ProcessInfo& process, const Options& options) {
  if (process.zombie()) {
    return not_dumped(SectionBody::Kind::kExited, "(exited before it could be dumped)");
  }
  absl::StatusOr<std::unique_ptr<LiveProcess>> target = LiveProcess::open(process.stat.pid);
  if (!target.ok()) return failure_body(target.status());
  absl::StatusOr<Snapshot> snapshot = take_snapshot(
      **target, needs_of(options), absl::Seconds(options.attach_timeout_seconds));
  if (!snapshot.ok()) return failure_body(snapshot.status());
  // As `pystack-dump PID` does (process_command.cc): source lines read through the process's
  // own root and working directory.
  warn_if_read_as_older(*snapshot);
  SectionBody body{render(*snapshot, options, **target),
                   SectionBody::Kind::kPython};
  if (snapshot_is_partial(*snapshot)) body.kind = SectionBody::Kind::kIncomplete;
  if (body.text.empty() || body.text.back() != '\n') body.text += '\n';
  return body;
}

void count(SectionBody::Kind kind, TreeDumpCounts& counts) {
  ++counts.processes;
  switch (kind) {
    case SectionBody::Kind::kIncomplete:
      ++counts.incomplete;
      [[fallthrough]];
    case SectionBody::Kind::kPython:
      ++counts.python;
      break;
    case SectionBody::Kind::kNotPython:
      ++counts.not_python;
      break;
    case SectionBody::Kind::kExited:
      ++counts.exited;
      break;
    case SectionBody::Kind::kFailed:
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
    SectionBody body = dump_body(process, options);
    count(body.kind, counts);
    if (!write_all(out, absl::StrCat(tree_section_header(process), body.text, "\n"))) {
      if (!counts.write_failed) counts.write_errno = errno;
      counts.write_failed = true;
    }
    if (between) between();
  }
  return counts;
}

}  // namespace pystack
