// The processes of a tree, from /proc: who is whose child, in which session, and their command
// lines. Used to find every process a command started (pystack-dump --timeout, --subprocesses).
//
// /proc changes while it is read: a process listed may be gone a moment later, and a pid may even
// be reused. Every reader here treats a vanished process as absent, and `start_time` lets a caller
// tell a reused pid from the process it listed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pystack {

// The fields of /proc/PID/stat that place a process in a tree.
struct ProcessStat {
  pid_t pid = 0;
  std::string comm;  // the kernel's short name, up to 15 bytes (may hold spaces and parentheses)
  char state = '?';  // 'R', 'S', 'D', 'T', 't', 'Z', ...
  pid_t ppid = 0;
  pid_t pgid = 0;
  pid_t session = 0;
  uint64_t start_time = 0;  // clock ticks after boot: with the pid, names one process for good
};

// A process as listed: its stat and its command line.
struct ProcessInfo {
  ProcessStat stat;
  std::string command_line;  // printable (see printable_command_line), never empty

  bool zombie() const { return stat.state == 'Z' || stat.state == 'X'; }
};

// Parses the text of /proc/PID/stat; nullopt when it is malformed. The name field is found by
// its last ')', since the name itself may contain ')' and spaces.
std::optional<ProcessStat> parse_process_stat(const std::string& text);

// /proc/PID/cmdline (NUL-separated arguments, read up to `max_bytes`) as one printable line:
// arguments joined by spaces, bytes outside printable ASCII as \xNN, "..." when cut. An empty
// cmdline (a zombie, a kernel thread) gives "[comm]", as ps shows it.
std::string printable_command_line(const std::string& raw_cmdline, const std::string& comm,
                                   size_t max_bytes);

// The stat of one process; nullopt when it is gone (or /proc cannot be read).
std::optional<ProcessStat> read_process_stat(pid_t pid);

// Every process in /proc with its stat (command lines are not read: see describe_process).
std::vector<ProcessStat> list_processes();

// `stat` with its command line read from /proc (bounded), for showing to a user.
ProcessInfo describe_process(const ProcessStat& stat);

// Which processes make up a tree, in the order to show them.
struct TreeQuery {
  // Their descendants (by parent pid) belong to the tree; the roots themselves do when
  // `include_roots`.
  std::vector<pid_t> roots;
  bool include_roots = true;
  // When set, every process of this session belongs to the tree too, with its descendants (a
  // process may leave the parent-child chain by being reparented, not by leaving its session).
  std::optional<pid_t> session;
};

// The members of the tree among `processes`: depth first from each root in turn (children by
// ascending pid), then session members not reached that way, each with its descendants. Each
// process appears once; a cycle in the parent links (impossible in a real /proc, but the input is
// only data) ends the walk there.
std::vector<ProcessStat> select_tree(const std::vector<ProcessStat>& processes,
                                     const TreeQuery& query);

// Sends `signo` to the process `stat` names, unless that pid now names another process (it
// exited and the pid was reused): through a pidfd, re-checked against start_time. True when sent.
bool signal_process(const ProcessStat& stat, int signo);

}  // namespace pystack
