// The sampler's walk: every thread's Python stack, as code objects and lines, read thousands of
// times a second from a process that may be running (the snapshot walk, SnapshotReader, reads a
// still one and reads much more: names, locals, repr).
//
// Built for the hot path: pages are read whole (a 3.11+ thread's frames share its data-stack
// chunk: one or two reads), code objects are cached by address and validated on reuse by a
// fingerprint read (CodeCache), lines are cached by code object and instruction, and the buffers
// of a Sample are reused: a sample of a known stack allocates nothing.
//
// A running target moves on while it is read. After each thread's walk its first frame, and the
// thread state's pointer to it, are read again: if either changed, the walk may have mixed two
// stacks and the thread's sample is marked torn (the caller drops and counts it). A stack below
// an unchanged first frame cannot have changed: to change it the thread must return through it.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "cpython/code_object.h"
#include "cpython/dict.h"
#include "cpython/gil_holder.h"
#include "cpython/py_types.h"
#include "cpython/thread_names.h"
#include "cpython/objects.h"
#include "cpython/releases.h"
#include "cpython/runtime.h"
#include "memory/page_cache.h"
#include "memory/remote_memory.h"

namespace pystack {

struct SampledFrame {
  const CodeObject* code = nullptr;  // nullptr: unreadable; valid until the next sample()
  int line = -1;
  bool entry = false;  // Frame::entry: the oldest frame of one run of the interpreter loop
};

struct SampledThread {
  enum class Outcome {
    kComplete,  // the whole stack, read consistently
    kTorn,      // the target changed the stack during the read: drop it
    kBroken,    // memory that cannot be a stack (a cycle, unreadable): partial, drop it
    kSkipped,   // left out by the caller's filter before its frames were read
  };
  uint64_t tstate = 0;
  uint64_t thread_id = 0;   // pthread_t
  uint64_t native_id = 0;   // the OS thread id, 0 when the release does not keep it (< 3.11)
  bool holds_gil = false;
  Outcome outcome = Outcome::kComplete;
  uint32_t first_frame = 0;  // into Sample::frames; most recent call first
  uint32_t frame_count = 0;
};

// One round over every thread. Reused from sample to sample (clear() keeps the capacity).
struct Sample {
  std::vector<SampledThread> threads;
  std::vector<SampledFrame> frames;

  void clear() {
    threads.clear();
    frames.clear();
  }
};

class StackSampler {
 public:
  // `memory` must outlive the sampler. `check_torn`: the target runs while it is read.
  // `read_gil`: SampledThread::holds_gil is wanted (two more reads a sample).
  StackSampler(const RemoteMemory& memory, PythonRuntime runtime, bool check_torn,
               bool read_gil = true);

  // Fills `out` (cleared first). `walk` is asked for each thread, its ids and GIL known, whether
  // its frames are wanted (an idle thread's are not: they are not read at all). Fails only when
  // the runtime's interpreter list cannot be read (the process is gone, or was never one that
  // runs Python).
  using ThreadFilter = absl::FunctionRef<bool(const SampledThread&)>;
  absl::Status sample(Sample& out, ThreadFilter walk);
  absl::Status sample(Sample& out) {
    return sample(out, [](const SampledThread&) { return true; });
  }

  // pthread id -> threading.Thread.name, for every interpreter. Reads dicts of a running
  // process: a name read while it changes may be missing; call it now and then, not per sample.
  absl::flat_hash_map<uint64_t, std::string> thread_names();

  const PythonRuntime& runtime() const { return runtime_; }
  // Frames read since construction (for the status line and the benchmark).
  uint64_t frames_read() const { return frames_read_; }

 private:
  // What the walk saw of a thread's first frame, compared after the walk.
  struct FirstFrame {
    uint64_t cframe = 0;  // 3.11/3.12: the _PyCFrame the thread state points to
    uint64_t address = 0;
    uint64_t code = 0;
    uint64_t previous = 0;
  };

  void read_thread(uint64_t tstate, const GilState& gil, Sample& out, ThreadFilter walk);
  bool current_frame(uint64_t tstate, uint64_t& cframe, uint64_t& frame) const;
  SampledThread::Outcome read_interpreter_frames(uint64_t frame, Sample& out,
                                                 FirstFrame& first);
  SampledThread::Outcome read_frame_objects(uint64_t frame, Sample& out, FirstFrame& first);
  bool read_first_frame(uint64_t frame, FirstFrame& first) const;
  bool moved_on(uint64_t tstate, const FirstFrame& first) const;
  int line_of(const CodeObject& code, int byte_offset);
  const CodeObject* code_at(uint64_t address);

  const RemoteMemory& memory_;
  PythonRuntime runtime_;
  const Layout& layout_;
  const Release& release_;
  bool check_torn_;
  bool read_gil_;
  PageCache pages_;
  ObjectReader objects_;
  CodeCache codes_;
  // (code id << 32 | byte offset) -> line. Bounded: emptied when it grows past kMaxLines.
  absl::flat_hash_map<uint64_t, int> lines_;
  // This sample's code objects, validated (nullptr: not a code object).
  absl::flat_hash_map<uint64_t, const CodeObject*> validated_;
  uint64_t frames_read_ = 0;
  // thread_names(): its own pages and types, as it runs between samples.
  PageCache name_pages_;
  ObjectReader name_objects_;
  TypeCache name_types_;
  DictReader name_dicts_;
  ThreadNameReader names_;
};

}  // namespace pystack
