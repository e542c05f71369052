// A profile of one process, or of a process and its descendants (--subprocesses), sampled at a
// steady rate until the caller stops it or every process is gone.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "sampling/process_sampler.h"
#include "sampling/profile_builder.h"
#include "snapshot/profile.h"

namespace pystack {

struct SessionOptions {
  SamplingOptions sampling;
  bool subprocesses = false;  // follow the root's descendants
};

// What run() tells its caller now and then, and what it asks.
struct SessionControl {
  // Called between samples; true ends the run (Ctrl-C, --duration).
  std::function<bool()> should_stop;
  // Called about every `tick_every` with the profile so far (a status line, top's screen).
  std::function<void(const Profile&, const SamplingCounts&, absl::Duration elapsed)> tick;
  absl::Duration tick_every = absl::Seconds(1);
};

class SamplingSession {
 public:
  explicit SamplingSession(SessionOptions options);

  // The process to sample. Errors as ProcessSampler::open's.
  absl::Status add_root(pid_t pid);
  // A root that does not run Python itself (a shell, a launcher): with subprocesses, its
  // descendants are sampled; the run lasts while it lives.
  void follow_root(pid_t pid) { root_ = pid; }

  // Samples until control.should_stop() or every process has exited. The profile holds
  // everything sampled, however the run ended.
  void run(const SessionControl& control);

  // The processes that could not be sampled and why, for warnings (--subprocesses).
  const std::vector<absl::Status>& skipped() const { return skipped_; }
  const std::vector<RuntimeCaveat>& caveats() const { return caveats_; }
  const SamplingCounts& counts() const { return counts_; }
  // The profile, its totals filled in.
  Profile& profile();

 private:
  void follow_children(absl::Time now);
  void add_process(std::unique_ptr<ProcessSampler> process);
  void sample_all();
  bool alive() const;

  SessionOptions options_;
  ProfileBuilder builder_;
  SamplingCounts counts_;
  std::optional<pid_t> root_;
  std::vector<std::unique_ptr<ProcessSampler>> processes_;
  // Descendants tried and not (yet) sampled, with the number of tries: a child just forked, or
  // one that has not exec'ed Python yet, is tried again at the next look.
  absl::flat_hash_map<pid_t, int> tried_;
  absl::Time children_seen_ = absl::InfinitePast();
  std::vector<absl::Status> skipped_;
  std::vector<RuntimeCaveat> caveats_;
  absl::Time started_;
  absl::Time ended_;
};

}  // namespace pystack
