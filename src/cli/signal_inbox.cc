#include "cli/signal_inbox.h"

#include <poll.h>
#include <sys/signalfd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace pystack {
namespace {

// Reads every signal already queued on the (non-blocking) signalfd.
std::vector<int> read_queued(int fd) {
  std::vector<int> signals;
  // Bounded: a signal sent in a loop must not keep the caller here.
  for (int batch = 0; batch < 64; ++batch) {
    signalfd_siginfo info[16];
    ssize_t n = ::read(fd, info, sizeof info);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (size_t i = 0; i < static_cast<size_t>(n) / sizeof info[0]; ++i) {
      signals.push_back(static_cast<int>(info[i].ssi_signo));
    }
  }
  return signals;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SignalInbox>> SignalInbox::open(
    std::initializer_list<int> signals) {
  std::unique_ptr<SignalInbox> inbox(new SignalInbox());
  sigemptyset(&inbox->blocked_);
  for (int signo : signals) sigaddset(&inbox->blocked_, signo);
  if (::sigprocmask(SIG_BLOCK, &inbox->blocked_, &inbox->original_mask_) != 0) {
    return make_error(ErrorKind::kInternal, absl::StrCat("sigprocmask: ", std::strerror(errno)));
  }
  inbox->fd_.reset(::signalfd(-1, &inbox->blocked_, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!inbox->fd_.valid()) {
    const int err = errno;
    ::sigprocmask(SIG_SETMASK, &inbox->original_mask_, nullptr);
    return make_error(ErrorKind::kInternal, absl::StrCat("signalfd: ", std::strerror(err)));
  }
  return inbox;
}

SignalInbox::~SignalInbox() {
  // A signal left pending would strike once unblocked (a SIGINT already forwarded would kill
  // this process): read them all first.
  read_queued(fd_.get());
  ::sigprocmask(SIG_SETMASK, &original_mask_, nullptr);
}

std::vector<int> SignalInbox::receive(absl::Duration timeout) {
  if (timeout > absl::ZeroDuration()) {
    // Rounded up, so that a caller waiting for a deadline does not spin on 0 ms waits.
    const int64_t ms = std::min<int64_t>(absl::ToInt64Milliseconds(timeout + absl::Microseconds(999)),
                                         60'000);
    pollfd pfd = {fd_.get(), POLLIN, 0};
    ::poll(&pfd, 1, static_cast<int>(ms));  // EINTR: nothing to do but read what is there
  }
  return read_queued(fd_.get());
}

}  // namespace pystack
