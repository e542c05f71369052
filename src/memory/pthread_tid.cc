#include "memory/pthread_tid.h"

#include <algorithm>

namespace pystack {
namespace {

constexpr uint64_t kGlibcTidOffset = 0x2d0;  // offsetof(struct pthread, tid), x86-64

}  // namespace

std::optional<pid_t> tid_of_pthread(const RemoteMemory& memory, uint64_t pthread,
                                    const std::vector<pid_t>& tids) {
  if (pthread == 0) return std::nullopt;
  absl::StatusOr<int32_t> tid = read_value<int32_t>(memory, pthread + kGlibcTidOffset);
  if (!tid.ok() || *tid <= 0 || std::find(tids.begin(), tids.end(), *tid) == tids.end()) {
    return std::nullopt;
  }
  return *tid;
}

}  // namespace pystack
