// One JSON document describing the process and every thread's frames (schema in README.md).
#pragma once

#include <string>

#include "snapshot/snapshot.h"

namespace pystack {

std::string format_json(const Snapshot& snapshot, bool with_locals);

}  // namespace pystack
