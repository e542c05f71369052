// One JSON document describing the process and every thread's frames (schema: README.md, "JSON
// output"). A pure function: source lines come in read beforehand (sources/source_reader).
#pragma once

#include <string>

#include "snapshot/source_lines.h"
#include "snapshot/request.h"
#include "snapshot/snapshot.h"

namespace pystack {

// --native (Thread::native set): "frames" holds Python and C frames, each with a "kind"
// ("python" or "native"; a C frame has function, library, address, offset, file, line, inlined,
// interpreter), and the thread has "native_error"; `all_native`: the interpreter's frames too.
std::string format_json(const Snapshot& snapshot, const SourceLines& sources, bool with_locals,
                        bool all_native = false);

// What format_json reads of a snapshot: names of every kind, and locals when it shows them.
SnapshotNeeds json_needs(bool with_locals);

}  // namespace pystack
