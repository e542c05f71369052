// pystack-dump --timeout SECS -- COMMAND and pystack-dump --subprocesses PID, from outside:
// - a command that ends in time: its stdin, stdout, stderr and exit status pass through as from a
//   shell (exit code, or 128 + the signal that killed it); signals sent to the wrapper reach it;
// - a command still running at the timeout: every process of its tree gets a section (README,
//   "CI hang diagnostics") whose dump equals, byte for byte, what that process's own CPython
//   faulthandler wrote while parked in the same place (targets/tree_common.py); then the tree is
//   ended (SIGTERM, SIGKILL after --kill-after) and nothing of it remains; exit 124;
// - --subprocesses PID: the same sections for PID and its descendants, which run on afterwards.

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace pystack_it {
namespace {
namespace fs = std::filesystem;

constexpr int kExitTimedOut = 124;
constexpr auto kRunLimit = std::chrono::seconds(60);

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// ---------------------------------------------------------------------------------------------
// /proc, read here rather than through src/: the tests judge the binary from outside.

struct ProcStat {
  pid_t pid = 0, ppid = 0, session = 0;
  char state = '?';
};

std::optional<ProcStat> ReadStat(pid_t pid) {
  std::optional<std::string> text = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!text) return std::nullopt;
  size_t close = text->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::vector<std::string> f = absl::StrSplit(text->substr(close + 2), ' ');
  ProcStat stat;
  stat.pid = pid;
  if (f.size() < 4 || f[0].empty() || !absl::SimpleAtoi(f[1], &stat.ppid) ||
      !absl::SimpleAtoi(f[3], &stat.session)) {
    return std::nullopt;
  }
  stat.state = f[0][0];
  return stat;
}

std::vector<pid_t> AllPids() {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    pid_t pid = 0;
    if (absl::SimpleAtoi(it->path().filename().string(), &pid)) pids.push_back(pid);
  }
  return pids;
}

std::string CommandLine(pid_t pid) {
  std::string cmdline = ReadFile(absl::StrCat("/proc/", pid, "/cmdline")).value_or("");
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  return std::string(absl::StripTrailingAsciiWhitespace(cmdline));
}

bool Exists(pid_t pid) { return ReadStat(pid).has_value(); }

// The processes of session `session`.
std::vector<pid_t> SessionMembers(pid_t session) {
  std::vector<pid_t> members;
  for (pid_t pid : AllPids()) {
    std::optional<ProcStat> stat = ReadStat(pid);
    if (stat && stat->session == session) members.push_back(pid);
  }
  return members;
}

std::optional<pid_t> ReadPidFile(const std::string& path) {
  std::optional<std::string> text = ReadFile(path);
  pid_t pid = 0;
  if (!text || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid) || pid <= 0) {
    return std::nullopt;
  }
  return pid;
}

// Kills, when it goes out of scope, whatever a test's tree may have left: every process whose
// command line names the test's directory (every target takes it as an argument, and forks keep
// it) and every process of the session named by DIR/shell.pid. Bounded.
class TreeReaper {
 public:
  explicit TreeReaper(std::string dir) : dir_(std::move(dir)) {}
  ~TreeReaper() {
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < deadline) {
      std::vector<pid_t> left = Leftovers();
      if (left.empty()) return;
      for (pid_t pid : left) kill(pid, SIGKILL);
      std::this_thread::sleep_for(milliseconds(20));
    }
  }

  std::vector<pid_t> Leftovers() const {
    std::optional<pid_t> session = ReadPidFile(dir_ + "/shell.pid");
    std::vector<pid_t> left;
    for (pid_t pid : AllPids()) {
      if (pid == getpid()) continue;
      std::optional<ProcStat> stat = ReadStat(pid);
      if (!stat || stat->state == 'Z') continue;  // zombies are their parent's to reap
      if ((session && stat->session == *session) ||
          CommandLine(pid).find(dir_) != std::string::npos) {
        left.push_back(pid);
      }
    }
    return left;
  }

 private:
  std::string dir_;
};

// ---------------------------------------------------------------------------------------------
// The tool's tree output

struct Section {
  pid_t pid = 0, ppid = 0;
  std::string command;
  std::string body;  // without the blank line that ends a section
};

struct TreeOutput {
  std::string before;  // lines before the first section
  std::vector<Section> sections;
  std::string after;  // the wrapper's own lines after the sections
  std::vector<std::string> problems;

  const Section* Find(pid_t pid) const {
    for (const Section& s : sections) {
      if (s.pid == pid) return &s;
    }
    return nullptr;
  }
};

// Splits the output at header lines "=== pid PID (parent PPID): COMMAND ===". A section ends at
// the next header or at the wrapper's next own line ("pystack-dump: ..."); it must end with a
// blank line.
TreeOutput ParseTreeOutput(const std::string& text) {
  static const std::regex header(R"(=== pid (\d+) \(parent (\d+)\): (.*) ===)");
  TreeOutput out;
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  Section* current = nullptr;
  bool ended = false;
  auto finish = [&] {
    if (current == nullptr) return;
    if (current->body.size() < 2 || current->body.substr(current->body.size() - 2) != "\n\n") {
      out.problems.push_back(absl::StrCat("the section of pid ", current->pid,
                                          " does not end with a blank line"));
    } else {
      current->body.pop_back();
    }
    current = nullptr;
  };
  for (const std::string& line : lines) {
    std::smatch m;
    if (!ended && std::regex_match(line, m, header)) {
      finish();
      out.sections.emplace_back();
      current = &out.sections.back();
      absl::SimpleAtoi(m[1].str(), &current->pid);
      absl::SimpleAtoi(m[2].str(), &current->ppid);
      current->command = m[3];
    } else if (current != nullptr && !StartsWith(line, "pystack-dump: ")) {
      absl::StrAppend(&current->body, line, "\n");
    } else {
      finish();
      if (!out.sections.empty()) ended = true;
      absl::StrAppend(ended ? &out.after : &out.before, line, "\n");
    }
  }
  finish();
  return out;
}

// ---------------------------------------------------------------------------------------------
// What the tree's processes recorded (targets/tree_common.py)

struct Parked {
  pid_t pid = 0;
  std::string role, version;
  int threads = 0;
};

std::vector<Parked> ReadParked(const std::string& dir) {
  std::vector<Parked> parked;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    Parked p;
    if (!StartsWith(name, "ready-") || !absl::SimpleAtoi(name.substr(6), &p.pid)) continue;
    std::vector<std::string> words =
        absl::StrSplit(absl::StripAsciiWhitespace(ReadFile(it->path()).value_or("")), ' ');
    if (words.size() != 3 || !absl::SimpleAtoi(words[2], &p.threads)) continue;
    p.role = words[0];
    p.version = words[1];
    parked.push_back(p);
  }
  std::sort(parked.begin(), parked.end(), [](auto& a, auto& b) { return a.pid < b.pid; });
  return parked;
}

// The dump a process's own faulthandler wrote, without its "Timeout (...)!" line.
struct OwnDump {
  std::string text;
  bool main_thread_only = false;  // only its last thread (the main thread) is to be compared
};

absl::StatusOr<OwnDump> ReadOwnDump(const std::string& dir, pid_t pid) {
  OwnDump dump;
  std::optional<std::string> text = ReadFile(absl::StrCat(dir, "/expected-", pid, ".txt"));
  if (!text) {
    text = ReadFile(absl::StrCat(dir, "/main-thread-", pid, ".txt"));
    dump.main_thread_only = true;
  }
  if (!text || !StartsWith(*text, "Timeout (") || text->back() != '\n') {
    return absl::NotFoundError(absl::StrCat("no complete faulthandler dump of pid ", pid, " in ",
                                            dir, ": '", Printable(text.value_or("")), "'"));
  }
  dump.text = text->substr(text->find('\n') + 1);
  return dump;
}

// The last thread of an all-threads dump: threads are separated by blank lines, the oldest (the
// main thread) comes last.
std::string LastThread(const std::string& dump) {
  size_t blank = dump.rfind("\n\n");
  return blank == std::string::npos ? dump : dump.substr(blank + 2);
}

void ExpectMatchesOwnDump(const Section& section, const std::string& dir) {
  SCOPED_TRACE(absl::StrCat("pid ", section.pid, ": ", section.command));
  absl::StatusOr<OwnDump> own = ReadOwnDump(dir, section.pid);
  ASSERT_TRUE(own.ok()) << own.status();
  const std::string expected = own->main_thread_only ? LastThread(own->text) : own->text;
  const std::string actual = own->main_thread_only ? LastThread(section.body) : section.body;
  EXPECT_EQ(actual, expected) << DescribeMismatch(expected, actual);
}

// ---------------------------------------------------------------------------------------------
// Running the wrapper with pipes

// Reads a child's stdout until `wanted` appears (bounded); what was read.
std::string ReadStdoutUntil(Child& child, const std::string& wanted, Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string got;
  while (got.find(wanted) == std::string::npos && Clock::now() < deadline) {
    pollfd p = {child.out(), POLLIN, 0};
    if (poll(&p, 1, 50) > 0) {
      char buf[4096];
      ssize_t n = read(child.out(), buf, sizeof buf);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
  }
  return got;
}

// Collects the rest of a child's stdout and stderr until both close, then its status (bounded).
RunResult CollectUntilExit(Child& child, Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  RunResult result;
  bool open[2] = {true, true};
  const int fds[2] = {child.out(), child.err()};
  while ((open[0] || open[1]) && Clock::now() < deadline) {
    pollfd p[2] = {{open[0] ? fds[0] : -1, POLLIN, 0}, {open[1] ? fds[1] : -1, POLLIN, 0}};
    if (poll(p, 2, 50) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      ssize_t n = read(p[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        open[i] = false;
      }
    }
  }
  std::optional<int> status = child.Wait(deadline - std::min(deadline, Clock::now()));
  result.timed_out = !status.has_value();
  result.status = status.value_or(0);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Interpreters

// The interpreters found whose version is 3.6 or later, in two groups (3.11-3.15, and 3.6-3.10) so
// that each pool test stays small.
std::vector<Interpreter> PythonsFrom(int first_minor, int last_minor) {
  std::vector<Interpreter> found;
  for (const auto* list : {&Interpreters().in_scope, &Interpreters().out_of_scope}) {
    for (const Interpreter& py : *list) {
      if (py.major == 3 && py.minor >= first_minor && py.minor <= last_minor) {
        found.push_back(py);
      }
    }
  }
  std::sort(found.begin(), found.end(), [](const Interpreter& a, const Interpreter& b) {
    return std::tie(a.minor, a.micro, a.path) < std::tie(b.minor, b.micro, b.path);
  });
  return found;
}

std::string Describe(const std::vector<Interpreter>& pythons) {
  std::vector<std::string> names;
  for (const Interpreter& py : pythons) names.push_back(py.path + " (" + py.Version() + ")");
  return absl::StrJoin(names, ", ");
}

// A supported interpreter for the tests that need only one: the newest.
std::optional<Interpreter> AnySupportedPython() {
  std::vector<Interpreter> pythons = PythonsFrom(11, 15);
  if (pythons.empty()) return std::nullopt;
  return pythons.back();
}

// ---------------------------------------------------------------------------------------------
// A command that ends in time

TEST(Timeout, PassesOutputAndExitStatusThrough) {
  ASSERT_TOOL(tool);
  const std::vector<std::vector<std::string>> commands = {
      {"sh", "-c", R"(printf 'out\000\377 no newline'; printf 'err line\n' >&2)"},
      {"sh", "-c", "printf 'x'; printf 'y' >&2; exit 3"},
      {"sh", "-c", "printf 'before\\n'; kill -TERM $$"},
      {"sh", "-c", "kill -KILL $$"},
  };
  for (const auto& command : commands) {
    SCOPED_TRACE(absl::StrJoin(command, " "));
    absl::StatusOr<RunResult> direct = RunProgram(command, kRunLimit);
    ASSERT_TRUE(direct.ok() && !direct->timed_out) << direct.status();
    const int expected_code =
        direct->exited() ? direct->exit_code() : 128 + direct->term_signal();
    std::vector<std::string> argv = {tool, "--timeout", "20", "--"};
    argv.insert(argv.end(), command.begin(), command.end());
    const auto start = Clock::now();
    absl::StatusOr<RunResult> wrapped = RunProgram(argv, kRunLimit);
    const auto took = Clock::now() - start;
    ASSERT_TRUE(wrapped.ok()) << wrapped.status();
    EXPECT_EQ(wrapped->exit_code(), expected_code)
        << "direct: " << direct->Describe() << "\nwrapped: " << wrapped->Describe();
    EXPECT_EQ(wrapped->out, direct->out) << wrapped->Describe();
    EXPECT_EQ(wrapped->err, direct->err) << wrapped->Describe();
    EXPECT_LT(took, std::chrono::seconds(10)) << "the wrapper did not return when the command ended";
  }
}

TEST(Timeout, PassesStdinThrough) {
  ASSERT_TOOL(tool);
  absl::StatusOr<Child> wrapper = Spawn({tool, "--timeout", "20", "--", "cat"}, Stdio::Pipe(),
                                        Stdio::Pipe(), Stdio::Pipe());
  ASSERT_TRUE(wrapper.ok()) << wrapper.status();
  const std::string input("line 1\nbinary \0\xff\x01 end", 22);
  ASSERT_EQ(write(wrapper->in(), input.data(), input.size()), static_cast<ssize_t>(input.size()));
  wrapper->CloseIn();
  RunResult r = CollectUntilExit(*wrapper, kRunLimit);
  EXPECT_EQ(r.exit_code(), 0) << r.Describe();
  EXPECT_EQ(r.out, input) << r.Describe();
  EXPECT_EQ(r.err, "");
}

TEST(Timeout, CommandThatCannotRunExits127Or126) {
  ASSERT_TOOL(tool);
  TempDir dir;
  const std::vector<std::pair<std::string, int>> cases = {
      {"/nonexistent/command", 127}, {"no-such-command-pystack", 127}, {dir.path(), 126}};
  for (const auto& [command, code] : cases) {
    absl::StatusOr<RunResult> r = RunProgram({tool, "--timeout", "5", "--", command}, kRunLimit);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->exit_code(), code) << command << ": " << r->Describe();
    EXPECT_TRUE(IsOneErrorLine(r->err)) << Printable(r->err);
  }
}

// Ctrl-C (or a SIGTERM) on the wrapper reaches the command as from a shell; the wrapper waits
// for it and exits with its status.
TEST(Timeout, ForwardsSignalsToTheCommand) {
  ASSERT_TOOL(tool);
  struct Case {
    int signal;
    std::vector<std::string> command;
    int expected_code;
    std::string expected_out;
  };
  const std::vector<Case> cases = {
      {SIGINT,
       {"sh", "-c", "trap 'echo got INT; exit 42' INT; echo ready; while :; do sleep 0.1; done"},
       42,
       "ready\ngot INT\n"},
      {SIGTERM, {"sh", "-c", "echo ready; exec sleep 30"}, 128 + SIGTERM, "ready\n"},
      {SIGHUP, {"sh", "-c", "echo ready; exec sleep 30"}, 128 + SIGHUP, "ready\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(strsignal(c.signal), ": ", absl::StrJoin(c.command, " ")));
    std::vector<std::string> argv = {tool, "--timeout", "20", "--"};
    argv.insert(argv.end(), c.command.begin(), c.command.end());
    absl::StatusOr<Child> wrapper = Spawn(argv, Stdio::Null(), Stdio::Pipe(), Stdio::Pipe());
    ASSERT_TRUE(wrapper.ok()) << wrapper.status();
    std::string out = ReadStdoutUntil(*wrapper, "ready\n", std::chrono::seconds(10));
    ASSERT_EQ(out, "ready\n");
    const auto sent = Clock::now();
    ASSERT_EQ(kill(wrapper->pid(), c.signal), 0);
    RunResult r = CollectUntilExit(*wrapper, std::chrono::seconds(10));
    r.out = out + r.out;
    EXPECT_EQ(r.exit_code(), c.expected_code) << r.Describe();
    EXPECT_EQ(r.out, c.expected_out) << r.Describe();
    EXPECT_EQ(r.err, "") << r.Describe();
    EXPECT_LT(Clock::now() - sent, std::chrono::seconds(5));
  }
}

// ---------------------------------------------------------------------------------------------
// A command still running at the timeout

// `sh tree_pool.sh DIR PYTHON...`: a shell, and under it for each interpreter a Python process
// whose multiprocessing pool's two workers deadlock. After the timeout every process has its
// section: the shell marked as not Python, each worker's dump byte for byte its own
// faulthandler's, each pool's main thread too; then nothing of the tree remains.
void CheckPoolTreeDumpedAndEnded(const std::vector<Interpreter>& pythons,
                                 const std::vector<std::string>& env) {
  ASSERT_TOOL(tool);
  absl::StatusOr<std::string> targets = TargetsDir();
  ASSERT_TRUE(targets.ok()) << targets.status();
  TempDir dir;
  TreeReaper reaper(dir.path());
  std::vector<std::string> argv = {tool, "--timeout", "3", "--", "sh",
                                   *targets + "/tree_pool.sh", dir.path()};
  for (const Interpreter& py : pythons) argv.push_back(py.path);
  absl::StatusOr<RunResult> r = RunProgram(argv, kRunLimit, env);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), kExitTimedOut) << r->Describe();
  EXPECT_EQ(r->out, "");
  std::optional<pid_t> shell = ReadPidFile(dir.path() + "/shell.pid");
  ASSERT_TRUE(shell.has_value()) << "the shell did not start: " << r->Describe();

  const TreeOutput dump = ParseTreeOutput(r->err);
  EXPECT_TRUE(dump.problems.empty()) << absl::StrJoin(dump.problems, "\n") << "\n" << r->Describe();
  EXPECT_TRUE(StartsWith(dump.before, "pystack-dump: timeout: 'sh ") &&
              dump.before.find("still running after 3 s") != std::string::npos)
      << Printable(dump.before);
  EXPECT_TRUE(StartsWith(dump.after, "pystack-dump: timeout: sent SIGTERM to "))
      << Printable(dump.after);

  // The shell: first, not Python.
  ASSERT_FALSE(dump.sections.empty()) << r->Describe();
  EXPECT_EQ(dump.sections.front().pid, *shell);
  EXPECT_NE(dump.sections.front().command.find("tree_pool.sh"), std::string::npos);
  EXPECT_EQ(dump.sections.front().body, "(not a Python process)\n");

  // Every Python process: one pool main and two workers per interpreter, each dumped as its own
  // faulthandler dumped it.
  const std::vector<Parked> parked = ReadParked(dir.path());
  for (const Interpreter& py : pythons) {
    int mains = 0, workers = 0;
    for (const Parked& p : parked) {
      if (p.version != py.Version()) continue;
      mains += p.role == "pool-main";
      workers += p.role == "worker";
    }
    EXPECT_EQ(mains, 1) << py.path << " (" << py.Version() << ")";
    EXPECT_EQ(workers, 2) << py.path << " (" << py.Version() << ")";
  }
  for (const Parked& p : parked) {
    const Section* section = dump.Find(p.pid);
    if (section == nullptr) {
      ADD_FAILURE() << p.role << " " << p.version << " pid " << p.pid << " has no section\n"
                    << r->Describe();
      continue;
    }
    ExpectMatchesOwnDump(*section, dir.path());
  }
  // ... and nothing else.
  for (const Section& s : dump.sections) {
    bool known = s.pid == *shell || std::any_of(parked.begin(), parked.end(),
                                                [&](const Parked& p) { return p.pid == s.pid; });
    EXPECT_TRUE(known) << "unexpected section: pid " << s.pid << ": " << s.command;
  }

  // The tree is gone.
  EXPECT_EQ(SessionMembers(*shell), std::vector<pid_t>{}) << "left in the command's session";
  for (const Section& s : dump.sections) EXPECT_FALSE(Exists(s.pid)) << "pid " << s.pid << " left";
  std::cout << "covered: " << Describe(pythons) << "\n";
}

TEST(TimeoutTree, PoolDeadlockDumpedThenEnded) {
  std::vector<Interpreter> pythons = PythonsFrom(11, 15);
  if (pythons.empty()) GTEST_SKIP() << "no CPython 3.11-3.15 on this machine";
  CheckPoolTreeDumpedAndEnded(pythons, {});
}

TEST(TimeoutTree, PoolDeadlockDumpedThenEndedOlderVersions) {
  std::vector<Interpreter> pythons = PythonsFrom(6, 10);
  if (pythons.empty()) GTEST_SKIP() << "no CPython 3.6-3.10 on this machine";
  CheckPoolTreeDumpedAndEnded(pythons, {});
}

// A command that ignores SIGTERM, with a daemon (double-forked, in a session of its own) that
// ignores it too: both are dumped (to --output), then killed after --kill-after; the wrapper
// exits at about timeout + kill-after.
TEST(TimeoutTree, StubbornProcessesKilledAfterGracePeriod) {
  ASSERT_TOOL(tool);
  std::optional<Interpreter> python = AnySupportedPython();
  ASSERT_TRUE(python.has_value()) << "no CPython 3.11-3.15 found";
  absl::StatusOr<std::string> targets = TargetsDir();
  ASSERT_TRUE(targets.ok()) << targets.status();
  TempDir dir;
  TreeReaper reaper(dir.path());
  const std::string output = dir.path() + "/dumps.txt";
  const auto start = Clock::now();
  absl::StatusOr<Child> wrapper =
      Spawn({tool, "--timeout", "2", "--kill-after", "2", "--output", output, "--", python->path,
             "-B", *targets + "/tree_stubborn.py", dir.path()},
            Stdio::Null(), Stdio::Pipe(), Stdio::Pipe());
  ASSERT_TRUE(wrapper.ok()) << wrapper.status();
  const pid_t wrapper_pid = wrapper->pid();
  RunResult r = CollectUntilExit(*wrapper, kRunLimit);
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_EQ(r.exit_code(), kExitTimedOut) << r.Describe();
  EXPECT_GE(took, 3.8) << "SIGKILL before the grace period ended";
  EXPECT_LE(took, 10.0) << "SIGKILL long after the grace period ended";
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("dumping its 2 processes to " + output), std::string::npos)
      << r.Describe();
  EXPECT_NE(r.err.find("sent SIGTERM to 2 processes; SIGKILL to 2 still running after 2 s"),
            std::string::npos)
      << r.Describe();

  std::optional<std::string> text = ReadFile(output);
  ASSERT_TRUE(text.has_value()) << output << " not written: " << r.Describe();
  const TreeOutput dump = ParseTreeOutput(*text);
  EXPECT_TRUE(dump.problems.empty()) << absl::StrJoin(dump.problems, "\n");
  EXPECT_EQ(dump.before, "");
  EXPECT_EQ(dump.after, "");
  const std::vector<Parked> parked = ReadParked(dir.path());
  ASSERT_EQ(parked.size(), 2u) << Printable(*text);
  EXPECT_EQ(dump.sections.size(), 2u) << Printable(*text);
  std::optional<pid_t> daemon = ReadPidFile(dir.path() + "/daemon.pid");
  ASSERT_TRUE(daemon.has_value());
  for (const Parked& p : parked) {
    const Section* section = dump.Find(p.pid);
    ASSERT_NE(section, nullptr) << p.role << " pid " << p.pid << " has no section\n"
                                << Printable(*text);
    ExpectMatchesOwnDump(*section, dir.path());
    if (p.pid == *daemon) {
      EXPECT_EQ(section->ppid, wrapper_pid) << "the daemon was not reparented to the wrapper";
    } else {
      EXPECT_EQ(section->ppid, wrapper_pid) << "the command is not the wrapper's child";
      EXPECT_EQ(dump.sections.front().pid, p.pid) << "the command comes first";
    }
    EXPECT_FALSE(Exists(p.pid)) << p.role << " pid " << p.pid << " left running";
  }
}

// ---------------------------------------------------------------------------------------------
// --subprocesses PID

TEST(Subprocesses, DumpsTheProcessAndItsDescendants) {
  ASSERT_TOOL(tool);
  std::optional<Interpreter> python = AnySupportedPython();
  ASSERT_TRUE(python.has_value()) << "no CPython 3.11-3.15 found";
  absl::StatusOr<std::string> targets = TargetsDir();
  ASSERT_TRUE(targets.ok()) << targets.status();
  TempDir dir;
  TreeReaper reaper(dir.path());
  absl::StatusOr<Child> main = Spawn({python->path, "-B", *targets + "/tree_small.py", dir.path()},
                                     Stdio::Null(), Stdio::Null(),
                                     Stdio::File(dir.path() + "/stderr.txt"));
  ASSERT_TRUE(main.ok()) << main.status();

  // Parked once both Python processes recorded their dump and their watchdog thread ended.
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  std::vector<Parked> parked;
  for (;;) {
    parked = ReadParked(dir.path());
    bool complete = parked.size() == 2;
    for (const Parked& p : parked) {
      absl::StatusOr<std::vector<ThreadInfo>> threads = Threads(p.pid);
      complete = complete && ReadOwnDump(dir.path(), p.pid).ok() && threads.ok() &&
                 static_cast<int>(threads->size()) == p.threads;
    }
    if (complete) break;
    ASSERT_FALSE(main->Exited()) << ReadFile(dir.path() + "/stderr.txt").value_or("");
    ASSERT_LT(Clock::now(), deadline) << "the tree did not park within 20 s";
    std::this_thread::sleep_for(milliseconds(10));
  }
  pid_t sleeper = 0;
  for (pid_t pid : AllPids()) {
    std::optional<ProcStat> stat = ReadStat(pid);
    if (stat && stat->ppid == main->pid() && StartsWith(CommandLine(pid), "sleep ")) sleeper = pid;
  }
  ASSERT_NE(sleeper, 0) << "the sleep child is missing";

  absl::StatusOr<RunResult> r =
      RunProgram({tool, "--subprocesses", absl::StrCat(main->pid())}, kRunLimit);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  EXPECT_EQ(r->err, "");
  const TreeOutput dump = ParseTreeOutput(r->out);
  EXPECT_TRUE(dump.problems.empty()) << absl::StrJoin(dump.problems, "\n");
  EXPECT_EQ(dump.before, "");
  ASSERT_EQ(dump.sections.size(), 3u) << r->Describe();
  EXPECT_EQ(dump.sections.front().pid, main->pid());
  for (const Parked& p : parked) {
    const Section* section = dump.Find(p.pid);
    ASSERT_NE(section, nullptr) << p.role << " pid " << p.pid << "\n" << r->Describe();
    EXPECT_EQ(section->ppid, p.role == "main" ? getpid() : main->pid());
    ExpectMatchesOwnDump(*section, dir.path());
  }
  const Section* sleep_section = dump.Find(sleeper);
  ASSERT_NE(sleep_section, nullptr) << r->Describe();
  EXPECT_EQ(sleep_section->body, "(not a Python process)\n");
  EXPECT_EQ(sleep_section->command, CommandLine(sleeper));

  // Every process runs on, traced by nobody.
  for (const Parked& p : parked) {
    EXPECT_EQ(WaitUntilRunningUntraced(p.pid, std::chrono::seconds(2)), "");
  }
}

TEST(Subprocesses, NoSuchProcessExits3) {
  ASSERT_TOOL(tool);
  pid_t absent = 4'000'000;
  while (Exists(absent)) ++absent;
  absl::StatusOr<RunResult> r =
      RunProgram({tool, "--subprocesses", absl::StrCat(absent)}, kRunLimit);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 3) << r->Describe();
  EXPECT_EQ(r->out, "");
  EXPECT_TRUE(IsOneErrorLine(r->err)) << Printable(r->err);
}

}  // namespace
}  // namespace pystack_it
