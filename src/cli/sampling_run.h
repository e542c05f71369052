// What record and top share: the target (a PID, or a command started here), the session, and
// the signals that end a run (Ctrl-C, SIGTERM, SIGHUP) without losing what was sampled.
#pragma once

#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "cli/command_process.h"
#include "cli/options.h"
#include "cli/signal_inbox.h"
#include "sampling/session.h"

namespace pystack {

class SamplingRun {
 public:
  // Starts COMMAND when one is given, and opens the target. Errors are reported by the caller.
  static absl::StatusOr<std::unique_ptr<SamplingRun>> start(const Options& options);

  SamplingSession& session() { return *session_; }
  // True once a signal asked the run to end (polled between samples).
  bool stop_requested();
  // After the run: a command started here that still runs is asked to end (its group gets the
  // signal that ended the run, else SIGTERM; SIGKILL after `grace`) and reaped; its shell
  // status, else 0.
  int finish_command(absl::Duration grace);
  bool has_command() const { return command_.has_value(); }
  int signal_received() const { return signal_; }

 private:
  SamplingRun() = default;
  absl::Status open_root(const Options& options);

  std::unique_ptr<SignalInbox> inbox_;
  std::optional<CommandProcess> command_;
  std::unique_ptr<SamplingSession> session_;
  int signal_ = 0;
  absl::Time inbox_read_ = absl::InfinitePast();
};

SessionOptions session_options(const Options& options);

// After a run, one line on stderr each: a runtime sampled with a caveat (as a dump of it warns),
// a process of the tree that could not be sampled, and why.
void warn_about_session(const SamplingSession& session);

}  // namespace pystack
