#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

extern char** environ;

namespace pystack_it {
namespace fs = std::filesystem;

namespace {

constexpr auto kPoll = milliseconds(5);

// Writing to the stdin pipe of a target that died must fail with EPIPE, not kill the tests.
[[maybe_unused]] const bool kSigpipeIgnored = [] {
  signal(SIGPIPE, SIG_IGN);
  return true;
}();

std::string ErrnoText(int err) { return std::strerror(err); }

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(std::exchange(other.fd_, -1));
  return *this;
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    Kill();
    pid_ = std::exchange(other.pid_, -1);
    reaped_ = std::exchange(other.reaped_, false);
    status_ = other.status_;
    in_ = std::move(other.in_);
    out_ = std::move(other.out_);
    err_ = std::move(other.err_);
  }
  return *this;
}

bool Child::Exited() {
  if (pid_ <= 0 || reaped_) return true;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    reaped_ = true;
    status_ = status;
    return true;
  }
  return false;
}

std::optional<int> Child::Wait(Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!Exited()) {
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return status_;
}

void Child::Kill() {
  if (pid_ <= 0 || reaped_) return;
  kill(pid_, SIGKILL);
  // A traced child is reported to its tracer first: bounded, so a stuck tracer cannot hang us.
  if (!Wait(std::chrono::seconds(10))) {
    std::fprintf(stderr, "harness: child %d did not die within 10 s of SIGKILL\n", pid_);
  }
  in_.reset();
  out_.reset();
  err_.reset();
}

Child AdoptChild(pid_t pid) {
  Child child;
  child.pid_ = pid;
  return child;
}

absl::StatusOr<Child> Spawn(const std::vector<std::string>& argv, Stdio in, Stdio out, Stdio err,
                            const std::vector<std::string>& env) {
  if (argv.empty()) return absl::InvalidArgumentError("Spawn: empty argv");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  Child child;
  std::vector<UniqueFd> child_ends;
  const Stdio* streams[3] = {&in, &out, &err};
  UniqueFd* parent_ends[3] = {&child.in_, &child.out_, &child.err_};
  for (int fd = 0; fd < 3; ++fd) {
    const Stdio& s = *streams[fd];
    switch (s.kind) {
      case Stdio::Kind::kInherit:
        break;
      case Stdio::Kind::kNull:
        posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_RDWR, 0);
        break;
      case Stdio::Kind::kFile:
        posix_spawn_file_actions_addopen(&actions, fd, s.path.c_str(),
                                         fd == 0 ? O_RDONLY : O_WRONLY | O_CREAT | O_TRUNC, 0644);
        break;
      case Stdio::Kind::kPipe: {
        int p[2];
        if (pipe2(p, O_CLOEXEC) != 0) return absl::InternalError("pipe2: " + ErrnoText(errno));
        UniqueFd read_end(p[0]), write_end(p[1]);
        int child_fd = fd == 0 ? read_end.get() : write_end.get();
        posix_spawn_file_actions_adddup2(&actions, child_fd, fd);
        *parent_ends[fd] = fd == 0 ? std::move(write_end) : std::move(read_end);
        child_ends.push_back(fd == 0 ? std::move(read_end) : std::move(write_end));
        break;
      }
    }
  }

  // The environment: ours, with `env` entries added or replaced.
  std::map<std::string, std::string> vars;
  std::vector<std::string> order;
  for (char** e = environ; e && *e; ++e) {
    std::string entry = *e;
    std::string name = entry.substr(0, entry.find('='));
    if (!vars.count(name)) order.push_back(name);
    vars[name] = entry;
  }
  for (const std::string& entry : env) {
    std::string name = entry.substr(0, entry.find('='));
    if (!vars.count(name)) order.push_back(name);
    vars[name] = entry;
  }
  std::vector<std::string> env_strings;
  for (const auto& name : order) env_strings.push_back(vars[name]);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);

  pid_t pid = -1;
  int rc = argv[0].find('/') == std::string::npos
               ? posix_spawnp(&pid, args[0], &actions, &attr, args.data(), envp.data())
               : posix_spawn(&pid, args[0], &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    return absl::NotFoundError(absl::StrCat("cannot start ", argv[0], ": ", ErrnoText(rc)));
  child.pid_ = pid;
  return child;
}

// ---------------------------------------------------------------------------------------------

bool RunResult::exited() const { return !timed_out && WIFEXITED(status); }
int RunResult::exit_code() const { return exited() ? WEXITSTATUS(status) : -1; }
bool RunResult::signaled() const { return !timed_out && WIFSIGNALED(status); }
int RunResult::term_signal() const { return signaled() ? WTERMSIG(status) : 0; }

std::string RunResult::DescribeStatus() const {
  if (timed_out) return "timed out (killed)";
  if (exited()) return absl::StrCat("exit status ", exit_code());
  if (signaled())
    return absl::StrCat("killed by signal ", term_signal(), " (", strsignal(term_signal()), ")");
  return absl::StrCat("wait status ", status);
}

std::string RunResult::Describe() const {
  return absl::StrCat(DescribeStatus(), "\n--- stdout (", out.size(), " bytes) ---\n",
                      Printable(out), "\n--- stderr (", err.size(), " bytes) ---\n", Printable(err),
                      "\n--- end ---");
}

absl::StatusOr<RunResult> RunProgram(const std::vector<std::string>& argv, Clock::duration timeout,
                                     const std::vector<std::string>& env) {
  const auto deadline = Clock::now() + timeout;
  absl::StatusOr<Child> spawned = Spawn(argv, Stdio::Null(), Stdio::Pipe(), Stdio::Pipe(), env);
  if (!spawned.ok()) return spawned.status();
  Child& child = *spawned;
  RunResult result;
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      result.timed_out = true;
      break;
    }
    pollfd fds[2] = {{child.out(), POLLIN, 0}, {child.err(), POLLIN, 0}};
    if (!out_open) fds[0].fd = -1;
    if (!err_open) fds[1].fd = -1;
    int n = poll(fds, 2, static_cast<int>(std::min<long long>(left, 100)));
    if (n < 0 && errno != EINTR) return absl::InternalError("poll: " + ErrnoText(errno));
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        (i == 0 ? out_open : err_open) = false;
      }
    }
  }
  if (!result.timed_out) {
    std::optional<int> status = child.Wait(deadline - Clock::now());
    if (status) {
      result.status = *status;
      return result;
    }
    result.timed_out = true;
  }
  child.Kill();
  return result;
}

// ---------------------------------------------------------------------------------------------

bool WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  return static_cast<bool>(out);
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TempDir::TempDir() {
  char templ[] = "/tmp/pystack-it-XXXXXX";
  if (mkdtemp(templ) == nullptr) {
    std::fprintf(stderr, "harness: mkdtemp: %s\n", std::strerror(errno));
    std::abort();
  }
  path_ = templ;
}

TempDir::~TempDir() {
  const char* keep = getenv("PYSTACK_IT_KEEP");
  if (keep && std::string(keep) == "1") {
    std::fprintf(stderr, "harness: kept %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
}

absl::StatusOr<std::string> ToolPath() {
  const char* env = getenv("PYSTACK_DUMP");
  if (env == nullptr || *env == '\0') {
    return absl::FailedPreconditionError(
        "PYSTACK_DUMP is not set: it must name the pystack-dump binary under test. Run "
        "`make integration-test`, or e.g. PYSTACK_DUMP=build/pystack-dump build/integration-tests");
  }
  std::string path = env;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(
        absl::StrCat("PYSTACK_DUMP=", path, ": ", ErrnoText(errno), " (build it first: `make`)"));
  }
  if (!S_ISREG(st.st_mode) || access(path.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("PYSTACK_DUMP=", path, " is not an executable file"));
  }
  return path;
}

absl::StatusOr<std::string> TargetsDir() {
  std::vector<fs::path> candidates;
  if (const char* env = getenv("PYSTACK_IT_TARGETS"); env && *env) candidates.emplace_back(env);
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(exe.parent_path() / ".." / "tests" / "integration" / "targets");
  candidates.push_back(fs::path(__FILE__).parent_path() / "targets");
  for (const fs::path& dir : candidates) {
    if (fs::exists(dir / "pd_common.py", ec))
      return fs::weakly_canonical(fs::absolute(dir)).string();
  }
  std::vector<std::string> tried;
  for (const fs::path& dir : candidates) tried.push_back(dir.string());
  return absl::NotFoundError(absl::StrCat(
      "target scripts (tests/integration/targets/pd_common.py) not found; tried ",
      absl::StrJoin(tried, ", "), "; run from the repository root or set PYSTACK_IT_TARGETS"));
}

// ---------------------------------------------------------------------------------------------

// scripts/in-root, beside the target scripts' tests/ folder.
absl::StatusOr<std::string> InRootScript() {
  absl::StatusOr<std::string> targets = TargetsDir();
  if (!targets.ok()) return targets.status();
  fs::path script = fs::path(*targets) / ".." / ".." / ".." / "scripts" / "in-root";
  std::error_code ec;
  if (!fs::exists(script, ec)) return absl::NotFoundError(script.string() + " not found");
  return fs::weakly_canonical(script).string();
}

absl::StatusOr<std::string> GcoreOf(const Interpreter& python, pid_t pid, const std::string& dir) {
  const std::string prefix = dir + "/gcore";
  std::vector<std::string> gcore = {"gcore", "-o", prefix, std::to_string(pid)};
  if (python.InRoot() && fs::exists(python.root + "/usr/bin/gcore")) {
    absl::StatusOr<std::string> in_root = InRootScript();
    if (!in_root.ok()) return in_root.status();
    gcore = {*in_root, python.root, "/usr/bin/gcore", "-o", prefix, std::to_string(pid)};
  }
  absl::StatusOr<RunResult> made = RunProgram(gcore, std::chrono::seconds(120));
  if (!made.ok()) return made.status();
  if (made->exit_code() != 0) return absl::InternalError("gcore failed: " + made->Describe());
  return absl::StrCat(prefix, ".", pid);
}

std::string Interpreter::Version() const {
  return absl::StrCat(major, ".", minor, ".", micro, debug ? "d" : "", free_threaded ? "t" : "");
}

void PrintTo(const Interpreter& python, std::ostream* os) {
  if (python.InRoot()) {
    *os << python.inner_path << " in " << python.root << " (" << python.Version() << ")";
  } else {
    *os << python.path << " (" << python.Version() << ")";
  }
}

bool Interpreter::InScope() const {
  return std::find(kVersionsInScope.begin(), kVersionsInScope.end(),
                   std::make_pair(major, minor)) != kVersionsInScope.end();
}

namespace {

std::string FindPyenvRoot() {
  // `pyenv root` when pyenv is on PATH; it need not be.
  absl::StatusOr<RunResult> r = RunProgram({"pyenv", "root"}, std::chrono::seconds(10));
  if (r.ok() && r->exit_code() == 0) {
    std::string root(absl::StripAsciiWhitespace(r->out));
    if (!root.empty()) return root;
  }
  if (const char* env = getenv("PYENV_ROOT"); env && *env) return env;
  if (const char* home = getenv("HOME"); home && *home) return std::string(home) + "/.pyenv";
  return "/root/.pyenv";
}

// BUILD/roots of the test binary (PYSTACK_IT_ROOTS overrides).
fs::path RootsDir() {
  if (const char* env = getenv("PYSTACK_IT_ROOTS"); env && *env) return env;
  std::error_code ec;
  return fs::read_symlink("/proc/self/exe", ec).parent_path() / "roots";
}

// BUILD/pythons of the test binary: the interpreters built from source
// (scripts/build-free-threaded).
fs::path PythonsDir() {
  std::error_code ec;
  return fs::read_symlink("/proc/self/exe", ec).parent_path() / "pythons";
}

// The interpreters of one Debian root: a wrapper for each (ROOTS/NAME.bin/PROGRAM), which runs
// it there through scripts/in-root. A root without its completion mark is being built, or failed.
std::vector<Interpreter> RootInterpreters(const fs::path& root, Discovery& d) {
  std::error_code ec;
  const std::string name = root.filename().string();
  if (!fs::exists(root / ".complete", ec)) {
    d.roots.push_back(absl::StrCat(name, ": not built (", root.string(), "/.complete missing)"));
    return {};
  }
  if (geteuid() != 0) {
    d.roots.push_back(absl::StrCat(name, ": skipped: running a target in it (chroot) needs root"));
    return {};
  }
  absl::StatusOr<std::string> in_root = InRootScript();
  if (!in_root.ok()) {
    d.roots.push_back(absl::StrCat(name, ": skipped: ", in_root.status().message()));
    return {};
  }
  const std::regex program(R"(python(2\.7|3\.[0-9]+d?))");
  std::vector<std::string> programs;
  for (const auto& entry : fs::directory_iterator(root / "usr" / "bin", ec)) {
    const std::string file = entry.path().filename().string();
    // The root's -dbg packages of 3.13 and 3.15 are there for the debug information of their
    // interpreters (--native); of the debug builds, only 3.14's is in the test matrix.
    const bool other_debug_build = file.back() == 'd' && file != "python3.14d";
    if (std::regex_match(file, program) && !fs::is_symlink(entry.path(), ec) &&
        !other_debug_build) {
      programs.push_back(file);
    }
  }
  std::sort(programs.begin(), programs.end());
  const fs::path bin = root.parent_path() / (name + ".bin");
  fs::create_directories(bin, ec);
  std::vector<Interpreter> out;
  for (const std::string& file : programs) {
    Interpreter py;
    py.root = root.string();
    py.inner_path = "/usr/bin/" + file;
    py.debug = file.back() == 'd';
    py.path = (bin / file).string();
    std::ofstream wrapper(py.path, std::ios::trunc);
    wrapper << "#!/bin/sh\n# Runs " << py.inner_path << " inside " << py.root
            << " (written by the integration tests)\nexec " << *in_root << " " << py.root << " "
            << py.inner_path << " \"$@\"\n";
    wrapper.close();
    fs::permissions(py.path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                 fs::perms::others_read | fs::perms::others_exec, ec);
    out.push_back(py);
  }
  d.roots.push_back(absl::StrCat(name, ": ", programs.size(), " interpreters (",
                                 absl::StrJoin(programs, ", "), ")"));
  return out;
}

Discovery Discover() {
  Discovery d;
  d.pyenv_root = FindPyenvRoot();
  std::vector<std::string> candidates;
  std::error_code ec;
  std::vector<fs::path> versions;
  for (const auto& entry : fs::directory_iterator(fs::path(d.pyenv_root) / "versions", ec)) {
    versions.push_back(entry.path());
  }
  std::sort(versions.begin(), versions.end());
  for (const fs::path& v : versions) {
    fs::path python = v / "bin" / "python";
    if (fs::is_regular_file(python, ec) && access(python.c_str(), X_OK) == 0)
      candidates.push_back(python);
  }
  const std::regex debian_name(R"(python3\.[0-9]+)");
  std::vector<std::string> debian;
  for (const auto& entry : fs::directory_iterator("/usr/bin", ec)) {
    std::string name = entry.path().filename().string();
    if (std::regex_match(name, debian_name) && access(entry.path().c_str(), X_OK) == 0) {
      debian.push_back(entry.path().string());
    }
  }
  std::sort(debian.begin(), debian.end());
  candidates.insert(candidates.end(), debian.begin(), debian.end());
  // Built from source, once (scripts/build-free-threaded): BUILD/pythons/NAME/bin/python3.Nt.
  const std::regex built_name(R"(python3\.[0-9]+t)");
  std::vector<std::string> built;
  for (const auto& entry : fs::directory_iterator(PythonsDir(), ec)) {
    if (!fs::exists(entry.path() / ".complete", ec)) continue;  // being built, or failed
    for (const auto& file : fs::directory_iterator(entry.path() / "bin", ec)) {
      if (std::regex_match(file.path().filename().string(), built_name) &&
          access(file.path().c_str(), X_OK) == 0) {
        built.push_back(file.path().string());
      }
    }
  }
  std::sort(built.begin(), built.end());
  candidates.insert(candidates.end(), built.begin(), built.end());
  if (const char* extra = getenv("PYSTACK_IT_PYTHON"); extra && *extra) {
    for (absl::string_view p : absl::StrSplit(extra, ':', absl::SkipEmpty()))
      candidates.emplace_back(p);
  }
  std::vector<Interpreter> rooted;
  std::vector<fs::path> roots;
  for (const auto& entry : fs::directory_iterator(RootsDir(), ec)) {
    if (entry.is_directory(ec) && !absl::EndsWith(entry.path().filename().string(), ".bin") &&
        !absl::EndsWith(entry.path().filename().string(), ".tmp")) {
      roots.push_back(entry.path());
    }
  }
  std::sort(roots.begin(), roots.end());
  if (roots.empty()) d.roots.push_back(RootsDir().string() + ": no Debian root built (scripts/make-root)");
  for (const fs::path& root : roots) {
    for (Interpreter& py : RootInterpreters(root, d)) rooted.push_back(std::move(py));
  }

  std::set<std::string> seen;
  std::map<std::string, int> name_uses;
  const std::regex version_re(R"(\((\d+), (\d+), (\d+)\))");
  std::vector<Interpreter> all;
  std::vector<Interpreter> to_ask;
  for (const std::string& path : candidates) {
    std::string real = fs::weakly_canonical(path, ec).string();
    if (!seen.insert(ec ? path : real).second) continue;
    Interpreter py;
    py.path = path;
    to_ask.push_back(py);
  }
  to_ask.insert(to_ask.end(), rooted.begin(), rooted.end());
  for (Interpreter py : to_ask) {
    const std::string& path = py.path;
    absl::StatusOr<RunResult> r = RunProgram(
        {path, "-c", "import sys; print(sys.version_info[:3], repr(getattr(sys, 'abiflags', '')))"},
        std::chrono::seconds(20));
    std::smatch m;
    if (!r.ok() || r->exit_code() != 0 || !std::regex_search(r->out, m, version_re)) {
      d.problems.push_back(absl::StrCat(
          path, ": cannot read its version: ", r.ok() ? r->Describe() : r.status().ToString()));
      continue;
    }
    py.major = std::stoi(m[1]);
    py.minor = std::stoi(m[2]);
    py.micro = std::stoi(m[3]);
    py.free_threaded = absl::StrContains(std::string(m.suffix()), "t");  // sys.abiflags
    all.push_back(py);
  }
  std::stable_sort(all.begin(), all.end(), [](const Interpreter& a, const Interpreter& b) {
    return std::tie(a.major, a.minor, a.micro) < std::tie(b.major, b.minor, b.micro);
  });
  for (Interpreter& py : all) {
    std::string base =
        absl::StrCat("py", py.major, "_", py.minor, "_", py.micro, py.debug ? "d" : "",
                     py.free_threaded ? "t" : "");
    int uses = ++name_uses[base];
    py.name = uses == 1 ? base : absl::StrCat(base, "_", uses);
    (py.InScope() ? d.in_scope : d.out_of_scope).push_back(py);
  }
  return d;
}

}  // namespace

std::vector<std::string> TargetScriptCommand(const Interpreter& python, const std::string& script) {
  absl::StatusOr<std::string> targets = TargetsDir();
  return {python.path, "-B", (targets.ok() ? *targets : std::string("targets")) + "/" + script};
}

const Interpreter* AnyPython() {
  const auto& in_scope = Interpreters().in_scope;
  return in_scope.empty() ? nullptr : &in_scope.back();
}

const Discovery& Interpreters() {
  static const Discovery* d = new Discovery(Discover());
  return *d;
}

// ---------------------------------------------------------------------------------------------

namespace {

int CountTasks(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (fs::directory_iterator it(absl::StrCat("/proc/", pid, "/task"), ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  return n;
}

std::string TargetLog(const Target& t) {
  std::optional<std::string> err = ReadFile(t.dir.path() + "/stderr.txt");
  return err && !err->empty() ? "\ntarget stderr:\n" + Printable(*err) : "\n(target stderr empty)";
}

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> StartTarget(const Interpreter& python,
                                                    const std::string& script,
                                                    const std::vector<std::string>& args,
                                                    bool pipes,
                                                    const std::vector<std::string>& env) {
  absl::StatusOr<std::string> targets = TargetsDir();
  if (!targets.ok()) return targets.status();
  TargetCommand command;
  command.command = {python.path, "-B", *targets + "/" + script};
  command.args = args;
  command.env = env;
  command.pipes = pipes;
  command.description = absl::StrCat(script, " ", absl::StrJoin(args, " "), " under ", python.path);
  return StartTargetCommand(command);
}

namespace {

std::vector<std::string> SkippedFeatures(const std::string& dir) {
  std::optional<std::string> text = ReadFile(dir + "/skipped");
  if (!text) return {};
  std::vector<std::string> lines = absl::StrSplit(*text, '\n', absl::SkipWhitespace());
  return lines;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> StartTargetCommand(const TargetCommand& command) {
  auto t = std::make_unique<Target>();
  const std::string& dir = t->dir.path();
  const bool pipes = command.pipes;
  std::vector<std::string> argv = command.command;
  argv.push_back(dir);
  argv.insert(argv.end(), command.args.begin(), command.args.end());
  absl::StatusOr<Child> child = Spawn(argv, pipes ? Stdio::Pipe() : Stdio::Null(),
                                      pipes ? Stdio::Pipe() : Stdio::File(dir + "/stdout.txt"),
                                      Stdio::File(dir + "/stderr.txt"), command.env);
  if (!child.ok()) return child.status();
  t->child = std::move(*child);
  const std::string& what = command.description;

  // The ready marker, written by rename once every thread is parked.
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  std::optional<std::string> marker;
  while (!(marker = ReadFile(dir + "/ready"))) {
    if (t->child.Exited()) {
      RunResult r;
      r.status = *t->child.status();
      return absl::InternalError(
          absl::StrCat("target ", what, " ended early (", r.DescribeStatus(), ")", TargetLog(*t)));
    }
    if (Clock::now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("target ", what, " not ready within 30 s", TargetLog(*t)));
    }
    std::this_thread::sleep_for(kPoll);
  }
  std::vector<std::string> words = absl::StrSplit(absl::StripAsciiWhitespace(*marker), ' ');
  t->mode = words[0];
  t->skipped_features = SkippedFeatures(dir);
  const std::string dump_path = dir + "/expected.txt";
  if (t->mode == "idle") return t;
  if (t->mode == "sync") {
    std::optional<std::string> dump = ReadFile(dump_path);
    if (!dump || dump->empty() || dump->back() != '\n') {
      return absl::InternalError(
          absl::StrCat("target ", what, ": incomplete dump in ", dump_path, TargetLog(*t)));
    }
    t->expected = *dump;
    return t;
  }
  int threads = 0;
  if (t->mode != "watchdog" || words.size() != 2 || !absl::SimpleAtoi(words[1], &threads)) {
    return absl::InternalError(
        absl::StrCat("target ", what, ": bad ready marker '", Printable(*marker), "'"));
  }
  // The watchdog thread exits right after its write: the dump is complete once the file is
  // non-empty (the watchdog started) and, after that, the process is back to `threads` threads.
  for (;;) {
    struct stat st;
    bool written = stat(dump_path.c_str(), &st) == 0 && st.st_size > 0;
    if (written && CountTasks(t->child.pid()) == threads) {
      std::optional<std::string> dump = ReadFile(dump_path);
      if (dump && !dump->empty() && dump->back() == '\n') {
        size_t eol = dump->find('\n');
        if (!StartsWith(*dump, "Timeout (")) {
          return absl::InternalError(absl::StrCat("target ", what,
                                                  ": the watchdog dump does not start with "
                                                  "'Timeout (':\n",
                                                  Printable(*dump)));
        }
        t->expected = dump->substr(eol + 1);
        return t;
      }
    }
    if (t->child.Exited()) {
      return absl::InternalError(
          absl::StrCat("target ", what, " ended while dumping", TargetLog(*t)));
    }
    if (Clock::now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("target ", what, ": the watchdog dump was not complete within 30 s (",
                       written ? "written" : "empty", ", ", CountTasks(t->child.pid()),
                       " threads, expected ", threads, ")", TargetLog(*t)));
    }
    std::this_thread::sleep_for(kPoll);
  }
}

absl::Status EchoCheck(Child& target, const std::string& token, Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  const std::string line = token + "\n";
  size_t sent = 0;
  while (sent < line.size()) {
    ssize_t n = write(target.in(), line.data() + sent, line.size() - sent);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError("writing to the target's stdin: " + ErrnoText(errno));
    }
    sent += static_cast<size_t>(n);
  }
  std::string got;
  while (got.find(line) == std::string::npos) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("the target did not echo '", token, "' within ",
                       std::chrono::duration_cast<milliseconds>(timeout).count(), " ms (got '",
                       Printable(got), "')"));
    }
    pollfd p = {target.out(), POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno != EINTR) return absl::InternalError("poll: " + ErrnoText(errno));
    if (r > 0) {
      char buf[4096];
      ssize_t n = read(target.out(), buf, sizeof buf);
      if (n == 0)
        return absl::InternalError("the target closed its stdout (got '" + Printable(got) + "')");
      if (n > 0) got.append(buf, static_cast<size_t>(n));
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------

absl::StatusOr<std::vector<ThreadInfo>> Threads(pid_t pid) {
  const std::string task_dir = absl::StrCat("/proc/", pid, "/task");
  std::error_code ec;
  fs::directory_iterator it(task_dir, ec);
  if (ec) return absl::NotFoundError(absl::StrCat(task_dir, ": ", ec.message()));
  std::vector<ThreadInfo> threads;
  for (fs::directory_iterator end; it != end; it.increment(ec)) {
    if (ec) break;
    ThreadInfo info;
    if (!absl::SimpleAtoi(it->path().filename().string(), &info.tid)) continue;
    std::optional<std::string> stat = ReadFile(it->path().string() + "/stat");
    std::optional<std::string> status = ReadFile(it->path().string() + "/status");
    if (!stat || !status || stat->empty()) continue;  // the thread just ended
    size_t paren = stat->rfind(')');
    if (paren != std::string::npos && paren + 2 < stat->size()) info.state = (*stat)[paren + 2];
    size_t tp = status->find("\nTracerPid:");
    if (tp != std::string::npos) {
      std::string rest = status->substr(tp + 11, status->find('\n', tp + 1) - tp - 11);
      absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &info.tracer);
    }
    threads.push_back(info);
  }
  std::sort(threads.begin(), threads.end(), [](auto& a, auto& b) { return a.tid < b.tid; });
  return threads;
}

std::string WaitUntilRunningUntraced(pid_t pid, Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    std::string problems;
    absl::StatusOr<std::vector<ThreadInfo>> threads = Threads(pid);
    if (!threads.ok())
      return absl::StrCat("process ", pid, " is gone: ", threads.status().message());
    for (const ThreadInfo& t : *threads) {
      if (t.state == 't' || t.state == 'T' || t.tracer != 0) {
        absl::StrAppend(&problems, " thread ", t.tid, " state '", std::string(1, t.state),
                        "' TracerPid ", t.tracer, ";");
      }
    }
    if (problems.empty()) return "";
    if (Clock::now() >= deadline) {
      return absl::StrCat("after ", std::chrono::duration_cast<milliseconds>(timeout).count(),
                          " ms, process ", pid, " still has stopped or traced threads:", problems);
    }
    std::this_thread::sleep_for(kPoll);
  }
}

// ---------------------------------------------------------------------------------------------

std::string Printable(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if ((c >= 0x20 && c < 0x7f) || c == '\n') {
      out += static_cast<char>(c);
    } else {
      out += absl::StrFormat("\\x%02x", c);
    }
  }
  return out;
}

namespace {

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> lines = absl::StrSplit(s, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();  // a final newline ends, not begins
  return lines;
}

}  // namespace

std::string DescribeMismatch(const std::string& expected, const std::string& actual) {
  std::string out;
  size_t first = 0;
  while (first < expected.size() && first < actual.size() && expected[first] == actual[first])
    ++first;
  size_t line = 1 + std::count(expected.begin(), expected.begin() + first, '\n');
  absl::StrAppend(&out, "first difference at byte ", first, " (line ", line, "); expected ",
                  expected.size(), " bytes, got ", actual.size(), "\n");
  if (!expected.empty() && expected.back() != '\n') out += "(expected has no final newline)\n";
  if (!actual.empty() && actual.back() != '\n') out += "(actual has no final newline)\n";
  absl::StrAppend(&out, "===== expected (CPython faulthandler) =====\n", Printable(expected),
                  "===== actual (pystack-dump) =====\n", Printable(actual), "===== diff =====\n");

  std::vector<std::string> a = Lines(expected), b = Lines(actual);
  const size_t n = a.size(), m = b.size();
  if (n * m > 30'000'000) return out + "(too long to diff)\n";
  // Longest common subsequence, then an edit script.
  std::vector<std::vector<uint32_t>> lcs(n + 1, std::vector<uint32_t>(m + 1, 0));
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  struct Edit {
    char op;
    size_t ai, bj;
  };
  std::vector<Edit> edits;
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      edits.push_back({' ', i++, j++});
    } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      edits.push_back({'-', i++, j});
    } else {
      edits.push_back({'+', i, j++});
    }
  }
  constexpr size_t kContext = 3;
  std::vector<bool> show(edits.size(), false);
  for (size_t k = 0; k < edits.size(); ++k) {
    if (edits[k].op == ' ') continue;
    for (size_t c = k >= kContext ? k - kContext : 0; c <= std::min(edits.size() - 1, k + kContext);
         ++c) {
      show[c] = true;
    }
  }
  absl::StrAppend(&out, "--- expected\n+++ actual\n");
  bool in_hunk = false;
  for (size_t k = 0; k < edits.size(); ++k) {
    if (!show[k]) {
      in_hunk = false;
      continue;
    }
    if (!in_hunk) {
      absl::StrAppend(&out, "@@ expected line ", edits[k].ai + 1, ", actual line ", edits[k].bj + 1,
                      " @@\n");
      in_hunk = true;
    }
    const std::string& text = edits[k].op == '+' ? b[edits[k].bj] : a[edits[k].ai];
    absl::StrAppend(&out, std::string(1, edits[k].op), Printable(text), "\n");
  }
  return out;
}

std::string WithoutNativeLines(const std::string& dump) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(dump, '\n')) {
    if (absl::StartsWith(line, "  Binary file ") ||
        absl::StartsWith(line, "  <pystack-dump: C stack")) {
      continue;
    }
    absl::StrAppend(&out, line, "\n");
  }
  out.pop_back();  // StrSplit gave one more, empty, piece after the last newline
  return out;
}

std::string BinaryFileOf(const std::string& line) {
  const std::string prefix = "  Binary file \"";
  if (!absl::StartsWith(line, prefix)) return "";
  const size_t end = line.find('"', prefix.size());
  return end == std::string::npos ? "" : line.substr(prefix.size(), end - prefix.size());
}

bool IsOneErrorLine(const std::string& err) {
  return StartsWith(err, "pystack-dump: error: ") && !err.empty() && err.back() == '\n' &&
         std::count(err.begin(), err.end(), '\n') == 1;
}

// ---------------------------------------------------------------------------------------------
// Coverage reports

void InterpreterCoverage::Count(const std::string& interpreter, bool passed) {
  auto& [passes, runs] = tally_[interpreter];
  ++runs;
  if (passed) ++passes;
}

void InterpreterCoverage::TearDown() {
  if (tally_.empty()) return;
  std::string text = absl::StrCat("\n[ coverage ] ", title_, ":\n");
  for (const Interpreter& py : Interpreters().in_scope) {
    auto it = tally_.find(py.name);
    absl::StrAppend(&text, "[ coverage ]   ", py.name, "  ", py.path, "  ",
                    it == tally_.end() ? std::string("not run")
                                       : absl::StrCat(it->second.first, "/", it->second.second,
                                                      " passed"),
                    "\n");
  }
  std::printf("%s", text.c_str());
}

InterpreterCoverage* AddInterpreterCoverage(std::string title) {
  auto* coverage = new InterpreterCoverage(std::move(title));
  ::testing::AddGlobalTestEnvironment(coverage);
  return coverage;
}

}  // namespace pystack_it
