// pystack-dump --core on cores of CPython 3.14+ killed by a fatal signal: after the Python
// threads, CPython's own crash handler (faulthandler, enabled with -X faulthandler) prints the
// C stack of the thread that received the signal (_Py_DumpStack):
//
//   Current thread's C stack trace (most recent call first):
//     Binary file "/usr/bin/python3.14", at _Py_DumpStack+0x4a [0x49b2f9]     <- the handler
//     Binary file "/usr/bin/python3.14" [0x53d28e]                            <- the handler
//     Binary file "/usr/lib/x86_64-linux-gnu/libc.so.6", at +0x406b0 [...]    <- the trampoline
//     Binary file "/usr/lib/x86_64-linux-gnu/libc.so.6", at +0x17a718 [...]   <- received the signal
//     ...
//
// The tool's report must end with the same paragraph from the frame that received the signal
// on, byte for byte (the handler's own frames and the signal trampoline are not the crashed
// program's), with "<truncated rest of calls>" exactly when the handler's 32-entry backtrace
// was full. The handler has 2 frames of its own in an optimized build, 3 in python3.14d (which
// keeps faulthandler_dump_c_stack as a function): they are the lines before the first one in
// another file than _Py_DumpStack's, the trampoline (glibc's __restore_rt) is the next.
//
// Targets (targets/core_*.py): a SIGSEGV in C code called from Python (ctypes.string_at(0)), an
// os.abort() in a worker thread (SIGABRT inside libc), and a SIGSEGV sent to a C thread parked in
// pause() (a signal received in a system call). Every 3.14+ interpreter found runs them (those of
// the Debian-unstable root: scripts/make-root unstable); without one, the test says so and skips.
// A core_pattern that pipes cores to a program (systemd-coredump, apport) skips them too.

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace pystack_it {
namespace {

namespace fs = std::filesystem;

constexpr auto kCrashTimeout = std::chrono::seconds(60);
constexpr auto kToolTimeout = std::chrono::seconds(60);
constexpr char kHeader[] = "\nCurrent thread's C stack trace (most recent call first):\n";
constexpr char kTruncated[] = "  <truncated rest of calls>";

std::string Trim(const std::string& s) { return std::string(absl::StripAsciiWhitespace(s)); }

// The interpreters whose crash handler prints the C stack: 3.14 and later.
std::vector<Interpreter> CrashStackInterpreters() {
  std::vector<Interpreter> found;
  for (const std::vector<Interpreter>* list :
       {&Interpreters().in_scope, &Interpreters().out_of_scope}) {
    for (const Interpreter& py : *list) {
      if (py.major > 3 || (py.major == 3 && py.minor >= 14)) found.push_back(py);
    }
  }
  return found;
}

struct Scenario {
  std::string name;
  std::string script;
  int signal;
};

const std::vector<Scenario>& Scenarios() {
  static const auto* s = new std::vector<Scenario>{
      {"segv", "core_segv.py", SIGSEGV},
      {"abort", "core_abort.py", SIGABRT},
      {"cthread", "core_cthread.py", SIGSEGV},
  };
  return *s;
}

struct Case {
  Interpreter python;
  Scenario scenario;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.python.path << " (" << c.python.Version() << "), " << c.scenario.script;
}

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (const Interpreter& py : CrashStackInterpreters()) {
    for (const Scenario& s : Scenarios()) cases.push_back({py, s});
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------
// The crash

// The core the kernel wrote for `pid`, started in `dir`, or "". Patterns with a directory or
// specifiers other than %p: any file of `dir` that names the pid, else any file called core*.
std::string FindCore(const std::string& dir, pid_t pid) {
  const std::string pattern = Trim(ReadFile("/proc/sys/kernel/core_pattern").value_or("core"));
  const bool uses_pid = Trim(ReadFile("/proc/sys/kernel/core_uses_pid").value_or("0")) == "1";
  const std::string pid_text = std::to_string(pid);
  std::string name = absl::StrReplaceAll(pattern, {{"%p", pid_text}, {"%%", "%"}});
  if (!absl::StrContains(pattern, "%p") && uses_pid) name += "." + pid_text;
  std::error_code ec;
  const fs::path path = absl::StartsWith(name, "/") ? fs::path(name) : fs::path(dir) / name;
  if (!absl::StrContains(name, "%") && fs::is_regular_file(path, ec)) return path.string();
  for (const fs::path& where : {path.parent_path(), fs::path(dir)}) {
    for (const auto& entry : fs::directory_iterator(where, ec)) {
      const std::string file = entry.path().filename().string();
      if (entry.is_regular_file(ec) && absl::StartsWith(file, "core") &&
          (absl::StrContains(file, pid_text) || where == fs::path(dir))) {
        return entry.path().string();
      }
    }
  }
  return "";
}

struct Crash {
  std::unique_ptr<TempDir> dir = std::make_unique<TempDir>();
  std::string core;
  std::string report;  // the handler's stderr
};

// `python -B -X faulthandler TARGETS/script DIR` in DIR with core dumps enabled, to its death.
// The shell execs the interpreter (and scripts/in-root execs all the way to it): the pid the
// kernel names the core after is the one RunProgram waited for.
absl::StatusOr<Crash> RunCrash(const Interpreter& py, const Scenario& scenario, pid_t* pid) {
  absl::StatusOr<std::string> targets = TargetsDir();
  if (!targets.ok()) return targets.status();
  Crash crash;
  const std::string& dir = crash.dir->path();
  const std::string pid_file = dir + "/pid";
  const std::vector<std::string> argv = {
      "/bin/sh", "-c",
      "ulimit -c unlimited 2>/dev/null || ulimit -c \"$(ulimit -H -c)\"; cd \"$1\" || exit 125; "
      "echo $$ > \"$4\"; exec \"$2\" -B -X faulthandler \"$3\" \"$1\"",
      "sh", dir, py.path, *targets + "/" + scenario.script, pid_file};
  absl::StatusOr<RunResult> r = RunProgram(argv, kCrashTimeout);
  if (!r.ok()) return r.status();
  const std::string what = absl::StrCat(scenario.script, " under ", py.path);
  if (r->timed_out) return absl::DeadlineExceededError(what + " did not die within 60 s");
  if (r->term_signal() != scenario.signal) {
    return absl::InternalError(absl::StrCat(what, " did not die of signal ", scenario.signal,
                                            ": ", r->Describe()));
  }
  crash.report = r->err;
  *pid = std::atoi(ReadFile(pid_file).value_or("0").c_str());
  crash.core = FindCore(dir, *pid);
  if (crash.core.empty()) {
    return absl::InternalError(absl::StrCat(what, " died of ", strsignal(scenario.signal),
                                            " but left no core in ", dir,
                                            " (RLIMIT_CORE's hard limit? core_pattern?)"));
  }
  return crash;
}

// ---------------------------------------------------------------------------------------------
// The handler's paragraph

struct HandlerStack {
  std::string before;                   // the report up to the paragraph (the Python threads)
  std::vector<std::string> lines;       // one per entry of backtrace(), the handler's included
  bool truncated = false;
  std::string after;                    // what follows (3.10+'s "Extension modules:", if any)
};

std::optional<HandlerStack> SplitReport(const std::string& report) {
  const size_t at = report.find(kHeader);
  if (at == std::string::npos) return std::nullopt;
  HandlerStack stack;
  stack.before = report.substr(0, at);  // kHeader begins with the blank line's newline
  std::string rest = report.substr(at + std::string(kHeader).size());
  if (const size_t end = rest.find("\n\n"); end != std::string::npos) {
    stack.after = rest.substr(end + 1);
    rest = rest.substr(0, end + 1);
  }
  for (absl::string_view line : absl::StrSplit(rest, '\n', absl::SkipEmpty())) {
    if (line == kTruncated) {
      stack.truncated = true;
    } else {
      stack.lines.emplace_back(line);
    }
  }
  return stack;
}

// The handler's own entries: _Py_DumpStack and its callers in the same file.
size_t HandlerFrames(const HandlerStack& stack) {
  if (stack.lines.empty()) return 0;
  const std::string file = BinaryFileOf(stack.lines[0]);
  size_t n = 0;
  while (n < stack.lines.size() && BinaryFileOf(stack.lines[n]) == file) ++n;
  return n;
}

// The paragraph as the tool must print it: from the frame that received the signal on.
std::string ExpectedParagraph(const HandlerStack& stack, size_t handler_frames) {
  std::string out = kHeader;
  for (size_t i = handler_frames + 1; i < stack.lines.size(); ++i) out += stack.lines[i] + "\n";
  if (stack.truncated) absl::StrAppend(&out, kTruncated, "\n");
  return out;
}

// ---------------------------------------------------------------------------------------------

class CrashCStack : public ::testing::TestWithParam<Case> {};

TEST_P(CrashCStack, MatchesTheCrashHandlersCStack) {
  const Case& c = GetParam();
  ASSERT_TOOL(tool);
  const std::string pattern = Trim(ReadFile("/proc/sys/kernel/core_pattern").value_or("core"));
  if (absl::StartsWith(pattern, "|")) {
    GTEST_SKIP() << "core_pattern pipes cores to a program ('" << pattern
                 << "'): this test cannot get at them. NOT TESTED: the crash handler's C stack.";
  }
  pid_t pid = 0;
  absl::StatusOr<Crash> crash = RunCrash(c.python, c.scenario, &pid);
  ASSERT_TRUE(crash.ok()) << crash.status();
  std::optional<HandlerStack> handler = SplitReport(crash->report);
  ASSERT_TRUE(handler.has_value()) << "no C stack in the handler's report:\n"
                                   << Printable(crash->report);
  const size_t handler_frames = HandlerFrames(*handler);
  ASSERT_TRUE(handler_frames == 2 || handler_frames == 3) << Printable(crash->report);
  ASSERT_GT(handler->lines.size(), handler_frames + 1) << Printable(crash->report);
  EXPECT_TRUE(absl::StrContains(handler->lines[0], ", at _Py_DumpStack+0x"))
      << Printable(crash->report);
  EXPECT_TRUE(absl::StrContains(handler->lines[handler_frames], "/libc.so.6\", at +0x"))
      << "not glibc's __restore_rt:\n" << Printable(crash->report);
  const std::string expected_paragraph = ExpectedParagraph(*handler, handler_frames);

  std::vector<std::string> argv = {tool, "--core", crash->core};
  if (c.python.InRoot()) argv.insert(argv.end(), {"--sysroot", c.python.root});
  absl::StatusOr<RunResult> r = RunProgram(argv, kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  const size_t at = r->out.find(kHeader);
  ASSERT_NE(at, std::string::npos) << "no C stack in the tool's report; expected it to end with"
                                   << Printable(expected_paragraph) << "\n"
                                   << r->Describe();
  const std::string paragraph = r->out.substr(at);
  EXPECT_TRUE(paragraph == expected_paragraph)
      << DescribeMismatch(expected_paragraph, paragraph);
  // The whole report: the Python threads before it, as in CoreTest (which leaves out 3.10+'s
  // "Extension modules:" paragraph too; none of the targets loads one).
  const std::string expected = handler->before + expected_paragraph;
  EXPECT_TRUE(r->out == expected) << DescribeMismatch(expected, r->out);
  EXPECT_EQ(r->err, "") << Printable(r->err);
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  return info.param.python.name + "_" + info.param.scenario.name;
}

INSTANTIATE_TEST_SUITE_P(Interpreters, CrashCStack, ::testing::ValuesIn(AllCases()), CaseName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CrashCStack);

// Says why nothing ran, rather than passing silently.
TEST(CrashCStackDiscovery, FindsInterpreters) {
  if (CrashStackInterpreters().empty()) {
    std::string roots;
    for (const std::string& root : Interpreters().roots) absl::StrAppend(&roots, "\n  ", root);
    GTEST_SKIP() << "no CPython 3.14 or later found (build the Debian-unstable root: "
                    "scripts/make-root unstable): NOT TESTED: the crash handler's C stack."
                 << roots;
  }
}

}  // namespace
}  // namespace pystack_it
