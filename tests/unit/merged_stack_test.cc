// snapshot/merged_stack and format/native_text: where Python frames stand among C frames, and
// how a C frame reads. The snapshots are built by hand, in the shapes the readers produce.
#include "snapshot/merged_stack.h"

#include <string>
#include <vector>

#include "format/faulthandler.h"
#include "format/native_text.h"
#include "gtest/gtest.h"

namespace pystack {
namespace {

Frame PyFrame(const std::string& name, bool entry) {
  Frame frame;
  frame.name = PyText{std::u32string(name.begin(), name.end()), name.size()};
  frame.filename = PyText{U"app.py", 6};
  frame.lineno = 1;
  frame.entry = entry;
  return frame;
}

NativeFrame CFrame(const std::string& function, bool interpreter = false, bool loop = false) {
  NativeFrame frame;
  frame.function = function;
  frame.library = interpreter ? "/usr/bin/python3.12" : "/usr/lib/x86_64-linux-gnu/libc.so.6";
  frame.interpreter = interpreter;
  frame.evaluates_python = loop;
  frame.address = 0x1000;
  return frame;
}

// Names of the merged stack, most recent first: Python frames as "py:NAME", C ones as the
// function, notes as "<end>" / "<note>".
std::vector<std::string> Names(const Thread& thread, bool all) {
  std::vector<std::string> names;
  for (const StackEntry& entry : merged_stack(thread, all)) {
    switch (entry.kind) {
      case StackEntry::Kind::kPython: {
        const std::u32string& n = entry.python->name->code_points;
        names.push_back("py:" + std::string(n.begin(), n.end()));
        break;
      }
      case StackEntry::Kind::kNative: names.push_back(entry.native->function); break;
      case StackEntry::Kind::kNativeEnd: names.push_back("<end>"); break;
      case StackEntry::Kind::kNote: names.push_back("<note>"); break;
    }
  }
  return names;
}

// A 3.12 thread: inner() and outer() run by one loop (outer entered it), main() by another.
Thread TwoLoops() {
  Thread thread;
  thread.frames = {PyFrame("inner", false), PyFrame("outer", true), PyFrame("main", true)};
  thread.native.emplace();
  thread.native->frames = {CFrame("clock_nanosleep"), CFrame("time_sleep", true),
                           CFrame("_PyEval_EvalFrameDefault", true, true),
                           CFrame("PyObject_Call", true), CFrame("c_ext_call"),
                           CFrame("_PyEval_EvalFrameDefault", true, true), CFrame("Py_RunMain", true),
                           CFrame("__libc_start_main")};
  return thread;
}

TEST(MergedStack, EachLoopRunsItsGroupOfPythonFrames) {
  EXPECT_EQ(Names(TwoLoops(), false),
            (std::vector<std::string>{"clock_nanosleep", "py:inner", "py:outer", "c_ext_call",
                                      "py:main", "__libc_start_main"}));
}

TEST(MergedStack, AllShowsTheInterpretersFramesTheLoopBelowItsGroup) {
  EXPECT_EQ(Names(TwoLoops(), true),
            (std::vector<std::string>{"clock_nanosleep", "time_sleep", "py:inner", "py:outer",
                                      "_PyEval_EvalFrameDefault", "PyObject_Call", "c_ext_call",
                                      "py:main", "_PyEval_EvalFrameDefault", "Py_RunMain",
                                      "__libc_start_main"}));
}

TEST(MergedStack, UnplacedPythonFramesFollowTheCStackWithANote) {
  Thread thread = TwoLoops();
  for (NativeFrame& frame : thread.native->frames) frame.evaluates_python = false;
  thread.native->end_error = "cannot unwind past 0x1234";
  EXPECT_EQ(Names(thread, false),
            (std::vector<std::string>{"clock_nanosleep", "c_ext_call", "__libc_start_main",
                                      "<end>", "<note>", "py:inner", "py:outer", "py:main"}));
}

TEST(MergedStack, WithoutNativeOnlyPythonFrames) {
  Thread thread = TwoLoops();
  thread.native.reset();
  EXPECT_EQ(Names(thread, false),
            (std::vector<std::string>{"py:inner", "py:outer", "py:main"}));
}

TEST(NativeText, BinaryLinesInTheCrashHandlersForm) {
  std::string out;
  NativeFrame frame = CFrame("clock_nanosleep");
  frame.address = 0x7f24117ef545;
  frame.function_offset = 0x65;
  append_native_binary_line(out, frame);
  frame.inlined = true;
  append_native_binary_line(out, frame);
  frame.function.clear();
  frame.inlined = false;
  append_native_binary_line(out, frame);
  frame.library.clear();
  append_native_binary_line(out, frame);
  EXPECT_EQ(out,
            "  Binary file \"/usr/lib/x86_64-linux-gnu/libc.so.6\", at clock_nanosleep+0x65 "
            "[0x7f24117ef545]\n"
            "  Binary file \"/usr/lib/x86_64-linux-gnu/libc.so.6\", at clock_nanosleep (inlined) "
            "[0x7f24117ef545]\n"
            "  Binary file \"/usr/lib/x86_64-linux-gnu/libc.so.6\" [0x7f24117ef545]\n"
            "  Binary file '<unknown>' [0x7f24117ef545]\n");
}

TEST(NativeText, TracebackLines) {
  std::string out;
  NativeFrame frame = CFrame("select_select_impl", true);
  frame.file = "../Modules/selectmodule.c";
  frame.line = 338;
  append_native_traceback_line(out, frame);
  append_native_traceback_line(out, NativeFrame{});
  EXPECT_EQ(out,
            "  (C) File \"../Modules/selectmodule.c\", line 338, in select_select_impl "
            "(python3.12)\n"
            "  (C) File \"???\", line 0, in ??? (?\?\?)\n");
}

// With the C lines taken out, the faulthandler format is the one without --native.
TEST(NativeText, FaulthandlerWithoutTheCLinesIsUnchanged) {
  Snapshot snapshot;
  snapshot.version = {3, 12, 1, 0};
  Interpreter interp;
  interp.threads.push_back(TwoLoops());
  snapshot.interpreters.push_back(interp);
  const std::string with = format_faulthandler(snapshot);
  snapshot.interpreters[0].threads[0].native.reset();
  const std::string without = format_faulthandler(snapshot);
  std::string stripped;
  size_t start = 0;
  while (start < with.size()) {
    const size_t end = with.find('\n', start);
    const std::string line = with.substr(start, end - start + 1);
    if (line.rfind("  Binary file ", 0) != 0) stripped += line;
    start = end + 1;
  }
  EXPECT_NE(with, without);
  EXPECT_EQ(stripped, without);
  EXPECT_NE(with.find("  Binary file \"/usr/lib/x86_64-linux-gnu/libc.so.6\", at c_ext_call+0x0 "
                      "[0x1000]\n  File \"app.py\", line 1 in main\n"),
            std::string::npos)
      << with;
}

}  // namespace
}  // namespace pystack
