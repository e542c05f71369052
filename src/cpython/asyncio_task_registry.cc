// --tasks for 3.7 to 3.13, which keep no list of tasks per thread and no record of who awaits a
// task: the tasks are the pending ones of asyncio.tasks' registry (_all_tasks; 3.12+:
// _scheduled_tasks and _eager_tasks), grouped by the thread whose loop runs them (the loop's
// _thread_id); a task's awaiters are what 3.14 records as such (futures.future_add_to_awaited_by):
// the task whose fut_waiter it is, the task awaiting a gather that holds it (nested gathers
// too), and the parent task of its TaskGroup (its first done-callback is
// TaskGroup._on_task_done, bound to the group).
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cpython/asyncio_tasks.h"
#include "cpython/int_value.h"
#include "cpython/layout.h"
#include "memory/remote_memory.h"

namespace pystack {
namespace {

constexpr int64_t kWeakrefObject = 0;    // PyWeakReference.wr_object, right after the object header
constexpr size_t kMaxGatherings = 1024;  // gathers nested under one awaiting task
constexpr size_t kMaxListItems = 1 << 16;

}  // namespace

// Who awaits each task, in the order found: each pair once, at most kMaxAwaiters per task.
struct AsyncioTaskReader::AwaitedBy {
  absl::flat_hash_map<uint64_t, std::vector<uint64_t>> awaiters;
  absl::flat_hash_set<std::pair<uint64_t, uint64_t>> pairs;

  void add(uint64_t awaited, uint64_t awaiter) {
    std::vector<uint64_t>& list = awaiters[awaited];
    if (list.size() < kMaxAwaiters && pairs.insert({awaited, awaiter}).second) {
      list.push_back(awaiter);
    }
  }
};

// One pending task of the registry, the fields --tasks reads: of the C Task (_asyncio.Task and
// its subclasses) at the release's offsets, of the pure-Python Task from its __dict__.
struct AsyncioTaskReader::RegisteredTask {
  uint64_t id = 0;
  uint64_t loop = 0;
  uint64_t fut_waiter = 0;
  uint64_t coro = 0;
  uint64_t name = 0;
  uint64_t callback0 = 0;
};

AsyncioTasks AsyncioTaskReader::read_registry(uint64_t interp, const std::vector<Thread>& threads) {
  AsyncioTasks out;
  absl::StatusOr<uint64_t> globals = asyncio_tasks_module_dict(interp);
  if (!globals.ok()) {
    out.walk_error = absl::StrCat("unreadable asyncio.tasks module: ", globals.status().message());
    return out;
  }
  if (*globals == 0) {
    out.unavailable = "asyncio is not imported";
    return out;
  }
  std::vector<uint64_t> objects;
  for (const char* name : objects_.release().asyncio.registry_globals) {
    if (name == nullptr) continue;
    absl::StatusOr<std::optional<uint64_t>> registry = dicts_.find(*globals, name);
    if (registry.ok() && registry->has_value()) collect_registered(**registry, objects);
  }
  std::vector<RegisteredTask> tasks;
  absl::flat_hash_set<uint64_t> seen;
  for (uint64_t object : objects) {
    if (!seen.insert(object).second) continue;  // in both registries while it starts eagerly
    std::optional<RegisteredTask> task = registered_task(object);
    if (!task) continue;
    if (tasks.size() == kMaxTasksPerList) {  // two registries of the most each
      out.walk_error = absl::StrCat("more than ", kMaxTasksPerList, " tasks: the rest left out");
      break;
    }
    tasks.push_back(*task);
  }
  std::sort(tasks.begin(), tasks.end(),
            [](const RegisteredTask& a, const RegisteredTask& b) { return a.id < b.id; });
  AwaitedBy awaited_by;
  add_awaiters(tasks, awaited_by);

  // One list per thread that runs a loop (threads newest first), then the tasks of loops that
  // run in no thread now.
  absl::flat_hash_map<uint64_t, uint64_t> thread_of;  // loop -> tstate thread_id (0: none)
  for (const RegisteredTask& task : tasks) {
    if (!thread_of.contains(task.loop)) thread_of[task.loop] = thread_of_loop(task.loop);
  }
  absl::flat_hash_map<uint64_t, const RegisteredTask*> by_id;
  for (const RegisteredTask& task : tasks) by_id[task.id] = &task;
  auto stack_of = [&](uint64_t id) -> std::vector<Frame> {
    if (auto cached = task_stacks_.find(id); cached != task_stacks_.end()) {
      return charge_copy(cached->second.size()) ? cached->second : std::vector<Frame>();
    }
    auto it = by_id.find(id);
    std::vector<Frame> stack;
    if (it != by_id.end() && it->second->coro != 0) stack = coroutine_stack(it->second->coro);
    task_stacks_[id] = stack;
    return stack;
  };
  auto make_task = [&](const RegisteredTask& task) {
    AsyncioTask made;
    made.id = task.id;
    made.name = name_of(task.name);
    made.coroutine_stack = stack_of(task.id);
    for (uint64_t awaiter : awaited_by.awaiters[task.id]) {
      made.awaited_by.push_back({awaiter, stack_of(awaiter)});
    }
    return made;
  };
  absl::flat_hash_map<uint64_t, std::vector<const RegisteredTask*>> by_thread;  // ident -> tasks
  for (const RegisteredTask& task : tasks) by_thread[thread_of[task.loop]].push_back(&task);
  for (size_t i = 0; i < threads.size(); ++i) {
    auto it = threads[i].thread_id != 0 ? by_thread.find(threads[i].thread_id) : by_thread.end();
    if (it == by_thread.end()) continue;
    AsyncioTaskList list;
    list.thread_id = threads[i].native_thread_id.value_or(0);
    list.thread_ident = threads[i].thread_id;
    list.main_thread = i + 1 == threads.size();
    for (const RegisteredTask* task : it->second) list.tasks.push_back(make_task(*task));
    out.lists.push_back(std::move(list));
    by_thread.erase(it);
  }
  // Loops that run in no thread now, or in one this walk did not read.
  AsyncioTaskList unplaced;
  for (const RegisteredTask& task : tasks) {
    if (by_thread.contains(thread_of[task.loop])) unplaced.tasks.push_back(make_task(task));
  }
  if (!unplaced.tasks.empty()) out.lists.push_back(std::move(unplaced));
  return out;
}

// sys.modules['asyncio.tasks'].__dict__, or 0 when asyncio was never imported.
absl::StatusOr<uint64_t> AsyncioTaskReader::asyncio_tasks_module_dict(uint64_t interp) {
  const Layout& layout = objects_.layout();
  if (layout.interp.modules < 0) return uint64_t{0};
  absl::StatusOr<uint64_t> modules = objects_.read_pointer(interp + layout.interp.modules);
  if (!modules.ok()) return modules.status();
  if (*modules == 0) return uint64_t{0};
  absl::StatusOr<std::optional<uint64_t>> module = dicts_.find(*modules, "asyncio.tasks");
  if (!module.ok()) return module.status();
  if (!module->has_value()) return uint64_t{0};
  absl::StatusOr<const TypeInfo*> type = types_.of(**module);
  if (!type.ok()) return type.status();
  if ((*type)->kind != ReprKind::kModule) return uint64_t{0};
  return objects_.read_pointer(**module + layout.module.dict);
}

// The objects a registry holds: a set's elements, or a WeakSet's live referents.
void AsyncioTaskReader::collect_registered(uint64_t registry, std::vector<uint64_t>& out) {
  absl::StatusOr<const TypeInfo*> type = types_.of(registry);
  if (!type.ok()) return;
  std::vector<uint64_t> items;
  bool cut = false;
  if ((*type)->kind == ReprKind::kSet) {
    if (dicts_.set_items(registry, kMaxTasksPerList, items, cut).ok()) {
      out.insert(out.end(), items.begin(), items.end());
    }
    return;
  }
  std::optional<uint64_t> data = attribute(registry, "data");  // WeakSet.data: a set of weakrefs
  if (!data) return;
  absl::StatusOr<const TypeInfo*> data_type = types_.of(*data);
  if (!data_type.ok() || (*data_type)->kind != ReprKind::kSet) return;
  if (!dicts_.set_items(*data, kMaxTasksPerList, items, cut).ok()) return;
  for (uint64_t reference : items) {
    absl::StatusOr<uint64_t> referent = objects_.read_pointer(
        reference + object_header_size(objects_.layout()) + kWeakrefObject);
    if (referent.ok() && *referent != 0) out.push_back(*referent);
  }
}

// The task at `object` if it is a pending Task (C, or pure Python): nullopt otherwise (a dead
// weakref's None, a finished task, anything else).
std::optional<AsyncioTaskReader::RegisteredTask> AsyncioTaskReader::registered_task(
    uint64_t object) {
  const TaskObjectOffsets& c = objects_.release().asyncio.task;
  absl::StatusOr<const TypeInfo*> type = types_.of(object);
  if (!type.ok()) return std::nullopt;
  bool c_task = false, python_task = false;
  const TypeInfo* t = *type;
  for (int depth = 0; t != nullptr && depth < kMaxTypeDepth; ++depth) {
    if (t->name == "_asyncio.Task") c_task = true;
    if (t->name == "Task" && t->heap()) python_task = true;
    if (c_task || t->base == 0) break;
    absl::StatusOr<const TypeInfo*> base = types_.get(t->base);
    t = base.ok() ? *base : nullptr;
  }
  RegisteredTask task;
  task.id = object;
  if (c_task) {
    // The offsets are a default build's: a free-threaded build's longer object header moves
    // every field by as much (3.13t, checked with its DWARF).
    const uint64_t fields = object + object_header_growth(objects_.layout());
    absl::StatusOr<int32_t> state = read_value<int32_t>(objects_.memory(), fields + c.state);
    if (!state.ok() || *state != 0) return std::nullopt;  // not PENDING
    auto field = [&](int64_t offset) -> uint64_t {
      if (offset < 0) return 0;
      absl::StatusOr<uint64_t> value = objects_.read_pointer(fields + offset);
      return value.ok() ? *value : 0;
    };
    task.loop = field(c.loop);
    task.fut_waiter = field(c.fut_waiter);
    task.coro = field(c.coro);
    task.name = field(c.name);
    task.callback0 = field(c.callback0);
    return task;
  }
  if (!python_task) return std::nullopt;
  // Future._state is a class attribute ('PENDING') until the state changes.
  std::optional<uint64_t> state = attribute(object, "_state");
  if (state && !dicts_.str_equals(*state, "PENDING")) return std::nullopt;
  task.loop = attribute(object, "_loop").value_or(0);
  task.fut_waiter = attribute(object, "_fut_waiter").value_or(0);
  task.coro = attribute(object, "_coro").value_or(0);
  task.name = attribute(object, "_name").value_or(0);
  return task;
}

// getattr() of an instance attribute kept in the object's __dict__.
std::optional<uint64_t> AsyncioTaskReader::attribute(uint64_t object, std::string_view name) {
  absl::StatusOr<const TypeInfo*> type = types_.of(object);
  if (!type.ok()) return std::nullopt;
  absl::StatusOr<std::optional<uint64_t>> value = dicts_.find_attribute(object, **type, name);
  if (!value.ok()) return std::nullopt;
  return *value;
}

void AsyncioTaskReader::add_awaiters(const std::vector<RegisteredTask>& tasks,
                                     AwaitedBy& awaited_by) {
  absl::flat_hash_set<uint64_t> ids;
  for (const RegisteredTask& task : tasks) ids.insert(task.id);
  auto add = [&](uint64_t awaited, uint64_t awaiter) { awaited_by.add(awaited, awaiter); };
  for (const RegisteredTask& task : tasks) {
    if (task.fut_waiter == 0) continue;
    if (ids.contains(task.fut_waiter)) {
      add(task.fut_waiter, task.id);
    } else {
      for (uint64_t member : gather_members(task.fut_waiter)) add(member, task.id);
    }
  }
  // A TaskGroup's child: its first done-callback is the group's bound _on_task_done.
  const Layout& layout = objects_.layout();
  for (const RegisteredTask& task : tasks) {
    if (task.callback0 == 0) continue;
    absl::StatusOr<const TypeInfo*> type = types_.of(task.callback0);
    if (!type.ok() || (*type)->kind != ReprKind::kMethod) continue;
    absl::StatusOr<uint64_t> group = objects_.read_pointer(task.callback0 + layout.method.self);
    if (!group.ok()) continue;
    absl::StatusOr<const TypeInfo*> group_type = types_.of(*group);
    if (!group_type.ok() || (*group_type)->name != "TaskGroup") continue;
    std::optional<uint64_t> parent = attribute(*group, "_parent_task");
    if (parent && ids.contains(*parent)) add(task.id, *parent);
  }
}

const std::vector<uint64_t>& AsyncioTaskReader::gather_members(uint64_t gathering) {
  auto [it, inserted] = gather_members_.try_emplace(gathering);
  if (inserted) {
    absl::flat_hash_set<uint64_t> seen;
    std::vector<uint64_t> members;
    collect_gather_members(gathering, seen, members);
    gather_members_[gathering] = std::move(members);  // the map may have moved: look it up again
    return gather_members_[gathering];
  }
  return it->second;
}

// A _GatheringFuture's children. Every gather and every children list is walked once (memory may
// make a gather hold itself, or gathers share a list), each child read counts against the read's
// budget, and the nesting is bounded.
void AsyncioTaskReader::collect_gather_members(uint64_t gathering,
                                               absl::flat_hash_set<uint64_t>& seen,
                                               std::vector<uint64_t>& members) {
  if (seen.size() > kMaxGatherings || !seen.insert(gathering).second) return;
  absl::StatusOr<const TypeInfo*> type = types_.of(gathering);
  if (!type.ok() || (*type)->name != "_GatheringFuture") return;
  std::optional<uint64_t> children = attribute(gathering, "_children");
  if (!children || !seen.insert(*children).second) return;
  for (uint64_t child : list_items(*children)) {
    if (!charge_copy(1)) return;
    absl::StatusOr<const TypeInfo*> child_type = types_.of(child);
    if (!child_type.ok()) continue;
    if ((*child_type)->name == "_GatheringFuture") {
      collect_gather_members(child, seen, members);
    } else if (seen.insert(child).second) {
      members.push_back(child);
    }
  }
}

// A list's items (at most kMaxListItems); empty when it is no list or cannot be read.
std::vector<uint64_t> AsyncioTaskReader::list_items(uint64_t list) {
  const Layout& layout = objects_.layout();
  absl::StatusOr<const TypeInfo*> type = types_.of(list);
  if (!type.ok() || (*type)->kind != ReprKind::kList) return {};
  absl::StatusOr<int64_t> size =
      read_value<int64_t>(objects_.memory(), list + layout.object.var_size);
  absl::StatusOr<uint64_t> items = objects_.read_pointer(list + layout.list.items);
  if (!size.ok() || !items.ok() || *size <= 0) return {};
  std::vector<uint64_t> out(std::min<size_t>(static_cast<size_t>(*size), kMaxListItems));
  if (!objects_.memory().read(*items, out.data(), out.size() * 8).ok()) return {};
  return out;
}

// The thread ident (PyThreadState.thread_id) of the thread whose loop.run_forever() runs now
// (BaseEventLoop._thread_id), or 0.
uint64_t AsyncioTaskReader::thread_of_loop(uint64_t loop) {
  if (loop == 0) return 0;
  std::optional<uint64_t> ident = attribute(loop, "_thread_id");
  if (!ident) return 0;
  return nonnegative_int_value(objects_, types_, *ident).value_or(0);
}

}  // namespace pystack
