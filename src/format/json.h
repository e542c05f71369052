// One JSON document describing the process and every thread's frames (schema: README.md, "JSON
// output"). A pure function: source lines come in read beforehand (sources/source_reader).
#pragma once

#include <string>

#include "snapshot/source_lines.h"
#include "snapshot/request.h"
#include "snapshot/snapshot.h"

namespace pystack {

std::string format_json(const Snapshot& snapshot, const SourceLines& sources, bool with_locals);

// What format_json reads of a snapshot: names of every kind, and locals when it shows them.
SnapshotNeeds json_needs(bool with_locals);

}  // namespace pystack
