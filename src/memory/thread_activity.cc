#include "memory/thread_activity.h"

#include <fcntl.h>
#include <unistd.h>

#include <string_view>

#include "absl/strings/str_cat.h"

namespace pystack {

std::optional<char> ThreadActivity::state(pid_t tid) {
  auto it = files_.find(tid);
  if (it == files_.end()) {
    const std::string path = absl::StrCat("/proc/", pid_, "/task/", tid, "/stat");
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return std::nullopt;
    it = files_.emplace(tid, std::move(fd)).first;
  }
  // "TID (comm) S ...": comm holds at most 15 bytes but may hold ')' and spaces: look after the
  // last ')' within the first bytes.
  char text[128];
  const ssize_t n = ::pread(it->second.get(), text, sizeof text, 0);
  const std::string_view view(text, n > 0 ? static_cast<size_t>(n) : 0);
  const size_t paren = view.rfind(')');
  if (n <= 0 || paren == std::string_view::npos || paren + 2 >= view.size()) {
    files_.erase(it);
    return std::nullopt;
  }
  return view[paren + 2];
}

}  // namespace pystack
