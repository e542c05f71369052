// make bench: times `pystack-dump PID` on a target with 10 threads each 20 frames deep, for every
// CPython on the machine that the tool supports, beside references measured in the same run:
// starting a trivial process (/bin/true) and gdb's `thread apply all py-bt` (Debian's
// python3.11 with python3.11-dbg). Reports medians; asserts nothing.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Interpreter {
  std::string label;
  std::string path;
  // An interpreter of a Debian root (scripts/make-root) runs through scripts/in-root.
  std::vector<std::string> prefix;
};

struct RunResult {
  double wall_ms = 0;
  std::optional<double> stopped_us;
  int status = -1;
  std::string output;  // stderr, and stdout too when asked for
};

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// "2.7.18", "3.6.15" ... "3.13.0": a version pystack-dump supports (2.7, 3.6 and later).
bool supported_version_name(const std::string& name) {
  int major = 0, minor = 0;
  if (std::sscanf(name.c_str(), "%d.%d.", &major, &minor) != 2) return false;
  return (major == 2 && minor == 7) || (major == 3 && minor >= 6);
}

// Sorts "3.9.18" before "3.10.13": by the numbers, not the text.
bool older_version_dir(const fs::path& a, const fs::path& b) {
  int a1 = 0, a2 = 0, a3 = 0, b1 = 0, b2 = 0, b3 = 0;
  std::sscanf(a.filename().c_str(), "%d.%d.%d", &a1, &a2, &a3);
  std::sscanf(b.filename().c_str(), "%d.%d.%d", &b1, &b2, &b3);
  return std::tie(a1, a2, a3) < std::tie(b1, b2, b3);
}

std::vector<Interpreter> find_interpreters() {
  std::vector<Interpreter> found;
  const char* env_root = std::getenv("PYENV_ROOT");
  std::string root = env_root ? env_root : std::string(std::getenv("HOME") ?: "/root") + "/.pyenv";
  std::error_code ec;
  std::vector<fs::path> versions;
  for (const auto& entry : fs::directory_iterator(root + "/versions", ec)) versions.push_back(entry.path());
  std::sort(versions.begin(), versions.end(), older_version_dir);
  for (const fs::path& dir : versions) {
    std::string name = dir.filename().string();
    if (supported_version_name(name) && fs::exists(dir / "bin/python")) {
      found.push_back({"pyenv " + name, (dir / "bin/python").string()});
    }
  }
  if (fs::exists("/usr/bin/python3.11")) found.push_back({"debian 3.11", "/usr/bin/python3.11", {}});
  // The free-threaded CPython the tests build (scripts/build-free-threaded).
  for (const auto& entry : fs::directory_iterator("build/pythons", ec)) {
    const fs::path python = entry.path() / "bin" / ("python" + entry.path().filename().string());
    if (fs::exists(entry.path() / ".complete", ec) && fs::exists(python, ec)) {
      found.push_back({"built " + entry.path().filename().string(), fs::absolute(python).string(), {}});
    }
  }
  // The Debian roots the tests build (build/roots/NAME), each interpreter run inside its root.
  const std::string in_root = fs::absolute("scripts/in-root").string();
  for (const char* name : {"bullseye", "unstable"}) {
    const fs::path root = fs::absolute(fs::path("build/roots") / name);
    if (!fs::exists(root / ".complete", ec)) continue;
    std::vector<std::string> programs;
    for (const auto& entry : fs::directory_iterator(root / "usr/bin", ec)) {
      const std::string file = entry.path().filename().string();
      int major = 0, minor = 0;
      char rest = 0;
      const int n = std::sscanf(file.c_str(), "python%d.%d%c", &major, &minor, &rest);
      if ((n == 2 || (n == 3 && rest == 'd')) && !fs::is_symlink(entry.path(), ec)) programs.push_back(file);
    }
    std::sort(programs.begin(), programs.end());
    for (const std::string& file : programs) {
      found.push_back({std::string(name) + " " + file.substr(6), "/usr/bin/" + file,
                       {in_root, root.string()}});
    }
  }
  return found;
}

// Runs argv, capturing stderr (for the tool's timing line); stdout goes to /dev/null unless
// `capture_stdout`.
RunResult run(const std::vector<std::string>& argv, bool timing, bool capture_stdout = false) {
  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) != 0) return {};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (capture_stdout) {
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 1);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  if (timing) env_strings.emplace_back("PYSTACK_DUMP_TIMING=1");
  std::vector<char*> env;
  for (std::string& e : env_strings) env.push_back(e.data());
  env.push_back(nullptr);
  RunResult result;
  pid_t pid;
  const auto start = Clock::now();
  if (posix_spawn(&pid, args[0], &actions, nullptr, args.data(), env.data()) != 0) {
    close(err_pipe[0]);
    close(err_pipe[1]);
    return result;
  }
  close(err_pipe[1]);
  std::string err;
  char buffer[4096];
  ssize_t n;
  while ((n = read(err_pipe[0], buffer, sizeof buffer)) > 0) err.append(buffer, n);
  close(err_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  result.status = status;
  posix_spawn_file_actions_destroy(&actions);
  result.output = err;
  size_t at = err.find("stopped_us=");
  if (at != std::string::npos) result.stopped_us = std::atof(err.c_str() + at + 11);
  return result;
}

struct Target {
  pid_t pid = -1;
  int out = -1;
  ~Target() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    if (out >= 0) close(out);
  }
};

bool start_target(const Interpreter& python, const std::string& script, Target& target) {
  int out_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return false;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  std::vector<std::string> argv = python.prefix;
  argv.push_back(python.path);
  argv.push_back(script);
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  int rc = posix_spawn(&target.pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  target.out = out_pipe[0];
  if (rc != 0) {
    target.pid = -1;
    return false;
  }
  pollfd pfd{target.out, POLLIN, 0};
  if (poll(&pfd, 1, 20000) <= 0) return false;
  char buffer[64];
  return read(target.out, buffer, sizeof buffer) > 0;
}

// ---- pystack-dump --core on a large core (a target that touched 1 GiB, then crashed) ----

constexpr int kCoreMiB = 1024;

// Runs argv (stdout to /dev/null) and waits: wall time and the child's peak RSS (KiB).
std::pair<double, long> run_measured(const std::vector<std::string>& argv) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  const auto start = Clock::now();
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return {-1, -1};
  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  return {WIFEXITED(status) && WEXITSTATUS(status) == 0 ? ms : -1, usage.ru_maxrss};
}

// Makes `dir`/core (or core.PID): the target crashes with core dumps enabled, in `dir`.
std::string make_big_core(const std::string& python, const std::string& dir) {
  const std::string script = fs::absolute("tests/integration/targets/core_big.py").string();
  const std::string mib = std::to_string(kCoreMiB);
  const pid_t pid = fork();
  if (pid < 0) return "";
  if (pid == 0) {
    struct rlimit limit = {RLIM_INFINITY, RLIM_INFINITY};
    setrlimit(RLIMIT_CORE, &limit);
    const int null = open("/dev/null", O_RDWR);
    if (null < 0 || chdir(dir.c_str()) != 0) _exit(126);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    execl(python.c_str(), python.c_str(), "-X", "faulthandler", script.c_str(), dir.c_str(),
          mib.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return "";
    }
    usleep(20000);
  }
  for (const std::string& name : {std::string("core"), "core." + std::to_string(pid)}) {
    if (fs::exists(dir + "/" + name)) return dir + "/" + name;
  }
  return "";
}

void bench_core(const std::string& tool, const std::vector<Interpreter>& interpreters) {
  std::printf("\npystack-dump --core on a core of %d MiB (page cache warm)\n", kCoreMiB);
  std::FILE* pattern_file = std::fopen("/proc/sys/kernel/core_pattern", "r");
  char pattern[256] = "";
  if (pattern_file != nullptr) {
    if (std::fgets(pattern, sizeof pattern, pattern_file) == nullptr) pattern[0] = 0;
    std::fclose(pattern_file);
  }
  struct statvfs fs_stat {};
  const bool space = statvfs("/tmp", &fs_stat) == 0 &&
                     fs_stat.f_bavail * fs_stat.f_frsize > (3ull * kCoreMiB << 20);
  const bool has_host = std::any_of(interpreters.begin(), interpreters.end(),
                                    [](const Interpreter& i) { return i.prefix.empty(); });
  if (!has_host || pattern[0] == '|' || !space) {
    std::printf("not measured: %s\n", !has_host ? "no interpreter"
                                      : !space           ? "less than 3 GiB free in /tmp"
                                                         : "core_pattern pipes cores to a program");
    return;
  }
  char templ[] = "/tmp/pystack-bench-core-XXXXXX";
  if (mkdtemp(templ) == nullptr) return;
  const std::string dir = templ;
  // The newest of the host's own interpreters (the core's files are then where it names them).
  const Interpreter& interp = *std::find_if(interpreters.rbegin(), interpreters.rend(),
                                            [](const Interpreter& i) { return i.prefix.empty(); });
  const std::string core = make_big_core(interp.path, dir);
  if (core.empty()) {
    std::printf("not measured: %s left no core in %s\n", interp.label.c_str(), dir.c_str());
  } else {
    std::vector<double> wall;
    long peak_kib = 0;
    for (int i = 0; i < 11; ++i) {
      auto [ms, rss] = run_measured({tool, "--core", core});
      if (ms >= 0) wall.push_back(ms);
      peak_kib = std::max(peak_kib, rss);
    }
    std::printf("%-20s core %6.0f MiB: median %8.3f ms, peak RSS %.1f MiB (%zu/11 runs ok)\n",
                interp.label.c_str(), static_cast<double>(fs::file_size(core)) / (1 << 20),
                median(wall), peak_kib / 1024.0, wall.size());
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace

// --native beside gdb's `thread apply all bt` on Debian's python3.11 (issue 13's goal: under
// 20 ms, at least 50x faster than gdb), and the sampler's rate with --native.
void bench_native(const std::string& tool, const std::string& script, int runs) {
  if (!fs::exists("/usr/bin/python3.11")) {
    std::printf("\n--native: not measured (needs /usr/bin/python3.11)\n");
    return;
  }
  Target target;
  if (!start_target({"debian 3.11", "/usr/bin/python3.11", {}}, script, target)) return;
  std::vector<double> gdb_ms;
  if (fs::exists("/usr/bin/gdb")) {
    for (int i = 0; i < 3; ++i) {
      RunResult r = run({"/usr/bin/gdb", "-q", "-nx", "-batch", "-p", std::to_string(target.pid),
                         "-ex", "thread apply all bt"},
                        false, /*capture_stdout=*/true);
      if (WIFEXITED(r.status) && r.output.find("#1 ") != std::string::npos) {
        gdb_ms.push_back(r.wall_ms);
      }
    }
  }
  std::printf("\n--native on debian 3.11 (10 threads x 20 frames), %d runs each\n", runs);
  if (!gdb_ms.empty()) {
    std::printf("reference: gdb 'thread apply all bt'     median %8.1f ms (%zu runs)\n",
                median(gdb_ms), gdb_ms.size());
  }
  for (const char* format : {"faulthandler", "json"}) {
    std::vector<double> wall, stopped;
    const int n = std::string(format) == "json" ? std::max(3, runs / 20) : runs;
    for (int i = 0; i < n; ++i) {
      RunResult r = run({tool, "--native", std::string("--format=") + format,
                         std::to_string(target.pid)},
                        true);
      if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0) continue;
      wall.push_back(r.wall_ms);
      if (r.stopped_us) stopped.push_back(*r.stopped_us);
    }
    if (wall.empty()) continue;
    const std::string ratio =
        gdb_ms.empty() ? "-" : std::to_string(static_cast<int>(median(gdb_ms) / median(wall))) + "x";
    std::printf("pystack-dump --native --format=%-12s median %8.1f ms, stopped %8.1f ms, vs gdb %s"
                " (%zu runs)\n",
                format, median(wall), median(stopped) / 1000.0, ratio.c_str(), wall.size());
  }
  RunResult rec = run({tool, "record", "--native", "--idle", "--rate=max", "--duration=3",
                       "-o", "/dev/null", "--format=folded", std::to_string(target.pid)},
                      false);
  const size_t at = rec.output.find(" samples (");
  if (at != std::string::npos) {
    std::printf("record --native --idle --rate=max: %.0f samples/s of 11 threads (3 s)\n",
                std::atof(rec.output.c_str() + at + 10));
  }
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench PYSTACK_DUMP [RUNS]\n");
    return 2;
  }
  const std::string tool = fs::absolute(argv[1]).string();
  const int runs = argc > 2 ? std::atoi(argv[2]) : 200;
  // A copy under /tmp, which scripts/in-root binds into the Debian roots too.
  const std::string script = "/tmp/pystack-bench-target_10x20.py";
  fs::copy_file("tests/bench/target_10x20.py", script, fs::copy_options::overwrite_existing);

  std::vector<double> true_ms;
  for (int i = 0; i < runs; ++i) true_ms.push_back(run({"/bin/true"}, false).wall_ms);
  const double spawn_ms = median(true_ms);

  std::optional<double> gdb_ms;
  const bool have_gdb = fs::exists("/usr/bin/gdb") && fs::exists("/usr/bin/python3.11");
  if (have_gdb) {
    Target target;
    if (start_target({"debian 3.11", "/usr/bin/python3.11", {}}, script, target)) {
      std::vector<double> samples;
      for (int i = 0; i < 3; ++i) {
        RunResult r = run({"/usr/bin/gdb", "-q", "-nx", "-batch", "-iex", "set auto-load safe-path /",
                           "-p", std::to_string(target.pid), "-ex", "thread apply all py-bt"},
                          false, /*capture_stdout=*/true);
        // Count a run only if gdb really printed Python frames (python3.11-dbg loaded).
        if (WIFEXITED(r.status) && r.output.find("File \"") != std::string::npos) {
          samples.push_back(r.wall_ms);
        }
      }
      if (!samples.empty()) gdb_ms = median(samples);
    }
  }

  std::printf("pystack-dump benchmark: target with 10 threads x 20 frames, %d runs each\n", runs);
  std::printf("reference: spawning /bin/true           median %8.3f ms\n", spawn_ms);
  if (gdb_ms) {
    std::printf("reference: gdb 'thread apply all py-bt' median %8.1f ms (Debian python3.11, 3 runs)\n",
                *gdb_ms);
  } else {
    std::printf("reference: gdb py-bt not measured (needs gdb and python3.11-dbg)\n");
  }
  std::printf("\n%-20s %12s %12s %12s %10s\n", "interpreter", "whole (ms)", "p90 (ms)", "stopped (us)",
              "vs gdb");
  std::vector<double> version_medians;
  for (const Interpreter& interp : find_interpreters()) {
    Target target;
    if (!start_target(interp, script, target)) {
      std::printf("%-20s target did not start\n", interp.label.c_str());
      continue;
    }
    std::vector<double> wall, stopped;
    int failures = 0;
    for (int i = 0; i < runs; ++i) {
      RunResult r = run({tool, std::to_string(target.pid)}, true);
      if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0) {
        ++failures;
        continue;
      }
      wall.push_back(r.wall_ms);
      if (r.stopped_us) stopped.push_back(*r.stopped_us);
    }
    if (wall.empty()) {
      std::printf("%-20s every run failed\n", interp.label.c_str());
      continue;
    }
    std::vector<double> sorted = wall;
    std::sort(sorted.begin(), sorted.end());
    const double p90 = sorted[sorted.size() * 9 / 10];
    const double m = median(wall);
    version_medians.push_back(m);
    std::string ratio = gdb_ms ? std::to_string(static_cast<int>(*gdb_ms / m)) + "x" : "-";
    std::printf("%-20s %12.3f %12.3f %12.1f %10s%s\n", interp.label.c_str(), m, p90, median(stopped),
                ratio.c_str(), failures ? " (some runs failed)" : "");
  }
  if (version_medians.size() > 1) {
    auto [lo, hi] = std::minmax_element(version_medians.begin(), version_medians.end());
    std::printf("\nslowest / fastest interpreter: %.2fx (goal: at most 2x)\n", *hi / *lo);
  }
  bench_core(tool, find_interpreters());
  bench_native(tool, script, runs / 4);
  return 0;
}
