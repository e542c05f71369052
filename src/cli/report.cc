#include "cli/report.h"

#include "cli/exit_codes.h"
#include "common/errors.h"

namespace pystack {

int report_error(const absl::Status& status) {
  std::string line = "pystack-dump: error: " + std::string(status.message());
  const std::string hint = error_hint(status);
  if (!hint.empty()) line += " (hint: " + hint + ")";
  std::fprintf(stderr, "%s\n", line.c_str());
  return exit_code_for(error_kind(status));
}

bool write_all(std::FILE* out, const std::string& text) {
  return std::fwrite(text.data(), 1, text.size(), out) == text.size() && std::fflush(out) == 0;
}

void warn_if_read_as_older(const Snapshot& snapshot) {
  if (!snapshot.read_as) return;
  const PythonVersion& v = snapshot.version;
  std::fprintf(stderr,
               "pystack-dump: warning: Python %d.%d.%d is newer than this build of pystack-dump "
               "knows; its _Py_DebugOffsets matches %d.%d's, and the output follows %d.%d's "
               "format\n",
               v.major, v.minor, v.micro, snapshot.read_as->major, snapshot.read_as->minor,
               snapshot.read_as->major, snapshot.read_as->minor);
}

}  // namespace pystack
