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

struct Options {
  enum class Action {
    kDumpProcess,     // pystack-dump PID
    kDumpTree,        // pystack-dump --subprocesses PID
    kDumpCore,        // pystack-dump --core CORE
    kRunWithTimeout,  // pystack-dump --timeout SECS -- COMMAND...
    kHelp,
    kVersion,
  } action = Action::kDumpProcess;
  pid_t pid = 0;
  OutputFormat format = OutputFormat::kFaulthandler;
  bool locals = false;
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
};

// Errors are kUsage with a hint.
absl::StatusOr<Options> parse_options(const std::vector<std::string>& args);

// The text of --help.
std::string usage_text();

}  // namespace pystack
