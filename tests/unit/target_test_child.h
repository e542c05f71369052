// Forked children for the target/ tests: each is killed and reaped when its Child goes out of
// scope, and dies with the test process (PR_SET_PDEATHSIG), so no test leaves a process behind.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "memory/procfs.h"

namespace pystack::testing {

class Child {
 public:
  // Forks; the child runs `body(ready)` and then _exit(0)s. `ready()` tells the parent that the
  // child is set up (Child::fork returns only after that, or after 5 s).
  static Child fork(const std::function<void(const std::function<void()>& ready)>& body) {
    int fds[2];
    if (::pipe(fds) != 0) return Child(-1);
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
      int ready_fd = fds[1];
      body([ready_fd] {
        char byte = 'r';
        (void)!::write(ready_fd, &byte, 1);
      });
      ::_exit(0);
    }
    ::close(fds[1]);
    Child child(pid);
    child.ready_fd_ = fds[0];
    child.wait_ready();
    return child;
  }

  Child(Child&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)), ready_fd_(std::exchange(other.ready_fd_, -1)) {}
  Child& operator=(Child&&) = delete;
  ~Child() {
    kill_and_reap();
    if (ready_fd_ >= 0) ::close(ready_fd_);
  }

  pid_t pid() const { return pid_; }

  // Waits (5 s at most) for one more ready() from the child; false on timeout or exit.
  bool wait_ready() {
    pollfd_wait();
    char byte;
    return ready_ok_ && ::read(ready_fd_, &byte, 1) == 1;
  }

  // SIGKILLs and reaps the child. Threads of it that this process traces die as zombies that
  // only their tracer (we) may reap, and the leader is not reported before they are gone.
  void kill_and_reap() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      for (pid_t tid : procfs::list_threads(pid_).value_or(std::vector<pid_t>{})) {
        if (tid != pid_) ::waitpid(tid, nullptr, WNOHANG | __WALL);
      }
      int status;
      pid_t got = ::waitpid(pid_, &status, WNOHANG | __WALL);
      if (got == pid_ || (got < 0 && errno == ECHILD)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    pid_ = -1;
  }

  // Waits up to `timeout` for the child to exit; its wait status, or nullopt.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    do {
      int status;
      pid_t got = ::waitpid(pid_, &status, WNOHANG | __WALL);
      if (got == pid_ && (WIFEXITED(status) || WIFSIGNALED(status))) {
        pid_ = -1;
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    } while (std::chrono::steady_clock::now() < deadline);
    return std::nullopt;
  }

 private:
  explicit Child(pid_t pid) : pid_(pid) {}

  void pollfd_wait() {
    ready_ok_ = false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      fd_set set;
      FD_ZERO(&set);
      FD_SET(ready_fd_, &set);
      timeval tick{0, 10000};
      if (::select(ready_fd_ + 1, &set, nullptr, nullptr, &tick) > 0) {
        ready_ok_ = true;
        return;
      }
    }
  }

  pid_t pid_;
  int ready_fd_ = -1;
  bool ready_ok_ = false;
};

// Child body: starts `spinning` busy threads and `sleeping` blocked threads, says ready, and
// then sleeps forever (the main thread too).
inline void run_threads(int spinning, int sleeping, const std::function<void()>& ready) {
  static std::atomic<uint64_t> spins{0};
  for (int i = 0; i < spinning; ++i) {
    std::thread([] {
      for (;;) spins.fetch_add(1, std::memory_order_relaxed);
    }).detach();
  }
  for (int i = 0; i < sleeping; ++i) {
    std::thread([] {
      for (;;) ::pause();
    }).detach();
  }
  // Wait until every thread shows in /proc, so the parent sees the full count.
  while (procfs::list_threads(::getpid()).value_or(std::vector<pid_t>{}).size() <
         static_cast<size_t>(1 + spinning + sleeping)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ready();
  for (;;) ::pause();
}

// Polls `condition` every millisecond for up to `timeout`.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(2)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// The state letters of every thread of `pid`.
inline std::vector<char> thread_states(pid_t pid) {
  std::vector<char> states;
  for (pid_t tid : procfs::list_threads(pid).value_or(std::vector<pid_t>{})) {
    if (std::optional<char> state = procfs::thread_state(pid, tid)) states.push_back(*state);
  }
  return states;
}

inline bool all_in_state(pid_t pid, char state) {
  std::vector<char> states = thread_states(pid);
  if (states.empty()) return false;
  for (char s : states) {
    if (s != state) return false;
  }
  return true;
}

inline bool none_in_state(pid_t pid, char state) {
  std::vector<char> states = thread_states(pid);
  if (states.empty()) return false;
  for (char s : states) {
    if (s == state) return false;
  }
  return true;
}

}  // namespace pystack::testing
