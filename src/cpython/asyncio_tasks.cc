#include "cpython/asyncio_tasks.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/utf8.h"
#include "cpython/int_value.h"
#include "cpython/stack_ref.h"
#include "memory/remote_memory.h"

namespace pystack {
namespace {

constexpr uint64_t kLongSubclass = uint64_t{1} << 24;     // Py_TPFLAGS_LONG_SUBCLASS
constexpr uint64_t kUnicodeSubclass = uint64_t{1} << 28;  // Py_TPFLAGS_UNICODE_SUBCLASS
constexpr uint64_t kTagBits = 3;  // _PyStackRef's tag bits, and a tagged PyObject pointer's

std::string utf8_of(const PyText& text) {
  std::string out;
  append_utf8_backslashreplace(out, text.code_points);
  return out;
}

}  // namespace

AsyncioTasks AsyncioTaskReader::read(uint64_t interp, const std::vector<Thread>& threads) {
  frames_read_ = 0;
  spent_.reset();
  task_stacks_.clear();
  gather_members_.clear();
  AsyncioTasks tasks;
  switch (objects_.release().asyncio.registry) {
    case TaskRegistry::kAsyncioDebug:
      tasks = read_lists(interp, threads);
      break;
    case TaskRegistry::kModuleGlobals:
      tasks = read_registry(interp, threads);
      break;
    case TaskRegistry::kNone:
      tasks.unavailable = "pystack-dump reads asyncio tasks of CPython 3.7 and later";
      break;
  }
  if (spent_ && !tasks.walk_error) tasks.walk_error = *spent_;
  task_stacks_.clear();
  gather_members_.clear();
  return tasks;
}

// A stack shown again (an awaiter's, under each task it awaits) costs its frames too: the copies
// are bounded as the reads are.
bool AsyncioTaskReader::charge_copy(size_t frames) {
  if (spent_) return false;
  frames_read_ += frames;
  if (frames_read_ > kMaxTaskFrames) {
    spent_ = absl::StrFormat("over the budget of %d coroutine frames and futures", kMaxTaskFrames);
  }
  return !spent_;
}

bool AsyncioTaskReader::spend_frame() {
  if (spent_) return false;
  if (++frames_read_ > kMaxTaskFrames) {
    spent_ = absl::StrFormat("over the budget of %d coroutine frames and futures", kMaxTaskFrames);
  } else if (over_budget_) {
    spent_ = over_budget_();
  }
  return !spent_;
}

// get_all_awaited_by(): each thread's list (tstate->asyncio_tasks_head), newest thread first,
// then the interpreter's list of tasks whose threads ended, under thread id 0.
AsyncioTasks AsyncioTaskReader::read_lists(uint64_t interp, const std::vector<Thread>& threads) {
  AsyncioTasks tasks;
  if (!offsets_) {
    tasks.unavailable = "asyncio is not imported (no AsyncioDebug section is mapped)";
    return tasks;
  }
  for (size_t i = 0; i < threads.size() && !tasks.walk_error && !spent_; ++i) {
    AsyncioTaskList list;
    list.thread_id = threads[i].native_thread_id.value_or(0);
    list.thread_ident = threads[i].thread_id;
    list.main_thread = i + 1 == threads.size();  // the oldest thread state
    read_list(threads[i].tstate_address + offsets_->thread_state.tasks_head, list,
              tasks.walk_error);
    tasks.lists.push_back(std::move(list));
  }
  if (!tasks.walk_error) {
    AsyncioTaskList list;
    read_list(interp + offsets_->interpreter.tasks_head, list, tasks.walk_error);
    tasks.lists.push_back(std::move(list));
  }
  return tasks;
}

bool AsyncioTaskReader::read_list(uint64_t head, AsyncioTaskList& list,
                                  std::optional<std::string>& error) {
  absl::flat_hash_set<uint64_t> seen;
  absl::StatusOr<uint64_t> node = objects_.read_pointer(head);  // llist_node.next
  while (node.ok() && *node != head && !spent_) {
    if (*node == 0 || !seen.insert(*node).second || seen.size() > kMaxTasksPerList) {
      error = absl::StrFormat("task list at 0x%x is broken, loops or is too long", head);
      return false;
    }
    list.tasks.push_back(read_task(*node - offsets_->task.node));
    node = objects_.read_pointer(*node);
  }
  if (!node.ok()) {
    error = absl::StrFormat("unreadable task list at 0x%x", head);
    return false;
  }
  return true;
}

AsyncioTask AsyncioTaskReader::read_task(uint64_t task) {
  AsyncioTask out;
  out.id = task;
  out.name = task_name(task);
  out.coroutine_stack = task_coroutine_stack(task);
  out.awaited_by = awaiters(task);
  return out;
}

std::string AsyncioTaskReader::task_name(uint64_t task) {
  absl::StatusOr<uint64_t> name = objects_.read_pointer(task + offsets_->task.name);
  return name.ok() ? name_of(*name & ~kTagBits) : "";
}

// A task's name object: a str, or an int N shown as "Task-N" (as _remote_debugging shows it);
// "" for anything else.
std::string AsyncioTaskReader::name_of(uint64_t object) {
  if (object == 0) return "";
  absl::StatusOr<uint64_t> flags = objects_.type_flags(object);
  if (!flags.ok()) return "";
  if (*flags & kLongSubclass) {
    std::optional<uint64_t> number = nonnegative_int_value(objects_, types_, object);
    return number ? absl::StrCat("Task-", *number) : "";
  }
  if (!(*flags & kUnicodeSubclass)) return "";
  absl::StatusOr<std::optional<PyText>> text = objects_.read_text(object);
  if (!text.ok() || !text->has_value()) return "";
  return utf8_of(**text);
}

std::vector<Frame> AsyncioTaskReader::task_coroutine_stack(uint64_t task) {
  if (auto it = task_stacks_.find(task); it != task_stacks_.end()) {
    return charge_copy(it->second.size()) ? it->second : std::vector<Frame>();
  }
  std::vector<Frame> stack;
  absl::StatusOr<uint8_t> is_task =
      read_value<uint8_t>(objects_.memory(), task + offsets_->task.is_task);
  if (is_task.ok() && *is_task != 0) {
    absl::StatusOr<uint64_t> coro = objects_.read_pointer(task + offsets_->task.coro);
    if (coro.ok() && (*coro & ~kTagBits) != 0) stack = coroutine_stack(*coro & ~kTagBits);
  }
  task_stacks_[task] = stack;
  return stack;
}

// parse_coro_chain(): a coroutine's frame, then, while it is suspended in `await` on an object of
// its own type (a coroutine awaiting a coroutine), that object's. Built outermost first, then
// reversed.
std::vector<Frame> AsyncioTaskReader::coroutine_stack(uint64_t coro) {
  const Layout& layout = objects_.layout();
  const AsyncioModel& model = objects_.release().asyncio;
  std::vector<Frame> stack;
  absl::flat_hash_set<uint64_t> seen;
  while (coro != 0 && stack.size() < kMaxCoroutineChain && seen.insert(coro).second &&
         spend_frame()) {
    absl::StatusOr<uint64_t> type = objects_.type_of(coro);
    if (!type.ok()) break;
    if (layout.gen.frame_state >= 0) {
      absl::StatusOr<int8_t> state =
          read_value<int8_t>(objects_.memory(), coro + layout.gen.frame_state);
      if (!state.ok() || *state == model.frame_cleared) break;
    }
    std::optional<Frame> frame = read_frame_(coro);
    if (!frame) break;
    stack.push_back(*std::move(frame));
    const uint64_t awaited = awaited_object(coro);
    absl::StatusOr<uint64_t> awaited_type = objects_.type_of(awaited);
    if (awaited == 0 || !awaited_type.ok() || *awaited_type != *type) break;
    coro = awaited;
  }
  std::reverse(stack.begin(), stack.end());
  return stack;
}

// _PyGen_yf() of the release: what the suspended coroutine awaits, or 0.
uint64_t AsyncioTaskReader::awaited_object(uint64_t coro) {
  const Layout& layout = objects_.layout();
  const AsyncioModel& model = objects_.release().asyncio;
  switch (model.awaited) {
    case AwaitedObject::kYieldFromOpcode:
      return awaited_after_yield_from(coro);
    case AwaitedObject::kResumeOparg:
      return awaited_after_resume(coro);
    case AwaitedObject::kFrameState:
      break;
  }
  absl::StatusOr<int8_t> state =
      read_value<int8_t>(objects_.memory(), coro + layout.gen.frame_state);
  if (!state.ok() ||
      (*state != model.suspended_yield_from && *state != model.suspended_yield_from_locked)) {
    return 0;
  }
  const uint64_t frame = coro + layout.gen.iframe;
  if (layout.iframe.stackpointer < 0) return top_of_interpreter_frame(frame);  // 3.13
  // 3.14+: near the top of the stack (stackpointer[-awaited_slot]), a tagged _PyStackRef.
  absl::StatusOr<uint64_t> pointer = objects_.read_pointer(frame + layout.iframe.stackpointer);
  const uint64_t below = 8 * static_cast<uint64_t>(model.awaited_slot);
  if (!pointer.ok() || (*pointer & ~kTagBits) < below) return 0;
  absl::StatusOr<uint64_t> top = objects_.read_pointer((*pointer & ~kTagBits) - below);
  if (!top.ok()) return 0;
  return decode_stack_ref(objects_.release(), *top).object & ~kTagBits;
}

// 3.11-3.13: localsplus[stacktop - 1].
uint64_t AsyncioTaskReader::top_of_interpreter_frame(uint64_t frame) {
  const Layout& layout = objects_.layout();
  absl::StatusOr<int32_t> stacktop =
      read_value<int32_t>(objects_.memory(), frame + layout.iframe.stacktop);
  if (!stacktop.ok() || *stacktop <= 0 || *stacktop > (1 << 20)) return 0;
  absl::StatusOr<uint64_t> top = objects_.read_pointer(frame + layout.iframe.localsplus +
                                                       8 * static_cast<uint64_t>(*stacktop - 1));
  return top.ok() ? *top : 0;
}

// 3.11, 3.12: suspended, and the next instruction is RESUME after an await (oparg 2 or 3).
uint64_t AsyncioTaskReader::awaited_after_resume(uint64_t coro) {
  const Layout& layout = objects_.layout();
  const AsyncioModel& model = objects_.release().asyncio;
  absl::StatusOr<int8_t> state =
      read_value<int8_t>(objects_.memory(), coro + layout.gen.frame_state);
  if (!state.ok() || *state != model.suspended_yield_from) return 0;
  const uint64_t frame = coro + layout.gen.iframe;
  absl::StatusOr<uint64_t> previous = objects_.read_pointer(frame + layout.iframe.instr);
  if (!previous.ok()) return 0;
  uint8_t next[2] = {0, 0};  // prev_instr[1]: opcode, oparg
  if (!objects_.memory().read(*previous + 2, next, 2).ok()) return 0;
  if (next[0] != model.resume_opcodes[0] && next[0] != model.resume_opcodes[1]) return 0;
  if (next[1] < 2) return 0;
  return top_of_interpreter_frame(frame);
}

// Up to 3.10: the instruction after f_lasti is YIELD_FROM; the awaited object is on top of the
// frame's value stack (f_stacktop up to 3.9, f_valuestack[f_stackdepth - 1] in 3.10).
uint64_t AsyncioTaskReader::awaited_after_yield_from(uint64_t coro) {
  const Layout& layout = objects_.layout();
  const AsyncioModel& model = objects_.release().asyncio;
  absl::StatusOr<uint64_t> frame = objects_.read_pointer(coro + layout.gen.frame);
  if (!frame.ok() || *frame == 0) return 0;
  absl::StatusOr<int32_t> lasti =
      read_value<int32_t>(objects_.memory(), *frame + layout.frame.lasti);
  absl::StatusOr<uint64_t> code = objects_.read_pointer(*frame + layout.frame.code);
  if (!lasti.ok() || !code.ok() || *lasti < 0 || *lasti > (1 << 28)) return 0;
  absl::StatusOr<uint64_t> bytecode = objects_.read_pointer(*code + layout.code.code);
  if (!bytecode.ok()) return 0;
  const bool units = layout.frame.stackdepth >= 0;  // 3.10: f_lasti counts code units
  const uint64_t next =
      units ? (static_cast<uint64_t>(*lasti) + 1) * 2 : static_cast<uint64_t>(*lasti) + 2;
  absl::StatusOr<int64_t> length =
      read_value<int64_t>(objects_.memory(), *bytecode + layout.object.var_size);
  if (!length.ok() || *length < 0 || next >= static_cast<uint64_t>(*length)) return 0;
  absl::StatusOr<uint8_t> opcode =
      read_value<uint8_t>(objects_.memory(), *bytecode + layout.bytes.sval + next);
  if (!opcode.ok() || *opcode != model.yield_from_opcode) return 0;
  if (units) {
    absl::StatusOr<uint64_t> values = objects_.read_pointer(*frame + layout.frame.valuestack);
    absl::StatusOr<int32_t> depth =
        read_value<int32_t>(objects_.memory(), *frame + layout.frame.stackdepth);
    if (!values.ok() || !depth.ok() || *depth <= 0 || *depth > (1 << 20)) return 0;
    absl::StatusOr<uint64_t> top =
        objects_.read_pointer(*values + 8 * static_cast<uint64_t>(*depth - 1));
    return top.ok() ? *top : 0;
  }
  absl::StatusOr<uint64_t> stacktop = objects_.read_pointer(*frame + layout.frame.stacktop);
  if (!stacktop.ok() || *stacktop < 8) return 0;
  absl::StatusOr<uint64_t> top = objects_.read_pointer(*stacktop - 8);
  return top.ok() ? *top : 0;
}

// task_awaited_by: one awaiter, or a set of them (task_awaited_by_is_set).
std::vector<TaskAwaiter> AsyncioTaskReader::awaiters(uint64_t task) {
  absl::StatusOr<uint64_t> awaited_by = objects_.read_pointer(task + offsets_->task.awaited_by);
  if (!awaited_by.ok() || (*awaited_by & ~kTagBits) == 0) return {};
  const uint64_t object = *awaited_by & ~kTagBits;
  absl::StatusOr<uint8_t> is_set =
      read_value<uint8_t>(objects_.memory(), task + offsets_->task.awaited_by_is_set);
  if (!is_set.ok()) return {};
  std::vector<uint64_t> ids;
  if (*is_set != 0) {
    bool cut = false;
    if (!dicts_.set_items(object, kMaxAwaiters, ids, cut).ok()) return {};
  } else {
    ids.push_back(object);
  }
  std::vector<TaskAwaiter> out;
  absl::flat_hash_set<uint64_t> seen;
  for (uint64_t id : ids) {
    if (seen.insert(id).second) out.push_back({id, task_coroutine_stack(id)});
  }
  return out;
}

}  // namespace pystack
