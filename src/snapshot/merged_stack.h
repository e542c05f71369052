// One thread's Python and C frames as one stack (--native): each group of Python frames that one
// run of the interpreter loop executes stands where that loop's C frame
// (_PyEval_EvalFrameDefault) stands. A pure function of the snapshot, for every format.
#pragma once

#include <string>
#include <vector>

#include "snapshot/snapshot.h"

namespace pystack {

struct StackEntry {
  enum class Kind { kPython, kNative, kNativeEnd, kNote } kind = Kind::kPython;
  const Frame* python = nullptr;        // kPython
  const NativeFrame* native = nullptr;  // kNative
  // kNativeEnd: why the C stack ends here; kNote: why the Python frames that follow are not
  // among the C frames.
  const std::string* end_error = nullptr;
};

// Most recent call first. The interpreter's own C frames are left out unless `all_native`; the
// loop's frame, when shown, comes right below the Python frames it runs. Python frames no C frame
// was found for (an unwind cut short, a stripped interpreter) follow the C stack's end.
std::vector<StackEntry> merged_stack(const Thread& thread, bool all_native);

}  // namespace pystack
