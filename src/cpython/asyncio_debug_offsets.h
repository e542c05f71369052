// Py_AsyncioModuleDebugOffsets (3.14+): the offsets the _asyncio module publishes in its ELF
// section "AsyncioDebug" for tools that list tasks from outside (`python -m asyncio ps`). Like
// _Py_DebugOffsets, each group carries the size of its struct; unlike it, no cookie or version.
#pragma once

#include <cstdint>
#include <span>

#include "absl/status/statusor.h"

namespace pystack {

struct AsyncioDebugOffsets {
  struct Task {  // TaskObj
    uint64_t size = 0;
    uint64_t name = 0;               // task_name: a str, or an int (shown as "Task-N")
    uint64_t awaited_by = 0;         // task_awaited_by: one awaiter, or a set of them
    uint64_t is_task = 0;            // char: a Task, not a plain Future
    uint64_t awaited_by_is_set = 0;  // char
    uint64_t coro = 0;               // task_coro
    uint64_t node = 0;               // task_node: the struct llist_node linking the task
  } task;
  struct Interpreter {  // PyInterpreterState
    uint64_t size = 0;
    uint64_t tasks_head = 0;  // tasks of threads that ended
  } interpreter;
  struct ThreadState {  // _PyThreadStateImpl
    uint64_t size = 0;
    uint64_t running_loop = 0;
    uint64_t running_task = 0;
    uint64_t tasks_head = 0;
  } thread_state;
};

// The section's size: 13 64-bit words.
inline constexpr size_t kAsyncioDebugOffsetsSize = 13 * 8;

// Decodes the section's bytes (little endian), checking that every offset lies inside its
// struct's size and that the sizes are plausible. kDataLoss otherwise.
absl::StatusOr<AsyncioDebugOffsets> parse_asyncio_debug_offsets(std::span<const uint8_t> bytes);

}  // namespace pystack
