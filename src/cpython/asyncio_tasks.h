// --tasks: every asyncio task of an interpreter, with its coroutine chain and its awaiters, as
// CPython 3.14's _remote_debugging.RemoteUnwinder.get_all_awaited_by() finds them (the data
// behind `python -m asyncio ps` and `pstree`). Reads only; bounded and cycle-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "cpython/asyncio_debug_offsets.h"
#include "cpython/dict.h"
#include "cpython/objects.h"
#include "cpython/py_types.h"
#include "snapshot/snapshot.h"

namespace pystack {

inline constexpr size_t kMaxTasksPerList = 1 << 16;  // CPython's tool stops at 2 << 15 too
inline constexpr size_t kMaxCoroutineChain = 1024;
inline constexpr size_t kMaxAwaiters = 1 << 16;

class AsyncioTaskReader {
 public:
  // Reads the _PyInterpreterFrame at `frame` as a stack shows it; nullopt for the
  // interpreter's own frames.
  using FrameReader = std::function<std::optional<Frame>(uint64_t frame)>;

  // All references must outlive this object.
  AsyncioTaskReader(const ObjectReader& objects, TypeCache& types, const DictReader& dicts,
                    FrameReader read_frame)
      : objects_(objects), types_(types), dicts_(dicts), read_frame_(std::move(read_frame)) {}

  // 3.14+: the AsyncioDebug section's offsets, when the target has it (asyncio imported).
  void set_debug_offsets(std::optional<AsyncioDebugOffsets> offsets) { offsets_ = offsets; }

  // The tasks of the interpreter at `interp`, whose threads (newest first) were read as
  // `threads`.
  AsyncioTasks read(uint64_t interp, const std::vector<Thread>& threads);

 private:
  AsyncioTasks read_lists(uint64_t interp, const std::vector<Thread>& threads);
  // The tasks linked from the list head (a struct llist_node) at `head`; false, with the
  // error set, when the list could not be read to its end.
  bool read_list(uint64_t head, AsyncioTaskList& list, std::optional<std::string>& error);
  AsyncioTask read_task(uint64_t task);
  std::string task_name(uint64_t task);
  // The chain of coroutines from the task's coroutine through what each awaits, most recent
  // call first (tools.py's order); empty for a Future that is no Task.
  std::vector<Frame> task_coroutine_stack(uint64_t task);
  std::vector<Frame> coroutine_stack(uint64_t coro);
  // The object the coroutine (suspended in `await`) awaits, or 0.
  uint64_t awaited_object(uint64_t coro, int frame_state);
  std::vector<TaskAwaiter> awaiters(uint64_t task);

  const ObjectReader& objects_;
  TypeCache& types_;
  const DictReader& dicts_;
  FrameReader read_frame_;
  std::optional<AsyncioDebugOffsets> offsets_;
};

}  // namespace pystack
