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
  // The same, with the thread's C stack (record --native): each run of Python frames where its
  // interpreter loop's C frame stands, as snapshot/merged_stack.h does for dumps; the
  // interpreter's own C frames only with `all_native`.
  void add(uint32_t thread, const Sample& sample, const SampledThread& sampled,
           const NativeStack& native, bool all_native);

  Profile& profile() { return profile_; }

 private:
  uint32_t frame_index(const SampledFrame& frame);
  // A C frame: `FUNCTION (LIBRARY)`, its line dropped (a C function is one box).
  // `ordinal`: how many frames of the same pc (calls inlined there) come before it.
  uint32_t native_frame_index(const NativeFrame& frame, uint32_t ordinal);
  uint32_t text_index(ProfileFrame text);
  // Counts the stack in key_ (thread, then frames root first).
  void count_key(uint32_t thread);

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
  std::vector<uint32_t> merged_;  // record --native: frames most recent first, reused
  // (pc, activation, ordinal among the frames inlined at that pc) -> frame.
  absl::flat_hash_map<std::tuple<uint64_t, bool, uint32_t>, uint32_t> frame_by_pc_;
};

}  // namespace pystack
