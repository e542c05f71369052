// The chosen output format applied to a Snapshot.
#pragma once

#include <string>

#include "cli/options.h"
#include "cli/source_reader.h"
#include "snapshot/request.h"
#include "snapshot/snapshot.h"

namespace pystack {

// The traceback and JSON formats show source lines: they are read here, before formatting,
// through `sources` (live_source_resolver(pid) for a live process; a core's command passes
// its own). The faulthandler format reads no file.
std::string render(const Snapshot& snapshot, const Options& options,
                   const SourcePathResolver& sources);

// What the chosen format reads of a snapshot (each formatter declares it).
SnapshotNeeds needs_of(const Options& options);

}  // namespace pystack
