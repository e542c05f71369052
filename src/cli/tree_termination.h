// Ends every process of a tree as timeout(1) --kill-after does: SIGTERM (followed by SIGCONT, so
// that a stopped process gets it), then SIGKILL to whatever is still there after the grace
// period. Processes that appear meanwhile (forked while shutting down) get the same treatment.
#pragma once

#include <sys/types.h>

#include <functional>
#include <vector>

#include "absl/time/time.h"
#include "memory/process_tree.h"

namespace pystack {

// How to see and reach the tree; the caller's wait also reaps its children and handles signals.
struct TreeControl {
  std::function<std::vector<ProcessStat>()> list;  // the tree as it is now
  std::function<void(int signo)> signal_group;     // the whole process group, while it is known
  std::function<void(absl::Duration)> wait;        // lets time pass (up to the duration)
};

struct TerminationReport {
  size_t sent_term = 0;  // processes sent SIGTERM
  size_t sent_kill = 0;  // processes still there after the grace period, sent SIGKILL
  std::vector<pid_t> survivors;  // still there well after SIGKILL (stuck in the kernel)
};

// Returns once the tree is empty, or (with survivors) `kill_wait` after the first SIGKILL.
TerminationReport terminate_tree(const TreeControl& tree, absl::Duration grace,
                                 absl::Duration kill_wait = absl::Seconds(5));

}  // namespace pystack
