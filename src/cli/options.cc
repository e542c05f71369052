#include "cli/options.h"

#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/errors.h"
#include "cpython/runtime.h"

namespace pystack {
namespace {

constexpr char kHelpHint[] = "see 'pystack-dump --help'";

absl::Status usage_error(const std::string& message) {
  return make_error(ErrorKind::kUsage, message, kHelpHint);
}

// Splits "--name=value" or takes the value from the next argument.
absl::StatusOr<std::string> option_value(const std::vector<std::string>& args, size_t& i,
                                         std::string_view name) {
  const std::string& arg = args[i];
  if (arg.size() > name.size() && arg[name.size()] == '=') return arg.substr(name.size() + 1);
  if (i + 1 >= args.size()) return usage_error(absl::StrCat("option ", std::string(name), " needs a value"));
  return args[++i];
}

absl::StatusOr<pid_t> parse_pid(const std::string& text) {
  int64_t pid = 0;
  if (!absl::SimpleAtoi(text, &pid) || pid <= 0 || pid > (1 << 22)) {
    return usage_error(absl::StrCat("not a process id: '", text, "'"));
  }
  return static_cast<pid_t>(pid);
}

bool is_option(const std::string& arg, std::string_view name) {
  return arg == name || (arg.size() > name.size() && arg.compare(0, name.size(), name) == 0 &&
                         arg[name.size()] == '=');
}

}  // namespace

absl::StatusOr<Options> parse_options(const std::vector<std::string>& args) {
  Options options;
  bool have_pid = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      options.action = Options::Action::kHelp;
      return options;
    }
    if (arg == "-V" || arg == "--version") {
      options.action = Options::Action::kVersion;
      return options;
    }
    if (is_option(arg, "--format")) {
      absl::StatusOr<std::string> value = option_value(args, i, "--format");
      if (!value.ok()) return value.status();
      if (*value != "faulthandler") {
        return usage_error(absl::StrCat("unknown format '", *value, "' (known: faulthandler)"));
      }
      options.format = OutputFormat::kFaulthandler;
      continue;
    }
    if (is_option(arg, "--attach-timeout")) {
      absl::StatusOr<std::string> value = option_value(args, i, "--attach-timeout");
      if (!value.ok()) return value.status();
      double seconds = 0;
      if (!absl::SimpleAtod(*value, &seconds) || !(seconds > 0) || seconds > 3600) {
        return usage_error(absl::StrCat("--attach-timeout takes seconds, not '", *value, "'"));
      }
      options.attach_timeout_seconds = seconds;
      continue;
    }
    if (arg.size() > 1 && arg[0] == '-') return usage_error(absl::StrCat("unknown option ", arg));
    if (have_pid) return usage_error(absl::StrCat("unexpected argument '", arg, "'"));
    absl::StatusOr<pid_t> pid = parse_pid(arg);
    if (!pid.ok()) return pid.status();
    options.pid = *pid;
    have_pid = true;
  }
  if (!have_pid) return usage_error("no process id given");
  return options;
}

std::string usage_text() {
  return absl::StrFormat(
      R"(Usage: pystack-dump [OPTIONS] PID

Prints the Python stack of every thread of the running CPython process PID, exactly as
CPython's faulthandler would print it, had it been enabled. The process is stopped with
ptrace only while its memory is read (typically well under a millisecond), then runs on;
nothing is written to it and none of its code is run.

Options:
  --format=FORMAT         output format: faulthandler (the default)
  --attach-timeout=SECS   give up if the threads do not all stop within SECS (default 2)
  -h, --help              print this help and exit
  -V, --version           print the version and exit

Supported CPython versions: %s (Linux x86-64).

Exit codes:
  0   the dump was printed
  1   internal error
  2   bad command line
  3   no such process
  4   permission denied (ptrace refused: run as the process's user or root, or with
      CAP_SYS_PTRACE; see /proc/sys/kernel/yama/ptrace_scope)
  5   the process is already traced by a debugger
  6   not a Python process (no CPython runtime found)
  7   unsupported Python version
  8   the process exited during the dump
  9   the dump was printed but is incomplete (unreadable or corrupt memory, marked in it)
)",
      supported_versions());
}

}  // namespace pystack
