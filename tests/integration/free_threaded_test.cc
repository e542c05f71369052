// Free-threaded CPython (python3.13t, built by scripts/build-free-threaded): 32 threads running
// Python code at the same time, dumped again and again. Each dump must hold every thread, each
// frame on a real line of the target's sources, and the target must run on untraced after each.
// (The rest of the integration matrix runs on that interpreter like on any other.)
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace pystack_it {
namespace {

constexpr int kBusyThreads = 32;
constexpr int kDumps = 200;

std::vector<Interpreter> FreeThreadedPythons() {
  std::vector<Interpreter> out;
  for (const Interpreter& py : Interpreters().in_scope) {
    if (py.free_threaded) out.push_back(py);
  }
  return out;
}

// The lines of the source files the frames name, read once each.
class SourceFiles {
 public:
  // Why line `line` of `path` is no line a frame can be on (a blank line, a comment, past the
  // end, an unreadable file); empty when it is one.
  std::string Problem(const std::string& path, int line) {
    auto [it, inserted] = files_.try_emplace(path);
    if (inserted) {
      std::optional<std::string> text = ReadFile(path);
      if (text) it->second = absl::StrSplit(*text, '\n');
    }
    const std::vector<std::string>& lines = it->second;
    if (lines.empty()) return absl::StrCat(path, ": unreadable");
    if (line < 1 || line > static_cast<int>(lines.size())) {
      return absl::StrCat(path, ":", line, ": past its ", lines.size(), " lines");
    }
    absl::string_view code = absl::StripAsciiWhitespace(lines[line - 1]);
    if (code.empty() || code[0] == '#') return absl::StrCat(path, ":", line, ": not code");
    return "";
  }

 private:
  std::map<std::string, std::vector<std::string>> files_;
};

class FreeThreaded : public ::testing::TestWithParam<Interpreter> {};

TEST_P(FreeThreaded, BusyThreadsDumpedTwoHundredTimes) {
  const Interpreter& py = GetParam();
  ASSERT_TOOL(tool);
  absl::StatusOr<std::unique_ptr<Target>> target =
      StartTarget(py, "busy_threads.py", {std::to_string(kBusyThreads)});
  ASSERT_TRUE(target.ok()) << target.status();
  const pid_t pid = (*target)->child.pid();
  const std::regex frame(R"re(^  File "(.*)", line (\d+) in .*$)re");
  SourceFiles sources;
  int frames = 0;
  for (int round = 1; round <= kDumps; ++round) {
    SCOPED_TRACE(absl::StrCat("dump #", round, " of pid ", pid));
    absl::StatusOr<RunResult> r = RunProgram({tool, std::to_string(pid)}, std::chrono::seconds(30));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->exit_code(), 0) << r->Describe();
    int threads = 0;
    std::istringstream lines(r->out);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("Thread 0x", 0) == 0 || line.rfind("Current thread 0x", 0) == 0) ++threads;
      std::smatch m;
      if (!std::regex_match(line, m, frame)) continue;
      ++frames;
      const std::string problem = sources.Problem(m[1], std::stoi(m[2]));
      ASSERT_EQ(problem, "") << r->out;
    }
    ASSERT_EQ(threads, kBusyThreads + 1) << r->out;
    ASSERT_EQ(WaitUntilRunningUntraced(pid, std::chrono::seconds(2)), "");
  }
  EXPECT_FALSE((*target)->child.Exited()) << "the target died during or after the dumps";
  std::printf("[ covered  ] %s: %d dumps of %d threads, %d frames, each on a line of code\n",
              py.Version().c_str(), kDumps, kBusyThreads + 1, frames);
}

INSTANTIATE_TEST_SUITE_P(Interpreters, FreeThreaded, ::testing::ValuesIn(FreeThreadedPythons()),
                         [](const ::testing::TestParamInfo<Interpreter>& info) {
                           return info.param.name;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(FreeThreaded);

// The build and the state of its GIL, in JSON, as the interpreter itself tells them: off by
// default, on with PYTHON_GIL=1.
TEST_P(FreeThreaded, JsonSaysWhetherTheGilIsOn) {
  const Interpreter& py = GetParam();
  ASSERT_TOOL(tool);
  for (const std::string gil : {"0", "1"}) {
    SCOPED_TRACE("PYTHON_GIL=" + gil);
    absl::StatusOr<std::unique_ptr<Target>> target =
        StartTarget(py, "busy_threads.py", {"1"}, false, {"PYTHON_GIL=" + gil});
    ASSERT_TRUE(target.ok()) << target.status();
    absl::StatusOr<RunResult> own = RunProgram(
        {py.path, "-c", "import sys; print(sys._is_gil_enabled())"}, std::chrono::seconds(20),
        {"PYTHON_GIL=" + gil});
    ASSERT_TRUE(own.ok() && own->exit_code() == 0) << (own.ok() ? own->Describe() : "");
    const bool enabled = own->out == "True\n";
    absl::StatusOr<RunResult> r = RunProgram(
        {tool, "--format=json", std::to_string((*target)->child.pid())}, std::chrono::seconds(30));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->exit_code(), 0) << r->Describe();
    EXPECT_NE(r->out.find("\n  \"free_threaded\": true,\n"), std::string::npos) << r->out;
    EXPECT_NE(r->out.find(absl::StrCat("\n      \"gil_enabled\": ", enabled ? "true" : "false",
                                       ",\n")),
              std::string::npos)
        << r->out;
  }
}

// Without a free-threaded interpreter, says why nothing above ran.
TEST(FreeThreadedBuild, IsThere) {
  if (FreeThreadedPythons().empty()) {
    GTEST_SKIP() << "no free-threaded CPython: scripts/build-free-threaded builds python3.13t "
                    "from Debian 13's source (make test runs it); it could not here";
  }
  for (const Interpreter& py : FreeThreadedPythons()) {
    absl::StatusOr<RunResult> own = RunProgram(
        {py.path, "-c", "import sys; print(sys._is_gil_enabled())"}, std::chrono::seconds(20));
    ASSERT_TRUE(own.ok()) << own.status();
    EXPECT_EQ(own->out, "False\n") << py.path << " is no free-threaded build";
  }
}

}  // namespace
}  // namespace pystack_it
