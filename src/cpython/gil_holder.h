// Which thread holds an interpreter's GIL, read where the release keeps it. One reading for the
// snapshot walk (SnapshotReader) and the sampler (StackSampler).
#pragma once

#include <cstdint>

#include "cpython/releases.h"
#include "cpython/runtime.h"
#include "memory/remote_memory.h"

namespace pystack {

struct GilState {
  bool locked = false;
  uint64_t holder = 0;  // the thread state that holds it (or last held it, when not locked)
  // The address of the GIL's `locked` field (0: unknown); its condition variables and mutexes
  // follow it, and the threads that wait for the GIL sleep on them (--locks).
  uint64_t locked_address = 0;
  // False in a free-threaded build whose GIL is off (the default there; PYTHON_GIL=1 or
  // -X gil=1 turn it on): nobody holds it.
  bool enabled = true;
};

// The GIL of the interpreter at `interp` of `runtime` (whose release is `release`), read through
// `memory`. Unlocked with no holder when it cannot be read.
GilState read_gil_holder(const RemoteMemory& memory, const PythonRuntime& runtime,
                         const Release& release, uint64_t interp);

}  // namespace pystack
