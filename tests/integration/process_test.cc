// pystack-dump and the process it stops: another tracer already holding it, no permission, and
// pystack-dump itself killed in the middle of a dump. In every case the target must be left
// running (no thread stopped, none traced by pystack-dump) and still working: targets/echo.py
// echoes a line from its stdin through a non-daemon thread.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ostream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace pystack_it {
namespace {

constexpr int kExitPermissionDenied = 4;
constexpr int kExitAlreadyTraced = 5;

constexpr int kParkedThreads = 40;  // echo.py's parked threads; plus the echo and main threads
constexpr auto kToolTimeout = std::chrono::seconds(30);

// A forked process that PTRACE_SEIZEs `tids` (without stopping them) and then waits to be killed.
absl::StatusOr<Child> SeizeThreads(const std::vector<pid_t>& tids) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return absl::InternalError("pipe2 failed");
  UniqueFd read_end(p[0]), write_end(p[1]);
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {  // only async-signal-safe calls from here on
    for (pid_t tid : tids) {
      char ok = ptrace(PTRACE_SEIZE, tid, nullptr, nullptr) == 0 ? 'y' : 'n';
      if (write(write_end.get(), &ok, 1) != 1) _exit(1);
    }
    for (;;) pause();
  }
  Child tracer = AdoptChild(pid);
  write_end.reset();
  std::string answers;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (answers.size() < tids.size()) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return absl::DeadlineExceededError("the tracer did not answer within 10 s");
    pollfd pfd = {read_end.get(), POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
    char buf[256];
    ssize_t n = read(read_end.get(), buf, sizeof buf);
    if (n <= 0) return absl::InternalError("the tracer died");
    answers.append(buf, static_cast<size_t>(n));
  }
  if (answers.find('n') != std::string::npos) {
    return absl::InternalError(absl::StrCat("PTRACE_SEIZE failed for some threads: ", answers));
  }
  return tracer;
}

enum class Seize { kAllThreads, kLastThread };

void PrintTo(Seize s, std::ostream* os) {
  *os << (s == Seize::kAllThreads ? "another tracer holds every thread"
                                  : "another tracer holds the newest thread");
}

class AlreadyTraced : public ::testing::TestWithParam<Seize> {};

// Another tracer holds all, or just one, of the target's threads: exit 5, and whatever
// pystack-dump attached before it noticed is let go.
TEST_P(AlreadyTraced, Exits5AndLeavesTheTargetRunning) {
  ASSERT_TOOL(tool);
  ASSERT_ECHO_TARGET(target, kParkedThreads);
  const pid_t pid = target.child.pid();
  absl::StatusOr<std::vector<ThreadInfo>> threads = Threads(pid);
  ASSERT_TRUE(threads.ok()) << threads.status();
  std::vector<pid_t> seized;
  if (GetParam() == Seize::kAllThreads) {
    for (const ThreadInfo& t : *threads) seized.push_back(t.tid);
  } else {
    seized.push_back(threads->back().tid);  // the newest: pystack-dump likely reaches it last
  }
  absl::StatusOr<Child> tracer = SeizeThreads(seized);
  ASSERT_TRUE(tracer.ok()) << tracer.status();

  absl::StatusOr<RunResult> r = RunProgram({tool, std::to_string(pid)}, kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), kExitAlreadyTraced) << r->Describe();
  EXPECT_EQ(r->out, "");
  EXPECT_TRUE(IsOneErrorLine(r->err)) << Printable(r->err);

  // While the other tracer still holds its threads: none stopped, the rest traced by nobody.
  threads = Threads(pid);
  ASSERT_TRUE(threads.ok()) << threads.status();
  for (const ThreadInfo& t : *threads) {
    bool ours = std::find(seized.begin(), seized.end(), t.tid) != seized.end();
    EXPECT_TRUE(t.state != 't' && t.state != 'T')
        << "thread " << t.tid << " left stopped ('" << t.state << "')";
    EXPECT_EQ(t.tracer, ours ? tracer->pid() : 0) << "thread " << t.tid;
  }
  tracer->Kill();  // the kernel detaches its tracees
  EXPECT_EQ(WaitUntilRunningUntraced(pid, std::chrono::seconds(1)), "");
  absl::Status echo = EchoCheck(target.child, "still alive", std::chrono::seconds(5));
  EXPECT_TRUE(echo.ok()) << echo;
}

INSTANTIATE_TEST_SUITE_P(Seize, AlreadyTraced,
                         ::testing::Values(Seize::kAllThreads, Seize::kLastThread),
                         [](const ::testing::TestParamInfo<Seize>& info) {
                           return std::string(info.param == Seize::kAllThreads ? "AllThreads"
                                                                               : "LastThread");
                         });

// As user nobody, pystack-dump may not ptrace a root process: exit 4.
TEST(Errors, PermissionDeniedExits4) {
  ASSERT_TOOL(tool);
  if (geteuid() != 0) GTEST_SKIP() << "needs root, to run pystack-dump as another user";
  if (access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/setpriv (util-linux)";
  ASSERT_ECHO_TARGET(target, kParkedThreads);
  const pid_t pid = target.child.pid();
  absl::StatusOr<RunResult> r = RunProgram({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                            "--clear-groups", tool, std::to_string(pid)},
                                           kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  if (r->exit_code() == 126 || r->exit_code() == 127) {
    GTEST_SKIP() << "user nobody cannot run " << tool << ": " << r->Describe();
  }
  EXPECT_EQ(r->exit_code(), kExitPermissionDenied) << r->Describe();
  EXPECT_EQ(r->out, "");
  EXPECT_TRUE(IsOneErrorLine(r->err)) << Printable(r->err);
  EXPECT_EQ(WaitUntilRunningUntraced(pid, std::chrono::seconds(1)), "");
}

// pystack-dump killed by a signal while it works: the target must run on. SIGKILL leaves the
// detaching to the kernel (PTRACE_SEIZE + PTRACE_INTERRUPT stops end with the tracer); SIGTERM and
// SIGINT go through its handlers. Two kinds of rounds:
//  - at delays spread from 0 to the length of a whole dump (measured first; at least 0 to 5 ms),
//    so that the signal lands before, during and after the attach;
//  - as soon as the target's main thread shows pystack-dump as its tracer: surely mid-dump.
class KilledDuringDump : public ::testing::TestWithParam<int> {};

pid_t TracerOf(pid_t pid) {
  std::optional<std::string> status = ReadFile(absl::StrCat("/proc/", pid, "/status"));
  size_t at = status ? status->find("\nTracerPid:") : std::string::npos;
  return at == std::string::npos ? 0 : std::atoi(status->c_str() + at + 11);
}

TEST_P(KilledDuringDump, TargetRunsOn) {
  const int sig = GetParam();
  ASSERT_TOOL(tool);
  ASSERT_ECHO_TARGET(target, kParkedThreads);
  const pid_t pid = target.child.pid();

  // The length of a whole dump, from the spawn to the exit: the median of three.
  std::vector<Clock::duration> runs;
  for (int i = 0; i < 3; ++i) {
    const auto start = Clock::now();
    absl::StatusOr<Child> dump = Spawn({tool, std::to_string(pid)});
    ASSERT_TRUE(dump.ok()) << dump.status();
    std::optional<int> status = dump->Wait(kToolTimeout);
    ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << "a whole dump failed: wait status " << (status ? *status : -1);
    runs.push_back(Clock::now() - start);
  }
  std::sort(runs.begin(), runs.end());
  const auto span = std::max<Clock::duration>(runs[1], milliseconds(5));

  // Attached rounds go on until kWantAttached kills landed while attached (a dump can be quick).
  constexpr int kDelayRounds = 20, kMaxAttachedRounds = 30, kWantAttached = 3;
  int interrupted = 0, attached_kills = 0, rounds = 0;
  for (int i = 0; i < kDelayRounds + kMaxAttachedRounds && attached_kills < kWantAttached; ++i) {
    ++rounds;
    const bool at_attach = i >= kDelayRounds;
    const auto delay =
        std::chrono::duration_cast<std::chrono::microseconds>(span * i / (kDelayRounds - 1));
    SCOPED_TRACE(at_attach ? absl::StrCat("round ", i, ": ", strsignal(sig), " once attached")
                           : absl::StrCat("round ", i, ": ", strsignal(sig), " after ",
                                          delay.count(), " us"));
    absl::StatusOr<Child> dump = Spawn({tool, std::to_string(pid)});
    ASSERT_TRUE(dump.ok()) << dump.status();
    if (at_attach) {
      const auto deadline = Clock::now() + std::chrono::seconds(5);
      while (TracerOf(pid) != dump->pid() && !dump->Exited() && Clock::now() < deadline) {
      }
      if (TracerOf(pid) == dump->pid()) ++attached_kills;
    } else {
      std::this_thread::sleep_for(delay);  // the point of the test: a signal at this moment
    }
    kill(dump->pid(), sig);
    std::optional<int> status = dump->Wait(std::chrono::seconds(10));
    ASSERT_TRUE(status.has_value()) << "pystack-dump did not end within 10 s of the signal";
    if (WIFSIGNALED(*status)) {
      EXPECT_EQ(WTERMSIG(*status), sig) << "died of another signal";
      ++interrupted;
    } else {
      EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
          << "neither finished (exit 0) nor died of the signal: wait status " << *status;
    }
    EXPECT_FALSE(target.child.Exited()) << "the target died";
    ASSERT_EQ(WaitUntilRunningUntraced(pid, std::chrono::seconds(1)), "");
    absl::Status echo = EchoCheck(target.child, absl::StrCat("ping ", i), std::chrono::seconds(5));
    ASSERT_TRUE(echo.ok()) << echo;
  }
  std::printf(
      "[   info   ] %s: a dump takes %lld us; %d of %d runs died of the signal, %d of them "
      "while attached\n",
      strsignal(sig),
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::microseconds>(runs[1]).count()),
      interrupted, rounds, attached_kills);
  EXPECT_GT(attached_kills, 0) << "never caught pystack-dump attached in " << kMaxAttachedRounds
                               << " tries";

  // Finally a whole dump of the target, which must still be intact.
  absl::StatusOr<RunResult> r = RunProgram({tool, std::to_string(pid)}, kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  EXPECT_EQ(r->err, "");
  // 3.14+ name the OS thread: "Thread 0x... [name] (most recent call first):".
  std::regex header(
      "^(Current thread|Thread) 0x[0-9a-f]{16}( \\[[^\\]\n]*\\])? \\(most recent call first\\):$",
      std::regex::multiline);
  auto count = std::distance(std::sregex_iterator(r->out.begin(), r->out.end(), header),
                             std::sregex_iterator());
  EXPECT_EQ(count, kParkedThreads + 2) << Printable(r->out);
  EXPECT_EQ(WaitUntilRunningUntraced(pid, std::chrono::seconds(1)), "");
}

INSTANTIATE_TEST_SUITE_P(Signals, KilledDuringDump, ::testing::Values(SIGKILL, SIGTERM, SIGINT),
                         [](const ::testing::TestParamInfo<int>& info) {
                           switch (info.param) {
                             case SIGKILL:
                               return std::string("SIGKILL");
                             case SIGTERM:
                               return std::string("SIGTERM");
                             default:
                               return std::string("SIGINT");
                           }
                         });

}  // namespace
}  // namespace pystack_it
