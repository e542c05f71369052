// LockWaitReader (--locks, src/cpython/lock_waits.cc) on fake processes held in memory.
//
// Images of CPython 3.12 (_PyInterpreterFrame: fast locals at localsplus, the value stack after
// co_nlocalsplus of them, `with` blocks found through co_exceptiontable's depth at the frame's
// instruction) and 3.9 (PyFrameObject: f_localsplus, f_valuestack, f_iblock/f_blockstack), built
// with the shared writer of fake_python_memory.h: threads whose frames (Frame values with
// frame_address and code_address into the image) are in library waits (Condition.wait,
// Event.wait, _ModuleLock.acquire, Thread.join), in futex() on a Lock's or an RLock's semaphore,
// on a PyMutex wait entry or on the GIL; holders recorded by an RLock, inferred from a `with`
// block of another thread's frame; a deadlock of two threads; names from sys.modules.
//
// Then hostile images (unmapped frames, odd futex addresses, garbage wait entries, objects that
// are no locks, damaged exception tables and block stacks, owners that are no threads, huge
// module tables, self-referencing objects), each read to its end within bounds, and a
// deterministic fuzz of both images (fixed seeds) that asserts only termination and bounds.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "cpython/code_object.h"
#include "cpython/dict.h"
#include "cpython/gil_holder.h"
#include "cpython/layout.h"
#include "cpython/lock_waits.h"
#include "cpython/objects.h"
#include "cpython/py_types.h"
#include "cpython/releases.h"
#include "fake_python_memory.h"
#include "memory/registers.h"
#include "snapshot/snapshot.h"

namespace pystack {
namespace {

using namespace pystack::testing;  // the fake memory and object writer the unit tests share

const Layout& LayoutOf(int minor) {
  const Layout* layout = find_layout(3, minor);
  if (layout == nullptr) std::abort();
  return *layout;
}

// Objects packed in chunks with room for a managed __dict__ before each; neither a type's flags
// nor a str's length among the words the fuzz corrupts.
constexpr ImageStyle kStyle{.packed = true,
                            .type_name_at = 1600,
                            .type_basicsize = 48,
                            .fuzz_type_flags = false,
                            .fuzz_str_length = false};

// pthread_t values (Thread::thread_id, an RLock's owner).
constexpr uint64_t kT1 = 0x7f0000011000, kT2 = 0x7f0000022000, kT3 = 0x7f0000033000,
                   kT4 = 0x7f0000044000, kT5 = 0x7f0000055000, kT6 = 0x7f0000066000,
                   kT7 = 0x7f0000077000, kT8 = 0x7f0000088000, kT9 = 0x7f0000099000;
constexpr int kSetupFinally = 122;

PyText Text(std::u32string text) {
  PyText t;
  t.length = text.size();
  t.code_points = std::move(text);
  return t;
}

// One co_exceptiontable entry: varints of 6-bit groups, most significant first, bit 6 for "more
// follows", bit 7 on the entry's first byte.
std::string TableEntry(uint64_t start, uint64_t length, uint64_t target, uint64_t depth,
                       bool lasti = false) {
  std::string out;
  auto varint = [&](uint64_t value, bool first) {
    std::vector<uint8_t> groups;
    do {
      groups.push_back(static_cast<uint8_t>(value & 63));
      value >>= 6;
    } while (value != 0);
    for (size_t i = groups.size(); i-- > 0;) {
      uint8_t byte = groups[i];
      if (i > 0) byte |= 64;
      if (first && i == groups.size() - 1) byte |= 128;
      out += static_cast<char>(byte);
    }
  };
  varint(start, true);
  varint(length, false);
  varint(target, false);
  varint(depth << 1 | (lasti ? 1 : 0), false);
  return out;
}

// Writes the objects of a 3.9 or 3.12 process the readers of --locks look at.
class LockImage : public ObjectWriter {
 public:
  LockImage(FakeProcessMemory& memory, const Layout& layout)
      : ObjectWriter(memory, layout, kStyle), managed_(layout.minor >= 11) {
    type_type_ = type("type", kTpFlagsType, 0);
    m_.put<uint64_t>(type_type_ + l_.object.type, type_type_);
    object_type_ = type("object", 0, 0);
    m_.put<uint64_t>(type_type_ + l_.type.base, object_type_);
    str_type_ = type("str", kTpFlagsUnicode);
    int_type_ = type("int", kTpFlagsLong);
    bytes_type_ = type("bytes", kTpFlagsBytes);
    dict_type_ = type("dict", kTpFlagsDict);
    list_type_ = type("list", kTpFlagsList);
    module_type_ = type("module", 0);
    code_type_ = type("code", 0);
    cfunction_type_ = type("builtin_function_or_method", 0);
    lock_type_ = type("_thread.lock", 0);
    m_.put<int64_t>(lock_type_ + l_.type.basicsize, 40);  // sem_t * based, up to 3.13.0
    mutex_lock_type_ = type("_thread.lock", 0);
    m_.put<int64_t>(mutex_lock_type_ + l_.type.basicsize, 24);  // PyMutex based
    rlock_type_ = type("_thread.RLock", 0);
    condition_type_ = heap_type("Condition");
    event_type_ = heap_type("Event");
    thread_type_ = heap_type("Thread");
    module_lock_type_ = heap_type("_ModuleLock");
    interp_ = m_.allocate(static_cast<size_t>(l_.interp.modules) + 8);
    exit_def_ = method_def("__exit__");
    enter_def_ = method_def("__enter__");
    acquire_def_ = method_def("acquire");
  }

  uint64_t interp() const { return interp_; }
  uint64_t int_type() const { return int_type_; }
  uint64_t dict_type() const { return dict_type_; }
  uint64_t lock_type() const { return lock_type_; }

  // A Python class: its instances' __dict__ at tp_dictoffset 16 (3.9), or managed (3.12).
  uint64_t heap_type(const std::string& name) {
    const uint64_t t = type(name, kTpFlagsHeapType | (managed_ ? kTpFlagsManagedDict : 0));
    m_.put<int64_t>(t + l_.type.dictoffset, managed_ ? -1 : 16);
    return t;
  }
  uint64_t instance(uint64_t type, const std::vector<std::pair<std::string, uint64_t>>& items) {
    const uint64_t o = object(type, 64);
    word(managed_ ? o - 24 : o + 16, dict(items));
    return o;
  }
  uint64_t condition() { return instance(condition_type_, {}); }
  uint64_t event() { return instance(event_type_, {{"_flag", integer(0)}}); }
  uint64_t thread_object(uint64_t ident) {
    return instance(thread_type_, {{"_ident", integer(ident)}});
  }
  uint64_t module_lock(std::optional<uint64_t> owner) {
    return instance(module_lock_type_, {{"owner", owner ? integer(*owner) : integer(1, true)}});
  }

  // A sem_t of its own (the futex a semaphore-based lock's waiters sleep on).
  uint64_t semaphore() { return m_.allocate(32); }
  // _thread.lock up to 3.13.0: {PyObject_HEAD; sem_t *lock_lock; ...}.
  uint64_t lock() {
    const uint64_t o = object(lock_type_, 40);
    word(o + 16, semaphore());
    return o;
  }
  // _thread.lock from 3.13.1: {PyObject_HEAD; PyMutex}.
  uint64_t mutex_lock() { return object(mutex_lock_type_, 24); }
  // _thread.RLock up to 3.13: {PyObject_HEAD; sem_t *; owner; count}.
  uint64_t rlock(uint64_t owner, uint64_t count) {
    const uint64_t o = object(rlock_type_, 48);
    word(o + 16, semaphore());
    word(o + 24, owner);
    word(o + 32, count);
    return o;
  }
  uint64_t semaphore_of(uint64_t lock) const { return m_.get<uint64_t>(lock + 16); }

  uint64_t method_def(const std::string& name) {
    const uint64_t d = raw(32);
    const uint64_t text = raw(name.size() + 1);
    m_.write(text, name.c_str(), name.size() + 1);
    word(d + l_.methoddef.name, text);
    return d;
  }
  // A builtin method bound to `self` (lock.__exit__, lock.acquire, ...).
  uint64_t bound(uint64_t self, uint64_t def) {
    const uint64_t o = object(cfunction_type_, 64);
    word(o + l_.cfunction.method, def);
    word(o + l_.cfunction.self, self);
    return o;
  }
  uint64_t exit_of(uint64_t self) { return bound(self, exit_def_); }
  uint64_t enter_of(uint64_t self) { return bound(self, enter_def_); }
  uint64_t acquire_of(uint64_t self) { return bound(self, acquire_def_); }

  uint64_t bytes(const std::string& data) {
    const uint64_t o = object(bytes_type_, static_cast<size_t>(l_.bytes.sval) + data.size() + 8);
    word(o + l_.object.var_size, data.size());
    if (!data.empty()) m_.write(o + l_.bytes.sval, data.data(), data.size());
    return o;
  }
  // 3.12: a code object of `nlocalsplus` fast locals and `table` as its co_exceptiontable.
  uint64_t code(int32_t nlocalsplus, const std::string& table) {
    const uint64_t c = m_.allocate(1024);
    m_.put<uint64_t>(c, 1);
    word(c + l_.object.type, code_type_);
    if (l_.code.exceptiontable >= 0) word(c + l_.code.exceptiontable, bytes(table));
    if (l_.code.nlocalsplus >= 0) {
      m_.put<int32_t>(c + l_.code.nlocalsplus, nlocalsplus);
      field_byte(c + l_.code.nlocalsplus);
      field_byte(c + l_.code.nlocalsplus + 3);
    }
    codes_.push_back(c);
    return c;
  }
  // 3.12: a _PyInterpreterFrame of `code` whose instruction is unit `index` of its bytecode,
  // with `slots` (fast locals, then the value stack) from localsplus, in pages of its own.
  uint64_t frame312(uint64_t code, int64_t index, const std::vector<uint64_t>& slots) {
    const uint64_t f = m_.allocate(static_cast<size_t>(l_.iframe.localsplus) + 8 * slots.size());
    word(f + l_.iframe.instr, code + l_.code.adaptive + static_cast<uint64_t>(2 * index));
    for (size_t i = 0; i < slots.size(); ++i) word(f + l_.iframe.localsplus + 8 * i, slots[i]);
    frames_.push_back(f);
    return f;
  }
  // 3.9: a PyFrameObject with `locals` then the value stack `stack`, and `blocks` (b_type,
  // b_handler, b_level) on its block stack.
  uint64_t frame39(const std::vector<uint64_t>& locals, const std::vector<uint64_t>& stack,
                   const std::vector<std::array<int32_t, 3>>& blocks) {
    const uint64_t f =
        m_.allocate(static_cast<size_t>(l_.frame.localsplus) + 8 * (locals.size() + stack.size()));
    const uint64_t values = f + l_.frame.localsplus + 8 * locals.size();
    word(f + l_.frame.valuestack, values);
    m_.put<int32_t>(f + l_.frame.iblock, static_cast<int32_t>(blocks.size()));
    field_byte(f + l_.frame.iblock);
    field_byte(f + l_.frame.iblock + 3);
    for (size_t i = 0; i < blocks.size(); ++i) {
      for (int j = 0; j < 3; ++j) {
        m_.put<int32_t>(f + l_.frame.blockstack + 12 * i + 4 * j, blocks[i][j]);
        field_byte(f + l_.frame.blockstack + 12 * i + 4 * j);
      }
    }
    for (size_t i = 0; i < locals.size(); ++i) word(f + l_.frame.localsplus + 8 * i, locals[i]);
    for (size_t i = 0; i < stack.size(); ++i) word(values + 8 * i, stack[i]);
    frames_.push_back(f);
    return f;
  }

  // interp->modules = {name: module} with each module's __dict__ = its items.
  void modules(const std::vector<std::pair<std::string, uint64_t>>& modules) {
    word(interp_ + l_.interp.modules, dict(modules));
  }
  uint64_t module(const std::vector<std::pair<std::string, uint64_t>>& globals) {
    const uint64_t o = object(module_type_, 64);
    word(o + l_.module.dict, dict(globals));
    return o;
  }
  uint64_t module_with_dict(uint64_t globals) {
    const uint64_t o = object(module_type_, 64);
    word(o + l_.module.dict, globals);
    return o;
  }

  const std::vector<uint64_t>& frames() const { return frames_; }
  const std::vector<uint64_t>& codes() const { return codes_; }

 private:
  bool managed_;
  uint64_t bytes_type_ = 0, module_type_ = 0, code_type_ = 0, cfunction_type_ = 0, lock_type_ = 0,
           mutex_lock_type_ = 0, rlock_type_ = 0, condition_type_ = 0, event_type_ = 0,
           thread_type_ = 0, module_lock_type_ = 0;
  uint64_t interp_ = 0, exit_def_ = 0, enter_def_ = 0, acquire_def_ = 0;
  std::vector<uint64_t> frames_, codes_;
};

Frame PyFrame(uint64_t frame, uint64_t code, std::u32string file, std::u32string name,
              std::optional<std::u32string> qualname = std::nullopt) {
  Frame f;
  f.frame_address = frame;
  f.code_address = code;
  f.filename = Text(std::move(file));
  f.name = Text(std::move(name));
  if (qualname) f.qualname = Text(*qualname);
  return f;
}
constexpr char32_t kThreading[] = U"/usr/lib/python3.12/threading.py";
constexpr char32_t kUser[] = U"/srv/app/worker.py";

Thread MakeThread(uint64_t id, std::vector<Frame> frames, uint64_t tstate = 0) {
  Thread t;
  t.thread_id = id;
  t.tstate_address = tstate != 0 ? tstate : id + 0x100;
  t.frames = std::move(frames);
  return t;
}

using Calls = std::map<uint64_t, BlockedSyscall>;  // thread id -> its system call
BlockedSyscall Futex(uint64_t address) { return {kSyscallFutex, address}; }

LockReport ReadLocks(const FakeProcessMemory& memory, const Layout& layout,
                     const Interpreter& interp, const GilState& gil, const Calls& calls,
                     size_t* syscall_queries = nullptr) {
  ObjectReader objects(memory, layout);
  TypeCache types(objects);
  DictReader dicts(objects);
  CodeCache codes(objects);
  LockWaitReader reader(objects, types, dicts, codes);
  size_t queries = 0;
  LockReport report =
      reader.read(interp, gil, [&](const Thread& thread) -> std::optional<BlockedSyscall> {
        ++queries;
        auto it = calls.find(thread.thread_id);
        if (it == calls.end()) return std::nullopt;
        return it->second;
      });
  if (syscall_queries != nullptr) *syscall_queries = queries;
  return report;
}

const char* HolderText(LockHolder holder) {
  switch (holder) {
    case LockHolder::kRecorded: return "recorded";
    case LockHolder::kInferred: return "inferred";
    case LockHolder::kNone: return "none";
    case LockHolder::kUnknown: return "unknown";
  }
  return "?";
}

std::string Describe(const LockReport& report) {
  std::string out;
  for (const LockWait& w : report.waits) {
    absl::StrAppendFormat(&out, "thread 0x%x waits 0x%x %s", w.thread_id, w.object.address,
                          w.object.type);
    if (w.object.name) absl::StrAppendFormat(&out, " '%s'", *w.object.name);
    absl::StrAppendFormat(&out, " holder=%s", HolderText(w.holder));
    if (w.holder_thread_id) absl::StrAppendFormat(&out, " by 0x%x", *w.holder_thread_id);
    absl::StrAppendFormat(&out, " (%s)\n", w.how);
  }
  for (const std::vector<uint64_t>& cycle : report.deadlocks) {
    out += "deadlock";
    for (uint64_t t : cycle) absl::StrAppendFormat(&out, " 0x%x", t);
    out += "\n";
  }
  if (report.walk_error) absl::StrAppendFormat(&out, "walk_error: %s\n", *report.walk_error);
  return out;
}

std::string DescribeWait(const LockWait& wait) {
  LockReport report;
  report.waits = {wait};
  return Describe(report);
}

std::string Wait(uint64_t thread, uint64_t object, const std::string& type,
                 std::optional<std::string> name, const std::string& holder,
                 std::optional<uint64_t> by, const std::string& how) {
  std::string out = absl::StrFormat("thread 0x%x waits 0x%x %s", thread, object, type);
  if (name) absl::StrAppendFormat(&out, " '%s'", *name);
  absl::StrAppendFormat(&out, " holder=%s", holder);
  if (by) absl::StrAppendFormat(&out, " by 0x%x", *by);
  return out + absl::StrFormat(" (%s)\n", how);
}

constexpr char kConditionHow[] =
    "a Condition is held by nobody while waited on: it waits to be notified";
constexpr char kNoOwner[] = "a Lock records no owner";

// Every bound the reader keeps, whatever the image: a wait per thread at most, waits in the
// order of the threads, every cycle of threads that wait.
void ExpectBounded(const LockReport& report, const Interpreter& interp) {
  ASSERT_LE(report.waits.size(), interp.threads.size());
  size_t next = 0;
  for (const LockWait& w : report.waits) {
    while (next < interp.threads.size() && interp.threads[next].thread_id != w.thread_id) ++next;
    ASSERT_LT(next, interp.threads.size()) << "a wait of no thread, or out of order";
    ++next;
  }
  size_t in_cycles = 0;
  for (const std::vector<uint64_t>& cycle : report.deadlocks) {
    ASSERT_FALSE(cycle.empty());
    in_cycles += cycle.size();
  }
  ASSERT_LE(in_cycles, report.waits.size());
}

// --- 3.12 ----------------------------------------------------------------------------------------

// The threads of one 3.12 process:
//  T1 in Condition.wait (threading.py) under a user frame: nobody holds it;
//  T2 in futex() on the semaphore of RLock R, which T3 owns (count 1): recorded;
//  T3 in futex() on Lock L ("mod.LOCK", a local of its frame): T4's Holder.run is in `with L:`
//     (exception-table depth 3, L.__exit__ on its value stack): inferred;
//  T4 (that Holder.run) in futex() on R: owned by T3, so T3 and T4 deadlock;
//  T5 in futex() by the GIL's `locked` field: held by T6, which runs (no system call);
//  T7 in Event.wait -> Condition.wait: the outermost library wait, the Event;
//  T8 in futex() on a PyMutex Lock M's wait entry (the mutex at M + 16): nobody known holds it.
struct Image312 {
  FakeProcessMemory memory;
  LockImage image{memory, LayoutOf(12)};
  uint64_t cond = 0, event = 0, event_cond = 0, r = 0, l = 0, m = 0, wait_entry = 0;
  uint64_t holder_code = 0, holder_frame = 0;
  Interpreter interp;
  GilState gil;
  Calls calls;

  Image312() {
    cond = image.condition();
    event = image.event();
    event_cond = image.condition();
    r = image.rlock(kT3, 1);
    l = image.lock();
    m = image.mutex_lock();
    image.modules({{"junk", image.integer(5)},
                   {"threading", image.module({{"_active", image.integer(1)}})},
                   {"mod", image.module({{"OTHER", image.integer(7)}, {"LOCK", l}})}});

    const uint64_t plain = image.code(4, "");
    // Holder.run: the `with` body covers units 10..29, its handler keeps 3 slots of the stack.
    holder_code = image.code(2, TableEntry(2, 4, 50, 1) + TableEntry(10, 20, 60, 3, true));

    // T1: Condition.wait(self=cond) <- user code.
    const uint64_t t1_wait = image.frame312(plain, 5, {cond, image.integer(1)});
    const uint64_t t1_user = image.frame312(plain, 5, {image.integer(2)});
    // T2: `with R:` in user code, R.__enter__ on the value stack.
    const uint64_t t2 = image.frame312(plain, 3, {image.integer(3), 0, 0, 0, image.enter_of(r)});
    // T3: holds R (recorded by R), takes L: L in a local.
    const uint64_t t3 = image.frame312(plain, 3, {l, image.integer(4)});
    // T4: Holder.run: locals (self, R), stack [x, L.__exit__, L's __enter__ result] at unit 15.
    holder_frame = image.frame312(
        holder_code, 15, {image.integer(5), r, image.integer(6), image.exit_of(l), l});
    // T7: Event.wait(self=event) -> Condition.wait(self=event_cond).
    const uint64_t t7_cond = image.frame312(plain, 1, {event_cond});
    const uint64_t t7_event = image.frame312(plain, 1, {event});
    // T8: a PyMutex wait entry {park_arg, addr = &M->mutex, sema}.
    wait_entry = image.raw(64);
    image.word(wait_entry + 8, m + 16);

    interp.address = image.interp();
    interp.threads = {
        MakeThread(kT1, {PyFrame(t1_wait, plain, kThreading, U"wait", U"Condition.wait"),
                         PyFrame(t1_user, plain, kUser, U"consume")}),
        MakeThread(kT2, {PyFrame(t2, plain, kUser, U"take_r")}),
        MakeThread(kT3, {PyFrame(t3, plain, kUser, U"take_l")}),
        MakeThread(kT4, {PyFrame(holder_frame, holder_code, kUser, U"run", U"Holder.run")}),
        MakeThread(kT5, {PyFrame(image.frame312(plain, 0, {}), plain, kUser, U"spin")}),
        MakeThread(kT6, {PyFrame(image.frame312(plain, 0, {}), plain, kUser, U"busy")}, 0x6660),
        MakeThread(kT7, {PyFrame(t7_cond, plain, kThreading, U"wait", U"Condition.wait"),
                         PyFrame(t7_event, plain, kThreading, U"wait", U"Event.wait"),
                         PyFrame(t1_user, plain, kUser, U"main")}),
        MakeThread(kT8, {PyFrame(image.frame312(plain, 0, {}), plain, kUser, U"take_m")}),
    };
    gil.locked = true;
    gil.holder = 0x6660;
    gil.locked_address = memory.allocate(256) + 64;
    calls = {{kT1, Futex(0x1234)},  // a library wait: its system call is not looked at
             {kT2, Futex(image.semaphore_of(r))},
             {kT3, Futex(image.semaphore_of(l))},
             {kT4, Futex(image.semaphore_of(r))},
             {kT5, Futex(gil.locked_address + 8)},
             {kT8, Futex(wait_entry + 16)}};
  }

  std::string expected() const {
    return Wait(kT1, cond, "Condition", std::nullopt, "none", std::nullopt, kConditionHow) +
           Wait(kT2, r, "RLock", std::nullopt, "recorded", kT3, "the RLock's owner") +
           Wait(kT3, l, "lock", "mod.LOCK", "inferred", kT4, "in a with block of Holder.run") +
           Wait(kT4, r, "RLock", std::nullopt, "recorded", kT3, "the RLock's owner") +
           Wait(kT5, 0, "GIL", std::nullopt, "recorded", kT6, "the GIL's holder") +
           Wait(kT7, event, "Event", std::nullopt, "none", std::nullopt,
                "an Event waits to be set") +
           Wait(kT8, m, "lock", std::nullopt, "unknown", std::nullopt, kNoOwner) +
           absl::StrFormat("deadlock 0x%x 0x%x\n", kT3, kT4);
  }

  LockReport read(size_t* queries = nullptr) const {
    return ReadLocks(memory, image.layout(), interp, gil, calls, queries);
  }
};

TEST(LockWaits312, EveryKindOfWaitAndItsHolder) {
  Image312 s;
  size_t queries = 0;
  const LockReport report = s.read(&queries);
  EXPECT_EQ(Describe(report), s.expected());
  // Library waits (T1, T7) do not ask for their system call.
  EXPECT_EQ(queries, s.interp.threads.size() - 2);
}

TEST(LockWaits312, TheWithBlockEndsWhereItsExceptionTableEntryEnds) {
  Image312 s;
  const Layout& l = s.image.layout();
  // Unit 30 is past the `with` body (10..29): T4 holds nothing, so neither T3's nor any deadlock.
  s.memory.put<uint64_t>(s.holder_frame + l.iframe.instr, s.holder_code + l.code.adaptive + 60);
  EXPECT_EQ(Describe(s.read()),
            Wait(kT1, s.cond, "Condition", std::nullopt, "none", std::nullopt, kConditionHow) +
                Wait(kT2, s.r, "RLock", std::nullopt, "recorded", kT3, "the RLock's owner") +
                Wait(kT3, s.l, "lock", "mod.LOCK", "unknown", std::nullopt, kNoOwner) +
                Wait(kT4, s.r, "RLock", std::nullopt, "recorded", kT3, "the RLock's owner") +
                Wait(kT5, 0, "GIL", std::nullopt, "recorded", kT6, "the GIL's holder") +
                Wait(kT7, s.event, "Event", std::nullopt, "none", std::nullopt,
                     "an Event waits to be set") +
                Wait(kT8, s.m, "lock", std::nullopt, "unknown", std::nullopt, kNoOwner));
  // Unit 3: the first entry (units 2..5), whose handler keeps one slot: an int, no __exit__.
  s.memory.put<uint64_t>(s.holder_frame + l.iframe.instr, s.holder_code + l.code.adaptive + 6);
  EXPECT_EQ(s.read().deadlocks.size(), 0u);
  // Unit 10, the first of the `with` body: held again.
  s.memory.put<uint64_t>(s.holder_frame + l.iframe.instr, s.holder_code + l.code.adaptive + 20);
  EXPECT_EQ(s.read().deadlocks.size(), 1u);
}

TEST(LockWaits312, AnRLockNotHeldAndTheGilHeldByNoThreadOfOurs) {
  Image312 s;
  s.memory.put<uint64_t>(s.r + 32, 0);  // count 0: nobody holds R
  s.gil.holder = 0x999;                 // a thread state of no thread here
  const LockReport report = s.read();
  ASSERT_EQ(report.waits.size(), 7u);
  EXPECT_EQ(DescribeWait(report.waits[1]),
            Wait(kT2, s.r, "RLock", std::nullopt, "unknown", std::nullopt,
                 "the RLock is not held now"));
  EXPECT_EQ(DescribeWait(report.waits[4]),
            Wait(kT5, 0, "GIL", std::nullopt, "unknown", std::nullopt,
                 "the GIL is held by no thread of this interpreter"));
  EXPECT_TRUE(report.deadlocks.empty());
}

TEST(LockWaits312, ImportLockOwnerJoinedThreadAndQueue) {
  FakeProcessMemory memory;
  LockImage image(memory, LayoutOf(12));
  const uint64_t plain = image.code(2, "");
  const uint64_t module_lock = image.module_lock(kT2);
  const uint64_t orphan_lock = image.module_lock(std::nullopt);  // owner -1: none
  const uint64_t joined = image.thread_object(kT1);
  const uint64_t queue_type = image.heap_type("LifoQueue");
  const uint64_t queue = image.instance(queue_type, {});
  const uint64_t sem_type = image.heap_type("BoundedSemaphore");
  const uint64_t sem = image.instance(sem_type, {});
  const uint64_t other_type = image.heap_type("Other");
  const uint64_t other = image.instance(other_type, {});
  auto frame = [&](uint64_t self) { return image.frame312(plain, 0, {self}); };
  constexpr char32_t kBootstrap[] = U"<frozen importlib._bootstrap>";
  constexpr char32_t kQueue[] = U"/usr/lib/python3.12/queue.py";
  Interpreter interp;
  interp.address = image.interp();
  interp.threads = {
      // The import lock's owner, even under a Condition.wait of the same library run.
      MakeThread(kT1, {PyFrame(frame(image.condition()), plain, kThreading, U"wait"),
                       PyFrame(frame(module_lock), plain, kBootstrap, U"acquire"),
                       PyFrame(frame(image.condition()), plain, kThreading, U"wait")}),
      MakeThread(kT2, {PyFrame(frame(orphan_lock), plain, kBootstrap, U"acquire")}),
      MakeThread(kT3, {PyFrame(frame(image.lock()), plain, kThreading, U"_wait_for_tstate_lock"),
                       PyFrame(frame(joined), plain, kThreading, U"join")}),
      MakeThread(kT4, {PyFrame(frame(image.condition()), plain, kThreading, U"wait"),
                       PyFrame(frame(queue), plain, kQueue, U"get")}),
      MakeThread(kT5, {PyFrame(frame(sem), plain, kThreading, U"acquire")}),
      // A library frame of an unknown pair, then a user frame: no wait, and its system call.
      MakeThread(kT6, {PyFrame(frame(other), plain, kThreading, U"wait"),
                       PyFrame(frame(image.condition()), plain, kUser, U"wait")}),
  };
  const LockReport report = ReadLocks(memory, image.layout(), interp, {}, {});
  EXPECT_EQ(
      Describe(report),
      Wait(kT1, module_lock, "_ModuleLock", std::nullopt, "recorded", kT2,
           "the import lock's owner") +
          Wait(kT2, orphan_lock, "_ModuleLock", std::nullopt, "unknown", std::nullopt,
               "the import lock has no owner") +
          Wait(kT3, joined, "Thread", std::nullopt, "recorded", kT1, "the thread being joined") +
          Wait(kT4, queue, "LifoQueue", std::nullopt, "none", std::nullopt,
               "a Queue waits for an item") +
          Wait(kT5, sem, "BoundedSemaphore", std::nullopt, "none", std::nullopt,
               "a Semaphore waits to be released") +
          "");
  // T1 -> T2 (import lock), T3 -> T1 (join); T2 records no holder: no cycle.
  EXPECT_TRUE(report.deadlocks.empty());
}

TEST(LockWaits312, AThreadWaitingForALockItHoldsDeadlocksAlone) {
  Image312 s;
  // T4 itself waits for L, which its own Holder.run holds.
  s.calls[kT4] = Futex(s.image.semaphore_of(s.l));
  s.memory.put<uint64_t>(s.holder_frame + s.image.layout().iframe.localsplus + 8, s.l);
  const LockReport report = s.read();
  ASSERT_EQ(report.waits.size(), 7u);
  EXPECT_EQ(DescribeWait(report.waits[3]), Wait(kT4, s.l, "lock", "mod.LOCK", "inferred", kT4,
                                              "in a with block of Holder.run"));
  ASSERT_EQ(report.deadlocks.size(), 1u);
  EXPECT_EQ(report.deadlocks[0], std::vector<uint64_t>({kT4}));
}

// --- 3.9 -----------------------------------------------------------------------------------------

// T1 in futex() on Lock L ("pkg.mod.GUARD"), held in a `with` block of T2's outer frame (a
// SETUP_FINALLY block of b_level 2: L.__exit__ at f_valuestack[1]); T2's inner frame has other
// blocks: an except handler whose level names another lock's __exit__, a SETUP_FINALLY on an
// __enter__. T3 in futex() on RLock R (found through the bound method R.acquire on its stack),
// whose count is 0. T2 in futex() on the semaphore of R2, owned by T1: a deadlock T1 <-> T2.
struct Image39 {
  FakeProcessMemory memory;
  LockImage image{memory, LayoutOf(9)};
  uint64_t l = 0, other = 0, r = 0, r2 = 0, outer = 0;
  Interpreter interp;
  Calls calls;

  Image39() {
    l = image.lock();
    other = image.lock();
    r = image.rlock(kT2, 0);
    r2 = image.rlock(kT1, 2);
    image.modules({{"pkg.mod", image.module({{"GUARD", l}})}});
    const uint64_t t1 = image.frame39({image.integer(1), l}, {}, {});
    const uint64_t inner = image.frame39(
        {r2}, {image.exit_of(other), image.enter_of(other), image.integer(3)},
        {{257, 0, 1}, {kSetupFinally, 0, 2}, {kSetupFinally, 0, 3}});
    outer = image.frame39({image.integer(2)}, {image.integer(9), image.exit_of(l), l},
                          {{kSetupFinally, 40, 2}});
    const uint64_t t3 = image.frame39({}, {image.acquire_of(r), image.integer(4)}, {});
    interp.address = image.interp();
    interp.threads = {
        MakeThread(kT1, {PyFrame(t1, 0, kUser, U"take")}),
        MakeThread(kT2, {PyFrame(inner, 0, kUser, U"inner"), PyFrame(outer, 0, kUser, U"hold")}),
        MakeThread(kT3, {PyFrame(t3, 0, kUser, U"take_r")}),
    };
    calls = {{kT1, Futex(image.semaphore_of(l))},
             {kT2, Futex(image.semaphore_of(r2))},
             {kT3, Futex(image.semaphore_of(r))}};
  }

  std::string expected() const {
    return Wait(kT1, l, "lock", "pkg.mod.GUARD", "inferred", kT2, "in a with block of hold") +
           Wait(kT2, r2, "RLock", std::nullopt, "recorded", kT1, "the RLock's owner") +
           Wait(kT3, r, "RLock", std::nullopt, "unknown", std::nullopt,
                "the RLock is not held now") +
           absl::StrFormat("deadlock 0x%x 0x%x\n", kT1, kT2);
  }
  LockReport read() const { return ReadLocks(memory, image.layout(), interp, {}, calls); }
};

TEST(LockWaits39, BlockStackWithAndRLocks) {
  Image39 s;
  EXPECT_EQ(Describe(s.read()), s.expected());
}

TEST(LockWaits39, OnlySetupFinallyBlocksAtTheExitsLevelCount) {
  Image39 s;
  const Layout& l = s.image.layout();
  // The block's level one lower: f_valuestack[0] is an int, no __exit__.
  s.memory.put<int32_t>(s.outer + l.frame.blockstack + 8, 1);
  EXPECT_EQ(s.read().waits[0].holder, LockHolder::kUnknown);
  // Back at level 2 but an except handler's block (257): not a `with`.
  s.memory.put<int32_t>(s.outer + l.frame.blockstack + 8, 2);
  s.memory.put<int32_t>(s.outer + l.frame.blockstack, 257);
  EXPECT_EQ(s.read().waits[0].holder, LockHolder::kUnknown);
  s.memory.put<int32_t>(s.outer + l.frame.blockstack, kSetupFinally);
  // f_iblock 0: no blocks.
  s.memory.put<int32_t>(s.outer + l.frame.iblock, 0);
  EXPECT_EQ(s.read().waits[0].holder, LockHolder::kUnknown);
  s.memory.put<int32_t>(s.outer + l.frame.iblock, 1);
  EXPECT_EQ(Describe(s.read()), s.expected());
}

// --- Hostile memory ------------------------------------------------------------------------------

// A 3.12 image of two threads: the waiter W in futex() on Lock L (a local of its frame), the
// holder H in `with L:` (as T4 above). Each test breaks one thing and reads to the end.
struct Pair312 {
  FakeProcessMemory memory;
  LockImage image{memory, LayoutOf(12)};
  uint64_t l = 0, plain = 0, holder_code = 0, waiter_frame = 0, holder_frame = 0, exit = 0;
  Interpreter interp;
  GilState gil;
  Calls calls;

  Pair312() {
    l = image.lock();
    plain = image.code(2, "");
    holder_code = image.code(2, TableEntry(0, 40, 60, 2));
    exit = image.exit_of(l);
    waiter_frame = image.frame312(plain, 0, {l, image.integer(1)});
    holder_frame = image.frame312(holder_code, 4, {image.integer(1), image.integer(2), exit, l});
    interp.address = image.interp();
    interp.threads = {MakeThread(kT1, {PyFrame(waiter_frame, plain, kUser, U"take")}),
                      MakeThread(kT2, {PyFrame(holder_frame, holder_code, kUser, U"hold")})};
    calls = {{kT1, Futex(image.semaphore_of(l))}};
  }
  LockReport read() const { return ReadLocks(memory, image.layout(), interp, gil, calls); }
  std::string held() const {
    return Wait(kT1, l, "lock", std::nullopt, "inferred", kT2, "in a with block of hold");
  }
  std::string unknown() const {
    return Wait(kT1, l, "lock", std::nullopt, "unknown", std::nullopt, kNoOwner);
  }
};

TEST(LockWaitsHostile, IntactPair) {
  Pair312 s;
  EXPECT_EQ(Describe(s.read()), s.held());
}

TEST(LockWaitsHostile, FrameAddressUnmappedOrZero) {
  for (uint64_t bad : {uint64_t{0}, kUnmapped, ~uint64_t{0}, ~uint64_t{0} - 71, uint64_t{8}}) {
    SCOPED_TRACE(absl::StrFormat("frame_address 0x%x", bad));
    Pair312 s;
    s.interp.threads[1].frames[0].frame_address = bad;  // the holder: no `with` read
    EXPECT_EQ(Describe(s.read()), s.unknown());
    s.interp.threads[0].frames[0].frame_address = bad;  // the waiter: no lock found
    EXPECT_EQ(Describe(s.read()), "");
    // A library frame at it: no self, so no library wait, then the futex finds nothing.
    s.interp.threads[0].frames[0].filename = Text(kThreading);
    s.interp.threads[0].frames[0].name = Text(U"wait");
    EXPECT_EQ(Describe(s.read()), "");
  }
}

TEST(LockWaitsHostile, CodeAddressUnmappedOrZero) {
  for (uint64_t bad : {uint64_t{0}, kUnmapped, ~uint64_t{0} - 7}) {
    Pair312 s;
    s.interp.threads[1].frames[0].code_address = bad;
    EXPECT_EQ(Describe(s.read()), s.unknown());
  }
}

TEST(LockWaitsHostile, FutexAddressesThatAreNoLock) {
  Pair312 s;
  const uint64_t entry = s.image.raw(64);  // a wait entry that names nothing
  for (uint64_t address :
       {uint64_t{8}, uint64_t{15}, uint64_t{16}, uint64_t{24}, kUnmapped, kUnmapped + 16,
        ~uint64_t{0}, ~uint64_t{0} - 15, uint64_t{1} << 63, entry + 16, s.l, s.l + 16,
        s.image.semaphore_of(s.l) + 1}) {
    SCOPED_TRACE(absl::StrFormat("futex 0x%x", address));
    s.calls[kT1] = Futex(address);
    EXPECT_EQ(Describe(s.read()), "");
  }
  // Not futex(): nothing.
  s.calls[kT1] = {7, s.image.semaphore_of(s.l)};
  EXPECT_EQ(Describe(s.read()), "");
}

// A futex on address 0 is no wait on any lock, even when a lock on the innermost frame has a
// NULL semaphore pointer (or a PyMutex lock, whose unlocked mutex word reads as 0): no
// semaphore or wait entry lives in the first page.
TEST(LockWaitsHostile, FutexAddressZeroMatchesNoNullSemaphore) {
  Pair312 s;
  const uint64_t mutex_lock = s.image.mutex_lock();  // +16: an unlocked PyMutex, 0
  s.memory.put<uint64_t>(s.waiter_frame + s.image.layout().iframe.localsplus + 8, mutex_lock);
  s.calls[kT1] = Futex(0);
  EXPECT_EQ(Describe(s.read()), "");
}

TEST(LockWaitsHostile, GilWindowAtTheTopOfTheAddressSpace) {
  Pair312 s;
  for (uint64_t locked : {~uint64_t{0}, ~uint64_t{0} - 40, uint64_t{1}}) {
    for (uint64_t address : {uint64_t{0}, uint64_t{8}, ~uint64_t{0}, ~uint64_t{0} - 20}) {
      s.gil.locked = true;
      s.gil.locked_address = locked;
      s.calls[kT1] = Futex(address);
      const LockReport report = s.read();
      ASSERT_NO_FATAL_FAILURE(ExpectBounded(report, s.interp));
    }
  }
}

TEST(LockWaitsHostile, WaitEntriesPointingToGarbage) {
  Pair312 s;
  const uint64_t entry = s.image.raw(64);
  s.calls[kT1] = Futex(entry + 16);
  s.interp.threads[0].frames.clear();  // only the wait entry can name the lock
  const uint64_t not_lock = s.image.integer(5);
  const uint64_t page_end = s.memory.allocate(4096) + 4096;
  for (uint64_t names :
       {uint64_t{0}, uint64_t{15}, uint64_t{16}, kUnmapped, ~uint64_t{0}, uint64_t{1} << 63,
        not_lock + 16, s.l + 16 /* a semaphore Lock: basicsize 40, no PyMutex */, s.exit + 16,
        entry + 16 /* itself */, page_end + 8, page_end}) {
    SCOPED_TRACE(absl::StrFormat("entry names 0x%x", names));
    s.memory.put<uint64_t>(entry + 8, names);
    EXPECT_EQ(Describe(s.read()), "");
  }
  // The same entry naming a PyMutex Lock is a wait on it.
  const uint64_t m = s.image.mutex_lock();
  s.memory.put<uint64_t>(entry + 8, m + 16);
  EXPECT_EQ(Describe(s.read()),
            Wait(kT1, m, "lock", std::nullopt, "unknown", std::nullopt, kNoOwner));
}

TEST(LockWaitsHostile, ObjectsWhoseSemaphoreMatchesButAreNoLock) {
  Pair312 s;
  const Layout& layout = s.image.layout();
  const uint64_t sem = s.image.semaphore_of(s.l);
  const uint64_t fake = s.image.dict({});
  s.memory.put<uint64_t>(fake + 16, sem);  // a dict with the semaphore's address at +16
  const uint64_t method_of_fake = s.image.exit_of(fake);
  const uint64_t self_method = s.image.exit_of(0);
  s.memory.put<uint64_t>(self_method + layout.cfunction.self, self_method);  // its own self
  s.memory.put<uint64_t>(self_method + 16, sem);
  const uint64_t typeless = s.image.raw(64);  // ob_type 0
  s.memory.put<uint64_t>(typeless + 16, sem);
  const uint64_t self_typed = s.image.raw(64);  // its own type
  s.memory.put<uint64_t>(self_typed + 8, self_typed);
  s.memory.put<uint64_t>(self_typed + 16, sem);
  s.memory.put<uint64_t>(self_typed + layout.type.base, self_typed);
  const uint64_t slots = s.waiter_frame + layout.iframe.localsplus;
  for (uint64_t o : {fake, method_of_fake, self_method, typeless, self_typed, kUnmapped}) {
    s.memory.put<uint64_t>(slots, o);
    EXPECT_EQ(Describe(s.read()), "") << std::hex << o;
  }
}

// The lock's `with` is not found, and nothing breaks, when the holder's frame or code is damaged.
TEST(LockWaitsHostile, DamagedExceptionTables) {
  const std::string huge_depth = TableEntry(0, 40, 60, uint64_t{1} << 40);
  const std::string endless(5000, static_cast<char>(0xff));  // continuation bits forever
  std::string many;
  for (int i = 0; i < 20000; ++i) many += TableEntry(100 + 2 * i, 1, 0, 1);
  const std::vector<std::pair<std::string, bool>> tables = {  // the table, and still held
      {"", false},
      {huge_depth, false},
      {TableEntry(0, 40, 60, 4096), false},  // the stack would run past the frame's pages
      {TableEntry(0, 40, 60, 4097), false},
      {TableEntry(0, 40, 60, 0), false},
      {TableEntry(0, 40, 60, 1), true},  // the __exit__ is the stack's first slot
      {TableEntry(5, 40, 60, 2), false},  // starts after the instruction
      {TableEntry(~uint64_t{0} - 1, 10, 0, 2), false},  // start + length wraps
      {TableEntry(~uint64_t{0} - 1, 10, 0, 2) + TableEntry(0, 40, 60, 2), true},
      {endless, false},
      {TableEntry(1, 1, 0, 7) + endless + TableEntry(0, 40, 60, 2), false},
      {many, false},
      {many + TableEntry(0, 40, 60, 2), true},
      {std::string("\x80\x40", 2), false},  // cut in a varint
  };
  for (size_t i = 0; i < tables.size(); ++i) {
    SCOPED_TRACE(i);
    Pair312 s;
    const Layout& layout = s.image.layout();
    s.memory.put<uint64_t>(s.holder_code + layout.code.exceptiontable,
                           s.image.bytes(tables[i].first));
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(Describe(s.read()), tables[i].second ? s.held() : s.unknown());
    EXPECT_LT(Seconds(start), 1.0);
  }
}

TEST(LockWaitsHostile, TableObjectsOfImpossibleSize) {
  for (uint64_t size : {~uint64_t{0}, uint64_t{1} << 40, uint64_t{1} << 23}) {
    Pair312 s;
    const Layout& layout = s.image.layout();
    const uint64_t table = s.memory.get<uint64_t>(s.holder_code + layout.code.exceptiontable);
    s.memory.put<uint64_t>(table + layout.object.var_size, size);
    EXPECT_EQ(Describe(s.read()), s.unknown()) << size;
  }
  for (uint64_t table : {uint64_t{0}, kUnmapped, ~uint64_t{0}}) {
    Pair312 s;
    s.memory.put<uint64_t>(s.holder_code + s.image.layout().code.exceptiontable, table);
    EXPECT_EQ(Describe(s.read()), s.unknown()) << table;
  }
}

TEST(LockWaitsHostile, InstructionPointersOutsideTheCode) {
  for (uint64_t instr : {uint64_t{0}, uint64_t{1}, ~uint64_t{0}, uint64_t{1} << 63,
                         (uint64_t{1} << 63) - 1, (uint64_t{1} << 63) + 1, kUnmapped}) {
    SCOPED_TRACE(absl::StrFormat("prev_instr 0x%x", instr));
    Pair312 s;
    s.memory.put<uint64_t>(s.holder_frame + s.image.layout().iframe.instr, instr);
    EXPECT_EQ(Describe(s.read()), s.unknown());
  }
  // Before the first instruction (a negative index) is in no entry either.
  Pair312 s;
  const Layout& layout = s.image.layout();
  s.memory.put<uint64_t>(s.holder_frame + layout.iframe.instr, s.holder_code + layout.code.adaptive - 2);
  EXPECT_EQ(Describe(s.read()), s.unknown());
}

TEST(LockWaitsHostile, NlocalsplusNegativeOrHuge) {
  for (int32_t n : {-1, -8, INT32_MIN, INT32_MAX, 4097, 4096, 4094, 3}) {
    SCOPED_TRACE(n);
    Pair312 s;
    s.memory.put<int32_t>(s.holder_code + s.image.layout().code.nlocalsplus, n);
    // 3: the stack starts at the lock itself (slot 3), so no __exit__ in its two slots.
    EXPECT_EQ(Describe(s.read()), s.unknown());
  }
  // 1: the stack is [int, __exit__]: still held.
  Pair312 s;
  s.memory.put<int32_t>(s.holder_code + s.image.layout().code.nlocalsplus, 1);
  EXPECT_EQ(Describe(s.read()), s.held());
}

TEST(LockWaitsHostile, ExitMethodsThatAreNoExitOfALock) {
  Pair312 s;
  const Layout& layout = s.image.layout();
  auto check = [&](const std::string& what) {
    SCOPED_TRACE(what);
    EXPECT_EQ(Describe(s.read()), s.unknown());
  };
  const uint64_t method = layout.cfunction.method, self = layout.cfunction.self;
  const uint64_t def = s.memory.get<uint64_t>(s.exit + method);
  {
    Mutator m(s.memory);
    m.put<uint64_t>(s.exit + self, s.image.integer(1));
    check("self is an int");
  }
  {
    Mutator m(s.memory);
    m.put<uint64_t>(s.exit + self, s.exit);
    check("self is the method itself");
  }
  {
    Mutator m(s.memory);
    m.put<uint64_t>(s.exit + method, 0);
    check("no PyMethodDef");
  }
  {
    Mutator m(s.memory);
    m.put<uint64_t>(def + layout.methoddef.name, kUnmapped);
    check("ml_name unmapped");
  }
  {
    Mutator m(s.memory);
    const char longer[] = "__exit__xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    const uint64_t text = s.image.raw(sizeof longer);
    s.memory.write(text, longer, sizeof longer);
    m.put<uint64_t>(def + layout.methoddef.name, text);
    check("ml_name longer, no NUL within 16 bytes");
  }
  {
    Mutator m(s.memory);
    const uint64_t page_end = s.memory.allocate(4096) + 4096;
    s.memory.write(page_end - 8, "__exit__", 8);  // no NUL before the page ends
    m.put<uint64_t>(def + layout.methoddef.name, page_end - 8);
    check("ml_name at a page's end");
  }
  {
    Mutator m(s.memory);
    m.put<uint64_t>(s.exit + layout.object.type, s.image.dict_type());
    check("a dict");
  }
  EXPECT_EQ(Describe(s.read()), s.held());
}

TEST(LockWaitsHostile, BlockStacksOfImpossibleSize39) {
  struct Case {
    int32_t iblock, type, level;
    uint64_t valuestack = 1;  // 1: the frame's own
  };
  const std::vector<Case> cases = {
      {-1, kSetupFinally, 2},      {21, kSetupFinally, 2},        {INT32_MAX, kSetupFinally, 2},
      {INT32_MIN, kSetupFinally, 2}, {1, kSetupFinally, 0},        {1, kSetupFinally, -5},
      {1, kSetupFinally, INT32_MIN}, {1, kSetupFinally, INT32_MAX}, {1, kSetupFinally, 4096},
      {1, kSetupFinally, 5000},    {1, kSetupFinally, 2, 0},      {1, kSetupFinally, 2, kUnmapped},
      {1, kSetupFinally, 2, ~uint64_t{0} - 7}, {1, -1, 2},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(i);
    Image39 s;
    const Layout& l = s.image.layout();
    const Case& c = cases[i];
    s.memory.put<int32_t>(s.outer + l.frame.iblock, c.iblock);
    s.memory.put<int32_t>(s.outer + l.frame.blockstack, c.type);
    s.memory.put<int32_t>(s.outer + l.frame.blockstack + 8, c.level);
    if (c.valuestack != 1) s.memory.put<uint64_t>(s.outer + l.frame.valuestack, c.valuestack);
    const LockReport report = s.read();
    ASSERT_EQ(report.waits.size(), 3u);
    EXPECT_EQ(report.waits[0].holder, LockHolder::kUnknown);
    EXPECT_EQ(report.waits[0].how, kNoOwner);
  }
  // Twenty blocks (CO_MAXBLOCKS), the last the `with`: still found; block 21 never read.
  Image39 s;
  const Layout& l = s.image.layout();
  for (int i = 0; i < 20; ++i) {
    s.memory.put<int32_t>(s.outer + l.frame.blockstack + 12 * i, i == 19 ? kSetupFinally : 257);
    s.memory.put<int32_t>(s.outer + l.frame.blockstack + 12 * i + 8, 2);
  }
  s.memory.put<int32_t>(s.outer + l.frame.iblock, 20);
  EXPECT_EQ(Describe(s.read()), s.expected());
}

TEST(LockWaitsHostile, RLockOwnersThatAreNoThread) {
  {
    Image39 s;  // R2 "held" (count 2) by owner 0: no holder
    s.memory.put<uint64_t>(s.r2 + 24, 0);
    const LockReport report = s.read();
    EXPECT_EQ(report.waits[1].holder, LockHolder::kUnknown);
    EXPECT_EQ(report.waits[1].how, "the RLock is not held now");
    EXPECT_TRUE(report.deadlocks.empty());
  }
  {
    Image39 s;  // an owner no thread has: recorded as it is, in no cycle
    s.memory.put<uint64_t>(s.r2 + 24, 0xdeadbeef);
    s.memory.put<uint64_t>(s.r2 + 32, ~uint64_t{0});
    const LockReport report = s.read();
    EXPECT_EQ(DescribeWait(report.waits[1]),
              Wait(kT2, s.r2, "RLock", std::nullopt, "recorded", 0xdeadbeef, "the RLock's owner"));
    EXPECT_TRUE(report.deadlocks.empty());
  }
  {
    // An RLock at the end of its mapping: the semaphore readable, owner and count not.
    Image39 s;
    const uint64_t at = s.memory.allocate(4096) + 4096 - 24;
    s.memory.put<uint64_t>(at, 1);
    s.memory.put<uint64_t>(at + 8, s.memory.get<uint64_t>(s.r2 + 8));
    s.memory.put<uint64_t>(at + 16, s.image.semaphore_of(s.r2));
    const Layout& l = s.image.layout();
    const uint64_t inner = s.interp.threads[1].frames[0].frame_address;
    s.memory.put<uint64_t>(inner + l.frame.localsplus, at);
    const LockReport report = s.read();
    EXPECT_EQ(DescribeWait(report.waits[1]),
              Wait(kT2, at, "RLock", std::nullopt, "unknown", std::nullopt,
                   "the RLock is not held now"));
  }
}

TEST(LockWaitsHostile, LibraryFramesWithOddSelves) {
  FakeProcessMemory memory;
  LockImage image(memory, LayoutOf(12));
  const uint64_t plain = image.code(1, "");
  const uint64_t thread_type = image.heap_type("Thread");
  const uint64_t negative = image.instance(thread_type, {{"_ident", image.integer(5, true)}});
  const uint64_t str_ident = image.instance(thread_type, {{"_ident", image.str("x")}});
  const uint64_t no_dict = image.object(thread_type, 64);
  const uint64_t module_lock_type = image.heap_type("_ModuleLock");
  const uint64_t owner_str = image.instance(module_lock_type, {{"owner", image.str("me")}});
  const uint64_t self_dict = image.object(thread_type, 64);  // __dict__ {"_ident": itself}
  image.word(self_dict - 24, image.dict({{"_ident", self_dict}}));
  std::vector<Thread> threads;
  uint64_t id = 1;
  for (uint64_t self : {negative, str_ident, no_dict, self_dict, kUnmapped, uint64_t{1} << 63}) {
    threads.push_back(MakeThread(id++, {PyFrame(image.frame312(plain, 0, {self}), plain,
                                                kThreading, U"join")}));
  }
  threads.push_back(MakeThread(id++, {PyFrame(image.frame312(plain, 0, {owner_str}), plain,
                                              kThreading, U"acquire")}));
  // 100000 library frames of a Condition.wait, all one frame.
  const uint64_t cond = image.condition();
  const uint64_t cond_frame = image.frame312(plain, 0, {cond});
  threads.push_back(MakeThread(
      id++, std::vector<Frame>(100000, PyFrame(cond_frame, plain, kThreading, U"wait"))));
  Interpreter interp;
  interp.address = image.interp();
  interp.threads = threads;
  const auto start = std::chrono::steady_clock::now();
  const LockReport report = ReadLocks(memory, image.layout(), interp, {}, {});
  EXPECT_LT(Seconds(start), 2.0);
  // The joins find no thread id: no wait. The import lock's owner is no int: no owner. The
  // Condition is waited on.
  EXPECT_EQ(Describe(report),
            Wait(id - 2, owner_str, "_ModuleLock", std::nullopt, "unknown", std::nullopt,
                 "the import lock has no owner") +
                Wait(id - 1, cond, "Condition", std::nullopt, "none", std::nullopt,
                     kConditionHow));
}

TEST(LockWaitsHostile, ModuleTablesOfManyModulesAndItems) {
  Pair312 s;
  // sys.modules: 6000 entries, every one the same module whose __dict__ has 30000 items, none
  // the lock; the lock itself as item 25000 of it (past what is read of one module).
  std::vector<std::pair<uint64_t, uint64_t>> items;
  const uint64_t key = s.image.str("K");
  const uint64_t value = s.image.integer(1);
  for (int i = 0; i < 30000; ++i) items.push_back({key, i == 25000 ? s.l : value});
  const uint64_t big = s.image.module_with_dict(s.image.dict_of(items));
  std::vector<std::pair<uint64_t, uint64_t>> modules(6000, {s.image.str("big"), big});
  const uint64_t table = s.image.dict_of(modules);
  s.memory.put<uint64_t>(s.interp.address + s.image.layout().interp.modules, table);
  const auto start = std::chrono::steady_clock::now();
  const LockReport report = s.read();
  const double seconds = Seconds(start);
  EXPECT_EQ(Describe(report), s.held());
  EXPECT_LT(seconds, 10.0);
  std::cerr << absl::StrFormat("[ sys.modules of 6000 x 30000 items: %.2f s ]\n", seconds);
}

TEST(LockWaitsHostile, SelfReferencingModuleTables) {
  Pair312 s;
  const Layout& layout = s.image.layout();
  // sys.modules holding itself, a module whose __dict__ is sys.modules, a module that is its own
  // __dict__, a "module" with an unmapped dict, then the module that names the lock.
  const uint64_t table = s.image.dict({{"a", 0}, {"b", 0}, {"c", 0}, {"d", 0}, {"e", 0}});
  const uint64_t keys = s.memory.get<uint64_t>(table + layout.dict.keys);
  const uint64_t entries = keys + layout.dictkeys.indices + 16;  // 16 one-byte indices
  auto set_value = [&](int i, uint64_t v) {
    s.memory.put<uint64_t>(entries + i * layout.dict_entry.size + layout.dict_entry.value, v);
  };
  set_value(0, table);
  set_value(1, s.image.module_with_dict(table));
  const uint64_t own = s.image.module_with_dict(0);
  s.memory.put<uint64_t>(own + layout.module.dict, own);
  set_value(2, own);
  set_value(3, s.image.module_with_dict(kUnmapped));
  set_value(4, s.image.module({{"L", s.l}}));
  s.memory.put<uint64_t>(s.interp.address + layout.interp.modules, table);
  EXPECT_EQ(Describe(s.read()),
            Wait(kT1, s.l, "lock", "e.L", "inferred", kT2, "in a with block of hold"));
  for (uint64_t modules : {uint64_t{0}, kUnmapped, s.l, ~uint64_t{0}}) {
    s.memory.put<uint64_t>(s.interp.address + layout.interp.modules, modules);
    EXPECT_EQ(Describe(s.read()), s.held());
  }
}

// Many frames of holders: the per-thread bound on the frames looked at, and what it costs.
TEST(LockWaitsHostile, ManyHolderFramesWithDeepStacks) {
  Pair312 s;
  // A code whose handler keeps 4000 slots, on a frame whose stack is 4000 ints.
  const uint64_t deep_code = s.image.code(0, TableEntry(0, 40, 60, 4000));
  std::vector<uint64_t> slots(4000, s.image.integer(3));
  const uint64_t deep = s.image.frame312(deep_code, 1, slots);
  constexpr int kThreads = 2;
  for (int t = 0; t < kThreads; ++t) {
    s.interp.threads.push_back(MakeThread(
        0x1000 + t, std::vector<Frame>(5000, PyFrame(deep, deep_code, kUser, U"deep"))));
  }
  const auto start = std::chrono::steady_clock::now();
  const LockReport report = s.read();
  const double seconds = Seconds(start);
  EXPECT_EQ(Describe(report), s.held());
  std::cerr << absl::StrFormat(
      "[ %d threads x 1024 frames x 4000 stack slots: %.2f s (%.0f ns per slot) ]\n", kThreads,
      seconds, seconds * 1e9 / (kThreads * 1024.0 * 4000));
  EXPECT_LT(seconds, 20.0);
}

// --- Fuzz ----------------------------------------------------------------------------------------

// What a seed may change besides the image's words: each thread's futex address, the frames'
// addresses, the GIL's window.
struct FuzzState {
  Interpreter interp;
  GilState gil;
  Calls calls;
};

template <typename Scenario>
void FuzzScenario(Scenario& s, GilState gil, const std::string& name, uint32_t seeds,
                  uint64_t seed_offset) {
  const FuzzState intact{s.interp, gil, s.calls};
  FuzzState state = intact;
  FuzzPlan plan;
  plan.name = name;
  plan.seeds = seeds;
  plan.seed_scale = 7919;
  plan.seed_offset = seed_offset;
  plan.fields = &s.image;
  plan.pointer_words = 8;
  plan.object_bytes = 64;
  size_t waits = 0, holders = 0;
  const auto start = std::chrono::steady_clock::now();
  FuzzImage(
      s.memory, plan, [&] { state = intact; },
      [&](int kind, uint64_t field, std::mt19937_64& rng, Mutator& mutator) {
        std::vector<Thread>& threads = state.interp.threads;
        Thread& thread = threads[rng() % threads.size()];
        switch (kind) {
          case 3:  // a futex address: the field, near it, or anything
            state.calls[thread.thread_id] =
                Futex(rng() % 2 ? field + 8 * (rng() % 4) : rng() >> (rng() % 64));
            break;
          case 4:  // a frame moved onto the field, or its code
            if (!thread.frames.empty()) {
              Frame& f = thread.frames[rng() % thread.frames.size()];
              (rng() % 2 ? f.frame_address : f.code_address) = field - 8 * (rng() % 16);
            }
            break;
          case 10:  // the GIL's window on the field
            state.gil.locked = rng() % 2;
            state.gil.locked_address = field;
            state.gil.holder = threads[rng() % threads.size()].tstate_address;
            break;
          default: {  // a byte of a code object's head or of a frame
            const std::vector<uint64_t>& from = rng() % 2 ? s.image.codes() : s.image.frames();
            if (from.empty()) break;
            mutator.put<uint8_t>(from[rng() % from.size()] + rng() % 256,
                                 static_cast<uint8_t>(rng()));
            break;
          }
        }
      },
      [&] {
        const LockReport report =
            ReadLocks(s.memory, s.image.layout(), state.interp, state.gil, state.calls);
        ExpectBounded(report, state.interp);
        waits += report.waits.size();
        for (const LockWait& w : report.waits) holders += w.holder_thread_id.has_value();
        return AsyncioTasks{};
      });
  std::cerr << absl::StrFormat("[ %s: %u seeds, %zu waits, %zu with a holder, %.2f s ]\n", name,
                               seeds, waits, holders, Seconds(start));
  // After the fuzz, the intact image reads as before.
  s.interp = intact.interp;
  s.calls = intact.calls;
}

TEST(LockWaitsFuzz, Image312) {
  Image312 s;
  FuzzScenario(s, s.gil, "LockWaitsFuzz.Image312", 20000, 312);
  EXPECT_EQ(Describe(s.read()), s.expected());
}

TEST(LockWaitsFuzz, Image39) {
  Image39 s;
  FuzzScenario(s, GilState{}, "LockWaitsFuzz.Image39", 20000, 39);
  EXPECT_EQ(Describe(s.read()), s.expected());
}

}  // namespace
}  // namespace pystack
