// One process being sampled: its target, its StackSampler, and what is carried from one sample
// to the next (thread names, OS thread ids, which threads run Python).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cpython/stack_sampler.h"
#include "native/native_unwinder.h"
#include "memory/live_process.h"
#include "memory/thread_activity.h"
#include "sampling/profile_builder.h"

namespace pystack {

struct SamplingOptions {
  double rate_hz = 100;
  bool idle = false;      // --idle: keep threads the kernel says are not running
  bool gil_only = false;  // --gil: keep only the thread that holds the GIL
  bool blocking = false;  // --blocking: stop the Python threads for each sample
  bool lines = true;      // false: --no-lines
  // --native (--native-all): each kept thread's C stack too. The threads are stopped for it
  // (--blocking): registers and a stack are read only from a thread held still.
  bool native = false;
  bool native_all = false;
  absl::Duration stop_timeout = absl::Seconds(2);
};

// What the sampling cost and missed, for the status line and the profile.
struct SamplingCounts {
  int64_t rounds = 0;          // sampling rounds over every process
  int64_t thread_samples = 0;  // stacks kept
  int64_t torn = 0;            // stacks dropped: the target moved on under the read
  int64_t dropped = 0;         // rounds missed: the sampler fell behind the rate
};

class ProcessSampler {
 public:
  // Errors as take_snapshot's (common/errors.h): not a Python process, unsupported, gone.
  static absl::StatusOr<std::unique_ptr<ProcessSampler>> open(pid_t pid,
                                                              const SamplingOptions& options,
                                                              ProfileBuilder& profile);

  // One sample of every thread, counted into `profile`. Errors: kProcessExited once the process
  // is gone; a --blocking stop that fails (kStopTimedOut, kAlreadyTraced, ...).
  absl::Status sample(ProfileBuilder& profile, SamplingCounts& counts);

  pid_t pid() const { return target_->pid(); }
  const PythonRuntime& runtime() const { return sampler_.runtime(); }

 private:
  ProcessSampler(std::unique_ptr<LiveProcess> target, PythonRuntime runtime,
                 const SamplingOptions& options, uint32_t process_index);
  absl::Status read_stacks(std::vector<pid_t>& listed);
  void read_states_before_stop(const std::vector<pid_t>& listed);
  // --native, while the threads are held: the pcs of each thread kept this round.
  void unwind_native_pcs(const std::vector<pid_t>& held);
  void refresh_names(absl::Time now);
  bool pairing_due(absl::Time now) const;
  void pair_thread_ids(absl::Time now);
  pid_t os_thread_id(const SampledThread& thread);
  bool keep(const SampledThread& thread, pid_t tid);
  const std::string& name_of(const SampledThread& thread, pid_t tid);

  std::unique_ptr<LiveProcess> target_;
  SamplingOptions options_;
  StackSampler sampler_;
  std::unique_ptr<NativeUnwinder> unwinder_;  // --native
  // --native: the C stacks of the threads read this round, by OS thread id.
  absl::flat_hash_map<pid_t, NativeStack> native_stacks_;
  absl::flat_hash_map<pid_t, NativeUnwinder::Unwound> unwound_;
  ThreadActivity activity_;
  uint32_t process_index_;
  Sample sample_;
  // threading names by pthread id, read once a second at most.
  absl::flat_hash_map<uint64_t, std::string> names_;
  absl::flat_hash_set<uint64_t> unnamed_;  // not in threading at the last read
  absl::Time names_read_ = absl::InfinitePast();
  // OS names by thread id, for threads threading does not know.
  absl::flat_hash_map<pid_t, std::string> os_names_;
  // Before 3.11 CPython does not keep the OS thread id: read from glibc's struct pthread (no
  // stop), else paired by fs_base (a brief stop, once a second at most, for threads not paired
  // before).
  absl::flat_hash_map<uint64_t, pid_t> tid_by_thread_id_;
  absl::flat_hash_set<uint64_t> unpaired_;      // to pair by fs_base
  absl::flat_hash_set<uint64_t> never_paired_;  // fs_base did not pair them either
  std::vector<pid_t> tids_;                     // the process's threads, listed this round
  uint64_t round_ = 0;
  uint64_t tids_listed_round_ = 0;
  absl::Time paired_ = absl::InfinitePast();
  // --blocking: the threads that ran Python at the last sample.
  std::vector<pid_t> python_tids_;
  // In a round with a stop (--blocking, a pairing), each thread's state before it: a stopped
  // thread is 't' to the kernel, and one woken by the stop is 'R' for a while after it.
  bool stopped_this_round_ = false;
  absl::flat_hash_map<pid_t, char> states_before_stop_;
};

}  // namespace pystack
