#include "format/traceback.h"

namespace pystack {

// Not written yet: see issue "--format=traceback, --format=json and --locals".
std::string format_traceback(const Snapshot&, bool) { return "--format=traceback is not implemented yet\n"; }

}  // namespace pystack
