// The dump of a process tree: one section per process, in tree order, each a header line
//   === pid PID (parent PPID): COMMAND LINE ===
// then what `pystack-dump PID` prints for it in the chosen --format (--locals applies), or one
// line in parentheses saying why there is no dump, then a blank line. (README: "CI hang
// diagnostics".) One process's failure is told in its section; the others go on.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "cli/options.h"
#include "common/errors.h"
#include "format/json.h"
#include "memory/process_tree.h"

namespace pystack {

// What the sections held.
struct TreeDumpCounts {
  size_t processes = 0;
  size_t python = 0;      // dumped, completely or not
  size_t incomplete = 0;  // of those, dumps with unreadable parts (marked in them)
  size_t not_python = 0;
  size_t exited = 0;  // gone (or a zombie) before they could be dumped
  size_t failed = 0;  // any other error, told in the section
  bool write_failed = false;
  int write_errno = 0;  // why the first failed write failed
};

// What one process's section holds below its header, and how to count it.
struct ProcessSection {
  enum class Kind { kPython, kIncomplete, kNotPython, kExited, kFailed } kind;
  std::string text;  // ends with a newline
  ErrorKind error = ErrorKind::kInternal;  // kFailed: what failed
};

// Dumps `process` as `pystack-dump PID` would, in the chosen format; a process that could not be
// dumped gets one line in parentheses saying why. With `json_line` (--all --format=json): the
// document on one line with the process's label, or a line with the label and the error.
ProcessSection dump_process_section(const ProcessInfo& process, const Options& options,
                                    const ProcessLabel* json_line = nullptr);

// The header line of a process's section, newline included.
std::string tree_section_header(const ProcessInfo& process);

// Writes the sections for `tree` to `out`, each with one write (the timeout command's sections
// share stderr with the still running command). `between` runs after each section: the timeout
// command forwards signals there, so that none waits for the whole tree.
TreeDumpCounts write_tree_dump(std::FILE* out, const std::vector<ProcessStat>& tree,
                               const Options& options,
                               const std::function<void()>& between = nullptr);

}  // namespace pystack
