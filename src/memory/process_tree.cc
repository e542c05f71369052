#include "memory/process_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <map>
#include <memory>
#include <set>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "memory/procfs.h"
#include "memory/unique_fd.h"

namespace pystack {
namespace {

// A command line is shown, not parsed: past this many bytes of /proc/PID/cmdline it is cut.
constexpr size_t kCommandLineBytes = 4096;

template <typename Int>
std::optional<Int> parse_number(std::string_view text) {
  Int value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// Reads at most `max_bytes` of a file (cmdline may be megabytes long); "" when unreadable.
std::string read_prefix(const std::string& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return "";
  std::string out(max_bytes, '\0');
  size_t got = 0;
  while (got < max_bytes) {
    ssize_t n = ::read(fd.get(), out.data() + got, max_bytes - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

// The children of each process, ascending, for a depth-first walk.
using ChildMap = std::map<pid_t, std::vector<pid_t>>;

ChildMap children_by_parent(const std::vector<ProcessStat>& processes) {
  ChildMap children;
  for (const ProcessStat& p : processes) children[p.ppid].push_back(p.pid);
  for (auto& [parent, list] : children) std::sort(list.begin(), list.end());
  return children;
}

// Depth-first order with each subtree right after its root: an explicit stack of (pid, next
// child index) frames, bounded by the number of processes since no pid is entered twice.
void walk_subtree(pid_t start, bool include_start, const ChildMap& children,
                  std::set<pid_t>& visited, std::vector<pid_t>& order) {
  if (include_start) {
    if (!visited.insert(start).second) return;
    order.push_back(start);
  }
  static const std::vector<pid_t> kNoChildren;
  auto children_of = [&](pid_t pid) -> const std::vector<pid_t>& {
    auto it = children.find(pid);
    return it == children.end() ? kNoChildren : it->second;
  };
  std::vector<std::pair<pid_t, size_t>> stack = {{start, 0}};
  while (!stack.empty()) {
    auto& [pid, next] = stack.back();
    const std::vector<pid_t>& kids = children_of(pid);
    if (next >= kids.size()) {
      stack.pop_back();
      continue;
    }
    pid_t child = kids[next++];
    if (!visited.insert(child).second) continue;
    order.push_back(child);
    stack.emplace_back(child, 0);
  }
}

}  // namespace

std::optional<ProcessStat> parse_process_stat(const std::string& text) {
  // "PID (COMM) STATE PPID PGRP SESSION TTY TPGID FLAGS ... STARTTIME(22) ..."
  const size_t open = text.find(" (");
  const size_t close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open + 2) {
    return std::nullopt;
  }
  ProcessStat stat;
  std::optional<pid_t> pid = parse_number<pid_t>(std::string_view(text).substr(0, open));
  if (!pid || *pid <= 0) return std::nullopt;
  stat.pid = *pid;
  stat.comm = text.substr(open + 2, close - open - 2);
  // absl::string_view: Debian's Abseil has its own, distinct from std::string_view.
  std::vector<absl::string_view> split =
      absl::StrSplit(absl::string_view(text).substr(close + 1), ' ', absl::SkipEmpty());
  std::vector<std::string_view> fields;
  for (absl::string_view field : split) fields.emplace_back(field.data(), field.size());
  // fields[0] is field 3 (state) of proc(5); start time is field 22.
  constexpr size_t kStartTime = 22 - 3;
  if (fields.size() <= kStartTime || fields[0].size() != 1) return std::nullopt;
  std::optional<pid_t> ppid = parse_number<pid_t>(fields[1]);
  std::optional<pid_t> pgid = parse_number<pid_t>(fields[2]);
  std::optional<pid_t> session = parse_number<pid_t>(fields[3]);
  std::optional<uint64_t> start = parse_number<uint64_t>(fields[kStartTime]);
  if (!ppid || !pgid || !session || !start) return std::nullopt;
  stat.state = fields[0][0];
  stat.ppid = *ppid;
  stat.pgid = *pgid;
  stat.session = *session;
  stat.start_time = *start;
  return stat;
}

std::string printable_command_line(const std::string& raw_cmdline, const std::string& comm,
                                   size_t max_bytes) {
  std::string_view raw = raw_cmdline;
  const bool cut = raw.size() > max_bytes;
  if (cut) raw = raw.substr(0, max_bytes);
  while (!raw.empty() && raw.back() == '\0') raw.remove_suffix(1);
  if (raw.empty()) return absl::StrCat("[", comm, "]");
  std::string out;
  out.reserve(raw.size());
  for (unsigned char c : raw) {
    if (c == '\0') {
      out += ' ';
    } else if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      absl::StrAppendFormat(&out, "\\x%02x", c);
    }
  }
  if (cut) out += "...";
  return out;
}

std::optional<ProcessStat> read_process_stat(pid_t pid) {
  std::string text;
  if (procfs::read_file(absl::StrCat("/proc/", pid, "/stat"), text) != 0) return std::nullopt;
  std::optional<ProcessStat> stat = parse_process_stat(text);
  if (!stat || stat->pid != pid) return std::nullopt;
  return stat;
}

std::vector<ProcessStat> list_processes() {
  std::vector<ProcessStat> processes;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir("/proc"), &::closedir);
  if (!dir) return processes;
  while (dirent* entry = ::readdir(dir.get())) {
    std::optional<pid_t> pid = parse_number<pid_t>(entry->d_name);
    if (!pid || *pid <= 0) continue;
    if (std::optional<ProcessStat> stat = read_process_stat(*pid)) processes.push_back(*stat);
  }
  std::sort(processes.begin(), processes.end(),
            [](const ProcessStat& a, const ProcessStat& b) { return a.pid < b.pid; });
  return processes;
}

ProcessInfo describe_process(const ProcessStat& stat) {
  ProcessInfo info;
  info.stat = stat;
  const std::string raw =
      read_prefix(absl::StrCat("/proc/", stat.pid, "/cmdline"), kCommandLineBytes + 1);
  info.command_line = printable_command_line(raw, stat.comm, kCommandLineBytes);
  return info;
}

std::vector<ProcessStat> select_tree(const std::vector<ProcessStat>& processes,
                                     const TreeQuery& query) {
  const ChildMap children = children_by_parent(processes);
  std::map<pid_t, const ProcessStat*> by_pid;
  for (const ProcessStat& p : processes) by_pid.emplace(p.pid, &p);

  std::set<pid_t> visited;
  std::vector<pid_t> order;
  for (pid_t root : query.roots) {
    const bool listed = by_pid.count(root) != 0;
    walk_subtree(root, query.include_roots && listed, children, visited, order);
    // A root that is not itself a member must not be listed through another root's subtree.
    if (!query.include_roots) visited.insert(root);
  }
  if (query.session) {
    auto in_session = [&](pid_t pid) {
      auto it = by_pid.find(pid);
      return it != by_pid.end() && it->second->session == *query.session;
    };
    for (const ProcessStat& p : processes) {
      if (p.session != *query.session || visited.count(p.pid) != 0) continue;
      // Start from the highest unvisited ancestor in the session, so that a subtree is shown
      // from its top. Bounded by the number of processes (a cycle cannot loop forever).
      pid_t top = p.pid;
      for (size_t steps = 0; steps < processes.size(); ++steps) {
        pid_t parent = by_pid.at(top)->ppid;
        if (!in_session(parent) || visited.count(parent) != 0 || parent == p.pid) break;
        top = parent;
      }
      walk_subtree(top, true, children, visited, order);
    }
  }
  std::vector<ProcessStat> tree;
  tree.reserve(order.size());
  for (pid_t pid : order) {
    auto it = by_pid.find(pid);
    if (it != by_pid.end()) tree.push_back(*it->second);
  }
  return tree;
}

bool signal_process(const ProcessStat& stat, int signo) {
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, stat.pid, 0)));
  const bool have_pidfd = pidfd.valid();
  if (!have_pidfd && errno != ENOSYS) return false;  // gone (ESRCH) or not ours to signal
  // The pidfd now holds on to whatever process has this pid: check that it is the one listed.
  std::optional<ProcessStat> now = read_process_stat(stat.pid);
  if (!now || now->start_time != stat.start_time) return false;
  if (!have_pidfd) return ::kill(stat.pid, signo) == 0;  // kernels before 5.3: a small race
  return ::syscall(SYS_pidfd_send_signal, pidfd.get(), signo, nullptr, 0) == 0;
}

}  // namespace pystack
