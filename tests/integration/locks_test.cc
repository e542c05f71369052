// --locks against the truth each target builds. targets/locks_deadlocks.py SCENARIO parks threads
// on locks in a known way (two RLocks, two Locks taken with `with`, a cycle of three, a Condition
// nobody notifies and an empty Queue, a Lock taken with acquire(), an import-lock deadlock, a
// thread holding the GIL in C) and records, from inside the process, what each thread waits for,
// who holds it and the deadlock cycles (expected_locks.json). pystack-dump's --format=json
// report, read by the target's own json module (targets/locks_check.py), must equal it: live,
// and from a gcore of the same process. The text report is checked for its shape.

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace pystack_it {
namespace {

namespace fs = std::filesystem;

constexpr auto kToolLimit = std::chrono::seconds(60);

const std::vector<std::string>& Scenarios() {
  static const auto* scenarios =
      new std::vector<std::string>{"rlocks",          "with_locks",      "cycle3",
                                   "condition_queue", "acquire_unknown", "import_deadlock",
                                   "gil_holder"};
  return *scenarios;
}

struct LocksCase {
  Interpreter python;
  std::string scenario;
};

void PrintTo(const LocksCase& c, std::ostream* os) {
  *os << c.python.path << " (" << c.python.Version() << "), " << c.scenario;
}

// 3.6 (the first the target runs on) and later.
std::vector<LocksCase> AllCases() {
  std::vector<LocksCase> cases;
  for (const Interpreter& py : Interpreters().in_scope) {
    if (py.major < 3) continue;
    for (const std::string& scenario : Scenarios()) cases.push_back({py, scenario});
  }
  return cases;
}

// The target's interpreter checks `json` (our report) against the target's truth.
void ExpectReportIsTheTruth(const LocksCase& c, const Target& target, const std::string& json) {
  TempDir files;
  WriteFile(files.path() + "/ours.json", json);
  std::vector<std::string> check = TargetScriptCommand(c.python, "locks_check.py");
  check.insert(check.end(),
               {files.path() + "/ours.json", target.dir.path() + "/expected_locks.json"});
  absl::StatusOr<RunResult> checked = RunProgram(check, kToolLimit);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->exit_code(), 0) << checked->Describe() << "\n" << json;
}

InterpreterCoverage* const kLocksCoverage =
    AddInterpreterCoverage("--locks against the waits each target recorded");

// A free-threaded build runs without a GIL: gil_holder turns it on (PYTHON_GIL=1), as a user of
// such a build may, so that threads wait for it.
std::vector<std::string> TargetEnv(const LocksCase& c) {
  if (c.scenario == "gil_holder" && c.python.free_threaded) return {"PYTHON_GIL=1"};
  return {};
}

class Locks : public ::testing::TestWithParam<LocksCase> {
 protected:
  void TearDown() override { kLocksCoverage->Count(GetParam().python.name, !HasFailure()); }
};

TEST_P(Locks, ReportIsTheRecordedTruth) {
  const LocksCase& c = GetParam();
  if (c.scenario == "gil_holder" && c.python.major == 3 && c.python.minor < 7) {
    GTEST_SKIP() << "3.6 keeps its GIL in static variables pystack-dump does not locate: a "
                    "thread waiting for it is not reported";
  }
  ASSERT_TOOL(tool);
  absl::StatusOr<std::unique_ptr<Target>> target =
      StartTarget(c.python, "locks_deadlocks.py", {c.scenario}, false, TargetEnv(c));
  ASSERT_TRUE(target.ok()) << target.status();
  const pid_t pid = (*target)->child.pid();
  absl::StatusOr<RunResult> json =
      RunProgram({tool, "--locks", "--format=json", std::to_string(pid)}, kToolLimit);
  ASSERT_TRUE(json.ok()) << json.status();
  ASSERT_EQ(json->exit_code(), 0) << json->Describe();
  ExpectReportIsTheTruth(c, **target, json->out);

  // The text report: after the dump, one line per wait, then the deadlocks.
  absl::StatusOr<RunResult> text = RunProgram({tool, "--locks", std::to_string(pid)}, kToolLimit);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(text->exit_code(), 0) << text->Describe();
  const size_t section = text->out.find("\nLocks (pystack-dump --locks):\n");
  ASSERT_NE(section, std::string::npos) << text->out;
  const bool deadlock = c.scenario != "condition_queue" && c.scenario != "acquire_unknown" &&
                        c.scenario != "gil_holder";
  EXPECT_NE(text->out.find(deadlock ? "\nDeadlock: thread 0x" : "\nNo deadlock found.\n", section),
            std::string::npos)
      << text->out;
  EXPECT_FALSE((*target)->child.Exited()) << "the target died during or after the dumps";
  EXPECT_EQ(WaitUntilRunningUntraced(pid, std::chrono::seconds(1)), "");
}

// A gcore of the process (in a root that has one, that root's): the same report, from the
// registers and memory the core recorded.
TEST_P(Locks, GcoreGivesTheSameReport) {
  const LocksCase& c = GetParam();
  if (c.scenario == "gil_holder" && c.python.major == 3 && c.python.minor < 7) {
    GTEST_SKIP() << "3.6 keeps its GIL in static variables pystack-dump does not locate";
  }
  ASSERT_TOOL(tool);
  absl::StatusOr<std::unique_ptr<Target>> target =
      StartTarget(c.python, "locks_deadlocks.py", {c.scenario}, false, TargetEnv(c));
  ASSERT_TRUE(target.ok()) << target.status();
  const pid_t pid = (*target)->child.pid();
  absl::StatusOr<std::string> core = GcoreOf(c.python, pid, (*target)->dir.path());
  ASSERT_TRUE(core.ok()) << core.status();
  std::vector<std::string> argv = {tool, "--locks", "--format=json", "--core",
                                   *core};
  if (c.python.InRoot()) argv.insert(argv.end(), {"--sysroot", c.python.root});
  absl::StatusOr<RunResult> r = RunProgram(argv, kToolLimit);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_code(), 0) << r->Describe();
  ExpectReportIsTheTruth(c, **target, r->out);
}

std::string CaseName(const ::testing::TestParamInfo<LocksCase>& info) {
  return info.param.python.name + "_" + info.param.scenario;
}

INSTANTIATE_TEST_SUITE_P(Interpreters, Locks, ::testing::ValuesIn(AllCases()), CaseName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Locks);

// A CI job that deadlocks, under --timeout: its dump names the deadlock.
TEST(LocksTimeout, HungJobsDumpNamesTheDeadlock) {
  const Interpreter* py = AnyPython();
  ASSERT_NE(py, nullptr) << "no CPython in scope found";
  ASSERT_TOOL(tool);
  TempDir dir;
  std::vector<std::string> argv = {tool, "--timeout", "3", "--locks", "--output",
                                   dir.path() + "/dumps.txt", "--"};
  for (const std::string& word : TargetScriptCommand(*py, "locks_deadlocks.py")) argv.push_back(word);
  argv.insert(argv.end(), {dir.path(), "rlocks"});
  absl::StatusOr<RunResult> r = RunProgram(argv, std::chrono::seconds(60));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 124) << r->Describe();
  std::optional<std::string> dumps = ReadFile(dir.path() + "/dumps.txt");
  ASSERT_TRUE(dumps.has_value());
  EXPECT_NE(dumps->find("Locks (pystack-dump --locks):"), std::string::npos) << *dumps;
  EXPECT_NE(dumps->find("(__main__.RLOCK_A): held by thread"), std::string::npos) << *dumps;
  EXPECT_NE(dumps->find("\nDeadlock: thread 0x"), std::string::npos) << *dumps;
}

TEST(LocksDiscovery, FindsInterpreters) {
  EXPECT_FALSE(AllCases().empty()) << "no CPython 3.6+ found: --locks was checked on nothing";
}

}  // namespace
}  // namespace pystack_it
