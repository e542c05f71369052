// Every thread of a live process held stopped for the length of one dump.
//
// Threads are seized with PTRACE_SEIZE and stopped with PTRACE_INTERRUPT, so that if the tool
// dies (even by SIGKILL) the kernel detaches and the target runs on. /proc/PID/task is re-read
// until no new thread appears. Every wait is bounded. The destructor detaches every thread.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pystack {

class StoppedProcess {
 public:
  // Errors (common/errors.h): kNoSuchProcess, kPermissionDenied (with a hint naming
  // CAP_SYS_PTRACE and /proc/sys/kernel/yama/ptrace_scope), kAlreadyTraced (with the tracer's
  // pid), kProcessExited; a timeout is kInternal. On error nothing is left attached.
  static absl::StatusOr<std::unique_ptr<StoppedProcess>> stop(pid_t pid, absl::Duration timeout);
  // Stops only the threads `tids` of `pid` (a sampler's --blocking holds only the threads that
  // run Python); the others run on. Errors as stop().
  static absl::StatusOr<std::unique_ptr<StoppedProcess>> stop_threads(
      pid_t pid, const std::vector<pid_t>& tids, absl::Duration timeout);

  ~StoppedProcess();  // detaches every thread still attached
  StoppedProcess(const StoppedProcess&) = delete;
  StoppedProcess& operator=(const StoppedProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::vector<pid_t>& threads() const { return threads_; }  // the stopped thread ids, sorted

  // Lets every thread run again now; safe to call more than once.
  void resume();

 private:
  // A thread seized by this object. Its ptrace state lives in the kernel; this is our view.
  struct HeldThread {
    pid_t tid = 0;
    size_t slot = 0;       // its entry in the signal handler's registry
    bool stopped = false;  // seen in a ptrace-stop (PTRACE_DETACH works only then)
    int signal = 0;        // a signal it stopped to deliver, re-injected at detach
  };

  explicit StoppedProcess(pid_t pid) : pid_(pid) {}
  static absl::StatusOr<std::unique_ptr<StoppedProcess>> stop_listed(
      pid_t pid, std::optional<std::vector<pid_t>> only, absl::Duration timeout);
  absl::StatusOr<bool> attach_new_threads(absl::Time deadline);
  absl::Status await_threads(size_t first, absl::Time deadline);
  void record_stop(HeldThread& thread, bool stopped, int signal);
  absl::Status timeout_error(pid_t tid) const;
  absl::Status gone_error(bool before_attaching) const;

  pid_t pid_;
  std::vector<pid_t> threads_;
  std::vector<HeldThread> held_;
  std::vector<pid_t> vanished_;  // listed once, exited before they stopped
  std::optional<std::vector<pid_t>> only_;  // stop_threads(): these, not /proc/PID/task
};

// Installs SIGINT/SIGTERM/SIGHUP/SIGQUIT handlers that detach every thread any StoppedProcess
// holds (async-signal-safe) and then die of the same signal. Call once, early in main.
void install_detach_on_signal();

}  // namespace pystack
