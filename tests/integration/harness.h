// Support for pystack-dump's integration tests: child processes that are always killed and reaped,
// running the tool with a deadline, finding CPython interpreters, starting the target scripts of
// tests/integration/targets/ and reading back the dump CPython's faulthandler wrote, checking the
// threads of a process in /proc, showing where two dumps differ, and reporting which interpreters
// a suite covered.
//
// Only the standard library, gtest and absl: nothing from src/, so the tests judge the binary from
// the outside. Every wait here has a deadline.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace pystack_it {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The CPython versions (major, minor) the dump tests run against. The target scripts keep to 3.6
// syntax; 2.7 runs their py2_*.py twins, which build their expected dump themselves.
inline constexpr std::array<std::pair<int, int>, 11> kVersionsInScope = {
    {{2, 7}, {3, 6}, {3, 7}, {3, 8}, {3, 9}, {3, 10}, {3, 11}, {3, 12}, {3, 13}, {3, 14}, {3, 15}}};

// ---------------------------------------------------------------------------------------------
// File descriptors and child processes

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Where a child's standard stream goes.
struct Stdio {
  enum class Kind { kNull, kPipe, kFile, kInherit };
  Kind kind = Kind::kNull;
  std::string path;  // kFile: created or truncated
  static Stdio Null() { return {}; }
  static Stdio Pipe() { return {Kind::kPipe, ""}; }
  static Stdio File(std::string p) { return {Kind::kFile, std::move(p)}; }
  static Stdio Inherit() { return {Kind::kInherit, ""}; }
};

// A child process. It is sent SIGKILL and reaped when the object goes away, on every path.
class Child {
 public:
  Child() = default;
  Child(Child&& other) noexcept { *this = std::move(other); }
  Child& operator=(Child&& other) noexcept;
  ~Child() { Kill(); }

  pid_t pid() const { return pid_; }
  int in() const { return in_.get(); }    // write end of its stdin, when Stdio::Pipe()
  int out() const { return out_.get(); }  // read end of its stdout, when Stdio::Pipe()
  int err() const { return err_.get(); }  // read end of its stderr, when Stdio::Pipe()
  void CloseIn() { in_.reset(); }

  // True once the child has exited (it is then reaped and status() holds the wait status).
  bool Exited();
  // Waits until the child exits or `timeout` passes; the wait status, or nullopt on timeout.
  std::optional<int> Wait(Clock::duration timeout);
  // SIGKILL, then reap (bounded); nothing if already reaped.
  void Kill();
  std::optional<int> status() const { return reaped_ ? std::optional<int>(status_) : std::nullopt; }

 private:
  friend absl::StatusOr<Child> Spawn(const std::vector<std::string>&, Stdio, Stdio, Stdio,
                                     const std::vector<std::string>&);
  friend Child AdoptChild(pid_t pid);
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  UniqueFd in_, out_, err_;
};

// Starts argv[0] (looked up in PATH when it has no slash) with the given streams; `env` entries
// ("NAME=value") are added to (or replace those of) this process's environment.
absl::StatusOr<Child> Spawn(const std::vector<std::string>& argv, Stdio in = Stdio::Null(),
                            Stdio out = Stdio::Null(), Stdio err = Stdio::Null(),
                            const std::vector<std::string>& env = {});

// Takes ownership of a child made by fork().
Child AdoptChild(pid_t pid);

// The result of running a program to its end.
struct RunResult {
  bool timed_out = false;
  int status = 0;  // wait status
  std::string out, err;

  bool exited() const;
  int exit_code() const;  // -1 unless exited()
  bool signaled() const;
  int term_signal() const;  // 0 unless signaled()
  std::string DescribeStatus() const;
  std::string Describe() const;  // status, stdout and stderr, for failure messages
};

// Runs argv to its end, collecting stdout and stderr; kills it after `timeout`.
absl::StatusOr<RunResult> RunProgram(const std::vector<std::string>& argv, Clock::duration timeout,
                                     const std::vector<std::string>& env = {});

// ---------------------------------------------------------------------------------------------
// Files and directories

std::optional<std::string> ReadFile(const std::string& path);
// Writes `data` to `path` (replacing it); false when it could not.
bool WriteFile(const std::string& path, const std::string& data);

// A fresh directory under /tmp, removed with its contents on destruction (kept when the
// environment has PYSTACK_IT_KEEP=1, for looking at a failure).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The pystack-dump binary from $PYSTACK_DUMP, or an error saying what is wrong with it.
absl::StatusOr<std::string> ToolPath();

// In a test: `const std::string& var` = ToolPath(), or the test fails (and returns) saying why.
#define ASSERT_TOOL(var)                                           \
  absl::StatusOr<std::string> var##_or = ::pystack_it::ToolPath(); \
  ASSERT_TRUE(var##_or.ok()) << var##_or.status().message();       \
  const std::string& var = *var##_or

// tests/integration/targets/: $PYSTACK_IT_TARGETS, else next to the test binary's
// ../tests/integration/targets, else beside this source file.
absl::StatusOr<std::string> TargetsDir();

// ---------------------------------------------------------------------------------------------
// Interpreters

struct Interpreter {
  // What to run. For an interpreter of a Debian root (scripts/make-root), a wrapper that runs it
  // inside that root as a container would (scripts/in-root): its files are then reachable from
  // the host only under `root`, and only through /proc/PID/root for a running target.
  std::string path;
  std::string root;        // the Debian root it runs in; empty for the host's own
  std::string inner_path;  // its path inside `root`
  bool debug = false;      // a debug build (python3.14d)
  bool free_threaded = false;  // a free-threaded build (python3.13t, scripts/build-free-threaded)
  int major = 0, minor = 0, micro = 0;
  std::string name;  // e.g. "py3_12_1", "py3_14_10d", "py3_13_5t" (a suffix "_2", "_3" when two share a version)
  std::string Version() const;  // "3.14.10", "3.14.10d" for a debug build, "3.13.5t" free-threaded
  bool InScope() const;
  bool InRoot() const { return !root.empty(); }
};

// For gtest's messages about parameterized tests: "/path/to/python (3.9.18)".
void PrintTo(const Interpreter& python, std::ostream* os);

struct Discovery {
  std::vector<Interpreter> in_scope;  // sorted by version, then path
  std::vector<Interpreter> out_of_scope;
  std::vector<std::string> problems;  // interpreters that could not tell their version
  std::string pyenv_root;
  // The Debian roots looked for (BUILD/roots/NAME), each with what was found or why not.
  std::vector<std::string> roots;
};

// scripts/in-root (runs a program inside a Debian root), or why it cannot be found.
absl::StatusOr<std::string> InRootScript();

// A core of the running target `pid` of `python`, made by gdb's gcore (that of the interpreter's
// Debian root when it has one, run inside it; else the host's) as DIR/gcore.PID: its path, or
// why it could not be made.
absl::StatusOr<std::string> GcoreOf(const Interpreter& python, pid_t pid, const std::string& dir);

// Every $(pyenv root)/versions/*/bin/python, /usr/bin/python3.N, each $PYSTACK_IT_PYTHON (paths
// separated by ':'), and every python2.7, python3.N and python3.Nd of the Debian roots built by
// scripts/make-root under BUILD/roots (BUILD: the directory of the test binary), each asked its
// version once. Computed on first use, then cached.
const Discovery& Interpreters();

// ---------------------------------------------------------------------------------------------
// Targets

// A running target script (tests/integration/targets/SCRIPT) that has parked its threads.
struct Target {
  TempDir dir;  // destroyed last: after the child is dead
  Child child;
  std::string mode;      // the ready marker's first word: "watchdog", "sync" or "idle"
  std::string expected;  // the dump to reproduce ("watchdog": without its Timeout line)
  // Parts of the scenario this interpreter cannot run (too old), one line each, as the target
  // wrote them to DIR/skipped (pd_common.skip_feature): reported, never silent.
  std::vector<std::string> skipped_features;
};

// A target started by a command other than `python -B TARGETS/SCRIPT` (a copied, stripped,
// static or embedding interpreter, another mount namespace): `command`, then the target's
// directory, then `args`; `env` entries are added to (or replace) this process's environment.
struct TargetCommand {
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string description;  // for messages, e.g. "blocking.py under a stripped 3.9.18"
  bool pipes = false;       // see StartTarget
};

// Starts `python -B TARGETS/script DIR args...` and waits (bounded) until it is parked and,
// unless idle, its expected dump is complete. With `pipes`, the target's stdin and stdout are
// pipes (Target::child.in()/out()); otherwise stdin is /dev/null and stdout goes to a file.
// Errors carry the target's stderr.
absl::StatusOr<std::unique_ptr<Target>> StartTarget(const Interpreter& python,
                                                    const std::string& script,
                                                    const std::vector<std::string>& args,
                                                    bool pipes = false,
                                                    const std::vector<std::string>& env = {});

// `python -B TARGETS/script` for `python` (in its Debian root, when it has one): the command of a
// checker or of a target run by something else (--timeout).
std::vector<std::string> TargetScriptCommand(const Interpreter& python, const std::string& script);

// The newest interpreter in scope, for tests that need any Python process; nullptr when none.
const Interpreter* AnyPython();

// In a test: `Target& var`, targets/echo.py with `threads` parked threads (plus its echo and
// main threads) under AnyPython(), its stdin and stdout pipes; or the test fails saying why.
#define ASSERT_ECHO_TARGET(var, threads)                                                     \
  const Interpreter* var##_python = ::pystack_it::AnyPython();                              \
  ASSERT_NE(var##_python, nullptr) << "no CPython in scope found (see Discovery)";          \
  absl::StatusOr<std::unique_ptr<::pystack_it::Target>> var##_or = ::pystack_it::StartTarget( \
      *var##_python, "echo.py", {std::to_string(threads)}, /*pipes=*/true);                \
  ASSERT_TRUE(var##_or.ok()) << var##_or.status();                                          \
  ::pystack_it::Target& var = **var##_or

// StartTarget for any command (TargetCommand).
absl::StatusOr<std::unique_ptr<Target>> StartTargetCommand(const TargetCommand& command);

// Writes `token` and a newline to the target's stdin and waits for the same line on its stdout
// (targets/echo.py), proof that the process runs.
absl::Status EchoCheck(Child& target, const std::string& token, Clock::duration timeout);

// ---------------------------------------------------------------------------------------------
// Threads of a process

struct ThreadInfo {
  pid_t tid = 0;
  char state = '?';  // from /proc/PID/task/TID/stat
  pid_t tracer = 0;  // TracerPid from /proc/PID/task/TID/status
};

// The threads of `pid`; an error when the process is gone.
absl::StatusOr<std::vector<ThreadInfo>> Threads(pid_t pid);

// "" when every thread of `pid` runs (state neither 't' nor 'T') and is traced by nobody;
// otherwise a description of the offenders. Polls until that holds or `timeout` passes.
std::string WaitUntilRunningUntraced(pid_t pid, Clock::duration timeout);

// ---------------------------------------------------------------------------------------------
// Output comparison

// Bytes outside printable ASCII as \xNN (newlines kept), for showing output in messages.
std::string Printable(const std::string& bytes);

// Expected and actual in full, then a unified-diff-like view of their lines.
std::string DescribeMismatch(const std::string& expected, const std::string& actual);

// A dump without the lines --native adds: the C frames (`  Binary file ...`), where a C stack
// ends early and why Python frames stand after it (`  <pystack-dump: C stack...`). What is left
// is what the dump without --native would be.
std::string WithoutNativeLines(const std::string& dump);

// The file a C line names (`  Binary file "NAME"...`, the form of 3.14's crash handler and of
// --native); "" for another line or '<unknown>'.
std::string BinaryFileOf(const std::string& line);

// True when `err` is exactly one line that starts with "pystack-dump: error: ".
bool IsOneErrorLine(const std::string& err);

// ---------------------------------------------------------------------------------------------
// Coverage reports

// The tests of one suite passed and run, per interpreter. After all tests, when any was counted,
// prints "[ coverage ] TITLE:" and a line per interpreter in scope: its name, its path and
// "PASSED/RUN passed" or "not run".
class InterpreterCoverage : public ::testing::Environment {
 public:
  explicit InterpreterCoverage(std::string title) : title_(std::move(title)) {}
  // One more test run on `interpreter` (Interpreter::name); call it from the test's TearDown.
  void Count(const std::string& interpreter, bool passed);
  void TearDown() override;

 private:
  std::string title_;
  std::map<std::string, std::pair<int, int>> tally_;  // interpreter -> (passed, run)
};

// A new InterpreterCoverage, registered as a global test environment (gtest owns it). Call it
// while the test program starts, as a namespace-scope constant's initializer.
InterpreterCoverage* AddInterpreterCoverage(std::string title);

}  // namespace pystack_it
