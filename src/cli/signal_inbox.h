// Signals that this process takes as messages instead of interruptions: they are blocked and read
// from a signalfd, so that none can strike in the middle of a dump (with a target's threads held
// stopped) and the main loop decides what each means.
#pragma once

#include <signal.h>

#include <initializer_list>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "memory/unique_fd.h"

namespace pystack {

class SignalInbox {
 public:
  // Blocks `signals` and opens a signalfd for them. Errors are kInternal.
  static absl::StatusOr<std::unique_ptr<SignalInbox>> open(std::initializer_list<int> signals);

  // Drops the signals not read yet and restores the signal mask.
  ~SignalInbox();
  SignalInbox(const SignalInbox&) = delete;
  SignalInbox& operator=(const SignalInbox&) = delete;

  // The mask from before open(): what a child should start with.
  const sigset_t& original_mask() const { return original_mask_; }

  // The signals that arrived, in order, waiting up to `timeout` for the first (zero: no wait).
  std::vector<int> receive(absl::Duration timeout);

 private:
  SignalInbox() = default;

  UniqueFd fd_;
  sigset_t blocked_;
  sigset_t original_mask_;
};

}  // namespace pystack
