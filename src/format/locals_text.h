// A frame's local variables as traceback's StackSummary.format(capture_locals=True) prints them:
// "    name = repr" for each, sorted by name.
#pragma once

#include <string>

#include "snapshot/snapshot.h"

namespace pystack {

void append_locals(std::string& out, const Frame& frame);

}  // namespace pystack
