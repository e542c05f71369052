// Error kinds that users see as exit codes, carried inside absl::Status so that every stage can
// say what went wrong and what to try, and only cli/ turns them into text and an exit code.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace pystack {

// The value is the process exit code (documented in --help and README).
enum class ErrorKind {
  kInternal = 1,            // anything unexpected
  kUsage = 2,               // bad command line
  kNoSuchProcess = 3,       // no such process, or no such file
  kPermissionDenied = 4,    // ptrace or /proc access refused
  kAlreadyTraced = 5,       // another debugger holds the process
  kNotPython = 6,           // no CPython runtime found in the process
  kUnsupportedVersion = 7,  // a CPython version this build cannot read
  kProcessExited = 8,       // the process went away during the dump
  kPartial = 9,             // a dump was printed, but memory was corrupt or unreadable in places
  kBadCore = 10,            // not a core file, or a truncated one
};

// A status of `kind` whose message is `message` and whose hint (may be empty) tells what to try.
absl::Status make_error(ErrorKind kind, const std::string& message, const std::string& hint = "");

// The kind of a status made by make_error; kInternal for any other non-OK status.
ErrorKind error_kind(const absl::Status& status);

// The hint of a status made by make_error, or "".
std::string error_hint(const absl::Status& status);

}  // namespace pystack
