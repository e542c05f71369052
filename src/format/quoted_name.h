// A name of the target (a thread's, an object's) shown on one line of pystack-dump's own text.
#pragma once

#include <string>

namespace pystack {

// `name` (UTF-8) in double quotes: \, " and control characters escaped (\xNN), so that a name
// cannot break the line or forge another.
void append_quoted_name(std::string& out, const std::string& name);

}  // namespace pystack
