// Every failure a clear answer (one line "pystack-dump: error: ... (hint: ...)", the documented
// exit code) and the target left as it was found: output that cannot be written, processes that
// exit at a chosen moment (the tool's PYSTACK_DUMP_TEST_PAUSE_AT/_MS hooks widen each window, so
// the races are driven, not hoped for), a runtime without an interpreter, two dumps of one
// process at once, a thread that cannot stop, a target stopped by SIGSTOP, one traced by strace.

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace pystack_it {
namespace {

namespace fs = std::filesystem;

constexpr int kExitInternal = 1;
constexpr int kExitAlreadyTraced = 5;
constexpr int kExitNotPython = 6;
constexpr int kExitProcessExited = 8;
constexpr int kExitStopTimedOut = 11;
constexpr auto kToolTimeout = std::chrono::seconds(30);
constexpr int kParkedThreads = 4;

// One error line, the exit code, a mention, and a hint.
void ExpectError(const RunResult& r, int code, const std::string& mention) {
  EXPECT_EQ(r.exit_code(), code) << r.Describe();
  EXPECT_TRUE(IsOneErrorLine(r.err)) << Printable(r.err);
  EXPECT_TRUE(absl::StrContains(r.err, mention)) << "no '" << mention << "' in " << Printable(r.err);
  EXPECT_TRUE(absl::StrContains(r.err, " (hint: ")) << "no hint in " << Printable(r.err);
}

void ExpectStillRunning(Target& target) {
  EXPECT_EQ(WaitUntilRunningUntraced(target.child.pid(), std::chrono::seconds(2)), "");
  absl::Status echo = EchoCheck(target.child, "still alive", std::chrono::seconds(5));
  EXPECT_TRUE(echo.ok()) << echo;
}

// `tool ARGS` through /bin/sh with stdout redirected as `redirect` says ("> /dev/full", ">&-").
absl::StatusOr<RunResult> RunRedirected(const std::string& tool, const std::vector<std::string>& args,
                                        const std::string& redirect) {
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$@\" " + redirect, "sh", tool};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, kToolTimeout);
}

bool WaitForFile(const std::string& path, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (fs::exists(path)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// ---- 1. Output that cannot be written ----

TEST(Failures, OutputThatCannotBeWrittenIsAnError) {
  ASSERT_TOOL(tool);
  ASSERT_ECHO_TARGET(target, kParkedThreads);
  const std::string pid = std::to_string(target.child.pid());
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{pid}, {"--format=json", pid}, {"--help"}}) {
    SCOPED_TRACE(args.front());
    absl::StatusOr<RunResult> full = RunRedirected(tool, args, "> /dev/full");
    ASSERT_TRUE(full.ok()) << full.status();
    ExpectError(*full, kExitInternal, "No space left on device");
    absl::StatusOr<RunResult> closed = RunRedirected(tool, args, ">&-");
    ASSERT_TRUE(closed.ok()) << closed.status();
    ExpectError(*closed, kExitInternal, "standard output is closed");
  }
  ExpectStillRunning(target);
}

// ---- 2. Processes that have exited, or exit during the dump ----

TEST(Failures, AZombieHasExited) {
  ASSERT_TOOL(tool);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(0);
  Child zombie = AdoptChild(pid);  // not reaped until the end of the test
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline) {
    absl::StatusOr<std::vector<ThreadInfo>> threads = Threads(pid);
    if (threads.ok() && !threads->empty() && threads->front().state == 'Z') break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  absl::StatusOr<RunResult> r = RunProgram({tool, std::to_string(pid)}, kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectError(*r, kExitProcessExited, "zombie");
}

// A Python process that exits 0.5 s after it is ready and is not reaped: the tool reads its maps,
// then (told by the hook) waits 1.5 s before looking for its runtime.
TEST(Failures, AProcessExitingBeforeItsRuntimeIsReadExited) {
  ASSERT_TOOL(tool);
  const Interpreter* python = AnyPython();
  ASSERT_NE(python, nullptr) << "no CPython in scope found (see Discovery)";
  for (const bool tree : {false, true}) {
    SCOPED_TRACE(tree ? "--subprocesses" : "PID");
    TempDir dir;
    const std::string ready = dir.path() + "/ready";
    absl::StatusOr<Child> target =
        Spawn({python->path, "-c",
               "import sys, time; open(sys.argv[1], 'w').close(); time.sleep(0.5)", ready});
    ASSERT_TRUE(target.ok()) << target.status();
    ASSERT_TRUE(WaitForFile(ready, std::chrono::seconds(30))) << "the target did not start";
    std::vector<std::string> argv = {tool};
    if (tree) argv.push_back("--subprocesses");
    argv.push_back(std::to_string(target->pid()));
    absl::StatusOr<RunResult> r = RunProgram(
        argv, kToolTimeout, {"PYSTACK_DUMP_TEST_PAUSE_AT=runtime", "PYSTACK_DUMP_TEST_PAUSE_MS=1500"});
    ASSERT_TRUE(r.ok()) << r.status();
    if (!tree) {
      ExpectError(*r, kExitProcessExited, "exited during the dump");
    } else {
      EXPECT_TRUE(absl::StrContains(r->out, "(exited before it could be dumped)")) << r->Describe();
    }
  }
}

// ---- 3. A CPython runtime without an interpreter: starting up, or shut down ----

// targets/embed_states.c built against the libpython of the first interpreter of the host (not
// of a Debian root: its headers and libraries are not the host's) that has a python-config.
absl::StatusOr<std::string> BuildEmbedStates(const std::string& dir) {
  absl::StatusOr<std::string> targets = TargetsDir();
  if (!targets.ok()) return targets.status();
  for (const Interpreter& py : Interpreters().in_scope) {
    if (py.InRoot() || py.major != 3 || py.minor < 8) continue;
    std::string config = fs::path(py.path).parent_path().string() + "/python-config";
    if (access(config.c_str(), X_OK) != 0) config = py.path + "-config";
    if (access(config.c_str(), X_OK) != 0) continue;
    absl::StatusOr<RunResult> flags =
        RunProgram({config, "--cflags", "--ldflags", "--embed"}, std::chrono::seconds(20));
    if (!flags.ok() || flags->exit_code() != 0) continue;
    const std::string exe = dir + "/embed_states";
    std::vector<std::string> build = {"gcc", "-o", exe, *targets + "/embed_states.c", "-pthread"};
    for (absl::string_view flag :
         absl::StrSplit(flags->out, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
      build.emplace_back(flag);
    }
    absl::StatusOr<RunResult> built = RunProgram(build, std::chrono::seconds(120));
    if (!built.ok()) return built.status();
    if (built->exit_code() != 0) return absl::InternalError(built->Describe());
    std::cout << "[ covered  ] embed_states built against " << py.path << " (" << py.Version()
              << ")\n";
    return exe;
  }
  return absl::NotFoundError("no interpreter of this machine with a python-config (3.8+)");
}

// The program, started in `mode`, once it is in that state.
absl::StatusOr<Child> StartEmbedStates(const std::string& exe, const std::string& mode,
                                       const std::string& dir) {
  const std::string ready = dir + "/ready-" + mode;
  absl::StatusOr<Child> child = Spawn({exe, mode, ready}, Stdio::Null(), Stdio::Null(),
                                      Stdio::Inherit());
  if (!child.ok()) return child.status();
  if (!WaitForFile(ready, std::chrono::seconds(30))) {
    return absl::DeadlineExceededError(absl::StrCat("embed_states ", mode, " did not get ready"));
  }
  return child;
}

TEST(Failures, ARuntimeWithoutAnInterpreterRunsNoPython) {
  ASSERT_TOOL(tool);
  TempDir dir;
  absl::StatusOr<std::string> exe = BuildEmbedStates(dir.path());
  if (absl::IsNotFound(exe.status())) GTEST_SKIP() << exe.status().message();
  ASSERT_TRUE(exe.ok()) << exe.status();
  for (const std::string mode : {"before-init", "after-finalize"}) {
    SCOPED_TRACE(mode);
    absl::StatusOr<Child> target = StartEmbedStates(*exe, mode, dir.path());
    ASSERT_TRUE(target.ok()) << target.status();
    for (const std::string format : {"--format=faulthandler", "--format=json"}) {
      absl::StatusOr<RunResult> r =
          RunProgram({tool, format, std::to_string(target->pid())}, kToolTimeout);
      ASSERT_TRUE(r.ok()) << r.status();
      ExpectError(*r, kExitNotPython, "runs no Python code now");
      EXPECT_EQ(r->out, "") << r->Describe();
    }
    EXPECT_EQ(WaitUntilRunningUntraced(target->pid(), std::chrono::seconds(2)), "");
  }
}

// ---- 4. Two dumps of one process at once ----

struct Timed {
  absl::StatusOr<RunResult> result = absl::UnknownError("not run");
  std::chrono::milliseconds took{0};
};

Timed RunTimed(const std::vector<std::string>& argv, const std::vector<std::string>& env = {}) {
  Timed out;
  const auto start = Clock::now();
  out.result = RunProgram(argv, kToolTimeout, env);
  out.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return out;
}

// A dump of `pid` that holds it `hold_ms` between stopping and reading it (the hook), on a thread
// of its own; its result goes to `result` once the thread is joined.
std::thread StartHoldingDump(const std::string& tool, pid_t pid, int hold_ms, Timed& result) {
  return std::thread([&result, tool, pid, hold_ms] {
    result = RunTimed({tool, std::to_string(pid)},
                      {"PYSTACK_DUMP_TEST_PAUSE_AT=held",
                       absl::StrCat("PYSTACK_DUMP_TEST_PAUSE_MS=", hold_ms)});
  });
}

// True once the first thread of `pid` shows a tracer (the holding dump has it), within 10 s.
bool WaitUntilTraced(pid_t pid) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    absl::StatusOr<std::vector<ThreadInfo>> threads = Threads(pid);
    if (threads.ok() && !threads->empty() && threads->front().tracer != 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// The first dump holds the target (the hook: 800 ms between stopping and reading it); a second
// dump started meanwhile waits for it and succeeds too.
TEST(Failures, ASecondDumpWaitsForTheFirst) {
  ASSERT_TOOL(tool);
  ASSERT_ECHO_TARGET(target, kParkedThreads);
  const std::string pid = std::to_string(target.child.pid());
  Timed first;
  std::thread holder = StartHoldingDump(tool, target.child.pid(), 800, first);
  const bool held = WaitUntilTraced(target.child.pid());
  Timed second = RunTimed({tool, pid});
  holder.join();
  ASSERT_TRUE(held) << "the first dump never held the target";
  ASSERT_TRUE(first.result.ok()) << first.result.status();
  ASSERT_TRUE(second.result.ok()) << second.result.status();
  EXPECT_EQ(first.result->exit_code(), 0) << first.result->Describe();
  EXPECT_EQ(second.result->exit_code(), 0) << second.result->Describe();
  EXPECT_EQ(second.result->err, "") << Printable(second.result->err);
  EXPECT_EQ(first.result->out, second.result->out);
  ExpectStillRunning(target);
}

TEST(Failures, ASecondDumpThatCannotWaitNamesTheFirst) {
  ASSERT_TOOL(tool);
  ASSERT_ECHO_TARGET(target, kParkedThreads);
  const std::string pid = std::to_string(target.child.pid());
  Timed first;
  std::thread holder = StartHoldingDump(tool, target.child.pid(), 3000, first);
  const bool held = WaitUntilTraced(target.child.pid());
  Timed second = RunTimed({tool, "--attach-timeout=0.3", pid});
  holder.join();
  ASSERT_TRUE(held) << "the first dump never held the target";
  ASSERT_TRUE(second.result.ok()) << second.result.status();
  ExpectError(*second.result, kExitAlreadyTraced, "is held by another pystack-dump (PID ");
  EXPECT_TRUE(absl::StrContains(second.result->err, "--attach-timeout")) << Printable(second.result->err);
  ASSERT_TRUE(first.result.ok()) << first.result.status();
  EXPECT_EQ(first.result->exit_code(), 0) << first.result->Describe();
  ExpectStillRunning(target);
}

// ---- 7. A thread that cannot stop; a target found stopped; another tracer ----

TEST(Failures, AThreadThatCannotStopTimesOut) {
  ASSERT_TOOL(tool);
  TempDir dir;
  absl::StatusOr<std::string> exe = BuildEmbedStates(dir.path());
  if (absl::IsNotFound(exe.status())) GTEST_SKIP() << exe.status().message();
  ASSERT_TRUE(exe.ok()) << exe.status();
  absl::StatusOr<Child> target = StartEmbedStates(*exe, "vfork-thread", dir.path());
  ASSERT_TRUE(target.ok()) << target.status();
  absl::StatusOr<RunResult> r =
      RunProgram({tool, "--attach-timeout=0.3", std::to_string(target->pid())}, kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectError(*r, kExitStopTimedOut, "timed out waiting for thread");
  EXPECT_TRUE(absl::StrContains(r->err, "state D")) << Printable(r->err);
  EXPECT_EQ(r->out, "");
  // The threads that stopped were let go; the one in vfork() is traced by nobody once we exit.
  EXPECT_EQ(WaitUntilRunningUntraced(target->pid(), std::chrono::seconds(2)), "");
}

TEST(Failures, ATargetFoundStoppedIsLeftStopped) {
  ASSERT_TOOL(tool);
  ASSERT_ECHO_TARGET(target, kParkedThreads);
  const pid_t pid = target.child.pid();
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  auto all_stopped = [pid] {
    absl::StatusOr<std::vector<ThreadInfo>> threads = Threads(pid);
    if (!threads.ok()) return false;
    for (const ThreadInfo& t : *threads) {
      if (t.state != 'T' || t.tracer != 0) return false;
    }
    return true;
  };
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (!all_stopped() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(all_stopped()) << "SIGSTOP did not stop every thread";
  absl::StatusOr<RunResult> r = RunProgram({tool, std::to_string(pid)}, kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  EXPECT_TRUE(absl::StrContains(r->out, "echo.py")) << r->Describe();
  // As found: every thread stopped (group-stop, 'T'), traced by nobody.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(all_stopped()) << "the dump let a stopped target run";
  ASSERT_EQ(kill(pid, SIGCONT), 0);
  ExpectStillRunning(target);
}

TEST(Failures, AnotherTracerIsNamed) {
  ASSERT_TOOL(tool);
  if (access("/usr/bin/strace", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/strace (apt install strace)";
  ASSERT_ECHO_TARGET(target, kParkedThreads);
  const pid_t pid = target.child.pid();
  absl::StatusOr<Child> strace = Spawn({"/usr/bin/strace", "-f", "-o", "/dev/null", "-p",
                                        std::to_string(pid)});
  ASSERT_TRUE(strace.ok()) << strace.status();
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  bool traced = false;
  while (!traced && Clock::now() < deadline) {
    absl::StatusOr<std::vector<ThreadInfo>> threads = Threads(pid);
    traced = threads.ok() && !threads->empty();
    for (const ThreadInfo& t : threads.ok() ? *threads : std::vector<ThreadInfo>{}) {
      traced = traced && t.tracer == strace->pid();
    }
    if (!traced) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(traced) << "strace did not attach to every thread";
  absl::StatusOr<RunResult> r = RunProgram({tool, std::to_string(pid)}, kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectError(*r, kExitAlreadyTraced,
              absl::StrCat("already traced by strace (PID ", strace->pid(), ")"));
  EXPECT_EQ(r->out, "");
  // strace detaches on SIGTERM; the target runs on, as found.
  ASSERT_EQ(kill(strace->pid(), SIGTERM), 0);
  strace->Wait(std::chrono::seconds(10));
  ExpectStillRunning(target);
}

// ---- 6. Errors that must carry a hint ----

TEST(Failures, ErrorsCarryAHint) {
  ASSERT_TOOL(tool);
  absl::StatusOr<RunResult> tree = RunProgram({tool, "--subprocesses", "4000000"}, kToolTimeout);
  ASSERT_TRUE(tree.ok()) << tree.status();
  ExpectError(*tree, 3, "no such process: 4000000");
  absl::StatusOr<RunResult> zero = RunProgram({tool, "--core", "/dev/zero"}, kToolTimeout);
  ASSERT_TRUE(zero.ok()) << zero.status();
  ExpectError(*zero, 10, "/dev/zero");
}

}  // namespace
}  // namespace pystack_it
