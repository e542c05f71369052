// One JSON document describing the process and every thread's frames (schema: README.md, "JSON
// output"). A pure function: source lines come in read beforehand (cli/source_reader).
#pragma once

#include <string>

#include "format/source_lines.h"
#include "snapshot/snapshot.h"

namespace pystack {

std::string format_json(const Snapshot& snapshot, const SourceLines& sources, bool with_locals);

}  // namespace pystack
