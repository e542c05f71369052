// CPython's faulthandler all-threads dump (Python/traceback.c, _Py_DumpTracebackThreads),
// reimplemented as a pure function of a Snapshot, with each version's quirks.
#pragma once

#include <string>

#include "snapshot/request.h"
#include "snapshot/snapshot.h"

namespace pystack {

// The text faulthandler would write for every thread of every interpreter in `snapshot`, for
// the snapshot's CPython version (2.7 uses the 3.6 format). The thread with holds_gil is the
// "Current thread".
// With --native (Thread::native set), the C frames between the Python ones, in the form of
// CPython 3.14's C stack trace lines (format/native_text.h); `all_native`: the interpreter's too.
std::string format_faulthandler(const Snapshot& snapshot, bool all_native = false);

// True when faulthandler of `version` prints each thread's OS name in its header (3.14+).
bool faulthandler_shows_os_thread_names(const PythonVersion& version);

// What format_faulthandler reads of a snapshot: the stacks, and the OS thread names from 3.14.
SnapshotNeeds faulthandler_needs();

}  // namespace pystack
