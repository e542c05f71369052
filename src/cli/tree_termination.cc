#include "cli/tree_termination.h"

#include <signal.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/time/clock.h"

namespace pystack {
namespace {

// How often the tree is looked at again while waiting for it to go.
constexpr absl::Duration kPollInterval = absl::Milliseconds(20);

// A process for good: (pid, start time), since a pid can be reused.
using ProcessKey = std::pair<pid_t, uint64_t>;

ProcessKey key_of(const ProcessStat& stat) { return {stat.pid, stat.start_time}; }

// Sends `signo` (and SIGCONT after it unless it is SIGKILL) to each process of `tree` not sent it
// yet; remembers them in `sent`.
void signal_new_members(const std::vector<ProcessStat>& tree, int signo,
                        std::set<ProcessKey>& sent) {
  for (const ProcessStat& process : tree) {
    if (!sent.insert(key_of(process)).second) continue;
    signal_process(process, signo);
    if (signo != SIGKILL) signal_process(process, SIGCONT);
  }
}

// Waits until the tree is empty or `deadline`, signalling newcomers with `signo`; true if empty.
bool wait_for_empty_tree(const TreeControl& tree, int signo, absl::Time deadline,
                         std::set<ProcessKey>& sent) {
  for (;;) {
    std::vector<ProcessStat> members = tree.list();
    if (members.empty()) return true;
    signal_new_members(members, signo, sent);
    const absl::Time now = absl::Now();
    if (now >= deadline) return false;
    tree.wait(std::min(kPollInterval, deadline - now));
  }
}

}  // namespace

TerminationReport terminate_tree(const TreeControl& tree, absl::Duration grace,
                                 absl::Duration kill_wait) {
  TerminationReport report;
  std::set<ProcessKey> terminated;
  tree.signal_group(SIGTERM);
  tree.signal_group(SIGCONT);
  const bool ended = wait_for_empty_tree(tree, SIGTERM, absl::Now() + grace, terminated);
  report.sent_term = terminated.size();
  if (ended) return report;

  std::set<ProcessKey> killed;
  tree.signal_group(SIGKILL);
  if (!wait_for_empty_tree(tree, SIGKILL, absl::Now() + kill_wait, killed)) {
    for (const ProcessStat& process : tree.list()) report.survivors.push_back(process.pid);
  }
  report.sent_kill = killed.size();
  return report;
}

}  // namespace pystack
