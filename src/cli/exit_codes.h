// The exit codes of pystack-dump, documented in --help, the man page and the README. The library
// speaks of what went wrong (common/errors.h); this is the one place that numbers it.
#pragma once

#include "common/errors.h"

namespace pystack {

enum ExitCode : int {
  kExitOk = 0,
  kExitInternal = 1,            // anything unexpected, or output that could not be written
  kExitUsage = 2,               // bad command line
  kExitNoSuchProcess = 3,       // no such process, or no such file
  kExitPermissionDenied = 4,    // ptrace or /proc access refused
  kExitAlreadyTraced = 5,       // another debugger holds the process
  kExitNotPython = 6,           // no CPython runtime found, or not one that reads as such
  kExitUnsupportedVersion = 7,  // a CPython version this build cannot read
  kExitProcessExited = 8,       // the process went away during the dump
  kExitPartial = 9,             // a dump was printed, but memory was corrupt or unreadable in places
  kExitBadCore = 10,            // not a core file, or a truncated one
  kExitStopTimedOut = 11,       // a thread did not stop within --attach-timeout
  kExitTaskCycle = 12,          // --tasks=tree: the await graph has a cycle (printed instead)
};

ExitCode exit_code_for(ErrorKind kind);

}  // namespace pystack
