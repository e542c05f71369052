#include "cpython/take_snapshot.h"

#include <signal.h>

#include "absl/container/flat_hash_map.h"
#include "common/errors.h"
#include "cpython/os_thread_names.h"
#include "cpython/runtime.h"
#include "cpython/snapshot_reader.h"
#include "cpython/crash_c_stack.h"
#include "native/native_unwinder.h"
#include "symbols/dynamic_symbols.h"
#include "symbols/python_binary.h"

namespace pystack {
namespace {

bool lacks_native_ids(const Snapshot& snapshot) {
  for (const Interpreter& interp : snapshot.interpreters) {
    for (const Thread& thread : interp.threads) {
      if (!thread.native_thread_id) return true;
    }
  }
  return false;
}

// Before 3.11 CPython does not keep the OS thread id. On x86-64 glibc, pthread_self() (the
// thread_id CPython keeps) is the thread's fs_base, which the target knows while it is still:
// asked only when some thread lacks its id. Two threads with one fs_base cannot be told apart:
// neither is paired.
// --tasks: a list read before its thread's OS id was known gets it now.
void add_task_list_thread_ids(Interpreter& interp) {
  if (!interp.tasks) return;
  for (AsyncioTaskList& list : interp.tasks->lists) {
    if (list.thread_id != 0 || list.thread_ident == 0) continue;
    for (const Thread& thread : interp.threads) {
      if (thread.thread_id == list.thread_ident && thread.native_thread_id) {
        list.thread_id = *thread.native_thread_id;
      }
    }
  }
}

void add_native_ids_from_fs_base(const Target& target, Snapshot& snapshot) {
  if (!lacks_native_ids(snapshot)) return;
  absl::flat_hash_map<uint64_t, pid_t> tid_by_fs_base;
  for (pid_t tid : target.threads()) {
    std::optional<uint64_t> fs_base = target.fs_base(tid);
    if (!fs_base) continue;
    auto [it, inserted] = tid_by_fs_base.emplace(*fs_base, tid);
    if (!inserted) it->second = 0;
  }
  for (Interpreter& interp : snapshot.interpreters) {
    for (Thread& thread : interp.threads) {
      if (thread.native_thread_id) continue;
      auto it = tid_by_fs_base.find(thread.thread_id);
      if (it != tid_by_fs_base.end() && it->second > 0) thread.native_thread_id = it->second;
    }
    add_task_list_thread_ids(interp);
  }
}

// The thread that received a fatal signal is faulthandler's "Current thread": its tstate is the
// one whose pthread_t (thread_id) is that thread's fs_base. A thread without a Python thread
// state leaves no thread current, as in faulthandler.
void mark_crashed_thread(const Target& target, Snapshot& snapshot) {
  std::optional<std::string> name = faulthandler_signal_name(target.fatal_signal());
  if (!name) return;  // no crash (gcore) or not one faulthandler reports: the GIL holder stays
  snapshot.fatal_error = *name;
  std::optional<pid_t> signalled = target.signalled_thread();
  const uint64_t crashed = signalled ? target.fs_base(*signalled).value_or(0) : 0;
  for (Interpreter& interpreter : snapshot.interpreters) {
    for (Thread& thread : interpreter.threads) {
      thread.is_current = crashed != 0 && thread.thread_id == crashed;
    }
  }
}

constexpr uint64_t kMaxOsThreadId = 1u << 22;  // pid_max's ceiling

// Each Python thread's C stack: its pcs while the threads are still (unwind_native_pcs), their
// names and lines once they run again (describe_native_stacks). A thread whose OS id is unknown
// gets a stack that says so.
using UnwoundStacks = std::vector<std::optional<NativeUnwinder::Unwound>>;

UnwoundStacks unwind_native_pcs(const Target& target, NativeUnwinder* unwinder,
                                const Snapshot& snapshot) {
  UnwoundStacks unwound;
  for (const Interpreter& interp : snapshot.interpreters) {
    for (const Thread& thread : interp.threads) {
      const uint64_t tid = thread.native_thread_id.value_or(0);
      if (unwinder == nullptr || tid == 0 || tid > kMaxOsThreadId ||
          !target.registers(static_cast<pid_t>(tid))) {
        unwound.emplace_back();
      } else {
        unwound.push_back(unwinder->unwind_pcs(static_cast<pid_t>(tid)));
      }
    }
  }
  return unwound;
}

void describe_native_stacks(NativeUnwinder* unwinder, const absl::Status& unwinder_status,
                            const UnwoundStacks& unwound, Snapshot& snapshot) {
  size_t index = 0;
  for (Interpreter& interp : snapshot.interpreters) {
    for (Thread& thread : interp.threads) {
      const std::optional<NativeUnwinder::Unwound>& pcs = unwound[index++];
      if (pcs) {
        thread.native = unwinder->describe(*pcs);
        continue;
      }
      NativeStack& stack = thread.native.emplace();
      if (unwinder == nullptr) {
        stack.end_error = std::string(unwinder_status.message());
      } else if (!thread.native_thread_id) {
        stack.end_error = "the thread's OS id is unknown";
      } else {
        stack.end_error = "the thread's registers cannot be read";
      }
    }
  }
}

// Some interpreter has a thread, or a walk that stopped early to show: a runtime whose
// interpreter list is empty, or whose interpreters have no thread, is one that has not started
// Python yet or has finished it (or, in a core, memory that is not what the runtime held).
bool runs_python(const Snapshot& snapshot) {
  for (const Interpreter& interp : snapshot.interpreters) {
    if (!interp.threads.empty() || interp.walk_error) return true;
  }
  return false;
}

// The OS names of the threads: asked of the target, else (a core of 3.14+) inferred from the
// Python names CPython gave them (cpython/os_thread_names.h).
void add_os_thread_names(const Target& target, Snapshot& snapshot) {
  if (!target.knows_os_thread_names()) {
    if (python_names_os_threads(snapshot.version)) {
      infer_os_thread_names(snapshot, static_cast<uint64_t>(snapshot.pid), target.process_name());
    }
    return;
  }
  for (Interpreter& interp : snapshot.interpreters) {
    for (Thread& thread : interp.threads) {
      const uint64_t tid = thread.native_thread_id.value_or(0);
      if (tid == 0 || tid > kMaxOsThreadId) continue;
      if (std::optional<std::string> name = target.os_thread_name(static_cast<pid_t>(tid))) {
        thread.os_name = *std::move(name);
      }
    }
  }
}

// A core of a crash of 3.14+: the C stack its crash handler printed (faulthandler's
// _Py_DumpStack), of the thread that received the signal, whether it runs Python or not.
void add_crash_c_stack(const Target& target, const PythonRuntime& runtime,
                       absl::StatusOr<std::unique_ptr<NativeUnwinder>>& unwinder,
                       Snapshot& snapshot) {
  if (!faulthandler_signal_name(target.fatal_signal()) || !snapshot.version.at_least(3, 14)) return;
  std::optional<pid_t> signalled = target.signalled_thread();
  if (!signalled) return;
  if (!unwinder.ok()) {
    NativeUnwindOptions options;
    options.source_info = false;  // the handler's lines are dynamic symbols and addresses
    unwinder = NativeUnwinder::create(target, runtime.file, options);
  }
  if (!unwinder.ok()) return;
  const NativeStack stack = (*unwinder)->unwind(*signalled);
  std::vector<std::string> runtime_files;
  for (const MemoryMapping& mapping : target.mappings()) {
    if (mapping.path == runtime.file) {
      runtime_files.push_back(target.file_of(mapping));
      break;
    }
  }
  snapshot.crash_c_stack =
      crash_c_stack(stack.frames, DynamicSymbolizer(target), crash_handler_frames(runtime_files));
}

}  // namespace

std::optional<std::string> faulthandler_signal_name(int signal) {
  switch (signal) {
    case SIGBUS: return "Bus error";
    case SIGILL: return "Illegal instruction";
    case SIGFPE: return "Floating point exception";
    case SIGABRT: return "Aborted";
    case SIGSEGV: return "Segmentation fault";
    default: return std::nullopt;
  }
}

bool snapshot_is_partial(const Snapshot& snapshot) {
  for (const Interpreter& interpreter : snapshot.interpreters) {
    if (interpreter.walk_error) return true;
    if (interpreter.tasks && interpreter.tasks->walk_error) return true;
    for (const Thread& thread : interpreter.threads) {
      if (thread.walk_error) return true;
    }
  }
  return false;
}

namespace {

// 3.14+: the _asyncio module's offsets, read from the target (the section is writable data).
std::optional<AsyncioDebugOffsets> find_asyncio_debug_offsets(Target& target,
                                                              const SnapshotReader& reader) {
  if (reader.runtime().layout.iframe.stackpointer < 0) return std::nullopt;  // before 3.14
  std::optional<uint64_t> section = find_asyncio_debug_section(
      target.mappings(), [&target](const MemoryMapping& m) { return target.file_of(m); });
  if (!section) return std::nullopt;
  std::vector<uint8_t> bytes(kAsyncioDebugOffsetsSize);
  if (!target.memory().read(*section, bytes.data(), bytes.size()).ok()) return std::nullopt;
  absl::StatusOr<AsyncioDebugOffsets> offsets = parse_asyncio_debug_offsets(bytes);
  if (!offsets.ok()) return std::nullopt;
  return *offsets;
}

}  // namespace

absl::StatusOr<PythonRuntime> find_runtime(Target& target) {
  absl::StatusOr<PythonBinary> binary = find_python_binary(
      target.mappings(), [&target](const MemoryMapping& m) { return target.file_of(m); });
  if (!binary.ok()) return target.no_runtime_error(binary.status());
  target.runtime_file_found(binary->path);
  absl::StatusOr<PythonRuntime> runtime = identify_runtime(target.memory(), *binary);
  if (!runtime.ok()) return target.unreadable_runtime_error(runtime.status());
  runtime->file = binary->path;
  return runtime;
}

absl::StatusOr<Snapshot> take_snapshot(Target& target, const SnapshotNeeds& needs,
                                       absl::Duration stop_timeout, const SnapshotBudget& budget,
                                       SnapshotStats* stats) {
  // Everything that does not need the threads still happens before they are stopped.
  absl::StatusOr<PythonRuntime> runtime = find_runtime(target);
  if (!runtime.ok()) return runtime.status();
  SnapshotReader reader(target.memory(), *std::move(runtime));
  return take_snapshot(target, reader, needs, stop_timeout, budget, stats);
}

absl::StatusOr<Snapshot> take_snapshot(Target& target, SnapshotReader& reader,
                                       const SnapshotNeeds& needs, absl::Duration stop_timeout,
                                       const SnapshotBudget& budget, SnapshotStats* stats) {
  SnapshotNeeds read = needs;
  // The OS names of a target that cannot tell them are inferred from the Python ones (3.14+).
  const PythonVersion& version = reader.runtime().version;
  const bool os_names = needs.os_thread_names(version);
  if (os_names && !target.knows_os_thread_names() && python_names_os_threads(version)) {
    read.thread_names = true;
  }

  if (needs.tasks) reader.set_asyncio_debug_offsets(find_asyncio_debug_offsets(target, reader));

  // libdw reads the files' symbols and unwind tables before the threads are stopped.
  absl::StatusOr<std::unique_ptr<NativeUnwinder>> unwinder =
      absl::FailedPreconditionError("not asked");
  if (needs.native) {
    NativeUnwindOptions options;
    options.source_info = needs.native_source_info;
    unwinder = NativeUnwinder::create(target, reader.runtime().file, options);
  }

  const absl::Time stop_start = absl::Now();
  if (absl::Status stopped = target.stop(stop_timeout); !stopped.ok()) return stopped;
  absl::StatusOr<Snapshot> snapshot = reader.read(read, budget, stop_start);
  if (snapshot.ok()) add_native_ids_from_fs_base(target, *snapshot);
  if (snapshot.ok() && needs.locks) {
    reader.add_locks(*snapshot, [&target](const Thread& thread) -> std::optional<BlockedSyscall> {
      if (!thread.native_thread_id) return std::nullopt;
      return target.blocked_syscall(static_cast<pid_t>(*thread.native_thread_id));
    });
  }
  UnwoundStacks unwound;
  if (snapshot.ok() && needs.native) {
    unwound = unwind_native_pcs(target, unwinder.ok() ? unwinder->get() : nullptr, *snapshot);
  }
  if (snapshot.ok()) add_crash_c_stack(target, reader.runtime(), unwinder, *snapshot);
  const size_t threads_stopped = target.threads().size();
  target.resume();
  if (stats != nullptr) {
    stats->stopped = absl::Now() - stop_start;
    stats->threads_stopped = threads_stopped;
  }
  if (snapshot.ok() && needs.native) {
    describe_native_stacks(unwinder.ok() ? unwinder->get() : nullptr, unwinder.status(), unwound,
                           *snapshot);
  }
  if (!snapshot.ok()) return target.unreadable_runtime_error(snapshot.status());
  // A walk cut short because the process died under it tells of its death, not of its memory.
  if (snapshot_is_partial(*snapshot) && target.gone()) {
    return target.unreadable_runtime_error(
        make_error(ErrorKind::kProcessExited, "the process exited during the dump"));
  }
  if (!runs_python(*snapshot)) return target.no_interpreter_error();

  snapshot->pid = target.pid();
  snapshot->executable = target.executable();
  if (os_names) add_os_thread_names(target, *snapshot);
  mark_crashed_thread(target, *snapshot);
  return snapshot;
}

}  // namespace pystack
