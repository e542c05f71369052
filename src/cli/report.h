// How the commands talk to the user: errors on stderr as one line with a hint, and exit codes.
#pragma once

#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "snapshot/snapshot.h"

namespace pystack {

// Prints "pystack-dump: error: MESSAGE (hint: HINT)" on stderr; returns the exit code.
int report_error(const absl::Status& status);

// Writes all of `text` to `out` and flushes; false on a write error.
bool write_all(std::FILE* out, const std::string& text);

// True when some part of the walk stopped early (exit code 9 after printing).
bool snapshot_is_partial(const Snapshot& snapshot);

}  // namespace pystack
