// The static binary (`make static`: BUILD/pystack-dump-static): it has no dynamic section and no
// program interpreter; it runs chrooted in another Debian's root (another glibc) against a target
// of that root, with --native too (libdw would dlopen that root's libdebuginfod and libc); and in
// a root that holds nothing but a busybox (a `kubectl debug` container sharing the target's
// process namespace) against a target outside it. Its dumps must equal the target's own
// faulthandler output byte for byte.
//
// The binary is looked for beside this test binary ($PYSTACK_DUMP_STATIC overrides, e.g. to see
// these tests fail on the dynamic build); without it (the sanitizer build has none: ASan cannot
// be linked statically) each test is skipped, saying so.

#include <elf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace pystack_it {
namespace {
namespace fs = std::filesystem;

constexpr auto kToolTimeout = std::chrono::seconds(30);

InterpreterCoverage* const kUnstableCoverage =
    AddInterpreterCoverage("the static binary chrooted in Debian unstable's root");
InterpreterCoverage* const kBusyboxCoverage =
    AddInterpreterCoverage("the static binary in a root of nothing but a busybox");

// BUILD/pystack-dump-static beside this test binary, or $PYSTACK_DUMP_STATIC.
absl::StatusOr<std::string> StaticToolPath() {
  std::string path;
  if (const char* env = getenv("PYSTACK_DUMP_STATIC"); env && *env) {
    path = env;
  } else {
    std::error_code ec;
    path = (fs::read_symlink("/proc/self/exe", ec).parent_path() / "pystack-dump-static").string();
  }
  if (access(path.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("no static binary ", path, " (", std::strerror(errno),
                                            "): `make static` builds it; a sanitizer build has "
                                            "none (ASan cannot be linked statically)"));
  }
  return fs::absolute(path).string();
}

#define SKIP_WITHOUT_STATIC_TOOL(var)                              \
  absl::StatusOr<std::string> var##_or = StaticToolPath();         \
  if (!var##_or.ok()) GTEST_SKIP() << var##_or.status().message(); \
  const std::string& var = *var##_or

// The types of an ELF64 file's program headers (PT_LOAD, PT_INTERP, ...).
absl::StatusOr<std::vector<uint32_t>> ProgramHeaderTypes(const std::string& path) {
  std::optional<std::string> data = ReadFile(path);
  if (!data) return absl::NotFoundError("cannot read " + path);
  Elf64_Ehdr eh;
  if (data->size() < sizeof eh || data->compare(0, SELFMAG, ELFMAG) != 0 ||
      (*data)[EI_CLASS] != ELFCLASS64) {
    return absl::InvalidArgumentError(path + " is not an ELF64 file");
  }
  std::memcpy(&eh, data->data(), sizeof eh);
  std::vector<uint32_t> types;
  for (size_t i = 0; i < eh.e_phnum; ++i) {
    const size_t at = eh.e_phoff + i * eh.e_phentsize;
    Elf64_Phdr ph;
    if (eh.e_phentsize < sizeof ph || at + sizeof ph > data->size()) {
      return absl::InvalidArgumentError(path + ": program header table out of the file");
    }
    std::memcpy(&ph, data->data() + at, sizeof ph);
    types.push_back(ph.p_type);
  }
  return types;
}

bool Has(const std::vector<uint32_t>& types, uint32_t type) {
  return std::find(types.begin(), types.end(), type) != types.end();
}

// Copies `from` to `to` (mode 0755); removes it again when the object goes away.
class CopiedFile {
 public:
  CopiedFile(const std::string& from, std::string to) : path_(std::move(to)) {
    fs::copy_file(from, path_, fs::copy_options::overwrite_existing, ec_);
    if (!ec_) fs::permissions(path_, fs::perms(0755), ec_);
  }
  ~CopiedFile() {
    std::error_code ec;
    fs::remove(path_, ec);
  }
  CopiedFile(const CopiedFile&) = delete;
  CopiedFile& operator=(const CopiedFile&) = delete;
  const std::error_code& error() const { return ec_; }

 private:
  std::string path_;
  std::error_code ec_;
};

// The static binary run by `command` (which ends with the target's pid) dumps the target as its
// own faulthandler did, and leaves it running, untraced.
void ExpectMatchesFaulthandler(const std::vector<std::string>& command, Target& target) {
  absl::StatusOr<RunResult> r = RunProgram(command, kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << absl::StrJoin(command, " ") << "\n" << r->Describe();
  EXPECT_TRUE(r->out == target.expected) << DescribeMismatch(target.expected, r->out);
  EXPECT_EQ(r->err, "") << Printable(r->err);
  EXPECT_FALSE(target.child.Exited()) << "the target died during or after the dump";
  EXPECT_EQ(WaitUntilRunningUntraced(target.child.pid(), std::chrono::seconds(1)), "");
}

class StaticBinary : public ::testing::Test {
 protected:
  void TearDown() override {
    if (coverage_ != nullptr && python_ != nullptr && !IsSkipped())
      coverage_->Count(python_->name, !HasFailure());
  }
  // The interpreter a test covered, set once its target runs.
  InterpreterCoverage* coverage_ = nullptr;
  const Interpreter* python_ = nullptr;
};

// What `readelf -d` says of a file without a dynamic section; a static-pie would have one (and
// a dynamic one an interpreter too).
TEST_F(StaticBinary, HasNoDynamicSectionNorInterpreter) {
  SKIP_WITHOUT_STATIC_TOOL(tool);
  absl::StatusOr<RunResult> r = RunProgram({"readelf", "-d", tool}, kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status() << " (readelf: Debian's binutils)";
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  EXPECT_NE(r->out.find("There is no dynamic section in this file."), std::string::npos)
      << "readelf -d " << tool << ":\n"
      << r->Describe();
  absl::StatusOr<std::vector<uint32_t>> types = ProgramHeaderTypes(tool);
  ASSERT_TRUE(types.ok()) << types.status();
  EXPECT_FALSE(Has(*types, PT_INTERP)) << tool << " names a program interpreter (PT_INTERP)";
  EXPECT_FALSE(Has(*types, PT_DYNAMIC)) << tool << " has a PT_DYNAMIC segment";
}

// Chrooted in Debian unstable's root (scripts/in-root, as the root's own programs run): the
// libraries, the loader and glibc around it are that root's, none of this machine's. With and
// without --native.
TEST_F(StaticBinary, MatchesFaulthandlerInDebianUnstableRoot) {
  SKIP_WITHOUT_STATIC_TOOL(tool);
  const Discovery& d = Interpreters();
  // Its 3.14 (not the debug build), else its newest.
  const Interpreter* python = nullptr;
  for (const Interpreter& py : d.in_scope) {
    if (!py.InRoot() || fs::path(py.root).filename() != "unstable") continue;
    const bool is_314 = py.major == 3 && py.minor == 14 && !py.debug;
    if (python == nullptr || !(python->minor == 14 && !python->debug) || is_314) python = &py;
  }
  if (python == nullptr) {
    std::vector<std::string> why;
    for (const std::string& root : d.roots) {
      if (absl::StartsWith(root, "unstable")) why.push_back(root);
    }
    GTEST_SKIP() << "no interpreter of the Debian unstable root found (scripts/make-root "
                 << "unstable): " << absl::StrJoin(why.empty() ? d.roots : why, "; ");
  }
  absl::StatusOr<std::string> in_root = InRootScript();
  ASSERT_TRUE(in_root.ok()) << in_root.status();

  // Into the root's own files, as `docker cp` would (not its /tmp: in-root binds this machine's
  // /tmp there).
  const std::string inner = absl::StrCat("/usr/local/bin/pystack-dump-static.it", getpid());
  CopiedFile copy(tool, python->root + inner);
  ASSERT_FALSE(copy.error()) << "copying " << tool << " to " << python->root + inner << ": "
                             << copy.error().message();

  absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(*python, "blocking.py", {});
  ASSERT_TRUE(target.ok()) << target.status();
  coverage_ = kUnstableCoverage;
  python_ = python;
  const std::string pid = std::to_string((*target)->child.pid());
  ExpectMatchesFaulthandler({*in_root, python->root, inner, pid}, **target);

  // --native: libdw looks for the debug files of the root's libraries, and where it finds none,
  // libdw 0.188 dlopen()s libdebuginfod.so.1, which would bring this root's libc.so.6 into the
  // static glibc's process and kill it (see the Makefile's static rule).
  absl::StatusOr<RunResult> native =
      RunProgram({*in_root, python->root, inner, "--native", pid}, kToolTimeout);
  ASSERT_TRUE(native.ok()) << native.status();
  EXPECT_EQ(native->exit_code(), 0) << native->Describe();
  EXPECT_NE(native->out.find("  Binary file \""), std::string::npos) << "no C frame at all:\n"
                                                                     << native->out;
  EXPECT_TRUE(WithoutNativeLines(native->out) == (*target)->expected)
      << DescribeMismatch((*target)->expected, WithoutNativeLines(native->out));
  EXPECT_EQ(WaitUntilRunningUntraced((*target)->child.pid(), std::chrono::seconds(1)), "");
}

// A root of /bin/busybox and its applet links, nothing else (no loader, no libc): a `kubectl debug
// --image=busybox` container that shares the target's process namespace. The tool sees the
// target's files only through /proc/PID/root.
TEST_F(StaticBinary, MatchesFaulthandlerInBusyboxRoot) {
  SKIP_WITHOUT_STATIC_TOOL(tool);
  if (geteuid() != 0) GTEST_SKIP() << "chroot and a mount namespace need root";
  if (access("/usr/bin/unshare", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/unshare";
  const std::string busybox = "/bin/busybox";
  absl::StatusOr<std::vector<uint32_t>> busybox_types = ProgramHeaderTypes(busybox);
  if (!busybox_types.ok() || Has(*busybox_types, PT_INTERP)) {
    GTEST_SKIP() << "no static " << busybox << " (Debian's busybox-static package): "
                 << (busybox_types.ok() ? "it is linked dynamically"
                                        : busybox_types.status().ToString());
  }
  // A target outside the busybox root: this machine's newest interpreter, else any.
  const Interpreter* python = nullptr;
  for (const Interpreter& py : Interpreters().in_scope) {
    if (!py.InRoot()) python = &py;
  }
  if (python == nullptr) python = AnyPython();
  if (python == nullptr) GTEST_SKIP() << "no CPython in scope found (see Discovery)";

  TempDir dir;
  const std::string root = dir.path() + "/busybox-root";
  for (const char* sub : {"/bin", "/proc", "/tmp"}) {
    std::error_code ec;
    ASSERT_TRUE(fs::create_directories(root + sub, ec)) << root + sub << ": " << ec.message();
  }
  {
    std::error_code ec;
    fs::copy_file(busybox, root + "/bin/busybox", ec);
    ASSERT_FALSE(ec) << "copying " << busybox << ": " << ec.message();
  }
  // The applets all in /bin, as the busybox image has them.
  absl::StatusOr<RunResult> list = RunProgram({busybox, "--list"}, kToolTimeout);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->exit_code(), 0) << list->Describe();
  for (absl::string_view applet : absl::StrSplit(list->out, '\n', absl::SkipEmpty())) {
    if (applet == "busybox") continue;
    std::error_code ec;
    fs::create_symlink("busybox", absl::StrCat(root, "/bin/", applet), ec);
    ASSERT_FALSE(ec) << applet << ": " << ec.message();
  }
  // Where `kubectl cp` would put it.
  CopiedFile copy(tool, root + "/tmp/pystack-dump");
  ASSERT_FALSE(copy.error()) << "copying " << tool << ": " << copy.error().message();

  absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(*python, "blocking.py", {});
  ASSERT_TRUE(target.ok()) << target.status();
  coverage_ = kBusyboxCoverage;
  python_ = python;
  // busybox's own sh and mount inside: the root works as a container's would.
  ExpectMatchesFaulthandler(
      {"unshare", "--mount", "--propagation", "private", "chroot", root, "/bin/sh", "-c",
       "mount -t proc proc /proc && exec /tmp/pystack-dump \"$1\"", "sh",
       std::to_string((*target)->child.pid())},
      **target);
}

}  // namespace
}  // namespace pystack_it
