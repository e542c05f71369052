#include "cpython/lock_waits.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "cpython/int_value.h"
#include "cpython/stack_ref.h"
#include "memory/remote_memory.h"
#include "snapshot/deadlocks.h"

namespace pystack {
namespace {

// Modules/_threadmodule.c, x86-64 (checked with the DWARF of 3.6-3.15 and in-process reads):
// _thread.lock is {PyObject_HEAD; PyThread_type_lock lock_lock (a sem_t *); ...; char locked}
// of 40 bytes up to 3.13.0, {PyObject_HEAD; PyMutex lock} of 24 from 3.13.1; _thread.RLock
// keeps a sem_t * at 16, the owner at 24 and the count at 32 up to 3.13, a _PyRecursiveMutex
// {PyMutex mutex @16; thread @24; level @32} from 3.14. Offsets here are from the end of the
// object header, which is 16 bytes longer in a free-threaded build (3.13t: the same fields at
// 32, 40 and 48, a PyMutex Lock of 40 bytes, checked with its DWARF).
constexpr int64_t kLockSemaphore = 0;
constexpr int64_t kLockMutex = 0;
constexpr int64_t kSemaphoreLockSize = 24;
constexpr int64_t kRLockOwner = 8;
constexpr int64_t kRLockCount = 16;
// A PyMutex waiter sleeps on its own wait_entry {park_arg; uintptr_t addr; _PySemaphore sema}
// (Python/parking_lot.c): the futex is in `sema`, 16 bytes in; `addr` is the mutex's address.
constexpr uint64_t kWaitEntrySemaphore = 16;
constexpr uint64_t kWaitEntryAddress = 8;
// The GIL's condition variables and mutexes follow its `locked` field
// (struct _gil_runtime_state): waiters sleep on an address within this window of it.
constexpr uint64_t kGilWindowBefore = 32;
constexpr uint64_t kGilWindowAfter = 512;
constexpr int kSetupFinally = 122;  // the block SETUP_WITH pushes (3.6-3.10)
constexpr int kMaxBlocks = 20;      // CO_MAXBLOCKS
constexpr int kMaxStackSlots = 4096;
constexpr size_t kMaxFramesForHolders = 1024;  // frames looked at per thread for `with` blocks
constexpr size_t kMaxModulesNamed = 4096;
constexpr size_t kMaxModuleItems = 20000;
constexpr size_t kMaxNamingItems = 1 << 20;    // dict items looked at for names, in all
constexpr size_t kMaxHolderFrames = 1 << 16;   // frames looked at for `with` blocks, in all
constexpr uint64_t kLowestAddress = 4096;      // the first page is never mapped

bool ends_with(std::u32string_view text, std::u32string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

bool is_library_frame(const Frame& frame) {
  if (!frame.filename) return false;
  const std::u32string_view file = frame.filename->code_points;
  return ends_with(file, U"/threading.py") || ends_with(file, U"/queue.py") ||
         ends_with(file, U"importlib/_bootstrap.py") ||
         file == U"<frozen importlib._bootstrap>";
}

bool name_is(const Frame& frame, std::u32string_view name) {
  return frame.name && frame.name->code_points == name;
}

std::string utf8_of(std::u32string_view text) {
  std::string out;
  append_utf8_backslashreplace(out, text);
  return out;
}

// What the waiting frame's `self` is, by the type's name and the function: the object a thread
// is said to wait for, and why nobody holds it ("" when the pair is no wait we know).
std::string no_holder_reason(std::string_view type, const Frame& frame) {
  if (type == "Condition" && (name_is(frame, U"wait") || name_is(frame, U"wait_for"))) {
    return "a Condition is held by nobody while waited on: it waits to be notified";
  }
  if (type == "Event" && name_is(frame, U"wait")) return "an Event waits to be set";
  if (type.find("Queue") != std::string_view::npos &&
      (name_is(frame, U"get") || name_is(frame, U"put"))) {
    return name_is(frame, U"get") ? "a Queue waits for an item" : "a Queue waits for room";
  }
  if (type.find("Semaphore") != std::string_view::npos && name_is(frame, U"acquire")) {
    return "a Semaphore waits to be released";
  }
  if (type == "Barrier" && name_is(frame, U"wait")) return "a Barrier waits for its parties";
  return "";
}

}  // namespace

LockReport LockWaitReader::read(const Interpreter& interpreter, const GilState& gil,
                                const SyscallOf& syscall_of) {
  LockReport report;
  const std::vector<Held> held = held_in_with_blocks(interpreter);
  for (const Thread& thread : interpreter.threads) {
    std::optional<LockWait> wait = library_wait(thread);
    if (!wait) {
      std::optional<BlockedSyscall> call = syscall_of(thread);
      if (call && call->number == kSyscallFutex) {
        wait = futex_wait(thread, call->first_argument, gil, interpreter);
      }
    }
    if (!wait) continue;
    if (wait->holder == LockHolder::kUnknown && wait->how.empty()) {
      add_holder(*wait, held);
    }
    report.waits.push_back(*std::move(wait));
  }
  add_names(interpreter, report.waits);
  report.deadlocks = find_deadlocks(report.waits);
  return report;
}

// The innermost frames in threading.py, queue.py or importlib: the outermost wait among them.
std::optional<LockWait> LockWaitReader::library_wait(const Thread& thread) {
  std::optional<LockWait> found;
  for (const Frame& frame : thread.frames) {
    if (!is_library_frame(frame)) break;
    std::optional<uint64_t> self = self_of(frame);
    if (!self) continue;
    const std::string type = type_name(*self);
    LockWait wait;
    wait.thread_id = thread.thread_id;
    wait.object = object_of(*self);
    if (type == "_ModuleLock" && name_is(frame, U"acquire")) {
      std::optional<uint64_t> owner = attribute(*self, "owner");
      std::optional<uint64_t> ident =
          owner ? nonnegative_int_value(objects_, types_, *owner) : std::nullopt;
      wait.holder = ident ? LockHolder::kRecorded : LockHolder::kUnknown;
      if (ident) wait.holder_thread_id = *ident;
      wait.how = ident ? "the import lock's owner" : "the import lock has no owner";
      return wait;  // nothing outside an import lock's wait is the thread's wait
    }
    if (name_is(frame, U"join") || name_is(frame, U"_wait_for_tstate_lock")) {
      std::optional<uint64_t> joined = attribute(*self, "_ident");
      std::optional<uint64_t> ident =
          joined ? nonnegative_int_value(objects_, types_, *joined) : std::nullopt;
      if (!ident) continue;
      wait.holder = LockHolder::kRecorded;
      wait.holder_thread_id = *ident;
      wait.how = "the thread being joined";
      found = wait;
      continue;
    }
    const std::string reason = no_holder_reason(type, frame);
    if (reason.empty()) continue;
    wait.holder = LockHolder::kNone;
    wait.how = reason;
    found = wait;
  }
  return found;
}

std::optional<LockWait> LockWaitReader::futex_wait(const Thread& thread, uint64_t address,
                                                   const GilState& gil,
                                                   const Interpreter& interpreter) {
  LockWait wait;
  wait.thread_id = thread.thread_id;
  if (gil.locked_address != 0 && address + kGilWindowBefore >= gil.locked_address &&
      address < gil.locked_address + kGilWindowAfter) {
    wait.object = {0, "GIL", std::nullopt};
    const Thread* holder = nullptr;
    for (const Thread& t : interpreter.threads) {
      if (gil.locked && t.tstate_address == gil.holder) holder = &t;
    }
    if (holder != nullptr) {
      wait.holder = LockHolder::kRecorded;
      wait.holder_thread_id = holder->thread_id;
      wait.how = "the GIL's holder";
    } else {
      wait.holder = LockHolder::kUnknown;
      wait.how = "the GIL is held by no thread of this interpreter";
    }
    return wait;
  }
  uint64_t lock = lock_of_wait_entry(address);
  if (lock == 0 && !thread.frames.empty()) lock = lock_of_semaphore(thread.frames.front(), address);
  if (lock == 0) return std::nullopt;
  wait.object = object_of(lock);
  if (is_rlock(lock)) {
    const bool mutex = objects_.release().rlock_recursive_mutex;
    const uint64_t fields = lock + object_header_size(objects_.layout());
    absl::StatusOr<uint64_t> owner = objects_.read_pointer(fields + kRLockOwner);
    absl::StatusOr<uint8_t> flag = read_value<uint8_t>(objects_.memory(), fields + kLockMutex);
    absl::StatusOr<uint64_t> count = objects_.read_pointer(fields + kRLockCount);
    const bool held = mutex ? flag.ok() && (*flag & 1) : count.ok() && *count > 0;
    if (held && owner.ok() && *owner != 0) {
      wait.holder = LockHolder::kRecorded;
      wait.holder_thread_id = *owner;
      wait.how = "the RLock's owner";
      return wait;
    }
  }
  return wait;  // a Lock: who holds it is looked for in `with` blocks (add_holder)
}

// PyMutex (3.13.1+ Lock, 3.14+ RLock): the futex is the waiter's wait_entry, which names the
// mutex, right after the lock's object header.
uint64_t LockWaitReader::lock_of_wait_entry(uint64_t address) {
  if (address < kLowestAddress) return 0;
  absl::StatusOr<uint64_t> mutex =
      objects_.read_pointer(address - kWaitEntrySemaphore + kWaitEntryAddress);
  const int64_t header = object_header_size(objects_.layout());
  if (!mutex.ok() || *mutex < static_cast<uint64_t>(header + kLockMutex)) return 0;
  const uint64_t lock = *mutex - static_cast<uint64_t>(header + kLockMutex);
  absl::StatusOr<const TypeInfo*> type = types_.of(lock);
  if (!type.ok()) return 0;
  const bool mutex_lock = is_lock(lock) && (*type)->basicsize != header + kSemaphoreLockSize;
  const bool mutex_rlock = is_rlock(lock) && objects_.release().rlock_recursive_mutex;
  return mutex_lock || mutex_rlock ? lock : 0;
}

// A semaphore-based lock (Lock up to 3.13.0, RLock up to 3.13): the lock on the innermost
// frame (its locals or value stack, where the call to acquire() or __enter__ holds it, or a
// bound method of it) whose semaphore is the futex. Exact: the semaphore is the lock's own.
uint64_t LockWaitReader::lock_of_semaphore(const Frame& frame, uint64_t semaphore) {
  if (semaphore < kLowestAddress) return 0;  // no semaphore lives there (an unlocked PyMutex reads 0)
  const Layout& layout = objects_.layout();
  const bool interpreter_frame = layout.iframe.localsplus >= 0;
  const uint64_t slots =
      frame.frame_address + (interpreter_frame ? layout.iframe.localsplus : layout.frame.localsplus);
  for (int i = 0; i < kMaxStackSlots; ++i) {
    absl::StatusOr<uint64_t> bits = objects_.read_pointer(slots + 8 * static_cast<uint64_t>(i));
    if (!bits.ok()) break;
    uint64_t object = decode_stack_ref(objects_.release(), *bits).object & ~uint64_t{7};
    // A bound method of the lock (acquire up to 3.6; __exit__ while `with` runs __enter__ up
    // to 3.11) stands for it.
    if (object != 0 && type_name(object) == "builtin_function_or_method") {
      absl::StatusOr<uint64_t> self = objects_.read_pointer(object + objects_.layout().cfunction.self);
      object = self.ok() ? *self : 0;
    }
    if (object == 0 || (!is_lock(object) && !is_rlock(object))) continue;
    absl::StatusOr<uint64_t> own =
        objects_.read_pointer(object + object_header_size(layout) + kLockSemaphore);
    if (own.ok() && *own == semaphore) return object;
  }
  return 0;
}

void LockWaitReader::add_holder(LockWait& wait, const std::vector<Held>& held) {
  for (const Held& h : held) {
    if (h.lock != wait.object.address) continue;
    wait.holder = LockHolder::kInferred;
    wait.holder_thread_id = h.thread_id;
    wait.how = absl::StrCat("in a with block of ", h.function);
    return;
  }
  wait.holder = LockHolder::kUnknown;
  wait.how = is_rlock(wait.object.address) ? "the RLock is not held now"
                                            : "a Lock records no owner";
}

std::vector<LockWaitReader::Held> LockWaitReader::held_in_with_blocks(
    const Interpreter& interpreter) {
  std::vector<Held> held;
  size_t budget = kMaxHolderFrames;
  for (const Thread& thread : interpreter.threads) {
    const size_t frames = std::min({thread.frames.size(), kMaxFramesForHolders, budget});
    for (size_t i = 0; i < frames; ++i) add_held(thread, thread.frames[i], held);
    budget -= frames;
    if (budget == 0) break;
  }
  return held;
}

void LockWaitReader::add_held(const Thread& thread, const Frame& frame, std::vector<Held>& out) {
  if (frame.frame_address == 0) return;
  std::vector<uint64_t> locks;
  if (objects_.layout().frame.blockstack >= 0) {
    for (uint64_t exit : with_exits_up_to_310(frame)) {
      if (std::optional<uint64_t> lock = held_lock_of_exit(exit)) locks.push_back(*lock);
    }
  } else {
    const std::vector<uint64_t> stack = live_stack_from_311(frame);
    const bool pairs = objects_.layout().iframe.stackpointer >= 0;  // 3.14+: (__exit__, lock)
    for (size_t i = 0; i < stack.size(); ++i) {
      if (pairs) {
        if (i > 0 && (is_lock(stack[i]) || is_rlock(stack[i])) &&
            type_name(stack[i - 1]) == "method_descriptor") {
          locks.push_back(stack[i]);
        }
      } else if (std::optional<uint64_t> lock = held_lock_of_exit(stack[i])) {
        locks.push_back(*lock);
      }
    }
  }
  const std::string function =
      frame.qualname ? utf8_of(frame.qualname->code_points)
                     : (frame.name ? utf8_of(frame.name->code_points) : "?");
  for (uint64_t lock : locks) out.push_back({lock, thread.thread_id, function});
}

// Up to 3.10: each SETUP_WITH block (SETUP_FINALLY, b_level n) has the bound __exit__ at
// f_valuestack[n - 1].
std::vector<uint64_t> LockWaitReader::with_exits_up_to_310(const Frame& frame) {
  const Layout& layout = objects_.layout();
  const uint64_t f = frame.frame_address;
  absl::StatusOr<int32_t> blocks = read_value<int32_t>(objects_.memory(), f + layout.frame.iblock);
  absl::StatusOr<uint64_t> values = objects_.read_pointer(f + layout.frame.valuestack);
  if (!blocks.ok() || !values.ok() || *blocks <= 0 || *blocks > kMaxBlocks) return {};
  std::vector<uint64_t> exits;
  for (int i = 0; i < *blocks; ++i) {
    int32_t block[3] = {0, 0, 0};  // b_type, b_handler, b_level
    if (!objects_.memory().read(f + layout.frame.blockstack + 12 * static_cast<uint64_t>(i), block,
                                sizeof block)
             .ok()) {
      break;
    }
    if (block[0] != kSetupFinally || block[2] <= 0 || block[2] > kMaxStackSlots) continue;
    absl::StatusOr<uint64_t> exit =
        objects_.read_pointer(*values + 8 * static_cast<uint64_t>(block[2] - 1));
    if (exit.ok()) exits.push_back(*exit);
  }
  return exits;
}

// 3.11+: the value stack below the depth of the exception handler that covers the frame's
// instruction (the slots every `with` block around it keeps).
std::vector<uint64_t> LockWaitReader::live_stack_from_311(const Frame& frame) {
  const Layout& layout = objects_.layout();
  if (layout.code.exceptiontable < 0 || layout.code.nlocalsplus < 0) return {};
  absl::StatusOr<const CodeObject*> code = codes_.get(frame.code_address);
  absl::StatusOr<uint64_t> instr = objects_.read_pointer(frame.frame_address + layout.iframe.instr);
  absl::StatusOr<uint64_t> table_object =
      objects_.read_pointer(frame.code_address + layout.code.exceptiontable);
  absl::StatusOr<int32_t> nlocalsplus =
      read_value<int32_t>(objects_.memory(), frame.code_address + layout.code.nlocalsplus);
  if (!code.ok() || !instr.ok() || !table_object.ok() || !nlocalsplus.ok()) return {};
  if (*nlocalsplus < 0 || *nlocalsplus > kMaxStackSlots) return {};
  absl::StatusOr<std::string> table = objects_.read_bytes(*table_object);
  if (!table.ok()) return {};
  const uint64_t first = frame_first_instruction_at(objects_.memory(), layout, **code,
                                                    frame.code_address, frame.frame_address);
  if (first == 0 || *instr < first) return {};
  const uint64_t units = (*instr - first) / 2;
  if (units > (uint64_t{1} << 30)) return {};
  const int64_t instruction = static_cast<int64_t>(units);
  std::optional<int> depth = exception_handler_depth(*table, instruction);
  if (!depth || *depth <= 0 || *depth > kMaxStackSlots) return {};
  std::vector<uint64_t> slots(static_cast<size_t>(*depth));
  const uint64_t base = frame.frame_address + layout.iframe.localsplus +
                        8 * static_cast<uint64_t>(*nlocalsplus);
  if (!objects_.memory().read(base, slots.data(), slots.size() * 8).ok()) return {};
  for (uint64_t& slot : slots) slot = decode_stack_ref(objects_.release(), slot).object & ~uint64_t{7};
  return slots;
}

// A bound `__exit__` of a lock (a builtin method whose self is a Lock or RLock): that lock.
std::optional<uint64_t> LockWaitReader::held_lock_of_exit(uint64_t exit) {
  const Layout& layout = objects_.layout();
  if (exit == 0 || type_name(exit) != "builtin_function_or_method") return std::nullopt;
  absl::StatusOr<uint64_t> self = objects_.read_pointer(exit + layout.cfunction.self);
  absl::StatusOr<uint64_t> method = objects_.read_pointer(exit + layout.cfunction.method);
  if (!self.ok() || !method.ok() || (!is_lock(*self) && !is_rlock(*self))) return std::nullopt;
  absl::StatusOr<uint64_t> name = objects_.read_pointer(*method + layout.methoddef.name);
  if (!name.ok()) return std::nullopt;
  absl::StatusOr<std::string> text = read_c_string(objects_.memory(), *name, 16);
  if (!text.ok() || *text != "__exit__") return std::nullopt;
  return *self;
}

// "module.attr" for the objects sys.modules' module globals refer to, "Class.attr" for those the
// classes among those globals do (a class's own dict: its heap type's tp_dict).
void LockWaitReader::add_names(const Interpreter& interpreter, std::vector<LockWait>& waits) {
  absl::flat_hash_map<uint64_t, std::vector<LockWait*>> wanted;
  for (LockWait& wait : waits) {
    if (wait.object.address != 0) wanted[wait.object.address].push_back(&wait);
  }
  const Layout& layout = objects_.layout();
  if (wanted.empty() || layout.interp.modules < 0) return;
  absl::StatusOr<uint64_t> modules = objects_.read_pointer(interpreter.address + layout.interp.modules);
  if (!modules.ok() || *modules == 0) return;
  size_t seen_modules = 0, total_items = 0;
  absl::flat_hash_set<uint64_t> seen_dicts;  // a dict shared by several modules is read once
  (void)dicts_.for_each(*modules, [&](uint64_t key, uint64_t module) {
    if (++seen_modules > kMaxModulesNamed || wanted.empty()) return false;
    if (total_items > kMaxNamingItems) return false;
    absl::StatusOr<const TypeInfo*> type = types_.of(module);
    if (!type.ok() || (*type)->kind != ReprKind::kModule) return true;
    absl::StatusOr<std::optional<PyText>> module_name = objects_.read_text(key);
    absl::StatusOr<uint64_t> globals = objects_.read_pointer(module + layout.module.dict);
    if (!module_name.ok() || !module_name->has_value() || !globals.ok() || *globals == 0 ||
        !seen_dicts.insert(*globals).second) {
      return true;
    }
    size_t items = 0;
    std::vector<std::pair<uint64_t, uint64_t>> classes;  // (name, class) of this module
    (void)dicts_.for_each(*globals, [&](uint64_t name, uint64_t value) {
      if (++items > kMaxModuleItems) return false;
      auto it = wanted.find(value);
      if (it == wanted.end()) {
        absl::StatusOr<const TypeInfo*> value_type = types_.of(value);
        if (value_type.ok() && (*value_type)->kind == ReprKind::kType) {
          classes.emplace_back(name, value);
        }
        return true;
      }
      name_waits(it->second, (**module_name).code_points, name);
      wanted.erase(it);
      return !wanted.empty();
    });
    total_items += items;
    for (const auto& [class_name, type_object] : classes) {
      if (wanted.empty() || items > kMaxModuleItems) break;
      absl::StatusOr<uint64_t> class_dict = objects_.read_pointer(type_object + layout.type.dict);
      absl::StatusOr<std::optional<PyText>> class_text = objects_.read_text(class_name);
      if (!class_dict.ok() || *class_dict == 0 || !class_text.ok() || !class_text->has_value() ||
          !seen_dicts.insert(*class_dict).second) {
        continue;
      }
      (void)dicts_.for_each(*class_dict, [&](uint64_t name, uint64_t value) {
        if (++items > kMaxModuleItems) return false;
        auto it = wanted.find(value);
        if (it == wanted.end()) return true;
        name_waits(it->second, (**class_text).code_points, name);
        wanted.erase(it);
        return !wanted.empty();
      });
    }
    return !wanted.empty();
  });
}

// "OWNER.ATTR" for the waits on one object; ATTR is the str key `attribute`.
void LockWaitReader::name_waits(const std::vector<LockWait*>& waits, std::u32string_view owner,
                                uint64_t attribute) {
  absl::StatusOr<std::optional<PyText>> attr = objects_.read_text(attribute);
  if (!attr.ok() || !attr->has_value()) return;
  const std::string full = utf8_of(owner) + "." + utf8_of((**attr).code_points);
  for (LockWait* wait : waits) wait->object.name = full;
}

// Fast local 0 of a function's frame: `self` of a method.
std::optional<uint64_t> LockWaitReader::self_of(const Frame& frame) {
  const Layout& layout = objects_.layout();
  if (frame.frame_address == 0) return std::nullopt;
  const bool interpreter_frame = layout.iframe.localsplus >= 0;
  absl::StatusOr<uint64_t> bits = objects_.read_pointer(
      frame.frame_address + (interpreter_frame ? layout.iframe.localsplus : layout.frame.localsplus));
  if (!bits.ok()) return std::nullopt;
  const uint64_t object = decode_stack_ref(objects_.release(), *bits).object;
  return object != 0 ? std::optional<uint64_t>(object) : std::nullopt;
}

std::optional<uint64_t> LockWaitReader::attribute(uint64_t object, std::string_view name) {
  absl::StatusOr<const TypeInfo*> type = types_.of(object);
  if (!type.ok()) return std::nullopt;
  absl::StatusOr<std::optional<uint64_t>> value = dicts_.find_attribute(object, **type, name);
  if (!value.ok()) return std::nullopt;
  return *value;
}

// type(object).__name__: tp_name after its last dot.
std::string LockWaitReader::type_name(uint64_t object) {
  absl::StatusOr<const TypeInfo*> type = types_.of(object);
  if (!type.ok()) return "";
  const std::string& name = (*type)->name;
  const size_t dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

bool LockWaitReader::is_lock(uint64_t object) {
  absl::StatusOr<const TypeInfo*> type = types_.of(object);
  return type.ok() && ((*type)->name == "_thread.lock" || (*type)->name == "thread.lock");
}

bool LockWaitReader::is_rlock(uint64_t object) {
  absl::StatusOr<const TypeInfo*> type = types_.of(object);
  return type.ok() && (*type)->name == "_thread.RLock";
}

LockObject LockWaitReader::object_of(uint64_t address) {
  return {address, type_name(address), std::nullopt};
}

std::optional<int> exception_handler_depth(std::string_view table, int64_t instruction) {
  size_t at = 0;
  auto varint = [&](uint64_t& value) {
    if (at >= table.size()) return false;
    uint8_t byte = static_cast<uint8_t>(table[at++]);
    value = byte & 63;
    int guard = 0;
    while (byte & 64) {
      if (at >= table.size() || ++guard > 10) return false;
      byte = static_cast<uint8_t>(table[at++]);
      value = (value << 6) | (byte & 63);
    }
    return true;
  };
  while (at < table.size()) {
    uint64_t start = 0, length = 0, target = 0, depth_lasti = 0;
    if (!varint(start) || !varint(length) || !varint(target) || !varint(depth_lasti)) break;
    if (instruction >= 0 && static_cast<uint64_t>(instruction) >= start &&
        static_cast<uint64_t>(instruction) < start + length) {
      return static_cast<int>(std::min<uint64_t>(depth_lasti >> 1, 1 << 20));
    }
  }
  return std::nullopt;
}

}  // namespace pystack
