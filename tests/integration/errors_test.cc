// Errors that need a special target: an unsupported CPython version, and a process that exits
// while the tool is dumping it.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "harness.h"

namespace pystack_it {
namespace {

// A program that looks like CPython 3.99 to an outside reader: an exported _PyRuntime that
// starts with the _Py_DebugOffsets cookie and version 0x036300f0.
constexpr char kFutureRuntime[] = R"(
#include <stdint.h>
#include <unistd.h>
struct { char cookie[8]; uint64_t version; uint64_t words[80]; } _PyRuntime
    __attribute__((used, visibility("default"))) = {{'x','d','e','b','u','g','p','y'}, 0x036300f0};
int main(void) { write(1, "ready\n", 6); sleep(60); return 0; }
)";

TEST(Errors, UnsupportedVersionIsNamed) {
  ASSERT_TOOL(tool);
  TempDir dir;
  const std::string source = dir.path() + "/future.c";
  const std::string program = dir.path() + "/python3.99";
  std::ofstream(source) << kFutureRuntime;
  absl::StatusOr<RunResult> cc = RunProgram(
      {"cc", "-O0", "-rdynamic", "-o", program, source}, std::chrono::seconds(60));
  ASSERT_TRUE(cc.ok()) << cc.status();
  ASSERT_EQ(cc->exit_code(), 0) << cc->Describe();

  absl::StatusOr<Child> target = Spawn({program}, Stdio::Null(), Stdio::Pipe());
  ASSERT_TRUE(target.ok()) << target.status();
  char buffer[16];
  ASSERT_GT(read(target->out(), buffer, sizeof buffer), 0);

  absl::StatusOr<RunResult> run =
      RunProgram({tool, std::to_string(target->pid())}, std::chrono::seconds(20));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code(), 7) << run->Describe();
  EXPECT_EQ(run->out, "");
  EXPECT_NE(run->err.find("pystack-dump: error: Python 3.99.0 is not supported"),
            std::string::npos)
      << run->err;
  EXPECT_NE(run->err.find("supported versions:"), std::string::npos) << run->err;
  EXPECT_EQ(std::count(run->err.begin(), run->err.end(), '\n'), 1) << run->err;
}

// The tool finds the runtime, then (told by PYSTACK_DUMP_TEST_PAUSE_MS) waits before stopping
// the threads; the target is killed in that window.
TEST(Errors, ProcessExitingDuringTheDumpIsReported) {
  ASSERT_TOOL(tool);
  const std::vector<Interpreter>& interpreters = Interpreters().in_scope;
  ASSERT_FALSE(interpreters.empty()) << "no CPython interpreter in scope on this machine";
  const Interpreter& python = interpreters.back();
  absl::StatusOr<Child> target =
      Spawn({python.path, "-c", "import sys, time; sys.stdout.write('ready\\n'); "
                                "sys.stdout.flush(); time.sleep(60)"},
            Stdio::Null(), Stdio::Pipe());
  ASSERT_TRUE(target.ok()) << target.status();
  char buffer[16];
  ASSERT_GT(read(target->out(), buffer, sizeof buffer), 0);

  const pid_t pid = target->pid();
  std::thread killer([&target] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    target->Kill();
  });
  absl::StatusOr<RunResult> run = RunProgram({tool, std::to_string(pid)}, std::chrono::seconds(20),
                                             {"PYSTACK_DUMP_TEST_PAUSE_MS=1500"});
  killer.join();
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code(), 8) << run->Describe();
  EXPECT_NE(run->err.find("exited during the dump"), std::string::npos) << run->err;
  std::cout << "[   info   ] covered with " << python.path << "\n";
}

}  // namespace
}  // namespace pystack_it
