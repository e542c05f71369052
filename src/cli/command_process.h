// The command that pystack-dump --timeout runs, as a shell runs a job: its own session (and so its
// own process group, of which it is the leader), the wrapper's stdin, stdout and stderr, and its
// exit status reported as a shell reports it.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace pystack {

class CommandProcess {
 public:
  // Starts argv[0] (looked up in PATH) with `signal_mask` as its signal mask. Errors keep the
  // errno of exec in their message; exit_code_for_start_error() turns them into 126 or 127.
  static absl::StatusOr<CommandProcess> start(const std::vector<std::string>& argv,
                                              const sigset_t& signal_mask);

  // The command's pid, which is also its session id and process group id.
  pid_t pid() const { return pid_; }

  // Reaps every child of this process that has ended without blocking (orphans adopted as child
  // subreaper included, so that none stays a zombie), noting the command's status among them.
  void reap_children();

  bool finished() const { return wait_status_.has_value(); }

  // As a shell has it: the exit code, or 128 + the signal that killed it. Only once finished().
  int shell_status() const;

  // Sends `signo` to the command's process group, as a shell's terminal would; nothing once the
  // command is reaped (its group id could name another group then).
  void signal_group(int signo) const;

 private:
  explicit CommandProcess(pid_t pid) : pid_(pid) {}

  pid_t pid_;
  std::optional<int> wait_status_;
};

// 127 when the command was not found, 126 when it was found but could not be run (as
// timeout(1) and shells have it).
int exit_code_for_start_error(const absl::Status& status);

}  // namespace pystack
