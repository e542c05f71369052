// `python -m asyncio ps PID` and `python -m asyncio pstree PID` (CPython 3.14+'s
// Lib/asyncio/tools.py: display_awaited_by_tasks_table, display_awaited_by_tasks_tree) as pure
// functions of a Snapshot's task lists (Interpreter::tasks), byte for byte.
#pragma once

#include <string>

#include "snapshot/snapshot.h"

namespace pystack {

// What the tools are given: every interpreter's task lists, concatenated. `main_thread_only`:
// only the main thread's list and the interpreter's own (thread id 0), as 3.14's
// _remote_debugging returns them; 3.15 returns every thread's.

// `ps`: the header line, the dash line and one row per task and awaiter, each line ended by \n.
std::string format_task_table(const Snapshot& snapshot, bool main_thread_only);

struct TaskTree {
  std::string text;         // what `pstree` writes to stdout
  std::string cycle_error;  // non-empty: the await graph has cycles; its stderr text, exit 1
};

// `pstree`: one tree per root task (a task nothing known awaits), or the cycles instead.
TaskTree format_task_tree(const Snapshot& snapshot, bool main_thread_only);

}  // namespace pystack
