// The traceback module's view of every thread: traceback.format_stack() of each thread's stack
// (oldest call first, source lines, repeated-frame folding) under one header line per thread.
#pragma once

#include <string>

#include "snapshot/snapshot.h"

namespace pystack {

std::string format_traceback(const Snapshot& snapshot, bool with_locals);

}  // namespace pystack
