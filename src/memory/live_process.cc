#include "memory/live_process.h"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/user.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/errors.h"
#include "memory/procfs.h"

namespace pystack {
namespace {

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string read_link(const std::string& path) {
  char buffer[4096];
  const ssize_t n = ::readlink(path.c_str(), buffer, sizeof buffer);
  return n > 0 && static_cast<size_t>(n) < sizeof buffer ? std::string(buffer, n) : "";
}

// Races driven by tests: PYSTACK_DUMP_TEST_PAUSE_MS=N sleeps N ms (at most 10 s) at the moment
// PYSTACK_DUMP_TEST_PAUSE_AT names: "runtime" (the maps read, the runtime not looked for yet),
// "stop" (the runtime found, the threads not stopped yet; the default) or "held" (the threads
// stopped, not read yet: another dumper meets a held process).
void pause_for_tests(std::string_view moment) {
  const char* pause = std::getenv("PYSTACK_DUMP_TEST_PAUSE_MS");
  if (pause == nullptr) return;
  const char* at = std::getenv("PYSTACK_DUMP_TEST_PAUSE_AT");
  if ((at == nullptr ? std::string_view("stop") : std::string_view(at)) != moment) return;
  absl::SleepFor(absl::Milliseconds(std::clamp(std::atoi(pause), 0, 10000)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<LiveProcess>> LiveProcess::open(pid_t pid) {
  absl::StatusOr<std::vector<MemoryMapping>> mappings = read_proc_maps(pid);
  if (!mappings.ok()) return mappings.status();
  absl::StatusOr<ProcessMemory> memory = ProcessMemory::open(pid);
  if (!memory.ok()) return memory.status();
  pause_for_tests("runtime");
  return std::unique_ptr<LiveProcess>(
      new LiveProcess(pid, *std::move(memory), *std::move(mappings)));
}

std::string LiveProcess::description() const { return absl::StrCat("process ", pid_); }

// The target's files as this process can open them: through its root (other mount namespaces),
// else through map_files (deleted or replaced files), else the plain path.
std::string LiveProcess::file_of(const MemoryMapping& mapping) const {
  std::string rooted = absl::StrCat("/proc/", pid_, "/root", mapping.path);
  if (exists(rooted)) return rooted;
  std::string mapped =
      absl::StrFormat("/proc/%d/map_files/%x-%x", pid_, mapping.start, mapping.end);
  if (exists(mapped)) return mapped;
  return mapping.path;
}

// The executable as the process itself names it (sys.executable): /proc/PID/exe names it from
// our root, so a chroot's own root (/proc/PID/root, when we can reach it) is taken off.
std::string LiveProcess::executable() const {
  std::string exe = read_link(absl::StrCat("/proc/", pid_, "/exe"));
  if (exe.empty()) return mappings_.empty() ? std::string() : mappings_.front().path;
  const std::string root = read_link(absl::StrCat("/proc/", pid_, "/root"));
  if (root.size() > 1 && absl::StartsWith(exe, root + "/")) exe.erase(0, root.size());
  return exe;
}

// Absolute paths under /proc/PID/root (its mount namespace and chroot), relative ones under
// /proc/PID/cwd (its working directory, where its own os.stat looks first).
std::string LiveProcess::source_file(const std::string& path) const {
  if (path.empty()) return "";
  return path[0] == '/' ? absl::StrCat("/proc/", pid_, "/root", path)
                        : absl::StrCat("/proc/", pid_, "/cwd/", path);
}

std::string LiveProcess::argv0() const {
  // The kernel bounds the command line (ARG_MAX); a process gone or hidden gives "".
  std::string cmdline;
  if (procfs::read_file(absl::StrCat("/proc/", pid_, "/cmdline"), cmdline) != 0) return "";
  return cmdline.substr(0, cmdline.find('\0'));
}

std::string LiveProcess::process_name() const {
  return procfs::comm(pid_).value_or("");
}

absl::Status LiveProcess::stop(absl::Duration timeout) {
  pause_for_tests("stop");
  return hold(StoppedProcess::stop(pid_, timeout));
}

absl::Status LiveProcess::stop_threads(const std::vector<pid_t>& tids, absl::Duration timeout) {
  return hold(StoppedProcess::stop_threads(pid_, tids, timeout));
}

absl::Status LiveProcess::hold(absl::StatusOr<std::unique_ptr<StoppedProcess>> stopped) {
  if (!stopped.ok()) {
    // It was there when it was opened: it exited during the dump.
    if (error_kind(stopped.status()) == ErrorKind::kNoSuchProcess) return exited_error();
    return stopped.status();
  }
  stopped_ = *std::move(stopped);
  pause_for_tests("held");
  return absl::OkStatus();
}

void LiveProcess::resume() {
  if (stopped_ != nullptr) stopped_->resume();
}

std::vector<pid_t> LiveProcess::threads() const {
  return stopped_ != nullptr ? stopped_->threads() : std::vector<pid_t>{};
}

// A process in a container or a chroot sees its own "/": the kernel shows it here.
std::string LiveProcess::root_directory() const { return "/proc/" + std::to_string(pid_) + "/root"; }

// Only a thread this process holds in a ptrace-stop answers PTRACE_GETREGS.
std::optional<DwarfRegisters> LiveProcess::registers(pid_t tid) const {
#if defined(__x86_64__)
  if (stopped_ == nullptr) return std::nullopt;
  user_regs_struct regs{};
  if (::ptrace(PTRACE_GETREGS, tid, nullptr, &regs) != 0) return std::nullopt;
  return dwarf_registers(regs);
#else
  (void)tid;
  return std::nullopt;
#endif
}

std::optional<BlockedSyscall> LiveProcess::blocked_syscall(pid_t tid) const {
#if defined(__x86_64__)
  if (stopped_ == nullptr) return std::nullopt;
  user_regs_struct regs{};
  if (::ptrace(PTRACE_GETREGS, tid, nullptr, &regs) != 0) return std::nullopt;
  return pystack::blocked_syscall(regs);
#else
  (void)tid;
  return std::nullopt;
#endif
}

std::optional<uint64_t> LiveProcess::fs_base(pid_t tid) const {
#if defined(__x86_64__)
  errno = 0;
  const long fs_base = ::ptrace(PTRACE_PEEKUSER, tid,
                                offsetof(struct user, regs) + offsetof(user_regs_struct, fs_base),
                                nullptr);
  if (errno != 0 || fs_base == 0) return std::nullopt;
  return static_cast<uint64_t>(fs_base);
#else
  (void)tid;
  return std::nullopt;
#endif
}

std::optional<std::string> LiveProcess::os_thread_name(pid_t tid) const {
  return procfs::comm(pid_, tid);
}

// /proc says so, or the memory is gone already: an exiting process gives ESRCH to
// process_vm_readv (ErrorKind::kProcessExited) before /proc shows it as a zombie.
bool LiveProcess::gone() const {
  if (procfs::process_gone(pid_)) return true;
  for (const MemoryMapping& mapping : mappings_) {
    if (!mapping.readable) continue;
    char byte;
    absl::Status read = memory_.read(mapping.start, &byte, 1);
    return !read.ok() && error_kind(read) == ErrorKind::kProcessExited;
  }
  return false;
}

absl::Status LiveProcess::exited_error() const {
  return make_error(ErrorKind::kProcessExited,
                    absl::StrFormat("process %d exited during the dump", pid_));
}

absl::Status LiveProcess::no_runtime_error(const absl::Status& cause) const {
  // Its files are reached through /proc/PID/root and map_files, which a process that has exited
  // no longer has: no runtime found then says nothing about what it ran.
  if (gone()) return exited_error();
  if (error_kind(cause) != ErrorKind::kNoPythonRuntime) return cause;
  return make_error(
      ErrorKind::kNoPythonRuntime,
      absl::StrFormat("process %d is not a Python process: %s", pid_, cause.message()),
      "pystack-dump reads CPython processes only");
}

absl::Status LiveProcess::unreadable_runtime_error(const absl::Status& cause) const {
  if (error_kind(cause) == ErrorKind::kProcessExited || gone()) return exited_error();
  if (error_kind(cause) != ErrorKind::kInternal) return cause;
  return make_error(ErrorKind::kRuntimeUnreadable,
                    absl::StrFormat("cannot read the Python runtime of process %d: %s", pid_,
                                    cause.message()),
                    "the process may not have finished starting Python, or its memory is corrupt");
}

absl::Status LiveProcess::no_interpreter_error() const {
  return make_error(ErrorKind::kNoInterpreter,
                    absl::StrFormat("process %d runs no Python code now: its CPython runtime "
                                    "holds no interpreter or thread (Python is starting up or "
                                    "has shut down)",
                                    pid_),
                    "dump it again in a moment");
}

absl::Status LiveProcess::incomplete_error() const {
  return make_error(ErrorKind::kIncomplete,
                    "the dump is incomplete: parts of the process's memory could not be read "
                    "(marked in the output)");
}

}  // namespace pystack
