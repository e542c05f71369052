// A running process as a Target: /proc/PID/maps for its mappings, process_vm_readv for its memory,
// ptrace (PTRACE_SEIZE + PTRACE_INTERRUPT, through StoppedProcess) to hold it still.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "memory/process_memory.h"
#include "memory/stopped_process.h"
#include "memory/target.h"

namespace pystack {

class LiveProcess final : public Target {
 public:
  // Errors: kNoSuchProcess, kPermissionDenied (from /proc/PID/maps).
  static absl::StatusOr<std::unique_ptr<LiveProcess>> open(pid_t pid);

  pid_t pid() const override { return pid_; }
  std::string description() const override;
  const RemoteMemory& memory() const override { return memory_; }
  const std::vector<MemoryMapping>& mappings() const override { return mappings_; }
  std::string file_of(const MemoryMapping& mapping) const override;
  std::string executable() const override;
  std::string process_name() const override;
  std::string argv0() const override;  // /proc/PID/cmdline up to its first NUL
  std::string source_file(const std::string& path) const override;

  // Errors: kProcessExited (it was there when opened), kPermissionDenied, kAlreadyTraced,
  // kInvalidArgument (this process itself); a timeout is kInternal.
  absl::Status stop(absl::Duration timeout) override;
  void resume() override;
  // Holds only the threads `tids` (a sampler's --blocking: those that run Python). Errors as
  // stop(); resume() lets them go.
  absl::Status stop_threads(const std::vector<pid_t>& tids, absl::Duration timeout);
  std::vector<pid_t> threads() const override;
  std::optional<uint64_t> fs_base(pid_t tid) const override;
  std::optional<DwarfRegisters> registers(pid_t tid) const override;
  std::optional<BlockedSyscall> blocked_syscall(pid_t tid) const override;
  std::string root_directory() const override;
  std::optional<std::string> os_thread_name(pid_t tid) const override;
  bool knows_os_thread_names() const override { return true; }

  bool gone() const override;
  absl::Status no_runtime_error(const absl::Status& cause) const override;
  absl::Status unreadable_runtime_error(const absl::Status& cause) const override;
  absl::Status no_interpreter_error() const override;
  absl::Status incomplete_error() const override;

 private:
  LiveProcess(pid_t pid, ProcessMemory memory, std::vector<MemoryMapping> mappings)
      : pid_(pid), memory_(std::move(memory)), mappings_(std::move(mappings)) {}
  absl::Status exited_error() const;
  absl::Status hold(absl::StatusOr<std::unique_ptr<StoppedProcess>> stopped);

  pid_t pid_;
  ProcessMemory memory_;
  std::vector<MemoryMapping> mappings_;
  std::unique_ptr<StoppedProcess> stopped_;
};

}  // namespace pystack
