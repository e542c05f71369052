#include "cli/live_dump.h"

#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/errors.h"
#include "cpython/runtime.h"
#include "cpython/snapshot_reader.h"
#include "symbols/python_binary.h"
#include "target/proc_maps.h"
#include "target/process_memory.h"
#include "target/stopped_process.h"

namespace pystack {
namespace {

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

bool process_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

absl::Status exited(pid_t pid) {
  return make_error(ErrorKind::kProcessExited,
                    absl::StrFormat("process %d exited during the dump", pid));
}

std::string executable_of(pid_t pid, const std::vector<MemoryMapping>& mappings) {
  char buffer[4096];
  const std::string link = absl::StrCat("/proc/", pid, "/exe");
  ssize_t n = ::readlink(link.c_str(), buffer, sizeof buffer - 1);
  if (n > 0) return std::string(buffer, n);
  return mappings.empty() ? std::string() : mappings.front().path;
}

}  // namespace

absl::StatusOr<Snapshot> dump_live_process(pid_t pid, absl::Duration attach_timeout,
                                           DumpStats* stats) {
  // Everything that does not need the threads stopped happens before they are.
  absl::StatusOr<std::vector<MemoryMapping>> mappings = read_proc_maps(pid);
  if (!mappings.ok()) return mappings.status();
  absl::StatusOr<PythonBinary> binary = find_python_binary(*mappings, live_resolver(pid));
  if (!binary.ok()) {
    if (error_kind(binary.status()) == ErrorKind::kNotPython) {
      return make_error(ErrorKind::kNotPython,
                        absl::StrFormat("process %d is not a Python process: %s", pid,
                                        binary.status().message()),
                        "pystack-dump reads CPython processes only");
    }
    return binary.status();
  }
  absl::StatusOr<ProcessMemory> memory = ProcessMemory::open(pid);
  if (!memory.ok()) return memory.status();
  absl::StatusOr<PythonRuntime> runtime = identify_runtime(*memory, *binary);
  if (!runtime.ok()) return process_gone(pid) ? exited(pid) : runtime.status();
  SnapshotReader reader(*memory, *std::move(runtime));

  const absl::Time stop_start = absl::Now();
  absl::StatusOr<std::unique_ptr<StoppedProcess>> stopped =
      StoppedProcess::stop(pid, attach_timeout);
  if (!stopped.ok()) return stopped.status();
  absl::StatusOr<Snapshot> snapshot = reader.read();
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
