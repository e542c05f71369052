// The walk from _PyRuntime to interpreters, threads, frames and code objects, producing a
// Snapshot. Reads only; the target must be stopped while read() runs.
//
// Built for repeated use (the coming sampler): code objects are cached across reads and
// validated on reuse (an address may hold another code object by then); types, reprs and pages
// are kept for one read. Each read is bounded by a SnapshotBudget.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cpython/asyncio_tasks.h"
#include "cpython/code_object.h"
#include "cpython/dict.h"
#include "cpython/exception_reader.h"
#include "cpython/gil_holder.h"
#include "cpython/locals.h"
#include "cpython/lock_waits.h"
#include "cpython/object_repr.h"
#include "cpython/objects.h"
#include "cpython/py_types.h"
#include "cpython/releases.h"
#include "cpython/runtime.h"
#include "cpython/thread_names.h"
#include "snapshot/request.h"
#include "snapshot/snapshot.h"
#include "memory/page_cache.h"
#include "memory/remote_memory.h"

namespace pystack {

// Bounds that keep a walk over corrupt memory finite.
inline constexpr int kMaxInterpreters = 1024;
inline constexpr int kMaxThreads = 1 << 16;
inline constexpr int kMaxFrames = 1 << 17;

class SnapshotReader {
 public:
  // `memory` must outlive the reader.
  SnapshotReader(const RemoteMemory& memory, PythonRuntime runtime);

  // Every interpreter and thread of the process now. Fails only when the runtime itself cannot
  // be read; damage below it, or a walk over `budget` (the stop counted from `stopped_at`),
  // gives a partial Snapshot with walk_error set where it happened.
  absl::StatusOr<Snapshot> read(const SnapshotNeeds& needs = {},
                                const SnapshotBudget& budget = {},
                                absl::Time stopped_at = absl::Now());

  const PythonRuntime& runtime() const { return runtime_; }

  // --tasks of 3.14+: the target's AsyncioDebug offsets (found afresh for each snapshot: the
  // _asyncio module may be loaded at any time).
  void set_asyncio_debug_offsets(std::optional<AsyncioDebugOffsets> offsets);

  // --locks, after read() and while the target is still stopped: each interpreter's report,
  // with the system call each thread is in.
  void add_locks(Snapshot& snapshot, const LockWaitReader::SyscallOf& syscall_of);

 private:
  absl::StatusOr<Interpreter> read_interpreter(uint64_t address);
  bool read_gc_collecting(uint64_t interp) const;
  Thread read_thread(uint64_t tstate, const GilState& gil, bool collecting);
  absl::StatusOr<uint64_t> current_frame(uint64_t tstate) const;
  void read_frames(uint64_t frame, Thread& thread);
  void read_frame_objects(uint64_t frame, Thread& thread);
  Frame read_frame(uint64_t frame, uint64_t code_address);
  Frame read_frame_object(uint64_t code, int32_t lasti);
  bool fails_safety_check(uint64_t frame, uint64_t executable_bits) const;
  bool is_shim(uint8_t owner) const;
  // Whether the frame at `frame` begins a C-level run of the loop, as far as it alone tells.
  bool is_entry(uint64_t frame) const;
  // Counts one frame against the budget; false, with the thread's walk error set, once spent.
  bool spend_frame(Thread& thread);
  // Why the walk must stop now (the budget is spent), or nullopt.
  std::optional<std::string> over_budget();
  void add_locals(uint64_t frame, Frame& out);
  void add_thread_names(Interpreter& interpreter);
  std::optional<Frame> read_coroutine_frame(uint64_t coroutine);

  PythonRuntime runtime_;
  const Layout& layout_;
  const Release& release_;  // the models the walk follows
  PageCache pages_;
  ObjectReader objects_;
  CodeCache codes_;
  // --locals and thread names.
  SnapshotNeeds options_;
  SnapshotBudget budget_;
  absl::Time deadline_;
  int64_t frames_read_ = 0;
  std::optional<std::string> spent_;  // set once the budget is spent
  TypeCache types_;
  DictReader dicts_;
  ObjectRepr reprs_;
  LocalsReader locals_;
  ThreadNameReader thread_names_;
  AsyncioTaskReader tasks_;
  LockWaitReader locks_;
  ExceptionReader exceptions_;
};

}  // namespace pystack
