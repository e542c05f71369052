// Identifies the CPython runtime of a process: its version and the layout to read it with,
// from the target's memory only (never by running its binary).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "cpython/layout.h"
#include "cpython/releases.h"
#include "snapshot/snapshot.h"
#include "symbols/python_binary.h"
#include "memory/remote_memory.h"

namespace pystack {

struct PythonRuntime {
  PythonVersion version;
  Layout layout;
  uint64_t runtime_address = 0;      // _PyRuntime (3.7+; 0 before)
  uint64_t interp_head_address = 0;  // the static interp_head (2.7, 3.6; 0 after)
  uint64_t thread_state_current_address = 0;  // _PyThreadState_Current (2.7, 3.6; 0 after)
  std::optional<uint64_t> code_type;  // PyCode_Type, to tell code objects from shims (3.13+)
  // Set for a release newer than this build knows whose _Py_DebugOffsets matched an older one's
  // layout: the release it is read as (the walk and the formats follow that release's rules).
  std::optional<PythonVersion> read_as;
  std::string file;  // the mapped path of the file that holds it (set by find_runtime)
};

// A free-threaded build of a release whose free-threaded build ran no test here
// (Release::free_threaded_verified): what is read of it comes from its _Py_DebugOffsets and
// CPython's sources only, and a dump or a profile of it says so.
bool is_unverified_free_threaded(const PythonRuntime& runtime);

// Errors: kUnsupportedVersion naming the version found; kRuntimeUnreadable when the runtime's memory
// does not look like a CPython runtime.
absl::StatusOr<PythonRuntime> identify_runtime(const RemoteMemory& memory,
                                               const PythonBinary& binary);

// PY_VERSION_HEX -> version.
PythonVersion version_from_hex(uint64_t hex);

}  // namespace pystack
