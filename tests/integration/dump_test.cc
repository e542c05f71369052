// pystack-dump against live CPython processes: for every interpreter found on this machine whose
// version is in scope (harness.h, kVersionsInScope) and every scenario (targets/*.py), the tool's
// output must equal, byte for byte, the dump CPython's own faulthandler wrote from inside the same
// process while its threads were parked in the same places; afterwards every thread of the target
// runs again and is traced by nobody.

#include <signal.h>
#include <unistd.h>

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace pystack_it {
namespace {

struct Scenario {
  std::string name;  // part of the test name: letters, digits, '_'
  std::string script;
  std::vector<std::string> args;
};

// Each script writes its own expected output (see targets/pd_common.py).
const std::vector<Scenario>& Scenarios() {
  static const auto* s = new std::vector<Scenario>{
      {"blocking", "blocking.py", {}},  // Event, Queue, deadlock, sleep, select, recv, ...
      {"frames", "frames.py", {}},      // generators, coroutines, asyncio, methods, ...
      {"deep", "deep.py", {}},          // 98..102 and 150 frames deep
      {"threads_100", "many_threads.py", {"100"}},  // exactly faulthandler's thread limit
      {"threads_110", "many_threads.py", {"110"}},  // past it: "..." and no main thread
      {"names", "names.py", {}},                    // non-ASCII, long, odd names and file names
      {"gil_main", "gil.py", {"main"}},             // the GIL holder is the "Current thread"
      {"gil_worker", "gil.py", {"worker"}},
      {"gil_gc", "gil.py", {"gc"}},  // ... inside a __del__ run by the collector
  };
  return *s;
}

struct DumpCase {
  Interpreter python;
  Scenario scenario;
};

void PrintTo(const DumpCase& c, std::ostream* os) {
  *os << c.python.path << " (" << c.python.Version() << "), " << c.scenario.script << " "
      << absl::StrJoin(c.scenario.args, " ");
}

std::vector<DumpCase> AllCases() {
  std::vector<DumpCase> cases;
  for (const Interpreter& py : Interpreters().in_scope) {
    for (const Scenario& s : Scenarios()) cases.push_back({py, s});
  }
  return cases;
}

// Results per interpreter, for the summary printed at the end.
std::map<std::string, std::pair<int, int>>& Tally() {  // name -> (passed, run)
  static auto* t = new std::map<std::string, std::pair<int, int>>;
  return *t;
}

class Dump : public ::testing::TestWithParam<DumpCase> {
 protected:
  void TearDown() override {
    auto& [passed, run] = Tally()[GetParam().python.name];
    ++run;
    if (!HasFailure() && !IsSkipped()) ++passed;
  }
};

TEST_P(Dump, MatchesFaulthandler) {
  const DumpCase& c = GetParam();
  ASSERT_TOOL(tool);

  absl::StatusOr<std::unique_ptr<Target>> target =
      StartTarget(c.python, c.scenario.script, c.scenario.args);
  ASSERT_TRUE(target.ok()) << target.status();
  const pid_t pid = (*target)->child.pid();
  const std::string& expected = (*target)->expected;
  ASSERT_FALSE(expected.empty());

  // Twice: the first dump must leave the process as it found it.
  for (int round = 1; round <= 2; ++round) {
    SCOPED_TRACE(absl::StrCat("dump #", round, " of pid ", pid));
    absl::StatusOr<RunResult> r = RunProgram({tool, std::to_string(pid)}, std::chrono::seconds(30));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->exit_code(), 0) << r->Describe();
    EXPECT_TRUE(r->out == expected) << DescribeMismatch(expected, r->out);
    EXPECT_EQ(r->err, "") << Printable(r->err);

    EXPECT_FALSE((*target)->child.Exited()) << "the target died during or after the dump";
    std::string problems = WaitUntilRunningUntraced(pid, std::chrono::seconds(1));
    EXPECT_EQ(problems, "");
    if (HasFailure()) break;
  }
}

std::string CaseName(const ::testing::TestParamInfo<DumpCase>& info) {
  return info.param.python.name + "_" + info.param.scenario.name;  // e.g. py3_12_1_blocking
}

INSTANTIATE_TEST_SUITE_P(Interpreters, Dump, ::testing::ValuesIn(AllCases()), CaseName);
// With no interpreter in scope there are no cases; Discovery.FindsInterpretersInScope fails then.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Dump);

TEST(Discovery, FindsInterpretersInScope) {
  const Discovery& d = Interpreters();
  std::vector<std::string> scope;
  for (auto [major, minor] : kVersionsInScope) scope.push_back(absl::StrCat(major, ".", minor));
  std::vector<std::string> others;
  for (const Interpreter& py : d.out_of_scope) others.push_back(py.path + " " + py.Version());
  EXPECT_FALSE(d.in_scope.empty())
      << "no CPython " << absl::StrJoin(scope, "/") << " found in " << d.pyenv_root
      << "/versions/*/bin/python or /usr/bin/python3.N; out of scope: "
      << absl::StrJoin(others, ", ")
      << (d.problems.empty() ? "" : "; problems: " + absl::StrJoin(d.problems, "; "));
}

// Prints, after all tests, which interpreters the dump tests covered.
class CoverageReport : public ::testing::Environment {
 public:
  void TearDown() override {
    const Discovery& d = Interpreters();
    std::string text = "\n[ coverage ] CPython interpreters in scope (";
    for (size_t i = 0; i < kVersionsInScope.size(); ++i) {
      absl::StrAppend(&text, i ? ", " : "", kVersionsInScope[i].first, ".",
                      kVersionsInScope[i].second);
    }
    text += "):\n";
    if (d.in_scope.empty()) text += "[ coverage ]   none found\n";
    for (const Interpreter& py : d.in_scope) {
      auto it = Tally().find(py.name);
      std::string result =
          it == Tally().end()
              ? "no dump case run"
              : absl::StrCat(it->second.first, "/", it->second.second, " dump cases passed");
      absl::StrAppend(&text, "[ coverage ]   ", py.name, "  ", py.path, "  ", result, "\n");
    }
    for (const Interpreter& py : d.out_of_scope) {
      absl::StrAppend(&text, "[ coverage ]   not covered (out of scope): ", py.path, " ",
                      py.Version(), "\n");
    }
    for (const std::string& p : d.problems)
      absl::StrAppend(&text, "[ coverage ]   problem: ", p, "\n");
    fputs(text.c_str(), stdout);
    fflush(stdout);
  }
};

[[maybe_unused]] ::testing::Environment* const kCoverageReport =
    ::testing::AddGlobalTestEnvironment(new CoverageReport);

}  // namespace
}  // namespace pystack_it
