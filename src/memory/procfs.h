// Small readers of /proc files shared by target/ (and its tests). Not part of the public API.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace pystack::procfs {

// Reads a whole file (a /proc file's size is unknown beforehand); returns 0 or an errno.
int read_file(const std::string& path, std::string& out);

// The thread ids in /proc/PID/task, ascending; nullopt when the directory cannot be read
// (errno tells why: ENOENT once the process is gone).
std::optional<std::vector<pid_t>> list_threads(pid_t pid);

// The state letter of /proc/PID/task/TID/stat ('R', 'S', 't', 'Z' ...), nullopt when gone.
std::optional<char> thread_state(pid_t pid, pid_t tid);

// TracerPid from /proc/PID/status (0: not traced), nullopt when it cannot be read.
std::optional<pid_t> tracer_pid(pid_t pid);

// The kernel's name of a process (/proc/PID/comm), or of one of its threads
// (/proc/PID/task/TID/comm), without the newline; nullopt once it is gone.
std::optional<std::string> comm(pid_t pid, std::optional<pid_t> tid = std::nullopt);

// True when the process no longer runs: no /proc entry, or a zombie with no live thread.
bool process_gone(pid_t pid);

}  // namespace pystack::procfs
