// One interface for every process pystack-dump reads: a live process or a core file, in the spirit
// of libdwfl's Dwfl_Thread_Callbacks. The stages above it (symbols, cpython) see only this:
// memory, the mappings and the files behind them, the threads with their registers and names,
// the fatal signal, and a way to hold the threads still while they are read.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "memory/proc_maps.h"
#include "memory/registers.h"
#include "memory/remote_memory.h"

namespace pystack {

class Target {
 public:
  virtual ~Target() = default;

  // The process id (a core: the crashed process's, as it recorded it).
  virtual pid_t pid() const = 0;
  // "process 123", "process 123 (python3 app.py)": how messages name the target.
  virtual std::string description() const = 0;

  virtual const RemoteMemory& memory() const = 0;
  // The file-backed mappings, the executable's first (symbols/python_binary.h relies on it).
  virtual const std::vector<MemoryMapping>& mappings() const = 0;
  // Where the file behind `mapping` is found from here (a container's root, a --sysroot, ...).
  virtual std::string file_of(const MemoryMapping& mapping) const = 0;
  // The executable as the process named it (sys.executable), or "".
  virtual std::string executable() const = 0;
  // The kernel's name of the process (comm), or "".
  virtual std::string process_name() const = 0;
  // The program's argv[0] as it was started (dladdr() names the executable by it), or "".
  virtual std::string argv0() const { return ""; }
  // Where this process can open the file the target would open as `path` (absolute, or relative
  // to the target's working directory), e.g. a source file; "" when it cannot be reached.
  virtual std::string source_file(const std::string& path) const = 0;
  // The directory that is "/" to the target, when its files can be reached under it from here
  // (a live process: /proc/PID/root; a core: --sysroot), else "": where its debug files are.
  virtual std::string root_directory() const { return ""; }
  // Called with the file found to hold the CPython runtime, by its mapped path (as the target
  // sees it); a core compares the build id of the file found for it with its own image's.
  virtual void runtime_file_found(const std::string& mapped_path) { (void)mapped_path; }

  // Holds every thread still until resume(); a core is always still. Bounded by `timeout`.
  virtual absl::Status stop(absl::Duration timeout) = 0;
  // Lets the threads run again; safe to call more than once, and without stop().
  virtual void resume() = 0;
  // The threads' OS ids. For a live process: only while stopped.
  virtual std::vector<pid_t> threads() const = 0;
  // x86-64 fs_base of a thread (glibc's pthread_self()), while stopped; nullopt when unknown.
  virtual std::optional<uint64_t> fs_base(pid_t tid) const = 0;
  // A thread's registers, while stopped (a core: as it recorded them); nullopt when unknown.
  virtual std::optional<DwarfRegisters> registers(pid_t tid) const = 0;
  // The system call the thread is in, while stopped (a core: when it was made); nullopt when
  // unknown.
  virtual std::optional<BlockedSyscall> blocked_syscall(pid_t tid) const = 0;
  // The OS's name for a thread (/proc/PID/task/TID/comm), when the target can tell it.
  virtual std::optional<std::string> os_thread_name(pid_t tid) const = 0;
  virtual bool knows_os_thread_names() const = 0;
  // The signal the process died of (a core of a crash), else 0; and the thread it hit.
  virtual int fatal_signal() const { return 0; }
  virtual std::optional<pid_t> signalled_thread() const { return std::nullopt; }

  // True when a live process has exited (its reads fail for that reason), false for a core.
  virtual bool gone() const = 0;
  // The error for a target in which no CPython runtime was found (`cause`: find_python_binary's).
  virtual absl::Status no_runtime_error(const absl::Status& cause) const = 0;
  // The error for a runtime that was found but could not be read.
  virtual absl::Status unreadable_runtime_error(const absl::Status& cause) const = 0;
  // The error for a runtime that holds no interpreter, or no thread (ErrorKind::kNoInterpreter).
  virtual absl::Status no_interpreter_error() const = 0;
  // The error for a snapshot printed with parts missing (ErrorKind::kIncomplete).
  virtual absl::Status incomplete_error() const = 0;
  // Warnings about the target itself (a truncated core, a file that does not match), each once.
  virtual std::vector<std::string> take_warnings() { return {}; }
};

}  // namespace pystack
