// --native against live CPython processes, with two oracles that are not ours:
// - the Python frames: with the C lines taken out, `pystack-dump --native` prints exactly the dump
//   CPython's own faulthandler wrote in the same process (targets/blocking.py: threads parked in
//   time.sleep, a lock, select, a socket, a pipe, ...);
// - the C frames: gdb's `thread apply all bt` of the same stopped process (the host's gdb for the
//   host's interpreters, the root's own gdb for the Debian-unstable root's). Each C frame we show
//   equals gdb's, frame for frame: the same pc, the same function (glibc's and GCC's aliases of
//   one function taken as one), inlined calls as gdb shows them. gdb's tail-call frames, which it
//   reconstructs from DWARF call-site information, are listed, not compared: nothing of them is
//   on the stack (targets/gdb_frames.py tells gdb's frame kinds).

#include <signal.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace pystack_it {
namespace {

InterpreterCoverage* const kCoverage = AddInterpreterCoverage("--native");

class Native : public ::testing::TestWithParam<Interpreter> {
 protected:
  void TearDown() override {
    if (!IsSkipped()) kCoverage->Count(GetParam().name, !HasFailure());
  }
};

std::vector<Interpreter> NativeInterpreters() {
  std::vector<Interpreter> out;
  for (const Interpreter& py : Interpreters().in_scope) {
    if (py.major == 3) out.push_back(py);  // 2.7's targets write no faulthandler dump
  }
  return out;
}

// The dump without the lines --native adds.
std::string WithoutNativeLines(const std::string& dump) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(dump, '\n')) {
    if (absl::StartsWith(line, "  Binary file ") ||
        absl::StartsWith(line, "  <pystack-dump: C stack ends")) {
      continue;
    }
    absl::StrAppend(&out, line, "\n");
  }
  out.pop_back();  // StrSplit gave one more, empty, piece after the last newline
  return out;
}

TEST_P(Native, PythonFramesMatchFaulthandler) {
  const Interpreter& python = GetParam();
  ASSERT_TOOL(tool);
  absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(python, "blocking.py", {});
  ASSERT_TRUE(target.ok()) << target.status();
  const pid_t pid = (*target)->child.pid();
  absl::StatusOr<RunResult> r =
      RunProgram({tool, "--native", std::to_string(pid)}, std::chrono::seconds(60));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  EXPECT_NE(r->out.find("  Binary file \""), std::string::npos) << "no C frame at all:\n"
                                                                  << r->out;
  EXPECT_TRUE(WithoutNativeLines(r->out) == (*target)->expected)
      << DescribeMismatch((*target)->expected, WithoutNativeLines(r->out));
  EXPECT_EQ(WaitUntilRunningUntraced(pid, std::chrono::seconds(1)), "");
}

struct GdbFrame {
  std::string kind;  // normal, inline, tailcall, sigtramp, other (targets/gdb_frames.py)
  uint64_t pc = 0;
  std::string function;  // "?" when gdb knows none
};

// targets/gdb_frames.py's output, per LWP.
std::map<int, std::vector<GdbFrame>> ParseGdb(const std::string& text) {
  std::map<int, std::vector<GdbFrame>> threads;
  std::vector<GdbFrame>* current = nullptr;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<std::string> words = absl::StrSplit(line, absl::MaxSplits(' ', 3));
    if (words.size() == 2 && words[0] == "THREAD") {
      current = &threads[std::stoi(words[1])];
    } else if (words.size() == 4 && words[0] == "FRAME" && current != nullptr) {
      current->push_back({words[1], std::stoull(words[2], nullptr, 16), words[3]});
    }
  }
  return threads;
}

struct OurFrame {
  uint64_t address = 0;
  std::string function;
  bool inlined = false;
};

// `--native-all --format=json`: each thread's C frames, by OS thread id. A small reader of our
// own JSON's shape (one key per line, as the writer prints it).
std::map<int, std::vector<OurFrame>> ParseOurJson(const std::string& json) {
  std::map<int, std::vector<OurFrame>> threads;
  std::vector<OurFrame>* current = nullptr;
  OurFrame frame;
  bool native = false;
  for (absl::string_view piece : absl::StrSplit(json, '\n')) {
    absl::string_view line = absl::StripAsciiWhitespace(piece);
    if (absl::ConsumePrefix(&line, "\"native_thread_id\": ")) {
      current = &threads[std::stoi(std::string(line))];
    } else if (line == "\"kind\": \"native\",") {
      native = true;
      frame = OurFrame();
    } else if (line == "\"kind\": \"python\",") {
      native = false;
    } else if (native && absl::ConsumePrefix(&line, "\"function\": ")) {
      frame.function = std::string(absl::StripSuffix(absl::StripPrefix(
          absl::StripSuffix(line, ","), "\""), "\""));
    } else if (native && absl::ConsumePrefix(&line, "\"address\": ")) {
      frame.address = std::stoull(std::string(absl::StripSuffix(line, ",")));
    } else if (native && absl::ConsumePrefix(&line, "\"inlined\": ")) {
      frame.inlined = absl::StartsWith(line, "true");
    } else if (native && absl::StartsWith(line, "\"interpreter\": ") && current != nullptr) {
      current->push_back(frame);
      native = false;
    }
  }
  return threads;
}

// A function's name without what differs between symbol tables and DWARF for one function:
// glibc's internal aliases (__GI___select, __libc_recv, __recv), GCC's clones (.lto_priv.0,
// .constprop.0) and symbol versions (@GLIBC_2.2.5).
std::string BaseName(std::string name) {
  name = name.substr(0, name.find_first_of(".@"));
  for (const char* prefix : {"_", "GI_", "_", "libc_"}) {
    while (absl::StartsWith(name, prefix) && std::string(prefix) != "_") name.erase(0, strlen(prefix));
    if (std::string(prefix) == "_") {
      while (!name.empty() && name[0] == '_') name.erase(0, 1);
    }
  }
  return name;
}

TEST_P(Native, CFramesAreGdbs) {
  const Interpreter& python = GetParam();
  ASSERT_TOOL(tool);
  absl::StatusOr<std::string> targets = TargetsDir();
  ASSERT_TRUE(targets.ok()) << targets.status();
  const std::vector<std::string> gdb = {"gdb"};
  if (python.InRoot()) {
    // Seen with the host's gdb 13 (set sysroot ROOT) and the root's gdb 16 (scripts/in-root):
    // both place the host's libc where the root's is mapped (".dynamic section ... is not at the
    // expected address") and name its frames from the host's debug information. The C stacks of
    // the root's 3.14 and 3.15 are checked against their own crash handler (crash_core_test.cc).
    GTEST_SKIP() << "gdb misreads the libraries of a process in another mount namespace";
  }
  absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(python, "blocking.py", {});
  ASSERT_TRUE(target.ok()) << target.status();
  const pid_t pid = (*target)->child.pid();

  // One stopped state for both: SIGSTOP holds it while both read it (and each leaves it so).
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  absl::StatusOr<RunResult> ours = RunProgram(
      {tool, "--native-all", "--format=json", std::to_string(pid)}, std::chrono::seconds(60));
  std::vector<std::string> gdb_argv = gdb;
  for (const std::string& arg : {std::string("-p"), std::to_string(pid), std::string("-batch"),
                                 std::string("-nx"), std::string("-x"),
                                 *targets + "/gdb_frames.py"}) {
    gdb_argv.push_back(arg);
  }
  absl::StatusOr<RunResult> theirs = RunProgram(gdb_argv, std::chrono::seconds(120));
  ::kill(pid, SIGCONT);
  ASSERT_TRUE(ours.ok()) << ours.status();
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  ASSERT_EQ(ours->exit_code(), 0) << ours->Describe();

  const std::map<int, std::vector<GdbFrame>> gdb_threads = ParseGdb(theirs->out);
  const std::map<int, std::vector<OurFrame>> our_threads = ParseOurJson(ours->out);
  ASSERT_FALSE(our_threads.empty()) << ours->out;
  int loops_seen = 0;
  for (const auto& [tid, frames] : our_threads) {
    SCOPED_TRACE(absl::StrCat("thread ", tid));
    auto it = gdb_threads.find(tid);
    ASSERT_NE(it, gdb_threads.end()) << "gdb shows no thread " << tid << ":\n"
                                     << theirs->out << theirs->err;
    // gdb's frames but its tail-call frames, which it reconstructs from DWARF call sites (no
    // return address of theirs is on the stack); those are listed, not compared.
    std::vector<GdbFrame> expected;
    std::vector<std::string> tail_calls;
    for (const GdbFrame& frame : it->second) {
      if (frame.kind == "tailcall") {
        tail_calls.push_back(frame.function);
      } else {
        expected.push_back(frame);
      }
    }
    std::string gdb_text, our_text;
    for (const GdbFrame& f : expected) {
      absl::StrAppend(&gdb_text, absl::Hex(f.pc), " ", BaseName(f.function),
                      f.kind == "inline" ? " (inlined)" : "", "\n");
    }
    for (const OurFrame& f : frames) {
      if (f.function == "_PyEval_EvalFrameDefault") ++loops_seen;
      absl::StrAppend(&our_text, absl::Hex(f.address), " ",
                      f.function.empty() ? "?" : BaseName(f.function),
                      f.inlined ? " (inlined)" : "", "\n");
      // gdb's walk ends at main (backtrace past-main is off); ours goes on to _start.
      if (!f.inlined && f.function == "main") break;
    }
    EXPECT_TRUE(our_text == gdb_text) << DescribeMismatch(gdb_text, our_text);
    if (!tail_calls.empty()) {
      std::printf("[ note     ] thread %d: gdb adds %zu tail-call frame(s): %s\n", tid,
                  tail_calls.size(), absl::StrJoin(tail_calls, ", ").c_str());
    }
  }
  EXPECT_GT(loops_seen, 0) << "no _PyEval_EvalFrameDefault among our frames:\n" << ours->out;
  EXPECT_EQ(WaitUntilRunningUntraced(pid, std::chrono::seconds(1)), "");
}

std::string NativeCaseName(const ::testing::TestParamInfo<Interpreter>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Interpreters, Native, ::testing::ValuesIn(NativeInterpreters()),
                         NativeCaseName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Native);

}  // namespace
}  // namespace pystack_it
