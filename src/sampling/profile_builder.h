// Folds samples into a Profile as they come: each thread's stack is interned (frames by code
// object and line, stacks by their frames) and counted, so memory grows with the number of
// distinct stacks, not with the number of samples. A stack already seen costs hash lookups only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/types/span.h"
#include "cpython/stack_sampler.h"
#include "snapshot/profile.h"

namespace pystack {

class ProfileBuilder {
 public:
  // `lines`: false merges every line of a function into one frame (--no-lines).
  explicit ProfileBuilder(bool lines);

  // A process's index in the profile.
  uint32_t add_process(int pid, std::string command);
  // A thread's index: the same (process, pthread id, OS id, name) gives the same index.
  uint32_t thread(uint32_t process, uint64_t thread_id, uint64_t native_id, std::string_view name);
  // Counts one sample of `thread`'s stack: `sample.frames[first, first + count)`, most recent
  // call first (as StackSampler gives them).
  void add(uint32_t thread, const Sample& sample, const SampledThread& sampled);

  Profile& profile() { return profile_; }

 private:
  uint32_t frame_index(const SampledFrame& frame);

  struct SpanHash {
    using is_transparent = void;
    size_t operator()(absl::Span<const uint32_t> key) const {
      return absl::HashOf(key);
    }
  };
  struct SpanEq {
    using is_transparent = void;
    bool operator()(absl::Span<const uint32_t> a, absl::Span<const uint32_t> b) const {
      return a == b;
    }
  };

  bool lines_;
  Profile profile_;
  // (code id, line) -> frame; the frame's text -> frame (a code object read anew).
  absl::flat_hash_map<uint64_t, uint32_t> frame_by_code_;
  absl::flat_hash_map<std::tuple<std::string, std::string, int, int>, uint32_t> frame_by_text_;
  absl::flat_hash_map<std::tuple<uint32_t, uint64_t, uint64_t>, std::vector<uint32_t>>
      threads_by_id_;
  // [thread, frames root first...] -> index into profile_.stacks.
  absl::flat_hash_map<std::vector<uint32_t>, uint32_t, SpanHash, SpanEq> stacks_;
  std::vector<uint32_t> key_;  // reused for every lookup
};

}  // namespace pystack
