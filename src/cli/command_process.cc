#include "cli/command_process.h"

#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/errors.h"

extern char** environ;

namespace pystack {
namespace {

// posix_spawn's attribute object, destroyed on every path.
class SpawnAttributes {
 public:
  SpawnAttributes() { ::posix_spawnattr_init(&attr_); }
  ~SpawnAttributes() { ::posix_spawnattr_destroy(&attr_); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  posix_spawnattr_t* get() { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

}  // namespace

absl::StatusOr<CommandProcess> CommandProcess::start(const std::vector<std::string>& argv,
                                                     const sigset_t& signal_mask) {
  if (argv.empty()) return make_error(ErrorKind::kInvalidArgument, "no command to run");
  SpawnAttributes attributes;
  // A session of its own: its pid names its process group (for signals from the "terminal") and
  // its session, which its descendants keep even when they change group or are reparented.
  ::posix_spawnattr_setflags(attributes.get(), POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK);
  ::posix_spawnattr_setsigmask(attributes.get(), &signal_mask);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  // glibc's posix_spawnp reports exec's errno itself, so a missing command is an error here.
  const int err = ::posix_spawnp(&pid, args[0], nullptr, attributes.get(), args.data(), environ);
  if (err != 0) {
    const std::string message = absl::StrCat("cannot run '", argv[0], "': ", std::strerror(err));
    return make_error(err == ENOENT ? ErrorKind::kNoSuchFile : ErrorKind::kPermissionDenied,
                      message);
  }
  return CommandProcess(pid);
}

void CommandProcess::reap_children() {
  // Bounded: each call reaps what has ended by now; later deaths come with another SIGCHLD.
  for (int i = 0; i < 4096; ++i) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return;
    if (pid == pid_) wait_status_ = status;
  }
}

int CommandProcess::shell_status() const {
  const int status = wait_status_.value_or(0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;  // not reachable: waitpid without WUNTRACED reports only ends
}

void CommandProcess::signal_group(int signo) const {
  if (!finished()) ::kill(-pid_, signo);
}

int exit_code_for_start_error(const absl::Status& status) {
  return error_kind(status) == ErrorKind::kNoSuchFile ? 127 : 126;
}

}  // namespace pystack
