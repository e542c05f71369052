#include "cli/live_dump.h"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/user.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/render.h"
#include "common/errors.h"
#include "cpython/runtime.h"
#include "cpython/snapshot_reader.h"
#include "symbols/python_binary.h"
#include "target/proc_maps.h"
#include "target/process_memory.h"
#include "target/procfs.h"
#include "target/stopped_process.h"

namespace pystack {
namespace {

// Marks the status of a process in which no CPython runtime was found (lacks_python_runtime).
constexpr char kNoRuntimeUrl[] = "pystack-dump/no-runtime";

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// The target's files as this process can open them: through its root (other mount namespaces),
// else through map_files (deleted or replaced files), else the plain path.
PathResolver live_resolver(pid_t pid) {
  return [pid](const MemoryMapping& mapping) {
    std::string rooted = absl::StrCat("/proc/", pid, "/root", mapping.path);
    if (exists(rooted)) return rooted;
    std::string mapped =
        absl::StrFormat("/proc/%d/map_files/%x-%x", pid, mapping.start, mapping.end);
    if (exists(mapped)) return mapped;
    return mapping.path;
  };
}

// Tests of the "process exited during the dump" path set PYSTACK_DUMP_TEST_PAUSE_MS to widen the
// window between finding the runtime and stopping the threads.
void pause_for_tests() {
  const char* pause = std::getenv("PYSTACK_DUMP_TEST_PAUSE_MS");
  if (pause != nullptr) absl::SleepFor(absl::Milliseconds(std::min(std::atoi(pause), 10000)));
}

bool process_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

absl::Status exited(pid_t pid) {
  return make_error(ErrorKind::kProcessExited,
                    absl::StrFormat("process %d exited during the dump", pid));
}

std::string read_link(const std::string& path) {
  char buffer[4096];
  const ssize_t n = ::readlink(path.c_str(), buffer, sizeof buffer);
  return n > 0 && static_cast<size_t>(n) < sizeof buffer ? std::string(buffer, n) : "";
}

// The executable as the process itself names it (sys.executable): /proc/PID/exe names it from
// our root, so a chroot's own root (/proc/PID/root, when we can reach it) is taken off.
std::string executable_of(pid_t pid, const std::vector<MemoryMapping>& mappings) {
  std::string exe = read_link(absl::StrCat("/proc/", pid, "/exe"));
  if (exe.empty()) return mappings.empty() ? std::string() : mappings.front().path;
  const std::string root = read_link(absl::StrCat("/proc/", pid, "/root"));
  if (root.size() > 1 && absl::StartsWith(exe, root + "/")) exe.erase(0, root.size());
  return exe;
}

bool lacks_native_ids(const Snapshot& snapshot) {
  for (const Interpreter& interp : snapshot.interpreters) {
    for (const Thread& thread : interp.threads) {
      if (!thread.native_thread_id) return true;
    }
  }
  return false;
}

// Before 3.11 CPython does not keep the OS thread id. On x86-64 glibc, pthread_self() (the
// thread_id CPython keeps) is the thread's fs_base register, which ptrace reads while the thread
// is stopped: one PTRACE_PEEKUSER per thread, only when some thread lacks its id.
void add_native_ids_from_fs_base(const StoppedProcess& stopped, Snapshot& snapshot) {
#if defined(__x86_64__)
  if (!lacks_native_ids(snapshot)) return;
  absl::flat_hash_map<uint64_t, pid_t> tid_by_fs_base;
  for (pid_t tid : stopped.threads()) {
    errno = 0;
    const long fs_base = ::ptrace(PTRACE_PEEKUSER, tid,
                                  offsetof(struct user, regs) + offsetof(user_regs_struct, fs_base),
                                  nullptr);
    if (errno != 0 || fs_base == 0) continue;
    // Two threads with one fs_base cannot be told apart: map neither.
    auto [it, inserted] = tid_by_fs_base.emplace(static_cast<uint64_t>(fs_base), tid);
    if (!inserted) it->second = 0;
  }
  for (Interpreter& interp : snapshot.interpreters) {
    for (Thread& thread : interp.threads) {
      if (thread.native_thread_id) continue;
      auto it = tid_by_fs_base.find(thread.thread_id);
      if (it != tid_by_fs_base.end() && it->second > 0) thread.native_thread_id = it->second;
    }
  }
#else
  (void)stopped;
  (void)snapshot;
#endif
}

}  // namespace

void add_os_thread_names(pid_t pid, Snapshot& snapshot) {
  for (Interpreter& interp : snapshot.interpreters) {
    for (Thread& thread : interp.threads) {
      if (!thread.native_thread_id || *thread.native_thread_id == 0 ||
          *thread.native_thread_id > (1u << 22)) {
        continue;
      }
      std::string comm;
      const std::string path =
          absl::StrCat("/proc/", pid, "/task/", *thread.native_thread_id, "/comm");
      if (procfs::read_file(path, comm) != 0) continue;
      if (!comm.empty() && comm.back() == '\n') comm.pop_back();
      thread.os_name = std::move(comm);
    }
  }
}

void add_os_thread_names_shown(pid_t pid, const Options& options, Snapshot& snapshot) {
  if (shows_os_thread_names(options, snapshot.version)) add_os_thread_names(pid, snapshot);
}

ReadOptions read_options_for(const Options& options) {
  ReadOptions read;
  read.locals = options.locals;
  read.thread_names = options.format != OutputFormat::kFaulthandler;
  return read;
}

bool lacks_python_runtime(const absl::Status& status) {
  return error_kind(status) == ErrorKind::kNotPython && status.GetPayload(kNoRuntimeUrl).has_value();
}

absl::StatusOr<Snapshot> dump_live_process(pid_t pid, absl::Duration attach_timeout,
                                           DumpStats* stats, const ReadOptions& read_options) {
  // Everything that does not need the threads stopped happens before they are.
  absl::StatusOr<std::vector<MemoryMapping>> mappings = read_proc_maps(pid);
  if (!mappings.ok()) return mappings.status();
  absl::StatusOr<PythonBinary> binary = find_python_binary(*mappings, live_resolver(pid));
  if (!binary.ok()) {
    if (error_kind(binary.status()) == ErrorKind::kNotPython) {
      absl::Status status = make_error(
          ErrorKind::kNotPython,
          absl::StrFormat("process %d is not a Python process: %s", pid, binary.status().message()),
          "pystack-dump reads CPython processes only");
      status.SetPayload(kNoRuntimeUrl, absl::Cord("1"));
      return status;
    }
    return binary.status();
  }
  absl::StatusOr<ProcessMemory> memory = ProcessMemory::open(pid);
  if (!memory.ok()) return memory.status();
  absl::StatusOr<PythonRuntime> runtime = identify_runtime(*memory, *binary);
  if (!runtime.ok()) return process_gone(pid) ? exited(pid) : runtime.status();
  SnapshotReader reader(*memory, *std::move(runtime));

  pause_for_tests();
  const absl::Time stop_start = absl::Now();
  absl::StatusOr<std::unique_ptr<StoppedProcess>> stopped =
      StoppedProcess::stop(pid, attach_timeout);
  if (!stopped.ok()) {
    // It was there when its runtime was found: it exited during the dump.
    if (error_kind(stopped.status()) == ErrorKind::kNoSuchProcess) return exited(pid);
    return stopped.status();
  }
  absl::StatusOr<Snapshot> snapshot = reader.read(read_options);
  if (snapshot.ok()) add_native_ids_from_fs_base(**stopped, *snapshot);
  (*stopped)->resume();
  if (stats != nullptr) {
    stats->stopped = absl::Now() - stop_start;
    stats->threads_stopped = (*stopped)->threads().size();
  }

  if (!snapshot.ok()) {
    if (process_gone(pid)) return exited(pid);
    return make_error(ErrorKind::kNotPython,
                      absl::StrFormat("cannot read the Python runtime of process %d: %s", pid,
                                      snapshot.status().message()),
                      "the process may not have finished starting Python, or its memory is corrupt");
  }
  snapshot->pid = pid;
  snapshot->executable = executable_of(pid, *mappings);
  return snapshot;
}

}  // namespace pystack
