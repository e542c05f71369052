// faulthandler's string output (_Py_DumpASCII): printable ASCII as is, other code points
// escaped as \xNN, \uNNNN or \UNNNNNNNN (lowercase hex), cut at 500 code points with "...".
#pragma once

#include <string>

#include "snapshot/snapshot.h"

namespace pystack {

inline constexpr size_t kFaulthandlerMaxStringLength = 500;

// Appends `text` the way _Py_DumpASCII writes it.
void append_dump_ascii(std::string& out, const PyText& text);

}  // namespace pystack
