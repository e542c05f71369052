#include "memory/procfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <memory>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "memory/unique_fd.h"

namespace pystack::procfs {
namespace {

std::optional<pid_t> parse_pid(std::string_view text) {
  pid_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

int read_file(const std::string& path, std::string& out) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno;
  char buffer[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return 0;
    out.append(buffer, static_cast<size_t>(n));
  }
}

std::optional<std::vector<pid_t>> list_threads(pid_t pid) {
  std::string path = absl::StrCat("/proc/", pid, "/task");
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(path.c_str()), &::closedir);
  if (!dir) return std::nullopt;
  std::vector<pid_t> tids;
  while (dirent* entry = ::readdir(dir.get())) {
    if (std::optional<pid_t> tid = parse_pid(entry->d_name)) tids.push_back(*tid);
  }
  std::sort(tids.begin(), tids.end());
  return tids;
}

std::optional<char> thread_state(pid_t pid, pid_t tid) {
  std::string text;
  if (read_file(absl::StrCat("/proc/", pid, "/task/", tid, "/stat"), text) != 0) {
    return std::nullopt;
  }
  // "TID (comm) S ...": comm may hold spaces and parentheses, so look after the last ')'.
  size_t paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 >= text.size()) return std::nullopt;
  return text[paren + 2];
}

std::optional<std::string> comm(pid_t pid, std::optional<pid_t> tid) {
  std::string text;
  const std::string path = tid ? absl::StrCat("/proc/", pid, "/task/", *tid, "/comm")
                               : absl::StrCat("/proc/", pid, "/comm");
  if (read_file(path, text) != 0) return std::nullopt;
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

std::optional<pid_t> tracer_pid(pid_t pid) {
  std::string text;
  if (read_file(absl::StrCat("/proc/", pid, "/status"), text) != 0) return std::nullopt;
  constexpr std::string_view kKey = "\nTracerPid:";
  size_t at = text.find(kKey);
  if (at == std::string::npos) return std::nullopt;
  std::string_view rest = std::string_view(text).substr(at + kKey.size());
  size_t begin = rest.find_first_not_of(" \t");
  size_t end = rest.find('\n');
  if (begin == std::string_view::npos) return std::nullopt;
  return parse_pid(rest.substr(begin, end == std::string_view::npos ? end : end - begin));
}

bool process_gone(pid_t pid) {
  std::optional<char> state = thread_state(pid, pid);
  if (!state) return true;
  if (*state != 'Z' && *state != 'X') return false;
  // A zombie leader (the main thread called pthread_exit) may still have live threads.
  std::optional<std::vector<pid_t>> threads = list_threads(pid);
  return !threads || threads->size() <= 1;
}

}  // namespace pystack::procfs
