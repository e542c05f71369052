// The paragraph CPython 3.14+'s crash handler writes after the Python threads of a fatal signal:
// _Py_DumpStack and _Py_backtrace_symbols_fd (Python/traceback.c), for the frames pystack-dump
// found from the one that received the signal on.
#pragma once

#include <string>

#include "snapshot/snapshot.h"

namespace pystack {

// Appends a blank line, "Current thread's C stack trace (most recent call first):" and one line
// per frame, byte for byte as the handler prints them, then "  <truncated rest of calls>" when
// its 32-entry backtrace() would have been full.
void append_crash_c_stack(std::string& out, const CrashCStack& stack);

}  // namespace pystack
