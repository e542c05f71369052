// pystack-dump against live CPython processes: for every interpreter found on this machine whose
// version is in scope (harness.h, kVersionsInScope) and every scenario (targets/*.py), the tool's
// output must equal, byte for byte, the dump CPython's own faulthandler wrote from inside the same
// process while its threads were parked in the same places; afterwards every thread of the target
// runs again and is traced by nobody.
//
// Python 2.7 has no faulthandler: it runs each scenario's py2_*.py twin, which writes the dump in
// 3.6's format from its own view of its frames (targets/py2_common.py). Py2Targets checks that
// emulation against the real faulthandler of a 3.6 interpreter.

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
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
  // Its Python 2.7 twin (same arguments), or "" with the reason in py2_skip.
  std::string py2_script;
  std::string py2_skip;
};

// Each script writes its own expected output (see targets/pd_common.py, py2_common.py).
const std::vector<Scenario>& Scenarios() {
  static const auto* s = new std::vector<Scenario>{
      // Event, Queue, deadlock, sleep, select, recv, ...
      {"blocking", "blocking.py", {}, "py2_blocking.py", ""},
      // generators, coroutines, asyncio, methods, ... (2.7: no coroutines nor asyncio)
      {"frames", "frames.py", {}, "py2_frames.py", ""},
      {"deep", "deep.py", {}, "py2_deep.py", ""},  // 98..102 and 150 frames deep
      // exactly faulthandler's thread limit, then past it: "..." and no main thread
      {"threads_100", "many_threads.py", {"100"}, "py2_many_threads.py", ""},
      {"threads_110", "many_threads.py", {"110"}, "py2_many_threads.py", ""},
      // non-ASCII, long, odd names and file names (2.7: str bytes)
      {"names", "names.py", {}, "py2_names.py", ""},
      // the GIL holder is the "Current thread"
      {"gil_main", "gil.py", {"main"}, "py2_gil.py", ""},
      {"gil_worker", "gil.py", {"worker"}, "py2_gil.py", ""},
      // ... inside a __del__ run by the collector
      {"gil_gc", "gil.py", {"gc"}, "py2_gil.py", ""},  // 2.7: in a weakref callback
  };
  return *s;
}

struct DumpCase {
  Interpreter python;
  Scenario scenario;
};

void PrintTo(const DumpCase& c, std::ostream* os) {
  PrintTo(c.python, os);
  *os << ", " << c.scenario.script << " " << absl::StrJoin(c.scenario.args, " ");
}

std::vector<DumpCase> AllCases() {
  std::vector<DumpCase> cases;
  for (const Interpreter& py : Interpreters().in_scope) {
    for (const Scenario& s : Scenarios()) cases.push_back({py, s});
  }
  return cases;
}

// Results per interpreter, for the summary printed at the end.
struct InterpreterTally {
  int passed = 0, run = 0;
  std::vector<std::string> skipped;  // scenarios or parts of them, with the reason
};
std::map<std::string, InterpreterTally>& Tally() {  // interpreter name -> results
  static auto* t = new std::map<std::string, InterpreterTally>;
  return *t;
}

class Dump : public ::testing::TestWithParam<DumpCase> {
 protected:
  void TearDown() override {
    if (IsSkipped()) return;  // listed with its reason instead
    InterpreterTally& tally = Tally()[GetParam().python.name];
    ++tally.run;
    if (!HasFailure()) ++tally.passed;
  }
};

TEST_P(Dump, MatchesFaulthandler) {
  const DumpCase& c = GetParam();
  ASSERT_TOOL(tool);
  std::string script = c.scenario.script;
  if (c.python.major == 2) {
    if (c.scenario.py2_script.empty()) {
      Tally()[c.python.name].skipped.push_back(c.scenario.name + ": " + c.scenario.py2_skip);
      GTEST_SKIP() << "no 2.7 variant of " << c.scenario.name << ": " << c.scenario.py2_skip;
    }
    script = c.scenario.py2_script;
  }

  // A free-threaded build runs without a GIL, and then no thread is the "Current thread" (the
  // other scenarios show it, their dumps matching faulthandler's with none current): the GIL
  // scenarios turn it on (PYTHON_GIL=1), as a user of such a build may.
  std::vector<std::string> env;
  if (c.python.free_threaded && absl::StartsWith(c.scenario.name, "gil_")) env = {"PYTHON_GIL=1"};
  absl::StatusOr<std::unique_ptr<Target>> target =
      StartTarget(c.python, script, c.scenario.args, false, env);
  ASSERT_TRUE(target.ok()) << target.status();
  const pid_t pid = (*target)->child.pid();
  const std::string& expected = (*target)->expected;
  ASSERT_FALSE(expected.empty());
  for (const std::string& feature : (*target)->skipped_features) {
    Tally()[c.python.name].skipped.push_back(feature);
    std::printf("[ skipped  ] %s\n", feature.c_str());
  }

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

// The 2.7 targets' own dump (py2_common.py: thread order from creation order, frames from
// sys._current_frames(), 3.6's format) must equal what 3.6's faulthandler prints in the same
// process. Run under 3.6 with PD_SELFCHECK=1, the reporter thread writes both; faulthandler's
// shows the reporter itself first (as the current thread), which is dropped.
class Py2Targets : public ::testing::TestWithParam<std::string> {};

TEST_P(Py2Targets, EmulationMatchesFaulthandler36) {
  const Discovery& d = Interpreters();
  const Interpreter* py36 = nullptr;
  bool has27 = false;
  for (const Interpreter& py : d.in_scope) {
    if (py.major == 3 && py.minor == 6 && py36 == nullptr) py36 = &py;
    has27 = has27 || py.major == 2;
  }
  if (py36 == nullptr) {
    GTEST_SKIP() << "no CPython 3.6 here, whose faulthandler the 2.7 targets' own dumps are "
                 << "checked against" << (has27 ? " (2.7 is tested, its emulation unchecked)" : "");
  }
  absl::StatusOr<std::unique_ptr<Target>> target =
      StartTarget(*py36, GetParam(), {}, false, {"PD_SELFCHECK=1"});
  ASSERT_TRUE(target.ok()) << target.status();
  std::optional<std::string> reference = ReadFile((*target)->dir.path() + "/faulthandler.txt");
  ASSERT_TRUE(reference.has_value()) << "no faulthandler.txt from " << GetParam();
  ASSERT_TRUE(reference->rfind("Current thread 0x", 0) == 0) << Printable(*reference);
  size_t reporter_end = reference->find("\n\n");
  ASSERT_NE(reporter_end, std::string::npos) << Printable(*reference);
  const std::string faulthandler = reference->substr(reporter_end + 2);
  EXPECT_TRUE((*target)->expected == faulthandler)
      << DescribeMismatch(faulthandler, (*target)->expected);
}

// Under 100 threads: with the reporter's own, faulthandler would cut a different thread.
INSTANTIATE_TEST_SUITE_P(SelfCheck, Py2Targets,
                         ::testing::Values("py2_blocking.py", "py2_frames.py", "py2_deep.py"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param.substr(4, info.param.size() - 7);  // "blocking"
                         });

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
              : absl::StrCat(it->second.passed, "/", it->second.run, " dump cases passed");
      const std::string where = py.InRoot() ? py.inner_path + " in " + py.root : py.path;
      absl::StrAppend(&text, "[ coverage ]   ", py.name, "  ", where, "  ", result, "\n");
      if (it == Tally().end()) continue;
      for (const std::string& skipped : it->second.skipped) {
        absl::StrAppend(&text, "[ coverage ]     skipped: ", skipped, "\n");
      }
    }
    for (const Interpreter& py : d.out_of_scope) {
      absl::StrAppend(&text, "[ coverage ]   not covered (out of scope): ", py.path, " ",
                      py.Version(), "\n");
    }
    for (const std::string& p : d.problems)
      absl::StrAppend(&text, "[ coverage ]   problem: ", p, "\n");
    for (const std::string& root : d.roots)
      absl::StrAppend(&text, "[ coverage ]   Debian root ", root, "\n");
    fputs(text.c_str(), stdout);
    fflush(stdout);
  }
};

[[maybe_unused]] ::testing::Environment* const kCoverageReport =
    ::testing::AddGlobalTestEnvironment(new CoverageReport);

}  // namespace
}  // namespace pystack_it
