// The whole walk (interpreters, threads, frames, code objects, names, locals and thread names)
// over an address space made of hostile bytes, for the layout of every version, then every
// format over what it gave: a partial, marked snapshot or an error, never a crash or a hang.
// Then the sampler's walk over the same bytes (a few rounds, its working set prefetched), folded
// into a profile, and every profile format.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cpython/layout.h"
#include "cpython/runtime.h"
#include "cpython/snapshot_reader.h"
#include "fake_memory.h"
#include "format/asyncio_tasks_text.h"
#include "format/faulthandler.h"
#include "format/locks_text.h"
#include "format/json.h"
#include "cpython/stack_sampler.h"
#include "format/profile_folded.h"
#include "format/profile_pprof.h"
#include "format/profile_speedscope.h"
#include "format/profile_svg.h"
#include "format/profile_top.h"
#include "format/traceback.h"
#include "sampling/profile_builder.h"
#include "fuzz_input.h"

namespace {
constexpr uint64_t kBase = 0x10000;  // the runtime, or 2.7/3.6's interp_head slot
constexpr size_t kMaxImage = 1 << 16;
}  // namespace

namespace {

void sample(const pystack::RemoteMemory& memory, const pystack::PythonRuntime& runtime,
            uint8_t choices) {
  using namespace pystack;
  StackSampler sampler(memory, runtime, /*check_torn=*/(choices & 1) != 0);
  ProfileBuilder builder(/*lines=*/(choices & 2) != 0);
  const uint32_t process = builder.add_process(1, "python");
  Sample one;
  for (int round = 0; round < 3; ++round) {
    if (!sampler.sample(one).ok()) break;
    for (const SampledThread& thread : one.threads) {
      if (thread.outcome != SampledThread::Outcome::kComplete) continue;
      builder.add(builder.thread(process, thread.thread_id, thread.native_id, "t"), one, thread);
    }
  }
  Profile& profile = builder.profile();
  profile.rate_hz = 100;
  (void)format_folded(profile);
  (void)format_speedscope(profile, "fuzz");
  (void)format_flamegraph_svg(profile);
  (void)format_pprof(profile);
  (void)format_top(profile, TopSort::kOwn, 20, 80);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pystack;
  fuzz::FuzzInput in(data, size);
  const std::vector<Layout>& layouts = all_layouts();
  const Layout& layout = layouts[in.take<uint8_t>() % layouts.size()];
  // Two regions: the runtime's page(s), and a heap the pointers in them may reach.
  const uint16_t heap_page = in.take<uint16_t>();
  const std::string_view runtime_bytes = in.bytes(4096);
  fuzz::FakeMemory memory;
  memory.map(kBase, std::string(runtime_bytes) + std::string(4096 - runtime_bytes.size(), '\0'));
  const uint64_t heap = kBase + 0x10000 + static_cast<uint64_t>(heap_page % 64) * 4096;
  memory.map(heap, std::string(in.bytes(kMaxImage)));

  PythonRuntime runtime;
  runtime.version = PythonVersion{static_cast<int>(layout.major), static_cast<int>(layout.minor), 0, 0};
  runtime.layout = layout;
  if (release_of(layout).interpreter_list == InterpreterListHead::kRuntime) {
    runtime.runtime_address = kBase;
  } else {
    runtime.interp_head_address = kBase;
    runtime.thread_state_current_address = kBase + 8;
  }
  sample(memory, runtime, in.take<uint8_t>());
  SnapshotReader reader(memory, runtime);
  SnapshotBudget budget;
  budget.max_frames = 1 << 12;
  budget.max_bytes_read = 16 << 20;
  absl::StatusOr<Snapshot> snapshot =
      reader.read({.locals = true, .thread_names = true, .tasks = true, .exceptions = true},
                  budget);
  if (!snapshot.ok()) return 0;
  // Every thread "in a futex" on an address the input picks (in the fuzzed image, or not).
  const uint64_t futex = kBase + in.take<uint16_t>() * uint64_t{8};
  reader.add_locks(*snapshot, [futex](const Thread&) {
    return std::optional<BlockedSyscall>(BlockedSyscall{kSyscallFutex, futex});
  });
  (void)format_locks(*snapshot);
  (void)format_task_table(*snapshot, false);
  (void)format_task_tree(*snapshot, false);
  (void)format_faulthandler(*snapshot);
  (void)format_traceback(*snapshot, {}, /*with_locals=*/true);
  (void)format_json(*snapshot, {}, /*with_locals=*/true);
  return 0;
}
