// --exceptions against the truth each target records. targets/exceptions_handled.py parks one
// thread per case inside an `except` block (a plain exception, a direct cause, an implicit
// context, a suppressed context, notes, an OSError with errno and filename, a KeyError, nested
// exception groups, a class whose __str__ is Python code, an expression with carets) after
// recording ''.join(traceback.format_exception(...)) there. The block pystack-dump prints for
// that thread must end with that text byte for byte (for the Python __str__: with
// BaseException.__str__'s message and the documented marker line), checked by the target's own
// interpreter (targets/exceptions_check.py); live, from a gcore, and in JSON.

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

std::vector<Interpreter> InterpretersFrom36() {
  std::vector<Interpreter> found;
  for (const Interpreter& py : Interpreters().in_scope) {
    if (py.major == 3) found.push_back(py);
  }
  return found;
}

// The target's interpreter checks `ours` against the target's truth.
void ExpectTheRecordedText(const Interpreter& python, const Target& target,
                           const std::string& ours, bool json) {
  TempDir files;
  WriteFile(files.path() + "/ours.txt", ours);
  std::vector<std::string> check = TargetScriptCommand(python, "exceptions_check.py");
  check.insert(check.end(),
               {files.path() + "/ours.txt", target.dir.path() + "/expected_exceptions.json"});
  if (json) check.push_back("--json");
  absl::StatusOr<RunResult> checked = RunProgram(check, kToolLimit);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->exit_code(), 0) << checked->Describe();
}

InterpreterCoverage* const kExceptionsCoverage =
    AddInterpreterCoverage("--exceptions against the format_exception text each thread recorded");

class Exceptions : public ::testing::TestWithParam<Interpreter> {
 protected:
  void TearDown() override { kExceptionsCoverage->Count(GetParam().name, !HasFailure()); }
};

TEST_P(Exceptions, EachThreadEndsWithItsFormatException) {
  const Interpreter& python = GetParam();
  ASSERT_TOOL(tool);
  absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(python, "exceptions_handled.py", {});
  ASSERT_TRUE(target.ok()) << target.status();
  for (const std::string& feature : (*target)->skipped_features) {
    std::printf("[ skipped  ] %s: %s\n", python.Version().c_str(), feature.c_str());
  }
  const std::string pid = std::to_string((*target)->child.pid());
  absl::StatusOr<RunResult> text =
      RunProgram({tool, "--format=traceback", "--exceptions", pid}, kToolLimit);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(text->exit_code(), 0) << text->Describe();
  ExpectTheRecordedText(python, **target, text->out, /*json=*/false);

  absl::StatusOr<RunResult> json =
      RunProgram({tool, "--format=json", "--exceptions", pid}, kToolLimit);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->exit_code(), 0) << json->Describe();
  ExpectTheRecordedText(python, **target, json->out, /*json=*/true);
  EXPECT_EQ(WaitUntilRunningUntraced((*target)->child.pid(), std::chrono::seconds(1)), "");
}

TEST_P(Exceptions, GcoreGivesTheSameText) {
  const Interpreter& python = GetParam();
  ASSERT_TOOL(tool);
  absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(python, "exceptions_handled.py", {});
  ASSERT_TRUE(target.ok()) << target.status();
  const pid_t pid = (*target)->child.pid();
  absl::StatusOr<std::string> core = GcoreOf(python, pid, (*target)->dir.path());
  ASSERT_TRUE(core.ok()) << core.status();
  std::vector<std::string> argv = {tool, "--format=traceback", "--exceptions", "--core",
                                   *core};
  if (python.InRoot()) argv.insert(argv.end(), {"--sysroot", python.root});
  absl::StatusOr<RunResult> r = RunProgram(argv, kToolLimit);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  ExpectTheRecordedText(python, **target, r->out, /*json=*/false);
}

std::string CaseName(const ::testing::TestParamInfo<Interpreter>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Interpreters, Exceptions, ::testing::ValuesIn(InterpretersFrom36()),
                         CaseName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Exceptions);

// A CI job hung in an `except` block, under --timeout, and a tree dumped with --subprocesses:
// each shows what the threads handle.
TEST(ExceptionsTimeout, HungJobsDumpShowsTheHandledExceptions) {
  const Interpreter* py = AnyPython();
  ASSERT_NE(py, nullptr) << "no CPython in scope found";
  ASSERT_TOOL(tool);
  TempDir dir;
  std::vector<std::string> argv = {tool, "--timeout", "3", "--format=traceback", "--exceptions",
                                   "--output", dir.path() + "/dumps.txt", "--"};
  for (const std::string& word : TargetScriptCommand(*py, "exceptions_handled.py")) {
    argv.push_back(word);
  }
  argv.push_back(dir.path());
  absl::StatusOr<RunResult> r = RunProgram(argv, std::chrono::seconds(60));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 124) << r->Describe();
  std::optional<std::string> dumps = ReadFile(dir.path() + "/dumps.txt");
  ASSERT_TRUE(dumps.has_value());
  EXPECT_NE(dumps->find("Handling exception:\nTraceback (most recent call last):\n"),
            std::string::npos)
      << *dumps;
  EXPECT_NE(dumps->find("\nValueError: plain failure in inner_plain\n"), std::string::npos)
      << *dumps;
}

TEST(ExceptionsSubprocesses, EachProcessShowsItsHandledExceptions) {
  const Interpreter* py = AnyPython();
  ASSERT_NE(py, nullptr) << "no CPython in scope found";
  ASSERT_TOOL(tool);
  absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(*py, "exceptions_handled.py", {});
  ASSERT_TRUE(target.ok()) << target.status();
  absl::StatusOr<RunResult> r =
      RunProgram({tool, "--subprocesses", "--format=traceback", "--exceptions",
                  std::to_string((*target)->child.pid())},
                 kToolLimit);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  EXPECT_NE(r->out.find("\nKeyError: 'missing'\n"), std::string::npos) << r->out;
  ExpectTheRecordedText(*py, **target, r->out, /*json=*/false);
}

TEST(ExceptionsDiscovery, FindsInterpreters) {
  EXPECT_FALSE(InterpretersFrom36().empty())
      << "no CPython 3.6+ found: --exceptions was checked on nothing";
}

TEST(ExceptionsUsage, NeedsATracebackOrJsonFormat) {
  ASSERT_TOOL(tool);
  absl::StatusOr<RunResult> r = RunProgram({tool, "--exceptions", "1"}, kToolLimit);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 2) << r->Describe();
  EXPECT_TRUE(IsOneErrorLine(r->err)) << Printable(r->err);
}

}  // namespace
}  // namespace pystack_it
