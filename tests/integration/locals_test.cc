// --locals against CPython itself: for every interpreter found whose version is in scope
// (harness.h) and every locals_*.py target, the frames and local variables pystack-dump prints
// with --format=traceback --locals must equal, byte for byte, what the target's own traceback
// module printed for the same threads with capture_locals=True while they were parked
// (targets/locals_common.py; 2.7 builds the same text itself). Only the frames the target
// recorded are compared (a worker's frames from its function on, the main thread's all): the
// thread header is pystack-dump's own, apart from the Python thread name it must show.

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace pystack_it {
namespace {

const std::vector<std::string>& LocalsTargets() {
  static const auto* targets = new std::vector<std::string>{"locals_values.py"};
  return *targets;
}

struct ExpectedThread {
  uint64_t ident = 0;
  std::string name;
  std::string text;
};

// expected.txt: per thread "thread IDENT NBYTES NAME\n" then NBYTES bytes.
absl::StatusOr<std::vector<ExpectedThread>> ParseExpected(const std::string& data) {
  std::vector<ExpectedThread> threads;
  size_t pos = 0;
  while (pos < data.size()) {
    const size_t eol = data.find('\n', pos);
    if (eol == std::string::npos) return absl::DataLossError("truncated header");
    std::vector<std::string> words = absl::StrSplit(data.substr(pos, eol - pos), ' ');
    size_t nbytes = 0;
    ExpectedThread thread;
    if (words.size() != 4 || words[0] != "thread" || !absl::SimpleAtoi(words[1], &thread.ident) ||
        !absl::SimpleAtoi(words[2], &nbytes) || eol + 1 + nbytes > data.size()) {
      return absl::DataLossError(absl::StrCat("bad header: ", data.substr(pos, eol - pos)));
    }
    thread.name = words[3];
    thread.text = data.substr(eol + 1, nbytes);
    threads.push_back(std::move(thread));
    pos = eol + 1 + nbytes;
  }
  return threads;
}

// A thread of the tool's traceback output: its header line and its frames, each the
// "  File ..." line with every line below it up to the next frame.
struct Section {
  std::string header;
  std::vector<std::string> frames;
};

std::vector<std::string> FrameBlocks(const std::string& text) {
  std::vector<std::string> blocks;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "  File ") || blocks.empty()) blocks.emplace_back();
    absl::StrAppend(&blocks.back(), line, "\n");
  }
  return blocks;
}

// By thread id (the header's 0x%016x).
std::map<uint64_t, Section> ParseTraceback(const std::string& out) {
  std::map<uint64_t, Section> sections;
  for (absl::string_view part : absl::StrSplit(out, "\n\n", absl::SkipEmpty())) {
    const size_t eol = part.find('\n');
    const absl::string_view header = part.substr(0, eol);
    const size_t hex = header.find("0x");
    uint64_t id = 0;
    if (hex == absl::string_view::npos ||
        !absl::SimpleHexAtoi(header.substr(hex + 2, 16), &id)) {
      continue;
    }
    Section& section = sections[id];
    section.header = std::string(header);
    if (eol != absl::string_view::npos) section.frames = FrameBlocks(std::string(part.substr(eol + 1)));
  }
  return sections;
}

struct LocalsCase {
  Interpreter python;
  std::string script;
};

void PrintTo(const LocalsCase& c, std::ostream* os) {
  *os << c.python.path << " (" << c.python.Version() << "), " << c.script;
}

std::vector<LocalsCase> AllCases() {
  std::vector<LocalsCase> cases;
  for (const Interpreter& py : Interpreters().in_scope) {
    for (const std::string& script : LocalsTargets()) cases.push_back({py, script});
  }
  return cases;
}

// After all tests: which interpreters the --locals tests covered.
InterpreterCoverage* const kLocalsCoverage =
    AddInterpreterCoverage("--locals against traceback's capture_locals");

class Locals : public ::testing::TestWithParam<LocalsCase> {
 protected:
  void TearDown() override { kLocalsCoverage->Count(GetParam().python.name, !HasFailure()); }
};

TEST_P(Locals, MatchTracebackCaptureLocals) {
  const LocalsCase& c = GetParam();
  ASSERT_TOOL(tool);
  absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(c.python, c.script, {});
  ASSERT_TRUE(target.ok()) << target.status();
  absl::StatusOr<std::vector<ExpectedThread>> expected = ParseExpected((*target)->expected);
  ASSERT_TRUE(expected.ok()) << expected.status() << "\n" << Printable((*target)->expected);
  ASSERT_GT(expected->size(), 1u);

  const pid_t pid = (*target)->child.pid();
  absl::StatusOr<RunResult> r =
      RunProgram({tool, "--format=traceback", "--locals", std::to_string(pid)},
                 std::chrono::seconds(60));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  EXPECT_EQ(r->err, "") << Printable(r->err);
  const std::map<uint64_t, Section> sections = ParseTraceback(r->out);

  for (const ExpectedThread& thread : *expected) {
    SCOPED_TRACE(absl::StrCat("thread ", thread.name, " (0x", absl::Hex(thread.ident), ")"));
    auto it = sections.find(thread.ident);
    ASSERT_NE(it, sections.end()) << "no such thread in the output:\n" << Printable(r->out);
    const Section& section = it->second;
    EXPECT_NE(section.header.find("\"" + thread.name + "\""), std::string::npos)
        << "the header does not name the thread: " << Printable(section.header);
    const std::vector<std::string> want = FrameBlocks(thread.text);
    ASSERT_LE(want.size(), section.frames.size()) << Printable(r->out);
    const std::string got = absl::StrJoin(
        section.frames.end() - static_cast<std::ptrdiff_t>(want.size()), section.frames.end(), "");
    EXPECT_TRUE(got == thread.text) << DescribeMismatch(thread.text, got);
  }
  EXPECT_FALSE((*target)->child.Exited()) << "the target died during or after the dump";
  EXPECT_EQ(WaitUntilRunningUntraced(pid, std::chrono::seconds(1)), "");
}

std::string CaseName(const ::testing::TestParamInfo<LocalsCase>& info) {
  std::string script = info.param.script.substr(0, info.param.script.size() - 3);  // no ".py"
  return info.param.python.name + "_" + script;
}

INSTANTIATE_TEST_SUITE_P(Interpreters, Locals, ::testing::ValuesIn(AllCases()), CaseName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Locals);

TEST(LocalsDiscovery, FindsInterpreters) {
  EXPECT_FALSE(Interpreters().in_scope.empty())
      << "no CPython in scope found: the --locals tests covered nothing";
}

}  // namespace
}  // namespace pystack_it
