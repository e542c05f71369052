// pystack-dump against the ways a CPython is built and deployed, each compared byte for byte with
// the target's own faulthandler output (2.7: its py2_*.py twin's own dump):
//   Stripped      a copy of the interpreter and its libpython after `strip --strip-all` (2.7 and
//                 3.6 lose interp_head: it is read off the code of PyInterpreterState_Head());
//   RenamedLib    the interpreter's libpython copied as `libpython.so` and preloaded in its place,
//                 so that no file name tells the version (3.7-3.10 have no Py_Version);
//   StaticPython  `python` linked statically from the build's python.o and libpythonX.Y.a;
//   Embedded      a C program (targets/embed.c) linked with libpython through python-config;
//   Namespace     the interpreter and the script visible only in the target's own mount
//                 namespace (a tmpfs mounted over a directory, `unshare --mount`);
//   Venv          an interpreter of a `python -m venv --without-pip --copies` environment.
// What cannot be built for an interpreter here is skipped with the reason, and listed at the end.

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace pystack_it {
namespace {

namespace fs = std::filesystem;

constexpr auto kToolTimeout = std::chrono::seconds(30);
constexpr auto kBuildTimeout = std::chrono::seconds(120);

// ---------------------------------------------------------------------------------------------
// What an interpreter says about its own build (asked once per interpreter).

struct BuildInfo {
  std::string executable;  // the real file of sys.executable
  std::string libpython;   // the shared libpython it loads; "" for a static build
  std::string prefix;      // sys.prefix: PYTHONHOME for a copy that lives elsewhere
  std::string libpl;       // LIBPL: python.o and the static library, when installed
  std::string static_lib;  // LIBRARY, e.g. libpython3.9.a
  std::string link_libs;   // LIBS and SYSLIBS, for a static link
};

// Python 2.7- and 3-compatible. The libpython is the one mapped (Debian's static python3.11
// reports a shared build: it ships libpython3.11.so for embedding, but does not load it).
constexpr const char* kBuildInfoScript = R"(
import os, sys, sysconfig
v = lambda name: sysconfig.get_config_var(name) or ""
lib = ""
for line in open("/proc/self/maps"):
    fields = line.split()
    if len(fields) >= 6 and os.path.basename(fields[5]).startswith("libpython"):
        lib = fields[5]
        break
for line in (os.path.realpath(sys.executable), lib, sys.prefix, v("LIBPL"), v("LIBRARY"),
             v("LIBS") + " " + v("SYSLIBS")):
    sys.stdout.write(line + "\n")
)";

absl::StatusOr<BuildInfo> AskBuildInfo(const Interpreter& py) {
  absl::StatusOr<RunResult> r =
      RunProgram({py.path, "-c", kBuildInfoScript}, std::chrono::seconds(20));
  if (!r.ok()) return r.status();
  std::vector<std::string> lines = absl::StrSplit(r->out, '\n');
  if (r->exit_code() != 0 || lines.size() < 6) {
    return absl::InternalError(absl::StrCat(py.path, ": build info: ", r->Describe()));
  }
  return BuildInfo{lines[0], lines[1], lines[2], lines[3], lines[4], lines[5]};
}

const BuildInfo* Info(const Interpreter& py, std::string* error) {
  static auto* cache = new std::map<std::string, absl::StatusOr<BuildInfo>>;
  auto it = cache->find(py.path);
  if (it == cache->end()) it = cache->emplace(py.path, AskBuildInfo(py)).first;
  if (!it->second.ok()) {
    *error = it->second.status().ToString();
    return nullptr;
  }
  return &*it->second;
}

#define ASSERT_BUILD_INFO(var, py)                            \
  std::string var##_error;                                     \
  const BuildInfo* var##_ptr = Info(py, &var##_error);         \
  ASSERT_NE(var##_ptr, nullptr) << var##_error;                \
  const BuildInfo& var = *var##_ptr

// ---------------------------------------------------------------------------------------------
// Results, for the summary printed at the end.

std::map<std::string, std::vector<std::string>>& Outcomes() {  // test -> "py3_9_18: passed"...
  static auto* m = new std::map<std::string, std::vector<std::string>>;
  return *m;
}

// Skips the current test, saying why and remembering it for the summary.
#define SKIP_BECAUSE(py, why)                                                               \
  do {                                                                                      \
    std::string reason_ = (why);                                                            \
    Outcomes()[::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name()] \
        .push_back((py).name + ": skipped: " + reason_);                                    \
    GTEST_SKIP() << reason_;                                                                \
  } while (0)

class BuildTest : public ::testing::TestWithParam<Interpreter> {
 protected:
  void TearDown() override {
    if (IsSkipped()) return;
    Outcomes()[::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name()]
        .push_back(GetParam().name + (HasFailure() ? ": FAILED" : ": passed"));
  }
};

std::string ParamName(const ::testing::TestParamInfo<Interpreter>& info) {
  return info.param.name;
}

// ---------------------------------------------------------------------------------------------
// Helpers

// The blocking scenario (12 threads in Event, Queue, locks, sleep, select, recv, read, join,
// ...), in its 2.7 form for 2.7.
std::string BlockingScript(const Interpreter& py) {
  return py.major == 2 ? "py2_blocking.py" : "blocking.py";
}

absl::Status CopyFile(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::create_directories(fs::path(to).parent_path(), ec);
  if (!fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec)) {
    return absl::InternalError(absl::StrCat("copy ", from, " -> ", to, ": ", ec.message()));
  }
  return absl::OkStatus();
}

absl::Status RunToSuccess(const std::vector<std::string>& argv,
                          const std::vector<std::string>& env = {}) {
  absl::StatusOr<RunResult> r = RunProgram(argv, kBuildTimeout, env);
  if (!r.ok()) return r.status();
  if (r->exit_code() != 0) {
    return absl::InternalError(absl::StrCat(absl::StrJoin(argv, " "), ": ", r->Describe()));
  }
  return absl::OkStatus();
}

// The files mapped by `pid`, from /proc/PID/maps.
std::vector<std::string> MappedFiles(pid_t pid) {
  std::vector<std::string> files;
  std::optional<std::string> maps = ReadFile(absl::StrCat("/proc/", pid, "/maps"));
  if (!maps) return files;
  for (absl::string_view line : absl::StrSplit(*maps, '\n', absl::SkipEmpty())) {
    size_t slash = line.find('/');
    if (slash == absl::string_view::npos) continue;
    std::string path(line.substr(slash));
    if (std::find(files.begin(), files.end(), path) == files.end()) files.push_back(path);
  }
  return files;
}

// `path` as /proc/PID/maps names it: from our root, or, for a file of another mount namespace
// below a chroot of ours, from further out (a longer path that ends with it).
bool Maps(pid_t pid, const std::string& path) {
  std::vector<std::string> files = MappedFiles(pid);
  return std::any_of(files.begin(), files.end(), [&](const std::string& file) {
    return file == path || absl::EndsWith(file, path);
  });
}

std::string FileName(const std::string& path) { return fs::path(path).filename().string(); }

// Runs the tool on the target and expects faulthandler's dump, byte for byte.
void ExpectToolMatches(Target& target) {
  absl::StatusOr<std::string> tool = ToolPath();
  ASSERT_TRUE(tool.ok()) << tool.status().message();
  absl::StatusOr<RunResult> r =
      RunProgram({*tool, std::to_string(target.child.pid())}, kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  EXPECT_TRUE(r->out == target.expected) << DescribeMismatch(target.expected, r->out);
  EXPECT_EQ(r->err, "") << Printable(r->err);
  EXPECT_FALSE(target.child.Exited()) << "the target died during or after the dump";
}

// One entry of a thread's "frames" in `--format=json --native-all`.
struct JsonFrame {
  bool native = false;
  std::string function;  // native: "" for null
  bool interpreter = false;
  bool has_file = false;  // native: "file" is not null
};

// Each thread's frames of `--format=json --native-all`, in order. A small reader of the writer's
// shape (one key per line); a native frame's "interpreter" is its last key.
std::vector<std::vector<JsonFrame>> ParseJsonFrames(const std::string& json) {
  std::vector<std::vector<JsonFrame>> threads;
  std::optional<JsonFrame> native;
  for (absl::string_view piece : absl::StrSplit(json, '\n')) {
    absl::string_view line = absl::StripAsciiWhitespace(piece);
    if (line == "\"frames\": [") {
      threads.emplace_back();
    } else if (line == "\"kind\": \"python\",") {
      if (!threads.empty()) threads.back().push_back(JsonFrame{});
    } else if (line == "\"kind\": \"native\",") {
      native = JsonFrame{true};
    } else if (native && absl::ConsumePrefix(&line, "\"function\": ")) {
      line = absl::StripSuffix(line, ",");
      if (line != "null") {
        native->function = std::string(absl::StripPrefix(absl::StripSuffix(line, "\""), "\""));
      }
    } else if (native && absl::ConsumePrefix(&line, "\"file\": ")) {
      native->has_file = !absl::StartsWith(line, "null");
    } else if (native && absl::ConsumePrefix(&line, "\"interpreter\": ")) {
      native->interpreter = absl::StartsWith(line, "true");
      if (!threads.empty()) threads.back().push_back(*native);
      native.reset();
    }
  }
  return threads;
}

// The separate debug file that /usr/lib/debug/.build-id holds for `file`'s build id, or "".
std::string DebugFileByBuildId(const std::string& file) {
  absl::StatusOr<RunResult> notes = RunProgram({"readelf", "-n", file}, std::chrono::seconds(30));
  if (!notes.ok() || notes->exit_code() != 0) return "";
  const size_t at = notes->out.find("Build ID: ");
  if (at == std::string::npos) return "";
  const std::string id(absl::StripAsciiWhitespace(
      notes->out.substr(at + 10, notes->out.find('\n', at) - at - 10)));
  if (id.size() < 3) return "";
  const std::string debug =
      "/usr/lib/debug/.build-id/" + id.substr(0, 2) + "/" + id.substr(2) + ".debug";
  return access(debug.c_str(), R_OK) == 0 ? debug : "";
}

// --native on a target whose interpreter was stripped of everything but .dynsym: the Python
// frames still faulthandler's, C frames in every thread, and the interpreter loop's frame named
// by its dynamic symbol (_PyEval_EvalFrameDefault, 2.7's PyEval_EvalFrameEx: exported, so strip
// keeps them), the Python frames it runs right above it. File and line of the interpreter's C
// frames come from debug information only: a debug file found by the build id, which strip
// keeps (`debug_file`, e.g. python3.11-dbg's for Debian's python3.11), or none at all.
void ExpectNativeMerged(Target& target, const std::string& what,
                        const std::string& debug_file) {
  absl::StatusOr<std::string> tool = ToolPath();
  ASSERT_TRUE(tool.ok()) << tool.status().message();
  const std::string pid = std::to_string(target.child.pid());
  absl::StatusOr<RunResult> r = RunProgram({*tool, "--native", pid}, kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  EXPECT_EQ(r->err, "") << Printable(r->err);
  EXPECT_NE(r->out.find("  Binary file \""), std::string::npos) << "no C frame at all:\n"
                                                                  << r->out;
  EXPECT_TRUE(WithoutNativeLines(r->out) == target.expected)
      << DescribeMismatch(target.expected, WithoutNativeLines(r->out));
  EXPECT_EQ(r->out.find("<pystack-dump: C stack"), std::string::npos)
      << "every C stack complete, every Python frame placed:\n" << r->out;

  absl::StatusOr<RunResult> json =
      RunProgram({*tool, "--native-all", "--format=json", pid}, kToolTimeout);
  ASSERT_TRUE(json.ok()) << json.status();
  ASSERT_EQ(json->exit_code(), 0) << json->Describe();
  const std::vector<std::vector<JsonFrame>> threads = ParseJsonFrames(json->out);
  ASSERT_FALSE(threads.empty()) << json->out;
  int loops = 0, interpreter_frames = 0, with_lines = 0;
  for (const std::vector<JsonFrame>& frames : threads) {
    for (size_t i = 0; i < frames.size(); ++i) {
      const JsonFrame& f = frames[i];
      if (!f.native || !f.interpreter) continue;
      ++interpreter_frames;
      if (f.has_file) ++with_lines;
      if (f.function != "_PyEval_EvalFrameDefault" && f.function != "PyEval_EvalFrameEx") continue;
      ++loops;
      EXPECT_TRUE(i > 0 && !frames[i - 1].native)
          << "the interpreter loop's C frame " << i << " has no Python frame right above it:\n"
          << json->out;
    }
  }
  EXPECT_GT(loops, 0) << "no C frame of the interpreter loop named:\n" << json->out;
  if (debug_file.empty()) {
    EXPECT_EQ(with_lines, 0) << "file and line without debug information:\n" << json->out;
  } else {
    // Every frame but those of code no unit of the debug file covers (hand-written assembly).
    EXPECT_GT(with_lines, interpreter_frames / 2)
        << with_lines << " of " << interpreter_frames << " C frames of the interpreter have file "
        << "and line from " << debug_file << ":\n" << json->out;
  }
  const std::string debug = debug_file.empty() ? "no debug file" : "debug file " + debug_file;
  std::printf("[ native   ] %s: %d interpreter loop frames named, %d of %d interpreter C frames "
              "with file and line (%s)\n",
              what.c_str(), loops, with_lines, interpreter_frames, debug.c_str());
}

// `python -B TARGETS/SCRIPT` as a TargetCommand, for an interpreter at `executable`.
absl::StatusOr<TargetCommand> ScriptCommand(const std::string& executable,
                                            const std::string& script,
                                            const std::string& description) {
  absl::StatusOr<std::string> targets = TargetsDir();
  if (!targets.ok()) return targets.status();
  TargetCommand command;
  command.command = {executable, "-B", *targets + "/" + script};
  command.description = description;
  return command;
}

// The variants are built from the host's interpreters (copies of their files, their
// python-config): those of the Debian roots run only in their root, where they are already the
// container case (dump_test, core_test, ...).
std::vector<Interpreter> InScope() {
  std::vector<Interpreter> out;
  for (const Interpreter& py : Interpreters().in_scope) {
    if (!py.InRoot()) out.push_back(py);
  }
  return out;
}

std::vector<Interpreter> InScopeOlderThan311() {
  std::vector<Interpreter> out;
  for (const Interpreter& py : InScope()) {
    if (py.major == 2 || py.minor <= 10) out.push_back(py);
  }
  return out;
}

std::vector<Interpreter> InScopePython3() {
  std::vector<Interpreter> out;
  for (const Interpreter& py : InScope()) {
    if (py.major == 3) out.push_back(py);
  }
  return out;
}

// The oldest and the newest Python 3 in scope.
std::vector<Interpreter> OldestAndNewestPython3() {
  std::vector<Interpreter> all = InScopePython3();
  if (all.size() <= 1) return all;
  return {all.front(), all.back()};
}

// ---------------------------------------------------------------------------------------------
// Stripped: the interpreter and its libpython, copied and stripped of every symbol table but
// .dynsym, run from the copy (LD_LIBRARY_PATH wins over the executable's RUNPATH).

class Stripped : public BuildTest {};

TEST_P(Stripped, MatchesFaulthandler) {
  const Interpreter& py = GetParam();
  ASSERT_BUILD_INFO(info, py);
  TempDir dir;
  const std::string exe = dir.path() + "/bin/" + FileName(info.executable);
  ASSERT_TRUE(CopyFile(info.executable, exe).ok());
  std::vector<std::string> strip = {"strip", "--strip-all", exe};
  std::string lib;
  if (!info.libpython.empty()) {
    lib = dir.path() + "/lib/" + FileName(info.libpython);
    ASSERT_TRUE(CopyFile(info.libpython, lib).ok());
    strip.push_back(lib);
  }
  absl::Status stripped = RunToSuccess(strip);
  ASSERT_TRUE(stripped.ok()) << stripped;

  absl::StatusOr<TargetCommand> command =
      ScriptCommand(exe, BlockingScript(py), "blocking under a stripped copy of " + py.path);
  ASSERT_TRUE(command.ok()) << command.status();
  command->env = {"PYTHONHOME=" + info.prefix, "LD_LIBRARY_PATH=" + dir.path() + "/lib"};
  absl::StatusOr<std::unique_ptr<Target>> target = StartTargetCommand(*command);
  ASSERT_TRUE(target.ok()) << target.status();
  const pid_t pid = (*target)->child.pid();
  ASSERT_TRUE(Maps(pid, exe)) << absl::StrJoin(MappedFiles(pid), "\n");
  if (!lib.empty()) {
    ASSERT_TRUE(Maps(pid, lib)) << "the stripped " << lib << " is not the libpython mapped:\n"
                                << absl::StrJoin(MappedFiles(pid), "\n");
    ASSERT_FALSE(Maps(pid, info.libpython)) << absl::StrJoin(MappedFiles(pid), "\n");
  }
  ExpectToolMatches(**target);
  SCOPED_TRACE("--native");
  ExpectNativeMerged(**target, py.name + " stripped",
                     DebugFileByBuildId(lib.empty() ? exe : lib));
}

INSTANTIATE_TEST_SUITE_P(Interpreters, Stripped, ::testing::ValuesIn(InScope()), ParamName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Stripped);

// ---------------------------------------------------------------------------------------------
// RenamedLib: the libpython copied as `libpython.so` and preloaded. Its SONAME still answers the
// executable's (and the extension modules') DT_NEEDED, so it replaces the original, but neither
// its name nor (before 3.11) a symbol tells its version: pystack-dump reads PY_VERSION from it.

class RenamedLib : public BuildTest {};

TEST_P(RenamedLib, MatchesFaulthandler) {
  const Interpreter& py = GetParam();
  ASSERT_BUILD_INFO(info, py);
  if (info.libpython.empty()) SKIP_BECAUSE(py, "a static build has no libpython to rename");
  TempDir dir;
  const std::string lib = dir.path() + "/libpython.so";
  ASSERT_TRUE(CopyFile(info.libpython, lib).ok());

  absl::StatusOr<TargetCommand> command =
      ScriptCommand(py.path, BlockingScript(py), "blocking with libpython renamed, " + py.path);
  ASSERT_TRUE(command.ok()) << command.status();
  command->env = {"LD_PRELOAD=" + lib};
  absl::StatusOr<std::unique_ptr<Target>> target = StartTargetCommand(*command);
  ASSERT_TRUE(target.ok()) << target.status();
  const pid_t pid = (*target)->child.pid();
  ASSERT_TRUE(Maps(pid, lib)) << absl::StrJoin(MappedFiles(pid), "\n");
  ASSERT_FALSE(Maps(pid, info.libpython)) << absl::StrJoin(MappedFiles(pid), "\n");
  ExpectToolMatches(**target);
}

INSTANTIATE_TEST_SUITE_P(Interpreters, RenamedLib, ::testing::ValuesIn(InScopeOlderThan311()),
                         ParamName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(RenamedLib);

// ---------------------------------------------------------------------------------------------
// StaticPython: `python` (no version in the name) linked from the build's own python.o and
// static library, as CPython's Makefile links a --disable-shared build.

class StaticPython : public BuildTest {};

TEST_P(StaticPython, MatchesFaulthandler) {
  const Interpreter& py = GetParam();
  ASSERT_BUILD_INFO(info, py);
  const std::string main_object = info.libpl + "/python.o";
  const std::string archive = info.libpl + "/" + info.static_lib;
  if (info.libpl.empty() || access(main_object.c_str(), R_OK) != 0 ||
      access(archive.c_str(), R_OK) != 0) {
    SKIP_BECAUSE(py, "no python.o and static library installed in LIBPL (" + info.libpl + ")");
  }
  TempDir dir;
  const std::string exe = dir.path() + "/python";
  std::vector<std::string> link = {"gcc", "-o", exe, main_object, archive};
  for (absl::string_view lib : absl::StrSplit(info.link_libs, ' ', absl::SkipEmpty())) {
    link.emplace_back(lib);
  }
  link.insert(link.end(), {"-Xlinker", "-export-dynamic"});
  absl::Status linked = RunToSuccess(link);
  ASSERT_TRUE(linked.ok()) << linked;

  absl::StatusOr<TargetCommand> command =
      ScriptCommand(exe, BlockingScript(py), "blocking under a static python from " + py.path);
  ASSERT_TRUE(command.ok()) << command.status();
  command->env = {"PYTHONHOME=" + info.prefix};
  absl::StatusOr<std::unique_ptr<Target>> target = StartTargetCommand(*command);
  ASSERT_TRUE(target.ok()) << target.status();
  const pid_t pid = (*target)->child.pid();
  ASSERT_TRUE(Maps(pid, exe)) << absl::StrJoin(MappedFiles(pid), "\n");
  // 2.7-3.7: the extension modules of this --enable-shared build link libpython, which is then
  // mapped too, idle: the runtime in use is the executable's.
  ExpectToolMatches(**target);
}

INSTANTIATE_TEST_SUITE_P(Interpreters, StaticPython, ::testing::ValuesIn(InScopeOlderThan311()),
                         ParamName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(StaticPython);

// ---------------------------------------------------------------------------------------------
// Embedded: targets/embed.c built against the interpreter's libpython (python-config), running
// targets/embedded.py: two blocked threads and the main thread under PyRun_SimpleFileExFlags.

class Embedded : public BuildTest {};

TEST_P(Embedded, MatchesFaulthandler) {
  const Interpreter& py = GetParam();
  ASSERT_BUILD_INFO(info, py);
  // pyenv: bin/python-config beside bin/python; Debian: /usr/bin/python3.11-config beside
  // /usr/bin/python3.11 (its static interpreter maps no libpython, but the libpython3.11
  // package ships one to embed).
  std::string config = fs::path(py.path).parent_path().string() + "/python-config";
  if (access(config.c_str(), X_OK) != 0) config = py.path + "-config";
  if (access(config.c_str(), X_OK) != 0) {
    SKIP_BECAUSE(py, "no python-config beside " + py.path + " to build an embedding program with");
  }
  absl::StatusOr<std::string> targets = TargetsDir();
  ASSERT_TRUE(targets.ok()) << targets.status();
  // python-config prints the flags; --embed (3.8+) adds -lpythonX.Y.
  std::vector<std::string> ask = {config, "--cflags", "--ldflags"};
  if (py.minor >= 8) ask.push_back("--embed");
  absl::StatusOr<RunResult> flags = RunProgram(ask, std::chrono::seconds(20));
  ASSERT_TRUE(flags.ok() && flags->exit_code() == 0)
      << (flags.ok() ? flags->Describe() : flags.status().ToString());
  TempDir dir;
  const std::string exe = dir.path() + "/embed";
  std::vector<std::string> build = {"gcc", "-o", exe, *targets + "/embed.c"};
  for (absl::string_view flag : absl::StrSplit(flags->out, absl::ByAnyChar(" \n"),
                                               absl::SkipEmpty())) {
    build.emplace_back(flag);
    // A libpython outside the loader's path (a build under build/pythons, whose python-config
    // does not add one): found where it was linked from.
    if (absl::StartsWith(flag, "-L")) build.push_back(absl::StrCat("-Wl,-rpath,", flag.substr(2)));
  }
  absl::Status built = RunToSuccess(build);
  ASSERT_TRUE(built.ok()) << built;

  TargetCommand command;
  command.command = {exe, *targets, "embedded.py"};
  command.env = {"PYTHONDONTWRITEBYTECODE=1"};
  command.description = "embedded.py in a program embedding libpython of " + py.path;
  absl::StatusOr<std::unique_ptr<Target>> target = StartTargetCommand(command);
  ASSERT_TRUE(target.ok()) << target.status();
  const std::vector<std::string> mapped = MappedFiles((*target)->child.pid());
  const bool maps_libpython =
      info.libpython.empty()
          ? std::any_of(mapped.begin(), mapped.end(),
                        [](const std::string& f) { return FileName(f).rfind("libpython", 0) == 0; })
          : Maps((*target)->child.pid(), info.libpython);
  ASSERT_TRUE(maps_libpython) << absl::StrJoin(mapped, "\n");
  ExpectToolMatches(**target);
}

INSTANTIATE_TEST_SUITE_P(Interpreters, Embedded, ::testing::ValuesIn(InScopePython3()), ParamName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Embedded);

// ---------------------------------------------------------------------------------------------
// Namespace: a target in its own mount namespace, with a tmpfs mounted over a directory that
// holds, inside only, a copy of the interpreter, its libpython and the target scripts. From
// outside the directory is empty: pystack-dump must read the files through /proc/PID/root.

class Namespace : public BuildTest {};

TEST_P(Namespace, MatchesFaulthandler) {
  const Interpreter& py = GetParam();
  if (geteuid() != 0) SKIP_BECAUSE(py, "needs root to mount a tmpfs in a new mount namespace");
  if (access("/usr/bin/unshare", X_OK) != 0) SKIP_BECAUSE(py, "needs /usr/bin/unshare");
  ASSERT_BUILD_INFO(info, py);
  absl::StatusOr<std::string> targets = TargetsDir();
  ASSERT_TRUE(targets.ok()) << targets.status();
  TempDir dir;
  const std::string hidden = dir.path() + "/hidden";
  ASSERT_EQ(mkdir(hidden.c_str(), 0755), 0);
  // sh -c SCRIPT sh HIDDEN EXECUTABLE LIBPYTHON TARGETS OUT_DIR [ARGS...]
  constexpr const char* kInside = R"(set -e
mount -t tmpfs pystack-it "$1"
mkdir "$1/bin" "$1/lib"
cp "$2" "$1/bin/python"
if [ -n "$3" ]; then cp "$3" "$1/lib/"; fi
cp "$4"/*.py "$1/"
d=$1
shift 4
LD_LIBRARY_PATH="$d/lib" exec "$d/bin/python" -B "$d/)";
  TargetCommand command;
  command.command = {"unshare",
                     "--mount",
                     "--propagation",
                     "private",
                     "sh",
                     "-c",
                     std::string(kInside) + BlockingScript(py) + "\" \"$@\"",
                     "sh",
                     hidden,
                     info.executable,
                     info.libpython,
                     *targets};
  command.env = {"PYTHONHOME=" + info.prefix};
  command.description = "blocking in a mount namespace, " + py.path;
  absl::StatusOr<std::unique_ptr<Target>> target = StartTargetCommand(command);
  ASSERT_TRUE(target.ok()) << target.status();
  const pid_t pid = (*target)->child.pid();
  ASSERT_TRUE(Maps(pid, hidden + "/bin/python")) << absl::StrJoin(MappedFiles(pid), "\n");
  std::error_code ec;
  ASSERT_TRUE(fs::is_empty(hidden, ec)) << hidden << " is visible from outside the namespace";
  ExpectToolMatches(**target);
}

INSTANTIATE_TEST_SUITE_P(Interpreters, Namespace, ::testing::ValuesIn(OldestAndNewestPython3()),
                         ParamName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Namespace);

// ---------------------------------------------------------------------------------------------
// Venv: the interpreter of a virtual environment (bin/python copied into it, --copies).

class Venv : public BuildTest {};

TEST_P(Venv, MatchesFaulthandler) {
  const Interpreter& py = GetParam();
  TempDir dir;
  const std::string venv = dir.path() + "/venv";
  absl::Status made = RunToSuccess({py.path, "-m", "venv", "--without-pip", "--copies", venv});
  ASSERT_TRUE(made.ok()) << made;
  absl::StatusOr<TargetCommand> command =
      ScriptCommand(venv + "/bin/python", BlockingScript(py), "blocking in a venv of " + py.path);
  ASSERT_TRUE(command.ok()) << command.status();
  absl::StatusOr<std::unique_ptr<Target>> target = StartTargetCommand(*command);
  ASSERT_TRUE(target.ok()) << target.status();
  const pid_t pid = (*target)->child.pid();
  ASSERT_TRUE(Maps(pid, venv + "/bin/python")) << absl::StrJoin(MappedFiles(pid), "\n");
  ExpectToolMatches(**target);
}

INSTANTIATE_TEST_SUITE_P(Interpreters, Venv, ::testing::ValuesIn(OldestAndNewestPython3()),
                         ParamName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Venv);

// ---------------------------------------------------------------------------------------------
// A runtime whose version nothing tells (no version in the file name, no Py_Version, no
// _Py_DebugOffsets, no PY_VERSION string): refused with exit code 7, saying so.

constexpr char kMysteryRuntime[] = R"(
#include <stdint.h>
#include <unistd.h>
uint64_t _PyRuntime[512] __attribute__((used, visibility("default")));
int main(void) { write(1, "ready\n", 6); sleep(60); return 0; }
)";

TEST(VersionDetection, UnknownVersionIsRefused) {
  ASSERT_TOOL(tool);
  TempDir dir;
  const std::string source = dir.path() + "/mystery.c";
  const std::string program = dir.path() + "/mystery";
  std::ofstream(source) << kMysteryRuntime;
  absl::Status built = RunToSuccess({"cc", "-O0", "-rdynamic", "-o", program, source});
  ASSERT_TRUE(built.ok()) << built;
  absl::StatusOr<Child> target = Spawn({program}, Stdio::Null(), Stdio::Pipe());
  ASSERT_TRUE(target.ok()) << target.status();
  char buffer[16];
  ASSERT_GT(read(target->out(), buffer, sizeof buffer), 0);
  absl::StatusOr<RunResult> r = RunProgram({tool, std::to_string(target->pid())}, kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 7) << r->Describe();
  EXPECT_EQ(r->out, "");
  EXPECT_TRUE(IsOneErrorLine(r->err)) << Printable(r->err);
  EXPECT_NE(r->err.find("cannot tell the Python version of " + program), std::string::npos)
      << Printable(r->err);
}

// ---------------------------------------------------------------------------------------------

class BuildsReport : public ::testing::Environment {
 public:
  void TearDown() override {
    if (Outcomes().empty()) return;
    std::string text = "\n[ builds   ] stripped, renamed, static, embedded, namespaced and venv "
                       "interpreters:\n";
    for (const auto& [suite, outcomes] : Outcomes()) {
      for (const std::string& outcome : outcomes) {
        absl::StrAppend(&text, "[ builds   ]   ", suite, " ", outcome, "\n");
      }
    }
    fputs(text.c_str(), stdout);
    fflush(stdout);
  }
};

[[maybe_unused]] ::testing::Environment* const kBuildsReport =
    ::testing::AddGlobalTestEnvironment(new BuildsReport);

}  // namespace
}  // namespace pystack_it
