// pystack-dump --timeout SECS [OPTIONS] -- COMMAND [ARGS...]
//
// Runs COMMAND like timeout(1) does, and when it is still running after SECS, first dumps every
// process of its tree (tree_dump.h), then ends the tree (tree_termination.h) and exits 124.
//
// The tree is every descendant of this process, and every process of COMMAND's session:
// - COMMAND starts a session of its own (command_process.h), which its descendants keep even when
//   they change process group (a nested timeout(1), a shell with job control);
// - this process is a child subreaper (PR_SET_CHILD_SUBREAPER), so a process whose parent exits
//   (a double-forked daemon, a pool worker whose manager died) is reparented here instead of to
//   init, and stays a descendant even after it leaves the session with setsid().
// Signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT) are forwarded to COMMAND's process group as a
// terminal would send them, between dumps and never in the middle of one.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/command_process.h"
#include "cli/commands.h"
#include "cli/report.h"
#include "cli/signal_inbox.h"
#include "cli/tree_dump.h"
#include "cli/tree_termination.h"
#include "common/errors.h"
#include "memory/process_tree.h"

namespace pystack {
namespace {

// timeout(1)'s exit code for "the command timed out".
constexpr int kTimedOutExit = 124;

constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// The forwarded signals that this process ignores (`COMMAND &` in a script ignores SIGINT and
// SIGQUIT): those are not forwarded, as the command inherits them ignored too. Blocked signals
// are queued even when ignored, so the inbox would otherwise see them.
sigset_t ignored_signals() {
  sigset_t ignored;
  sigemptyset(&ignored);
  for (int signo : kForwarded) {
    struct sigaction action {};
    if (::sigaction(signo, nullptr, &action) == 0 && action.sa_handler == SIG_IGN) {
      sigaddset(&ignored, signo);
    }
  }
  return ignored;
}

bool is_forwarded(int signo, const sigset_t& ignored) {
  for (int forwarded : kForwarded) {
    if (signo == forwarded) return !sigismember(&ignored, signo);
  }
  return false;
}

// The running command, and what the wrapper does while it waits: reap children, forward signals.
class Supervisor {
 public:
  Supervisor(CommandProcess& command, SignalInbox& inbox, const sigset_t& ignored)
      : command_(command), inbox_(inbox), ignored_(ignored) {}

  // Lets up to `timeout` pass (less when a signal comes), then handles what came.
  void wait(absl::Duration timeout) {
    for (int signo : inbox_.receive(timeout)) {
      // SIGCHLD: reaped below in any case. SIGPIPE (a closed stderr or --output pipe): the
      // write fails with EPIPE instead of killing the wrapper before it ended the tree.
      if (is_forwarded(signo, ignored_)) command_.signal_group(signo);
    }
    command_.reap_children();
  }

  // Waits until the command ends or `deadline` passes; true when it ended.
  bool wait_until(absl::Time deadline) {
    for (;;) {
      command_.reap_children();
      if (command_.finished()) return true;
      const absl::Time now = absl::Now();
      if (now >= deadline) return false;
      wait(deadline - now);
    }
  }

  // The command's tree now (see the top of this file).
  std::vector<ProcessStat> tree() const {
    TreeQuery query;
    query.roots = {::getpid()};
    query.include_roots = false;
    query.session = command_.pid();
    return select_tree(list_processes(), query);
  }

  const CommandProcess& command() const { return command_; }

 private:
  CommandProcess& command_;
  SignalInbox& inbox_;
  sigset_t ignored_;
};

void notice(const std::string& text) {
  write_all(stderr, absl::StrCat("pystack-dump: timeout: ", text, "\n"));
}

std::string command_text(const std::vector<std::string>& command) {
  return printable_command_line(absl::StrJoin(command, std::string(1, '\0')), "", 4096);
}

using File = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

// --output FILE, created when the timeout strikes (so that its presence tells of a hang), or
// stderr. A file that cannot be created is reported and stderr is used.
File open_destination(const std::string& path) {
  File none(nullptr, &std::fclose);
  if (path.empty()) return none;
  File file(std::fopen(path.c_str(), "we"), &std::fclose);
  if (!file) {
    report_error(make_error(ErrorKind::kPermissionDenied,
                            absl::StrCat("cannot create ", path, ": ", std::strerror(errno)),
                            "the dumps go to stderr instead"));
  }
  return file;
}

void dump_tree(Supervisor& supervisor, const Options& options) {
  const std::vector<ProcessStat> tree = supervisor.tree();
  File file = open_destination(options.output_path);
  notice(absl::StrFormat("'%s' still running after %g s: dumping its %d processes%s",
                         command_text(options.command), options.timeout_seconds, tree.size(),
                         file ? " to " + options.output_path : std::string()));
  const TreeDumpCounts counts = write_tree_dump(file ? file.get() : stderr, tree, options,
                                                [&] { supervisor.wait(absl::ZeroDuration()); });
  if (counts.write_failed) {
    errno = counts.write_errno;
    report_error(write_error(file ? options.output_path : std::string("standard error")));
  }
}

void end_tree(Supervisor& supervisor, const Options& options) {
  TreeControl control;
  control.list = [&] { return supervisor.tree(); };
  control.signal_group = [&](int signo) { supervisor.command().signal_group(signo); };
  control.wait = [&](absl::Duration timeout) { supervisor.wait(timeout); };
  const TerminationReport report =
      terminate_tree(control, absl::Seconds(options.kill_after_seconds));
  std::string text = absl::StrCat("sent SIGTERM to ", report.sent_term, " processes");
  if (report.sent_kill > 0) {
    absl::StrAppendFormat(&text, "; SIGKILL to %d still running after %g s", report.sent_kill,
                          options.kill_after_seconds);
  }
  notice(text);
  if (!report.survivors.empty()) {
    report_error(make_error(ErrorKind::kInternal,
                            absl::StrCat(report.survivors.size(), " processes survived SIGKILL: ",
                                         absl::StrJoin(report.survivors, " ")),
                            "they are stuck in the kernel (state D)"));
  }
}

}  // namespace

int run_with_timeout(const Options& options) {
  // Orphans of the tree are reparented here rather than to init, so they stay in the tree. Only
  // fails on kernels before 3.4; the session still holds most of the tree then.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  // With SIGCHLD ignored (inherited so), the kernel would reap the command and its exit status
  // would be lost.
  ::signal(SIGCHLD, SIG_DFL);
  const sigset_t ignored = ignored_signals();
  absl::StatusOr<std::unique_ptr<SignalInbox>> inbox =
      SignalInbox::open({SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE});
  if (!inbox.ok()) return report_error(inbox.status());
  absl::StatusOr<CommandProcess> command =
      CommandProcess::start(options.command, (*inbox)->original_mask());
  if (!command.ok()) {
    report_error(command.status());
    return exit_code_for_start_error(command.status());
  }
  Supervisor supervisor(*command, **inbox, ignored);
  if (supervisor.wait_until(absl::Now() + absl::Seconds(options.timeout_seconds))) {
    return command->shell_status();
  }
  dump_tree(supervisor, options);
  end_tree(supervisor, options);
  command->reap_children();
  return kTimedOutExit;
}

}  // namespace pystack
