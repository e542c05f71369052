// The command line: what the user asked for, parsed without side effects.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace pystack {

inline constexpr char kToolVersion[] = "0.1.0";

enum class OutputFormat { kFaulthandler };

struct Options {
  enum class Action { kDump, kHelp, kVersion } action = Action::kDump;
  pid_t pid = 0;
  OutputFormat format = OutputFormat::kFaulthandler;
  double attach_timeout_seconds = 2.0;
};

// Errors are kUsage with a hint.
absl::StatusOr<Options> parse_options(const std::vector<std::string>& args);

// The text of --help.
std::string usage_text();

}  // namespace pystack
