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
// Both run on targets/blocking.py and on targets/native_calls.py: a thread blocked in a ctypes call
// into libc (through libffi), and one blocked in Python code called back from a C extension
// (targets/native_ext.c, built here per interpreter), whose C frame must stand between the Python
// frames that called it and those it called.

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <utility>
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

// `--native PID` of a parked target: with its C lines taken out, the target's faulthandler dump.
// The output goes to *out.
void CheckPythonFramesMatchFaulthandler(const std::string& tool, const Target& target,
                                        std::string* out) {
  const pid_t pid = target.child.pid();
  absl::StatusOr<RunResult> r =
      RunProgram({tool, "--native", std::to_string(pid)}, std::chrono::seconds(60));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  EXPECT_NE(r->out.find("  Binary file \""), std::string::npos) << "no C frame at all:\n"
                                                                  << r->out;
  EXPECT_TRUE(WithoutNativeLines(r->out) == target.expected)
      << DescribeMismatch(target.expected, WithoutNativeLines(r->out));
  EXPECT_EQ(WaitUntilRunningUntraced(pid, std::chrono::seconds(1)), "");
  *out = r->out;
}

TEST_P(Native, PythonFramesMatchFaulthandler) {
  const Interpreter& python = GetParam();
  ASSERT_TOOL(tool);
  absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(python, "blocking.py", {});
  ASSERT_TRUE(target.ok()) << target.status();
  std::string out;
  ASSERT_NO_FATAL_FAILURE(CheckPythonFramesMatchFaulthandler(tool, **target, &out));
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
  std::string function;  // empty when we know none (null in the JSON)
  bool inlined = false;
};

// A JSON string value as our writer prints it ("name", or null: ""), without the comma after it.
// Enough for function names, which need no escapes.
std::string JsonString(absl::string_view value) {
  value = absl::StripSuffix(value, ",");
  if (value == "null") return "";
  return std::string(absl::StripSuffix(absl::StripPrefix(value, "\""), "\""));
}

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
      frame.function = JsonString(line);
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

// gdb cannot be compared with for an interpreter of a Debian root.
constexpr char kGdbInRoot[] =
    "gdb misreads the libraries of a process in another mount namespace";

// `--native-all --format=json` of a parked target against gdb's backtraces, both of the same
// stopped process (the host's gdb: not for an interpreter of a Debian root). Our JSON goes to
// *json.
void CheckCFramesAreGdbs(const std::string& tool, const Target& target, std::string* json) {
  absl::StatusOr<std::string> targets = TargetsDir();
  ASSERT_TRUE(targets.ok()) << targets.status();
  const std::vector<std::string> gdb = {"gdb"};
  const pid_t pid = target.child.pid();

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
  *json = ours->out;

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

TEST_P(Native, CFramesAreGdbs) {
  const Interpreter& python = GetParam();
  ASSERT_TOOL(tool);
  if (python.InRoot()) {
    // Seen with the host's gdb 13 (set sysroot ROOT) and the root's gdb 16 (scripts/in-root):
    // both place the host's libc where the root's is mapped (".dynamic section ... is not at the
    // expected address") and name its frames from the host's debug information. The C stacks of
    // the root's 3.14 and 3.15 are checked against their own crash handler (crash_core_test.cc).
    GTEST_SKIP() << kGdbInRoot;
  }
  absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(python, "blocking.py", {});
  ASSERT_TRUE(target.ok()) << target.status();
  std::string json;
  ASSERT_NO_FATAL_FAILURE(CheckCFramesAreGdbs(tool, **target, &json));
}

// ---------------------------------------------------------------------------------------------
// targets/native_calls.py: a ctypes call into libc, and a C extension calling back into Python.

// targets/native_ext.c built for one interpreter.
struct Extension {
  std::string dir;      // holds native_ext<EXT_SUFFIX>; empty when not built
  std::string skipped;  // why not, when this machine cannot build it (no gcc, no Python.h)
  std::string error;    // why not, otherwise: a failure
};

// gcc -shared -fPIC -O1 -g -I<the interpreter's include dir> native_ext.c -o
// DIR/native_ext<EXT_SUFFIX>, on the host. For an interpreter of a Debian root the headers are
// the root's, and the module goes under /tmp, which the root sees at the same path.
Extension BuildExtension(const Interpreter& python, const std::string& dir) {
  namespace fs = std::filesystem;
  Extension ext;
  absl::StatusOr<std::string> targets = TargetsDir();
  if (!targets.ok()) {
    ext.error = targets.status().ToString();
    return ext;
  }
  absl::StatusOr<RunResult> config = RunProgram(
      {python.path, "-c",
       "import sysconfig; print(sysconfig.get_paths()['include']); "
       "print(sysconfig.get_config_var('EXT_SUFFIX')); "
       "print(sysconfig.get_config_var('MULTIARCH') or '')"},
      std::chrono::seconds(30));
  if (!config.ok() || config->exit_code() != 0) {
    ext.error = absl::StrCat("cannot ask the interpreter for its include directory: ",
                             config.ok() ? config->Describe() : config.status().ToString());
    return ext;
  }
  std::vector<std::string> lines = absl::StrSplit(config->out, '\n');
  if (lines.size() < 3 || !absl::StartsWith(lines[0], "/") || !absl::StartsWith(lines[1], ".")) {
    ext.error = "unexpected sysconfig answer:\n" + Printable(config->out);
    return ext;
  }
  const std::string include = python.root + lines[0];  // root: "" for the host's interpreters
  const std::string& suffix = lines[1];
  const std::string& multiarch = lines[2];
  std::error_code ec;
  if (!fs::exists(include + "/Python.h", ec)) {
    ext.skipped = absl::StrCat("no ", include, "/Python.h (development headers not installed)");
    return ext;
  }
  std::vector<std::string> argv = {"gcc", "-shared", "-fPIC", "-O1", "-g", "-I" + include};
  if (python.InRoot() && !multiarch.empty()) {
    // Debian's pythonX.Y/pyconfig.h includes <MULTIARCH/pythonX.Y/pyconfig.h>: the root's, not
    // the host's (which comes later: only the root's multiarch directory is given).
    const std::string link_dir = dir + "/include";
    fs::create_directories(link_dir, ec);
    fs::create_directory_symlink(python.root + "/usr/include/" + multiarch,
                                 link_dir + "/" + multiarch, ec);
    if (ec) {
      ext.error = absl::StrCat("cannot link ", link_dir, "/", multiarch, ": ", ec.message());
      return ext;
    }
    argv.push_back("-I" + link_dir);
  }
  const std::string module = dir + "/native_ext" + suffix;
  for (const std::string& arg : {*targets + "/native_ext.c", std::string("-o"), module}) {
    argv.push_back(arg);
  }
  absl::StatusOr<RunResult> cc = RunProgram(argv, std::chrono::seconds(60));
  if (!cc.ok()) {
    ext.skipped = std::string(cc.status().message());  // "cannot start gcc: ..."
    return ext;
  }
  if (cc->exit_code() != 0 || !fs::exists(module, ec)) {
    ext.error = absl::StrCat(absl::StrJoin(argv, " "), " failed: ", cc->Describe());
    return ext;
  }
  ext.dir = dir;
  return ext;
}

// BuildExtension once per interpreter; its directories go when the test program ends.
const Extension& NativeExtension(const Interpreter& python) {
  static std::map<std::string, std::pair<std::unique_ptr<TempDir>, Extension>> built;
  auto it = built.find(python.name);
  if (it == built.end()) {
    auto dir = std::make_unique<TempDir>();
    Extension ext = BuildExtension(python, dir->path());
    it = built.emplace(python.name, std::make_pair(std::move(dir), std::move(ext))).first;
  }
  return it->second.second;
}

// Starts native_calls.py, with native_ext when it could be built for `python` (*with_extension
// tells): a build that failed for another reason than a missing gcc or Python.h is a failure,
// the test goes on without the extension.
absl::StatusOr<std::unique_ptr<Target>> StartNativeCalls(const Interpreter& python,
                                                         bool* with_extension) {
  *with_extension = false;
  const Extension& ext = NativeExtension(python);
  if (!ext.error.empty()) {
    ADD_FAILURE() << "building targets/native_ext.c for " << python.name << ": " << ext.error;
  }
  if (!ext.skipped.empty()) {
    std::printf("[ skipped  ] %s: native_calls.py without native_ext (a C extension calling "
                "back into Python): %s\n",
                python.name.c_str(), ext.skipped.c_str());
  }
  std::vector<std::string> args;
  if (!ext.dir.empty()) args.push_back(ext.dir);
  absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(python, "native_calls.py", args);
  if (!target.ok() || ext.dir.empty()) return target;
  EXPECT_TRUE((*target)->skipped_features.empty())
      << "native_ext was built in " << ext.dir << ", yet the target went without it:\n"
      << absl::StrJoin((*target)->skipped_features, "\n");
  *with_extension = (*target)->skipped_features.empty();
  return target;
}

// A frame of a merged stack, innermost first.
struct MergedFrame {
  bool python = false;
  std::string function;  // a C frame's BaseName, "" when unnamed; a Python frame's code name
  std::string library;   // a C frame's file
};
using MergedStack = std::vector<MergedFrame>;

// `--native`'s text: a stack per thread. Python frames are `  File "F", line N in FUNCTION`, C
// frames `  Binary file "LIB", at FUNCTION+0xN [0xPC]` (or `at FUNCTION (inlined)`, or no
// `at` when unnamed).
std::vector<MergedStack> StacksOfText(const std::string& text) {
  std::vector<MergedStack> stacks;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, "Thread ") || absl::StartsWith(line, "Current thread ")) {
      stacks.emplace_back();
    } else if (stacks.empty()) {
      continue;
    } else if (absl::StartsWith(line, "  File ")) {
      size_t in = line.rfind(" in ");
      MergedFrame frame;
      frame.python = true;
      if (in != absl::string_view::npos) frame.function = std::string(line.substr(in + 4));
      stacks.back().push_back(frame);
    } else if (absl::ConsumePrefix(&line, "  Binary file \"")) {
      MergedFrame frame;
      frame.library = std::string(line.substr(0, line.find('"')));
      size_t at = line.find("\", at ");
      if (at != absl::string_view::npos) {
        absl::string_view rest = line.substr(at + 6);
        frame.function = BaseName(std::string(rest.substr(0, rest.find_first_of("+ "))));
      }
      stacks.back().push_back(frame);
    }
  }
  return stacks;
}

// `--native-all --format=json`: a stack per thread (see ParseOurJson).
std::vector<MergedStack> StacksOfJson(const std::string& json) {
  std::vector<MergedStack> stacks;
  bool in_frame = false;
  for (absl::string_view piece : absl::StrSplit(json, '\n')) {
    absl::string_view line = absl::StripAsciiWhitespace(piece);
    if (absl::StartsWith(line, "\"native_thread_id\": ")) {
      stacks.emplace_back();
      in_frame = false;
    } else if (stacks.empty()) {
      continue;
    } else if (line == "\"kind\": \"native\"," || line == "\"kind\": \"python\",") {
      MergedFrame frame;
      frame.python = line == "\"kind\": \"python\",";
      stacks.back().push_back(frame);
      in_frame = true;
    } else if (!in_frame) {
      continue;
    } else if (!stacks.back().back().python && absl::ConsumePrefix(&line, "\"function\": ")) {
      const std::string function = JsonString(line);
      stacks.back().back().function = function.empty() ? "" : BaseName(function);
    } else if (!stacks.back().back().python && absl::ConsumePrefix(&line, "\"library\": ")) {
      stacks.back().back().library = JsonString(line);
    } else if (stacks.back().back().python && absl::ConsumePrefix(&line, "\"name\": ")) {
      stacks.back().back().function = JsonString(line);
    }
  }
  return stacks;
}

// Whether a C frame of some stack is the interpreter loop's, by its name.
bool LoopNamed(const std::vector<MergedStack>& stacks) {
  for (const MergedStack& stack : stacks) {
    for (const MergedFrame& frame : stack) {
      if (!frame.python && (frame.function == BaseName("_PyEval_EvalFrameDefault") ||
                            frame.function == "PyEval_EvalFrameEx")) {
        return true;
      }
    }
  }
  return false;
}

// A C frame native_calls.py's threads must show: of `function`, or of a file whose name starts
// with `library` (when not empty).
struct WantedFrame {
  std::string function;
  std::string library;
  bool Matches(const MergedFrame& frame) const {
    if (frame.python) return false;
    if (frame.function == function) return true;
    const std::string file = frame.library.substr(frame.library.rfind('/') + 1);
    return !library.empty() && absl::StartsWith(file, library);
  }
  std::string Describe() const {
    return library.empty() ? function : absl::StrCat(function, " (or any frame of ", library, "*)");
  }
};

struct MergeCase {
  std::string inner;  // the Python frame right above the C frames; "": none (top of the stack)
  std::string outer;  // the Python frame right below them
  std::vector<WantedFrame> wanted;
};

// native_calls.py's threads: libc's pause() and libffi's frames (ffi_call; libffi 3.3's ffi_call
// is a tail call to its static ffi_call_int, so only libffi's file tells it) right above the
// Python frame that made the ctypes call; the extension's native_call between the Python frame
// that called native_ext.call and the callback's.
std::vector<MergeCase> NativeCallsCases(bool with_extension) {
  std::vector<MergeCase> cases = {{"", "libc_inner", {{"pause", ""}, {"ffi_call", "libffi"}}}};
  if (with_extension) cases.push_back({"callback", "extension_call", {{"native_call", ""}}});
  return cases;
}

// What is wrong with `stacks` for `cases`. With `placed`, each case's wanted C frames stand
// between its two Python frames, and nothing else does but C frames; without, they are merely in
// the stack that has the outer Python frame.
std::vector<std::string> MergeProblems(const std::vector<MergedStack>& stacks,
                                       const std::vector<MergeCase>& cases, bool placed) {
  std::vector<std::string> problems;
  for (const MergeCase& c : cases) {
    const MergedStack* found = nullptr;
    size_t outer = 0;
    for (const MergedStack& stack : stacks) {
      for (size_t i = 0; i < stack.size() && found == nullptr; ++i) {
        if (stack[i].python && stack[i].function == c.outer) {
          found = &stack;
          outer = i;
        }
      }
    }
    if (found == nullptr) {
      problems.push_back("no thread has a Python frame of " + c.outer);
      continue;
    }
    size_t begin = 0, end = found->size();  // where the wanted C frames must be
    if (placed) {
      end = outer;
      begin = outer;
      while (begin > 0 && !(*found)[begin - 1].python) --begin;
      const std::string above = begin > 0 ? (*found)[begin - 1].function : "";
      if (above != c.inner) {
        problems.push_back(absl::StrCat(
            "right above the Python frame of ", c.outer, " and its C frames stands ",
            above.empty() ? "no Python frame" : "the Python frame of " + above, ", not ",
            c.inner.empty() ? "the top of the stack" : "the Python frame of " + c.inner));
        continue;
      }
    }
    std::vector<std::string> seen;
    for (size_t i = begin; i < end; ++i) {
      if (!(*found)[i].python) seen.push_back((*found)[i].function);
    }
    for (const WantedFrame& want : c.wanted) {
      if (std::none_of(found->begin() + begin, found->begin() + end,
                       [&](const MergedFrame& f) { return want.Matches(f); })) {
        problems.push_back(absl::StrCat(
            "no C frame of ", want.Describe(),
            placed ? absl::StrCat(" between the Python frames of ",
                                  c.inner.empty() ? "(top)" : c.inner, " and ", c.outer)
                   : " in the thread of " + c.outer,
            "; there: ", absl::StrJoin(seen, ", ")));
      }
    }
  }
  return problems;
}

TEST_P(Native, NativeCallsMatchFaulthandler) {
  const Interpreter& python = GetParam();
  ASSERT_TOOL(tool);
  bool with_extension = false;
  absl::StatusOr<std::unique_ptr<Target>> target = StartNativeCalls(python, &with_extension);
  ASSERT_TRUE(target.ok()) << target.status();
  std::string out;
  ASSERT_NO_FATAL_FAILURE(CheckPythonFramesMatchFaulthandler(tool, **target, &out));
  const std::vector<MergeCase> cases = NativeCallsCases(with_extension);
  std::vector<std::string> problems = MergeProblems(StacksOfText(out), cases, /*placed=*/true);
  if (!problems.empty()) {
    // Python frames stand where the interpreter loop's C frame does; when no C frame has the
    // loop's name (a stripped interpreter whose loop lies outside its dynamic symbols' ranges,
    // such as the hot/cold-split _PyEval_EvalFrameDefault of Debian's 3.13+), they follow the C
    // stack (snapshot/merged_stack.h). Then only the C frames' presence is checked.
    absl::StatusOr<RunResult> all = RunProgram(
        {tool, "--native-all", "--format=json", std::to_string((*target)->child.pid())},
        std::chrono::seconds(60));
    ASSERT_TRUE(all.ok()) << all.status();
    ASSERT_EQ(all->exit_code(), 0) << all->Describe();
    if (!LoopNamed(StacksOfJson(all->out))) {
      std::printf("[ skipped  ] %s: where native_calls.py's C frames stand among its Python "
                  "frames: no C frame is named _PyEval_EvalFrameDefault, the Python frames "
                  "follow the C stack\n",
                  python.name.c_str());
      problems = MergeProblems(StacksOfText(out), cases, /*placed=*/false);
    }
  }
  for (const std::string& problem : problems) ADD_FAILURE() << problem << ":\n" << out;
}

TEST_P(Native, NativeCallsCFramesAreGdbs) {
  const Interpreter& python = GetParam();
  ASSERT_TOOL(tool);
  if (python.InRoot()) GTEST_SKIP() << kGdbInRoot;  // see CFramesAreGdbs
  bool with_extension = false;
  absl::StatusOr<std::unique_ptr<Target>> target = StartNativeCalls(python, &with_extension);
  ASSERT_TRUE(target.ok()) << target.status();
  std::string json;
  ASSERT_NO_FATAL_FAILURE(CheckCFramesAreGdbs(tool, **target, &json));
  for (const std::string& problem :
       MergeProblems(StacksOfJson(json), NativeCallsCases(with_extension), /*placed=*/true)) {
    ADD_FAILURE() << problem << ":\n" << json;
  }
}

std::string NativeCaseName(const ::testing::TestParamInfo<Interpreter>& info) {
  return info.param.name;
}

// --native goes with the other ways to pick a target: --timeout (a tree, dumped to stderr) and
// --subprocesses.
TEST(NativeWith, TimeoutAndSubprocesses) {
  ASSERT_TOOL(tool);
  const Interpreter* python = AnyPython();
  ASSERT_NE(python, nullptr) << "no CPython in scope found";
  absl::StatusOr<RunResult> timed =
      RunProgram({tool, "--native", "--timeout", "1", "--kill-after", "1", "--", python->path,
                  "-c", "import time\ndef waits():\n    time.sleep(60)\nwaits()"},
                 std::chrono::seconds(60));
  ASSERT_TRUE(timed.ok()) << timed.status();
  EXPECT_EQ(timed->exit_code(), 124) << timed->Describe();
  // The sleeping function's Python frame, and a C frame of the C library under it.
  const size_t python_frame = timed->err.find("  File \"<string>\", line 3 in waits\n");
  const size_t c_frame = timed->err.rfind("  Binary file \"", python_frame);
  EXPECT_NE(python_frame, std::string::npos) << timed->err;
  EXPECT_NE(c_frame, std::string::npos) << timed->err;
  EXPECT_NE(timed->err.find("libc", c_frame), std::string::npos) << timed->err;

  absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(*python, "blocking.py", {});
  ASSERT_TRUE(target.ok()) << target.status();
  const pid_t pid = (*target)->child.pid();
  absl::StatusOr<RunResult> tree = RunProgram(
      {tool, "--native", "--subprocesses", std::to_string(pid)}, std::chrono::seconds(60));
  ASSERT_TRUE(tree.ok()) << tree.status();
  EXPECT_EQ(tree->exit_code(), 0) << tree->Describe();
  EXPECT_NE(tree->out.find(absl::StrCat("=== pid ", pid)), std::string::npos) << tree->out;
  EXPECT_NE(tree->out.find("  Binary file \""), std::string::npos) << tree->out;
  EXPECT_EQ(WaitUntilRunningUntraced(pid, std::chrono::seconds(1)), "");
}

INSTANTIATE_TEST_SUITE_P(Interpreters, Native, ::testing::ValuesIn(NativeInterpreters()),
                         NativeCaseName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Native);

}  // namespace
}  // namespace pystack_it
