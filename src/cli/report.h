// How the commands talk to the user: errors on stderr as one line with a hint, and exit codes.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "snapshot/snapshot.h"

namespace pystack {

// `text` on one line: control characters (a newline in a path or command line of the target's)
// escaped as \xNN.
std::string one_line(std::string_view text);

// Prints "pystack-dump: error: MESSAGE (hint: HINT)" on stderr, on one line; returns the exit
// code.
int report_error(const absl::Status& status);

// Writes all of `text` to `out` and flushes; false on a write error (errno tells which).
bool write_all(std::FILE* out, const std::string& text);

// Writes `text` to stdout; on failure reports it (a full disk, a closed descriptor, ...) as an
// error with a hint and returns its exit code, else returns 0.
int write_stdout(const std::string& text);

// The error for output that could not be written to `where` ("standard output", a path), from
// errno as the failed write left it.
absl::Status write_error(const std::string& where);

// Keeps descriptors 0, 1 and 2 from being taken by files the tool opens when the tool was started
// without them (`>&-`): each closed one is filled with /dev/null opened read-only, so that a write
// meant for it fails (and is reported) instead of landing in another file. Call first in main.
void guard_standard_descriptors();

// One-line warnings on stderr for what no interpreter of the test suite vouches for: a release
// newer than this build knows (Snapshot::read_as: the output follows the older release's
// format), a free-threaded build of 3.14+ (Snapshot::unverified_build).
void warn_if_unverified(const Snapshot& snapshot);
// The same warnings for a runtime record or top sampled.
void warn_if_unverified(const RuntimeCaveat& caveat);
// Their text: a line each, or "".
std::string caveat_warnings(const RuntimeCaveat& caveat);

}  // namespace pystack
