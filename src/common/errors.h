// What went wrong, in the library's own terms, carried inside absl::Status so that every stage
// can say what happened and what to try. Exit codes are cli/'s business (cli/exit_codes.h).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace pystack {

enum class ErrorKind {
  kInternal,            // anything unexpected
  kInvalidArgument,     // a request that cannot be carried out as asked (bad option, own pid)
  kNoSuchProcess,       // no process with that pid
  kNoSuchFile,          // a file that was named or needed is not there
  kPermissionDenied,    // ptrace, /proc or a file refused
  kAlreadyTraced,       // another debugger holds the process
  kStopTimedOut,        // a thread did not stop within the attach timeout
  kNotElf,              // a file that should be an ELF object is not one
  kNoPythonRuntime,     // the process (or core) holds no CPython runtime
  kRuntimeUnreadable,   // a runtime was found but its memory does not read as one
  kNoInterpreter,       // a runtime without an interpreter: Python not started yet, or finished
  kUnsupportedVersion,  // a CPython release this build cannot read
  kProcessExited,       // the process went away during the dump
  kIncomplete,          // a snapshot was taken, but memory was corrupt, missing or over budget
  kBadCore,             // not a core file, or a truncated one
};

// A status of `kind` whose message is `message` and whose hint (may be empty) tells what to try.
absl::Status make_error(ErrorKind kind, const std::string& message, const std::string& hint = "");

// The kind of a status made by make_error; kInternal for any other non-OK status.
ErrorKind error_kind(const absl::Status& status);

// The hint of a status made by make_error, or "".
std::string error_hint(const absl::Status& status);

}  // namespace pystack
