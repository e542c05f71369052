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

// For a release newer than this build knows (Snapshot::read_as), a one-line warning on stderr
// that the output follows the older release's format.
void warn_if_read_as_older(const Snapshot& snapshot);

}  // namespace pystack
