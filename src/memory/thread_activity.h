// Whether each thread of a process is running now, as the kernel says (/proc/PID/task/TID/stat):
// a sampler leaves out threads that sleep in the kernel (time.sleep, a lock, a socket). Asked
// thousands of times a second, so each thread's stat file is opened once and re-read with pread.
#pragma once

#include <sys/types.h>

#include <optional>

#include "absl/container/flat_hash_map.h"
#include "memory/unique_fd.h"

namespace pystack {

class ThreadActivity {
 public:
  explicit ThreadActivity(pid_t pid) : pid_(pid) {}

  // The state letter ('R' running or runnable, 'S', 'D', 't', ...); nullopt when the thread is
  // gone (its file is closed then: the id may be reused by a new thread).
  std::optional<char> state(pid_t tid);
  // Running or runnable: the thread was doing work when asked.
  bool running(pid_t tid) {
    std::optional<char> s = state(tid);
    return s && *s == 'R';
  }

 private:
  pid_t pid_;
  absl::flat_hash_map<pid_t, UniqueFd> files_;
};

}  // namespace pystack
