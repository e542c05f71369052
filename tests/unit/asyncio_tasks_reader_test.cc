// AsyncioTaskReader (--tasks, CPython 3.14+) on fake 3.14 processes held in memory: the 3.14
// Layout (find_layout(3, 14)) and the AsyncioDebug offsets of a real 3.14.10 _asyncio module
// (tests/unit/data/asyncio_debug_3.14.10.bin). Each image holds two thread states and an
// interpreter, each with its circular list of tasks (struct llist_node {next, prev} at
// task.node), tasks named by str or by int, coroutines (gi_frame_state, gi_iframe with its
// stackpointer) awaiting one another, and task_awaited_by as one object or as a real set.
//
// The frame reader is a stand-in: it reports a coroutine's frame by the f_executable word of its
// _PyInterpreterFrame (a made-up code address, never dereferenced), so that the expected chains
// follow from the image alone.
//
// Then hostile images: broken lists (a loop to a middle node, NULL, unmapped), coroutines that
// await themselves or each other, sets of impossible or huge size, unmapped names, garbage frame
// states; and a deterministic fuzz of the image (fixed seeds) that requires every read to return
// within the reader's bounds.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cpython/asyncio_debug_offsets.h"
#include "cpython/asyncio_tasks.h"
#include "cpython/layout.h"
#include "fake_python_memory.h"

namespace pystack {
namespace {

using namespace pystack::testing;  // the fakes and helpers the --tasks tests share

// gi_frame_state of 3.14 (Include/internal/pycore_frame.h).
constexpr int8_t kFrameCreated = -3, kFrameSuspended = -2, kFrameSuspendedYieldFrom = -1,
                 kFrameExecuting = 0, kFrameCleared = 4;

const Layout& L314() {
  const Layout* layout = find_layout(3, 14);
  if (layout == nullptr) std::abort();
  return *layout;
}

std::vector<uint8_t> OffsetBytes() {
  std::ifstream in("tests/unit/data/asyncio_debug_3.14.10.bin", std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

AsyncioDebugOffsets Offsets314() {
  absl::StatusOr<AsyncioDebugOffsets> offsets = parse_asyncio_debug_offsets(OffsetBytes());
  if (!offsets.ok()) {
    ADD_FAILURE() << offsets.status();
    return {};
  }
  return *offsets;
}

// Made-up code addresses: what the stand-in frame reader reports for each coroutine.
constexpr uint64_t Code(int i) { return 0x5c0de000 + 0x100 * static_cast<uint64_t>(i); }

// Writes objects of a 3.14 process and records the words and bytes a fuzz may corrupt: each
// object on pages of its own, so that a read past one fails.
class Builder : public ObjectWriter {
 public:
  Builder(FakeProcessMemory& memory, const AsyncioDebugOffsets& offsets)
      : ObjectWriter(memory, L314(), ImageStyle{}), o_(offsets) {
    type_type_ = type("type", kTpFlagsType);
    m_.put<uint64_t>(type_type_ + l_.object.type, type_type_);
    object_type_ = type("object", 0);
    str_type_ = type("str", kTpFlagsUnicode);
    int_type_ = type("int", kTpFlagsLong);
    set_type_ = type("set", 0);
    coro_type_ = type("coroutine", 0);
    task_type_ = type("_asyncio.Task", 0);
    future_type_ = type("_asyncio.Future", 0);
  }

  // A coroutine whose embedded frame runs Code(code) in `state`, with one value on its stack
  // (`top`, tagged with `tag`), the awaited object when the state is "suspended in await".
  uint64_t coroutine(int code, int8_t state, uint64_t top, uint64_t tag = 0) {
    const uint64_t c = object(coro_type_, 512);
    m_.put<int8_t>(c + l_.gen.frame_state, state);
    field_byte(c + l_.gen.frame_state);
    const uint64_t frame = c + l_.gen.iframe;
    word(frame + l_.iframe.code, Code(code));
    word(frame + l_.iframe.stackpointer, frame + l_.iframe.localsplus + 8);
    set_top(c, top, tag);
    return c;
  }
  void set_top(uint64_t coro, uint64_t top, uint64_t tag = 0) {
    word(stack_slot(coro), top | tag);
  }
  uint64_t stack_slot(uint64_t coro) const { return coro + l_.gen.iframe + l_.iframe.localsplus; }

  // A TaskObj (or, with is_task false, a FutureObj: same C struct prefix) not yet in a list.
  uint64_t task(uint64_t name, uint64_t coro, bool is_task = true) {
    const uint64_t t = object(is_task ? task_type_ : future_type_, o_.task.size);
    word(t + o_.task.name, name);
    word(t + o_.task.coro, coro);
    m_.put<uint8_t>(t + o_.task.is_task, is_task ? 1 : 0);
    field_byte(t + o_.task.is_task);
    set_awaited_by(t, 0, false);
    return t;
  }
  void set_awaited_by(uint64_t task, uint64_t awaiter, bool is_set) {
    word(task + o_.task.awaited_by, awaiter);
    m_.put<uint8_t>(task + o_.task.awaited_by_is_set, is_set ? 1 : 0);
    field_byte(task + o_.task.awaited_by_is_set);
  }

  // A set of `keys` in a table of mask + 1 entries {key, hash}: key i at slot 3 * i + 2, and a
  // deleted entry (the dummy key, hash -1) at slot 0.
  uint64_t set(const std::vector<uint64_t>& keys, int64_t mask = 7) {
    const uint64_t s = object(set_type_, l_.set.table + 64);
    const uint64_t table = m_.allocate((mask + 1) * l_.set_entry.size);
    objects_.push_back(table);
    word(s + l_.set.used, keys.size());
    word(s + l_.set.mask, mask);
    word(s + l_.set.table, table);
    const int64_t hash = l_.set_entry.key == 0 ? 8 : 0;
    word(table + l_.set_entry.key, dummy_);
    word(table + hash, static_cast<uint64_t>(-1));
    for (size_t i = 0; i < keys.size(); ++i) {
      const uint64_t entry = table + ((3 * i + 2) % (mask + 1)) * l_.set_entry.size;
      EXPECT_EQ(load(entry + l_.set_entry.key), 0u) << "slot taken";
      word(entry + l_.set_entry.key, keys[i]);
      word(entry + hash, 0x1234 + i);
    }
    return s;
  }

  uint64_t thread_state() {
    const uint64_t t = m_.allocate(o_.thread_state.size);
    objects_.push_back(t);
    heads_.push_back(t + o_.thread_state.tasks_head);
    link(t + o_.thread_state.tasks_head, {});
    return t;
  }
  uint64_t interpreter() {
    const uint64_t i = m_.allocate(o_.interpreter.size);
    objects_.push_back(i);
    heads_.push_back(i + o_.interpreter.tasks_head);
    link(i + o_.interpreter.tasks_head, {});
    return i;
  }

  // The circular list at `head`: head <-> node(tasks[0]) <-> ... <-> node(tasks[n-1]) <-> head.
  void link(uint64_t head, const std::vector<uint64_t>& tasks) {
    std::vector<uint64_t> nodes{head};
    for (uint64_t t : tasks) nodes.push_back(t + o_.task.node);
    for (size_t i = 0; i < nodes.size(); ++i) {
      word(nodes[i], nodes[(i + 1) % nodes.size()]);                     // next
      word(nodes[i] + 8, nodes[(i + nodes.size() - 1) % nodes.size()]);  // prev
    }
  }

  uint64_t node(uint64_t task) const { return task + o_.task.node; }
  uint64_t future_object() { return object(future_type_, o_.task.size); }
  uint64_t coro_type() const { return coro_type_; }
  const std::vector<uint64_t>& heads() const { return heads_; }

 private:
  uint64_t load(uint64_t address) const { return m_.get<uint64_t>(address); }

  const AsyncioDebugOffsets& o_;
  uint64_t set_type_ = 0, coro_type_ = 0, task_type_ = 0, future_type_ = 0;
  uint64_t dummy_ = 0x7e57d0000;  // the set's dummy key: any address
  std::vector<uint64_t> heads_;
};

// The process every test starts from.
//   thread A (newest, native id 1001): T1 "worker-a"  C1 -> C2 -> C3 -> F1 (a Future)
//                                      T2 Task-7      C4 (suspended at a yield), awaited by T1
//                                      T6 "extra"     C7 (created)
//   thread B (main, native id 1002):   T3 "main"      C5 (executing; its stack holds C1)
//                                      T4 "tâche-ü"   C6 -> F1, awaited by the set {T1, T3}
//   interpreter:                       T5 Task-42     no coroutine, awaited by FUT (no Task)
struct Scene {
  FakeProcessMemory memory;
  AsyncioDebugOffsets offsets;
  uint64_t tstate_a = 0, tstate_b = 0, interp = 0;
  uint64_t t1 = 0, t2 = 0, t3 = 0, t4 = 0, t5 = 0, t6 = 0, fut = 0, f1 = 0;
  uint64_t c1 = 0, c2 = 0, c3 = 0, c4 = 0, c5 = 0, c6 = 0, c7 = 0;
  uint64_t awaiters_set = 0;
  std::vector<Thread> threads;
  std::unique_ptr<Builder> builder;
};

std::unique_ptr<Scene> BuildScene() {
  auto s = std::make_unique<Scene>();
  s->offsets = Offsets314();
  s->builder = std::make_unique<Builder>(s->memory, s->offsets);
  Builder& b = *s->builder;
  s->interp = b.interpreter();
  s->tstate_a = b.thread_state();
  s->tstate_b = b.thread_state();

  s->f1 = b.future_object();
  s->c3 = b.coroutine(3, kFrameSuspendedYieldFrom, s->f1);
  s->c2 = b.coroutine(2, kFrameSuspendedYieldFrom, s->c3);
  s->c1 = b.coroutine(1, kFrameSuspendedYieldFrom, s->c2, /*tag=*/1);  // a deferred reference
  s->c4 = b.coroutine(4, kFrameSuspended, s->c1);
  s->c5 = b.coroutine(5, kFrameExecuting, s->c1);
  s->c6 = b.coroutine(6, kFrameSuspendedYieldFrom, s->f1);
  s->c7 = b.coroutine(7, kFrameCreated, 0);

  s->t1 = b.task(b.str(U"worker-a"), s->c1);
  s->t2 = b.task(b.integer(7), s->c4);
  s->t6 = b.task(b.str(U"extra"), s->c7);
  s->t3 = b.task(b.str(U"main"), s->c5);
  s->t4 = b.task(b.str(U"t\u00e2che-\u00fc"), s->c6);
  s->t5 = b.task(b.integer(42), 0);
  s->fut = b.task(0, 0, /*is_task=*/false);

  b.set_awaited_by(s->t2, s->t1, false);
  s->awaiters_set = b.set({s->t1, s->t3});
  b.set_awaited_by(s->t4, s->awaiters_set, true);
  b.set_awaited_by(s->t5, s->fut, false);

  b.link(s->tstate_a + s->offsets.thread_state.tasks_head, {s->t1, s->t2, s->t6});
  b.link(s->tstate_b + s->offsets.thread_state.tasks_head, {s->t3, s->t4});
  b.link(s->interp + s->offsets.interpreter.tasks_head, {s->t5});

  Thread a, main;
  a.thread_id = kIdentA;
  a.native_thread_id = kNativeIdA;
  a.tstate_address = s->tstate_a;
  main.thread_id = kIdentB;
  main.native_thread_id = kNativeIdB;
  main.tstate_address = s->tstate_b;
  s->threads = {a, main};  // newest first
  return s;
}

AsyncioTasks Read(const FakeProcessMemory& memory, uint64_t interp,
                  const std::vector<Thread>& threads, std::optional<AsyncioDebugOffsets> offsets,
                  ReadStats* stats = nullptr, const Layout& layout = L314()) {
  // The stand-in for SnapshotReader::read_coroutine_frame: the coroutine's gi_iframe as its
  // f_executable names it; nullopt when unreadable or NULL.
  return ReadTasks(
      memory, layout, interp, threads, offsets,
      [&](uint64_t coroutine) -> std::optional<Frame> {
        absl::StatusOr<uint64_t> code = read_value<uint64_t>(
            memory, coroutine + layout.gen.iframe + layout.iframe.code);
        if (!code.ok() || *code == 0) return std::nullopt;
        Frame out;
        out.code_address = *code & ~uint64_t{3};
        return out;
      },
      stats);
}

AsyncioTasks Read(const Scene& s, ReadStats* stats = nullptr) {
  return Read(s.memory, s.interp, s.threads, s.offsets, stats);
}

// The frames of the made-up code addresses Code(i).
std::vector<Frame> Frames(std::initializer_list<int> codes) {
  std::vector<uint64_t> addresses;
  for (int c : codes) addresses.push_back(Code(c));
  return FramesAt(addresses);
}


// What the intact scene must read as.
AsyncioTasks Expected(const Scene& s) {
  const std::vector<Frame> t1_stack = Frames({3, 2, 1});  // most recent call first
  AsyncioTasks e;
  e.lists.push_back(List(kNativeIdA, kIdentA, false,
                         {Task(s.t1, "worker-a", t1_stack),
                          Task(s.t2, "Task-7", Frames({4}), {{s.t1, t1_stack}}),
                          Task(s.t6, "extra", Frames({7}))}));
  e.lists.push_back(List(kNativeIdB, kIdentB, true,
                         {Task(s.t3, "main", Frames({5})),
                          Task(s.t4, "t\xc3\xa2" "che-\xc3\xbc", Frames({6}),
                               {{s.t1, t1_stack}, {s.t3, Frames({5})}})}));
  e.lists.push_back(List(0, 0, false, {Task(s.t5, "Task-42", {}, {{s.fut, {}}})}));
  return e;
}

// The reader's own bounds hold everywhere in `tasks`.
void ExpectWithinBounds(const AsyncioTasks& tasks, size_t max_lists) {
  ExpectBounded(tasks, max_lists, kMaxTasksPerList, std::nullopt);
}

std::vector<uint64_t> TaskIds(const AsyncioTaskList& list) {
  std::vector<uint64_t> ids;
  for (const AsyncioTask& t : list.tasks) ids.push_back(t.id);
  return ids;
}

// --- The intact process ---------------------------------------------------------------------

TEST(AsyncioTaskReader, ReadsEveryListOfTheIntactProcess) {
  std::unique_ptr<Scene> s = BuildScene();
  ASSERT_EQ(s->offsets.task.node, 152u);  // the fixture's, as asyncio_debug_offsets_test checks
  ReadStats stats;
  const AsyncioTasks tasks = Read(*s, &stats);
  EXPECT_EQ(Describe(tasks), Describe(Expected(*s)));
  EXPECT_FALSE(tasks.walk_error);
  EXPECT_FALSE(tasks.unavailable);
  // Each task's chain once (an awaiter's stack is the one read for the task itself): T1's three
  // frames, T3's, and C4, C6, C7.
  EXPECT_EQ(stats.frame_reads, 3u + 1 + 3);
}

TEST(AsyncioTaskReader, EmptyListsAndThreadWithoutNativeId) {
  std::unique_ptr<Scene> s = BuildScene();
  Builder& b = *s->builder;
  b.link(s->tstate_a + s->offsets.thread_state.tasks_head, {});
  b.link(s->interp + s->offsets.interpreter.tasks_head, {});
  s->threads[1].native_thread_id.reset();
  const AsyncioTasks tasks = Read(*s);
  EXPECT_FALSE(tasks.walk_error);
  ASSERT_EQ(tasks.lists.size(), 3u);
  EXPECT_EQ(tasks.lists[0].thread_id, kNativeIdA);
  EXPECT_TRUE(tasks.lists[0].tasks.empty());
  EXPECT_EQ(tasks.lists[1].thread_id, 0u);  // no native id known
  EXPECT_TRUE(tasks.lists[1].main_thread);
  EXPECT_EQ(TaskIds(tasks.lists[1]), (std::vector<uint64_t>{s->t3, s->t4}));
  EXPECT_TRUE(tasks.lists[2].tasks.empty());
  EXPECT_FALSE(tasks.lists[2].main_thread);
}

TEST(AsyncioTaskReader, NoThreadsStillReadsTheInterpreterList) {
  std::unique_ptr<Scene> s = BuildScene();
  const AsyncioTasks tasks = Read(s->memory, s->interp, {}, s->offsets);
  ASSERT_EQ(tasks.lists.size(), 1u);
  EXPECT_EQ(TaskIds(tasks.lists[0]), (std::vector<uint64_t>{s->t5}));
  EXPECT_FALSE(tasks.lists[0].main_thread);
}

TEST(AsyncioTaskReader, UnavailableWithoutOffsetsOrBefore37) {
  std::unique_ptr<Scene> s = BuildScene();
  const AsyncioTasks no_section = Read(s->memory, s->interp, s->threads, std::nullopt);
  EXPECT_TRUE(no_section.unavailable);
  EXPECT_TRUE(no_section.lists.empty());
  const AsyncioTasks old =
      Read(s->memory, s->interp, s->threads, s->offsets, nullptr, *find_layout(3, 6));
  EXPECT_TRUE(old.unavailable);
  EXPECT_TRUE(old.lists.empty());
}

TEST(AsyncioTaskReader, ClearedCoroutineHasNoStack) {
  std::unique_ptr<Scene> s = BuildScene();
  s->memory.put<int8_t>(s->c6 + L314().gen.frame_state, kFrameCleared);
  // C2 cleared: T1's chain stops before it.
  s->memory.put<int8_t>(s->c2 + L314().gen.frame_state, kFrameCleared);
  const AsyncioTasks tasks = Read(*s);
  EXPECT_FALSE(tasks.walk_error);
  ASSERT_NE(FindTask(tasks, s->t4), nullptr);
  EXPECT_TRUE(FindTask(tasks, s->t4)->coroutine_stack.empty());
  EXPECT_EQ(DescribeStack(FindTask(tasks, s->t1)->coroutine_stack), DescribeStack(Frames({1})));
}

// --- Broken lists: the walk stops, says so, and keeps what it read ---------------------------

TEST(AsyncioTaskReader, ListLoopingBackToAMiddleNode) {
  std::unique_ptr<Scene> s = BuildScene();
  s->memory.put<uint64_t>(s->builder->node(s->t6), s->builder->node(s->t2));  // T6.next = T2
  const AsyncioTasks tasks = Read(*s);
  ASSERT_TRUE(tasks.walk_error);
  ExpectWithinBounds(tasks, 1);
  ASSERT_EQ(tasks.lists.size(), 1u);  // the walk stops at the first broken list
  EXPECT_EQ(TaskIds(tasks.lists[0]), (std::vector<uint64_t>{s->t1, s->t2, s->t6}));
}

TEST(AsyncioTaskReader, ListLoopingOnItsOwnNode) {
  std::unique_ptr<Scene> s = BuildScene();
  s->memory.put<uint64_t>(s->builder->node(s->t3), s->builder->node(s->t3));
  const AsyncioTasks tasks = Read(*s);
  ASSERT_TRUE(tasks.walk_error);
  ASSERT_EQ(tasks.lists.size(), 2u);
  EXPECT_EQ(TaskIds(tasks.lists[1]), (std::vector<uint64_t>{s->t3}));
}

TEST(AsyncioTaskReader, ListWithNullNext) {
  std::unique_ptr<Scene> s = BuildScene();
  s->memory.put<uint64_t>(s->builder->node(s->t1), 0);
  const AsyncioTasks tasks = Read(*s);
  ASSERT_TRUE(tasks.walk_error);
  ASSERT_EQ(tasks.lists.size(), 1u);
  EXPECT_EQ(TaskIds(tasks.lists[0]), (std::vector<uint64_t>{s->t1}));
}

TEST(AsyncioTaskReader, ListHeadWithNullNext) {
  std::unique_ptr<Scene> s = BuildScene();
  s->memory.put<uint64_t>(s->tstate_a + s->offsets.thread_state.tasks_head, 0);
  const AsyncioTasks tasks = Read(*s);
  ASSERT_TRUE(tasks.walk_error);
  ASSERT_EQ(tasks.lists.size(), 1u);
  EXPECT_TRUE(tasks.lists[0].tasks.empty());
}

TEST(AsyncioTaskReader, ListWithNextIntoUnmappedMemory) {
  std::unique_ptr<Scene> s = BuildScene();
  s->memory.put<uint64_t>(s->builder->node(s->t1), kUnmapped);
  ReadStats stats;
  const AsyncioTasks tasks = Read(*s, &stats);
  ASSERT_TRUE(tasks.walk_error);
  ExpectWithinBounds(tasks, 1);
  ASSERT_EQ(tasks.lists.size(), 1u);
  ASSERT_GE(tasks.lists[0].tasks.size(), 1u);
  ASSERT_LE(tasks.lists[0].tasks.size(), 2u);
  EXPECT_EQ(tasks.lists[0].tasks[0].id, s->t1);
  if (tasks.lists[0].tasks.size() == 2) {  // the unreadable node's task, read as nothing
    const AsyncioTask& ghost = tasks.lists[0].tasks[1];
    EXPECT_EQ(ghost.name, "");
    EXPECT_TRUE(ghost.coroutine_stack.empty());
    EXPECT_TRUE(ghost.awaited_by.empty());
  }
}

TEST(AsyncioTaskReader, InterpreterListBroken) {
  std::unique_ptr<Scene> s = BuildScene();
  // T5.next leads into thread B's list, which never comes back to the interpreter's head.
  s->memory.put<uint64_t>(s->builder->node(s->t5), s->builder->node(s->t3));
  const AsyncioTasks tasks = Read(*s);
  ASSERT_TRUE(tasks.walk_error);
  ExpectWithinBounds(tasks, 3);
  ASSERT_EQ(tasks.lists.size(), 3u);  // both threads' lists were read whole
  EXPECT_EQ(TaskIds(tasks.lists[0]), (std::vector<uint64_t>{s->t1, s->t2, s->t6}));
  EXPECT_EQ(TaskIds(tasks.lists[1]), (std::vector<uint64_t>{s->t3, s->t4}));
  // T5, T3, T4, then thread B's head read as a task; its next (T3) was seen.
  ASSERT_GE(tasks.lists[2].tasks.size(), 1u);
  EXPECT_LE(tasks.lists[2].tasks.size(), 4u);
  EXPECT_EQ(tasks.lists[2].tasks[0].id, s->t5);
}

TEST(AsyncioTaskReader, ThreadStateUnmapped) {
  std::unique_ptr<Scene> s = BuildScene();
  s->threads[0].tstate_address = kUnmapped;
  const AsyncioTasks tasks = Read(*s);
  ASSERT_TRUE(tasks.walk_error);
  ASSERT_EQ(tasks.lists.size(), 1u);
  EXPECT_TRUE(tasks.lists[0].tasks.empty());
}

// A list of distinct, valid nodes longer than the bound: only the bound ends it.
TEST(AsyncioTaskReader, ListLongerThanTheBound) {
  for (const size_t count : {kMaxTasksPerList, kMaxTasksPerList + 1}) {
    std::unique_ptr<Scene> s = BuildScene();
    const uint64_t size = s->offsets.task.size;
    const uint64_t block = s->memory.allocate(size * count);  // zeroed tasks: no name, no coro
    std::vector<uint64_t> many;
    for (size_t i = 0; i < count; ++i) many.push_back(block + i * size);
    s->builder->link(s->tstate_a + s->offsets.thread_state.tasks_head, many);
    const AsyncioTasks tasks = Read(*s);
    ExpectWithinBounds(tasks, 3);
    ASSERT_FALSE(tasks.lists.empty());
    if (count == kMaxTasksPerList) {
      EXPECT_FALSE(tasks.walk_error) << *tasks.walk_error;
      EXPECT_EQ(tasks.lists.size(), 3u);
      EXPECT_EQ(tasks.lists[0].tasks.size(), kMaxTasksPerList);
    } else {
      EXPECT_TRUE(tasks.walk_error);
      EXPECT_EQ(tasks.lists.size(), 1u);
    }
  }
}

// --- Coroutine chains -----------------------------------------------------------------------

TEST(AsyncioTaskReader, CoroutineAwaitingItself) {
  std::unique_ptr<Scene> s = BuildScene();
  s->builder->set_top(s->c1, s->c1);
  ReadStats stats;
  const AsyncioTasks tasks = Read(*s, &stats);
  ExpectWithinBounds(tasks, 3);
  EXPECT_EQ(tasks.lists.size(), 3u);
  EXPECT_EQ(DescribeStack(FindTask(tasks, s->t1)->coroutine_stack), DescribeStack(Frames({1})));
  // The cycle is not a broken list: every list was read.
  EXPECT_EQ(Describe(tasks).find("walk_error"), std::string::npos);
  EXPECT_LT(stats.frame_reads, 20u);
}

TEST(AsyncioTaskReader, CoroutinesAwaitingEachOther) {
  std::unique_ptr<Scene> s = BuildScene();
  s->builder->set_top(s->c2, s->c1, 1);  // C1 -> C2 -> C1
  ReadStats stats;
  const AsyncioTasks tasks = Read(*s, &stats);
  ExpectWithinBounds(tasks, 3);
  EXPECT_EQ(tasks.lists.size(), 3u);
  const std::string t1_stack = DescribeStack(Frames({2, 1}));
  EXPECT_EQ(DescribeStack(FindTask(tasks, s->t1)->coroutine_stack), t1_stack);
  ASSERT_EQ(FindTask(tasks, s->t2)->awaited_by.size(), 1u);
  EXPECT_EQ(DescribeStack(FindTask(tasks, s->t2)->awaited_by[0].coroutine_stack), t1_stack);
  EXPECT_LT(stats.frame_reads, 30u);
}

TEST(AsyncioTaskReader, CoroutineChainLongerThanTheBound) {
  std::unique_ptr<Scene> s = BuildScene();
  Builder& b = *s->builder;
  uint64_t next = s->f1;
  for (int i = 0; i < 3000; ++i) next = b.coroutine(100 + i % 50, kFrameSuspendedYieldFrom, next);
  s->memory.put<uint64_t>(s->t6 + s->offsets.task.coro, next);
  const AsyncioTasks tasks = Read(*s);
  ExpectWithinBounds(tasks, 3);
  EXPECT_EQ(FindTask(tasks, s->t6)->coroutine_stack.size(), kMaxCoroutineChain);
  EXPECT_EQ(tasks.lists.size(), 3u);
}

// gi_frame_state values that are none of PyFrameState's, and "suspended in await" frames whose
// stackpointer is NULL, too small, unmapped or misaligned: the coroutine's own frame, nothing
// followed.
TEST(AsyncioTaskReader, GarbageFrameStates) {
  const Layout& l = L314();
  for (int8_t state : {int8_t{85}, int8_t{127}, int8_t{-4}, int8_t{-127}, int8_t{3}}) {
    std::unique_ptr<Scene> s = BuildScene();
    s->memory.put<int8_t>(s->c1 + l.gen.frame_state, state);
    const AsyncioTasks tasks = Read(*s);
    EXPECT_EQ(Describe(tasks).find("walk_error"), std::string::npos) << int{state};
    EXPECT_EQ(DescribeStack(FindTask(tasks, s->t1)->coroutine_stack), DescribeStack(Frames({1})))
        << int{state};
  }
  for (uint64_t stackpointer : {uint64_t{0}, uint64_t{4}, uint64_t{8}, kUnmapped, ~uint64_t{0}}) {
    std::unique_ptr<Scene> s = BuildScene();
    s->memory.put<uint64_t>(s->c1 + l.gen.iframe + l.iframe.stackpointer, stackpointer);
    const AsyncioTasks tasks = Read(*s);
    EXPECT_EQ(DescribeStack(FindTask(tasks, s->t1)->coroutine_stack), DescribeStack(Frames({1})))
        << std::hex << stackpointer;
  }
  {  // misaligned, inside the frame: whatever word it finds, the walk stays bounded
    std::unique_ptr<Scene> s = BuildScene();
    s->memory.put<uint64_t>(s->c1 + l.gen.iframe + l.iframe.stackpointer,
                            s->c1 + l.gen.iframe + l.iframe.localsplus + 5);
    const AsyncioTasks tasks = Read(*s);
    ExpectWithinBounds(tasks, 3);
    EXPECT_GE(FindTask(tasks, s->t1)->coroutine_stack.size(), 1u);
  }
  {  // a tagged int on the stack where the awaited object should be
    std::unique_ptr<Scene> s = BuildScene();
    s->memory.put<uint64_t>(s->builder->stack_slot(s->c1), (uint64_t{12345} << 2) | 3);
    const AsyncioTasks tasks = Read(*s);
    EXPECT_EQ(DescribeStack(FindTask(tasks, s->t1)->coroutine_stack), DescribeStack(Frames({1})));
  }
  {  // the task's coroutine is unmapped; the frame reader gives nothing for C2
    std::unique_ptr<Scene> s = BuildScene();
    s->memory.put<uint64_t>(s->t6 + s->offsets.task.coro, kUnmapped);
    s->memory.put<uint64_t>(s->c2 + l.gen.iframe + l.iframe.code, 0);
    const AsyncioTasks tasks = Read(*s);
    EXPECT_TRUE(FindTask(tasks, s->t6)->coroutine_stack.empty());
    EXPECT_EQ(DescribeStack(FindTask(tasks, s->t1)->coroutine_stack), DescribeStack(Frames({1})));
    EXPECT_EQ(tasks.lists.size(), 3u);
  }
}

// BUG (src/cpython/asyncio_tasks.cc, awaited_object): 3.14's AsyncioModel leaves
// suspended_yield_from_locked at its "none" value, -128, which is also a gi_frame_state an int8
// can hold; a coroutine whose (corrupt) state byte is 0x80 is taken as suspended in `await`,
// and the chain is followed through the value on its stack.
TEST(AsyncioTaskReader, FrameStateMinus128IsNoAwait) {
  std::unique_ptr<Scene> s = BuildScene();
  s->memory.put<int8_t>(s->c1 + L314().gen.frame_state, int8_t{-128});
  const AsyncioTasks tasks = Read(*s);
  EXPECT_EQ(DescribeStack(FindTask(tasks, s->t1)->coroutine_stack), DescribeStack(Frames({1})));
}

// --- Awaiters -------------------------------------------------------------------------------

TEST(AsyncioTaskReader, AwaiterSetsOfImpossibleSize) {
  const Layout& l = L314();
  struct Case {
    int64_t mask, used;
    bool rejected;  // else: a mask the reader accepts, over a table of one mapped page
  };
  for (const Case c : {Case{(int64_t{1} << 40) - 1, 2, true}, Case{7, int64_t{1} << 40, true},
                       Case{-1, 2, true}, Case{6, 2, true}, Case{7, -5, true}, Case{7, 9, true},
                       Case{int64_t{1} << 24, 2, true}, Case{(int64_t{1} << 24) - 1, 2, false},
                       Case{(int64_t{1} << 23) - 1, 2, false},
                       Case{(int64_t{1} << 23) - 1, int64_t{1} << 23, false}}) {
    std::unique_ptr<Scene> s = BuildScene();
    s->memory.put<int64_t>(s->awaiters_set + l.set.mask, c.mask);
    s->memory.put<int64_t>(s->awaiters_set + l.set.used, c.used);
    const auto start = std::chrono::steady_clock::now();
    const AsyncioTasks tasks = Read(*s);
    const double seconds = Seconds(start);
    ExpectWithinBounds(tasks, 3);
    EXPECT_EQ(tasks.lists.size(), 3u);
    EXPECT_FALSE(tasks.walk_error);
    const std::vector<TaskAwaiter>& awaiters = FindTask(tasks, s->t4)->awaited_by;
    if (c.rejected) {
      EXPECT_TRUE(awaiters.empty()) << c.mask << " " << c.used;
    } else {
      // Either both elements, found before the reads ran past the page, or none: the reads
      // that failed there leave the set unread.
      EXPECT_TRUE(awaiters.empty() || awaiters.size() == 2) << c.mask << " " << c.used;
    }
    EXPECT_LT(seconds, 5.0);
  }
}

// A mapped table of 2^17 entries, every one the same awaiter: the set is read up to kMaxAwaiters
// entries, and the awaiter shown once.
TEST(AsyncioTaskReader, AwaiterSetLargerThanTheBound) {
  std::unique_ptr<Scene> s = BuildScene();
  const Layout& l = L314();
  const int64_t slots = int64_t{1} << 17;
  const uint64_t table = s->memory.allocate(slots * l.set_entry.size);
  for (int64_t i = 0; i < slots; ++i) {
    s->memory.put<uint64_t>(table + i * l.set_entry.size + l.set_entry.key, s->t3);
    s->memory.put<uint64_t>(table + i * l.set_entry.size + 8 - l.set_entry.key, 7);
  }
  s->memory.put<uint64_t>(s->awaiters_set + l.set.table, table);
  s->memory.put<int64_t>(s->awaiters_set + l.set.mask, slots - 1);
  s->memory.put<int64_t>(s->awaiters_set + l.set.used, slots);
  const AsyncioTasks tasks = Read(*s);
  ExpectWithinBounds(tasks, 3);
  EXPECT_FALSE(tasks.walk_error);
  const AsyncioTask* t4 = FindTask(tasks, s->t4);
  ASSERT_EQ(t4->awaited_by.size(), 1u);
  EXPECT_EQ(t4->awaited_by.back().task_id, s->t3);
  EXPECT_EQ(DescribeStack(t4->awaited_by.back().coroutine_stack), DescribeStack(Frames({5})));
}

TEST(AsyncioTaskReader, AwaitersThatAreNoSetOrUnmapped) {
  std::unique_ptr<Scene> s = BuildScene();
  Builder& b = *s->builder;
  b.set_awaited_by(s->t4, s->t1, true);          // "a set" that is a task
  b.set_awaited_by(s->t2, kUnmapped, false);     // one awaiter, unreadable
  b.set_awaited_by(s->t6, kUnmapped, true);      // a set, unreadable
  b.set_awaited_by(s->t3, s->t3, false);         // awaits itself
  const AsyncioTasks tasks = Read(*s);
  ExpectWithinBounds(tasks, 3);
  EXPECT_FALSE(tasks.walk_error);
  EXPECT_TRUE(FindTask(tasks, s->t4)->awaited_by.empty());
  ASSERT_EQ(FindTask(tasks, s->t2)->awaited_by.size(), 1u);
  EXPECT_EQ(FindTask(tasks, s->t2)->awaited_by[0].task_id, kUnmapped);
  EXPECT_TRUE(FindTask(tasks, s->t2)->awaited_by[0].coroutine_stack.empty());
  EXPECT_TRUE(FindTask(tasks, s->t6)->awaited_by.empty());
  ASSERT_EQ(FindTask(tasks, s->t3)->awaited_by.size(), 1u);
  EXPECT_EQ(FindTask(tasks, s->t3)->awaited_by[0].task_id, s->t3);
}

// --- Names ----------------------------------------------------------------------------------

TEST(AsyncioTaskReader, UnreadableOrOddNames) {
  const Layout& l = L314();
  std::unique_ptr<Scene> s = BuildScene();
  Builder& b = *s->builder;
  const uint64_t name_field = s->offsets.task.name;
  s->memory.put<uint64_t>(s->t1 + name_field, kUnmapped);  // unmapped
  s->memory.put<uint64_t>(s->t6 + name_field, s->awaiters_set);  // neither str nor int
  // An int of a wild digit count.
  const uint64_t wild_int = b.integer(7);
  s->memory.put<uint64_t>(wild_int + l.long_object.tag, (uint64_t{1} << 40) << 3);
  s->memory.put<uint64_t>(s->t2 + name_field, wild_int);
  // A str of a wild length, its data past its block.
  const uint64_t long_str = b.str(U"abc");
  s->memory.put<int64_t>(long_str + l.unicode.length, int64_t{1} << 40);
  s->memory.put<uint64_t>(s->t3 + name_field, long_str);
  // A str whose type is unmapped.
  const uint64_t no_type = b.str(U"lost");
  s->memory.put<uint64_t>(no_type + l.object.type, kUnmapped);
  s->memory.put<uint64_t>(s->t4 + name_field, no_type);
  // A negative int.
  const uint64_t negative = b.integer(9);
  s->memory.put<uint64_t>(negative + l.long_object.tag, (uint64_t{1} << 3) | 2);
  s->memory.put<uint64_t>(s->t5 + name_field, negative);
  const AsyncioTasks tasks = Read(*s);
  ExpectWithinBounds(tasks, 3);
  EXPECT_FALSE(tasks.walk_error);
  for (uint64_t t : {s->t1, s->t2, s->t3, s->t4, s->t5, s->t6}) {
    ASSERT_NE(FindTask(tasks, t), nullptr);
    EXPECT_EQ(FindTask(tasks, t)->name, "") << std::hex << t;
  }
  // Everything else reads as in the intact process.
  EXPECT_EQ(DescribeStack(FindTask(tasks, s->t1)->coroutine_stack), DescribeStack(Frames({3, 2, 1})));
  EXPECT_EQ(FindTask(tasks, s->t4)->awaited_by.size(), 2u);
}

TEST(AsyncioTaskReader, LongAndLargeNames) {
  const Layout& l = L314();
  std::unique_ptr<Scene> s = BuildScene();
  Builder& b = *s->builder;
  const uint64_t name_field = s->offsets.task.name;
  s->memory.put<uint64_t>(s->t2 + name_field, b.integer(~uint64_t{0}));
  s->memory.put<uint64_t>(s->t6 + name_field, b.integer(0));
  // A str longer than kMaxTextCodePoints: kept to its first kMaxTextCodePoints.
  s->memory.put<uint64_t>(s->t3 + name_field, b.str(std::u32string(kMaxTextCodePoints + 100, U'x')));
  // A str whose length runs past its block (a page, then a hole): unreadable, so no name.
  const uint64_t past = b.str(U"abc");
  s->memory.put<int64_t>(past + l.unicode.length, 5000);
  s->memory.put<uint64_t>(s->t4 + name_field, past);
  const AsyncioTasks tasks = Read(*s);
  EXPECT_EQ(FindTask(tasks, s->t2)->name, "Task-18446744073709551615");
  EXPECT_EQ(FindTask(tasks, s->t6)->name, "Task-0");
  EXPECT_EQ(FindTask(tasks, s->t3)->name, std::string(kMaxTextCodePoints, 'x'));
  EXPECT_EQ(FindTask(tasks, s->t4)->name, "");
}

// BUG (src/cpython/int_value.cc, nonnegative_int_value): an int of three 30-bit digits whose top
// digit has bits above bit 3 (2^64 and more) is accepted and wraps: 2^64 reads as 0, 2^64 + 5
// as 5, where nullopt (no name) is documented for ints that do not fit in 64 bits.
TEST(AsyncioTaskReader, IntNameOf2To64IsNoName) {
  const Layout& l = L314();
  std::unique_ptr<Scene> s = BuildScene();
  const uint64_t big = s->builder->integer(5);  // then made 2^64 + 5: digits {5, 0, 16}
  s->memory.put<uint64_t>(big + l.long_object.tag, uint64_t{3} << 3);
  s->memory.put<uint32_t>(big + l.long_object.digits + 4, 0);
  s->memory.put<uint32_t>(big + l.long_object.digits + 8, 16);
  s->memory.put<uint64_t>(s->t2 + s->offsets.task.name, big);
  const AsyncioTasks tasks = Read(*s);
  EXPECT_EQ(FindTask(tasks, s->t2)->name, "");
}

// --- Fuzz -----------------------------------------------------------------------------------

// Corrupts the intact scene a few times per seed (flipped bits; pointers replaced by random
// values, by pointers into other objects, list nodes and heads, self-pointers, NULL; sizes made
// huge; frame states and flags changed; random bytes of objects; the threads' tstate addresses;
// the AsyncioDebug offsets, when they still parse), reads it, and requires only that the read
// returns within the reader's bounds. Every seed starts from the intact image.
TEST(AsyncioTaskReaderFuzz, CorruptedImagesStayBounded) {
  std::unique_ptr<Scene> s = BuildScene();
  ASSERT_EQ(Describe(Read(*s)), Describe(Expected(*s)));
  const Builder& b = *s->builder;
  std::vector<uint64_t> nodes = b.heads();
  for (uint64_t t : {s->t1, s->t2, s->t3, s->t4, s->t5, s->t6, s->fut}) nodes.push_back(b.node(t));
  const std::vector<uint8_t> offset_bytes = OffsetBytes();
  ASSERT_EQ(offset_bytes.size(), kAsyncioDebugOffsetsSize);

  FuzzPlan plan;
  plan.name = "AsyncioTaskReader fuzz";
  plan.seeds = 20000;
  plan.fields = &b;
  std::vector<Thread> threads;
  AsyncioDebugOffsets offsets;
  size_t offsets_changed = 0;
  const auto start = std::chrono::steady_clock::now();
  const FuzzCounts counts = FuzzImage(
      s->memory, plan,
      [&] {
        threads = s->threads;
        offsets = s->offsets;
      },
      [&](int kind, uint64_t field, std::mt19937_64& rng, Mutator& mutator) {
        auto pick = [&](const std::vector<uint64_t>& from) { return from[rng() % from.size()]; };
        switch (kind) {
          case 3: mutator.put<uint64_t>(field, pick(nodes) + (rng() % 4 == 0 ? 8 : 0)); break;
          case 4: mutator.put<uint64_t>(field, field & ~(kPage - 1)); break;  // its own object
          case 10:
            threads[rng() % threads.size()].tstate_address = pick(b.objects()) + 8 * (rng() % 64);
            break;
          case 11: {  // one word of the AsyncioDebug section
            std::vector<uint8_t> section = offset_bytes;
            const size_t word = rng() % (kAsyncioDebugOffsetsSize / 8);
            const uint64_t value = rng() % 4 == 0 ? rng() : rng() % 512;
            std::memcpy(section.data() + 8 * word, &value, 8);
            absl::StatusOr<AsyncioDebugOffsets> parsed = parse_asyncio_debug_offsets(section);
            if (parsed.ok()) {
              offsets = *parsed;
              ++offsets_changed;
            }
            break;
          }
        }
      },
      [&] {
        const AsyncioTasks tasks = Read(s->memory, s->interp, threads, offsets);
        ExpectWithinBounds(tasks, threads.size() + 1);
        return tasks;
      });
  if (::testing::Test::HasFailure()) return;  // FuzzImage named the seed
  std::cout << "[ fuzzed   ] " << plan.seeds << " seeds in " << Seconds(start) << " s: "
            << counts.walk_errors << " with a walk error, " << offsets_changed
            << " with other offsets, " << counts.tasks_read << " tasks read\n";
  // The image is intact again.
  EXPECT_EQ(Describe(Read(*s)), Describe(Expected(*s)));
}

}  // namespace
}  // namespace pystack
