#include "common/errors.h"

#include <optional>

#include "absl/strings/cord.h"

namespace pystack {
namespace {

constexpr char kKindUrl[] = "pystack-dump/kind";
constexpr char kHintUrl[] = "pystack-dump/hint";

absl::StatusCode code_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument: return absl::StatusCode::kInvalidArgument;
    case ErrorKind::kNoSuchProcess:
    case ErrorKind::kNoSuchFile:
    case ErrorKind::kNoPythonRuntime:
    case ErrorKind::kNoInterpreter: return absl::StatusCode::kNotFound;
    case ErrorKind::kPermissionDenied: return absl::StatusCode::kPermissionDenied;
    case ErrorKind::kAlreadyTraced: return absl::StatusCode::kFailedPrecondition;
    case ErrorKind::kStopTimedOut: return absl::StatusCode::kDeadlineExceeded;
    case ErrorKind::kNotElf:
    case ErrorKind::kRuntimeUnreadable:
    case ErrorKind::kIncomplete:
    case ErrorKind::kBadCore: return absl::StatusCode::kDataLoss;
    case ErrorKind::kUnsupportedVersion: return absl::StatusCode::kUnimplemented;
    case ErrorKind::kProcessExited: return absl::StatusCode::kAborted;
    case ErrorKind::kInternal: break;
  }
  return absl::StatusCode::kInternal;
}

}  // namespace

absl::Status make_error(ErrorKind kind, const std::string& message, const std::string& hint) {
  absl::Status status(code_for(kind), message);
  status.SetPayload(kKindUrl, absl::Cord(std::to_string(static_cast<int>(kind))));
  if (!hint.empty()) status.SetPayload(kHintUrl, absl::Cord(hint));
  return status;
}

ErrorKind error_kind(const absl::Status& status) {
  auto kind = status.GetPayload(kKindUrl);
  if (!kind) return ErrorKind::kInternal;
  return static_cast<ErrorKind>(std::stoi(std::string(*kind)));
}

std::string error_hint(const absl::Status& status) {
  auto hint = status.GetPayload(kHintUrl);
  return hint ? std::string(*hint) : std::string();
}

}  // namespace pystack
