// pystack-dump --format=traceback and --format=json against live CPython processes, for every
// interpreter found on this machine (2.7 and 3.6-3.13): the
// target (targets/tb_stacks.py) parks its threads and records traceback.format_stack() of each
// parked thread's frame from sys._current_frames(), from inside the process; each thread's block
// in the tool's output (what follows our header line) must equal that record byte for byte.
// Then the JSON output must parse with the target's own json module and agree with the text
// (targets/tb_json_check.py: CPython's traceback.format_list() of the JSON frames equals each
// block).

#include <unistd.h>

#include <fstream>
#include <map>
#include <ostream>
#include <regex>
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

constexpr auto kToolTimeout = std::chrono::seconds(30);

// Every interpreter found, whether the faulthandler tests cover it or not.
std::vector<Interpreter> AllInterpreters() {
  const Discovery& d = Interpreters();
  std::vector<Interpreter> all = d.in_scope;
  all.insert(all.end(), d.out_of_scope.begin(), d.out_of_scope.end());
  return all;
}

// One record of targets/tb_common.py: format_stack() of one parked thread.
struct Recorded {
  uint64_t native_id = 0;  // 0: unknown
  bool ok = false;         // false: format_stack raised (text holds the exception)
  std::string text;
};

absl::StatusOr<std::map<uint64_t, Recorded>> ParseRecords(const std::string& data) {
  std::map<uint64_t, Recorded> records;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t eol = data.find('\n', pos);
    if (eol == std::string::npos) return absl::InternalError("stacks.txt: truncated header");
    std::vector<std::string> words = absl::StrSplit(data.substr(pos, eol - pos), ' ');
    uint64_t ident = 0, native = 0;
    size_t length = 0;
    if (words.size() != 5 || words[0] != "THREAD" || !absl::SimpleAtoi(words[1], &ident) ||
        !absl::SimpleAtoi(words[2], &native) || !absl::SimpleAtoi(words[4], &length) ||
        eol + 1 + length + 1 > data.size() || data[eol + 1 + length] != '\n') {
      return absl::InternalError("stacks.txt: bad record at byte " + std::to_string(pos));
    }
    Recorded r;
    r.native_id = native;
    r.ok = words[3] == "ok";
    r.text = data.substr(eol + 1, length);
    records[ident] = r;
    pos = eol + 1 + length + 1;
  }
  return records;
}

// A thread's part of the traceback output.
struct Block {
  std::string header;  // without its newline
  std::string body;    // what follows the header, without the blank line between threads
};

// The blocks by thread id, in output order. Headers are found by their shape; body lines always
// start with two spaces, so they cannot look like one.
absl::StatusOr<std::vector<std::pair<uint64_t, Block>>> ParseBlocks(const std::string& out) {
  static const std::regex header(
      R"(^(Current thread|Thread) 0x([0-9a-f]{16})( \(.*\))? \(most recent call last\):$)");
  std::vector<std::pair<uint64_t, Block>> blocks;
  std::vector<size_t> body_starts;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t eol = out.find('\n', pos);
    if (eol == std::string::npos) return absl::InternalError("output does not end in a newline");
    const std::string line = out.substr(pos, eol - pos);
    std::smatch m;
    if (std::regex_match(line, m, header)) {
      if (!blocks.empty()) {
        // The previous block ends before the blank line that separates threads.
        if (pos < body_starts.back() + 1 || out[pos - 1] != '\n' || out[pos - 2] != '\n') {
          return absl::InternalError("no blank line before: " + line);
        }
        blocks.back().second.body = out.substr(body_starts.back(), pos - 1 - body_starts.back());
      }
      uint64_t id = 0;
      absl::SimpleHexAtoi(m[2].str(), &id);
      blocks.push_back({id, Block{line, ""}});
      body_starts.push_back(eol + 1);
    } else if (blocks.empty()) {
      return absl::InternalError("text before the first header: " + line);
    }
    pos = eol + 1;
  }
  if (!blocks.empty()) blocks.back().second.body = out.substr(body_starts.back());
  return blocks;
}

// The parameter: an interpreter (wrapped so that gtest finds PrintTo here).
struct TbCase {
  Interpreter python;
};

void PrintTo(const TbCase& c, std::ostream* os) {
  *os << c.python.path << " (" << c.python.Version() << ")";
}

std::vector<TbCase> AllCases() {
  std::vector<TbCase> cases;
  for (const Interpreter& py : AllInterpreters()) cases.push_back({py});
  return cases;
}

// Interpreter name -> what passed, for the summary at the end.
std::map<std::string, std::string>& Coverage() {
  static auto* c = new std::map<std::string, std::string>;
  return *c;
}

class TracebackFormat : public ::testing::TestWithParam<TbCase> {
 protected:
  void TearDown() override {
    const Interpreter& py = GetParam().python;
    Coverage()[py.name] = absl::StrCat(py.path, " ", py.Version(),
                     HasFailure() ? "  FAILED" : "  traceback and json match CPython");
  }
};

// 3.6-3.9 let linecache's UnicodeDecodeError/SyntaxError out of format_stack (3.10 catches
// them): only there may a record be an exception instead of a stack.
bool FormatStackMayRaise(const Interpreter& py) {
  return py.major == 3 && py.minor >= 6 && py.minor <= 9;
}

TEST_P(TracebackFormat, MatchesFormatStackAndJsonAgrees) {
  const Interpreter& py = GetParam().python;
  ASSERT_TOOL(tool);
  absl::StatusOr<std::string> targets = TargetsDir();
  ASSERT_TRUE(targets.ok()) << targets.status();

  absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(py, "tb_stacks.py", {});
  ASSERT_TRUE(target.ok()) << target.status();
  const pid_t pid = (*target)->child.pid();
  const std::string& dir = (*target)->dir.path();
  std::optional<std::string> stacks = ReadFile(dir + "/stacks.txt");
  ASSERT_TRUE(stacks.has_value()) << "no stacks.txt in " << dir;
  absl::StatusOr<std::map<uint64_t, Recorded>> records = ParseRecords(*stacks);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_GE(records->size(), 10u);

  // --format=traceback
  absl::StatusOr<RunResult> text =
      RunProgram({tool, "--format=traceback", std::to_string(pid)}, kToolTimeout);
  ASSERT_TRUE(text.ok()) << text.status();
  ASSERT_EQ(text->exit_code(), 0) << text->Describe();
  EXPECT_EQ(text->err, "") << Printable(text->err);
  absl::StatusOr<std::vector<std::pair<uint64_t, Block>>> blocks = ParseBlocks(text->out);
  ASSERT_TRUE(blocks.ok()) << blocks.status() << "\n" << Printable(text->out);

  // Every recorded thread, plus the recorder (parked after recording, so not recorded).
  EXPECT_EQ(blocks->size(), records->size() + 1) << Printable(text->out);
  std::map<uint64_t, const Block*> by_id;
  for (const auto& [id, block] : *blocks) by_id[id] = &block;
  int compared = 0;
  for (const auto& [id, record] : *records) {
    SCOPED_TRACE(absl::StrCat("thread ", id, " (tid ", record.native_id, ")"));
    auto it = by_id.find(id);
    ASSERT_NE(it, by_id.end()) << "thread missing from the output:\n" << Printable(text->out);
    const Block& block = *it->second;
    if (record.native_id != 0) {
      const std::string tid = absl::StrCat("(tid ", record.native_id);
      const size_t at = block.header.find(tid);
      EXPECT_TRUE(at != std::string::npos &&
                  (block.header[at + tid.size()] == ',' || block.header[at + tid.size()] == ')'))
          << block.header;
    }
    if (!record.ok) {
      EXPECT_TRUE(FormatStackMayRaise(py)) << "format_stack raised: " << record.text;
      continue;
    }
    EXPECT_TRUE(block.body == record.text) << DescribeMismatch(record.text, block.body);
    ++compared;
  }
  EXPECT_GE(compared, static_cast<int>(records->size()) - 2);

  // --format=json, checked by the target's interpreter against the text output.
  absl::StatusOr<RunResult> json =
      RunProgram({tool, "--format=json", std::to_string(pid)}, kToolTimeout);
  ASSERT_TRUE(json.ok()) << json.status();
  ASSERT_EQ(json->exit_code(), 0) << json->Describe();
  EXPECT_EQ(json->err, "") << Printable(json->err);
  {
    std::ofstream(dir + "/dump.json", std::ios::binary) << json->out;
    std::ofstream(dir + "/dump.txt", std::ios::binary) << text->out;
  }
  absl::StatusOr<RunResult> check =
      RunProgram({py.path, "-B", *targets + "/tb_json_check.py", dir + "/dump.json",
                  dir + "/dump.txt", std::to_string(pid)},
                 std::chrono::seconds(30));
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->exit_code(), 0) << check->Describe() << "\nJSON:\n" << Printable(json->out);

  EXPECT_FALSE((*target)->child.Exited()) << "the target died during or after the dumps";
  EXPECT_EQ(WaitUntilRunningUntraced(pid, std::chrono::seconds(1)), "");
}

std::string CaseName(const ::testing::TestParamInfo<TbCase>& info) { return info.param.python.name; }

INSTANTIATE_TEST_SUITE_P(Interpreters, TracebackFormat, ::testing::ValuesIn(AllCases()),
                         CaseName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TracebackFormat);

TEST(TracebackFormatDiscovery, FindsInterpreters) {
  EXPECT_FALSE(AllInterpreters().empty())
      << "no CPython found in " << Interpreters().pyenv_root
      << "/versions/*/bin/python or /usr/bin/python3.N: the traceback format was not tested";
}

class TracebackCoverageReport : public ::testing::Environment {
 public:
  void TearDown() override {
    std::string text = "\n[ coverage ] --format=traceback/json against CPython:\n";
    if (AllInterpreters().empty()) text += "[ coverage ]   no interpreter found\n";
    for (const Interpreter& py : AllInterpreters()) {
      auto it = Coverage().find(py.name);
      absl::StrAppend(&text, "[ coverage ]   ", py.name, "  ",
                      it == Coverage().end() ? py.path + "  not run" : it->second, "\n");
    }
    fputs(text.c_str(), stdout);
    fflush(stdout);
  }
};

[[maybe_unused]] ::testing::Environment* const kTracebackCoverage =
    ::testing::AddGlobalTestEnvironment(new TracebackCoverageReport);

}  // namespace
}  // namespace pystack_it
