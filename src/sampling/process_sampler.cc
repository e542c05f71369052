#include "sampling/process_sampler.h"

#include <algorithm>

#include "common/errors.h"
#include "cpython/take_snapshot.h"
#include "memory/procfs.h"
#include "memory/process_tree.h"
#include "memory/pthread_tid.h"

namespace pystack {
namespace {

// Reading the names walks sys.modules and threading._active: not something to do per sample.
// They are read when a thread not named yet shows up (once a second at most), and every
// kNamesRefresh in case one was renamed.
constexpr absl::Duration kNamesEvery = absl::Seconds(1);
constexpr absl::Duration kNamesRefresh = absl::Seconds(10);
constexpr absl::Duration kPairingEvery = absl::Seconds(1);

std::string command_line_of(pid_t pid) {
  std::optional<ProcessStat> stat = read_process_stat(pid);
  return stat ? describe_process(*stat).command_line : "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<ProcessSampler>> ProcessSampler::open(
    pid_t pid, const SamplingOptions& options, ProfileBuilder& profile) {
  absl::StatusOr<std::unique_ptr<LiveProcess>> target = LiveProcess::open(pid);
  if (!target.ok()) return target.status();
  absl::StatusOr<PythonRuntime> runtime = find_runtime(**target);
  if (!runtime.ok()) return runtime.status();
  std::unique_ptr<NativeUnwinder> unwinder;
  if (options.native) {
    NativeUnwindOptions native_options;
    native_options.source_info = false;  // a profile's boxes are functions: no file, no line
    absl::StatusOr<std::unique_ptr<NativeUnwinder>> made =
        NativeUnwinder::create(**target, runtime->file, native_options);
    if (!made.ok()) return made.status();
    unwinder = *std::move(made);
  }
  const uint32_t index = profile.add_process(pid, command_line_of(pid));
  auto sampler = std::unique_ptr<ProcessSampler>(
      new ProcessSampler(*std::move(target), *std::move(runtime), options, index));
  sampler->unwinder_ = std::move(unwinder);
  return sampler;
}

ProcessSampler::ProcessSampler(std::unique_ptr<LiveProcess> target, PythonRuntime runtime,
                               const SamplingOptions& options, uint32_t process_index)
    : target_(std::move(target)),
      options_(options),
      sampler_(target_->memory(), std::move(runtime), /*check_torn=*/!options.blocking,
               /*read_gil=*/options.gil_only),
      activity_(target_->pid()),
      process_index_(process_index) {}

// A stopped thread is 't' to the kernel, and a stop wakes a sleeping thread (its sleep is
// restarted): in a round with a stop, what each thread was doing is asked before it.
void ProcessSampler::read_states_before_stop(const std::vector<pid_t>& listed) {
  states_before_stop_.clear();
  stopped_this_round_ = true;
  if (options_.idle || options_.gil_only) return;
  for (pid_t tid : listed) {
    if (std::optional<char> state = activity_.state(tid)) states_before_stop_[tid] = *state;
  }
}

absl::Status ProcessSampler::read_stacks(std::vector<pid_t>& listed) {
  // Threads left out of the profile are not walked at all (their ids and GIL are read first).
  auto wanted = [this](const SampledThread& thread) {
    return keep(thread, os_thread_id(thread));
  };
  native_stacks_.clear();
  unwound_.clear();
  if (!options_.blocking) return sampler_.sample(sample_, wanted);
  // Threads asleep in the kernel are left out of the profile (without --idle), so they are not
  // stopped either: a stop would wake them from their sleep, for nothing.
  const bool all = options_.idle || options_.gil_only;
  if (listed.empty()) {
    listed = procfs::list_threads(target_->pid()).value_or(std::vector<pid_t>{});
    read_states_before_stop(listed);
  }
  std::vector<pid_t> to_stop;
  for (pid_t tid : python_tids_.empty() ? listed : python_tids_) {
    auto it = states_before_stop_.find(tid);
    if (all || (it != states_before_stop_.end() && it->second == 'R')) to_stop.push_back(tid);
  }
  if (to_stop.empty()) return sampler_.sample(sample_, wanted);  // nothing runs: nothing held
  absl::Status stopped = target_->stop_threads(to_stop, options_.stop_timeout);
  if (!stopped.ok()) return stopped;
  absl::Status read = sampler_.sample(sample_, wanted);
  if (read.ok() && unwinder_ != nullptr) unwind_native_pcs(to_stop);
  target_->resume();
  // Names once the threads run again (cached by pc: a known stack costs lookups only).
  for (auto& [tid, unwound] : unwound_) native_stacks_[tid] = unwinder_->describe(unwound);
  return read;
}

void ProcessSampler::unwind_native_pcs(const std::vector<pid_t>& held) {
  for (const SampledThread& thread : sample_.threads) {
    if (thread.outcome != SampledThread::Outcome::kComplete) continue;
    const pid_t tid = os_thread_id(thread);
    if (tid > 0 && std::find(held.begin(), held.end(), tid) != held.end()) {
      unwound_[tid] = unwinder_->unwind_pcs(tid);
    }
  }
}

absl::Status ProcessSampler::sample(ProfileBuilder& profile, SamplingCounts& counts) {
  const absl::Time now = absl::Now();
  ++round_;
  stopped_this_round_ = false;
  std::vector<pid_t> listed;
  if (pairing_due(now)) {
    listed = procfs::list_threads(target_->pid()).value_or(std::vector<pid_t>{});
    read_states_before_stop(listed);
    pair_thread_ids(now);
  }
  if (absl::Status read = read_stacks(listed); !read.ok()) {
    if (target_->gone() || error_kind(read) == ErrorKind::kProcessExited) {
      return make_error(ErrorKind::kProcessExited,
                        absl::StrCat("process ", target_->pid(), " exited"));
    }
    return read;
  }
  refresh_names(now);
  if (options_.blocking) python_tids_.clear();
  for (const SampledThread& thread : sample_.threads) {
    const pid_t tid = os_thread_id(thread);
    if (options_.blocking && tid > 0) python_tids_.push_back(tid);
    if (thread.outcome == SampledThread::Outcome::kSkipped) continue;
    if (thread.outcome != SampledThread::Outcome::kComplete) {
      ++counts.torn;
      continue;
    }
    if (thread.frame_count == 0) continue;
    const uint32_t index = profile.thread(process_index_, thread.thread_id,
                                          static_cast<uint64_t>(tid), name_of(thread, tid));
    if (unwinder_ != nullptr) {
      auto native = native_stacks_.find(tid);
      if (native == native_stacks_.end()) {
        ++counts.torn;  // not held still this round: no C stack to go with it
        continue;
      }
      profile.add(index, sample_, thread, native->second, options_.native_all);
    } else {
      profile.add(index, sample_, thread);
    }
    ++counts.thread_samples;
  }
  return absl::OkStatus();
}

bool ProcessSampler::keep(const SampledThread& thread, pid_t tid) {
  if (options_.gil_only) return thread.holds_gil;
  if (options_.idle || tid <= 0) return true;
  if (stopped_this_round_) {
    auto it = states_before_stop_.find(tid);
    return it == states_before_stop_.end() || it->second == 'R';  // new: stopped now, unknown
  }
  return activity_.running(tid);
}

pid_t ProcessSampler::os_thread_id(const SampledThread& thread) {
  if (thread.native_id != 0) return static_cast<pid_t>(thread.native_id);
  auto it = tid_by_thread_id_.find(thread.thread_id);
  if (it != tid_by_thread_id_.end()) return it->second;
  if (unpaired_.contains(thread.thread_id) || never_paired_.contains(thread.thread_id)) return 0;
  // A thread not seen before: its tid from glibc's struct pthread, checked against the
  // process's threads (listed once per round at most).
  if (tids_listed_round_ != round_) {
    tids_ = procfs::list_threads(target_->pid()).value_or(std::vector<pid_t>{});
    tids_listed_round_ = round_;
  }
  if (std::optional<pid_t> tid = tid_of_pthread(target_->memory(), thread.thread_id, tids_)) {
    tid_by_thread_id_.emplace(thread.thread_id, *tid);
    return *tid;
  }
  unpaired_.insert(thread.thread_id);  // paired by fs_base at the next round
  return 0;
}

void ProcessSampler::refresh_names(absl::Time now) {
  bool unnamed = false;
  for (const SampledThread& thread : sample_.threads) {
    unnamed |= thread.outcome != SampledThread::Outcome::kSkipped &&
               !names_.contains(thread.thread_id) && !unnamed_.contains(thread.thread_id);
  }
  const absl::Duration since = now - names_read_;
  if (since < kNamesEvery || (!unnamed && since < kNamesRefresh)) return;
  names_read_ = now;
  absl::flat_hash_map<uint64_t, std::string> names = sampler_.thread_names();
  // A read that missed a name (a dict being resized) keeps the one known before.
  for (auto& [id, name] : names) names_[id] = std::move(name);
  // Threads threading does not know (C threads, dummy ones) are not asked about again soon.
  unnamed_.clear();
  for (const SampledThread& thread : sample_.threads) {
    if (!names_.contains(thread.thread_id)) unnamed_.insert(thread.thread_id);
  }
}

const std::string& ProcessSampler::name_of(const SampledThread& thread, pid_t tid) {
  auto it = names_.find(thread.thread_id);
  if (it != names_.end()) return it->second;
  auto os = os_names_.find(tid);
  if (os == os_names_.end()) {
    os = os_names_.emplace(tid, tid > 0 ? target_->os_thread_name(tid).value_or("") : "").first;
  }
  return os->second;
}

bool ProcessSampler::pairing_due(absl::Time now) const {
  return !unpaired_.empty() && now - paired_ >= kPairingEvery;
}

// Threads whose struct pthread did not tell their tid: paired by fs_base (glibc's pthread_self)
// in a brief stop. One that stays unpaired is taken for running (never filtered as idle).
void ProcessSampler::pair_thread_ids(absl::Time now) {
  paired_ = now;
  absl::flat_hash_map<uint64_t, pid_t> by_fs_base;
  if (target_->stop(options_.stop_timeout).ok()) {
    for (pid_t tid : target_->threads()) {
      std::optional<uint64_t> fs_base = target_->fs_base(tid);
      if (!fs_base) continue;
      auto [it, inserted] = by_fs_base.emplace(*fs_base, tid);
      if (!inserted) it->second = 0;  // two threads, one fs_base: neither
    }
    target_->resume();
  }
  for (uint64_t thread_id : unpaired_) {
    auto it = by_fs_base.find(thread_id);
    if (it != by_fs_base.end() && it->second != 0) tid_by_thread_id_[thread_id] = it->second;
  }
  // Those left are not asked again by fs_base (a stop each time) until a new thread shows up.
  never_paired_.insert(unpaired_.begin(), unpaired_.end());
  unpaired_.clear();
}

}  // namespace pystack
