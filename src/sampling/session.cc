#include "sampling/session.h"

#include <time.h>

#include <algorithm>
#include <cmath>

#include "common/errors.h"
#include "memory/process_tree.h"
#include "memory/procfs.h"

namespace pystack {
namespace {

constexpr absl::Duration kChildrenEvery = absl::Milliseconds(500);
constexpr int kTriesPerChild = 6;  // a child that is not Python 3 s after it appeared is let be

// Sleeps until `when` (CLOCK_MONOTONIC); a signal ends the sleep early.
void sleep_until(const timespec& when) {
  ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &when, nullptr);
}

timespec monotonic_now() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return now;
}

int64_t nanos(const timespec& t) { return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec; }

timespec from_nanos(int64_t n) {
  return timespec{static_cast<time_t>(n / 1000000000), static_cast<long>(n % 1000000000)};
}

}  // namespace

SamplingSession::SamplingSession(SessionOptions options)
    : options_(options), builder_(options.sampling.lines) {}

absl::Status SamplingSession::add_root(pid_t pid) {
  absl::StatusOr<std::unique_ptr<ProcessSampler>> process =
      ProcessSampler::open(pid, options_.sampling, builder_);
  if (!process.ok()) return process.status();
  root_ = pid;
  add_process(*std::move(process));
  return absl::OkStatus();
}

void SamplingSession::add_process(std::unique_ptr<ProcessSampler> process) {
  const PythonRuntime& runtime = process->runtime();
  RuntimeCaveat caveat{runtime.version, is_unverified_free_threaded(runtime), runtime.read_as};
  const bool known = std::any_of(caveats_.begin(), caveats_.end(), [&](const RuntimeCaveat& c) {
    return c.version.major == caveat.version.major && c.version.minor == caveat.version.minor &&
           c.version.micro == caveat.version.micro &&
           c.unverified_free_threaded == caveat.unverified_free_threaded &&
           c.read_as.has_value() == caveat.read_as.has_value();
  });
  if (!known && (caveat.unverified_free_threaded || caveat.read_as)) caveats_.push_back(caveat);
  processes_.push_back(std::move(process));
}

void SamplingSession::follow_children(absl::Time now) {
  if (!options_.subprocesses || !root_ || now - children_seen_ < kChildrenEvery) return;
  children_seen_ = now;
  TreeQuery query;
  query.roots = {*root_};
  query.include_roots = false;
  for (const ProcessStat& child : select_tree(list_processes(), query)) {
    if (child.state == 'Z' || child.state == 'X') continue;
    bool known = false;
    for (const auto& process : processes_) known |= process->pid() == child.pid;
    int& tries = tried_[child.pid];
    if (known || tries >= kTriesPerChild) continue;
    absl::StatusOr<std::unique_ptr<ProcessSampler>> process =
        ProcessSampler::open(child.pid, options_.sampling, builder_);
    if (process.ok()) {
      add_process(*std::move(process));
    } else if (++tries == kTriesPerChild) {
      skipped_.push_back(process.status());
    }
  }
}

void SamplingSession::sample_all() {
  ++counts_.rounds;
  std::erase_if(processes_, [&](std::unique_ptr<ProcessSampler>& process) {
    absl::Status sampled = process->sample(builder_, counts_);
    if (sampled.ok()) return false;
    if (error_kind(sampled) != ErrorKind::kProcessExited) skipped_.push_back(sampled);
    return true;  // gone, or a --blocking stop that failed: it is not sampled again
  });
}

void SamplingSession::run(const SessionControl& control) {
  started_ = absl::Now();
  builder_.profile().start_unix_nanos = absl::ToUnixNanos(started_);
  const bool as_fast_as_possible = !(options_.sampling.rate_hz > 0);
  const int64_t period =
      as_fast_as_possible ? 0 : std::max<int64_t>(1, std::llround(1e9 / options_.sampling.rate_hz));
  int64_t next = nanos(monotonic_now());
  absl::Time last_tick = started_;
  while (alive() && !(control.should_stop && control.should_stop())) {
    if (!as_fast_as_possible) {
      int64_t now = nanos(monotonic_now());
      if (now < next) {
        // At most 50 ms at a time, so that should_stop is asked even at low rates.
        sleep_until(from_nanos(std::min(next, now + 50'000'000)));
        now = nanos(monotonic_now());
        if (now < next) continue;  // woken by a signal: look at should_stop again
      }
      // Behind by whole periods: those rounds are missed, and counted, not caught up on.
      const int64_t missed = (now - next) / period;
      counts_.dropped += missed;
      next += (missed + 1) * period;
    }
    const absl::Time now = absl::Now();
    follow_children(now);
    sample_all();
    if (control.tick && now - last_tick >= control.tick_every) {
      last_tick = now;
      control.tick(profile(), counts_, now - started_);
    }
  }
  ended_ = absl::Now();
}

bool SamplingSession::alive() const {
  if (!processes_.empty()) return true;
  return options_.subprocesses && root_ && !procfs::process_gone(*root_);
}

Profile& SamplingSession::profile() {
  Profile& profile = builder_.profile();
  profile.rate_hz = options_.sampling.rate_hz;
  const absl::Time end = ended_ == absl::Time() ? absl::Now() : ended_;
  profile.duration_nanos = absl::ToInt64Nanoseconds(end - started_);
  profile.samples = counts_.rounds;
  profile.torn = counts_.torn;
  profile.dropped = counts_.dropped;
  return profile;
}

}  // namespace pystack
