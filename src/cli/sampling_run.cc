#include "cli/sampling_run.h"

#include <signal.h>
#include <sys/prctl.h>

#include "absl/strings/str_cat.h"
#include "cli/report.h"
#include "common/errors.h"
#include "memory/procfs.h"

namespace pystack {
namespace {

// A command's interpreter needs a moment after exec to set its runtime up.
constexpr absl::Duration kCommandStartLimit = absl::Seconds(10);
constexpr absl::Duration kCommandStartPoll = absl::Milliseconds(5);

}  // namespace

SessionOptions session_options(const Options& options) {
  SessionOptions session;
  session.subprocesses = options.sampler.subprocesses;
  SamplingOptions& sampling = session.sampling;
  sampling.rate_hz = options.sampler.rate_hz;
  sampling.idle = options.sampler.idle;
  sampling.gil_only = options.sampler.gil_only;
  sampling.native = options.native != NativeFrames::kNone;
  sampling.native_all = options.native == NativeFrames::kAll;
  // A C stack is read only from a thread held still.
  sampling.blocking = options.sampler.blocking || sampling.native;
  sampling.lines = options.sampler.lines;
  sampling.stop_timeout = absl::Seconds(options.attach_timeout_seconds);
  return session;
}

absl::StatusOr<std::unique_ptr<SamplingRun>> SamplingRun::start(const Options& options) {
  std::unique_ptr<SamplingRun> run(new SamplingRun());
  // Blocked and read between samples: a signal never lands while threads are held (--blocking).
  absl::StatusOr<std::unique_ptr<SignalInbox>> inbox =
      SignalInbox::open({SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE});
  if (!inbox.ok()) return inbox.status();
  run->inbox_ = *std::move(inbox);
  run->session_ = std::make_unique<SamplingSession>(session_options(options));
  if (!options.command.empty()) {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    ::signal(SIGCHLD, SIG_DFL);
    absl::StatusOr<CommandProcess> command =
        CommandProcess::start(options.command, run->inbox_->original_mask());
    if (!command.ok()) return command.status();
    run->command_ = *std::move(command);
  }
  if (absl::Status opened = run->open_root(options); !opened.ok()) {
    run->finish_command(absl::Seconds(5));
    return opened;
  }
  return run;
}

absl::Status SamplingRun::open_root(const Options& options) {
  if (!command_) return session_->add_root(options.pid);
  const pid_t pid = command_->pid();
  const absl::Time limit = absl::Now() + kCommandStartLimit;
  for (;;) {
    absl::Status added = session_->add_root(pid);
    if (added.ok()) return added;
    const ErrorKind kind = error_kind(added);
    const bool may_come = kind == ErrorKind::kNoInterpreter ||
                          kind == ErrorKind::kNoPythonRuntime ||
                          kind == ErrorKind::kRuntimeUnreadable;
    if (options.sampler.subprocesses && may_come) {
      session_->follow_root(pid);  // a shell or launcher: its Python children are sampled
      return absl::OkStatus();
    }
    if (!may_come || procfs::process_gone(pid) || absl::Now() >= limit || stop_requested()) {
      return added;
    }
    absl::SleepFor(kCommandStartPoll);
  }
}

bool SamplingRun::stop_requested() {
  if (signal_ != 0) return true;
  // Asked between samples, thousands of times a second: the inbox is read once a millisecond.
  const absl::Time now = absl::Now();
  if (now - inbox_read_ < absl::Milliseconds(1)) return false;
  inbox_read_ = now;
  for (int signo : inbox_->receive(absl::ZeroDuration())) {
    if (signo != SIGPIPE) signal_ = signo;
  }
  return signal_ != 0;
}

int SamplingRun::finish_command(absl::Duration grace) {
  if (!command_) return 0;
  command_->reap_children();
  // Recording ended first (a signal, --duration): the command ends with it.
  if (!command_->finished()) command_->signal_group(signal_ != 0 ? signal_ : SIGTERM);
  const absl::Time deadline = absl::Now() + grace;
  while (!command_->finished() && absl::Now() < deadline) {
    for (int signo : inbox_->receive(absl::Milliseconds(10))) {
      if (signo != SIGPIPE) command_->signal_group(signo);
    }
    command_->reap_children();
  }
  if (!command_->finished()) {
    command_->signal_group(SIGKILL);
    while (!command_->finished()) {
      absl::SleepFor(absl::Milliseconds(5));
      command_->reap_children();
    }
  }
  return command_->shell_status();
}

void warn_about_session(const SamplingSession& session) {
  for (const RuntimeCaveat& caveat : session.caveats()) warn_if_unverified(caveat);
  for (const absl::Status& skipped : session.skipped()) {
    write_all(stderr, absl::StrCat("pystack-dump: warning: not sampled: ",
                                   one_line(std::string(skipped.message())), "\n"));
  }
}

}  // namespace pystack
