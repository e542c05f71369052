// The chosen output format applied to a Snapshot.
#pragma once

#include <string>

#include "cli/options.h"
#include "snapshot/snapshot.h"

namespace pystack {

std::string render(const Snapshot& snapshot, const Options& options);

}  // namespace pystack
