#include "snapshot/merged_stack.h"

namespace pystack {
namespace {

StackEntry python_entry(const Frame& frame) {
  StackEntry entry;
  entry.kind = StackEntry::Kind::kPython;
  entry.python = &frame;
  return entry;
}

StackEntry native_entry(const NativeFrame& frame) {
  StackEntry entry;
  entry.kind = StackEntry::Kind::kNative;
  entry.native = &frame;
  return entry;
}

// Appends the Python frames of the next run of the loop: up to and including an entry frame.
void take_python_group(const Thread& thread, size_t& next, std::vector<StackEntry>& out) {
  while (next < thread.frames.size()) {
    const Frame& frame = thread.frames[next++];
    out.push_back(python_entry(frame));
    if (frame.entry) return;
  }
}

}  // namespace

std::vector<StackEntry> merged_stack(const Thread& thread, bool all_native) {
  std::vector<StackEntry> out;
  size_t next_python = 0;
  if (thread.native) {
    for (const NativeFrame& frame : thread.native->frames) {
      if (frame.evaluates_python && next_python < thread.frames.size()) {
        take_python_group(thread, next_python, out);
        if (all_native) out.push_back(native_entry(frame));
        continue;
      }
      if (frame.interpreter && !all_native) continue;
      out.push_back(native_entry(frame));
    }
    if (!thread.native->end_error.empty()) {
      StackEntry end;
      end.kind = StackEntry::Kind::kNativeEnd;
      end.end_error = &thread.native->end_error;
      out.push_back(end);
    }
  }
  // Python frames with no loop frame found for them: say why they follow the C stack.
  if (thread.native && next_python < thread.frames.size()) {
    static const std::string kUnnamed =
        "C stack: the interpreter loop's frames are not named (no symbol or debug information "
        "covers them), the Python frames that follow are not placed among the C frames";
    static const std::string kNotReached =
        "C stack: it ends before the interpreter loop's frames, the Python frames that follow "
        "are not placed among the C frames";
    StackEntry note;
    note.kind = StackEntry::Kind::kNote;
    note.end_error = thread.native->end_error.empty() ? &kUnnamed : &kNotReached;
    out.push_back(note);
  }
  while (next_python < thread.frames.size()) out.push_back(python_entry(thread.frames[next_python++]));
  return out;
}

}  // namespace pystack
