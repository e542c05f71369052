// --tasks: every asyncio task of an interpreter, with its coroutine chain and its awaiters, as
// CPython 3.14's _remote_debugging.RemoteUnwinder.get_all_awaited_by() finds them (the data
// behind `python -m asyncio ps` and `pstree`). 3.14+ keep per-thread lists of tasks and who
// awaits each (asyncio_tasks.cc); 3.7 to 3.13 keep only a registry of tasks, and the same view
// is built from what the tasks hold (asyncio_task_registry.cc). Reads only; bounded and
// cycle-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
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
// What one read may visit in all: coroutine frames read or shown again, gathered futures'
// children.
inline constexpr size_t kMaxTaskFrames = 1 << 20;

class AsyncioTaskReader {
 public:
  // Reads a coroutine's own frame as a stack shows it; nullopt when it has none to show.
  using FrameReader = std::function<std::optional<Frame>(uint64_t coroutine)>;

  // All references must outlive this object.
  AsyncioTaskReader(const ObjectReader& objects, TypeCache& types, const DictReader& dicts,
                    FrameReader read_frame)
      : objects_(objects), types_(types), dicts_(dicts), read_frame_(std::move(read_frame)) {}

  // 3.14+: the AsyncioDebug section's offsets, when the target has it (asyncio imported).
  void set_debug_offsets(std::optional<AsyncioDebugOffsets> offsets) { offsets_ = offsets; }

  // Asked before each coroutine frame: why the snapshot must stop now (its budget of time or
  // frames is spent), or nullopt.
  using BudgetCheck = std::function<std::optional<std::string>()>;
  void set_budget_check(BudgetCheck check) { over_budget_ = std::move(check); }

  // The tasks of the interpreter at `interp`, whose threads (newest first) were read as
  // `threads`.
  AsyncioTasks read(uint64_t interp, const std::vector<Thread>& threads);

 private:
  // 3.14+.
  AsyncioTasks read_lists(uint64_t interp, const std::vector<Thread>& threads);
  // 3.7-3.13 (asyncio_task_registry.cc).
  struct RegisteredTask;
  AsyncioTasks read_registry(uint64_t interp, const std::vector<Thread>& threads);
  absl::StatusOr<uint64_t> asyncio_tasks_module_dict(uint64_t interp);
  void collect_registered(uint64_t registry, std::vector<uint64_t>& out);
  std::optional<RegisteredTask> registered_task(uint64_t object);
  std::optional<uint64_t> attribute(uint64_t object, std::string_view name);
  struct AwaitedBy;
  void add_awaiters(const std::vector<RegisteredTask>& tasks, AwaitedBy& awaited_by);
  // The futures a gather holds, nested gathers followed (each distinct, in order); computed
  // once per gather and read.
  const std::vector<uint64_t>& gather_members(uint64_t gathering);
  void collect_gather_members(uint64_t gathering, absl::flat_hash_set<uint64_t>& seen,
                              std::vector<uint64_t>& members);
  uint64_t thread_of_loop(uint64_t loop);
  std::vector<uint64_t> list_items(uint64_t list);
  // The object a coroutine awaits, by the release's model (AwaitedObject).
  uint64_t awaited_after_yield_from(uint64_t coro);
  uint64_t awaited_after_resume(uint64_t coro);
  uint64_t top_of_interpreter_frame(uint64_t frame);
  // The tasks linked from the list head (a struct llist_node) at `head`; false, with the
  // error set, when the list could not be read to its end.
  bool read_list(uint64_t head, AsyncioTaskList& list, std::optional<std::string>& error);
  AsyncioTask read_task(uint64_t task);
  std::string task_name(uint64_t task);
  std::string name_of(uint64_t object);
  // The chain of coroutines from the task's coroutine through what each awaits, most recent
  // call first (tools.py's order); empty for a Future that is no Task.
  std::vector<Frame> task_coroutine_stack(uint64_t task);
  std::vector<Frame> coroutine_stack(uint64_t coro);
  // Counts one coroutine frame; false once the read's budget is spent (spent_ says why).
  bool spend_frame();
  bool charge_copy(size_t frames);
  // The object the coroutine (suspended in `await`) awaits, or 0.
  uint64_t awaited_object(uint64_t coro);
  std::vector<TaskAwaiter> awaiters(uint64_t task);

  const ObjectReader& objects_;
  TypeCache& types_;
  const DictReader& dicts_;
  FrameReader read_frame_;
  std::optional<AsyncioDebugOffsets> offsets_;
  BudgetCheck over_budget_;
  // Per read: frames read, why the budget is spent, each task's stack (an awaiter's is shown
  // under every task it awaits).
  size_t frames_read_ = 0;
  std::optional<std::string> spent_;
  absl::flat_hash_map<uint64_t, std::vector<Frame>> task_stacks_;
  absl::flat_hash_map<uint64_t, std::vector<uint64_t>> gather_members_;
};

}  // namespace pystack
