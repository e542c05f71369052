// pystack-dump --core against real cores:
// - crash cores: for every interpreter found, targets (targets/core_*.py) die of a fatal signal
//   under `python -X faulthandler` with core dumps enabled; the tool's output from the core must
//   equal, byte for byte, the crash report CPython's faulthandler wrote to stderr at that moment
//   (without the "Extension modules:" paragraph of 3.10+, which lists none here anyway);
// - gcore: a core of a live, blocked process gives the live dump of that state;
// - errors: files that are not cores, cores of other programs, missing executables (and
//   --sysroot / --executable), a file that does not match the core (a warning), and truncated
//   or corrupted cores, which give an error or a marked partial dump, never a crash or a hang.
//
// Where the kernel writes cores is /proc/sys/kernel/core_pattern. A pattern that pipes to a
// program (systemd-coredump, apport) is out of this test's control: the crash tests are skipped
// with a message saying so. With a plain file pattern, a crash that leaves no core fails.

#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "harness.h"

extern char** environ;

namespace pystack_it {
namespace {

namespace fs = std::filesystem;

// Exit codes, from src/common/errors.h (ErrorKind).
constexpr int kExitNoSuchProcess = 3;
constexpr int kExitNotPython = 6;
constexpr int kExitPartial = 9;
constexpr int kExitBadCore = 10;

constexpr auto kToolTimeout = std::chrono::seconds(30);
constexpr auto kCrashTimeout = std::chrono::seconds(60);

// ---------------------------------------------------------------------------------------------
// Interpreters: all of them; those outside the tool's default versions need the experimental
// switch.

std::vector<Interpreter> AllInterpreters() {
  std::vector<Interpreter> all = Interpreters().in_scope;
  const std::vector<Interpreter>& others = Interpreters().out_of_scope;
  all.insert(all.end(), others.begin(), others.end());
  std::stable_sort(all.begin(), all.end(), [](const Interpreter& a, const Interpreter& b) {
    return std::tie(a.major, a.minor, a.micro) < std::tie(b.major, b.minor, b.micro);
  });
  return all;
}

// Every version is read by default: the tool needs no extra environment.
std::vector<std::string> ToolEnv(const Interpreter&) { return {}; }

std::string Trim(const std::string& s) { return std::string(absl::StripAsciiWhitespace(s)); }

// True when every line of `err` is a pystack-dump warning.
bool OnlyWarnings(const std::string& err) {
  for (absl::string_view line : absl::StrSplit(err, '\n', absl::SkipEmpty())) {
    if (!absl::StartsWith(line, "pystack-dump: warning: ")) return false;
  }
  return true;
}

// Without the warnings, the error line.
std::string ErrorLines(const std::string& err) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(err, '\n', absl::SkipEmpty())) {
    if (!absl::StartsWith(line, "pystack-dump: warning: ")) absl::StrAppend(&out, line, "\n");
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Where cores go

struct CorePattern {
  std::string pattern;  // /proc/sys/kernel/core_pattern
  bool uses_pid = false;
  bool piped() const { return absl::StartsWith(pattern, "|"); }
};

CorePattern ReadCorePattern() {
  CorePattern p;
  p.pattern = Trim(ReadFile("/proc/sys/kernel/core_pattern").value_or("core"));
  p.uses_pid = Trim(ReadFile("/proc/sys/kernel/core_uses_pid").value_or("0")) == "1";
  return p;
}

// The core the kernel wrote for `pid`, started in `cwd`, or "" when there is none.
std::string FindCore(const CorePattern& p, const std::string& cwd, pid_t pid) {
  const std::string pid_text = std::to_string(pid);
  std::string name = absl::StrReplaceAll(p.pattern, {{"%p", pid_text}, {"%%", "%"}});
  if (!absl::StrContains(p.pattern, "%p") && p.uses_pid) name += "." + pid_text;
  const fs::path path = absl::StartsWith(name, "/") ? fs::path(name) : fs::path(cwd) / name;
  std::error_code ec;
  if (!absl::StrContains(name, "%")) return fs::is_regular_file(path, ec) ? path.string() : "";
  // Other specifiers (%e, %t, %h...): a file in that directory naming the pid, or any new file.
  for (const auto& entry : fs::directory_iterator(path.parent_path(), ec)) {
    const std::string file = entry.path().filename().string();
    if (entry.is_regular_file(ec) && absl::StrContains(file, pid_text))
      return entry.path().string();
  }
  return "";
}

// A child like Spawn()'s, but with core dumps enabled (RLIMIT_CORE raised before exec) and `cwd`
// as its working directory; stdout and stderr go to files.
absl::StatusOr<Child> SpawnWithCoreDumps(const std::vector<std::string>& argv,
                                         const std::string& cwd, const std::string& out_path,
                                         const std::string& err_path) {
  // Everything the child needs is made before fork: after it, only async-signal-safe calls.
  std::vector<std::string> args_copy = argv;
  std::vector<char*> args;
  for (std::string& arg : args_copy) args.push_back(arg.data());
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid == 0) {
    struct rlimit limit = {RLIM_INFINITY, RLIM_INFINITY};
    if (setrlimit(RLIMIT_CORE, &limit) != 0 && getrlimit(RLIMIT_CORE, &limit) == 0) {
      limit.rlim_cur = limit.rlim_max;
      setrlimit(RLIMIT_CORE, &limit);
    }
    const int in = open("/dev/null", O_RDONLY);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0 || chdir(cwd.c_str()) != 0) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    // Default dispositions and no blocked signal (the harness ignores SIGPIPE; exec keeps that).
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(args[0], args.data(), environ);
    _exit(127);
  }
  return AdoptChild(pid);
}

// faulthandler's report of the Python threads. Left out: the third-party extension modules that
// 3.10+ append (none of the targets loads one), and the C stack of the crashed thread that 3.14+
// prints after the threads (what --native is to reproduce; not part of the Python dump).
std::string PythonPartOfReport(const std::string& report) {
  size_t end = report.size();
  for (const char* paragraph :
       {"\n\nExtension modules: ", "\n\nCurrent thread's C stack trace"}) {
    end = std::min(end, report.find(paragraph));
  }
  return end == std::string::npos || end >= report.size() ? report : report.substr(0, end + 1);
}

// `tool --core CORE`, with the interpreter's Debian root as --sysroot when it ran in one (the
// core names the files as the process saw them).
std::vector<std::string> CoreCommand(const std::string& tool, const std::string& core,
                                     const Interpreter& py) {
  std::vector<std::string> argv = {tool, "--core", core};
  if (py.InRoot()) argv.insert(argv.end(), {"--sysroot", py.root});
  return argv;
}

// A target that died of a fatal signal, its core and faulthandler's report.
struct Crash {
  std::unique_ptr<TempDir> dir = std::make_unique<TempDir>();
  std::string core;
  std::string report;
  int signal = 0;
};

absl::StatusOr<Crash> RunCrash(const Interpreter& py, const std::string& script,
                               const std::vector<std::string>& args = {}) {
  absl::StatusOr<std::string> targets = TargetsDir();
  if (!targets.ok()) return targets.status();
  Crash crash;
  const std::string& dir = crash.dir->path();
  std::vector<std::string> argv = {py.path, "-B", "-X", "faulthandler", *targets + "/" + script,
                                   dir};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::string err_path = dir + "/stderr.txt";
  absl::StatusOr<Child> child = SpawnWithCoreDumps(argv, dir, dir + "/stdout.txt", err_path);
  if (!child.ok()) return child.status();
  std::optional<int> status = child->Wait(kCrashTimeout);
  const std::string err = ReadFile(err_path).value_or("");
  const std::string what = absl::StrCat(script, " under ", py.path);
  if (!status) {
    return absl::DeadlineExceededError(
        absl::StrCat(what, " did not die within 60 s; stderr:\n", Printable(err)));
  }
  if (!WIFSIGNALED(*status)) {
    return absl::InternalError(absl::StrCat(what, " was not killed by a signal (wait status ",
                                            *status, "); stderr:\n", Printable(err)));
  }
  crash.signal = WTERMSIG(*status);
  crash.report = PythonPartOfReport(err);
  const CorePattern pattern = ReadCorePattern();
  crash.core = FindCore(pattern, dir, child->pid());
  if (crash.core.empty()) {
    return absl::InternalError(absl::StrCat(
        what, " died of signal ", crash.signal, " (", strsignal(crash.signal), ") ",
        WCOREDUMP(*status) ? "and the kernel says it dumped core" : "without dumping core",
        ", but no core was found (core_pattern '", pattern.pattern, "', core_uses_pid ",
        pattern.uses_pid, ", working directory ", dir,
        "); is RLIMIT_CORE limited by a hard limit, or the directory not writable?"));
  }
  return crash;
}

// ---------------------------------------------------------------------------------------------
// Crash cores against faulthandler's report

struct CrashScenario {
  std::string name;
  std::string script;
  int signal;
  int min_minor;  // Python 3 minor version from which the scenario runs
};

const std::vector<CrashScenario>& CrashScenarios() {
  static const auto* s = new std::vector<CrashScenario>{
      {"segv", "core_segv.py", SIGSEGV, 6},        // ctypes.string_at(0) in the main thread
      {"abort", "core_abort.py", SIGABRT, 6},      // os.abort() in a worker
      {"cthread", "core_cthread.py", SIGSEGV, 6},  // a thread without a Python thread state
      {"gc", "core_gc.py", SIGSEGV, 6},            // inside __del__ run by the collector
  };
  return *s;
}

struct CrashCase {
  Interpreter python;
  CrashScenario scenario;
};

void PrintTo(const CrashCase& c, std::ostream* os) {
  *os << c.python.path << " (" << c.python.Version() << "), " << c.scenario.script;
}

std::vector<CrashCase> AllCrashCases() {
  std::vector<CrashCase> cases;
  for (const Interpreter& py : AllInterpreters()) {
    for (const CrashScenario& s : CrashScenarios()) cases.push_back({py, s});
  }
  return cases;
}

// Per interpreter: (passed, run, skipped), for the summary at the end.
std::map<std::string, std::array<int, 3>>& CoreTally() {
  static auto* t = new std::map<std::string, std::array<int, 3>>;
  return *t;
}

class CoreTest : public ::testing::TestWithParam<CrashCase> {
 protected:
  void TearDown() override {
    auto& [passed, run, skipped] = CoreTally()[GetParam().python.name];
    ++run;
    if (IsSkipped()) ++skipped;
    if (!HasFailure() && !IsSkipped()) ++passed;
  }
};

// ---------------------------------------------------------------------------------------------
// --native on the same crash cores: the Python part still faulthandler's, the C frames read
// from the files the crashed process had mapped (a Debian root's through --sysroot), without
// debug information for most of them (the roots' files are stripped; pyenv's libc is the host's).

constexpr char kCStackEnds[] = "  <pystack-dump: C stack ends: ";

// One thread's block of a faulthandler-format dump: its header and the lines below it.
struct ThreadBlock {
  std::string header;
  std::vector<std::string> lines;
  bool current() const { return absl::StartsWith(header, "Current thread "); }
  std::vector<std::string> CLines() const {
    std::vector<std::string> c;
    for (const std::string& line : lines) {
      if (absl::StartsWith(line, "  Binary file ")) c.push_back(line);
    }
    return c;
  }
};

// The thread blocks of the Python part of a dump (the 3.14+ crash handler's C stack paragraph
// left out).
std::vector<ThreadBlock> ThreadBlocks(const std::string& dump) {
  std::vector<ThreadBlock> blocks;
  for (absl::string_view line : absl::StrSplit(PythonPartOfReport(dump), '\n')) {
    if (absl::StartsWith(line, "Thread 0x") || absl::StartsWith(line, "Current thread 0x")) {
      blocks.push_back({std::string(line), {}});
    } else if (!blocks.empty() && absl::StartsWith(line, "  ")) {
      blocks.back().lines.emplace_back(line);
    }
  }
  return blocks;
}

// The C library, by the name glibc's files have: libc.so.6, or libc-2.31.so before 2.34.
bool IsLibc(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  return name == "libc.so.6" || (absl::StartsWith(name, "libc-") && absl::EndsWith(name, ".so"));
}

// The separate debug file of `file` by its build id (/usr/lib/debug/.build-id/NN/REST.debug,
// under `root` first), or "".
std::string DebugFileOf(const std::string& file, const std::string& root) {
  absl::StatusOr<RunResult> notes = RunProgram({"readelf", "-n", file}, std::chrono::seconds(30));
  if (!notes.ok() || notes->exit_code() != 0) return "";
  const size_t at = notes->out.find("Build ID: ");
  if (at == std::string::npos) return "";
  const std::string id = Trim(notes->out.substr(at + 10, notes->out.find('\n', at) - at - 10));
  if (id.size() < 3) return "";
  const std::string tail =
      "/usr/lib/debug/.build-id/" + id.substr(0, 2) + "/" + id.substr(2) + ".debug";
  std::error_code ec;
  for (const std::string& debug : {root + tail, tail}) {
    if (fs::is_regular_file(debug, ec)) return debug;
  }
  return "";
}

// The symbols of `file` (nm: .dynsym, .symtab when not stripped, and its separate debug file's
// .symtab), name -> values; the symbol version ("@@GLIBC_2.2.5") left out. Cached per file.
const std::multimap<std::string, uint64_t>& SymbolsOf(const std::string& file,
                                                       const std::string& root) {
  static auto* cache = new std::map<std::string, std::multimap<std::string, uint64_t>>;
  auto [it, inserted] = cache->try_emplace(file);
  if (!inserted) return it->second;
  const std::string debug = DebugFileOf(file, root);
  for (const auto& [table, path] : {std::pair<std::string, std::string>{"--dynamic", file},
                                    {"--defined-only", file},
                                    {"--defined-only", debug}}) {
    if (path.empty()) continue;
    absl::StatusOr<RunResult> nm =
        RunProgram({"nm", table, "--defined-only", path}, std::chrono::seconds(60));
    if (!nm.ok() || nm->exit_code() != 0) continue;
    for (absl::string_view line : absl::StrSplit(nm->out, '\n', absl::SkipEmpty())) {
      std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (words.size() != 3) continue;
      const std::string name = words[2].substr(0, words[2].find('@'));
      it->second.emplace(name, std::stoull(words[0], nullptr, 16));
    }
  }
  return it->second;
}

// Each C line `Binary file "LIB", at SYMBOL+0xOFF [0xADDR]` must have been read from the file the
// crashed process had mapped: for a Debian root's core, ROOT/LIB (the host has other builds of
// the same paths: its libc's symbols lie elsewhere). The line names LIB as the process saw it, as
// CPython's own crash handler does; SYMBOL is one of that file's, at a value that makes the load
// bias ADDR - OFF - value page-aligned (a shared object is mapped at a page boundary; a non-PIE
// executable at 0). The number of lines so checked.
int ExpectSymbolsFromMappedFiles(const std::string& dump, const Interpreter& py) {
  static const std::regex kNamed(
      R"re(^  Binary file "([^"]+)", at (.+)\+0x([0-9a-f]+) \[0x([0-9a-f]+)\]$)re");
  int checked = 0;
  for (absl::string_view piece : absl::StrSplit(dump, '\n')) {
    const std::string line(piece);
    std::smatch m;
    if (!std::regex_match(line, m, kNamed)) continue;
    const std::string library = m[1];
    if (py.InRoot()) {
      EXPECT_FALSE(absl::StartsWith(library, py.root))
          << "a library of the root is named by its path on the host, not as the process saw "
             "it: "
          << line;
    }
    const std::string file = py.InRoot() ? py.root + library : library;
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) {
      ADD_FAILURE() << line << ": no such file as " << file;
      continue;
    }
    const std::string symbol = m[2];
    const uint64_t offset = std::stoull(m[3], nullptr, 16);
    const uint64_t address = std::stoull(m[4], nullptr, 16);
    const std::multimap<std::string, uint64_t>& symbols = SymbolsOf(file, py.root);
    auto aligned = [&](const std::string& name) {
      const auto [begin, end] = symbols.equal_range(name);
      for (auto it = begin; it != end; ++it) {
        if ((address - offset - it->second) % 4096 == 0) return true;
      }
      return false;
    };
    if (symbols.count(symbol) == 0) continue;  // a name from DWARF only
    ++checked;
    if (aligned(symbol)) continue;
    // With debug information the tool names the function as DWARF does, but counts the offset
    // from the ELF symbol that covers the address, which for a part GCC split off or cloned is
    // another one (PyCFuncPtr_call.cold, __new_sem_wait_slow64.constprop.0): tolerated, noted.
    std::string clone;
    for (auto it = symbols.lower_bound(symbol + ".");
         it != symbols.end() && absl::StartsWith(it->first, symbol + "."); ++it) {
      if (aligned(it->first)) clone = it->first;
    }
    if (!clone.empty()) {
      static auto* noted = new std::set<std::string>;
      if (noted->insert(file + " " + clone).second) {
        std::printf("[ note     ] %s: the offset of \"%s+0x...\" is from %s\n", file.c_str(),
                    symbol.c_str(), clone.c_str());
      }
      continue;
    }
    ADD_FAILURE() << line << ": " << symbol << " of " << file
                  << " gives no page-aligned load bias: not the file that was mapped";
  }
  return checked;
}

// `--core CORE --native` on a crash core: exit 0 and no message; with the C lines taken out, the
// report faulthandler wrote; C frames in the crashed thread (a C thread, which no Python thread
// stands for, has none to show: then any thread's), read from the files the process mapped;
// for a SIGSEGV in ctypes.string_at(0), the C library's function that faulted, called by
// _ctypes. The core is whole: no thread's C stack ends early.
void ExpectNativeReport(const std::string& tool, const CrashCase& c, const Crash& crash) {
  SCOPED_TRACE("--native");
  std::vector<std::string> argv = CoreCommand(tool, crash.core, c.python);
  argv.push_back("--native");
  absl::StatusOr<RunResult> r = RunProgram(argv, kToolTimeout, ToolEnv(c.python));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_FALSE(r->timed_out) << "the tool hung";
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  EXPECT_EQ(r->err, "") << Printable(r->err);
  const std::string python_part = WithoutNativeLines(PythonPartOfReport(r->out));
  EXPECT_TRUE(python_part == crash.report) << DescribeMismatch(crash.report, python_part);

  const std::vector<ThreadBlock> blocks = ThreadBlocks(r->out);
  auto current = std::find_if(blocks.begin(), blocks.end(),
                              [](const ThreadBlock& b) { return b.current(); });
  if (c.scenario.name == "cthread") {
    EXPECT_EQ(current, blocks.end()) << r->out;
    EXPECT_NE(PythonPartOfReport(r->out).find("  Binary file \""), std::string::npos)
        << "no C frame at all:\n" << r->out;
  } else {
    ASSERT_NE(current, blocks.end()) << r->out;
    const std::vector<std::string> c_lines = current->CLines();
    EXPECT_FALSE(c_lines.empty()) << "no C frame in the crashed thread:\n" << r->out;
    if (c.scenario.name == "segv") {
      auto ctypes = std::find_if(c_lines.begin(), c_lines.end(), [](const std::string& line) {
        return absl::StrContains(fs::path(BinaryFileOf(line)).filename().string(), "_ctypes");
      });
      EXPECT_NE(ctypes, c_lines.end()) << "no frame of _ctypes in the crashed thread:\n" << r->out;
      EXPECT_TRUE(ctypes != c_lines.begin() && ctypes != c_lines.end() &&
                  IsLibc(BinaryFileOf(*(ctypes - 1))))
          << "the frame that faulted (the C library's, called by _ctypes) is not there:\n"
          << r->out;
    }
  }
  const int checked = ExpectSymbolsFromMappedFiles(r->out, c.python);
  EXPECT_GT(checked, 0) << "no C frame named by a symbol of its file's own tables:\n" << r->out;
  // A complete core holds every stack: each thread's C stack is unwound to its first frame.
  EXPECT_EQ(r->out.find(kCStackEnds), std::string::npos) << r->out;
}

// `argv` (a plain --core run that gave `plain`) again with --native: never a hang or a signal;
// the same exit code and messages; with the C lines taken out, the same dump. Its result, or
// nullopt (with a failure) when it did not run to its end.
std::optional<RunResult> ExpectNativeKeepsDump(std::vector<std::string> argv,
                                               const RunResult& plain) {
  argv.push_back("--native");
  absl::StatusOr<RunResult> r = RunProgram(argv, kToolTimeout);
  if (!r.ok()) {
    ADD_FAILURE() << r.status();
    return std::nullopt;
  }
  if (r->timed_out || !r->exited()) {
    ADD_FAILURE() << "--native " << (r->timed_out ? "hung" : "did not exit") << ":\n"
                  << r->Describe();
    return std::nullopt;
  }
  EXPECT_EQ(r->exit_code(), plain.exit_code()) << "--native:\n" << r->Describe()
                                               << "\nwithout --native:\n" << plain.Describe();
  EXPECT_EQ(r->err, plain.err) << Printable(r->err);
  // The threads (3.14+: the crash handler's C stack follows them, the same with --native).
  const std::string plain_threads = PythonPartOfReport(plain.out);
  const std::string threads = PythonPartOfReport(r->out);
  const std::string python_part = WithoutNativeLines(threads);
  EXPECT_TRUE(python_part == plain_threads) << "--native, its C lines taken out:\n"
                                            << DescribeMismatch(plain_threads, python_part);
  const std::string plain_rest = plain.out.substr(plain_threads.size());
  const std::string rest = r->out.substr(threads.size());
  EXPECT_TRUE(rest == plain_rest) << DescribeMismatch(plain_rest, rest);
  return *std::move(r);
}

// Every thread of a --native dump shows C frames, the first (the innermost: a system call's
// wrapper, or where a signal struck) in a file the process had mapped.
void ExpectCFramesInEveryThread(const std::string& dump) {
  const std::vector<ThreadBlock> blocks = ThreadBlocks(dump);
  EXPECT_FALSE(blocks.empty()) << dump;
  for (const ThreadBlock& block : blocks) {
    const std::vector<std::string> c_lines = block.CLines();
    EXPECT_FALSE(c_lines.empty()) << block.header << ": no C frame:\n" << dump;
    if (!c_lines.empty()) {
      EXPECT_NE(BinaryFileOf(c_lines.front()), "")
          << block.header << ": its innermost C frame is in no file the core names:\n" << dump;
    }
  }
}

TEST_P(CoreTest, CrashReportMatchesFaulthandler) {
  const CrashCase& c = GetParam();
  ASSERT_TOOL(tool);
  if (c.python.major == 2) {
    GTEST_SKIP() << "CPython 2.7 has no faulthandler: there is no crash report of its own to "
                    "compare with (its cores are covered by Gcore.MatchesLiveDump)";
  }
  const CorePattern pattern = ReadCorePattern();
  if (pattern.piped()) {
    GTEST_SKIP() << "core_pattern pipes cores to a program ('" << pattern.pattern
                 << "'): this test cannot get at them. NOT TESTED: crash cores.";
  }
  absl::StatusOr<Crash> crash = RunCrash(c.python, c.scenario.script);
  ASSERT_TRUE(crash.ok()) << crash.status();
  ASSERT_EQ(crash->signal, c.scenario.signal) << Printable(crash->report);
  ASSERT_TRUE(absl::StartsWith(crash->report, "Fatal Python error: "))
      << "unexpected stderr from the target:\n"
      << Printable(crash->report);
  // The scenario shows what it is there for (CPython's own report says so).
  const bool has_current = absl::StrContains(crash->report, "\nCurrent thread 0x");
  EXPECT_EQ(has_current, c.scenario.name != "cthread") << Printable(crash->report);
  if (c.scenario.name == "gc" && c.python.minor >= 10) {
    EXPECT_TRUE(absl::StrContains(crash->report, "  Garbage-collecting\n"))
        << Printable(crash->report);
  }

  absl::StatusOr<RunResult> r =
      RunProgram(CoreCommand(tool, crash->core, c.python), kToolTimeout, ToolEnv(c.python));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  // The C-stack paragraph of 3.14+ that follows is crash_core_test.cc's to check.
  const std::string python_part = PythonPartOfReport(r->out);
  EXPECT_TRUE(python_part == crash->report) << DescribeMismatch(crash->report, python_part);
  EXPECT_EQ(r->err, "") << Printable(r->err);

  // The other views read the same core.
  if (c.scenario.name == "segv") {
    for (const char* format : {"traceback", "json"}) {
      SCOPED_TRACE(format);
      std::vector<std::string> argv = CoreCommand(tool, crash->core, c.python);
      argv.push_back(absl::StrCat("--format=", format));
      absl::StatusOr<RunResult> view = RunProgram(argv, kToolTimeout, ToolEnv(c.python));
      ASSERT_TRUE(view.ok()) << view.status();
      EXPECT_EQ(view->exit_code(), 0) << view->Describe();
      EXPECT_NE(view->out.find("crash_inner"), std::string::npos) << view->Describe();
      EXPECT_EQ(view->err, "") << Printable(view->err);
    }
  }
  ExpectNativeReport(tool, c, *crash);
}

std::string CrashCaseName(const ::testing::TestParamInfo<CrashCase>& info) {
  return info.param.python.name + "_" + info.param.scenario.name;
}

INSTANTIATE_TEST_SUITE_P(Interpreters, CoreTest, ::testing::ValuesIn(AllCrashCases()),
                         CrashCaseName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CoreTest);

TEST(CoreDiscovery, FindsInterpreters) {
  EXPECT_FALSE(AllInterpreters().empty())
      << "no CPython found in " << Interpreters().pyenv_root
      << "/versions/*/bin/python or /usr/bin/python3.N: the core tests ran on none";
}

// --tasks on the core of an asyncio process that aborted: the table its own interpreter's
// `python -m asyncio ps` printed of it just before (3.14+; targets/tasks_asyncio.py abort).
class CrashTasks : public ::testing::TestWithParam<Interpreter> {};

TEST_P(CrashTasks, TableMatchesAsyncioPsBeforeTheCrash) {
  const Interpreter& py = GetParam();
  ASSERT_TOOL(tool);
  absl::StatusOr<Crash> crash = RunCrash(py, "tasks_asyncio.py", {"abort"});
  ASSERT_TRUE(crash.ok()) << crash.status();
  std::optional<std::string> expected = ReadFile(crash->dir->path() + "/ps.txt");
  ASSERT_TRUE(expected.has_value() && expected->find("group-child") != std::string::npos)
      << "the target's python -m asyncio ps wrote no table: " << expected.value_or("");
  std::vector<std::string> argv = CoreCommand(tool, crash->core, py);
  argv.push_back("--tasks");
  absl::StatusOr<RunResult> r = RunProgram(argv, kToolTimeout, ToolEnv(py));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  EXPECT_EQ(r->err, "") << Printable(r->err);
  EXPECT_TRUE(r->out == *expected) << DescribeMismatch(*expected, r->out);
}

std::vector<Interpreter> WithAsyncioTools() {
  std::vector<Interpreter> found;
  for (const Interpreter& py : Interpreters().in_scope) {
    if (py.major == 3 && py.minor >= 14) found.push_back(py);
  }
  return found;
}

INSTANTIATE_TEST_SUITE_P(Interpreters, CrashTasks, ::testing::ValuesIn(WithAsyncioTools()),
                         [](const ::testing::TestParamInfo<Interpreter>& info) {
                           return info.param.name;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CrashTasks);

// ---------------------------------------------------------------------------------------------
// gcore of a live process

class Gcore : public ::testing::TestWithParam<Interpreter> {};

TEST_P(Gcore, MatchesLiveDump) {
  const Interpreter& py = GetParam();
  ASSERT_TOOL(tool);
  // A free-threaded build has a GIL holder only with its GIL on (PYTHON_GIL=1).
  absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(
      py, "core_live.py", {}, false,
      py.free_threaded ? std::vector<std::string>{"PYTHON_GIL=1"} : std::vector<std::string>{});
  ASSERT_TRUE(target.ok()) << target.status();
  const pid_t pid = (*target)->child.pid();
  const std::vector<std::string> env = ToolEnv(py);

  absl::StatusOr<RunResult> live = RunProgram({tool, std::to_string(pid)}, kToolTimeout, env);
  ASSERT_TRUE(live.ok()) << live.status();
  ASSERT_EQ(live->exit_code(), 0) << live->Describe();
  ASSERT_NE(live->out.find("Current thread"), std::string::npos) << live->Describe();

  const std::string prefix = (*target)->dir.path() + "/gcore";
  // In a Debian root, that root's gdb, as a user in that container would run it: the host's gdb
  // 13 cannot read the stacks of threads behind recent glibc's in-mapping guard pages (the core
  // then holds zeros there, which the tool reports: CoreLostStacks below).
  std::vector<std::string> gcore_argv = {"gcore", "-o", prefix, std::to_string(pid)};
  if (py.InRoot() && fs::exists(py.root + "/usr/bin/gcore")) {
    absl::StatusOr<std::string> in_root = InRootScript();
    ASSERT_TRUE(in_root.ok()) << in_root.status();
    gcore_argv = {*in_root, py.root, "/usr/bin/gcore", "-o", prefix, std::to_string(pid)};
  }
  absl::StatusOr<RunResult> gcore = RunProgram(gcore_argv, std::chrono::seconds(120));
  ASSERT_TRUE(gcore.ok()) << gcore.status() << " (gdb's gcore is needed: apt-get install gdb)";
  const std::string core = absl::StrCat(prefix, ".", pid);
  ASSERT_EQ(gcore->exit_code(), 0) << gcore->Describe();
  ASSERT_TRUE(fs::exists(core)) << "gcore wrote no " << core << "\n" << gcore->Describe();

  absl::StatusOr<RunResult> r = RunProgram(CoreCommand(tool, core, py), kToolTimeout, env);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  EXPECT_TRUE(r->out == live->out) << DescribeMismatch(live->out, r->out);
  EXPECT_EQ(r->err, "") << Printable(r->err);
  // Python 3 wrote its own dump of the same state ("sync"): both must be it.
  if ((*target)->mode == "sync") {
    EXPECT_TRUE(r->out == (*target)->expected) << DescribeMismatch((*target)->expected, r->out);
  }

  // --native on gdb's core: the C stacks of every thread, to their first frames. gdb writes no
  // program header at all for the file-backed mappings it leaves out (the kernel writes one with
  // no bytes): which of them hold code, the core does not say.
  SCOPED_TRACE("--native");
  std::optional<RunResult> native = ExpectNativeKeepsDump(CoreCommand(tool, core, py), *r);
  if (!native) return;
  ExpectCFramesInEveryThread(native->out);
  EXPECT_EQ(native->out.find(kCStackEnds), std::string::npos) << native->out;
}

INSTANTIATE_TEST_SUITE_P(Interpreters, Gcore, ::testing::ValuesIn(AllInterpreters()),
                         [](const ::testing::TestParamInfo<Interpreter>& info) {
                           return info.param.name;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Gcore);

// The host's own gcore on a target of the Debian-unstable root (glibc with in-mapping guard
// pages): Debian 12's gdb 13 saves the worker threads' stacks as zeros. The tool must say so, mark
// the dump incomplete (exit 9) and show none of the zeros as frames; every frame it does show is
// one of the live dump's. Where the host's gdb saves those stacks, the core must match exactly.
TEST(CoreLostStacks, ZeroedStacksAreReportedNotShown) {
  ASSERT_TOOL(tool);
  std::optional<Interpreter> py;
  for (const Interpreter& candidate : AllInterpreters()) {
    if (candidate.InRoot() && candidate.major == 3 && candidate.minor >= 13) py = candidate;
  }
  if (!py) GTEST_SKIP() << "no interpreter of the Debian-unstable root (scripts/make-root unstable)";
  absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(*py, "core_live.py", {});
  ASSERT_TRUE(target.ok()) << target.status();
  const pid_t pid = (*target)->child.pid();
  absl::StatusOr<RunResult> live = RunProgram({tool, std::to_string(pid)}, kToolTimeout);
  ASSERT_TRUE(live.ok()) << live.status();
  ASSERT_EQ(live->exit_code(), 0) << live->Describe();
  const std::string prefix = (*target)->dir.path() + "/hostgcore";
  absl::StatusOr<RunResult> gcore =
      RunProgram({"gcore", "-o", prefix, std::to_string(pid)}, std::chrono::seconds(120));
  ASSERT_TRUE(gcore.ok()) << gcore.status();
  ASSERT_EQ(gcore->exit_code(), 0) << gcore->Describe();
  absl::StatusOr<RunResult> r =
      RunProgram(CoreCommand(tool, absl::StrCat(prefix, ".", pid), *py), kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  if (!absl::StrContains(r->err, "holds zeros for the stack of thread")) {
    std::printf("[   info   ] the host's gcore saved every stack of %s\n", py->Version().c_str());
    EXPECT_EQ(r->exit_code(), 0) << r->Describe();
    EXPECT_TRUE(r->out == live->out) << DescribeMismatch(live->out, r->out);
    return;
  }
  std::printf("[   info   ] the host's gcore lost thread stacks of %s\n", py->Version().c_str());
  EXPECT_EQ(r->exit_code(), kExitPartial) << r->Describe();
  EXPECT_TRUE(absl::StrContains(r->out, "<pystack-dump: unreadable frame at")) << r->Describe();
  EXPECT_FALSE(absl::StrContains(r->out, "File ???")) << r->Describe();
  for (absl::string_view line : absl::StrSplit(r->out, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "  File ") || absl::StartsWith(line, "Thread ") ||
        absl::StartsWith(line, "Current thread ")) {
      EXPECT_TRUE(absl::StrContains(live->out, line)) << line << " is not in the live dump:\n"
                                                      << live->out;
    }
  }

  // --native: a thread whose stack is zeros shows the frame its registers name, then a marked
  // end; its Python frames are all still shown (exit 9 as without --native). The main thread's
  // stack is in the core: its C stack goes to its first frame.
  SCOPED_TRACE("--native");
  std::optional<RunResult> native =
      ExpectNativeKeepsDump(CoreCommand(tool, absl::StrCat(prefix, ".", pid), *py), *r);
  if (!native) return;
  ExpectCFramesInEveryThread(native->out);
  for (const ThreadBlock& block : ThreadBlocks(native->out)) {
    const bool marked =
        std::any_of(block.lines.begin(), block.lines.end(),
                    [](const std::string& l) { return absl::StartsWith(l, kCStackEnds); });
    EXPECT_EQ(marked, !block.current())
        << block.header << (block.current() ? ": its stack is in the core"
                                            : ": its stack is zeros in the core")
        << ":\n" << native->out;
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

// The newest interpreter the tool reads by default, for tests that need one crash core.
std::optional<Interpreter> NewestDefault() {
  std::optional<Interpreter> newest;
  for (const Interpreter& py : AllInterpreters()) {
    if (ToolEnv(py).empty()) newest = py;
  }
  return newest;
}

void ExpectOneError(const absl::StatusOr<RunResult>& r, int code, const std::string& mention) {
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), code) << r->Describe();
  EXPECT_EQ(r->out, "") << r->Describe();
  EXPECT_TRUE(IsOneErrorLine(r->err)) << Printable(r->err);
  EXPECT_NE(r->err.find(mention), std::string::npos)
      << "no '" << mention << "' in " << Printable(r->err);
}

TEST(CoreErrors, NotACoreFile) {
  ASSERT_TOOL(tool);
  TempDir dir;
  const std::string text = dir.path() + "/notes.txt";
  std::ofstream(text) << "not a core\n";
  const std::string empty = dir.path() + "/empty";
  std::ofstream(empty).flush();
  ExpectOneError(RunProgram({tool, "--core", text}, kToolTimeout), kExitBadCore, "not a core");
  ExpectOneError(RunProgram({tool, "--core", empty}, kToolTimeout), kExitBadCore, "empty");
  ExpectOneError(RunProgram({tool, "--core", "/bin/sh"}, kToolTimeout), kExitBadCore, "not a core");
  ExpectOneError(RunProgram({tool, "--core", dir.path()}, kToolTimeout), kExitBadCore, dir.path());
  ExpectOneError(RunProgram({tool, "--core", dir.path() + "/missing"}, kToolTimeout),
                 kExitNoSuchProcess, "missing");
}

// The program is sleep run under the name "two\nlines" (argv[0], which the core's NT_PRPSINFO
// keeps): the error names the process by it, escaped to stay one line.
TEST(CoreErrors, CoreOfAProgramThatIsNotPython) {
  ASSERT_TOOL(tool);
  TempDir dir;
  absl::StatusOr<Child> sleeper =
      Spawn({"/bin/bash", "-c", "exec -a \"$0\" sleep 60", "two\nlines"});
  ASSERT_TRUE(sleeper.ok()) << sleeper.status();
  const std::string prefix = dir.path() + "/gcore";
  absl::StatusOr<RunResult> gcore = RunProgram(
      {"gcore", "-o", prefix, std::to_string(sleeper->pid())}, std::chrono::seconds(120));
  ASSERT_TRUE(gcore.ok()) << gcore.status();
  const std::string core = absl::StrCat(prefix, ".", sleeper->pid());
  ASSERT_TRUE(fs::exists(core)) << gcore->Describe();
  absl::StatusOr<RunResult> r = RunProgram({tool, "--core", core}, kToolTimeout);
  ExpectOneError(r, kExitNotPython, "not a Python");
  EXPECT_NE(r->err.find("two\\x0alines"), std::string::npos) << Printable(r->err);
  EXPECT_NE(r->err.find(" (hint: "), std::string::npos) << Printable(r->err);
}

// Debian's python3.11 is static: its executable holds the runtime, so the core cannot be read
// without it. A copy of it runs a crash, then moves into a "sysroot".
TEST(CoreErrors, MissingExecutableSysrootAndExecutableOptions) {
  ASSERT_TOOL(tool);
  const std::string system_python = "/usr/bin/python3.11";
  ASSERT_TRUE(fs::exists(system_python))
      << system_python << " (Debian's static build) is needed: scripts/install-deps --test";
  if (ReadCorePattern().piped())
    GTEST_SKIP() << "core_pattern pipes cores to a program: NOT TESTED";
  TempDir dir;
  Interpreter py;
  py.path = dir.path() + "/bin/python3.11";
  py.major = 3;
  py.minor = 11;
  fs::create_directories(dir.path() + "/bin");
  fs::copy_file(system_python, py.path);
  absl::StatusOr<Crash> crash = RunCrash(py, "core_segv.py");
  ASSERT_TRUE(crash.ok()) << crash.status();

  const std::string sysroot = dir.path() + "/sysroot";
  const std::string moved = sysroot + py.path;
  fs::create_directories(fs::path(moved).parent_path());
  fs::rename(py.path, moved);

  absl::StatusOr<RunResult> missing = RunProgram({tool, "--core", crash->core}, kToolTimeout);
  ExpectOneError(missing, kExitNoSuchProcess, py.path);
  EXPECT_NE(missing->err.find("--executable"), std::string::npos) << Printable(missing->err);
  EXPECT_NE(missing->err.find("--sysroot"), std::string::npos) << Printable(missing->err);

  for (const std::vector<std::string>& option :
       {std::vector<std::string>{"--sysroot", sysroot}, {"--executable", moved}}) {
    SCOPED_TRACE(option[0]);
    absl::StatusOr<RunResult> r =
        RunProgram({tool, "--core", crash->core, option[0], option[1]}, kToolTimeout);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->exit_code(), 0) << r->Describe();
    EXPECT_TRUE(r->out == crash->report) << DescribeMismatch(crash->report, r->out);
    EXPECT_EQ(r->err, "") << Printable(r->err);
  }

  // The same executable with another build id: the dump still works, with one warning.
  std::string image = ReadFile(moved).value_or("");
  absl::StatusOr<RunResult> readelf = RunProgram({"readelf", "-n", moved}, kToolTimeout);
  ASSERT_TRUE(readelf.ok() && readelf->exit_code() == 0);
  const size_t at = readelf->out.find("Build ID: ");
  ASSERT_NE(at, std::string::npos) << readelf->out;
  const std::string hex = Trim(readelf->out.substr(at + 10, readelf->out.find('\n', at) - at - 10));
  std::string id;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    id += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  const size_t where = image.find(id);
  ASSERT_NE(where, std::string::npos);
  image[where] = static_cast<char>(image[where] ^ 0xff);
  const std::string other = dir.path() + "/other-python3.11";
  std::ofstream(other, std::ios::binary) << image;
  absl::StatusOr<RunResult> r =
      RunProgram({tool, "--core", crash->core, "--executable", other}, kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  EXPECT_TRUE(r->out == crash->report) << DescribeMismatch(crash->report, r->out);
  EXPECT_TRUE(absl::StartsWith(r->err, "pystack-dump: warning: ") &&
              std::count(r->err.begin(), r->err.end(), '\n') == 1 &&
              absl::StrContains(r->err, "does not match the core"))
      << Printable(r->err);

  ExpectOneError(
      RunProgram({tool, "--core", crash->core, "--executable", dir.path() + "/nope"}, kToolTimeout),
      kExitNoSuchProcess, "nope");

  // A dump that cannot be written: the error says why, exit 1.
  absl::StatusOr<RunResult> full = RunProgram(
      {"/bin/sh", "-c", "exec \"$@\" > /dev/full", "sh", tool, "--core", crash->core,
       "--sysroot", sysroot},
      kToolTimeout);
  ExpectOneError(full, 1, "No space left on device");
  EXPECT_NE(full->err.find(" (hint: "), std::string::npos) << Printable(full->err);

  // Another program altogether given as the executable: named, with both build ids.
  absl::StatusOr<RunResult> sleep =
      RunProgram({tool, "--core", crash->core, "--executable", "/usr/bin/sleep"}, kToolTimeout);
  ExpectOneError(sleep, kExitNoSuchProcess, "--executable /usr/bin/sleep is not the crashed");
  EXPECT_NE(sleep->err.find("build id"), std::string::npos) << Printable(sleep->err);
  EXPECT_NE(sleep->err.find(" (hint: "), std::string::npos) << Printable(sleep->err);

  // Another release's interpreter where the crashed one was (a --sysroot of the wrong machine):
  // a warning that its build id differs, then an error, never a report without threads.
  std::optional<Interpreter> other_release;
  for (const Interpreter& candidate : Interpreters().in_scope) {
    if (!candidate.InRoot() && candidate.major == 3 && candidate.minor != 11 &&
        candidate.path.find("/.pyenv/") != std::string::npos) {
      other_release = candidate;
    }
  }
  if (!other_release) {
    std::cout << "[ not run  ] another release under --sysroot: no pyenv Python 3 other than 3.11\n";
    return;
  }
  const std::string wrong_root = dir.path() + "/wrong-sysroot";
  const std::string wrong = wrong_root + py.path;
  fs::create_directories(fs::path(wrong).parent_path());
  fs::copy_file(fs::canonical(other_release->path), wrong);
  absl::StatusOr<RunResult> mixed =
      RunProgram({tool, "--core", crash->core, "--sysroot", wrong_root}, kToolTimeout);
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  EXPECT_NE(mixed->exit_code(), 0) << mixed->Describe();
  const std::vector<std::string> lines = absl::StrSplit(Trim(mixed->err), '\n');
  ASSERT_FALSE(lines.empty()) << mixed->Describe();
  EXPECT_TRUE(absl::StartsWith(lines.back(), "pystack-dump: error: ") &&
              absl::StrContains(lines.back(), " (hint: "))
      << Printable(mixed->err);
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_TRUE(absl::StartsWith(lines[i], "pystack-dump: warning: ")) << Printable(mixed->err);
  }
  EXPECT_TRUE(absl::StrContains(mixed->err, "does not match the core")) << Printable(mixed->err);
}

// What a damaged core may give: an error line, or a dump marked where it is incomplete (exit 9),
// or the whole report; never a signal or a hang.
void ExpectErrorOrMarkedDump(const absl::StatusOr<RunResult>& r, const std::string& report) {
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_FALSE(r->timed_out) << "the tool hung";
  ASSERT_TRUE(r->exited()) << r->Describe();
  EXPECT_TRUE(OnlyWarnings(ErrorLines(r->err)) || IsOneErrorLine(ErrorLines(r->err)))
      << r->Describe();
  switch (r->exit_code()) {
    case 0:
      EXPECT_TRUE(ErrorLines(r->err).empty()) << r->Describe();
      break;
    case kExitPartial:
      EXPECT_NE(r->out.find("<pystack-dump: "), std::string::npos) << r->Describe();
      break;
    default:
      EXPECT_EQ(r->out, "") << r->Describe();
      EXPECT_TRUE(IsOneErrorLine(ErrorLines(r->err))) << r->Describe();
      EXPECT_TRUE(r->exit_code() >= 2 && r->exit_code() <= 10) << r->Describe();
  }
  (void)report;
}

class DamagedCore : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::optional<Interpreter> py = NewestDefault();
    if (!py || ReadCorePattern().piped()) return;
    python_ = new Interpreter(*py);
    absl::StatusOr<Crash> c = RunCrash(*py, "core_segv.py");
    if (c.ok())
      crash_ = new Crash(*std::move(c));
    else
      problem_ = new std::string(c.status().ToString());
  }
  static void TearDownTestSuite() {
    delete crash_;
    crash_ = nullptr;
  }
  void SetUp() override {
    if (ReadCorePattern().piped())
      GTEST_SKIP() << "core_pattern pipes cores to a program: NOT TESTED";
    ASSERT_TRUE(NewestDefault()) << "no CPython found";
    ASSERT_NE(crash_, nullptr) << (problem_ ? *problem_ : "no crash core");
  }
  static std::string Original() { return ReadFile(crash_->core).value_or(""); }
  static std::string Write(const std::string& bytes) {
    const std::string path = crash_->dir->path() + "/damaged";
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    return path;
  }
  // The tool on a damaged copy (with the interpreter's root as --sysroot when it ran in one).
  static absl::StatusOr<RunResult> Dump(const std::string& tool, const std::string& core) {
    return RunProgram(CoreCommand(tool, core, *python_), kToolTimeout);
  }
  // The same with --native, beside the plain run `r` (ExpectNativeKeepsDump).
  static std::optional<RunResult> DumpNative(const std::string& tool, const std::string& core,
                                             const absl::StatusOr<RunResult>& r) {
    if (!r.ok()) return std::nullopt;
    return ExpectNativeKeepsDump(CoreCommand(tool, core, *python_), *r);
  }
  static inline Crash* crash_ = nullptr;
  static inline Interpreter* python_ = nullptr;
  static inline std::string* problem_ = nullptr;
};

// The thread id of a block's header ("Thread 0x00007f6c2e7fc6c0 [name] (most recent ..."): the
// name may differ, read from a cut core (3.14+ names a thread from its Python thread object).
std::string ThreadIdOf(const std::string& header) {
  const size_t at = header.find("0x");
  return at == std::string::npos ? header : header.substr(at, header.find(' ', at) - at);
}

// Each thread's C frames of a --native dump, by its thread id.
std::map<std::string, std::vector<std::string>> CFramesByThread(const std::string& dump) {
  std::map<std::string, std::vector<std::string>> threads;
  for (const ThreadBlock& block : ThreadBlocks(dump)) {
    threads[ThreadIdOf(block.header)] = block.CLines();
  }
  return threads;
}

TEST_F(DamagedCore, TruncatedCores) {
  ASSERT_TOOL(tool);
  const std::string original = Original();
  ASSERT_GT(original.size(), 1u << 20);
  // --native on the whole core: what a cut one may show of each thread's C stack.
  absl::StatusOr<RunResult> whole = Dump(tool, crash_->core);
  ASSERT_TRUE(whole.ok()) << whole.status();
  std::optional<RunResult> whole_native = DumpNative(tool, crash_->core, whole);
  ASSERT_TRUE(whole_native.has_value());
  const std::map<std::string, std::vector<std::string>> whole_frames =
      CFramesByThread(whole_native->out);
  int cut_stacks = 0;
  for (size_t size :
       {size_t{10}, size_t{100}, size_t{64}, size_t{4096}, size_t{20000}, original.size() / 4,
        original.size() / 2, original.size() * 3 / 4, original.size() - 1}) {
    SCOPED_TRACE(absl::StrCat("cut to ", size, " of ", original.size(), " bytes"));
    const std::string path = Write(original.substr(0, size));
    absl::StatusOr<RunResult> r = Dump(tool, path);
    ExpectErrorOrMarkedDump(r, crash_->report);
    if (r.ok() && r->exit_code() == 0) {
      // 3.14+: the crash handler's C stack follows the threads (crash_core_test.cc's).
      EXPECT_EQ(PythonPartOfReport(r->out), crash_->report);
    }
    // A cut core says so.
    EXPECT_NE(r->err.find("truncated"), std::string::npos) << r->Describe();

    // --native: the same exit code and Python frames; each thread's C frames are the whole
    // core's up to where its stack is cut off, and then a marked line.
    std::optional<RunResult> native = DumpNative(tool, path, r);
    if (!native) continue;
    ExpectErrorOrMarkedDump(*native, crash_->report);
    for (const ThreadBlock& block : ThreadBlocks(native->out)) {
      SCOPED_TRACE(block.header);
      auto it = whole_frames.find(ThreadIdOf(block.header));
      ASSERT_NE(it, whole_frames.end()) << native->out;
      const std::vector<std::string> frames = block.CLines();
      const std::vector<std::string>& all = it->second;
      EXPECT_TRUE(frames.size() <= all.size() &&
                  std::equal(frames.begin(), frames.end(), all.begin()))
          << "not the whole core's C frames (or the first of them):\n"
          << DescribeMismatch(absl::StrJoin(all, "\n"), absl::StrJoin(frames, "\n"));
      const bool marked =
          std::any_of(block.lines.begin(), block.lines.end(),
                      [](const std::string& l) { return absl::StartsWith(l, kCStackEnds); });
      // Where faulthandler's own dump of the thread stops (3.13.10+'s "<invalid frame>" after a
      // frame it cannot trust, its "..." past 100 frames), the C lines stop with it.
      const bool python_stopped =
          std::any_of(block.lines.begin(), block.lines.end(), [](const std::string& l) {
            return l == "  <invalid frame>" || l == "  ...";
          });
      if (frames.size() < all.size() && python_stopped) continue;
      if (frames.size() < all.size()) {
        ++cut_stacks;
        EXPECT_TRUE(marked) << "a C stack cut short without a marked end:\n" << native->out;
      } else {
        EXPECT_FALSE(marked) << native->out;
      }
    }
  }
  // Some cut falls in the threads' stacks (the last segments of a kernel core).
  EXPECT_GT(cut_stacks, 0) << "no cut took frames from a C stack";
}

// The core names a library's file by a path where there is now no file, or a FIFO (opening one
// to read waits for a writer): --native shows the same Python frames with the same exit code,
// the C frames it can, and never waits. libffi: mapped with code by ctypes (core_segv.py), its
// frames on the crashed thread's stack (ffi_call). Its path in the core is replaced, everywhere,
// by one of the same length in the test's directory.
TEST_F(DamagedCore, LibraryFileMissingOrAFifo) {
  ASSERT_TOOL(tool);
  const std::string original = Original();
  const size_t at = original.find("/libffi.so");
  ASSERT_NE(at, std::string::npos) << "the core names no libffi";
  const size_t begin = original.rfind('\0', at) + 1;
  const size_t end = original.find('\0', at);
  ASSERT_NE(end, std::string::npos);
  const std::string library = original.substr(begin, end - begin);
  const std::string dir = crash_->dir->path() + "/";
  ASSERT_GT(library.size(), dir.size() + 1) << library;
  const std::string stand_in = dir + std::string(library.size() - dir.size(), 'f');
  std::string bytes = absl::StrReplaceAll(original, {{library, stand_in}});
  const std::string path = Write(bytes);
  for (const bool fifo : {false, true}) {
    SCOPED_TRACE(absl::StrCat(library, " replaced by ", stand_in,
                              fifo ? ", a FIFO" : ", which does not exist"));
    std::error_code ec;
    fs::remove(stand_in, ec);
    if (fifo) {
      ASSERT_EQ(::mkfifo(stand_in.c_str(), 0600), 0) << strerror(errno);
    }
    absl::StatusOr<RunResult> r = Dump(tool, path);
    ExpectErrorOrMarkedDump(r, crash_->report);
    std::optional<RunResult> native = DumpNative(tool, path, r);
    if (!native) continue;
    const std::vector<ThreadBlock> blocks = ThreadBlocks(native->out);
    auto current = std::find_if(blocks.begin(), blocks.end(),
                                [](const ThreadBlock& b) { return b.current(); });
    ASSERT_NE(current, blocks.end()) << native->out;
    EXPECT_FALSE(current->CLines().empty()) << native->out;
  }
}

TEST_F(DamagedCore, CorruptedCores) {
  ASSERT_TOOL(tool);
  const std::string original = Original();
  // Headers and notes are in the first pages of a kernel core; most flips go there.
  const size_t head = std::min<size_t>(original.size(), 64 << 10);
  for (uint32_t seed = 1; seed <= 16; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    std::mt19937 random(seed);
    std::string bytes = original;
    for (int i = 0; i < 24; ++i) {
      const size_t at = i % 3 == 2 ? random() % bytes.size() : random() % head;
      bytes[at] = static_cast<char>(bytes[at] ^ (1 + random() % 255));
    }
    const std::string path = Write(bytes);
    absl::StatusOr<RunResult> r = Dump(tool, path);
    ExpectErrorOrMarkedDump(r, crash_->report);
    // --native through libdw over the same damage: the same outcome, never a crash or a hang.
    std::optional<RunResult> native = DumpNative(tool, path, r);
    if (native) ExpectErrorOrMarkedDump(*native, crash_->report);
  }
}

// Prints which interpreters the crash tests covered.
class CoreCoverageReport : public ::testing::Environment {
 public:
  void TearDown() override {
    std::string text = "\n[ coverage ] crash cores vs faulthandler, per interpreter:\n";
    if (CoreTally().empty()) text += "[ coverage ]   none run\n";
    for (const auto& [name, counts] : CoreTally()) {
      absl::StrAppend(&text, "[ coverage ]   ", name, "  ", counts[0], "/", counts[1], " passed",
                      counts[2] ? absl::StrCat(", ", counts[2], " skipped") : "", "\n");
    }
    fputs(text.c_str(), stdout);
    fflush(stdout);
  }
};

[[maybe_unused]] ::testing::Environment* const kCoreCoverageReport =
    ::testing::AddGlobalTestEnvironment(new CoreCoverageReport);

}  // namespace
}  // namespace pystack_it
