// pystack-dump record and top against real interpreters, with the truth built into the target
// (targets/profile_truth.py): its thread "worker" spends 75% of its wall time in hot() and 25% in
// cold(), switching by the clock; "sleeper" and the main thread sleep. For every interpreter in
// scope: a 3 s record at 200 Hz gives hot and cold their shares within 5 points, leaves the
// sleeping thread out unless --idle, agrees with --blocking within 5 points, and names only real
// lines of functions defined there. Then, on one interpreter: each format read back by a real
// consumer (tests/consumers/: pprof-format, speedscope's own page, the SVG in Chromium), Ctrl-C,
// SIGTERM and a target that exits mid-record, a command run under record, and top in tmux.

#include <algorithm>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace pystack_it {
namespace {

constexpr char kTruth[] = "profile_truth.py";

// One line of the folded format: the labels root first, and the count.
struct FoldedStack {
  std::vector<std::string> labels;
  int64_t count = 0;
};

absl::StatusOr<std::vector<FoldedStack>> ParseFolded(const std::string& text) {
  std::vector<FoldedStack> stacks;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    const size_t space = line.rfind(' ');
    FoldedStack stack;
    if (space == absl::string_view::npos ||
        !absl::SimpleAtoi(line.substr(space + 1), &stack.count) || stack.count <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("not a folded line: ", line));
    }
    stack.labels = absl::StrSplit(line.substr(0, space), ';');
    stacks.push_back(std::move(stack));
  }
  return stacks;
}

// "hot (/path/file.py:28)" -> function "hot", file, line 28.
struct FrameLabel {
  std::string function, file;
  int line = -1;
};

std::optional<FrameLabel> ParseFrameLabel(const std::string& label) {
  const size_t open = label.rfind(" (");
  if (open == std::string::npos || label.back() != ')') return std::nullopt;
  FrameLabel frame;
  frame.function = label.substr(0, open);
  std::string where = label.substr(open + 2, label.size() - open - 3);
  const size_t colon = where.rfind(':');
  if (colon != std::string::npos && absl::SimpleAtoi(where.substr(colon + 1), &frame.line)) {
    where.resize(colon);
  }
  frame.file = where;
  return frame;
}

bool ThreadIs(const FoldedStack& stack, const std::string& name) {
  return !stack.labels.empty() && absl::StartsWith(stack.labels.front(), name + " (tid ");
}

std::string Leaf(const FoldedStack& stack) {
  std::optional<FrameLabel> frame = ParseFrameLabel(stack.labels.back());
  return frame ? frame->function : "";
}

// The worker's samples by leaf function.
struct Split {
  int64_t hot = 0, cold = 0, other = 0;
  double hot_share() const { return hot + cold > 0 ? 100.0 * hot / (hot + cold) : -1; }
};

Split WorkerSplit(const std::vector<FoldedStack>& stacks) {
  Split split;
  for (const FoldedStack& stack : stacks) {
    if (!ThreadIs(stack, "worker")) continue;
    const std::string leaf = Leaf(stack);
    (leaf == "hot" ? split.hot : leaf == "cold" ? split.cold : split.other) += stack.count;
  }
  return split;
}

bool HasThread(const std::vector<FoldedStack>& stacks, const std::string& name) {
  for (const FoldedStack& stack : stacks) {
    if (ThreadIs(stack, name)) return true;
  }
  return false;
}

// Every frame names a line of its file that lies in a function of that name: the nearest
// "def NAME" (its last dotted part) at or above the line. Files that cannot be read here
// (<frozen ...>) are skipped; a file of the target's root is read there.
std::string CheckFramesAreReal(const std::vector<FoldedStack>& stacks, const Interpreter& python) {
  std::map<std::string, std::vector<std::string>> files;
  std::string problems;
  int checked = 0;
  for (const FoldedStack& stack : stacks) {
    for (size_t i = 1; i < stack.labels.size(); ++i) {
      std::optional<FrameLabel> frame = ParseFrameLabel(stack.labels[i]);
      if (!frame || frame->line <= 0) {
        absl::StrAppend(&problems, "no line: ", stack.labels[i], "\n");
        continue;
      }
      if (frame->file.empty() || frame->file[0] != '/') continue;
      auto [it, inserted] = files.try_emplace(frame->file);
      if (inserted) {
        std::optional<std::string> text = ReadFile(python.root + frame->file);
        if (!text) text = ReadFile(frame->file);
        if (text) it->second = absl::StrSplit(*text, '\n');
      }
      const std::vector<std::string>& lines = it->second;
      if (lines.empty()) continue;
      if (frame->line > static_cast<int>(lines.size())) {
        absl::StrAppend(&problems, "past the end of its file: ", stack.labels[i], "\n");
        continue;
      }
      ++checked;
      if (frame->function == "<module>") continue;
      const std::string name = frame->function.substr(frame->function.rfind('.') + 1);
      bool found = false;
      for (int n = frame->line; n >= 1 && !found; --n) {
        const std::string stripped(absl::StripLeadingAsciiWhitespace(lines[n - 1]));
        if (absl::StartsWith(stripped, "def ") || absl::StartsWith(stripped, "async def ")) {
          found = absl::StrContains(stripped, "def " + name + "(");
          if (!found && n < frame->line) break;  // the nearest def is another function's
        }
      }
      if (!found) absl::StrAppend(&problems, "not in a function of its name: ", stack.labels[i], "\n");
    }
  }
  if (checked == 0) absl::StrAppend(&problems, "no frame could be checked against its source\n");
  return problems;
}

absl::StatusOr<RunResult> Record(const std::vector<std::string>& args, pid_t pid) {
  absl::StatusOr<std::string> tool = ToolPath();
  if (!tool.ok()) return tool.status();
  std::vector<std::string> argv = {*tool, "record"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(std::to_string(pid));
  return RunProgram(argv, std::chrono::seconds(60));
}

InterpreterCoverage* const kRecordCoverage =
    AddInterpreterCoverage("record against the 75/25 truth");

class RecordTruth : public ::testing::TestWithParam<Interpreter> {
 protected:
  void TearDown() override { kRecordCoverage->Count(GetParam().name, !HasFailure()); }
};

TEST_P(RecordTruth, SharesIdleBlockingAndLines) {
  const Interpreter& python = GetParam();
  absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(python, kTruth, {"120"});
  ASSERT_TRUE(target.ok()) << target.status();
  const pid_t pid = (*target)->child.pid();

  absl::StatusOr<RunResult> r = Record({"--rate=200", "--duration=3"}, pid);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_code(), 0) << r->Describe();
  absl::StatusOr<std::vector<FoldedStack>> stacks = ParseFolded(r->out);
  ASSERT_TRUE(stacks.ok()) << stacks.status();
  const Split split = WorkerSplit(*stacks);
  // 3 s at 200 Hz: about 600 samples of the worker; fewer than half of them means the sampler
  // lost most of its samples.
  EXPECT_GT(split.hot + split.cold, 300) << r->out << r->err;
  EXPECT_NEAR(split.hot_share(), 75.0, 5.0) << r->out;
  EXPECT_FALSE(HasThread(*stacks, "sleeper")) << "an idle thread was kept:\n" << r->out;
  EXPECT_EQ(CheckFramesAreReal(*stacks, python), "") << r->out;

  absl::StatusOr<RunResult> idle = Record({"--rate=200", "--duration=1", "--idle"}, pid);
  ASSERT_TRUE(idle.ok()) << idle.status();
  ASSERT_EQ(idle->exit_code(), 0) << idle->Describe();
  absl::StatusOr<std::vector<FoldedStack>> idle_stacks = ParseFolded(idle->out);
  ASSERT_TRUE(idle_stacks.ok()) << idle_stacks.status();
  EXPECT_TRUE(HasThread(*idle_stacks, "sleeper")) << "--idle left the sleeper out:\n" << idle->out;

  // --native: the sleeper's C frames come under the Python frame that called time.sleep (the
  // interpreter's own left out: the time module's, if it is an extension, then the C library's),
  // and the thread's first C frames (clone, start_thread) above its first Python frame.
  absl::StatusOr<RunResult> native =
      Record({"--rate=200", "--duration=1", "--idle", "--native"}, pid);
  ASSERT_TRUE(native.ok()) << native.status();
  ASSERT_EQ(native->exit_code(), 0) << native->Describe();
  absl::StatusOr<std::vector<FoldedStack>> native_stacks = ParseFolded(native->out);
  ASSERT_TRUE(native_stacks.ok()) << native_stacks.status();
  int sleeper_stacks = 0;
  for (const FoldedStack& stack : *native_stacks) {
    if (!ThreadIs(stack, "sleeper")) continue;
    ++sleeper_stacks;
    auto caller = std::find_if(stack.labels.begin(), stack.labels.end(), [](const std::string& l) {
      return absl::StartsWith(l, "sleep_forever (");
    });
    ASSERT_NE(caller, stack.labels.end()) << native->out;
    ASSERT_NE(caller + 1, stack.labels.end()) << "no C frame under sleep_forever:\n" << native->out;
    for (auto below = caller + 1; below != stack.labels.end(); ++below) {
      EXPECT_FALSE(absl::StrContains(*below, ".py:")) << "a Python frame under time.sleep's C "
                                                       << "frames: " << *below << "\n" << native->out;
    }
    // libc.so.6, or libc-2.31.so (Debian 11)
    EXPECT_TRUE(absl::StrContains(stack.labels.back(), "(libc")) << native->out;
    EXPECT_TRUE(absl::StrContains(stack.labels[1], "(libc"))
        << "the thread's first C frame (clone, start_thread) is missing:\n" << native->out;
  }
  EXPECT_GT(sleeper_stacks, 0) << native->out;

  absl::StatusOr<RunResult> blocking = Record({"--rate=200", "--duration=3", "--blocking"}, pid);
  ASSERT_TRUE(blocking.ok()) << blocking.status();
  ASSERT_EQ(blocking->exit_code(), 0) << blocking->Describe();
  absl::StatusOr<std::vector<FoldedStack>> blocking_stacks = ParseFolded(blocking->out);
  ASSERT_TRUE(blocking_stacks.ok()) << blocking_stacks.status();
  const Split blocking_split = WorkerSplit(*blocking_stacks);
  EXPECT_GT(blocking_split.hot + blocking_split.cold, 300) << blocking->out << blocking->err;
  EXPECT_NEAR(blocking_split.hot_share(), split.hot_share(), 5.0) << blocking->out;
  EXPECT_FALSE(HasThread(*blocking_stacks, "sleeper")) << blocking->out;
  EXPECT_EQ(CheckFramesAreReal(*blocking_stacks, python), "") << blocking->out;

  EXPECT_FALSE((*target)->child.Exited()) << "the target died while sampled";
  EXPECT_EQ(WaitUntilRunningUntraced(pid, std::chrono::seconds(1)), "");
}

std::string TruthName(const ::testing::TestParamInfo<Interpreter>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Interpreters, RecordTruth, ::testing::ValuesIn(Interpreters().in_scope),
                         TruthName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(RecordTruth);

// ---------------------------------------------------------------------------------------------
// One interpreter: formats, endings, commands, top.

#define ASSERT_TRUTH_TARGET(var, lifetime)                                                     \
  const Interpreter* var##_python = AnyPython();                                              \
  ASSERT_NE(var##_python, nullptr) << "no CPython in scope found (see Discovery)";            \
  absl::StatusOr<std::unique_ptr<Target>> var##_or =                                          \
      StartTarget(*var##_python, kTruth, {lifetime});                                         \
  ASSERT_TRUE(var##_or.ok()) << var##_or.status();                                            \
  Target& var = **var##_or

// Runs `record ... PID` in the background; `during` acts on it while it runs.
absl::StatusOr<RunResult> RecordWhile(const std::vector<std::string>& args, pid_t pid,
                                      const std::function<void(Child&)>& during) {
  absl::StatusOr<std::string> tool = ToolPath();
  if (!tool.ok()) return tool.status();
  std::vector<std::string> argv = {*tool, "record"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(std::to_string(pid));
  TempDir dir;
  absl::StatusOr<Child> child = Spawn(argv, Stdio::Null(), Stdio::File(dir.path() + "/out"),
                                      Stdio::File(dir.path() + "/err"));
  if (!child.ok()) return child.status();
  during(*child);
  RunResult result;
  std::optional<int> status = child->Wait(std::chrono::seconds(30));
  if (!status) {
    result.timed_out = true;
    child->Kill();
  } else {
    result.status = *status;
  }
  result.out = ReadFile(dir.path() + "/out").value_or("");
  result.err = ReadFile(dir.path() + "/err").value_or("");
  return result;
}

TEST(RecordEnds, CtrlCAndSigtermWriteACompleteProfile) {
  ASSERT_TRUTH_TARGET(target, "120");
  for (int signo : {SIGINT, SIGTERM}) {
    SCOPED_TRACE(strsignal(signo));
    TempDir dir;
    const std::string path = dir.path() + "/profile.folded";
    absl::StatusOr<RunResult> r =
        RecordWhile({"--rate=200", "-o", path}, target.child.pid(), [&](Child& tool) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1500));
          ::kill(tool.pid(), signo);
        });
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->exit_code(), 0) << r->Describe();
    std::optional<std::string> text = ReadFile(path);
    ASSERT_TRUE(text.has_value()) << "no profile written: " << r->Describe();
    absl::StatusOr<std::vector<FoldedStack>> stacks = ParseFolded(*text);
    ASSERT_TRUE(stacks.ok()) << stacks.status();
    const Split split = WorkerSplit(*stacks);
    EXPECT_GT(split.hot + split.cold, 100) << *text;
    EXPECT_TRUE(absl::StrContains(r->err, "pystack-dump: recorded ")) << r->err;
  }
  EXPECT_FALSE(target.child.Exited());
  EXPECT_EQ(WaitUntilRunningUntraced(target.child.pid(), std::chrono::seconds(1)), "");
}

TEST(RecordEnds, ATargetThatExitsLeavesACompleteProfile) {
  ASSERT_TRUTH_TARGET(target, "120");
  TempDir dir;
  const std::string path = dir.path() + "/profile.folded";
  absl::StatusOr<RunResult> r =
      RecordWhile({"--rate=200", "-o", path}, target.child.pid(), [&](Child&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        std::ofstream(target.dir.path() + "/stop") << "stop\n";
      });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  EXPECT_TRUE(target.child.Wait(std::chrono::seconds(5)).has_value());
  std::optional<std::string> text = ReadFile(path);
  ASSERT_TRUE(text.has_value()) << "no profile written: " << r->Describe();
  absl::StatusOr<std::vector<FoldedStack>> stacks = ParseFolded(*text);
  ASSERT_TRUE(stacks.ok()) << stacks.status();
  const Split split = WorkerSplit(*stacks);
  EXPECT_GT(split.hot + split.cold, 100) << *text;
}

TEST(RecordCommand, RunsTheCommandAndPassesItsStatus) {
  const Interpreter* python = AnyPython();
  ASSERT_NE(python, nullptr);
  ASSERT_TOOL(tool);
  absl::StatusOr<std::string> targets = TargetsDir();
  ASSERT_TRUE(targets.ok());
  TempDir dir;
  absl::StatusOr<RunResult> r =
      RunProgram({tool, "record", "--rate=200", "--", python->path, "-B",
                  *targets + "/" + kTruth, dir.path(), "2"},
                 std::chrono::seconds(60));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  absl::StatusOr<std::vector<FoldedStack>> stacks = ParseFolded(r->out);
  ASSERT_TRUE(stacks.ok()) << stacks.status();
  const Split split = WorkerSplit(*stacks);
  EXPECT_GT(split.hot + split.cold, 150) << r->out << r->err;
  EXPECT_NEAR(split.hot_share(), 75.0, 7.5) << r->out;
}

TEST(RecordCommand, SubprocessesAreEachARoot) {
  const Interpreter* python = AnyPython();
  ASSERT_NE(python, nullptr);
  ASSERT_TOOL(tool);
  absl::StatusOr<std::string> targets = TargetsDir();
  ASSERT_TRUE(targets.ok());
  TempDir dir;
  absl::StatusOr<RunResult> r =
      RunProgram({tool, "record", "--rate=200", "--subprocesses", "--", python->path, "-B",
                  *targets + "/profile_pool.py", dir.path(), "3"},
                 std::chrono::seconds(60));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  absl::StatusOr<std::vector<FoldedStack>> stacks = ParseFolded(r->out);
  ASSERT_TRUE(stacks.ok()) << stacks.status();
  // Each child's worker under its own process root, each with the 75/25 split.
  std::map<std::string, Split> by_process;
  for (const FoldedStack& stack : *stacks) {
    ASSERT_GE(stack.labels.size(), 2u);
    ASSERT_TRUE(absl::StartsWith(stack.labels[0], "process ")) << stack.labels[0];
    if (!absl::StartsWith(stack.labels[1], "worker (tid ")) continue;
    const std::string leaf = Leaf(stack);
    Split& split = by_process[stack.labels[0]];
    (leaf == "hot" ? split.hot : leaf == "cold" ? split.cold : split.other) += stack.count;
  }
  ASSERT_EQ(by_process.size(), 2u) << r->out;
  for (const auto& [root, split] : by_process) {
    SCOPED_TRACE(root);
    EXPECT_TRUE(absl::StartsWith(root, "process ")) << root;
    EXPECT_GT(split.hot + split.cold, 150) << r->out;
    EXPECT_NEAR(split.hot_share(), 75.0, 7.5) << r->out;
  }
}

TEST(RecordOutput, ADeviceOrPipeIsWrittenInPlace) {
  ASSERT_TRUTH_TARGET(target, "120");
  // A device: /dev/null stays the device (as root, a rename over it would replace it).
  struct stat null_before;
  ASSERT_EQ(::stat("/dev/null", &null_before), 0);
  absl::StatusOr<RunResult> to_null =
      Record({"--rate=200", "--duration=0.5", "-o", "/dev/null", "--format=folded"},
             target.child.pid());
  ASSERT_TRUE(to_null.ok()) << to_null.status();
  EXPECT_EQ(to_null->exit_code(), 0) << to_null->Describe();
  struct stat null_after;
  ASSERT_EQ(::stat("/dev/null", &null_after), 0);
  EXPECT_EQ(S_ISCHR(null_after.st_mode), S_ISCHR(null_before.st_mode));
  EXPECT_EQ(null_after.st_ino, null_before.st_ino) << "/dev/null was replaced";
  // stdout is a pipe here: /dev/stdout names it (a temporary file and a rename would replace
  // the name instead of writing through it).
  absl::StatusOr<RunResult> r = Record(
      {"--rate=200", "--duration=1", "--format=folded", "-o", "/dev/stdout"}, target.child.pid());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  absl::StatusOr<std::vector<FoldedStack>> stacks = ParseFolded(r->out);
  ASSERT_TRUE(stacks.ok()) << stacks.status();
  EXPECT_GT(WorkerSplit(*stacks).hot, 0) << r->out;
  struct stat st;
  ASSERT_EQ(::lstat("/dev/stdout", &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << "/dev/stdout was replaced";
}

TEST(RecordErrors, CoresAndBadArgumentsAreRefused) {
  ASSERT_TOOL(tool);
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"record", "--core", "/tmp/core"}, 2, "holds one moment, not a profile"},
      {{"record", "--rate=0", "1"}, 2, "--rate takes"},
      {{"record", "-o", "/tmp/profile.unknown", "1"}, 2, "cannot tell the format"},
      {{"record"}, 2, "give one of"},
      {{"top", "-o", "x.svg", "1"}, 2, "go with record"},
      {{"record", "--duration=1", "4000000"}, 3, "no such process"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {tool};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    absl::StatusOr<RunResult> r = RunProgram(argv, std::chrono::seconds(20));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->exit_code(), c.exit_code) << r->Describe();
    EXPECT_TRUE(IsOneErrorLine(r->err)) << r->Describe();
    EXPECT_TRUE(absl::StrContains(r->err, c.says)) << r->Describe();
  }
}


// ---------------------------------------------------------------------------------------------
// Each format read back by the real thing (tests/consumers/, installed by scripts/run-tests).

// The consumers' node_modules: $PYSTACK_CONSUMERS_DIR, else build/consumers beside the targets.
std::string ConsumersDir() {
  if (const char* dir = std::getenv("PYSTACK_CONSUMERS_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  absl::StatusOr<std::string> targets = TargetsDir();
  return targets.ok() ? *targets + "/../../../build/consumers" : "";
}

// Why the readers cannot run here, or "".
std::string ConsumersMissing(bool needs_chromium) {
  struct stat st;
  if (::access("/usr/bin/node", X_OK) != 0 && ::access("/usr/local/bin/node", X_OK) != 0) {
    return "node is not installed (scripts/install-deps --test)";
  }
  if (::stat((ConsumersDir() + "/node_modules/pprof-format").c_str(), &st) != 0) {
    return "the npm readers are not installed in " + ConsumersDir() + " (scripts/install-consumers)";
  }
  if (needs_chromium && ::access("/usr/bin/chromium", X_OK) != 0) {
    return "Debian's chromium is not installed (scripts/install-deps --test)";
  }
  return "";
}

// Runs tests/consumers/SCRIPT FILE; its one JSON object on stdout.
absl::StatusOr<RunResult> Consume(const std::string& script, const std::string& file) {
  absl::StatusOr<std::string> targets = TargetsDir();
  if (!targets.ok()) return targets.status();
  return RunProgram({"node", *targets + "/../../consumers/" + script, file},
                    std::chrono::seconds(90),
                    {"PYSTACK_CONSUMERS_DIR=" + ConsumersDir()});
}

// The number after "\"KEY\":" in a flat JSON text (the readers print plain numbers).
std::optional<double> JsonNumber(const std::string& json, const std::string& key) {
  const std::string quoted = "\"" + key + "\":";
  const size_t at = json.find(quoted);
  if (at == std::string::npos) return std::nullopt;
  const size_t begin = at + quoted.size();
  const size_t end = json.find_first_of(",}", begin);
  double value = 0;
  if (!absl::SimpleAtod(json.substr(begin, end - begin), &value)) return std::nullopt;
  return value;
}

// "N stacks kept" of record's summary line.
int64_t StacksKept(const std::string& err) {
  const size_t at = err.find(" stacks kept");
  if (at == std::string::npos) return -1;
  const size_t begin = err.rfind(' ', at - 1) + 1;
  int64_t kept = -1;
  (void)absl::SimpleAtoi(err.substr(begin, at - begin), &kept);
  return kept;
}

class RecordFormats : public ::testing::Test {
 protected:
  // Starts a truth target (it runs until the test ends) and records it for 2 s to path(name),
  // in the format the name's extension tells; the summary line's count of the stacks kept.
  void RecordTo(const std::string& name, int64_t& kept) {
    const Interpreter* python = AnyPython();
    ASSERT_NE(python, nullptr) << "no CPython in scope found (see Discovery)";
    absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(*python, kTruth, {"120"});
    ASSERT_TRUE(target.ok()) << target.status();
    target_ = *std::move(target);
    absl::StatusOr<RunResult> r =
        Record({"--rate=200", "--duration=2", "-o", path(name)}, target_->child.pid());
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->exit_code(), 0) << r->Describe();
    kept = StacksKept(r->err);
    ASSERT_GT(kept, 200) << r->err;
  }

  // RecordTo, then the profile read by tests/consumers/`reader`: the JSON object it printed.
  void RecordAndRead(const std::string& name, const std::string& reader, int64_t& kept,
                     std::string& json) {
    ASSERT_NO_FATAL_FAILURE(RecordTo(name, kept));
    absl::StatusOr<RunResult> read = Consume(reader, path(name));
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_EQ(read->exit_code(), 0) << read->Describe();
    json = read->out;
  }

  // The profile `name`, in a directory of the test's own.
  std::string path(const std::string& name) const { return dir_.path() + "/" + name; }

 private:
  TempDir dir_;
  std::unique_ptr<Target> target_;  // destroyed (killed) first
};

TEST_F(RecordFormats, PprofReadByPprofFormat) {
  if (std::string why = ConsumersMissing(false); !why.empty()) GTEST_SKIP() << why;
  int64_t kept = 0;
  std::string json;
  ASSERT_NO_FATAL_FAILURE(RecordAndRead("profile.pb.gz", "read_pprof.mjs", kept, json));
  EXPECT_EQ(JsonNumber(json, "samples"), kept) << json;
  const std::optional<double> hot = JsonNumber(json, "hot"), cold = JsonNumber(json, "cold");
  ASSERT_TRUE(hot && cold) << json;
  EXPECT_NEAR(100 * *hot / (*hot + *cold), 75.0, 5.0) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"worker (tid ")) << json;
  EXPECT_TRUE(absl::StrContains(json, R"({"type":"wall","unit":"nanoseconds"})")) << json;
}

TEST_F(RecordFormats, SpeedscopeLoadedBySpeedscope) {
  if (std::string why = ConsumersMissing(true); !why.empty()) GTEST_SKIP() << why;
  int64_t kept = 0;
  std::string json;
  ASSERT_NO_FATAL_FAILURE(RecordAndRead("profile.json", "read_speedscope.mjs", kept, json));
  EXPECT_TRUE(absl::StrContains(json, "\"loaded\":true")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"page_errors\":[]")) << json;
  // One profile per thread; the worker's weights are its samples times the period (5 ms).
  const size_t worker = json.find("\"total_weights\":{");
  ASSERT_NE(worker, std::string::npos) << json;
  EXPECT_TRUE(absl::StrContains(json.substr(worker), "\"worker (tid ")) << json;
  EXPECT_TRUE(absl::StrContains(json, "hot (")) << json;
}

TEST_F(RecordFormats, SvgRenderedByChromium) {
  if (std::string why = ConsumersMissing(true); !why.empty()) GTEST_SKIP() << why;
  int64_t kept = 0;
  std::string json;
  ASSERT_NO_FATAL_FAILURE(RecordAndRead("profile.svg", "svg_boxes.mjs", kept, json));
  // The rendered widths of the boxes of hot and cold (the worker's, under work()).
  double hot = 0, cold = 0, all = 0;
  for (absl::string_view box : absl::StrSplit(json, "{\"name\":")) {
    const std::string text(box);
    const std::optional<double> width = JsonNumber("{" + text, "width");
    if (!width) continue;
    if (absl::StartsWith(text, "\"all\"")) all = std::max(all, *width);
    if (absl::StartsWith(text, "\"hot (")) hot = std::max(hot, *width);
    if (absl::StartsWith(text, "\"cold (")) cold = std::max(cold, *width);
  }
  ASSERT_GT(all, 0) << json;
  ASSERT_GT(hot + cold, 0) << json;
  EXPECT_GT(hot, cold) << "the widest of the two boxes is not hot: " << json;
  EXPECT_NEAR(100 * hot / (hot + cold), 75.0, 5.0) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"reset_widths_restored\":true")) << json;
  EXPECT_TRUE(absl::StrContains(json, "Matched: ")) << json;
}

TEST_F(RecordFormats, FoldedSumsToTheSamplesKept) {
  int64_t kept = 0;
  ASSERT_NO_FATAL_FAILURE(RecordTo("profile.folded", kept));
  std::optional<std::string> text = ReadFile(path("profile.folded"));
  ASSERT_TRUE(text.has_value());
  absl::StatusOr<std::vector<FoldedStack>> stacks = ParseFolded(*text);
  ASSERT_TRUE(stacks.ok()) << stacks.status();
  int64_t sum = 0;
  for (const FoldedStack& stack : *stacks) sum += stack.count;
  EXPECT_EQ(sum, kept) << *text;
}

// ---------------------------------------------------------------------------------------------
// top, on a terminal (tmux) and not.

TEST(Top, TmuxScreenShowsHotAtTheTop) {
  if (::access("/usr/bin/tmux", X_OK) != 0) {
    GTEST_SKIP() << "tmux is not installed (scripts/install-deps --test)";
  }
  ASSERT_TOOL(tool);
  ASSERT_TRUTH_TARGET(target, "120");
  const std::string session = absl::StrCat("pystack-top-", ::getpid());
  const std::string command =
      absl::StrCat(tool, " top --rate=200 ", target.child.pid());
  // The server runs in the foreground (-D), as a child of the test, killed with it.
  absl::StatusOr<Child> server =
      Spawn({"tmux", "-D", "-L", session, "-f", "/dev/null"}, Stdio::Null(), Stdio::Null(),
            Stdio::Null(), {"TERM=xterm-256color"});
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<RunResult> started;
  for (int attempt = 0; attempt < 50; ++attempt) {
    started = RunProgram({"tmux", "-L", session, "new-session", "-d", "-s", session, "-x", "160",
                          "-y", "40", command},
                         std::chrono::seconds(10), {"TERM=xterm-256color"});
    if (started.ok() && started->exit_code() == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(started.ok()) << started.status();
  ASSERT_EQ(started->exit_code(), 0) << started->Describe();
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  absl::StatusOr<RunResult> screen = RunProgram(
      {"tmux", "-L", session, "capture-pane", "-p", "-t", session}, std::chrono::seconds(10));
  (void)RunProgram({"tmux", "-L", session, "send-keys", "-t", session, "q"},
                   std::chrono::seconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  (void)RunProgram({"tmux", "-L", session, "kill-server"}, std::chrono::seconds(10));
  ASSERT_TRUE(screen.ok()) << screen.status();
  // The first row of the table (under its header) is hot, with about 75% own.
  std::vector<std::string> lines = absl::StrSplit(screen->out, '\n');
  size_t header = 0;
  while (header < lines.size() && !absl::StrContains(lines[header], "%Own")) ++header;
  ASSERT_LT(header + 1, lines.size()) << screen->out;
  const std::string& first = lines[header + 1];
  EXPECT_TRUE(absl::StrContains(first, " hot (")) << screen->out;
  double own = 0;
  std::vector<std::string> fields = absl::StrSplit(first, ' ', absl::SkipEmpty());
  ASSERT_FALSE(fields.empty());
  ASSERT_TRUE(absl::SimpleAtod(absl::StripSuffix(fields[0], "%"), &own)) << first;
  // Of all the samples kept: the worker's (hot and cold) and now and then the main thread's.
  EXPECT_NEAR(own, 75.0, 7.5) << screen->out;
  EXPECT_EQ(WaitUntilRunningUntraced(target.child.pid(), std::chrono::seconds(2)), "");
}

TEST(Top, PlainTablesWhenNotATerminal) {
  ASSERT_TOOL(tool);
  ASSERT_TRUTH_TARGET(target, "120");
  absl::StatusOr<RunResult> r =
      RunProgram({tool, "top", "--rate=200", "--duration=2.5", std::to_string(target.child.pid())},
                 std::chrono::seconds(30));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  EXPECT_FALSE(absl::StrContains(r->out, "\033")) << "terminal codes in plain output";
  const std::vector<std::string> tables = absl::StrSplit(r->out, "%Own");
  EXPECT_GE(tables.size(), 3u) << "fewer than two tables in 2.5 s:\n" << r->out;
  EXPECT_TRUE(absl::StrContains(r->out, " hot (")) << r->out;
}

}  // namespace
}  // namespace pystack_it
