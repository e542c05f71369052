// The Debian package (make deb) as a user gets it: lintian finds no error in it; installed with
// apt-get into a fresh Debian 12 (a copy of the minbase machine scripts/make-root bookworm builds),
// its dependencies come from Debian's archive, and its /usr/bin/pystack-dump dumps a Python
// process that runs outside that root (read through /proc/PID/root, as from a container) exactly
// as the target's own faulthandler does; its man page and documentation are there; purged, it
// leaves none of its files behind.
//
// The package is BUILD/pystack-dump_VERSION_amd64.deb beside this test binary, VERSION being what
// the tool under test says; without it (the sanitizers' build makes none) the tests skip.

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
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
constexpr auto kLintianTimeout = std::chrono::minutes(5);
constexpr auto kAptTimeout = std::chrono::minutes(10);
// debootstrap of the Debian 12 machine, when it is not built yet (about 2 minutes).
constexpr auto kMakeRootTimeout = std::chrono::minutes(20);

// The package of the tool under test, or NotFound saying where it was looked for.
absl::StatusOr<std::string> DebOfTool(const std::string& tool) {
  absl::StatusOr<RunResult> r = RunProgram({tool, "--version"}, kToolTimeout);
  if (!r.ok()) return r.status();
  std::vector<std::string> words = absl::StrSplit(absl::StripAsciiWhitespace(r->out), ' ');
  if (r->exit_code() != 0 || words.size() != 2) {
    return absl::InternalError("cannot read the version of the tool: " + r->Describe());
  }
  std::error_code ec;
  const fs::path build = fs::read_symlink("/proc/self/exe", ec).parent_path();
  const fs::path deb = build / absl::StrCat("pystack-dump_", words[1], "_amd64.deb");
  if (!fs::is_regular_file(deb, ec)) {
    return absl::NotFoundError(absl::StrCat(
        "no ", deb.string(), " (`make deb` builds it; the sanitizers' build has none)"));
  }
  return deb.string();
}

// In a test: `const std::string& var`, the package of `tool`; the test skips when there is none.
#define ASSERT_DEB(var, tool)                                                                   \
  absl::StatusOr<std::string> var##_or = DebOfTool(tool);                                       \
  if (absl::IsNotFound(var##_or.status())) GTEST_SKIP() << var##_or.status().message();         \
  ASSERT_TRUE(var##_or.ok()) << var##_or.status();                                              \
  const std::string& var = *var##_or

// The mount points at or below `dir` in this process's mount namespace.
std::vector<std::string> MountsUnder(const std::string& dir) {
  std::vector<std::string> found;
  std::optional<std::string> table = ReadFile("/proc/self/mountinfo");
  if (!table) return {"(cannot read /proc/self/mountinfo)"};
  for (absl::string_view line : absl::StrSplit(*table, '\n', absl::SkipEmpty())) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    if (fields.size() < 5) continue;
    std::string point;  // the kernel writes space, tab, newline and backslash as \ooo
    for (size_t i = 0; i < fields[4].size(); ++i) {
      if (fields[4][i] == '\\' && i + 3 < fields[4].size()) {
        point += static_cast<char>(std::stoi(fields[4].substr(i + 1, 3), nullptr, 8));
        i += 3;
      } else {
        point += fields[4][i];
      }
    }
    if (point == dir || absl::StartsWith(point, dir + "/")) found.push_back(point);
  }
  return found;
}

// A fresh Debian 12 machine: a copy of the one scripts/make-root bookworm builds, inside a
// temporary directory, deleted at the end unless something is mounted in it (then kept, and said).
class FreshDebian {
 public:
  // scripts/make-root bookworm (built when missing): its path, or why there is none.
  static absl::StatusOr<std::string> Base() {
    absl::StatusOr<std::string> in_root = InRootScript();  // scripts/in-root: make-root is beside
    if (!in_root.ok()) return in_root.status();
    const std::string make_root = (fs::path(*in_root).parent_path() / "make-root").string();
    absl::StatusOr<RunResult> r = RunProgram({make_root, "bookworm"}, kMakeRootTimeout);
    if (!r.ok()) return r.status();
    if (r->exit_code() != 0) {
      return absl::UnavailableError(absl::StrCat("scripts/make-root bookworm failed: ",
                                                 absl::StripAsciiWhitespace(r->err)));
    }
    return std::string(absl::StripAsciiWhitespace(r->out));
  }

  absl::Status CopyFrom(const std::string& base) {
    if (dir_.empty()) return absl::InternalError("mkdtemp under /tmp failed");
    absl::StatusOr<RunResult> r = RunProgram({"cp", "-a", base, path_}, std::chrono::minutes(5));
    if (!r.ok()) return r.status();
    if (r->exit_code() != 0) return absl::InternalError("cp -a " + base + ": " + r->Describe());
    std::error_code ec;
    fs::remove(path_ + "/.complete", ec);
    // Name resolution for apt, as the host has it.
    fs::copy_file("/etc/resolv.conf", path_ + "/etc/resolv.conf",
                  fs::copy_options::overwrite_existing, ec);
    return absl::OkStatus();
  }

  FreshDebian() {
    // Not a TempDir: that one would be removed even with something mounted in it.
    char templ[] = "/tmp/pystack-it-deb-XXXXXX";
    if (mkdtemp(templ) != nullptr) dir_ = templ;
    path_ = dir_ + "/bookworm";
  }
  FreshDebian(const FreshDebian&) = delete;
  FreshDebian& operator=(const FreshDebian&) = delete;

  ~FreshDebian() {
    if (dir_.empty()) return;
    if (std::vector<std::string> mounts = MountsUnder(dir_); !mounts.empty()) {
      std::fprintf(stderr, "deb_test: %s kept: mounted in it: %s\n", dir_.c_str(),
                   absl::StrJoin(mounts, ", ").c_str());
      return;
    }
    // --one-file-system: even so, never into anything mounted there.
    absl::StatusOr<RunResult> r =
        RunProgram({"rm", "-rf", "--one-file-system", dir_}, std::chrono::minutes(5));
    if (!r.ok() || r->exit_code() != 0) {
      std::fprintf(stderr, "deb_test: cannot remove %s\n", dir_.c_str());
    }
  }

  const std::string& path() const { return path_; }

  // `command` run by /bin/sh as root inside the machine, in a mount namespace of its own (its
  // mounts die with it: nothing is left mounted anywhere) with /proc and /dev, chrooted, with a
  // clean environment. `own_pids`: in a PID namespace of its own too, so that a timeout (SIGKILL
  // to unshare, then to its child by --kill-child) ends every process it started, apt's included;
  // without it, the host's processes are visible, as a container's tools see the host's targets
  // with a shared PID namespace.
  absl::StatusOr<RunResult> Run(const std::string& command, Clock::duration timeout,
                                bool own_pids = true) {
    std::vector<std::string> argv = {"unshare", "--mount", "--propagation", "private"};
    if (own_pids) argv.insert(argv.end(), {"--pid", "--fork", "--kill-child"});
    argv.insert(argv.end(),
                {"--", "/bin/sh", "-c",
                 "set -e; root=$1; command=$2\n"
                 "mount -t proc proc \"$root/proc\"\n"
                 "mount --rbind /dev \"$root/dev\"\n"
                 "exec chroot \"$root\" /usr/bin/env -i HOME=/root LANG=C.UTF-8 "
                 "PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "
                 "/bin/sh -c \"$command\"",
                 "fresh-debian", path_, command});
    absl::StatusOr<RunResult> r = RunProgram(argv, timeout);
    if (std::vector<std::string> mounts = MountsUnder(path_); !mounts.empty()) {
      return absl::InternalError("left mounted: " + absl::StrJoin(mounts, ", "));
    }
    return r;
  }

 private:
  std::string dir_;   // a fresh directory under /tmp
  std::string path_;  // DIR/bookworm, the machine's /
};

TEST(Deb, LintianFindsNoError) {
  ASSERT_TOOL(tool);
  ASSERT_DEB(deb, tool);
  absl::StatusOr<RunResult> version = RunProgram({"lintian", "--version"}, kToolTimeout);
  ASSERT_TRUE(version.ok() && version->exit_code() == 0)
      << "no lintian (scripts/install-deps --test installs it)";
  const auto start = Clock::now();
  // --display-info: the I: tags too, for the record; only the errors (E:) fail.
  absl::StatusOr<RunResult> r = RunProgram({"lintian", "--display-info", deb}, kLintianTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_FALSE(r->timed_out) << r->Describe();
  std::vector<std::string> errors;
  for (absl::string_view line : absl::StrSplit(r->out, '\n', absl::SkipEmpty())) {
    std::printf("[ lintian  ] %s\n", std::string(line).c_str());
    if (absl::StartsWith(line, "E:")) errors.emplace_back(line);
  }
  std::printf("[ lintian  ] %s: %zu errors, in %.1f s\n", deb.c_str(), errors.size(),
              std::chrono::duration<double>(Clock::now() - start).count());
  EXPECT_TRUE(errors.empty()) << absl::StrJoin(errors, "\n");
  // An exit status other than 0 (none) and 2 (errors, listed above) is lintian failing to run.
  EXPECT_TRUE(r->exit_code() == 0 || (r->exit_code() == 2 && !errors.empty())) << r->Describe();
}

TEST(Deb, InstallsDumpsAndPurgesInAFreshDebian12) {
  ASSERT_TOOL(tool);
  ASSERT_DEB(deb, tool);
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the fresh machine is entered with chroot";
  const auto start = Clock::now();
  absl::StatusOr<std::string> base = FreshDebian::Base();
  if (!base.ok()) GTEST_SKIP() << "no Debian 12 machine: " << base.status().message();
  FreshDebian machine;
  absl::Status copied = machine.CopyFrom(*base);
  ASSERT_TRUE(copied.ok()) << copied;
  const std::string name = fs::path(deb).filename().string();
  std::error_code ec;
  fs::copy_file(deb, machine.path() + "/tmp/" + name, ec);
  ASSERT_FALSE(ec) << "copying " << deb << ": " << ec.message();

  // apt-get resolves the package's Depends from Debian's archive.
  absl::StatusOr<RunResult> update = machine.Run("apt-get update -qq", kAptTimeout);
  ASSERT_TRUE(update.ok()) << update.status();
  if (update->exit_code() != 0) {
    GTEST_SKIP() << "Debian's archive unreachable: " << update->Describe();
  }
  absl::StatusOr<RunResult> install =
      machine.Run("cd /tmp && apt-get install -y -q ./" + name, kAptTimeout);
  ASSERT_TRUE(install.ok()) << install.status();
  ASSERT_EQ(install->exit_code(), 0) << install->Describe();
  std::vector<std::string> installed;  // apt's list, for the record
  for (absl::string_view line : absl::StrSplit(
           install->out.substr(std::min(install->out.size(),
                                        install->out.find("NEW packages will be installed:"))),
           '\n')) {
    if (!installed.empty() && !absl::StartsWith(line, " ")) break;
    installed.emplace_back(absl::StripAsciiWhitespace(line));
  }
  if (!installed.empty()) installed.erase(installed.begin());  // the heading
  std::printf("[ deb      ] apt-get installed: %s\n", absl::StrJoin(installed, " ").c_str());

  absl::StatusOr<RunResult> listed = machine.Run("dpkg -L pystack-dump", kToolTimeout);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->exit_code(), 0) << listed->Describe();
  std::set<std::string> files;  // what the package installed, directories aside
  for (absl::string_view line : absl::StrSplit(listed->out, '\n', absl::SkipEmpty())) {
    struct stat st;
    const std::string host_path = machine.path() + std::string(line);
    if (lstat(host_path.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) files.emplace(line);
  }
  for (const char* expected :
       {"/usr/bin/pystack-dump", "/usr/share/man/man1/pystack-dump.1.gz",
        "/usr/share/bash-completion/completions/pystack-dump",
        "/usr/share/zsh/vendor-completions/_pystack-dump",
        "/usr/share/doc/pystack-dump/copyright", "/usr/share/doc/pystack-dump/changelog.gz"}) {
    EXPECT_TRUE(files.count(expected)) << expected << " not installed; dpkg -L:\n" << listed->out;
  }

  absl::StatusOr<RunResult> host_version = RunProgram({tool, "--version"}, kToolTimeout);
  ASSERT_TRUE(host_version.ok()) << host_version.status();
  absl::StatusOr<RunResult> version = machine.Run("/usr/bin/pystack-dump --version", kToolTimeout);
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(version->exit_code(), 0) << version->Describe();
  EXPECT_EQ(version->out, host_version->out);

  // A target outside the machine: the installed tool reads it through /proc/PID/root.
  const Interpreter* python = AnyPython();
  ASSERT_NE(python, nullptr) << "no CPython in scope found (see Discovery)";
  absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(*python, "blocking.py", {});
  ASSERT_TRUE(target.ok()) << target.status();
  const std::string& expected = (*target)->expected;
  absl::StatusOr<RunResult> dump =
      machine.Run(absl::StrCat("exec /usr/bin/pystack-dump ", (*target)->child.pid()),
                  kToolTimeout, /*own_pids=*/false);
  ASSERT_TRUE(dump.ok()) << dump.status();
  EXPECT_EQ(dump->exit_code(), 0) << dump->Describe();
  EXPECT_TRUE(dump->out == expected) << DescribeMismatch(expected, dump->out);
  EXPECT_EQ(dump->err, "") << Printable(dump->err);
  EXPECT_EQ(WaitUntilRunningUntraced((*target)->child.pid(), std::chrono::seconds(1)), "");
  std::printf("[ deb      ] the installed tool dumped %s under %s: %s\n", "blocking.py",
              python->Version().c_str(), dump->out == expected ? "as faulthandler" : "DIFFERENT");

  // The man page: `man -w` where man-db is installed (not in minbase), else the file itself.
  const std::string man_page = machine.path() + "/usr/share/man/man1/pystack-dump.1.gz";
  absl::StatusOr<RunResult> man = machine.Run(
      "if command -v man >/dev/null; then man -w pystack-dump; else echo none; fi", kToolTimeout);
  ASSERT_TRUE(man.ok()) << man.status();
  EXPECT_TRUE(man->out == "none\n" || man->out == "/usr/share/man/man1/pystack-dump.1.gz\n")
      << man->Describe();
  absl::StatusOr<RunResult> page = RunProgram({"gzip", "-dc", man_page}, kToolTimeout);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->exit_code(), 0) << page->Describe();
  EXPECT_TRUE(absl::StrContains(page->out, ".TH ")) << "not a man page: " << man_page;

  absl::StatusOr<RunResult> purge =
      machine.Run("apt-get remove --purge -y -q pystack-dump", kAptTimeout);
  ASSERT_TRUE(purge.ok()) << purge.status();
  EXPECT_EQ(purge->exit_code(), 0) << purge->Describe();
  for (const std::string& file : files) {
    struct stat st;
    EXPECT_NE(lstat((machine.path() + file).c_str(), &st), 0) << file << " left after the purge";
  }
  EXPECT_FALSE(fs::exists(machine.path() + "/usr/share/doc/pystack-dump", ec))
      << "/usr/share/doc/pystack-dump left after the purge";
  absl::StatusOr<RunResult> status =
      machine.Run("dpkg-query -W -f='${db:Status-Abbrev}' pystack-dump", kToolTimeout);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_FALSE(absl::StartsWith(status->out, "i") || absl::StartsWith(status->out, "r"))
      << "still known to dpkg: " << status->Describe();
  std::printf("[ deb      ] installed, ran and purged %s in a fresh Debian 12: %zu files, %.0f s\n",
              name.c_str(), files.size(),
              std::chrono::duration<double>(Clock::now() - start).count());
}

}  // namespace
}  // namespace pystack_it
