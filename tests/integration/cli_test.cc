// pystack-dump's command line and its errors, seen from outside: exit codes (the ErrorKind values
// of src/common/errors.h), one error line on stderr, nothing on stdout, and no process left
// stopped or traced.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace pystack_it {
namespace {

// Exit codes, from src/common/errors.h (ErrorKind).
constexpr int kExitUsage = 2;
constexpr int kExitNoSuchProcess = 3;
constexpr int kExitNotPython = 6;

constexpr auto kToolTimeout = std::chrono::seconds(30);

TEST(Cli, UsageErrorsExit2WithAHint) {
  ASSERT_TOOL(tool);
  const std::vector<std::vector<std::string>> cases = {
      {},                        // no PID
      {"abc"},                   // not a number
      {"12abc"},                 // trailing garbage
      {""},                      // empty
      {"99999999999999999999"},  // too large
      {"--no-such-option"},      // unknown option
      {"--no-such-option", "1"},
  };
  for (const auto& args : cases) {
    std::vector<std::string> argv = {tool};
    argv.insert(argv.end(), args.begin(), args.end());
    SCOPED_TRACE("args: [" + absl::StrJoin(args, "] [") + "]");
    absl::StatusOr<RunResult> r = RunProgram(argv, kToolTimeout);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->exit_code(), kExitUsage) << r->Describe();
    EXPECT_EQ(r->out, "");
    EXPECT_TRUE(IsOneErrorLine(r->err)) << Printable(r->err);
    EXPECT_NE(r->err.find("--help"), std::string::npos)
        << "no hint to --help: " << Printable(r->err);
  }
}

TEST(Cli, HelpExits0AndListsExitCodes) {
  ASSERT_TOOL(tool);
  absl::StatusOr<RunResult> r = RunProgram({tool, "--help"}, kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  EXPECT_EQ(r->err, "");
  EXPECT_TRUE(std::regex_search(r->out, std::regex("exit (code|status)", std::regex::icase)))
      << "--help does not mention exit codes:\n"
      << Printable(r->out);
  for (int code : {kExitUsage, kExitNoSuchProcess, kExitNotPython}) {
    EXPECT_TRUE(std::regex_search(r->out, std::regex(absl::StrCat("(^|\\s)", code, "\\s"))))
        << "--help does not list exit code " << code;
  }
}

TEST(Cli, VersionExits0) {
  ASSERT_TOOL(tool);
  absl::StatusOr<RunResult> r = RunProgram({tool, "--version"}, kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  EXPECT_EQ(r->err, "");
  EXPECT_TRUE(std::regex_search(r->out, std::regex("[0-9]"))) << Printable(r->out);
  EXPECT_TRUE(!r->out.empty() && r->out.back() == '\n') << Printable(r->out);
}

TEST(Errors, NoSuchProcessExits3) {
  ASSERT_TOOL(tool);
  absl::StatusOr<Child> gone = Spawn({"true"});
  ASSERT_TRUE(gone.ok()) << gone.status();
  const pid_t pid = gone->pid();
  ASSERT_TRUE(gone->Wait(std::chrono::seconds(10)).has_value());  // reaped: the pid is free
  ASSERT_TRUE(kill(pid, 0) != 0 && errno == ESRCH) << "pid " << pid << " was reused already";
  absl::StatusOr<RunResult> r = RunProgram({tool, std::to_string(pid)}, kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), kExitNoSuchProcess) << r->Describe();
  EXPECT_EQ(r->out, "");
  EXPECT_TRUE(IsOneErrorLine(r->err)) << Printable(r->err);
}

TEST(Errors, NotAPythonProcessExits6) {
  ASSERT_TOOL(tool);
  absl::StatusOr<Child> sleeper = Spawn({"sleep", "30"});  // returns once `sleep` runs
  ASSERT_TRUE(sleeper.ok()) << sleeper.status();
  absl::StatusOr<RunResult> r = RunProgram({tool, std::to_string(sleeper->pid())}, kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), kExitNotPython) << r->Describe();
  EXPECT_EQ(r->out, "");
  EXPECT_TRUE(IsOneErrorLine(r->err)) << Printable(r->err);
  EXPECT_FALSE(sleeper->Exited()) << "`sleep 30` died";
  EXPECT_EQ(WaitUntilRunningUntraced(sleeper->pid(), std::chrono::seconds(1)), "");
}

}  // namespace
}  // namespace pystack_it
