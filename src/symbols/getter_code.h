// What a getter function reads: the machine code of `T* Getter(void) { return global; }` names
// the address of `global`. CPython 2.7 and 3.6 export PyInterpreterState_Head(), whose code loads
// the static `interp_head` that stripped binaries no longer name; its bytes, read from the file
// (never run), give that slot exactly, where a scan of the data can only guess.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace pystack {

// The longest getter recognised: endbr64 (4), mov (7), ret (1), with room for `repz ret` (2).
inline constexpr uint64_t kGetterCodeBytes = 16;

// For x86-64 code at link-time `address` that is exactly a getter, optionally opened by endbr64
// (`f3 0f 1e fa`): `mov rax, [rip + disp32]` (`48 8b 05 d32`) then `ret` (`c3`, or `f3 c3`), the
// link-time address it loads from. nullopt for any other code.
std::optional<uint64_t> global_read_by_getter(std::string_view code, uint64_t address);

}  // namespace pystack
