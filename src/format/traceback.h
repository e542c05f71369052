// The traceback module's view of every thread: for each thread a header line of ours, then
// exactly what traceback.format_stack() returns for that thread's stack in the target's own
// CPython version (oldest call first, source lines, the repeated-frame rule of 3.6+, locals as
// StackSummary.format prints them with capture_locals), with a blank line between threads.
#pragma once

#include <string>

#include "snapshot/source_lines.h"
#include "snapshot/request.h"
#include "snapshot/snapshot.h"

namespace pystack {

// Header: "Thread 0x%016lx" or "Current thread 0x%016lx" (Thread::is_current), then, when known,
// " (tid N, "NAME", holds the GIL, garbage-collecting)", then " (most recent call last):".
// Text is written as print() would write format_stack()'s strings to a UTF-8 stream with
// errors='backslashreplace' (lone surrogates as \udXXX); Python 2 str bytes are written as is.
// `sources` holds linecache's lines (sources/source_reader); nothing here reads files or memory.
// --native (Thread::native set): C frames between the Python ones, as `  (C) File "FILE", line N,
// in FUNCTION (LIBRARY)`; `all_native`: the interpreter's own too.
std::string format_traceback(const Snapshot& snapshot, const SourceLines& sources,
                             bool with_locals, bool all_native = false);

// What format_traceback reads of a snapshot: names of every kind, and locals when it shows them.
SnapshotNeeds traceback_needs(bool with_locals);

}  // namespace pystack
