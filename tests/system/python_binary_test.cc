// find_python_binary against made-up mapping lists of the real interpreter files (expected values
// from nm), and against live interpreters whose memory is then read at the addresses found.
#include "symbols/python_binary.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>

#include "common/errors.h"
#include "gtest/gtest.h"
#include "symbols_test_support.h"

namespace pystack {
namespace {

using namespace symbols_test;
namespace fs = std::filesystem;

constexpr const char* kLibc = "/lib/x86_64-linux-gnu/libc.so.6";
constexpr uint64_t kExecutableStart = 0x555555554000;
constexpr uint64_t kLibraryStart = 0x7f1234560000;

// The mappings the kernel makes for one ELF file: offset 0 read-only, then the code.
void add_file(std::vector<MemoryMapping>& maps, const std::string& path, uint64_t start) {
  maps.push_back({start, start + 0x1000, 0, true, false, false, path});
  maps.push_back({start + 0x1000, start + 0x5000, 0x1000, true, false, true, path});
}

void add_pseudo(std::vector<MemoryMapping>& maps) {
  uint64_t at = 0x7ffff0000000;
  for (const char* name : {"[heap]", "", "[stack]", "[vvar]", "[vdso]"}) {
    maps.push_back({at, at + 0x1000, 0, true, true, false, name});
    at += 0x10000;
  }
}

// A process of `executable` with `libraries` loaded at kLibraryStart, kLibraryStart + 16 MiB...
std::vector<MemoryMapping> fake_process(const std::string& executable,
                                        const std::vector<std::string>& libraries) {
  std::vector<MemoryMapping> maps;
  add_file(maps, executable, kExecutableStart);
  add_pseudo(maps);
  uint64_t start = kLibraryStart;
  for (const std::string& library : libraries) {
    add_file(maps, library, start);
    start += 0x1000000;
  }
  return maps;
}

std::string identity(const MemoryMapping& mapping) { return mapping.path; }

std::optional<uint64_t> biased(const std::map<std::string, uint64_t>& symbols,
                               const std::string& name, uint64_t bias) {
  auto it = symbols.find(name);
  if (it == symbols.end()) return std::nullopt;
  return it->second + bias;
}

// Every field of `binary` against what nm says about `file` loaded with `bias`.
void expect_matches_nm(const PythonBinary& binary, const fs::path& file, uint64_t bias) {
  std::map<std::string, uint64_t> all = nm_symbols(file, "--defined-only");
  for (const auto& [name, value] : nm_symbols(file, "-D --defined-only")) all[name] = value;
  EXPECT_EQ(binary.load_bias, bias) << file;
  EXPECT_EQ(binary.runtime, biased(all, "_PyRuntime", bias)) << file;
  EXPECT_EQ(binary.py_version, biased(all, "Py_Version", bias)) << file;
  EXPECT_EQ(binary.thread_state_current, biased(all, "_PyThreadState_Current", bias)) << file;
  EXPECT_EQ(binary.interp_head, biased(all, "interp_head", bias)) << file;
  EXPECT_EQ(binary.code_type, biased(all, "PyCode_Type", bias)) << file;
  EXPECT_EQ(binary.unicode_type, biased(all, "PyUnicode_Type", bias)) << file;
  EXPECT_TRUE(binary.code_type.has_value());
  EXPECT_TRUE(binary.runtime.has_value() || binary.thread_state_current.has_value());
}

std::vector<Interpreter> interpreters() { return pyenv_interpreters(); }

TEST(PythonBinaryTest, FindsEachPyenvLibpython) {
  SKIP_UNLESS(!pyenv_interpreters().empty(), "pyenv's CPython interpreters");
  for (const Interpreter& interp : interpreters()) {
    auto maps = fake_process(interp.executable, {kLibc, interp.library.string()});
    absl::StatusOr<PythonBinary> binary = find_python_binary(maps, identity);
    ASSERT_TRUE(binary.ok()) << interp.version << ": " << binary.status();
    EXPECT_EQ(binary->path, interp.library.string());
    // The libraries are linked at 0, so the bias is where offset 0 is mapped.
    expect_matches_nm(*binary, interp.library, kLibraryStart + 0x1000000);
    EXPECT_EQ(binary->name_major, interp.major);
    EXPECT_EQ(binary->name_minor, interp.minor);
    bool old = interp.major == 2 || interp.minor == 6;
    EXPECT_EQ(binary->runtime.has_value(), !old) << interp.version;
    EXPECT_EQ(binary->interp_head.has_value(), old) << interp.version;
    EXPECT_EQ(binary->py_version.has_value(), interp.major == 3 && interp.minor >= 11);
  }
}

TEST(PythonBinaryTest, FindsDebianStaticExecutable) {
  SKIP_UNLESS(fs::exists(kDebianPython), std::string("Debian's ") + kDebianPython);
  ASSERT_TRUE(fs::exists(kDebianPython));
  std::vector<MemoryMapping> maps;
  add_file(maps, kDebianPython, 0x400000);  // ET_EXEC: mapped where it was linked
  add_pseudo(maps);
  add_file(maps, kLibc, kLibraryStart);
  absl::StatusOr<PythonBinary> binary = find_python_binary(maps, identity);
  ASSERT_TRUE(binary.ok()) << binary.status();
  EXPECT_EQ(binary->path, kDebianPython);
  expect_matches_nm(*binary, kDebianPython, 0);
  EXPECT_TRUE(binary->runtime.has_value());
  EXPECT_TRUE(binary->py_version.has_value());
  EXPECT_EQ(binary->name_major, 3);
  EXPECT_EQ(binary->name_minor, 11);
}

TEST(PythonBinaryTest, ExecutableComesBeforeLibpython) {
  SKIP_UNLESS(fs::exists(kDebianPython), std::string("Debian's ") + kDebianPython);
  SKIP_UNLESS(pyenv_interpreter(3, 12).has_value(), "pyenv's CPython 3.12");
  std::optional<Interpreter> py312 = pyenv_interpreter(3, 12);
  ASSERT_TRUE(py312.has_value());
  // Both files hold a runtime: the executable's is the one in use (a static python whose
  // extension modules pulled in a libpython, which stays idle: the executable's exported symbols
  // interpose on the library's). A shared build's executable holds none, so its library is used.
  auto maps = fake_process(kDebianPython, {kLibc, py312->library.string()});
  absl::StatusOr<PythonBinary> binary = find_python_binary(maps, identity);
  ASSERT_TRUE(binary.ok()) << binary.status();
  EXPECT_EQ(binary->path, kDebianPython);
}

// Resolves the made-up "/opt/app/..." paths of these tests to real files.
PathResolver resolver_for(std::map<std::string, std::string> real) {
  return [real](const MemoryMapping& m) {
    auto it = real.find(m.path);
    return it == real.end() ? m.path : it->second;
  };
}

TEST(PythonBinaryTest, ExecutableComesBeforeOtherLibraries) {
  SKIP_UNLESS(fs::exists(kDebianPython), std::string("Debian's ") + kDebianPython);
  SKIP_UNLESS(pyenv_interpreter(3, 12).has_value(), "pyenv's CPython 3.12");
  std::optional<Interpreter> py312 = pyenv_interpreter(3, 12);
  ASSERT_TRUE(py312.has_value());
  PathResolver resolve = resolver_for({{"/opt/app/libembed.so", py312->library.string()}});
  // The executable holds a runtime: it wins over a later library that holds one too.
  auto maps = fake_process(kDebianPython, {"/opt/app/libembed.so"});
  absl::StatusOr<PythonBinary> binary = find_python_binary(maps, resolve);
  ASSERT_TRUE(binary.ok()) << binary.status();
  EXPECT_EQ(binary->path, kDebianPython);
  // It does not: the library is found, under the path the target sees.
  maps = fake_process("/bin/sleep", {kLibc, "/opt/app/libembed.so"});
  binary = find_python_binary(maps, resolve);
  ASSERT_TRUE(binary.ok()) << binary.status();
  EXPECT_EQ(binary->path, "/opt/app/libembed.so");
  expect_matches_nm(*binary, py312->library, kLibraryStart + 0x1000000);
  EXPECT_EQ(binary->name_major, 0);
}

TEST(PythonBinaryTest, VersionFromTheTargetsFileName) {
  SKIP_UNLESS(pyenv_interpreter(3, 12).has_value(), "pyenv's CPython 3.12");
  std::optional<Interpreter> py312 = pyenv_interpreter(3, 12);
  ASSERT_TRUE(py312.has_value());
  struct Case {
    std::string path;
    int major, minor;
  };
  for (const Case& c : std::vector<Case>{{"/x/libpython3.11.so.1.0", 3, 11},
                                         {"/x/libpython2.7.so", 2, 7},
                                         {"/x/libpython3.6m.so.1.0", 3, 6},
                                         {"/x/python3.11", 3, 11},
                                         {"/x/python3.6m", 3, 6},
                                         {"/x/python3.13t", 3, 13},
                                         {"/x/python2.7", 2, 7},
                                         {"/x/python3", 0, 0},
                                         {"/x/python", 0, 0},
                                         {"/x/libpython3.so", 0, 0},
                                         {"/x/python3.", 0, 0},
                                         {"/x/uwsgi", 0, 0}}) {
    std::vector<MemoryMapping> maps;
    add_file(maps, c.path, kLibraryStart);
    absl::StatusOr<PythonBinary> binary =
        find_python_binary(maps, resolver_for({{c.path, py312->library.string()}}));
    ASSERT_TRUE(binary.ok()) << c.path << ": " << binary.status();
    EXPECT_EQ(binary->path, c.path);
    EXPECT_EQ(binary->name_major, c.major) << c.path;
    EXPECT_EQ(binary->name_minor, c.minor) << c.path;
  }
}

TEST(PythonBinaryTest, NoRuntimeIsNotPython) {
  SKIP_UNLESS(!pyenv_interpreters().empty(), "pyenv's CPython interpreters");
  std::vector<std::vector<MemoryMapping>> processes;
  processes.push_back(fake_process("/bin/sleep", {kLibc}));
  processes.push_back({});
  add_pseudo(processes.back());
  processes.push_back({});
  // The stable-ABI stub is named libpython but holds no runtime.
  std::vector<fs::path> stubs;
  for (const fs::path& f : pyenv_libpython_files()) {
    if (f.filename() == "libpython3.so") stubs.push_back(f);
  }
  ASSERT_FALSE(stubs.empty());
  processes.push_back(fake_process("/bin/sleep", {stubs.front().string()}));
  for (const auto& maps : processes) {
    absl::StatusOr<PythonBinary> binary = find_python_binary(maps, identity);
    ASSERT_FALSE(binary.ok());
    EXPECT_EQ(error_kind(binary.status()), ErrorKind::kNoPythonRuntime) << binary.status();
    EXPECT_TRUE(std::string(binary.status().message()).starts_with("no CPython runtime found in "))
        << binary.status();
    EXPECT_FALSE(error_hint(binary.status()).empty());
  }
  EXPECT_EQ(find_python_binary(processes[0], identity).status().message(),
            "no CPython runtime found in /bin/sleep or the libraries it maps");
}

TEST(PythonBinaryTest, UnopenableFilesAreSkippedAndMentioned) {
  SKIP_UNLESS(pyenv_interpreter(3, 12).has_value(), "pyenv's CPython 3.12");
  std::optional<Interpreter> py312 = pyenv_interpreter(3, 12);
  ASSERT_TRUE(py312.has_value());
  auto maps = fake_process("/nonexistent/python3.12",
                           {"/nonexistent/libpython3.12.so.1.0", py312->library.string()});
  absl::StatusOr<PythonBinary> binary = find_python_binary(maps, identity);
  ASSERT_TRUE(binary.ok()) << binary.status();
  EXPECT_EQ(binary->path, py312->library.string());

  maps = fake_process("/nonexistent/python3.12", {"/nonexistent/libpython3.12.so.1.0"});
  binary = find_python_binary(maps, identity);
  ASSERT_FALSE(binary.ok());
  EXPECT_EQ(error_kind(binary.status()), ErrorKind::kNoPythonRuntime);
  EXPECT_NE(error_hint(binary.status()).find("could not be opened"), std::string::npos)
      << error_hint(binary.status());
}

TEST(PythonBinaryTest, CommonSystemLibrariesAreNotOpened) {
  std::vector<std::string> opened;
  auto maps = fake_process("/bin/sleep", {kLibc, "/lib/x86_64-linux-gnu/libm.so.6",
                                          "/lib64/ld-linux-x86-64.so.2",
                                          "/usr/lib/locale/locale-archive"});
  absl::StatusOr<PythonBinary> binary =
      find_python_binary(maps, [&](const MemoryMapping& m) {
        opened.push_back(m.path);
        return m.path;
      });
  EXPECT_FALSE(binary.ok());
  EXPECT_EQ(opened, std::vector<std::string>{"/bin/sleep"});
}

TEST(PythonBinaryTest, LoadBiasComesFromTheOffsetZeroMapping) {
  SKIP_UNLESS(pyenv_interpreter(3, 12).has_value(), "pyenv's CPython 3.12");
  std::optional<Interpreter> py312 = pyenv_interpreter(3, 12);
  ASSERT_TRUE(py312.has_value());
  std::string lib = py312->library.string();
  // Listed out of order: the code mapping first.
  std::vector<MemoryMapping> maps = {
      {kLibraryStart + 0x106000, kLibraryStart + 0x200000, 0x106000, true, false, true, lib},
      {kLibraryStart, kLibraryStart + 0x106000, 0, true, false, false, lib}};
  absl::StatusOr<PythonBinary> binary = find_python_binary(maps, identity);
  ASSERT_TRUE(binary.ok()) << binary.status();
  EXPECT_EQ(binary->load_bias, kLibraryStart);
  // Without an offset-0 mapping there is no load bias to compute: not found.
  maps.pop_back();
  EXPECT_EQ(error_kind(find_python_binary(maps, identity).status()), ErrorKind::kNoPythonRuntime);
}

// ---- Live processes ----

// A running interpreter, killed (and reaped) when this goes out of scope, whatever the test did.
class LiveInterpreter {
 public:
  explicit LiveInterpreter(const fs::path& executable) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      const char* script =
          "import sys, time\nsys.stdout.write('ready\\n')\nsys.stdout.flush()\ntime.sleep(30)\n";
      execl(executable.c_str(), executable.c_str(), "-c", script, static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    // Ready once the interpreter ran the script: the runtime is initialized by then.
    pollfd p = {fds[0], POLLIN, 0};
    char buf[16] = {};
    ready_ = pid_ > 0 && poll(&p, 1, 10000) == 1 && ::read(fds[0], buf, sizeof buf - 1) > 0 &&
             std::string_view(buf).starts_with("ready");
    close(fds[0]);
  }
  ~LiveInterpreter() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  LiveInterpreter(const LiveInterpreter&) = delete;
  LiveInterpreter& operator=(const LiveInterpreter&) = delete;

  pid_t pid() const { return pid_; }
  bool ready() const { return ready_; }

  // /proc/PID/maps, parsed here rather than by target/proc_maps.
  std::vector<MemoryMapping> maps() const {
    std::vector<MemoryMapping> maps;
    std::ifstream in("/proc/" + std::to_string(pid_) + "/maps");
    std::string line;
    while (std::getline(in, line)) {
      MemoryMapping m;
      char perms[5] = {};
      int path_at = 0;
      unsigned long long start, end, offset;
      if (sscanf(line.c_str(), "%llx-%llx %4s %llx %*s %*s %n", &start, &end, perms, &offset,
                 &path_at) < 4) {
        continue;
      }
      m.start = start;
      m.end = end;
      m.file_offset = offset;
      m.readable = perms[0] == 'r';
      m.writable = perms[1] == 'w';
      m.executable = perms[2] == 'x';
      m.path = path_at > 0 ? line.substr(path_at) : "";
      maps.push_back(m);
    }
    return maps;
  }

  PathResolver resolver() const {
    std::string root = "/proc/" + std::to_string(pid_) + "/root";
    return [root](const MemoryMapping& m) { return root + m.path; };
  }

  std::string read(uint64_t address, size_t size) const {
    std::string bytes(size, '\0');
    int fd = open(("/proc/" + std::to_string(pid_) + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? pread(fd, bytes.data(), size, static_cast<off_t>(address)) : -1;
    if (fd >= 0) close(fd);
    bytes.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return bytes;
  }
  uint64_t read_u64(uint64_t address) const {
    std::string bytes = read(address, 8);
    uint64_t value = 0;
    memcpy(&value, bytes.data(), std::min<size_t>(bytes.size(), 8));
    return value;
  }
  // The tp_name of the type object at `type` (PyObject_VAR_HEAD is three words).
  std::string type_name(uint64_t type) const {
    std::string name = read(read_u64(type + 24), 32);
    return name.substr(0, name.find('\0'));
  }

 private:
  pid_t pid_ = -1;
  bool ready_ = false;
};

// Checks what can be read at the addresses found in a live interpreter of major.minor.micro.
void check_live(const fs::path& executable, int major, int minor, int micro) {
  SCOPED_TRACE(executable.string());
  LiveInterpreter process(executable);
  ASSERT_TRUE(process.ready());
  absl::StatusOr<PythonBinary> binary = find_python_binary(process.maps(), process.resolver());
  ASSERT_TRUE(binary.ok()) << binary.status();
  EXPECT_EQ(binary->name_major, major);
  EXPECT_EQ(binary->name_minor, minor);
  ASSERT_TRUE(binary->code_type.has_value());
  EXPECT_EQ(process.type_name(*binary->code_type), "code");
  ASSERT_TRUE(binary->unicode_type.has_value());
  EXPECT_EQ(process.type_name(*binary->unicode_type), major == 2 ? "unicode" : "str");
  if (major == 3 && minor >= 11) {
    ASSERT_TRUE(binary->py_version.has_value());
    std::string bytes = process.read(*binary->py_version, 4);
    uint32_t version = 0;
    memcpy(&version, bytes.data(), std::min<size_t>(bytes.size(), 4));
    uint32_t expected = (major << 24) | (minor << 16) | (micro << 8) | 0xf0;
    EXPECT_EQ(version, expected) << std::hex << version;
  }
  if (major == 3 && minor >= 13) {
    ASSERT_TRUE(binary->runtime.has_value());
    EXPECT_EQ(process.read(*binary->runtime, 8), "xdebugpy");
  }
  if (major == 2 || minor == 6) {
    // The interpreter list has one interpreter, which has one thread.
    ASSERT_TRUE(binary->interp_head.has_value());
    uint64_t interp = process.read_u64(*binary->interp_head);
    EXPECT_NE(interp, 0u);
    EXPECT_NE(process.read_u64(interp + 8), 0u) << "interp->tstate_head";
  } else {
    EXPECT_TRUE(binary->runtime.has_value());
  }
}

fs::path pyenv_python(const std::string& version) {
  return pyenv_root() / "versions" / version / "bin" / "python";
}

TEST(PythonBinaryLiveTest, Python3121) {
  SKIP_UNLESS(fs::exists(pyenv_python("3.12.1")), "pyenv's CPython 3.12.1");
  fs::path python = pyenv_python("3.12.1");
  ASSERT_TRUE(fs::exists(python)) << python;
  LiveInterpreter process(python);
  ASSERT_TRUE(process.ready());
  std::vector<MemoryMapping> maps = process.maps();
  absl::StatusOr<PythonBinary> binary = find_python_binary(maps, process.resolver());
  ASSERT_TRUE(binary.ok()) << binary.status();
  fs::path library = pyenv_root() / "versions/3.12.1/lib/libpython3.12.so.1.0";
  EXPECT_EQ(fs::canonical(binary->path), fs::canonical(library));
  auto base = std::find_if(maps.begin(), maps.end(), [&](const MemoryMapping& m) {
    return m.path == binary->path && m.file_offset == 0;
  });
  ASSERT_NE(base, maps.end());
  expect_matches_nm(*binary, library, base->start);  // linked at 0
  check_live(python, 3, 12, 1);
}

TEST(PythonBinaryLiveTest, Python3130Cookie) {
  SKIP_UNLESS(fs::exists(pyenv_python("3.13.0")), "pyenv's CPython 3.13.0");
  fs::path python = pyenv_python("3.13.0");
  ASSERT_TRUE(fs::exists(python)) << python;
  check_live(python, 3, 13, 0);
}

TEST(PythonBinaryLiveTest, EveryPyenvInterpreter) {
  SKIP_UNLESS(!pyenv_interpreters().empty(), "pyenv's CPython interpreters");
  for (const Interpreter& interp : interpreters()) {
    int micro = 0;
    sscanf(interp.version.c_str(), "%*d.%*d.%d", &micro);
    check_live(interp.executable, interp.major, interp.minor, micro);
  }
}

TEST(PythonBinaryLiveTest, DebianStaticPython) {
  SKIP_UNLESS(fs::exists(kDebianPython), std::string("Debian's ") + kDebianPython);
  ASSERT_TRUE(fs::exists(kDebianPython));
  std::string version = trim(run(std::string(kDebianPython) + " -c 'import sys; print(sys.version_info[2])'"));
  check_live(kDebianPython, 3, 11, std::stoi(version));
}

}  // namespace
}  // namespace pystack
