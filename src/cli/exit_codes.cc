#include "cli/exit_codes.h"

namespace pystack {

ExitCode exit_code_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInternal: return kExitInternal;
    case ErrorKind::kInvalidArgument: return kExitUsage;
    case ErrorKind::kNoSuchProcess:
    case ErrorKind::kNoSuchFile: return kExitNoSuchProcess;
    case ErrorKind::kPermissionDenied: return kExitPermissionDenied;
    case ErrorKind::kAlreadyTraced: return kExitAlreadyTraced;
    case ErrorKind::kNotElf:
    case ErrorKind::kNoPythonRuntime:
    case ErrorKind::kRuntimeUnreadable:
    case ErrorKind::kNoInterpreter: return kExitNotPython;
    case ErrorKind::kUnsupportedVersion: return kExitUnsupportedVersion;
    case ErrorKind::kProcessExited: return kExitProcessExited;
    case ErrorKind::kIncomplete: return kExitPartial;
    case ErrorKind::kBadCore: return kExitBadCore;
    case ErrorKind::kStopTimedOut: return kExitStopTimedOut;
  }
  return kExitInternal;
}

}  // namespace pystack
