#include "memory/stopped_process.h"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "memory/procfs.h"

namespace pystack {
namespace {

// ---------------------------------------------------------------------------------------------
// The registry of held threads, read by the signal handler. A slot holds (signal << 32) | tid,
// 0 when free. Lock-free atomics only, so the handler may read it at any moment.

constexpr size_t kRegistrySize = 65536;
std::atomic<uint64_t> g_registry[kRegistrySize];
std::atomic<size_t> g_registry_end{0};  // no slot at or past this index was ever used
constexpr size_t kNoSlot = kRegistrySize;
static_assert(std::atomic<uint64_t>::is_always_lock_free);

uint64_t pack(pid_t tid, int signal) {
  return (uint64_t{static_cast<uint32_t>(signal)} << 32) | static_cast<uint32_t>(tid);
}

// Returns the slot, or kNoSlot when all are taken (the thread is then only detached by its
// StoppedProcess or by the kernel when this process dies).
size_t registry_add(pid_t tid) {
  size_t end = g_registry_end.load();
  while (end < kRegistrySize) {
    if (g_registry_end.compare_exchange_weak(end, end + 1)) {
      g_registry[end].store(pack(tid, 0));
      return end;
    }
  }
  for (size_t slot = 0; slot < kRegistrySize; ++slot) {
    uint64_t expected = 0;
    if (g_registry[slot].compare_exchange_strong(expected, pack(tid, 0))) return slot;
  }
  return kNoSlot;
}

void registry_set(size_t slot, pid_t tid, int signal) {
  if (slot != kNoSlot) g_registry[slot].store(pack(tid, signal));
}

void registry_remove(size_t slot) {
  if (slot != kNoSlot) g_registry[slot].store(0);
}

// Async-signal-safe: atomics, ptrace, sigaction and raise only.
void detach_on_signal(int signo) {
  size_t end = std::min(g_registry_end.load(), kRegistrySize);
  for (size_t slot = 0; slot < end; ++slot) {
    uint64_t entry = g_registry[slot].exchange(0);
    if (entry == 0) continue;
    pid_t tid = static_cast<pid_t>(entry & 0xffffffff);
    int signal = static_cast<int>(entry >> 32);
    ::ptrace(PTRACE_DETACH, tid, nullptr, reinterpret_cast<void*>(static_cast<intptr_t>(signal)));
  }
  // SA_RESETHAND restored the default action; the signal is blocked while this handler runs,
  // so it is delivered (and kills us) as soon as the handler returns.
  ::raise(signo);
}

// ---------------------------------------------------------------------------------------------
// Attaching to, waiting for and detaching from one thread.

enum class Seized { kYes, kVanished };
enum class Stop { kStopped, kVanished };

struct StopResult {
  Stop outcome = Stop::kVanished;
  int signal = 0;  // a real signal the thread stopped to deliver, to re-inject at detach
};

std::string yama_hint() {
  std::string scope;
  if (procfs::read_file("/proc/sys/kernel/yama/ptrace_scope", scope) != 0) {
    return "/proc/sys/kernel/yama/ptrace_scope is absent here (no Yama restriction)";
  }
  return absl::StrCat("/proc/sys/kernel/yama/ptrace_scope is ", absl::StripAsciiWhitespace(scope),
                      " (1 allows only descendants without CAP_SYS_PTRACE, 2 only"
                      " CAP_SYS_PTRACE, 3 nobody)");
}

std::string process_name(pid_t pid) { return procfs::comm(pid).value_or(""); }

constexpr char kOwnName[] = "pystack-dump";

// The tracer of a thread (TracerPid of /proc/TID/status, which works for any thread), 0 for none.
pid_t tracer_of(pid_t tid) { return procfs::tracer_pid(tid).value_or(0); }

// EPERM from PTRACE_SEIZE: another tracer holds the thread, or we may not trace it at all.
absl::Status permission_error(pid_t pid, pid_t tid, pid_t tracer) {
  if (tracer != 0) {
    const std::string name = process_name(tracer);
    const std::string who = tid == pid ? absl::StrCat("process ", pid)
                                       : absl::StrCat("thread ", tid, " of process ", pid);
    const std::string by = name.empty() ? absl::StrCat("PID ", tracer)
                                        : absl::StrCat(name, " (PID ", tracer, ")");
    if (name == kOwnName) {
      return make_error(ErrorKind::kAlreadyTraced,
                        absl::StrCat(who, " is held by another ", by,
                                     ", which did not let it go within the attach timeout"),
                        "wait for the other dump to finish, or raise --attach-timeout");
    }
    return make_error(ErrorKind::kAlreadyTraced,
                      absl::StrCat(who, " is already traced by ", by),
                      "detach that debugger or tracer first (gdb: detach; strace: stop it)");
  }
  return make_error(
      ErrorKind::kPermissionDenied,
      absl::StrCat("cannot attach to process ", pid, ": ", std::strerror(EPERM)),
      absl::StrCat("run as the same user as the target or as root, or give this tool "
                   "CAP_SYS_PTRACE; ",
                   yama_hint()));
}

bool thread_gone(pid_t pid, pid_t tid) {
  std::optional<char> state = procfs::thread_state(pid, tid);
  return !state || *state == 'Z' || *state == 'X';
}

// How long a refused PTRACE_SEIZE is retried when no tracer shows: the one that refused it may
// have let go between the refusal and the look at TracerPid (another dump ending). 50 ms, then 500 ms,
// were too short on a busy machine (ASan build; the fresh-machine check); a real refusal is
// reported that much later.
constexpr absl::Duration kTracerGoneGrace = absl::Seconds(2);
constexpr absl::Duration kSeizeRetryInterval = absl::Milliseconds(1);

// PTRACE_SEIZE (no SIGSTOP is sent, so the kernel lets the thread run on if we die) and
// PTRACE_INTERRUPT at once, so that every seized thread has a stop coming. A thread held by
// another pystack-dump is waited for until `deadline` (a dump holds a process for about a
// millisecond); any other tracer is named at once.
absl::StatusOr<Seized> seize_thread(pid_t pid, pid_t tid, absl::Time deadline) {
  const absl::Time grace_end = std::min(deadline, absl::Now() + kTracerGoneGrace);
  while (::ptrace(PTRACE_SEIZE, tid, nullptr, nullptr) != 0) {
    int error = errno;
    if (error == ESRCH) return Seized::kVanished;
    // A thread that is exiting (a zombie) is refused with EPERM, not ESRCH.
    if (error == EPERM && thread_gone(pid, tid)) return Seized::kVanished;
    if (error != EPERM) {
      return make_error(ErrorKind::kInternal, absl::StrCat("PTRACE_SEIZE of thread ", tid,
                                                           " failed: ", std::strerror(error)));
    }
    const pid_t tracer = tracer_of(tid);
    const bool waiting_for_own = tracer != 0 && process_name(tracer) == kOwnName;
    const absl::Time until = waiting_for_own ? deadline : tracer == 0 ? grace_end : absl::Now();
    if (absl::Now() >= until) return permission_error(pid, tid, tracer);
    absl::SleepFor(kSeizeRetryInterval);
  }
  if (::ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) != 0 && errno != ESRCH) {
    return make_error(ErrorKind::kInternal, absl::StrCat("PTRACE_INTERRUPT of thread ", tid,
                                                         " failed: ", std::strerror(errno)));
  }
  return Seized::kYes;
}

// Collects the exit status of a traced thread that died, so it does not linger as a zombie.
void reap_thread(pid_t tid) {
  siginfo_t info{};
  ::waitid(P_PID, tid, &info, WEXITED | WNOHANG | __WALL);
}

// One non-blocking look at `tid`; nullopt while it has nothing to report. Stops are peeked
// with WNOWAIT: an unconsumed stop keeps its signal in the kernel, so even if we are SIGKILLed
// the kernel's detach delivers the signal instead of losing it.
std::optional<StopResult> poll_stop(pid_t tid) {
  siginfo_t info{};
  if (::waitid(P_PID, tid, &info, WEXITED | WSTOPPED | WNOHANG | WNOWAIT | __WALL) != 0) {
    if (errno == EINTR) return std::nullopt;
    return StopResult{Stop::kVanished};  // ECHILD: no longer our tracee
  }
  if (info.si_pid == 0) return std::nullopt;
  if (info.si_code != CLD_TRAPPED && info.si_code != CLD_STOPPED) {
    reap_thread(tid);
    return StopResult{Stop::kVanished};
  }
  // si_status is the ptrace stop code: (event << 8) | signal. PTRACE_EVENT_STOP is our
  // interrupt (or a group-stop); event 0 is a signal-delivery-stop. We hold the thread there
  // rather than resume it towards the interrupt stop: PTRACE_DETACH re-injects the signal only
  // from a signal-delivery-stop, and drops it from an event stop (checked on Linux 6.18).
  int event = info.si_status >> 8;
  int signal = info.si_status & 0xff;
  return StopResult{Stop::kStopped, event == 0 ? signal : 0};
}

// The kernel sends the tracer a SIGCHLD at every tracee stop and exit. With SIGCHLD blocked in
// this thread, sigtimedwait() sleeps until the next one, so a stop is seen at once rather than
// at the next poll (which matters when the target's busy threads crowd the CPUs). The wait is
// capped, so a SIGCHLD that goes elsewhere (another thread, SIG_IGN) costs a poll interval,
// never a hang. SIGCHLDs taken here are not seen by the caller's handler, if it has one.
class SigchldWaiter {
 public:
  SigchldWaiter() {
    sigemptyset(&sigchld_);
    sigaddset(&sigchld_, SIGCHLD);
    ::pthread_sigmask(SIG_BLOCK, &sigchld_, &saved_);
  }
  ~SigchldWaiter() { ::pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
  SigchldWaiter(const SigchldWaiter&) = delete;
  SigchldWaiter& operator=(const SigchldWaiter&) = delete;

  // True when a SIGCHLD came, false when `limit` passed without one.
  bool wait(absl::Duration limit) {
    timespec timeout = absl::ToTimespec(std::max(limit, absl::ZeroDuration()));
    return ::sigtimedwait(&sigchld_, nullptr, &timeout) == SIGCHLD;
  }

 private:
  sigset_t sigchld_;
  sigset_t saved_;
};

constexpr absl::Duration kPollInterval = absl::Milliseconds(2);

// ESRCH is fine: the thread exited, or it is not in a ptrace-stop (the kernel then detaches
// it when this process exits).
void detach_thread(pid_t tid, int signal) {
  ::ptrace(PTRACE_DETACH, tid, nullptr, reinterpret_cast<void*>(static_cast<intptr_t>(signal)));
}

}  // namespace

// ---------------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<StoppedProcess>> StoppedProcess::stop(pid_t pid,
                                                                     absl::Duration timeout) {
  return stop_listed(pid, std::nullopt, timeout);
}

absl::StatusOr<std::unique_ptr<StoppedProcess>> StoppedProcess::stop_threads(
    pid_t pid, const std::vector<pid_t>& tids, absl::Duration timeout) {
  return stop_listed(pid, tids, timeout);
}

absl::StatusOr<std::unique_ptr<StoppedProcess>> StoppedProcess::stop_listed(
    pid_t pid, std::optional<std::vector<pid_t>> only, absl::Duration timeout) {
  if (pid <= 0) {
    return make_error(ErrorKind::kNoSuchProcess, absl::StrCat("no such process: ", pid));
  }
  if (pid == ::getpid()) {
    return make_error(ErrorKind::kInvalidArgument, "cannot dump this process's own stacks from outside",
                      "give the pid of another process");
  }
  absl::Time deadline = absl::Now() + timeout;
  // Owned from the start: on any error return, the destructor detaches what was attached.
  std::unique_ptr<StoppedProcess> process(new StoppedProcess(pid));
  process->only_ = std::move(only);
  for (;;) {
    absl::StatusOr<bool> found_new = process->attach_new_threads(deadline);
    if (!found_new.ok()) return found_new.status();
    // Stopped threads cannot clone, and a finished clone() is already listed in /proc, so one
    // listing with nothing new means every thread is held.
    if (!*found_new) break;
  }
  if (process->held_.empty()) {
    return make_error(ErrorKind::kProcessExited, absl::StrCat("process ", pid, " has exited"));
  }
  for (const HeldThread& thread : process->held_) process->threads_.push_back(thread.tid);
  // Rounds append in attach order; a thread found in a later round may have a lower id.
  std::sort(process->threads_.begin(), process->threads_.end());
  return process;
}

// One round: seizes every listed thread not held yet, then waits for each to stop.
absl::StatusOr<bool> StoppedProcess::attach_new_threads(absl::Time deadline) {
  std::optional<std::vector<pid_t>> listed = only_ ? only_ : procfs::list_threads(pid_);
  bool first_round = held_.empty() && vanished_.empty();
  if (!listed) return gone_error(first_round);
  std::unordered_set<pid_t> known(vanished_.begin(), vanished_.end());
  for (const HeldThread& thread : held_) known.insert(thread.tid);
  std::vector<pid_t> fresh;
  for (pid_t tid : *listed) {
    if (!known.contains(tid)) fresh.push_back(tid);
  }
  if (fresh.empty()) return false;

  size_t first_fresh = held_.size();
  for (pid_t tid : fresh) {
    absl::StatusOr<Seized> seized = seize_thread(pid_, tid, deadline);
    if (!seized.ok()) return seized.status();
    if (*seized == Seized::kVanished) {
      if (tid == pid_ && procfs::process_gone(pid_)) return gone_error(first_round);
      vanished_.push_back(tid);
      continue;
    }
    held_.push_back(HeldThread{tid, registry_add(tid)});
  }
  if (absl::Status status = await_threads(first_fresh, deadline); !status.ok()) return status;
  // Drop the threads that exited while we attached.
  std::erase_if(held_, [](const HeldThread& thread) { return thread.tid == 0; });
  if (procfs::process_gone(pid_)) return gone_error(false);
  return true;
}

// Waits until every thread in held_[first...] has stopped or exited, or `deadline` passes.
absl::Status StoppedProcess::await_threads(size_t first, absl::Time deadline) {
  std::vector<size_t> waiting;
  for (size_t i = first; i < held_.size(); ++i) {
    if (held_[i].tid != 0 && !held_[i].stopped) waiting.push_back(i);
  }
  SigchldWaiter waiter;
  bool quiet = false;  // the last wait ended without a SIGCHLD
  while (!waiting.empty()) {
    std::erase_if(waiting, [&](size_t i) {
      std::optional<StopResult> result = poll_stop(held_[i].tid);
      // A zombie leader whose other threads live reports no exit until they all die; only
      // look for one when things are quiet, as it costs a /proc read.
      if (!result && quiet && thread_gone(pid_, held_[i].tid)) {
        result = StopResult{Stop::kVanished};
      }
      if (result) record_stop(held_[i], result->outcome == Stop::kStopped, result->signal);
      return result.has_value();
    });
    if (waiting.empty()) break;
    absl::Time now = absl::Now();
    if (now >= deadline) return timeout_error(held_[waiting.front()].tid);
    quiet = !waiter.wait(std::min(deadline - now, kPollInterval));
  }
  return absl::OkStatus();
}

void StoppedProcess::record_stop(HeldThread& thread, bool stopped, int signal) {
  if (stopped) {
    thread.stopped = true;
    thread.signal = signal;
    registry_set(thread.slot, thread.tid, thread.signal);
    return;
  }
  registry_remove(thread.slot);
  vanished_.push_back(thread.tid);
  thread.tid = 0;  // erased by attach_new_threads
}

absl::Status StoppedProcess::timeout_error(pid_t tid) const {
  std::optional<char> state = procfs::thread_state(pid_, tid);
  return make_error(
      ErrorKind::kStopTimedOut,
      absl::StrCat("timed out waiting for thread ", tid, " of process ", pid_,
                   " to stop (its state is ", state ? std::string(1, *state) : "unknown", ")"),
      "a thread in uninterruptible sleep (state D) cannot stop; retry, or raise --attach-timeout");
}

absl::Status StoppedProcess::gone_error(bool before_attaching) const {
  if (before_attaching) {
    return make_error(ErrorKind::kNoSuchProcess, absl::StrCat("no such process: ", pid_),
                      "check the pid (ps -e)");
  }
  return make_error(ErrorKind::kProcessExited,
                    absl::StrCat("process ", pid_, " exited while it was being stopped"));
}

StoppedProcess::~StoppedProcess() { resume(); }

void StoppedProcess::resume() {
  // A thread seized but not seen stopped yet has an interrupt coming; PTRACE_DETACH works
  // only in a ptrace-stop, so give those a moment (this happens on error paths only). One that
  // still does not stop stays seized until it stops and this process exits.
  (void)await_threads(0, absl::Now() + absl::Milliseconds(100));
  for (const HeldThread& thread : held_) {
    if (thread.tid == 0) continue;  // exited during an attach round that then failed
    detach_thread(thread.tid, thread.signal);
    registry_remove(thread.slot);
  }
  held_.clear();
  threads_.clear();
}

void install_detach_on_signal() {
  for (int signo : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
    struct sigaction old {};
    if (::sigaction(signo, nullptr, &old) != 0) continue;
    // Keep an ignored signal ignored (e.g. SIGHUP under nohup).
    if (old.sa_handler == SIG_IGN) continue;
    struct sigaction action {};
    action.sa_handler = detach_on_signal;
    action.sa_flags = SA_RESETHAND;
    sigfillset(&action.sa_mask);  // no second signal may interrupt the detaching
    ::sigaction(signo, &action, nullptr);
  }
}

}  // namespace pystack
