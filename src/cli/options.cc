#include "cli/options.h"

#include <algorithm>
#include <span>
#include <string_view>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/errors.h"
#include "cpython/runtime.h"

namespace pystack {
namespace {

constexpr char kHelpHint[] = "see 'pystack-dump --help'";

absl::Status usage_error(const std::string& message) {
  return make_error(ErrorKind::kInvalidArgument, message, kHelpHint);
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

// When args[i] is one of `names`, options with a value ("--name VALUE" or "--name=VALUE"): takes
// the value (i moves onto it when it is the next argument), gives the name and value to `take`
// and returns true, or the error of either. False when args[i] is none of them (i unchanged).
absl::StatusOr<bool> take_valued_option(
    const std::vector<std::string>& args, size_t& i, std::span<const char* const> names,
    absl::FunctionRef<absl::Status(const std::string& name, const std::string& value)> take) {
  const char* matched = nullptr;
  for (const char* name : names) {
    if (is_option(args[i], name)) matched = name;
  }
  if (matched == nullptr) return false;
  absl::StatusOr<std::string> value = option_value(args, i, matched);
  if (!value.ok()) return value.status();
  if (absl::Status status = take(matched, *value); !status.ok()) return status;
  return true;
}

// Stores a parsed value in `out`, or passes on why it could not be parsed.
template <typename T, typename Out>
absl::Status store(absl::StatusOr<T> parsed, Out& out) {
  if (!parsed.ok()) return parsed.status();
  out = *std::move(parsed);
  return absl::OkStatus();
}

// --native and --native-all, for dumps and for record/top alike: true when `arg` was one. The
// wider one wins, whatever their order.
bool take_native_flag(const std::string& arg, NativeFrames& native) {
  if (arg == "--native") {
    native = std::max(native, NativeFrames::kOutsideInterpreter);
    return true;
  }
  if (arg == "--native-all") {
    native = NativeFrames::kAll;
    return true;
  }
  return false;
}


absl::StatusOr<double> parse_seconds(const std::string& name, const std::string& text,
                                     double max) {
  double seconds = 0;
  if (!absl::SimpleAtod(text, &seconds) || !(seconds > 0) || seconds > max) {
    return usage_error(absl::StrCat(name, " takes a number of seconds, not '", text, "'"));
  }
  return seconds;
}

absl::StatusOr<OutputFormat> parse_format(const std::string& text) {
  if (text == "faulthandler") return OutputFormat::kFaulthandler;
  if (text == "traceback") return OutputFormat::kTraceback;
  if (text == "json") return OutputFormat::kJson;
  return usage_error(
      absl::StrCat("unknown format '", text, "' (known: faulthandler, traceback, json)"));
}

// Checks that the options given fit together once all are read.
absl::Status check_combination(const Options& options, bool have_pid, bool subprocesses,
                               bool all) {
  const bool core = !options.core_path.empty();
  const bool timeout = options.timeout_seconds > 0;
  if (core + timeout + have_pid + all > 1) {
    return usage_error("give one of: a PID, --all, --core CORE, or --timeout SECS -- COMMAND");
  }
  if (all && subprocesses) {
    return usage_error("--all dumps every Python process already: leave out --subprocesses");
  }
  if (all && options.tasks && options.format != OutputFormat::kJson) {
    return usage_error("--all with --tasks: only with --format=json");
  }
  if (timeout && options.command.empty()) {
    return usage_error("--timeout needs a command: --timeout SECS -- COMMAND [ARGS...]");
  }
  if (!timeout && !options.command.empty()) {
    return usage_error("a command to run needs --timeout SECS");
  }
  if (!core && (!options.executable.empty() || !options.sysroot.empty())) {
    return usage_error("--executable and --sysroot go with --core");
  }
  if (options.tasks && options.locks) {
    return usage_error("--tasks and --locks are two reports: ask for one at a time");
  }
  if (options.tasks && options.format == OutputFormat::kTraceback) {
    return usage_error(
        "--tasks prints a table or a tree of its own: use it alone or with --format=json");
  }
  if (options.tasks && options.format != OutputFormat::kJson &&
      (options.locals || options.native != NativeFrames::kNone)) {
    return usage_error(
        "--locals and --native show threads' stacks: with --tasks, only in --format=json");
  }
  if (options.exceptions && options.format == OutputFormat::kFaulthandler) {
    return usage_error(
        "--exceptions prints traceback's text: add --format=traceback (or --format=json)");
  }
  if (options.exceptions && options.tasks) {
    return usage_error("--tasks and --exceptions are two reports: ask for one at a time");
  }
  if (subprocesses && !have_pid) return usage_error("--subprocesses needs a PID");
  if (!core && !timeout && !have_pid && !all) return usage_error("no process id given");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Options> parse_options(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "record") {
    return parse_sampler_options(Options::Action::kRecord, {args.begin() + 1, args.end()});
  }
  if (!args.empty() && args[0] == "top") {
    return parse_sampler_options(Options::Action::kTop, {args.begin() + 1, args.end()});
  }
  Options options;
  bool have_pid = false;
  bool subprocesses = false;
  bool all = false;
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
    if (arg == "--") {
      options.command.assign(args.begin() + i + 1, args.end());
      if (options.command.empty()) return usage_error("no command after --");
      break;
    }
    if (arg == "--locals") {
      options.locals = true;
      continue;
    }
    if (take_native_flag(arg, options.native)) continue;
    if (arg == "--exceptions") {
      options.exceptions = true;
      continue;
    }
    if (arg == "--locks") {
      options.locks = true;
      continue;
    }
    if (arg == "--tasks" || arg == "--tasks=table") {
      options.tasks = TaskView::kTable;
      continue;
    }
    if (arg == "--tasks=tree") {
      options.tasks = TaskView::kTree;
      continue;
    }
    if (arg.starts_with("--tasks=")) {
      return usage_error(absl::StrCat("unknown --tasks view '", arg.substr(8),
                                      "' (known: table, tree)"));
    }
    if (arg == "--subprocesses") {
      subprocesses = true;
      continue;
    }
    if (arg == "--all") {
      all = true;
      continue;
    }
    // Options with a value.
    const char* const kValued[] = {"--format",  "--attach-timeout", "--core",   "--executable",
                                   "--sysroot", "--timeout",        "--kill-after", "--output"};
    absl::StatusOr<bool> valued = take_valued_option(
        args, i, kValued, [&](const std::string& name, const std::string& value) {
          if (name == "--format") return store(parse_format(value), options.format);
          if (name == "--attach-timeout") {
            return store(parse_seconds(name, value, 3600), options.attach_timeout_seconds);
          }
          if (name == "--timeout") {
            return store(parse_seconds(name, value, 1e7), options.timeout_seconds);
          }
          if (name == "--kill-after") {
            return store(parse_seconds(name, value, 1e6), options.kill_after_seconds);
          }
          if (value.empty()) return usage_error(absl::StrCat(name, " needs a non-empty value"));
          if (name == "--core") {
            options.core_path = value;
          } else if (name == "--executable") {
            options.executable = value;
          } else if (name == "--sysroot") {
            options.sysroot = value;
          } else if (name == "--output") {
            options.output_path = value;
          }
          return absl::OkStatus();
        });
    if (!valued.ok()) return valued.status();
    if (*valued) continue;
    if (arg.size() > 1 && arg[0] == '-') return usage_error(absl::StrCat("unknown option ", arg));
    // The first plain argument after --timeout starts the command (as with timeout(1)).
    if (options.timeout_seconds > 0) {
      options.command.assign(args.begin() + i, args.end());
      break;
    }
    if (have_pid) return usage_error(absl::StrCat("unexpected argument '", arg, "'"));
    absl::StatusOr<pid_t> pid = parse_pid(arg);
    if (!pid.ok()) return pid.status();
    options.pid = *pid;
    have_pid = true;
  }
  if (absl::Status status = check_combination(options, have_pid, subprocesses, all);
      !status.ok()) {
    return status;
  }
  if (!options.core_path.empty()) {
    options.action = Options::Action::kDumpCore;
  } else if (options.timeout_seconds > 0) {
    options.action = Options::Action::kRunWithTimeout;
  } else if (subprocesses) {
    options.action = Options::Action::kDumpTree;
  } else if (all) {
    options.action = Options::Action::kDumpAll;
  } else {
    options.action = Options::Action::kDumpProcess;
  }
  return options;
}

std::optional<ProfileFormat> profile_format_of_path(const std::string& path) {
  auto ends_with = [&](std::string_view suffix) {
    return path.size() >= suffix.size() &&
           path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".svg")) return ProfileFormat::kSvg;
  if (ends_with(".json")) return ProfileFormat::kSpeedscope;
  if (ends_with(".pb.gz") || ends_with(".pprof") || ends_with(".pb")) return ProfileFormat::kPprof;
  if (ends_with(".folded") || ends_with(".collapsed") || ends_with(".txt")) {
    return ProfileFormat::kFolded;
  }
  return std::nullopt;
}

namespace {

absl::StatusOr<ProfileFormat> parse_profile_format(const std::string& text) {
  if (text == "folded" || text == "collapsed") return ProfileFormat::kFolded;
  if (text == "speedscope") return ProfileFormat::kSpeedscope;
  if (text == "svg" || text == "flamegraph") return ProfileFormat::kSvg;
  if (text == "pprof") return ProfileFormat::kPprof;
  return usage_error(absl::StrCat("unknown profile format '", text,
                                  "' (known: folded, speedscope, svg, pprof)"));
}

absl::StatusOr<double> parse_rate(const std::string& text) {
  if (text == "max") return 0.0;
  double rate = 0;
  if (!absl::SimpleAtod(text, &rate) || !(rate >= 0.1) || rate > 1e6) {
    return usage_error(absl::StrCat("--rate takes samples per second from 0.1 to 1000000, or "
                                    "'max', not '", text, "'"));
  }
  return rate;
}

}  // namespace

absl::StatusOr<Options> parse_sampler_options(Options::Action action,
                                              const std::vector<std::string>& args) {
  Options options;
  options.action = action;
  const char* const command_word = action == Options::Action::kRecord ? "record" : "top";
  bool have_pid = false;
  SamplerOptions& sampler = options.sampler;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      options.action = Options::Action::kHelp;
      return options;
    }
    if (arg == "--") {
      options.command.assign(args.begin() + i + 1, args.end());
      if (options.command.empty()) return usage_error("no command after --");
      break;
    }
    if (arg == "--idle") { sampler.idle = true; continue; }
    if (arg == "--gil") { sampler.gil_only = true; continue; }
    if (arg == "--blocking") { sampler.blocking = true; continue; }
    if (take_native_flag(arg, options.native)) continue;
    if (arg == "--nonblocking") { sampler.blocking = false; continue; }
    if (arg == "--no-lines") { sampler.lines = false; continue; }
    if (arg == "--subprocesses") { sampler.subprocesses = true; continue; }
    if (arg == "--quiet" || arg == "-q") { sampler.quiet = true; continue; }
    if (is_option(arg, "--core")) {
      return make_error(ErrorKind::kInvalidArgument,
                        absl::StrCat("pystack-dump ", command_word,
                                     " samples a running process; a core file holds one moment, "
                                     "not a profile"),
                        "dump the core with 'pystack-dump --core CORE'");
    }
    const char* const kValued[] = {"--rate", "--duration", "--output", "-o", "--format",
                                   "--attach-timeout"};
    absl::StatusOr<bool> valued = take_valued_option(
        args, i, kValued, [&](const std::string& name, const std::string& value) {
          if (name == "--rate") return store(parse_rate(value), sampler.rate_hz);
          if (name == "--duration") {
            return store(parse_seconds(name, value, 1e7), sampler.duration_seconds);
          }
          if (name == "--attach-timeout") {
            return store(parse_seconds(name, value, 3600), options.attach_timeout_seconds);
          }
          if (name == "--format") return store(parse_profile_format(value), sampler.format);
          if (value.empty()) return usage_error(absl::StrCat(name, " needs a non-empty value"));
          options.output_path = value;
          return absl::OkStatus();
        });
    if (!valued.ok()) return valued.status();
    if (*valued) continue;
    if (arg.size() > 1 && arg[0] == '-') return usage_error(absl::StrCat("unknown option ", arg));
    if (have_pid) return usage_error(absl::StrCat("unexpected argument '", arg, "'"));
    absl::StatusOr<pid_t> pid = parse_pid(arg);
    if (!pid.ok()) return pid.status();
    options.pid = *pid;
    have_pid = true;
  }
  if (have_pid == !options.command.empty()) {
    return usage_error(absl::StrCat("give one of: pystack-dump ", command_word,
                                    " [OPTIONS] PID, or pystack-dump ", command_word,
                                    " [OPTIONS] -- COMMAND [ARGS...]"));
  }
  if (sampler.idle && sampler.gil_only) return usage_error("--idle and --gil do not go together");
  if (action == Options::Action::kTop && (!options.output_path.empty() || sampler.format)) {
    return usage_error("top shows its table on the terminal: --output and --format go with record");
  }
  if (!sampler.format && !options.output_path.empty()) {
    sampler.format = profile_format_of_path(options.output_path);
    if (!sampler.format) {
      return usage_error(absl::StrCat("cannot tell the format from the name '",
                                      options.output_path,
                                      "': give --format=folded|speedscope|svg|pprof"));
    }
  }
  return options;
}

std::string usage_text() {
  return absl::StrFormat(
      R"(Usage: pystack-dump [OPTIONS] PID
       pystack-dump --subprocesses [OPTIONS] PID
       pystack-dump --all [OPTIONS]
       pystack-dump --core CORE [--executable PATH] [--sysroot DIR] [OPTIONS]
       pystack-dump --timeout SECS [OPTIONS] -- COMMAND [ARGS...]
       pystack-dump record [RECORD OPTIONS] (PID | -- COMMAND [ARGS...])
       pystack-dump top [RECORD OPTIONS] (PID | -- COMMAND [ARGS...])

Prints the Python stack of every thread of the running CPython process PID, exactly as
CPython's faulthandler would print it, had it been enabled. The process is stopped with
ptrace only while its memory is read (typically well under a millisecond), then runs on;
nothing is written to it and none of its code is run.

Options:
  --format=FORMAT         output format: faulthandler (the default); traceback: each
                          thread's traceback.format_stack() with source lines (oldest
                          call first); json: one JSON document (see README)
  --locals                below each frame, its local variables as traceback's
                          capture_locals shows them (reprs read from memory)
  --native                each thread's C frames too (unwound with libdw), the Python
                          frames where the interpreter loop that runs them stands; the
                          interpreter's own C frames are left out (see README)
  --native-all            as --native, with the interpreter's own C frames
  --locks                 after the dump, for each thread blocked on a lock, the object
                          it waits for and its holder (recorded by CPython or inferred
                          from a with block), then every deadlock (see README)
  --exceptions            with --format=traceback or json: after each thread's stack,
                          the exception it is handling, as traceback.format_exception
                          prints it in the target's version (see README)
  --tasks[=table|tree]    every asyncio task instead of the threads' stacks: the table
                          `python -m asyncio ps PID` prints (the default), or the tree of
                          `python -m asyncio pstree PID` (exit 12 when the await graph has
                          a cycle: the cycle is printed); with --format=json, a "tasks"
                          list per interpreter beside the threads (see README)
  --attach-timeout=SECS   give up if the threads do not all stop within SECS (default 2)
  --subprocesses          dump PID and all its descendants, each under a line
                          "=== pid PID (parent PPID): COMMAND LINE ===" (see README)
  --all                   every Python process of the host (of the PID namespace
                          pystack-dump runs in), one section each as with --subprocesses,
                          each process stopped only for its own dump; with --format=json,
                          one JSON document per line (JSON Lines) with "host", "pid" and
                          "command_line" first (see README)
  --core=CORE             read the core file CORE instead of a live process: prints the
                          report faulthandler would have printed when the process crashed
                          ("Fatal Python error: ...", the crashed thread as current)
  --executable=PATH       with --core: the crashed process's executable, when it is not
                          (or no longer) at the path the core names
  --sysroot=DIR           with --core: look for the files the core names (executable,
                          libraries) under DIR first, e.g. a copy of the crashed machine's
                          or container's files
  --timeout=SECS          run COMMAND (stdin, stdout, stderr and exit status passed
                          through); if it still runs after SECS, dump every process of its
                          tree as --subprocesses does, end the tree and exit 124
  --kill-after=SECS       with --timeout: SIGKILL what SIGTERM left after SECS (default 5)
  --output=FILE           with --timeout: write the dumps to FILE instead of stderr
  -h, --help              print this help and exit
  -V, --version           print the version and exit

record samples every thread's Python stack, read-only, until --duration, Ctrl-C or the end
of the process, then writes a profile; top shows a live table of the functions sampled.
Record options (top takes the same, but --output and --format):
  --rate=HZ               samples per second (default 100; 'max': as fast as it can)
  --duration=SECS         stop after SECS (default: at Ctrl-C, SIGTERM or the process's end)
  -o, --output=FILE       write the profile to FILE (default: standard output); the format
                          follows the name: .folded .txt, .json (speedscope), .svg, .pb.gz
  --format=FORMAT         folded (the default: collapsed stacks for flamegraph.pl, inferno,
                          speedscope), speedscope (JSON), svg (interactive flame graph), pprof
                          (gzipped protobuf for go tool pprof, Pyroscope, Parca, Grafana)
  --idle                  keep threads the kernel has asleep (a sleep, a lock, a socket)
  --gil                   keep only the thread that holds the GIL
  --blocking              stop the Python threads for each sample: exact stacks, slower for
                          the target; by default (--nonblocking) memory is read while it
                          runs and a stack the target changed during the read is dropped and
                          counted (torn)
  --no-lines              one frame per function, its lines merged
  --native, --native-all  the C frames too (as for a dump); implies --blocking
  --subprocesses          sample the descendants of the process too, each under its own root
  --attach-timeout=SECS   with --blocking: the longest wait for the threads to stop
  -q, --quiet             no status line, no summary
  With -- COMMAND, the command is started and sampled; the exit status is its own, and it is
  sent SIGTERM if it still runs when recording stops.

Supported CPython versions: %s (Linux x86-64), each verified against the
interpreters themselves by the tests (see the README for the patch versions). A newer
release is read as 3.15 when its _Py_DebugOffsets has 3.15's layout, with a warning.

Exit codes:
  0   the dump was printed
  1   internal error, or the output could not be written (a full disk, stdout closed)
  2   bad command line
  3   no such process, or a file not found or not the right one (the core, or a file the
      core names: see --executable and --sysroot)
  4   permission denied (ptrace refused: run as the process's user or root, or with
      CAP_SYS_PTRACE; see /proc/sys/kernel/yama/ptrace_scope)
  5   the process is already traced by a debugger (named), or held by another
      pystack-dump for longer than --attach-timeout
  6   not a Python process (no CPython runtime found), or one that runs no Python code now
      (starting up or shut down)
  7   unsupported Python version (or free-threaded build)
  8   the process exited during the dump, or before (a zombie not reaped yet)
  9   the dump was printed but is incomplete (unreadable or corrupt memory, or a walk over
      its budget of frames, bytes read or time stopped; marked in it)
  10  not a core file, or a truncated or corrupt one (--core)
  11  a thread did not stop within --attach-timeout (busy in the kernel, state D)
  12  --tasks=tree: the await graph has a cycle (printed on stderr instead)
record and top exit 0 once the profile is written, whether the process ended or not.
With --timeout: the command's own exit status (128+N when signal N killed it), or 124 when
it timed out, 126 when it could not be run, 127 when it was not found.
)",
      supported_versions());
}

}  // namespace pystack
