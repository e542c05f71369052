#include "format/json.h"

namespace pystack {

// Not written yet: see issue "--format=traceback, --format=json and --locals".
std::string format_json(const Snapshot&, bool) { return "{\"error\": \"not implemented yet\"}\n"; }

}  // namespace pystack
