#include "cli/report.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cli/exit_codes.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/errors.h"
#include "cpython/releases.h"

namespace pystack {

std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      absl::StrAppendFormat(&out, "\\x%02x", byte);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

namespace {

// What to try, for an error whose maker gave no hint of its own: every error line has one.
std::string default_hint(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInternal:
      return "this is unexpected: please report it, with the command and its output";
    case ErrorKind::kInvalidArgument: return "see pystack-dump --help";
    case ErrorKind::kNoSuchProcess: return "check the pid (ps -e)";
    case ErrorKind::kNoSuchFile: return "check the path";
    case ErrorKind::kPermissionDenied: return "run as the target's user, or as root";
    case ErrorKind::kAlreadyTraced: return "detach the other tracer first";
    case ErrorKind::kNotElf: return "give an ELF executable, library or core file";
    case ErrorKind::kNoPythonRuntime: return "pystack-dump reads CPython processes only";
    case ErrorKind::kRuntimeUnreadable:
      return "the process may not have finished starting Python, or its memory is corrupt";
    case ErrorKind::kNoInterpreter: return "dump it again in a moment";
    case ErrorKind::kUnsupportedVersion: return "supported versions: " + supported_versions();
    case ErrorKind::kProcessExited:
      return "nothing is left of it to read; `pystack-dump --timeout SECS -- COMMAND` dumps a "
             "command that might end before you can";
    case ErrorKind::kIncomplete:
      return "the marked parts could not be read; the rest is as the process had it";
    case ErrorKind::kBadCore: return "give a core file, as the kernel or gdb's gcore write them";
    case ErrorKind::kStopTimedOut: return "retry, or raise --attach-timeout";
  }
  return "";
}

}  // namespace

int report_error(const absl::Status& status) {
  std::string line =
      "pystack-dump: error: " + one_line(std::string_view(status.message().data(), status.message().size()));
  std::string hint = error_hint(status);
  if (hint.empty()) hint = default_hint(error_kind(status));
  if (!hint.empty()) line += " (hint: " + one_line(hint) + ")";
  std::fprintf(stderr, "%s\n", line.c_str());
  return exit_code_for(error_kind(status));
}

bool write_all(std::FILE* out, const std::string& text) {
  errno = 0;
  return std::fwrite(text.data(), 1, text.size(), out) == text.size() && std::fflush(out) == 0;
}

namespace {
bool g_stdout_closed = false;  // started with descriptor 1 closed
}  // namespace

absl::Status write_error(const std::string& where) {
  const int err = errno;
  if (where == "standard output" && g_stdout_closed) {
    return make_error(ErrorKind::kInternal,
                      "cannot write the dump: standard output is closed",
                      "give the tool somewhere to write, e.g. > FILE or | less");
  }
  return make_error(ErrorKind::kInternal,
                    absl::StrCat("cannot write the dump to ", where,
                                 err != 0 ? absl::StrCat(": ", std::strerror(err)) : ""),
                    err == ENOSPC || err == EDQUOT
                        ? "the disk is full: make room, or write elsewhere"
                        : "check where the output goes (a file, a pipe, a terminal)");
}

int write_stdout(const std::string& text) {
  if (write_all(stdout, text)) return 0;
  return report_error(write_error("standard output"));
}

void guard_standard_descriptors() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    if (fd == 1) g_stdout_closed = true;
    const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0) continue;
    if (null != fd) {
      ::dup3(null, fd, O_CLOEXEC);
      ::close(null);
    }
  }
}

std::string caveat_warnings(const RuntimeCaveat& caveat) {
  const PythonVersion& v = caveat.version;
  std::string out;
  if (caveat.unverified_free_threaded) {
    absl::StrAppendFormat(&out,
                          "pystack-dump: warning: free-threaded Python %d.%d.%d is read from its "
                          "_Py_DebugOffsets and CPython's sources; this build of pystack-dump was "
                          "not tested against a running one\n",
                          v.major, v.minor, v.micro);
  }
  if (caveat.read_as) {
    const PythonVersion& as = *caveat.read_as;
    absl::StrAppendFormat(&out,
                          "pystack-dump: warning: Python %d.%d.%d is newer than this build of "
                          "pystack-dump knows; its _Py_DebugOffsets matches %d.%d's, and the "
                          "output follows %d.%d's format\n",
                          v.major, v.minor, v.micro, as.major, as.minor, as.major, as.minor);
  }
  return out;
}

void warn_if_unverified(const RuntimeCaveat& caveat) {
  const std::string text = caveat_warnings(caveat);
  if (!text.empty()) std::fputs(text.c_str(), stderr);
}

void warn_if_unverified(const Snapshot& snapshot) {
  warn_if_unverified(RuntimeCaveat{snapshot.version, snapshot.unverified_build, snapshot.read_as});
}

}  // namespace pystack
