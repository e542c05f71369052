// AsyncioTaskReader (--tasks) for CPython 3.7 to 3.13, on fake processes held in memory: the
// tasks are the pending ones of asyncio.tasks' registries (3.7-3.11: the WeakSet _all_tasks;
// 3.12/3.13: the WeakSet _scheduled_tasks and the set _eager_tasks), found through
// interp->modules['asyncio.tasks'].__dict__ (src/cpython/asyncio_task_registry.cc).
//
// Each image is built for one release's Layout (find_layout(3, minor)) and its AsyncioModel: C
// tasks (_asyncio.Task, fields at the release's TaskObjectOffsets), pure-Python tasks (a heap
// type "Task" with an instance __dict__), loops whose __dict__['_thread_id'] names the thread
// that runs them, _GatheringFutures (nested), a TaskGroup (a child's fut_callback0 bound to it),
// and coroutines suspended in `await` as the release keeps them: up to 3.10 a gi_frame whose
// next instruction is YIELD_FROM and whose value stack holds the awaited object; 3.11/3.12 the
// embedded frame's prev_instr[1] a RESUME with oparg >= 2; 3.13 gi_frame_state
// FRAME_SUSPENDED_YIELD_FROM. The top of the stack holds the awaited coroutine.
//
// Instance dicts are plain dicts: at tp_dictoffset up to 3.10, in the managed-dict word before
// the object (MANAGED_DICT_OFFSET, -24) from 3.11. The frame reader is a stand-in that reports
// each coroutine's frame with code_address = the coroutine's address, so that the expected
// stacks follow from the image alone.
//
// Then hostile images (gathers holding themselves or each other, registries of impossible size,
// a WeakSet whose data is no set, loops with odd _thread_ids, self-awaiting tasks, coroutine
// cycles, the frame budget), and a deterministic fuzz of the image (fixed seeds).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "cpython/asyncio_tasks.h"
#include "cpython/dict.h"
#include "cpython/layout.h"
#include "cpython/objects.h"
#include "cpython/py_types.h"
#include "cpython/releases.h"
#include "fake_python_memory.h"

namespace pystack {
namespace {

using namespace pystack::testing;  // the fakes and helpers the --tasks tests share

constexpr int32_t kPending = 0, kFinished = 2;                          // fut_state
constexpr uint8_t kResume = 151;

const Layout& LayoutOf(int minor) {
  const Layout* layout = find_layout(3, minor);
  if (layout == nullptr) std::abort();
  return *layout;
}

// How these images were first laid out (see ImageStyle): objects packed in chunks, each with
// 32 bytes before it for the managed dict word; types with a tp_basicsize; neither a type's
// flags nor a str's length among the words the fuzz corrupts.
constexpr ImageStyle kStyle{.packed = true,
                            .type_name_at = 1600,
                            .type_basicsize = 48,
                            .fuzz_type_flags = false,
                            .fuzz_str_length = false};

// Writes objects of a 3.7-3.13 process and records the words and bytes a fuzz may corrupt.
class Builder : public ObjectWriter {
 public:
  Builder(FakeProcessMemory& memory, const Layout& layout)
      : ObjectWriter(memory, layout, kStyle),
        model_(release_of(layout).asyncio),
        minor_(layout.minor) {
    managed_ = minor_ >= 11;
    type_type_ = type("type", kTpFlagsType, 0);
    m_.put<uint64_t>(type_type_ + l_.object.type, type_type_);
    object_type_ = type("object", 0, 0);
    m_.put<uint64_t>(type_type_ + l_.type.base, object_type_);
    str_type_ = type("str", kTpFlagsUnicode);
    int_type_ = type("int", kTpFlagsLong);
    bytes_type_ = type("bytes", kTpFlagsBytes);
    dict_type_ = type("dict", kTpFlagsDict);
    list_type_ = type("list", kTpFlagsList);
    set_type_ = type("set", 0);
    none_type_ = type("NoneType", 0);
    module_type_ = type("module", 0);
    method_type_ = type("method", 0);
    coro_type_ = type("coroutine", 0);
    frame_type_ = type("frame", 0);
    code_type_ = type("code", 0);
    weakref_type_ = type("weakref.ReferenceType", 0);
    future_type_ = type("_asyncio.Future", 0);
    task_type_ = type("_asyncio.Task", 0, future_type_);
    gathering_type_ = heap_type("_GatheringFuture", future_type_);
    task_group_type_ = heap_type("TaskGroup");
    loop_type_ = heap_type("_UnixSelectorEventLoop");
    weakset_type_ = heap_type("WeakSet");
    py_future_type_ = heap_type("Future");
    py_task_type_ = heap_type("Task", py_future_type_);
    none_ = object(none_type_, 16);
    // A code object's bytecode for the coroutines: RESUME with oparg 3 (after `await`) as the
    // unit after prev_instr = code_units_, RESUME with oparg 1 (after `yield`) after
    // code_units_ + 4.
    code_units_ = raw(64);
    const uint8_t units[] = {0x97, 0, kResume, 3, kResume, 1, 0, 0};
    m_.write(code_units_, units, sizeof units);
    // Up to 3.10: bytecode with YIELD_FROM at 8 (3.10: code unit 4), something else at 2.
    if (minor_ <= 10) {
      bytecode_ = object(bytes_type_, l_.bytes.sval + 64);
      word(bytecode_ + l_.object.var_size, 16);
      const uint8_t ops[16] = {100, 0, 100, 0, 100, 0, 100, 0,
                               static_cast<uint8_t>(model_.yield_from_opcode), 0, 83, 0, 0, 0, 0, 0};
      m_.write(bytecode_ + l_.bytes.sval, ops, sizeof ops);
      code_ = object(code_type_, std::max<int64_t>(l_.code.code, 0) + 64);
      word(code_ + l_.code.code, bytecode_);
    }
  }

  // A Python class: its instances' __dict__ at tp_dictoffset 16 (up to 3.10), or managed.
  uint64_t heap_type(const std::string& name, uint64_t base = ~uint64_t{0}) {
    const uint64_t t = type(name, kTpFlagsHeapType | (managed_ ? kTpFlagsManagedDict : 0), base);
    m_.put<int64_t>(t + l_.type.dictoffset, managed_ ? -1 : 16);
    return t;
  }

  // A set of `keys` in a table of mask + 1 entries {key, hash}, a deleted entry at slot 0.
  uint64_t set(const std::vector<uint64_t>& keys) {
    uint64_t slots = 8;
    while (slots < keys.size() * 2 + 2) slots *= 2;
    const uint64_t s = object(set_type_, l_.set.table + 64);
    const uint64_t table = m_.allocate(slots * l_.set_entry.size);
    word(s + l_.set.used, keys.size());
    word(s + l_.set.mask, slots - 1);
    word(s + l_.set.table, table);
    const int64_t hash = l_.set_entry.key == 0 ? 8 : 0;
    m_.put<uint64_t>(table + l_.set_entry.key, 0x7e57d0000);  // the dummy key
    m_.put<uint64_t>(table + hash, ~uint64_t{0});
    for (size_t i = 0; i < keys.size(); ++i) {
      const uint64_t entry = table + (1 + 2 * i) * l_.set_entry.size;
      word(entry + l_.set_entry.key, keys[i]);
      m_.put<uint64_t>(entry + hash, 0x1234 + i);
    }
    return s;
  }

  // An instance of a Python class with `items` in its __dict__.
  uint64_t instance(uint64_t type, const std::vector<std::pair<std::string, uint64_t>>& items) {
    const uint64_t o = object(type, 64);
    set_dict(o, dict(items));
    return o;
  }
  void set_dict(uint64_t o, uint64_t d) { word(managed_ ? o - 24 : o + 16, d); }
  uint64_t dict_of_instance(uint64_t o) const { return m_.get<uint64_t>(managed_ ? o - 24 : o + 16); }

  uint64_t weakref(uint64_t referent) {
    const uint64_t w = object(weakref_type_, 48);
    word(w + 16, referent);
    return w;
  }
  // A weakref.WeakSet of `referents` (each through a weakref; None for a dead one).
  uint64_t weakset(const std::vector<uint64_t>& referents) {
    std::vector<uint64_t> refs;
    for (uint64_t r : referents) refs.push_back(weakref(r));
    return instance(weakset_type_, {{"data", set(refs)}});
  }

  uint64_t loop(std::optional<uint64_t> thread_id) {
    return instance(loop_type_, {{"_thread_id", thread_id ? integer(*thread_id) : none_},
                                 {"_stopping", none_}});
  }

  // A C Task in `state` (fields at the release's TaskObjectOffsets).
  uint64_t task(uint64_t loop, uint64_t name, uint64_t coro, uint64_t fut_waiter = 0,
                int32_t state = kPending, uint64_t callback0 = 0) {
    const TaskObjectOffsets& c = model_.task;
    const uint64_t t = object(task_type_, 256);
    word(t + c.loop, loop);
    word(t + c.callback0, callback0);
    m_.put<int32_t>(t + c.state, state);
    field_byte(t + c.state);
    word(t + c.fut_waiter, fut_waiter);
    word(t + c.coro, coro);
    if (c.name >= 0) word(t + c.name, name);
    return t;
  }
  // A pure-Python asyncio.Task.
  uint64_t py_task(uint64_t loop, const std::string& name, uint64_t coro, uint64_t fut_waiter,
                   const std::string& state = "PENDING") {
    return instance(py_task_type_, {{"_state", str(state)},
                                    {"_loop", loop},
                                    {"_fut_waiter", fut_waiter ? fut_waiter : none_},
                                    {"_coro", coro},
                                    {"_name", str(name)}});
  }
  uint64_t future() { return object(future_type_, 256); }
  uint64_t gathering(const std::vector<uint64_t>& children) {
    return instance(gathering_type_, {{"_children", list(children)}});
  }
  // TaskGroup(parent) and the bound method TaskGroup._on_task_done its children call back.
  uint64_t group_callback(uint64_t parent) {
    const uint64_t group = instance(task_group_type_, {{"_parent_task", parent}});
    const uint64_t method = object(method_type_, 64);
    word(method + l_.method.func, none_);
    word(method + l_.method.self, group);
    return method;
  }

  // A coroutine suspended in `await` on `awaited` (0: suspended at a `yield`, awaiting nothing).
  uint64_t coroutine(uint64_t awaited) {
    const uint64_t c = object(coro_type_, 0x300);
    set_awaited(c, awaited);
    return c;
  }
  void set_awaited(uint64_t c, uint64_t awaited) {
    if (minor_ <= 10) {
      uint64_t frame = m_.get<uint64_t>(c + l_.gen.frame);
      if (frame == 0) {
        frame = object(frame_type_, 1024);
        word(c + l_.gen.frame, frame);
        word(frame + l_.frame.code, code_);
      }
      // f_lasti: the instruction before YIELD_FROM (at byte 8), or before a LOAD_CONST.
      const int32_t lasti_bytes = awaited != 0 ? 6 : 0;
      m_.put<int32_t>(frame + l_.frame.lasti, minor_ == 10 ? lasti_bytes / 2 : lasti_bytes);
      field_byte(frame + l_.frame.lasti);
      const uint64_t values = frame + 768;
      word(values, awaited != 0 ? awaited : none_);
      if (minor_ == 10) {
        word(frame + l_.frame.valuestack, values);
        m_.put<int32_t>(frame + l_.frame.stackdepth, 1);
        field_byte(frame + l_.frame.stackdepth);
      } else {
        word(frame + l_.frame.stacktop, values + 8);
      }
      return;
    }
    const uint64_t iframe = c + l_.gen.iframe;
    if (minor_ == 13) {
      m_.put<int8_t>(c + l_.gen.frame_state, awaited != 0 ? -1 : -2);  // SUSPENDED(_YIELD_FROM)
      word(iframe + l_.iframe.instr, code_units_ + 2);
    } else {
      m_.put<int8_t>(c + l_.gen.frame_state, -1);  // FRAME_SUSPENDED
      word(iframe + l_.iframe.instr, awaited != 0 ? code_units_ : code_units_ + 2);
    }
    field_byte(c + l_.gen.frame_state);
    m_.put<int32_t>(iframe + l_.iframe.stacktop, 1);
    field_byte(iframe + l_.iframe.stacktop);
    word(iframe + l_.iframe.localsplus, awaited != 0 ? awaited : none_);
  }

  // interp->modules = {'asyncio.tasks': <module>} with the release's registries in its dict.
  uint64_t interpreter(const std::vector<std::pair<std::string, uint64_t>>& globals) {
    const uint64_t module = object(module_type_, 128);
    word(module + l_.module.dict, dict(globals));
    const uint64_t modules = dict({{"sys", none_}, {"asyncio.tasks", module}});
    const uint64_t interp = m_.allocate(std::max<int64_t>(l_.interp.modules + 64, 4096));
    word(interp + l_.interp.modules, modules);
    return interp;
  }

  uint64_t none() const { return none_; }
  uint64_t coro_type() const { return coro_type_; }
  uint64_t gathering_type() const { return gathering_type_; }
  uint64_t code_units() const { return code_units_; }

 private:
  const AsyncioModel& model_;
  int64_t minor_;
  bool managed_ = false;
  uint64_t bytes_type_ = 0, set_type_ = 0, none_type_ = 0, module_type_ = 0, method_type_ = 0,
           coro_type_ = 0, frame_type_ = 0, code_type_ = 0, weakref_type_ = 0, future_type_ = 0,
           task_type_ = 0, gathering_type_ = 0, task_group_type_ = 0, loop_type_ = 0,
           weakset_type_ = 0, py_future_type_ = 0, py_task_type_ = 0;
  uint64_t none_ = 0, code_units_ = 0, bytecode_ = 0, code_ = 0;
};

// The process every test starts from (one release):
//   loop L1 runs in the main thread B (_thread_id = B's ident); loop L2 runs nowhere (None);
//   thread A (newest) runs no loop.
//   On L1: T1 "main"     C1 -> C2 -> C3 -> F (a Future); fut_waiter G1 = gather(T2, G2),
//                        G2 = gather(T3, T4)
//          T2 Task-2     C4 (suspended at a yield); fut_waiter T5
//          T3 Task-3     C5;  T4 "worker" C6;  T5 "leaf" C7
//          T6 "tg-parent" C8; T7 "tg-child" C11, its callback0 TaskGroup(T6)._on_task_done
//          TF finished (state 2): left out
//   On L2: P1 "py-task"  a pure-Python Task, C9;  PF a finished pure-Python Task: left out
//          T9 Task-9     C10; fut_waiter P1
//   Registries: up to 3.11 _all_tasks = WeakSet{every task, a dead weakref (None)}; 3.12+
//   _scheduled_tasks = WeakSet{all but T7 and P1, a dead weakref}, _eager_tasks = {T7, P1, T1}.
struct Scene {
  explicit Scene(int minor) : layout(LayoutOf(minor)) {}
  FakeProcessMemory memory;
  const Layout& layout;
  std::unique_ptr<Builder> builder;
  uint64_t interp = 0, loop1 = 0, loop2 = 0;
  uint64_t t1 = 0, t2 = 0, t3 = 0, t4 = 0, t5 = 0, t6 = 0, t7 = 0, t9 = 0, tf = 0, p1 = 0,
           pf = 0;
  uint64_t c1 = 0, c2 = 0, c3 = 0, c4 = 0, c5 = 0, c6 = 0, c7 = 0, c8 = 0, c9 = 0, c10 = 0,
           c11 = 0, f = 0, g1 = 0, g2 = 0;
  uint64_t registry = 0, eager = 0;  // _all_tasks / _scheduled_tasks, _eager_tasks
  std::vector<Thread> threads;
};

std::unique_ptr<Scene> BuildScene(int minor) {
  auto s = std::make_unique<Scene>(minor);
  s->builder = std::make_unique<Builder>(s->memory, s->layout);
  Builder& b = *s->builder;
  s->loop1 = b.loop(kIdentB);
  s->loop2 = b.loop(std::nullopt);
  s->f = b.future();
  s->c3 = b.coroutine(s->f);
  s->c2 = b.coroutine(s->c3);
  s->c1 = b.coroutine(s->c2);
  s->c4 = b.coroutine(0);
  for (uint64_t* c : {&s->c5, &s->c6, &s->c7, &s->c8, &s->c9, &s->c10, &s->c11}) {
    *c = b.coroutine(s->f);
  }
  // Tasks in address order T1 < T2 < ... (the reader lists each loop's tasks by address).
  s->t1 = b.task(s->loop1, b.str("main"), s->c1);
  s->t2 = b.task(s->loop1, b.integer(2), s->c4);
  s->t3 = b.task(s->loop1, b.integer(3), s->c5);
  s->t4 = b.task(s->loop1, b.str("worker"), s->c6);
  s->t5 = b.task(s->loop1, b.str("leaf"), s->c7);
  s->t6 = b.task(s->loop1, b.str("tg-parent"), s->c8);
  s->t7 = b.task(s->loop1, b.str("tg-child"), s->c11, 0, kPending, b.group_callback(s->t6));
  s->tf = b.task(s->loop1, b.str("finished"), s->c4, s->t1, kFinished);
  s->p1 = b.py_task(s->loop2, "py-task", s->c9, 0);
  s->pf = b.py_task(s->loop2, "py-finished", s->c9, s->p1, "FINISHED");
  s->t9 = b.task(s->loop2, b.integer(9), s->c10, s->p1);
  s->g2 = b.gathering({s->t3, s->t4});
  s->g1 = b.gathering({s->t2, s->g2});
  b.word(s->t1 + release_of(s->layout).asyncio.task.fut_waiter, s->g1);
  b.word(s->t2 + release_of(s->layout).asyncio.task.fut_waiter, s->t5);

  if (minor >= 12) {
    s->registry = b.weakset({s->t9, s->t1, s->t2, b.none(), s->t3, s->t4, s->t5, s->t6, s->tf, s->pf});
    s->eager = b.set({s->t7, s->p1, s->t1});
    s->interp = b.interpreter({{"__name__", b.str("asyncio.tasks")},
                               {"_scheduled_tasks", s->registry},
                               {"_eager_tasks", s->eager}});
  } else {
    s->registry = b.weakset({s->t9, s->t1, s->t2, b.none(), s->t3, s->t4, s->t5, s->t6, s->t7,
                             s->tf, s->p1, s->pf});
    s->interp = b.interpreter({{"__name__", b.str("asyncio.tasks")}, {"_all_tasks", s->registry}});
  }
  Thread a, main;
  a.thread_id = kIdentA;
  a.native_thread_id = kNativeIdA;
  main.thread_id = kIdentB;
  main.native_thread_id = kNativeIdB;
  s->threads = {a, main};  // newest first
  return s;
}

AsyncioTasks Read(const FakeProcessMemory& memory, const Layout& layout, uint64_t interp,
                  const std::vector<Thread>& threads, ReadStats* stats = nullptr) {
  // The stand-in frame reader: a coroutine's frame at the coroutine's own address.
  return ReadTasks(
      memory, layout, interp, threads, std::nullopt,
      [&](uint64_t coroutine) -> std::optional<Frame> {
        if (!memory.mapped(coroutine)) return std::nullopt;
        Frame out;
        out.code_address = coroutine;
        return out;
      },
      stats);
}

AsyncioTasks Read(const Scene& s, ReadStats* stats = nullptr) {
  return Read(s.memory, s.layout, s.interp, s.threads, stats);
}

// The frames of these coroutines, as the stand-in frame reader shows them.
std::vector<Frame> Frames(std::initializer_list<uint64_t> coroutines) { return FramesAt(coroutines); }

// A loop's tasks as the reader lists them: by address.
std::vector<AsyncioTask> ById(std::vector<AsyncioTask> tasks) {
  std::sort(tasks.begin(), tasks.end(),
            [](const AsyncioTask& a, const AsyncioTask& b) { return a.id < b.id; });
  return tasks;
}

// What the intact scene must read as.
AsyncioTasks Expected(const Scene& s) {
  const bool names = s.layout.minor >= 8;  // 3.7's TaskObj has no name
  auto name = [&](const char* n) { return names ? std::string(n) : std::string(); };
  const std::vector<Frame> t1_stack = Frames({s.c3, s.c2, s.c1});  // most recent call first
  AsyncioTasks e;
  e.lists.push_back(List(kNativeIdB, kIdentB, true,
                         ById({Task(s.t1, name("main"), t1_stack),
                          Task(s.t2, name("Task-2"), Frames({s.c4}), {{s.t1, t1_stack}}),
                          Task(s.t3, name("Task-3"), Frames({s.c5}), {{s.t1, t1_stack}}),
                          Task(s.t4, name("worker"), Frames({s.c6}), {{s.t1, t1_stack}}),
                          Task(s.t5, name("leaf"), Frames({s.c7}), {{s.t2, Frames({s.c4})}}),
                          Task(s.t6, name("tg-parent"), Frames({s.c8})),
                          Task(s.t7, name("tg-child"), Frames({s.c11}), {{s.t6, Frames({s.c8})}})})));
  // The pure-Python task's name is its __dict__['_name'] in every release.
  e.lists.push_back(List(0, 0, false,
                         ById({Task(s.p1, "py-task", Frames({s.c9}), {{s.t9, Frames({s.c10})}}),
                               Task(s.t9, name("Task-9"), Frames({s.c10}))})));
  return e;
}

// The reader's own bounds hold everywhere in `tasks`.
void ExpectWithinBounds(const AsyncioTasks& tasks, size_t max_lists) {
  ExpectBounded(tasks, max_lists, 2 * kMaxTasksPerList, kMaxTaskFrames + kMaxCoroutineChain);
}

std::vector<uint64_t> Awaiters(const AsyncioTasks& tasks, uint64_t id) {
  std::vector<uint64_t> out;
  if (const AsyncioTask* t = FindTask(tasks, id)) {
    for (const TaskAwaiter& a : t->awaited_by) out.push_back(a.task_id);
  }
  return out;
}

class AsyncioTaskRegistry : public ::testing::TestWithParam<int> {};

std::string MinorName(const ::testing::TestParamInfo<int>& info) {
  return absl::StrFormat("Py3_%d", info.param);
}

INSTANTIATE_TEST_SUITE_P(Releases, AsyncioTaskRegistry, ::testing::Values(7, 8, 9, 10, 11, 12, 13),
                         MinorName);

// The large images: one release of each coroutine model that matters most (3.9, 3.12).
class AsyncioTaskRegistryHeavy : public ::testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Releases, AsyncioTaskRegistryHeavy, ::testing::Values(9, 12), MinorName);

// --- The intact process ---------------------------------------------------------------------

TEST(AsyncioTaskRegistryModel, ReleasesUseTheRegistries) {
  for (int minor = 7; minor <= 13; ++minor) {
    const Layout& l = LayoutOf(minor);
    const Release& r = release_of(l);
    EXPECT_EQ(r.asyncio.registry, TaskRegistry::kModuleGlobals) << minor;
    EXPECT_TRUE(has_object_layout(l)) << minor;
    EXPECT_GE(l.interp.modules, 0) << minor;
    EXPECT_GE(l.module.dict, 0) << minor;
    EXPECT_GE(l.list.items, 0) << minor;
    EXPECT_GE(l.method.self, 0) << minor;
    if (minor <= 10) {
      EXPECT_GE(l.gen.frame, 0) << minor;
      EXPECT_GE(l.frame.lasti, 0) << minor;
      EXPECT_GE(l.code.code, 0) << minor;
      EXPECT_GE(l.bytes.sval, 0) << minor;
      EXPECT_GE(minor == 10 ? l.frame.stackdepth : l.frame.stacktop, 0) << minor;
    } else {
      EXPECT_GE(l.gen.iframe, 0) << minor;
      EXPECT_GE(l.gen.frame_state, 0) << minor;
      EXPECT_GE(l.iframe.instr, 0) << minor;
      EXPECT_GE(l.iframe.stacktop, 0) << minor;
      EXPECT_GE(l.iframe.localsplus, 0) << minor;
    }
  }
}

TEST_P(AsyncioTaskRegistry, ReadsTheIntactProcess) {
  std::unique_ptr<Scene> s = BuildScene(GetParam());
  ReadStats stats;
  const AsyncioTasks tasks = Read(*s, &stats);
  EXPECT_EQ(Describe(tasks), Describe(Expected(*s)));
  EXPECT_FALSE(tasks.walk_error);
  EXPECT_FALSE(tasks.unavailable);
  // Each task's chain once (awaiters' stacks are copies): T1's three, then C4..C11 one each.
  EXPECT_EQ(stats.frame_reads, 3u + 8);
}

TEST_P(AsyncioTaskRegistry, NoAsyncioTasksModuleIsUnavailable) {
  std::unique_ptr<Scene> s = BuildScene(GetParam());
  Builder& b = *s->builder;
  const Layout& l = s->layout;
  // sys.modules without asyncio.tasks.
  b.word(s->interp + l.interp.modules, b.dict({{"sys", b.none()}}));
  AsyncioTasks tasks = Read(*s);
  EXPECT_TRUE(tasks.unavailable);
  EXPECT_TRUE(tasks.lists.empty());
  // interp->modules NULL.
  b.word(s->interp + l.interp.modules, 0);
  tasks = Read(*s);
  EXPECT_TRUE(tasks.unavailable);
  // asyncio.tasks is no module (None).
  b.word(s->interp + l.interp.modules, b.dict({{"asyncio.tasks", b.none()}}));
  tasks = Read(*s);
  EXPECT_TRUE(tasks.unavailable);
  EXPECT_TRUE(tasks.lists.empty());
  // sys.modules unreadable: an error, not "unavailable".
  b.word(s->interp + l.interp.modules, kUnmapped);
  tasks = Read(*s);
  EXPECT_FALSE(tasks.unavailable);
  EXPECT_TRUE(tasks.walk_error);
  EXPECT_TRUE(tasks.lists.empty());
}

TEST_P(AsyncioTaskRegistry, NoThreadsPutsEveryTaskInTheUnplacedList) {
  std::unique_ptr<Scene> s = BuildScene(GetParam());
  const AsyncioTasks tasks = Read(s->memory, s->layout, s->interp, {});
  ASSERT_EQ(tasks.lists.size(), 1u);
  EXPECT_EQ(tasks.lists[0].thread_id, 0u);
  EXPECT_EQ(tasks.lists[0].thread_ident, 0u);
  EXPECT_EQ(tasks.lists[0].tasks.size(), 9u);
}

TEST_P(AsyncioTaskRegistry, LoopInTheNewestThread) {
  std::unique_ptr<Scene> s = BuildScene(GetParam());
  Builder& b = *s->builder;
  // L2 now runs in thread A: its list comes first (threads newest first), not the main thread's.
  b.set_dict(s->loop2, b.dict({{"_thread_id", b.integer(kIdentA)}}));
  const AsyncioTasks tasks = Read(*s);
  ASSERT_EQ(tasks.lists.size(), 2u);
  EXPECT_EQ(tasks.lists[0].thread_id, kNativeIdA);
  EXPECT_EQ(tasks.lists[0].thread_ident, kIdentA);
  EXPECT_FALSE(tasks.lists[0].main_thread);
  ASSERT_EQ(tasks.lists[0].tasks.size(), 2u);
  EXPECT_EQ(tasks.lists[0].tasks[0].id, std::min(s->p1, s->t9));
  EXPECT_EQ(tasks.lists[1].thread_id, kNativeIdB);
  EXPECT_TRUE(tasks.lists[1].main_thread);
  EXPECT_EQ(tasks.lists[1].tasks.size(), 7u);
}

// A thread whose ident is 0 (not known) never takes the tasks of loops that run nowhere.
TEST_P(AsyncioTaskRegistry, ThreadWithoutIdentTakesNoTasks) {
  std::unique_ptr<Scene> s = BuildScene(GetParam());
  s->threads[0].thread_id = 0;
  const AsyncioTasks tasks = Read(*s);
  EXPECT_EQ(Describe(tasks), Describe(Expected(*s)));
}

// Only the pending tasks: every finished one (C or Python) is left out, and so is a dead weakref.
TEST_P(AsyncioTaskRegistry, FinishedTasksAreLeftOut) {
  std::unique_ptr<Scene> s = BuildScene(GetParam());
  const Release& r = release_of(s->layout);
  s->memory.put<int32_t>(s->t5 + r.asyncio.task.state, 1);  // CANCELLED
  const AsyncioTasks tasks = Read(*s);
  EXPECT_EQ(FindTask(tasks, s->t5), nullptr);
  EXPECT_EQ(FindTask(tasks, s->tf), nullptr);
  EXPECT_EQ(FindTask(tasks, s->pf), nullptr);
  EXPECT_NE(FindTask(tasks, s->t2), nullptr);
  EXPECT_TRUE(Awaiters(tasks, s->t2) == std::vector<uint64_t>{s->t1});
}

// A pure-Python Task whose _state is still the class attribute (no '_state' in __dict__) is
// pending; one whose _state is no str is not.
TEST_P(AsyncioTaskRegistry, PythonTaskStateFromTheClass) {
  std::unique_ptr<Scene> s = BuildScene(GetParam());
  Builder& b = *s->builder;
  b.set_dict(s->p1, b.dict({{"_loop", s->loop2}, {"_coro", s->c9}, {"_name", b.str("py-task")}}));
  b.set_dict(s->pf, b.dict({{"_state", b.integer(0)}, {"_loop", s->loop2}}));
  const AsyncioTasks tasks = Read(*s);
  EXPECT_EQ(Describe(tasks), Describe(Expected(*s)));
}

// --- Hostile memory -------------------------------------------------------------------------

// A gather that holds itself, and two gathers that hold each other, each with many children:
// each gather is followed once per awaiter, each child awaited once by it.
TEST_P(AsyncioTaskRegistry, GathersHoldingThemselvesOrEachOther) {
  std::unique_ptr<Scene> s = BuildScene(GetParam());
  Builder& b = *s->builder;
  constexpr size_t kChildren = 20000;
  // G1 = gather(T2, G1, T3 x many, G2); G2 = gather(T4, G1, G2, T5 x many).
  std::vector<uint64_t> one{s->t2, s->g1}, two{s->t4, s->g1, s->g2};
  for (size_t i = 0; i < kChildren; ++i) {
    one.push_back(s->t3);
    two.push_back(s->t5);
  }
  one.push_back(s->g2);
  b.set_dict(s->g1, b.dict({{"_children", b.list(one)}}));
  b.set_dict(s->g2, b.dict({{"_children", b.list(two)}}));
  const auto start = std::chrono::steady_clock::now();
  const AsyncioTasks tasks = Read(*s);
  EXPECT_LT(Seconds(start), 2.0);
  ExpectWithinBounds(tasks, 3);
  EXPECT_FALSE(tasks.walk_error);
  for (uint64_t t : {s->t2, s->t3, s->t4}) {
    EXPECT_EQ(Awaiters(tasks, t), std::vector<uint64_t>{s->t1}) << std::hex << t;
  }
  EXPECT_EQ(Awaiters(tasks, s->t5), (std::vector<uint64_t>{s->t1, s->t2}));
}

// A chain of gathers deeper than kMaxGatherings (1024) is cut, not followed to its end.
TEST_P(AsyncioTaskRegistry, DeeplyNestedGathersAreCut) {
  std::unique_ptr<Scene> s = BuildScene(GetParam());
  Builder& b = *s->builder;
  uint64_t inner = b.gathering({s->t4});
  for (int i = 0; i < 3000; ++i) inner = b.gathering({inner});
  b.set_dict(s->g1, b.dict({{"_children", b.list({s->t2, inner})}}));
  const AsyncioTasks tasks = Read(*s);
  ExpectWithinBounds(tasks, 3);
  EXPECT_EQ(Awaiters(tasks, s->t2), std::vector<uint64_t>{s->t1});
  EXPECT_TRUE(Awaiters(tasks, s->t4).empty());
  EXPECT_EQ(Describe(Read(*s)), Describe(tasks));  // deterministic
}

TEST_P(AsyncioTaskRegistry, OddGatherChildren) {
  std::unique_ptr<Scene> s = BuildScene(GetParam());
  Builder& b = *s->builder;
  const Layout& l = s->layout;
  // _children: a list whose size is huge (its items past the block), negative, or no list.
  const uint64_t huge = b.list({s->t2, s->g2});
  s->memory.put<int64_t>(huge + l.object.var_size, int64_t{1} << 40);
  b.set_dict(s->g1, b.dict({{"_children", huge}}));
  AsyncioTasks tasks = Read(*s);
  ExpectWithinBounds(tasks, 3);
  s->memory.put<int64_t>(huge + l.object.var_size, -3);
  tasks = Read(*s);
  EXPECT_TRUE(Awaiters(tasks, s->t2).empty());
  b.set_dict(s->g1, b.dict({{"_children", s->t2}}));
  tasks = Read(*s);
  EXPECT_TRUE(Awaiters(tasks, s->t2).empty());
  // Children that are unmapped, NULL, or None.
  b.set_dict(s->g1, b.dict({{"_children", b.list({kUnmapped, 0, b.none(), s->t2})}}));
  tasks = Read(*s);
  EXPECT_EQ(Awaiters(tasks, s->t2), std::vector<uint64_t>{s->t1});
  // A gather without __dict__.
  b.set_dict(s->g1, 0);
  tasks = Read(*s);
  EXPECT_TRUE(Awaiters(tasks, s->t2).empty());
  EXPECT_EQ(tasks.lists.size(), 2u);
}

TEST_P(AsyncioTaskRegistry, RegistriesOfImpossibleSize) {
  const Layout& l = LayoutOf(GetParam());
  struct Case {
    int64_t mask, used;
  };
  for (const Case c : {Case{(int64_t{1} << 40) - 1, 2}, Case{15, int64_t{1} << 40}, Case{-1, 2},
                       Case{6, 2}, Case{15, -5}, Case{15, 17}, Case{int64_t{1} << 24, 2},
                       Case{(int64_t{1} << 24) - 1, 2}, Case{(int64_t{1} << 24) - 1, int64_t{1} << 24}}) {
    std::unique_ptr<Scene> s = BuildScene(GetParam());
    Builder& b = *s->builder;
    const uint64_t data = b.dict_of_instance(s->registry);
    // The WeakSet's data set, and (3.12+) the eager set.
    const uint64_t weak_data = [&] {
      ObjectReader objects(s->memory, l);
      DictReader dicts(objects);
      return dicts.find(data, "data")->value_or(0);
    }();
    ASSERT_NE(weak_data, 0u);
    for (uint64_t set : {weak_data, s->eager}) {
      if (set == 0) continue;
      s->memory.put<int64_t>(set + l.set.mask, c.mask);
      s->memory.put<int64_t>(set + l.set.used, c.used);
    }
    const auto start = std::chrono::steady_clock::now();
    const AsyncioTasks tasks = Read(*s);
    EXPECT_LT(Seconds(start), 3.0) << c.mask << " " << c.used;
    ExpectWithinBounds(tasks, 3);
    EXPECT_FALSE(tasks.unavailable);
  }
}

// A registry set larger than kMaxTasksPerList: read up to the bound.
TEST_P(AsyncioTaskRegistry, RegistryLargerThanTheBound) {
  std::unique_ptr<Scene> s = BuildScene(GetParam());
  Builder& b = *s->builder;
  const Layout& l = s->layout;
  const int64_t slots = int64_t{1} << 17;
  const uint64_t table = s->memory.allocate(slots * l.set_entry.size);
  const uint64_t ref = b.weakref(s->t3);
  for (int64_t i = 0; i < slots; ++i) {
    s->memory.put<uint64_t>(table + i * l.set_entry.size + l.set_entry.key, ref);
    s->memory.put<uint64_t>(table + i * l.set_entry.size + 8 - l.set_entry.key, 7);
  }
  const uint64_t data = b.set({});
  s->memory.put<uint64_t>(data + l.set.table, table);
  s->memory.put<int64_t>(data + l.set.mask, slots - 1);
  s->memory.put<int64_t>(data + l.set.used, slots);
  b.set_dict(s->registry, b.dict({{"data", data}}));
  const auto start = std::chrono::steady_clock::now();
  const AsyncioTasks tasks = Read(*s);
  EXPECT_LT(Seconds(start), 2.0);
  ExpectWithinBounds(tasks, 3);
  ASSERT_NE(FindTask(tasks, s->t3), nullptr);
  size_t count = 0;
  for (const AsyncioTaskList& list : tasks.lists) count += list.tasks.size();
  EXPECT_EQ(count, GetParam() >= 12 ? 4u : 1u);  // T3, and the eager set's T7, P1 and T1
}

TEST_P(AsyncioTaskRegistry, WeakSetWhoseDataIsNoSet) {
  std::unique_ptr<Scene> s = BuildScene(GetParam());
  Builder& b = *s->builder;
  const bool eager = GetParam() >= 12;
  const size_t others = eager ? 3 : 0;  // T7, P1 and T1 of the eager set
  for (uint64_t data : {b.dict({{"x", s->t1}}), b.integer(5), uint64_t{kUnmapped}, uint64_t{0},
                        s->registry, b.list({s->t1, s->t2}), b.none()}) {
    b.set_dict(s->registry, b.dict({{"data", data}}));
    const AsyncioTasks tasks = Read(*s);
    ExpectWithinBounds(tasks, 3);
    size_t count = 0;
    for (const AsyncioTaskList& list : tasks.lists) count += list.tasks.size();
    EXPECT_EQ(count, others) << std::hex << data;
  }
  // The WeakSet without __dict__, a set of non-weakrefs (tasks themselves: each "referent" is
  // the word at +16 of a task, its fut_loop), and the registry global that is None.
  b.set_dict(s->registry, 0);
  EXPECT_EQ(Read(*s).lists.size(), eager ? 2u : 0u);
  b.set_dict(s->registry, b.dict({{"data", b.set({s->t1, s->t2})}}));
  ExpectWithinBounds(Read(*s), 3);
}

TEST_P(AsyncioTaskRegistry, LoopsWithOddThreadIds) {
  std::unique_ptr<Scene> s = BuildScene(GetParam());
  Builder& b = *s->builder;
  const Layout& l = s->layout;
  const uint64_t big = b.integer(5);  // made 2^60 * 2^30 + ...: three digits, the top one large
  b.set_int_size(big, 3, false);
  s->memory.put<uint32_t>(big + l.long_object.digits + 8, (1u << 29) | 1);
  for (uint64_t id : {b.integer(kIdentB, /*negative=*/true), big, b.str("B"), b.none(),
                      uint64_t{kUnmapped}, s->loop1, b.integer(0)}) {
    b.set_dict(s->loop1, b.dict({{"_thread_id", id}}));
    const AsyncioTasks tasks = Read(*s);
    ExpectWithinBounds(tasks, 3);
    // Every task runs nowhere now: one list, thread 0.
    ASSERT_EQ(tasks.lists.size(), 1u) << std::hex << id;
    EXPECT_EQ(tasks.lists[0].thread_id, 0u);
    EXPECT_EQ(tasks.lists[0].tasks.size(), 9u);
  }
  // A loop that is unmapped, NULL, or the task itself.
  const Release& r = release_of(l);
  s->memory.put<uint64_t>(s->t1 + r.asyncio.task.loop, kUnmapped);
  s->memory.put<uint64_t>(s->t2 + r.asyncio.task.loop, 0);
  s->memory.put<uint64_t>(s->t3 + r.asyncio.task.loop, s->t3);
  ExpectWithinBounds(Read(*s), 3);
}

TEST_P(AsyncioTaskRegistry, TaskAwaitingItselfOrEachOther) {
  std::unique_ptr<Scene> s = BuildScene(GetParam());
  const Release& r = release_of(s->layout);
  const int64_t waiter = r.asyncio.task.fut_waiter;
  s->memory.put<uint64_t>(s->t3 + waiter, s->t3);
  s->memory.put<uint64_t>(s->t4 + waiter, s->t5);
  s->memory.put<uint64_t>(s->t5 + waiter, s->t4);
  const AsyncioTasks tasks = Read(*s);
  ExpectWithinBounds(tasks, 3);
  EXPECT_FALSE(tasks.walk_error);
  EXPECT_EQ(Awaiters(tasks, s->t3), (std::vector<uint64_t>{s->t1, s->t3}));
  EXPECT_EQ(Awaiters(tasks, s->t4), (std::vector<uint64_t>{s->t1, s->t5}));
  EXPECT_EQ(Awaiters(tasks, s->t5), (std::vector<uint64_t>{s->t2, s->t4}));
}

TEST_P(AsyncioTaskRegistry, CoroutineCycles) {
  std::unique_ptr<Scene> s = BuildScene(GetParam());
  Builder& b = *s->builder;
  b.set_awaited(s->c3, s->c1);  // C1 -> C2 -> C3 -> C1
  b.set_awaited(s->c5, s->c5);  // awaits itself
  const AsyncioTasks tasks = Read(*s);
  ExpectWithinBounds(tasks, 3);
  EXPECT_FALSE(tasks.walk_error);
  EXPECT_EQ(DescribeStack(FindTask(tasks, s->t1)->coroutine_stack),
            DescribeStack(Frames({s->c3, s->c2, s->c1})));
  EXPECT_EQ(DescribeStack(FindTask(tasks, s->t3)->coroutine_stack), DescribeStack(Frames({s->c5})));
}

// A chain longer than kMaxCoroutineChain is cut at the bound.
TEST_P(AsyncioTaskRegistry, LongCoroutineChainIsCut) {
  std::unique_ptr<Scene> s = BuildScene(GetParam());
  Builder& b = *s->builder;
  uint64_t inner = s->f;
  for (size_t i = 0; i < kMaxCoroutineChain + 500; ++i) inner = b.coroutine(inner);
  b.set_awaited(s->c6, inner);
  const AsyncioTasks tasks = Read(*s);
  ExpectWithinBounds(tasks, 3);
  EXPECT_EQ(FindTask(tasks, s->t4)->coroutine_stack.size(), kMaxCoroutineChain);
  EXPECT_EQ(FindTask(tasks, s->t4)->coroutine_stack.back().code_address, s->c6);
}

// The awaited object of each release's model, told apart from what is not `await`.
TEST_P(AsyncioTaskRegistry, WhatACoroutineAwaits) {
  const int minor = GetParam();
  std::unique_ptr<Scene> s = BuildScene(minor);
  const Layout& l = s->layout;
  if (minor <= 10) {
    const uint64_t frame = s->memory.get<uint64_t>(s->c1 + l.gen.frame);
    s->memory.put<int32_t>(frame + l.frame.lasti, minor == 10 ? 1 : 2);  // next: no YIELD_FROM
    EXPECT_EQ(DescribeStack(FindTask(Read(*s), s->t1)->coroutine_stack), DescribeStack(Frames({s->c1})));
    s->memory.put<int32_t>(frame + l.frame.lasti, -1);
    EXPECT_EQ(FindTask(Read(*s), s->t1)->coroutine_stack.size(), 1u);
    s->memory.put<int32_t>(frame + l.frame.lasti, 1 << 27);  // past co_code
    EXPECT_EQ(FindTask(Read(*s), s->t1)->coroutine_stack.size(), 1u);
    s->memory.put<int32_t>(frame + l.frame.lasti, minor == 10 ? 3 : 6);
    s->memory.put<uint64_t>(s->c2 + l.gen.frame, 0);  // C2 finished: C3 no longer reached
    EXPECT_EQ(DescribeStack(FindTask(Read(*s), s->t1)->coroutine_stack),
              DescribeStack(Frames({s->c2, s->c1})));
  } else {
    const uint64_t iframe = s->c1 + l.gen.iframe;
    if (minor == 13) {
      s->memory.put<int8_t>(s->c1 + l.gen.frame_state, -2);  // FRAME_SUSPENDED: at a yield
    } else {
      s->memory.put<uint64_t>(iframe + l.iframe.instr, s->builder->code_units() + 2);  // oparg 1
    }
    EXPECT_EQ(FindTask(Read(*s), s->t1)->coroutine_stack.size(), 1u);
    BuildScene(minor).swap(s);
    s->memory.put<int32_t>(s->c1 + l.gen.iframe + l.iframe.stacktop, 0);
    EXPECT_EQ(FindTask(Read(*s), s->t1)->coroutine_stack.size(), 1u);
    s->memory.put<int32_t>(s->c1 + l.gen.iframe + l.iframe.stacktop, 1 << 21);
    EXPECT_EQ(FindTask(Read(*s), s->t1)->coroutine_stack.size(), 1u);
    BuildScene(minor).swap(s);
    s->memory.put<int8_t>(s->c2 + l.gen.frame_state, 4);  // C2 cleared
    EXPECT_EQ(DescribeStack(FindTask(Read(*s), s->t1)->coroutine_stack), DescribeStack(Frames({s->c1})));
    if (minor <= 12) {
      // INSTRUMENTED_RESUME (3.12) / RESUME_QUICK (3.11) count as RESUME.
      BuildScene(minor).swap(s);
      const uint64_t units = s->builder->code_units();
      s->memory.put<uint8_t>(units + 2, minor == 12 ? 240 : 150);
      EXPECT_EQ(FindTask(Read(*s), s->t1)->coroutine_stack.size(), 3u);
    }
  }
}

// 5000 tasks all awaited by one task A (through a gather) whose chain is long: A's stack is
// copied under each of them, and the copies are charged to the frame budget.
TEST_P(AsyncioTaskRegistryHeavy, ManyTasksAwaitedByOneLongChain) {
  std::unique_ptr<Scene> s = BuildScene(GetParam());
  Builder& b = *s->builder;
  const Release& r = release_of(s->layout);
  constexpr size_t kTasks = 5000, kChain = 1000;
  uint64_t inner = s->f;
  for (size_t i = 0; i < kChain - 1; ++i) inner = b.coroutine(inner);
  const uint64_t top = b.coroutine(inner);
  const uint64_t awaiter = b.task(s->loop1, b.str("A"), top);
  std::vector<uint64_t> children, all{awaiter};
  for (size_t i = 0; i < kTasks; ++i) {
    children.push_back(b.task(s->loop1, b.integer(100 + i), s->c4));
    all.push_back(children.back());
  }
  s->memory.put<uint64_t>(awaiter + r.asyncio.task.fut_waiter, b.gathering(children));
  b.set_dict(s->registry, b.dict({{"data", [&] {
                                   std::vector<uint64_t> refs;
                                   for (uint64_t t : all) refs.push_back(b.weakref(t));
                                   return b.set(refs);
                                 }()}}));
  const auto start = std::chrono::steady_clock::now();
  ReadStats stats;
  const AsyncioTasks tasks = Read(*s, &stats);
  const double seconds = Seconds(start);
  EXPECT_LT(seconds, 3.0);
  ExpectWithinBounds(tasks, 3);
  ASSERT_TRUE(tasks.walk_error);
  EXPECT_NE(tasks.walk_error->find("over the budget"), std::string::npos) << *tasks.walk_error;
  EXPECT_EQ(FindTask(tasks, awaiter)->coroutine_stack.size(), kChain);
  // The copies until the budget ran out are whole; none after.
  size_t whole = 0, empty = 0;
  for (uint64_t c : children) {
    const AsyncioTask* t = FindTask(tasks, c);
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(t->awaited_by.size(), 1u);
    const size_t n = t->awaited_by[0].coroutine_stack.size();
    EXPECT_TRUE(n == 0 || n == kChain) << n;
    (n == kChain ? whole : empty) += 1;
  }
  EXPECT_GT(whole, 0u);
  EXPECT_GT(empty, 0u);
  EXPECT_LE(whole * kChain, kMaxTaskFrames);
  // A's chain once (its copies are not read again), and each child's own C4 until the budget
  // ran out.
  EXPECT_LE(stats.frame_reads, kChain + whole + 16);
  EXPECT_GE(stats.frame_reads, kChain);
}

// Many tasks whose fut_waiter is one task: each is an awaiter of it, found in time.
TEST_P(AsyncioTaskRegistryHeavy, ManyTasksAwaitingOneTask) {
  std::unique_ptr<Scene> s = BuildScene(GetParam());
  Builder& b = *s->builder;
  constexpr size_t kTasks = 60000;
  std::vector<uint64_t> refs{b.weakref(s->t5)};
  for (size_t i = 0; i < kTasks; ++i) refs.push_back(b.weakref(b.task(s->loop1, 0, 0, s->t5)));
  b.set_dict(s->registry, b.dict({{"data", b.set(refs)}}));
  const auto start = std::chrono::steady_clock::now();
  const AsyncioTasks tasks = Read(*s);
  const double seconds = Seconds(start);
  ExpectWithinBounds(tasks, 3);
  EXPECT_EQ(Awaiters(tasks, s->t5).size(), kTasks);
  EXPECT_LT(seconds, 1.0);
  std::cout << "[ timing   ] " << kTasks << " awaiters of one task read in " << seconds << " s\n";
}

// Many tasks waiting on one gather of many children: the gather's children are visited once per
// awaiting task; the total work must stay bounded.
TEST_P(AsyncioTaskRegistryHeavy, ManyTasksWaitingOnOneLargeGather) {
  std::unique_ptr<Scene> s = BuildScene(GetParam());
  Builder& b = *s->builder;
  constexpr size_t kWaiters = 100, kChildren = 1 << 16;
  std::vector<uint64_t> children(kChildren, s->t3);
  const uint64_t gather = b.gathering(children);
  std::vector<uint64_t> refs{b.weakref(s->t3)};
  for (size_t i = 0; i < kWaiters; ++i) refs.push_back(b.weakref(b.task(s->loop1, 0, 0, gather)));
  b.set_dict(s->registry, b.dict({{"data", b.set(refs)}}));
  const auto start = std::chrono::steady_clock::now();
  const AsyncioTasks tasks = Read(*s);
  const double seconds = Seconds(start);
  ExpectWithinBounds(tasks, 3);
  std::cout << "[ timing   ] " << kWaiters << " waiters of one gather of " << kChildren
            << " children read in " << seconds << " s\n";
  EXPECT_LT(seconds, 5.0);
}

// Many gathers that share one _children list holding all of them and many tasks: each gather is
// followed once, but each visit walks the whole shared list again (kMaxGatherings gathers x
// kMaxListItems children per awaiting task). A few KiB of corrupt memory must not cost
// minutes.
TEST_P(AsyncioTaskRegistryHeavy, GathersSharingOneLargeChildrenList) {
  std::unique_ptr<Scene> s = BuildScene(GetParam());
  Builder& b = *s->builder;
  constexpr size_t kGathers = 200, kItems = 1 << 16;
  std::vector<uint64_t> gathers;
  for (size_t i = 0; i < kGathers; ++i) gathers.push_back(b.gathering({}));
  std::vector<uint64_t> items = gathers;
  items.resize(kItems, s->t3);
  const uint64_t shared = b.list(items);
  for (uint64_t g : gathers) b.set_dict(g, b.dict({{"_children", shared}}));
  const Release& r = release_of(s->layout);
  s->memory.put<uint64_t>(s->t1 + r.asyncio.task.fut_waiter, gathers[0]);
  const auto start = std::chrono::steady_clock::now();
  const AsyncioTasks tasks = Read(*s);
  const double seconds = Seconds(start);
  ExpectWithinBounds(tasks, 3);
  EXPECT_EQ(Awaiters(tasks, s->t3), std::vector<uint64_t>{s->t1});
  std::cout << "[ timing   ] " << kGathers << " gathers sharing a list of " << kItems
            << " children read in " << seconds << " s\n";
  EXPECT_LT(seconds, 2.0);
}

// 1100 gathers share one _children list (all the gathers, then 2^16 - 1100 times T3: ~530 KiB)
// and 2 tasks wait on the first: each gather and list is walked once, for all the tasks that
// wait on it (before, ~2 x 67M children were walked, ~1.7 s per waiting task here).
TEST(AsyncioTaskRegistryBounds, GathersSharingAListAreWalkedOnce) {
  std::unique_ptr<Scene> s = BuildScene(12);
  Builder& b = *s->builder;
  constexpr size_t kGathers = 1100, kItems = 1 << 16, kWaiters = 2;
  std::vector<uint64_t> gathers;
  for (size_t i = 0; i < kGathers; ++i) gathers.push_back(b.gathering({}));
  std::vector<uint64_t> items = gathers;
  items.resize(kItems, s->t3);
  const uint64_t shared = b.list(items);
  for (uint64_t g : gathers) b.set_dict(g, b.dict({{"_children", shared}}));
  std::vector<uint64_t> refs{b.weakref(s->t3)};
  for (size_t i = 0; i < kWaiters; ++i) {
    refs.push_back(b.weakref(b.task(s->loop1, 0, 0, gathers[0])));
  }
  b.set_dict(s->registry, b.dict({{"data", b.set(refs)}}));
  const auto start = std::chrono::steady_clock::now();
  const AsyncioTasks tasks = Read(*s);
  const double seconds = Seconds(start);
  ExpectWithinBounds(tasks, 3);
  EXPECT_EQ(Awaiters(tasks, s->t3).size(), kWaiters + 1);  // and T1, through G1 and G2
  std::cout << "[ timing   ] " << kWaiters << " waiters of " << kGathers
            << " gathers sharing one list: " << seconds << " s\n";
  EXPECT_LT(seconds, 1.0);
}

// 3.12 and 3.13 read two registries of up to kMaxTasksPerList tasks each: 2^16 tasks in
// _scheduled_tasks and 2^16 in _eager_tasks, all waiting on T5, are cut to the bounds the header
// declares (kMaxTasksPerList tasks, kMaxAwaiters awaiters of one task), the cut marked.
TEST(AsyncioTaskRegistryBounds, TwoFullRegistriesAreCutToTheBounds) {
  std::unique_ptr<Scene> s = BuildScene(12);
  Builder& b = *s->builder;
  constexpr size_t kEach = kMaxTasksPerList;
  std::vector<uint64_t> refs, eager;
  for (size_t i = 0; i < kEach; ++i) refs.push_back(b.weakref(b.task(s->loop1, 0, 0, s->t5)));
  refs.back() = b.weakref(s->t5);
  for (size_t i = 0; i < kEach; ++i) eager.push_back(b.task(s->loop1, 0, 0, s->t5));
  b.set_dict(s->registry, b.dict({{"data", b.set(refs)}}));
  const uint64_t eager_set = b.set(eager);
  const uint64_t module_dict = [&] {
    ObjectReader objects(s->memory, s->layout);
    DictReader dicts(objects);
    const uint64_t modules = s->memory.get<uint64_t>(s->interp + s->layout.interp.modules);
    const uint64_t module = dicts.find(modules, "asyncio.tasks")->value_or(0);
    return s->memory.get<uint64_t>(module + s->layout.module.dict);
  }();
  b.word(s->memory.get<uint64_t>(module_dict + s->layout.dict.keys) + s->layout.dictkeys.indices +
             8 + 2 * s->layout.dict_entry.size + s->layout.dict_entry.value,
         eager_set);  // the third entry: _eager_tasks
  const auto start = std::chrono::steady_clock::now();
  const AsyncioTasks tasks = Read(*s);
  std::cout << "[ timing   ] 2 x " << kEach << " tasks read in " << Seconds(start) << " s\n";
  ASSERT_EQ(tasks.lists.size(), 1u);
  EXPECT_EQ(tasks.lists[0].tasks.size(), kMaxTasksPerList);
  EXPECT_TRUE(tasks.walk_error.has_value());
  EXPECT_LE(Awaiters(tasks, s->t5).size(), kMaxAwaiters);
}

// --- Fuzz -----------------------------------------------------------------------------------

// Corrupts the intact scene a few times per seed (flipped bits; pointers replaced by random
// values, by pointers into other objects, self-pointers, NULL; sizes made huge; states, opcodes
// and flags changed; random bytes of objects; the threads' idents), reads it, and requires only
// that the read returns within the reader's bounds. Every seed starts from the intact image.
TEST_P(AsyncioTaskRegistry, FuzzedImagesStayBounded) {
  std::unique_ptr<Scene> s = BuildScene(GetParam());
  ASSERT_EQ(Describe(Read(*s)), Describe(Expected(*s)));
  const Builder& b = *s->builder;
  const std::vector<uint64_t> tasks_of_scene{s->t1, s->t2, s->t3, s->t4, s->t5, s->t6,
                                             s->t7, s->t9, s->tf, s->p1, s->pf};
  FuzzPlan plan;
  plan.name = "AsyncioTaskRegistry fuzz";
  plan.seeds = 10000;
  plan.seed_scale = 7919;
  plan.seed_offset = GetParam();
  plan.fields = &b;
  plan.pointer_words = 24;
  plan.object_bytes = 256;
  std::vector<Thread> threads;
  const auto start = std::chrono::steady_clock::now();
  const FuzzCounts counts = FuzzImage(
      s->memory, plan, [&] { threads = s->threads; },
      [&](int kind, uint64_t field, std::mt19937_64& rng, Mutator& mutator) {
        auto pick = [&](const std::vector<uint64_t>& from) { return from[rng() % from.size()]; };
        switch (kind) {
          case 3: mutator.put<uint64_t>(field, pick(tasks_of_scene)); break;
          case 4: mutator.put<uint64_t>(field, pick(b.objects())); break;
          case 10: threads[rng() % threads.size()].thread_id = rng() % 2 ? rng() : kIdentB; break;
          case 11:
            mutator.put<uint8_t>(b.code_units() + rng() % 8, static_cast<uint8_t>(rng()));
            break;
        }
      },
      [&] {
        const AsyncioTasks tasks = Read(s->memory, s->layout, s->interp, threads);
        ExpectWithinBounds(tasks, threads.size() + 1);
        return tasks;
      });
  if (::testing::Test::HasFailure()) return;  // FuzzImage named the seed
  std::cout << "[ fuzzed   ] 3." << GetParam() << ": " << plan.seeds << " seeds in "
            << Seconds(start) << " s: " << counts.walk_errors << " with a walk error, "
            << counts.tasks_read << " tasks read\n";
  EXPECT_EQ(Describe(Read(*s)), Describe(Expected(*s)));
}

}  // namespace
}  // namespace pystack
