// The plain value a sampler produces and profile formatters consume: how often each distinct
// stack of each thread was seen. No pointers into the target, no I/O. Its size grows with the
// number of distinct stacks, not with the number of samples.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pystack {

// One distinct Python frame: a function at a line (line < 0: unknown, or merged by --no-lines).
struct ProfileFrame {
  std::string function;  // co_qualname where the release has it (3.11+), else co_name; UTF-8
  std::string filename;  // co_filename, UTF-8
  int line = -1;         // the line executing in that frame
  int first_line = 0;    // co_firstlineno: where the function is defined (0: unknown)
};

// A process the profile covers: the target, or one of its children (--subprocesses).
struct ProfileProcess {
  int pid = 0;
  std::string command;  // its command line, as ps shows it (spaces between arguments)
};

// A thread seen in the samples. A thread id that was reused by a new thread, or a thread whose
// Python name changed, gets a new entry.
struct ProfileThread {
  uint32_t process = 0;      // index into Profile::processes
  uint64_t native_id = 0;    // the OS thread id (0: unknown)
  std::string name;          // threading.Thread.name where known, else the OS name, else ""
};

// One distinct stack of one thread, and how many samples found it.
struct ProfileStack {
  uint32_t thread = 0;            // index into Profile::threads
  std::vector<uint32_t> frames;   // indices into Profile::frames, outermost call first
  int64_t count = 0;
};

struct Profile {
  double rate_hz = 0;             // the rate asked for (--rate)
  int64_t start_unix_nanos = 0;   // when sampling began
  int64_t duration_nanos = 0;     // how long it ran
  int64_t samples = 0;            // sampling rounds taken (all threads at once)
  int64_t thread_samples = 0;     // stacks kept: the sum of every ProfileStack::count
  int64_t torn = 0;               // thread stacks dropped: the target moved on under the read
  int64_t dropped = 0;            // rounds missed because the sampler fell behind the rate
  bool lines = true;              // false: --no-lines (ProfileFrame::line is -1 throughout)
  std::vector<ProfileProcess> processes;
  std::vector<ProfileThread> threads;
  std::vector<ProfileFrame> frames;
  std::vector<ProfileStack> stacks;
};

}  // namespace pystack
