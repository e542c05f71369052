// --tasks against CPython itself. On 3.7 to 3.13, targets/tasks_legacy.py records, from inside
// the process, each loop's tasks (asyncio.all_tasks), their names, coroutine chains and awaiters,
// and the JSON and table pystack-dump prints must hold exactly those. On every interpreter of
// 3.14 and later found (the Debian
// unstable root's 3.14, 3.14d and 3.15), targets/tasks_asyncio.py parks asyncio tasks in known
// shapes (TaskGroup, gather, nested tasks, named and unnamed tasks, two loops in two threads,
// optionally an await cycle), and what pystack-dump prints must equal, byte for byte, what the
// same interpreter's `python -m asyncio ps PID` and `pstree PID` print for the same process,
// run where the target runs (its mount namespace and root, as a user in that container would).
// The JSON view is read by that interpreter's json module and checked against the same table;
// a gcore of the process must give the live table; --timeout must show the tasks of a job it
// ends.

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
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

std::vector<Interpreter> WithAsyncioTools() {
  std::vector<Interpreter> found;
  for (const Interpreter& py : Interpreters().in_scope) {
    if (py.major == 3 && py.minor >= 14) found.push_back(py);
  }
  return found;
}

// 3.7 (the first with asyncio.all_tasks) to 3.13.
std::vector<Interpreter> WithoutAsyncioTools() {
  std::vector<Interpreter> found;
  for (const Interpreter& py : Interpreters().in_scope) {
    if (py.major == 3 && py.minor >= 7 && py.minor < 14) found.push_back(py);
  }
  return found;
}

// `python -m asyncio VIEW PID` of the target's own interpreter, run where the target runs.
absl::StatusOr<RunResult> RunAsyncioTool(const Interpreter& py, pid_t pid,
                                         const std::string& view) {
  std::vector<std::string> argv = {py.path, "-m", "asyncio", view, std::to_string(pid)};
  if (py.InRoot()) {
    argv = {"nsenter",     "-t", std::to_string(pid), "-m", "-r",
            py.inner_path, "-m", "asyncio",           view, std::to_string(pid)};
  }
  return RunProgram(argv, kToolLimit);
}

InterpreterCoverage* const kTasksCoverage =
    AddInterpreterCoverage("--tasks against python -m asyncio ps/pstree");

class Tasks : public ::testing::TestWithParam<Interpreter> {
 protected:
  void TearDown() override { kTasksCoverage->Count(GetParam().name, !HasFailure()); }
};

TEST_P(Tasks, TableAndTreeMatchAsyncioTools) {
  const Interpreter& py = GetParam();
  ASSERT_TOOL(tool);
  absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(py, "tasks_asyncio.py", {});
  ASSERT_TRUE(target.ok()) << target.status();
  const std::string pid = std::to_string((*target)->child.pid());

  for (const std::string view : {"ps", "pstree"}) {
    SCOPED_TRACE(view);
    absl::StatusOr<RunResult> expected = RunAsyncioTool(py, (*target)->child.pid(), view);
    ASSERT_TRUE(expected.ok()) << expected.status();
    ASSERT_EQ(expected->exit_code(), 0) << expected->Describe();
    ASSERT_NE(expected->out.find("group-child"), std::string::npos) << expected->Describe();
    const std::string flag = view == "ps" ? "--tasks" : "--tasks=tree";
    absl::StatusOr<RunResult> r = RunProgram({tool, flag, pid}, kToolLimit);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->exit_code(), 0) << r->Describe();
    EXPECT_EQ(r->err, "") << Printable(r->err);
    EXPECT_TRUE(r->out == expected->out) << DescribeMismatch(expected->out, r->out);
  }

  // The JSON view, read by the target's own json module, against the same table.
  SCOPED_TRACE("--format=json");
  absl::StatusOr<RunResult> table = RunAsyncioTool(py, (*target)->child.pid(), "ps");
  absl::StatusOr<RunResult> json = RunProgram({tool, "--tasks", "--format=json", pid}, kToolLimit);
  ASSERT_TRUE(table.ok() && json.ok());
  ASSERT_EQ(json->exit_code(), 0) << json->Describe();
  TempDir files;  // under /tmp, which the root's interpreter sees at the same path
  WriteFile(files.path() + "/ours.json", json->out);
  WriteFile(files.path() + "/ps.txt", table->out);
  std::vector<std::string> check = TargetScriptCommand(py, "tasks_json_check.py");
  check.insert(check.end(), {files.path() + "/ours.json", files.path() + "/ps.txt"});
  if (py.minor == 14) check.push_back("main-thread-only");
  absl::StatusOr<RunResult> checked = RunProgram(check, kToolLimit);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->exit_code(), 0) << checked->Describe() << "\n" << json->out;

  EXPECT_FALSE((*target)->child.Exited()) << "the target died during or after the dumps";
  EXPECT_EQ(WaitUntilRunningUntraced((*target)->child.pid(), std::chrono::seconds(1)), "");
}

// An await cycle is no tree: pstree's message on stderr, nothing on stdout; the table lists it.
TEST_P(Tasks, CycleMatchesPstree) {
  const Interpreter& py = GetParam();
  ASSERT_TOOL(tool);
  absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(py, "tasks_asyncio.py", {"cycle"});
  ASSERT_TRUE(target.ok()) << target.status();
  const std::string pid = std::to_string((*target)->child.pid());

  absl::StatusOr<RunResult> expected = RunAsyncioTool(py, (*target)->child.pid(), "pstree");
  ASSERT_TRUE(expected.ok()) << expected.status();
  ASSERT_EQ(expected->exit_code(), 1) << expected->Describe();
  ASSERT_NE(expected->err.find("cycle: "), std::string::npos) << expected->Describe();
  absl::StatusOr<RunResult> r = RunProgram({tool, "--tasks=tree", pid}, kToolLimit);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 12) << r->Describe();  // documented: the await graph has a cycle
  EXPECT_EQ(r->out, expected->out);
  EXPECT_TRUE(r->err == expected->err) << DescribeMismatch(expected->err, r->err);

  absl::StatusOr<RunResult> ps = RunAsyncioTool(py, (*target)->child.pid(), "ps");
  absl::StatusOr<RunResult> table = RunProgram({tool, "--tasks", pid}, kToolLimit);
  ASSERT_TRUE(ps.ok() && table.ok());
  ASSERT_NE(ps->out.find("cycle-a"), std::string::npos) << ps->Describe();
  EXPECT_EQ(table->exit_code(), 0) << table->Describe();
  EXPECT_TRUE(table->out == ps->out) << DescribeMismatch(ps->out, table->out);
}

// A core (gdb's gcore; in a root that has one, that root's own) gives the live process's table.
void ExpectCoreGivesLiveTable(const Interpreter& py, const std::string& script,
                              const std::string& some_task) {
  ASSERT_TOOL(tool);
  absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(py, script, {});
  ASSERT_TRUE(target.ok()) << target.status();
  const pid_t pid = (*target)->child.pid();
  absl::StatusOr<RunResult> live = RunProgram({tool, "--tasks", std::to_string(pid)}, kToolLimit);
  ASSERT_TRUE(live.ok()) << live.status();
  ASSERT_EQ(live->exit_code(), 0) << live->Describe();
  ASSERT_NE(live->out.find(some_task), std::string::npos) << live->Describe();

  absl::StatusOr<std::string> core = GcoreOf(py, pid, (*target)->dir.path());
  ASSERT_TRUE(core.ok()) << core.status();
  std::vector<std::string> argv = {tool, "--tasks", "--core", *core};
  if (py.InRoot()) argv.insert(argv.end(), {"--sysroot", py.root});
  absl::StatusOr<RunResult> r = RunProgram(argv, kToolLimit);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  EXPECT_EQ(r->err, "") << Printable(r->err);
  EXPECT_TRUE(r->out == live->out) << DescribeMismatch(live->out, r->out);
}

TEST_P(Tasks, CoreGivesLiveTable) {
  ExpectCoreGivesLiveTable(GetParam(), "tasks_asyncio.py", "group-child");
}

// An asyncio job that hangs under --timeout: the dump shows its tasks.
TEST_P(Tasks, TimeoutShowsTasksOfHungJob) {
  const Interpreter& py = GetParam();
  ASSERT_TOOL(tool);
  TempDir dir;
  std::vector<std::string> argv = {
      tool, "--timeout", "3", "--tasks", "--output", dir.path() + "/dumps.txt", "--"};
  for (const std::string& word : TargetScriptCommand(py, "tasks_asyncio.py")) argv.push_back(word);
  argv.push_back(dir.path());
  absl::StatusOr<RunResult> r = RunProgram(argv, std::chrono::seconds(60));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 124) << r->Describe();
  std::optional<std::string> dumps = ReadFile(dir.path() + "/dumps.txt");
  ASSERT_TRUE(dumps.has_value());
  EXPECT_NE(dumps->find("tid        task id"), std::string::npos) << *dumps;
  EXPECT_NE(dumps->find("group-child"), std::string::npos) << *dumps;
}

INSTANTIATE_TEST_SUITE_P(Interpreters, Tasks, ::testing::ValuesIn(WithAsyncioTools()),
                         [](const ::testing::TestParamInfo<Interpreter>& info) {
                           return info.param.name;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Tasks);

InterpreterCoverage* const kLegacyCoverage =
    AddInterpreterCoverage("--tasks against the tasks a 3.7-3.13 process recorded itself");

class TasksLegacy : public ::testing::TestWithParam<Interpreter> {
 protected:
  void TearDown() override { kLegacyCoverage->Count(GetParam().name, !HasFailure()); }
};

TEST_P(TasksLegacy, ShowsTheTasksTheProcessRecorded) {
  const Interpreter& py = GetParam();
  ASSERT_TOOL(tool);
  absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(py, "tasks_legacy.py", {});
  ASSERT_TRUE(target.ok()) << target.status();
  for (const std::string& skipped : (*target)->skipped_features) {
    std::cout << "[   NOTE   ] " << py.name << ": not in this scenario: " << skipped << "\n";
  }
  const std::string pid = std::to_string((*target)->child.pid());
  absl::StatusOr<RunResult> json = RunProgram({tool, "--tasks", "--format=json", pid}, kToolLimit);
  absl::StatusOr<RunResult> table = RunProgram({tool, "--tasks", pid}, kToolLimit);
  ASSERT_TRUE(json.ok() && table.ok());
  ASSERT_EQ(json->exit_code(), 0) << json->Describe();
  ASSERT_EQ(table->exit_code(), 0) << table->Describe();
  EXPECT_EQ(table->err, "") << Printable(table->err);

  TempDir files;
  WriteFile(files.path() + "/ours.json", json->out);
  WriteFile(files.path() + "/table.txt", table->out);
  std::vector<std::string> check = TargetScriptCommand(py, "tasks_legacy_check.py");
  check.insert(check.end(),
               {files.path() + "/ours.json", (*target)->dir.path() + "/expected_tasks.json",
                files.path() + "/table.txt"});
  absl::StatusOr<RunResult> checked = RunProgram(check, kToolLimit);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->exit_code(), 0) << checked->Describe() << "\n" << table->out;
  EXPECT_FALSE((*target)->child.Exited()) << "the target died during or after the dumps";
}

TEST_P(TasksLegacy, CoreGivesLiveTable) {
  ExpectCoreGivesLiveTable(GetParam(), "tasks_legacy.py", "awaits_task_deep");
}

INSTANTIATE_TEST_SUITE_P(Interpreters, TasksLegacy, ::testing::ValuesIn(WithoutAsyncioTools()),
                         [](const ::testing::TestParamInfo<Interpreter>& info) {
                           return info.param.name;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TasksLegacy);

TEST(TasksDiscovery, FindsInterpretersWithAsyncioTools) {
  if (WithAsyncioTools().empty()) {
    GTEST_SKIP() << "no CPython 3.14+ found (the Debian-unstable root: scripts/make-root "
                    "unstable): --tasks was compared with python -m asyncio on nothing";
  }
}

}  // namespace
}  // namespace pystack_it
