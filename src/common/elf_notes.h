// ELF notes, as a file or a process image holds them in a PT_NOTE segment or SHT_NOTE section:
// the one parser of them, for the ELF reader (symbols/) and the core-file reader (memory/).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pystack {

// The hex of the GNU build id (NT_GNU_BUILD_ID, owner "GNU") among `notes`, or "" when there is
// none. Note headers are in this machine's byte order (as libelf translates them, or as a
// same-endian target holds them); name and descriptor are padded to `alignment` (4, or 8 for
// notes aligned to 8). Reading stops at the first note that does not fit.
std::string gnu_build_id_in_notes(std::string_view notes, uint64_t alignment);

}  // namespace pystack
