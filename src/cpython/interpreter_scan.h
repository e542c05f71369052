// Finds the interpreter list of Python 2.7 and 3.6 when the static `interp_head` is not in the
// symbol tables (a stripped libpython or executable keeps only .dynsym, and interp_head is local
// to pystate.c) and the code of PyInterpreterState_Head() does not name it either (a getter that
// is not the plain load symbols/getter_code.h knows): a bounded scan of the binary's own writable
// data (.data, .bss) for a pointer to a PyInterpreterState, recognised by its first thread
// pointing back to it (interp->tstate_head->interp == interp).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "cpython/layout.h"
#include "symbols/python_binary.h"
#include "memory/remote_memory.h"

namespace pystack {

// Bounds that keep the scan cheap on any binary: bytes of data read, distinct candidate values
// looked at, and interpreters collected.
inline constexpr uint64_t kMaxScannedDataBytes = uint64_t{16} << 20;
inline constexpr size_t kMaxScanCandidates = size_t{1} << 18;
inline constexpr size_t kMaxScanInterpreters = 64;

// True when `candidate` looks like a PyInterpreterState of `layout`: its thread list's first
// thread state is readable and points back to it (and, where the layout has tstate->prev, that
// first thread has no predecessor).
bool is_interpreter(const RemoteMemory& memory, const Layout& layout, uint64_t candidate);

// The address of a slot in `writable_data` that holds the head of the interpreter list (the
// newest interpreter: the one no other interpreter's `next` points to). When a thread holds the
// GIL, `thread_state_current` (_PyThreadState_Current, exported) gives the interpreter at once;
// the scan is then only a search for a slot holding it. kRuntimeUnreadable when nothing is found.
absl::StatusOr<uint64_t> find_interpreter_head_slot(const RemoteMemory& memory,
                                                    const Layout& layout,
                                                    const std::vector<AddressRange>& writable_data,
                                                    std::optional<uint64_t> thread_state_current);

}  // namespace pystack
