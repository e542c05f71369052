#include "cpython/gil_holder.h"

#include "absl/status/statusor.h"

namespace pystack {

// 2.7 and 3.6: _PyThreadState_Current is the holder; 3.7-3.11 keep the GIL in _PyRuntime;
// 3.12+ in the interpreter (through ceval.gil).
GilState read_gil_holder(const RemoteMemory& memory, const PythonRuntime& runtime,
                         const Release& release, uint64_t interp) {
  const Layout& layout = runtime.layout;
  uint64_t gil = 0;
  int64_t locked_offset = -1, holder_offset = -1;
  switch (release.gil) {
    case GilLocation::kThreadStateCurrent: {
      if (runtime.thread_state_current_address == 0) return {};
      absl::StatusOr<uint64_t> current =
          read_value<uint64_t>(memory, runtime.thread_state_current_address);
      if (!current.ok()) return {};
      return {*current != 0, *current};
    }
    case GilLocation::kRuntime:
      gil = runtime.runtime_address;
      locked_offset = layout.runtime.gil_locked;
      holder_offset = layout.runtime.gil_last_holder;
      break;
    case GilLocation::kInterpreter: {
      absl::StatusOr<uint64_t> pointer =
          read_value<uint64_t>(memory, interp + layout.interp.ceval_gil);
      if (!pointer.ok() || *pointer == 0) return {};
      gil = *pointer;
      if (layout.gil.enabled >= 0) {  // a free-threaded build
        absl::StatusOr<int32_t> enabled = read_value<int32_t>(memory, gil + layout.gil.enabled);
        if (enabled.ok() && *enabled == 0) return {.enabled = false};
      }
      locked_offset = layout.gil.locked;
      holder_offset = layout.gil.last_holder;
      break;
    }
  }
  if (gil == 0 || locked_offset < 0 || holder_offset < 0) return {};
  absl::StatusOr<int32_t> locked = read_value<int32_t>(memory, gil + locked_offset);
  absl::StatusOr<uint64_t> holder = read_value<uint64_t>(memory, gil + holder_offset);
  if (!locked.ok() || !holder.ok()) return {};
  return {*locked == 1, *holder, gil + static_cast<uint64_t>(locked_offset)};
}

}  // namespace pystack
