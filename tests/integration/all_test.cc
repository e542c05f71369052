// pystack-dump --all: every Python process of the host, one section (or JSON line) each, the
// others left out. One target per interpreter in scope (those of the Debian roots run in their
// root, as in a container) and a process that is no Python: each target's section is its
// faulthandler dump under the --subprocesses header; the other process has none; every JSON line
// parses and names this host.

#include <unistd.h>

#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace pystack_it {
namespace {

constexpr auto kToolTimeout = std::chrono::seconds(120);

// The sections of --all's text output: pid -> what follows its header, up to the next one.
std::map<pid_t, std::string> Sections(const std::string& out) {
  static const std::regex kHeader(R"(=== pid (\d+) \(parent \d+\): .* ===)");
  std::map<pid_t, std::string> sections;
  pid_t current = 0;
  std::vector<std::string> lines = absl::StrSplit(out, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();  // after the last newline
  for (const std::string& line : lines) {
    std::cmatch m;
    if (std::regex_match(line.c_str(), m, kHeader)) {
      current = std::stoi(m[1].str());
      sections[current];
      continue;
    }
    if (current != 0) absl::StrAppend(&sections[current], line, "\n");
  }
  return sections;
}

// Whether /proc/PID's mapped files include a python executable or libpython (nullopt: gone).
std::optional<bool> MapsPython(pid_t pid) {
  std::optional<std::string> maps = ReadFile(absl::StrCat("/proc/", pid, "/maps"));
  if (!maps) return std::nullopt;
  return absl::StrContains(*maps, "/python") || absl::StrContains(*maps, "libpython");
}

// Exit 0; or 9 when a Python process that is none of the test's could not be dumped fully
// (another debugger holds it, say): the targets' own sections are checked one by one.
void ExpectSuccess(const RunResult& r) {
  if (r.exit_code() == 9) {
    EXPECT_TRUE(absl::StrContains(r.err, "could not be dumped fully")) << r.Describe();
    return;
  }
  EXPECT_EQ(r.exit_code(), 0) << r.Describe();
}

struct Started {
  std::vector<std::unique_ptr<Target>> targets;
  std::map<pid_t, const Interpreter*> python_of;
};

// One parked target per interpreter in scope.
Started StartOnePerInterpreter() {
  Started started;
  for (const Interpreter& python : Interpreters().in_scope) {
    absl::StatusOr<std::unique_ptr<Target>> target =
        StartTarget(python, python.major == 2 ? "py2_blocking.py" : "blocking.py", {});
    EXPECT_TRUE(target.ok()) << python.Version() << ": " << target.status();
    if (!target.ok()) continue;
    started.python_of[(*target)->child.pid()] = &python;
    started.targets.push_back(*std::move(target));
  }
  return started;
}

TEST(AllProcesses, EveryPythonTargetAndNoOtherProcess) {
  ASSERT_TOOL(tool);
  if (geteuid() != 0) GTEST_SKIP() << "needs root: --all examines the processes of every user";
  Started started = StartOnePerInterpreter();
  ASSERT_FALSE(started.targets.empty()) << "no CPython in scope found (see Discovery)";
  absl::StatusOr<Child> other = Spawn({"/bin/sleep", "600"});
  ASSERT_TRUE(other.ok()) << other.status();

  absl::StatusOr<RunResult> r = RunProgram({tool, "--all"}, kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectSuccess(*r);
  const std::map<pid_t, std::string> sections = Sections(r->out);
  for (const auto& target : started.targets) {
    const pid_t pid = target->child.pid();
    SCOPED_TRACE(absl::StrCat(started.python_of[pid]->Version(), ", pid ", pid));
    auto it = sections.find(pid);
    ASSERT_NE(it, sections.end()) << "no section for the target in " << Printable(r->out);
    // The section: the dump, then the blank line that ends every section.
    EXPECT_TRUE(it->second == target->expected + "\n")
        << DescribeMismatch(target->expected + "\n", it->second);
  }
  EXPECT_EQ(sections.count(other->pid()), 0u) << "a section for sleep(1), no Python process";
  for (const auto& [pid, text] : sections) {
    std::optional<bool> python = MapsPython(pid);
    if (!python) continue;  // gone since
    EXPECT_TRUE(*python) << "pid " << pid << " maps no python: " << Printable(text);
  }
  std::printf("[ coverage ] --all: %zu targets, one per interpreter in scope, %zu sections\n",
              started.targets.size(), sections.size());
}

TEST(AllProcesses, JsonLinesParseAndNameTheHost) {
  ASSERT_TOOL(tool);
  if (geteuid() != 0) GTEST_SKIP() << "needs root: --all examines the processes of every user";
  const Interpreter* checker = AnyPython();
  ASSERT_NE(checker, nullptr) << "no CPython in scope found (see Discovery)";
  Started started = StartOnePerInterpreter();
  ASSERT_FALSE(started.targets.empty());
  absl::StatusOr<Child> other = Spawn({"/bin/sleep", "600"});
  ASSERT_TRUE(other.ok()) << other.status();

  absl::StatusOr<RunResult> r = RunProgram({tool, "--all", "--format=json"}, kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectSuccess(*r);
  TempDir dir;
  const std::string lines = dir.path() + "/all.jsonl";
  ASSERT_TRUE(WriteFile(lines, r->out));
  std::vector<std::string> check = TargetScriptCommand(*checker, "all_json_check.py");
  check.insert(check.begin(), {"/bin/sh", "-c", "exec \"$@\" < \"$0\"", lines});
  absl::StatusOr<RunResult> parsed = RunProgram(check, std::chrono::seconds(60));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->exit_code(), 0) << parsed->Describe();

  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
  std::set<pid_t> listed;
  const std::vector<std::string> pids = absl::StrSplit(parsed->out, '\n', absl::SkipEmpty());
  for (const std::string& line : pids) {
    std::pair<std::string, std::string> fields = absl::StrSplit(line, absl::MaxSplits(' ', 1));
    int pid = 0;
    ASSERT_TRUE(absl::SimpleAtoi(fields.first, &pid)) << line;
    EXPECT_EQ(fields.second, host) << line;
    listed.insert(pid);
  }
  EXPECT_EQ(std::count(r->out.begin(), r->out.end(), '\n'), static_cast<long>(listed.size()))
      << "one line per process";
  for (const auto& target : started.targets) {
    EXPECT_EQ(listed.count(target->child.pid()), 1u)
        << started.python_of[target->child.pid()]->Version() << ": no line for pid "
        << target->child.pid();
  }
  EXPECT_EQ(listed.count(other->pid()), 0u) << "a line for sleep(1), no Python process";
}

TEST(AllProcesses, NotWithAPidOrSubprocesses) {
  ASSERT_TOOL(tool);
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--all", "1"}, {"--all", "--subprocesses", "1"},
                                             {"--all", "--core", "core"}}) {
    std::vector<std::string> argv = {tool};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<RunResult> r = RunProgram(argv, kToolTimeout);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->exit_code(), 2) << r->Describe();
    EXPECT_TRUE(IsOneErrorLine(r->err)) << Printable(r->err);
  }
}

}  // namespace
}  // namespace pystack_it
