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

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/utf8.h"
#include "cpython/asyncio_debug_offsets.h"
#include "cpython/asyncio_tasks.h"
#include "cpython/dict.h"
#include "cpython/layout.h"
#include "cpython/objects.h"
#include "cpython/py_types.h"
#include "memory/remote_memory.h"

namespace pystack {
namespace {

constexpr uint64_t kPage = 4096;

// Page-aligned blocks of whole pages with a hole after each; everything else is unreadable.
class FakeMemory final : public RemoteMemory {
 public:
  absl::Status read(uint64_t address, void* out, size_t size) const override {
    auto it = blocks_.upper_bound(address);
    if (it == blocks_.begin()) return absl::DataLossError("unmapped");
    --it;
    const uint64_t offset = address - it->first;
    if (offset > it->second.size() || size > it->second.size() - offset) {
      return absl::DataLossError("unmapped");
    }
    if (size > 0) std::memcpy(out, it->second.data() + offset, size);
    return absl::OkStatus();
  }

  uint64_t allocate(size_t size) {
    const uint64_t address = next_;
    const size_t pages = std::max<size_t>((size + kPage - 1) / kPage, 1);
    next_ += (pages + 1) * kPage;
    blocks_[address] = std::vector<uint8_t>(pages * kPage, 0);
    return address;
  }
  // Writes where memory is mapped; returns false (writing nothing) elsewhere.
  bool write(uint64_t address, const void* data, size_t size) {
    auto it = blocks_.upper_bound(address);
    if (it == blocks_.begin()) return false;
    --it;
    const uint64_t offset = address - it->first;
    if (offset > it->second.size() || size > it->second.size() - offset) return false;
    std::memcpy(it->second.data() + offset, data, size);
    return true;
  }
  template <typename T>
  void put(uint64_t address, T value) {
    ASSERT_TRUE(write(address, &value, sizeof value)) << std::hex << address;
  }
  template <typename T>
  T get(uint64_t address) const {
    T value{};
    EXPECT_TRUE(read(address, &value, sizeof value).ok()) << std::hex << address;
    return value;
  }
  bool mapped(uint64_t address) const {
    uint8_t byte;
    return read(address, &byte, 1).ok();
  }

 private:
  std::map<uint64_t, std::vector<uint8_t>> blocks_;
  uint64_t next_ = 0x7f1000000000;
};

constexpr uint64_t kUnmapped = 0x5ead0000;  // below every block
constexpr uint64_t kTpFlagsLong = 1ULL << 24;
constexpr uint64_t kTpFlagsUnicode = 1ULL << 28;
constexpr uint64_t kTpFlagsType = 1ULL << 31;
// gi_frame_state of 3.14 (Include/internal/pycore_frame.h).
constexpr int8_t kFrameCreated = -3, kFrameSuspended = -2, kFrameSuspendedYieldFrom = -1,
                 kFrameExecuting = 0, kFrameCleared = 4;
constexpr uint64_t kNativeIdA = 1001, kNativeIdB = 1002;
constexpr uint64_t kIdentA = 0x7f3a2b1ff6c0, kIdentB = 0x7f3a2c8e1740;  // pthread_t values

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

// Writes objects of a 3.14 process and records the words and bytes a fuzz may corrupt.
class Builder {
 public:
  Builder(FakeMemory& memory, const AsyncioDebugOffsets& offsets)
      : m_(memory), l_(L314()), o_(offsets) {
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

  uint64_t type(const std::string& name, uint64_t flags) {
    const uint64_t t = m_.allocate(1024);
    const uint64_t text = t + 800;
    m_.write(text, name.c_str(), name.size() + 1);
    m_.put<uint64_t>(t, 1);
    word(t + l_.object.type, type_type_);
    word(t + l_.type.name, text);
    word(t + l_.type.flags, flags);
    word(t + l_.type.base, t == object_type_ || object_type_ == 0 ? 0 : object_type_);
    return t;
  }

  // A compact str: ASCII data after PyASCIIObject, Latin-1 after PyCompactUnicodeObject.
  uint64_t str(const std::u32string& text) {
    const bool ascii = std::all_of(text.begin(), text.end(), [](char32_t c) { return c < 128; });
    for (char32_t c : text) EXPECT_LT(c, 256u) << "Latin-1 only";
    const uint64_t o = object(str_type_, l_.unicode.compact_size + text.size() + 1);
    word(o + l_.unicode.length, text.size());
    const uint32_t state = (1u << l_.unicode.kind_shift) | (1u << l_.unicode.compact_bit) |
                           (ascii ? 1u << l_.unicode.ascii_bit : 0);
    m_.put<uint32_t>(o + l_.unicode.state, state);
    bytes_.push_back(o + l_.unicode.state);
    uint64_t data = o + (ascii ? l_.unicode.ascii_size : l_.unicode.compact_size);
    for (char32_t c : text) m_.put<uint8_t>(data++, static_cast<uint8_t>(c));
    return o;
  }

  // A 3.12+ int (lv_tag = ndigits << 3, 30-bit digits).
  uint64_t integer(uint64_t value) {
    const uint64_t o = object(int_type_, 64);
    std::vector<uint32_t> digits;
    for (uint64_t v = value; v != 0; v >>= l_.long_object.shift) {
      digits.push_back(static_cast<uint32_t>(v & ((1u << l_.long_object.shift) - 1)));
    }
    word(o + l_.long_object.tag, digits.size() << 3);
    for (size_t i = 0; i < digits.size(); ++i) {
      m_.put<uint32_t>(o + l_.long_object.digits + 4 * i, digits[i]);
    }
    return o;
  }

  // A coroutine whose embedded frame runs Code(code) in `state`, with one value on its stack
  // (`top`, tagged with `tag`), the awaited object when the state is "suspended in await".
  uint64_t coroutine(int code, int8_t state, uint64_t top, uint64_t tag = 0) {
    const uint64_t c = object(coro_type_, 512);
    m_.put<int8_t>(c + l_.gen.frame_state, state);
    bytes_.push_back(c + l_.gen.frame_state);
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
    bytes_.push_back(t + o_.task.is_task);
    set_awaited_by(t, 0, false);
    return t;
  }
  void set_awaited_by(uint64_t task, uint64_t awaiter, bool is_set) {
    word(task + o_.task.awaited_by, awaiter);
    m_.put<uint8_t>(task + o_.task.awaited_by_is_set, is_set ? 1 : 0);
    bytes_.push_back(task + o_.task.awaited_by_is_set);
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

  const std::vector<uint64_t>& words() const { return words_; }
  const std::vector<uint64_t>& bytes() const { return bytes_; }
  const std::vector<uint64_t>& objects() const { return objects_; }
  const std::vector<uint64_t>& heads() const { return heads_; }

 private:
  uint64_t object(uint64_t type, size_t size) {
    const uint64_t o = m_.allocate(size);
    m_.put<uint64_t>(o, 1);  // ob_refcnt
    word(o + l_.object.type, type);
    objects_.push_back(o);
    return o;
  }
  void word(uint64_t address, uint64_t value) {
    m_.put<uint64_t>(address, value);
    words_.push_back(address);
  }
  uint64_t load(uint64_t address) const { return m_.get<uint64_t>(address); }

  FakeMemory& m_;
  const Layout& l_;
  const AsyncioDebugOffsets& o_;
  uint64_t type_type_ = 0, object_type_ = 0, str_type_ = 0, int_type_ = 0, set_type_ = 0;
  uint64_t coro_type_ = 0, task_type_ = 0, future_type_ = 0;
  uint64_t dummy_ = 0x7e57d0000;  // the set's dummy key: any address
  std::vector<uint64_t> words_, bytes_, objects_, heads_;
};

// The process every test starts from.
//   thread A (newest, native id 1001): T1 "worker-a"  C1 -> C2 -> C3 -> F1 (a Future)
//                                      T2 Task-7      C4 (suspended at a yield), awaited by T1
//                                      T6 "extra"     C7 (created)
//   thread B (main, native id 1002):   T3 "main"      C5 (executing; its stack holds C1)
//                                      T4 "tâche-ü"   C6 -> F1, awaited by the set {T1, T3}
//   interpreter:                       T5 Task-42     no coroutine, awaited by FUT (no Task)
struct Scene {
  FakeMemory memory;
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

struct ReadStats {
  size_t frame_reads = 0;
};

AsyncioTasks Read(const FakeMemory& memory, uint64_t interp, const std::vector<Thread>& threads,
                  std::optional<AsyncioDebugOffsets> offsets, ReadStats* stats = nullptr,
                  const Layout& layout = L314()) {
  ObjectReader objects(memory, layout);
  TypeCache types(objects);
  DictReader dicts(objects);
  size_t frame_reads = 0;
  // The stand-in for SnapshotReader::read_coroutine_frame: the coroutine's gi_iframe as its
  // f_executable names it; nullopt when unreadable or NULL.
  AsyncioTaskReader reader(objects, types, dicts,
                           [&](uint64_t coroutine) -> std::optional<Frame> {
                             ++frame_reads;
                             absl::StatusOr<uint64_t> code = read_value<uint64_t>(
                                 memory, coroutine + layout.gen.iframe + layout.iframe.code);
                             if (!code.ok() || *code == 0) return std::nullopt;
                             Frame out;
                             out.code_address = *code & ~uint64_t{3};
                             return out;
                           });
  reader.set_debug_offsets(offsets);
  AsyncioTasks tasks = reader.read(interp, threads);
  if (stats != nullptr) stats->frame_reads = frame_reads;
  return tasks;
}

AsyncioTasks Read(const Scene& s, ReadStats* stats = nullptr) {
  return Read(s.memory, s.interp, s.threads, s.offsets, stats);
}

std::vector<Frame> Frames(std::initializer_list<int> codes) {
  std::vector<Frame> frames;
  for (int c : codes) {
    Frame f;
    f.code_address = Code(c);
    frames.push_back(f);
  }
  return frames;
}

std::string DescribeStack(const std::vector<Frame>& frames) {
  std::string out = "[";
  for (size_t i = 0; i < frames.size(); ++i) {
    absl::StrAppendFormat(&out, "%s0x%x", i ? " " : "", frames[i].code_address);
  }
  return out + "]";
}

std::string Describe(const AsyncioTasks& tasks) {
  std::string out;
  if (tasks.unavailable) absl::StrAppendFormat(&out, "unavailable: %s\n", *tasks.unavailable);
  if (tasks.walk_error) absl::StrAppendFormat(&out, "walk_error: %s\n", *tasks.walk_error);
  for (const AsyncioTaskList& list : tasks.lists) {
    absl::StrAppendFormat(&out, "list thread=%d ident=0x%x main=%d\n", list.thread_id,
                          list.thread_ident, list.main_thread);
    for (const AsyncioTask& t : list.tasks) {
      absl::StrAppendFormat(&out, "  task 0x%x name='%s' known=%d stack=%s\n", t.id, t.name,
                            t.awaited_by_known, DescribeStack(t.coroutine_stack));
      for (const TaskAwaiter& a : t.awaited_by) {
        absl::StrAppendFormat(&out, "    awaited_by 0x%x stack=%s\n", a.task_id,
                              DescribeStack(a.coroutine_stack));
      }
    }
  }
  return out;
}

AsyncioTask Task(uint64_t id, std::string name, std::vector<Frame> stack,
                 std::vector<TaskAwaiter> awaited_by = {}) {
  AsyncioTask t;
  t.id = id;
  t.name = std::move(name);
  t.coroutine_stack = std::move(stack);
  t.awaited_by = std::move(awaited_by);
  return t;
}

AsyncioTaskList List(uint64_t thread_id, uint64_t ident, bool main,
                     std::vector<AsyncioTask> tasks) {
  AsyncioTaskList list;
  list.thread_id = thread_id;
  list.thread_ident = ident;
  list.main_thread = main;
  list.tasks = std::move(tasks);
  return list;
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
  EXPECT_LE(tasks.lists.size(), max_lists);
  for (const AsyncioTaskList& list : tasks.lists) {
    ASSERT_LE(list.tasks.size(), kMaxTasksPerList);
    for (const AsyncioTask& t : list.tasks) {
      ASSERT_LE(t.coroutine_stack.size(), kMaxCoroutineChain);
      ASSERT_LE(t.awaited_by.size(), kMaxAwaiters);
      for (const TaskAwaiter& a : t.awaited_by) {
        ASSERT_LE(a.coroutine_stack.size(), kMaxCoroutineChain);
      }
    }
  }
}

const AsyncioTask* FindTask(const AsyncioTasks& tasks, uint64_t id) {
  for (const AsyncioTaskList& list : tasks.lists) {
    for (const AsyncioTask& t : list.tasks) {
      if (t.id == id) return &t;
    }
  }
  return nullptr;
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
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
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

// Turns a read that never returns into an abort naming it.
class Watchdog {
 public:
  static constexpr auto kHangTime = std::chrono::seconds(60);  // generous: valgrind
  Watchdog() : thread_([this] { run(); }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void arm(std::string what) {
    std::lock_guard<std::mutex> lock(mutex_);
    what_ = std::move(what);
    armed_at_ = std::chrono::steady_clock::now();
    armed_ = true;
  }
  void disarm() {
    std::lock_guard<std::mutex> lock(mutex_);
    armed_ = false;
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      if (armed_ && std::chrono::steady_clock::now() - armed_at_ > kHangTime) {
        std::cerr << "AsyncioTaskReader fuzz: " << what_ << " never returned\n";
        std::abort();
      }
      wake_.wait_for(lock, std::chrono::milliseconds(200));
    }
  }
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false, armed_ = false;
  std::string what_;
  std::chrono::steady_clock::time_point armed_at_;
  std::thread thread_;
};

// Writes to the image that can be undone.
class Mutator {
 public:
  explicit Mutator(FakeMemory& memory) : memory_(memory) {}
  ~Mutator() { undo(); }
  void write(uint64_t address, const void* data, size_t size) {
    std::vector<uint8_t> old(size);
    if (!memory_.read(address, old.data(), size).ok()) return;
    log_.push_back({address, std::move(old)});
    memory_.write(address, data, size);
  }
  template <typename T>
  void put(uint64_t address, T value) {
    write(address, &value, sizeof value);
  }
  void undo() {
    for (auto it = log_.rbegin(); it != log_.rend(); ++it) {
      memory_.write(it->first, it->second.data(), it->second.size());
    }
    log_.clear();
  }

 private:
  FakeMemory& memory_;
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> log_;
};

// Corrupts the intact scene a few times per seed (flipped bits; pointers replaced by random
// values, by pointers into other objects, list nodes and heads, self-pointers, NULL; sizes made
// huge; frame states and flags changed; random bytes of objects; the threads' tstate addresses;
// the AsyncioDebug offsets, when they still parse), reads it, and requires only that the read
// returns within the reader's bounds. Every seed starts from the intact image.
TEST(AsyncioTaskReaderFuzz, CorruptedImagesStayBounded) {
  constexpr uint32_t kSeeds = 20000;
  std::unique_ptr<Scene> s = BuildScene();
  ASSERT_EQ(Describe(Read(*s)), Describe(Expected(*s)));
  const Builder& b = *s->builder;
  const std::vector<uint64_t>& words = b.words();
  const std::vector<uint64_t>& bytes = b.bytes();
  const std::vector<uint64_t>& objects = b.objects();
  std::vector<uint64_t> nodes = b.heads();
  for (uint64_t t : {s->t1, s->t2, s->t3, s->t4, s->t5, s->t6, s->fut}) nodes.push_back(b.node(t));
  const std::vector<uint8_t> offset_bytes = OffsetBytes();
  ASSERT_EQ(offset_bytes.size(), kAsyncioDebugOffsetsSize);

  Watchdog watchdog;
  size_t walk_errors = 0, offsets_changed = 0, tasks_read = 0;
  const auto start = std::chrono::steady_clock::now();
  for (uint32_t seed = 1; seed <= kSeeds; ++seed) {
    std::mt19937_64 rng(seed);
    auto pick = [&](const std::vector<uint64_t>& from) { return from[rng() % from.size()]; };
    Mutator mutator(s->memory);
    std::vector<Thread> threads = s->threads;
    AsyncioDebugOffsets offsets = s->offsets;
    const int mutations = 1 + static_cast<int>(rng() % 6);
    for (int i = 0; i < mutations; ++i) {
      const uint64_t field = pick(words);
      switch (rng() % 12) {
        case 0: {  // flip bits of one byte of a field
          const uint64_t at = field + rng() % 8;
          uint8_t byte = s->memory.get<uint8_t>(at) ^ static_cast<uint8_t>(1 + rng() % 255);
          mutator.put(at, byte);
          break;
        }
        case 1: mutator.put<uint64_t>(field, rng()); break;
        case 2: mutator.put<uint64_t>(field, pick(objects) + 8 * (rng() % 32)); break;
        case 3: mutator.put<uint64_t>(field, pick(nodes) + (rng() % 4 == 0 ? 8 : 0)); break;
        case 4: mutator.put<uint64_t>(field, field & ~(kPage - 1)); break;  // its own object
        case 5: mutator.put<uint64_t>(field, field); break;
        case 6: mutator.put<uint64_t>(field, 0); break;
        case 7: {
          const uint64_t sizes[] = {uint64_t{1} << 40, ~uint64_t{0}, uint64_t{1} << 63,
                                    (uint64_t{1} << (rng() % 25)) - 1, rng() % 300};
          mutator.put<uint64_t>(field, sizes[rng() % 5]);
          break;
        }
        case 8: mutator.put<uint8_t>(pick(bytes), static_cast<uint8_t>(rng())); break;
        case 9: mutator.put<uint8_t>(pick(objects) + rng() % 1024, static_cast<uint8_t>(rng())); break;
        case 10: threads[rng() % threads.size()].tstate_address = pick(objects) + 8 * (rng() % 64); break;
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
    }
    watchdog.arm("seed " + std::to_string(seed));
    const AsyncioTasks tasks = Read(s->memory, s->interp, threads, offsets);
    watchdog.disarm();
    ExpectWithinBounds(tasks, threads.size() + 1);
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "seed " << seed;
      return;
    }
    if (tasks.walk_error) ++walk_errors;
    for (const AsyncioTaskList& list : tasks.lists) tasks_read += list.tasks.size();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ fuzzed   ] " << kSeeds << " seeds in " << seconds << " s: " << walk_errors
            << " with a walk error, " << offsets_changed << " with other offsets, " << tasks_read
            << " tasks read\n";
  // The image is intact again.
  EXPECT_EQ(Describe(Read(*s)), Describe(Expected(*s)));
}

}  // namespace
}  // namespace pystack
