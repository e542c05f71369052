// The command line: what the user asked for, parsed without side effects.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace pystack {

inline constexpr char kToolVersion[] = "0.1.0";

enum class OutputFormat { kFaulthandler, kTraceback, kJson };

// C frames: none, those outside the interpreter (--native), or all of them (--native-all).
enum class NativeFrames { kNone, kOutsideInterpreter, kAll };
// --tasks: `python -m asyncio ps`'s table, or `pstree`'s tree (--tasks=tree).
enum class TaskView { kTable, kTree };
// record's output (--format, or the --output file's extension).
enum class ProfileFormat { kFolded, kSpeedscope, kSvg, kPprof };

// pystack-dump record and top.
struct SamplerOptions {
  double rate_hz = 100;        // 0: as fast as the tool can (--rate=max)
  double duration_seconds = 0; // 0: until Ctrl-C or the end of the process
  std::optional<ProfileFormat> format;
  bool idle = false;
  bool gil_only = false;
  bool blocking = false;
  bool lines = true;
  bool subprocesses = false;
  bool quiet = false;          // no status line
};

struct Options {
  enum class Action {
    kDumpProcess,     // pystack-dump PID
    kDumpTree,        // pystack-dump --subprocesses PID
    kDumpAll,         // pystack-dump --all: every Python process of the host
    kDumpCore,        // pystack-dump --core CORE
    kRunWithTimeout,  // pystack-dump --timeout SECS -- COMMAND...
    kRecord,          // pystack-dump record [OPTIONS] (PID | -- COMMAND...)
    kTop,             // pystack-dump top [OPTIONS] (PID | -- COMMAND...)
    kHelp,
    kVersion,
  } action = Action::kDumpProcess;
  pid_t pid = 0;
  OutputFormat format = OutputFormat::kFaulthandler;
  bool locals = false;
  NativeFrames native = NativeFrames::kNone;
  // --tasks: asyncio's tasks instead of the threads' stacks (with --format=json: beside them).
  std::optional<TaskView> tasks;
  // --locks: after the dump, what each blocked thread waits for, its holder, the deadlocks.
  bool locks = false;
  // --exceptions: after each thread's stack, the exception it handles, as format_exception.
  bool exceptions = false;
  double attach_timeout_seconds = 2.0;
  // --core
  std::string core_path;
  std::string executable;  // --executable: overrides the executable named by the core
  std::string sysroot;     // --sysroot: where the core's mapped files are looked for first
  // --timeout
  double timeout_seconds = 0;
  double kill_after_seconds = 5;
  std::string output_path;            // --output: where dumps go instead of stderr
  std::vector<std::string> command;   // after --
  SamplerOptions sampler;             // record, top
};

// Errors are kUsage with a hint.
absl::StatusOr<Options> parse_options(const std::vector<std::string>& args);

// `record ...` and `top ...` (args without the command word). Errors are kUsage with a hint.
absl::StatusOr<Options> parse_sampler_options(Options::Action action,
                                              const std::vector<std::string>& args);

// The format --output FILE implies by its extension (.folded/.txt, .json/.speedscope.json, .svg,
// .pb.gz/.pprof), or nullopt.
std::optional<ProfileFormat> profile_format_of_path(const std::string& path);

// The text of --help.
std::string usage_text();

}  // namespace pystack
