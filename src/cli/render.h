// The chosen output format applied to a Snapshot.
#pragma once

#include <string>

#include "cli/options.h"
#include "cli/source_reader.h"
#include "snapshot/snapshot.h"

namespace pystack {

// The traceback and JSON formats show source lines: they are read here, before formatting,
// through `sources` (live_source_resolver(pid) for a live process; a core's command passes
// its own). The faulthandler format reads no file.
std::string render(const Snapshot& snapshot, const Options& options,
                   const SourcePathResolver& sources);

// True when the chosen format shows OS thread names for a target of `version`: the traceback
// and JSON formats always, faulthandler's from 3.14 on.
bool shows_os_thread_names(const Options& options, const PythonVersion& version);

}  // namespace pystack
