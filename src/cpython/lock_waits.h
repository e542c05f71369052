// --locks: for each thread blocked on a lock, the object it waits for and who holds it; then
// the deadlocks. Read while the target is stopped, after its threads and frames were read (the
// frames' addresses, Frame::frame_address), with each thread's system call (a thread blocked
// on a lock sleeps in futex() on an address of that lock, or of its own wait entry).
//
// What a thread waits for, in order:
//  - library frames (threading.py, queue.py, importlib._bootstrap) innermost: the `self` of the
//    outermost Condition.wait, Event.wait, Queue.get/put, Semaphore.acquire, Thread.join or
//    _ModuleLock.acquire among them;
//  - else the futex: the lock whose semaphore it is (found on the innermost frame), the lock
//    whose mutex the wait entry names (PyMutex: 3.13.1+ Lock, 3.14+ RLock), or the GIL.
// Who holds it: an RLock's owner, a _ModuleLock's owner, the joined thread, the GIL's holder
// (recorded by CPython); a Lock in a `with` block of a frame (inferred); nobody (a Condition,
// an Event, a Queue, a Semaphore); or unknown.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "cpython/code_object.h"
#include "cpython/dict.h"
#include "cpython/gil_holder.h"
#include "cpython/objects.h"
#include "cpython/py_types.h"
#include "memory/registers.h"
#include "snapshot/snapshot.h"

namespace pystack {

class LockWaitReader {
 public:
  using SyscallOf = std::function<std::optional<BlockedSyscall>(const Thread& thread)>;

  // All references must outlive this object.
  LockWaitReader(const ObjectReader& objects, TypeCache& types, const DictReader& dicts,
                 CodeCache& codes)
      : objects_(objects), types_(types), dicts_(dicts), codes_(codes) {}

  LockReport read(const Interpreter& interpreter, const GilState& gil, const SyscallOf& syscall_of);

 private:
  struct Held {  // a lock a frame holds in a `with` block
    uint64_t lock = 0;
    uint64_t thread_id = 0;
    std::string function;
  };

  std::optional<LockWait> library_wait(const Thread& thread);
  std::optional<LockWait> futex_wait(const Thread& thread, uint64_t address, const GilState& gil,
                                     const Interpreter& interpreter);
  uint64_t lock_of_semaphore(const Frame& frame, uint64_t semaphore);
  uint64_t lock_of_wait_entry(uint64_t address);
  void add_holder(LockWait& wait, const std::vector<Held>& held);
  std::vector<Held> held_in_with_blocks(const Interpreter& interpreter);
  void add_held(const Thread& thread, const Frame& frame, std::vector<Held>& out);
  std::vector<uint64_t> with_exits_up_to_310(const Frame& frame);
  std::vector<uint64_t> live_stack_from_311(const Frame& frame);
  std::optional<uint64_t> held_lock_of_exit(uint64_t exit);
  void add_names(const Interpreter& interpreter, std::vector<LockWait>& waits);
  void name_waits(const std::vector<LockWait*>& waits, std::u32string_view owner,
                  uint64_t attribute);

  std::optional<uint64_t> self_of(const Frame& frame);
  std::optional<uint64_t> attribute(uint64_t object, std::string_view name);
  std::string type_name(uint64_t object);
  bool is_lock(uint64_t object);
  bool is_rlock(uint64_t object);
  LockObject object_of(uint64_t address);

  const ObjectReader& objects_;
  TypeCache& types_;
  const DictReader& dicts_;
  CodeCache& codes_;
};

// The depth of the value stack at the handler of the exception-table entry (3.11+
// co_exceptiontable) that covers the instruction at `instruction` (in code units); nullopt when
// none does. Exposed for tests.
std::optional<int> exception_handler_depth(std::string_view table, int64_t instruction);

}  // namespace pystack
