#include "memory/proc_maps.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "memory/procfs.h"

namespace pystack {
namespace {

constexpr int kEmptyMapsRetries = 3;

// Splits off the next run of non-blank characters of `line`, skipping leading blanks.
std::string_view next_field(std::string_view& line) {
  size_t begin = line.find_first_not_of(' ');
  if (begin == std::string_view::npos) {
    line = {};
    return {};
  }
  line.remove_prefix(begin);
  size_t end = line.find(' ');
  std::string_view field = line.substr(0, end);
  line.remove_prefix(end == std::string_view::npos ? line.size() : end);
  return field;
}

// Strict: hex digits only, the whole field, no overflow. (Debian's absl::string_view is not
// std::string_view, so absl::SimpleHexAtoi would need a copy.)
bool parse_hex(std::string_view text, uint64_t& out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out, 16);
  return !text.empty() && ec == std::errc() && ptr == end;
}

// "7f12a000-7f12b000" -> start, end.
bool parse_range(std::string_view text, MemoryMapping& mapping) {
  size_t dash = text.find('-');
  if (dash == std::string_view::npos) return false;
  return parse_hex(text.substr(0, dash), mapping.start) &&
         parse_hex(text.substr(dash + 1), mapping.end) && mapping.start <= mapping.end;
}

// "r-xp": the fourth letter (private/shared) does not matter to a reader.
bool parse_perms(std::string_view text, MemoryMapping& mapping) {
  if (text.size() < 3) return false;
  mapping.readable = text[0] == 'r';
  mapping.writable = text[1] == 'w';
  mapping.executable = text[2] == 'x';
  return true;
}

std::optional<MemoryMapping> parse_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  MemoryMapping mapping;
  if (!parse_range(next_field(line), mapping)) return std::nullopt;
  if (!parse_perms(next_field(line), mapping)) return std::nullopt;
  if (!parse_hex(next_field(line), mapping.file_offset)) return std::nullopt;
  if (next_field(line).empty()) return std::nullopt;  // device, "fd:01"
  if (next_field(line).empty()) return std::nullopt;  // inode
  // The path is everything after the padding that follows the inode, verbatim: it may hold
  // spaces, and the kernel's own suffix " (deleted)" is kept so callers can tell (they open
  // the file through /proc/PID/map_files, which still works for a deleted file).
  size_t begin = line.find_first_not_of(' ');
  if (begin != std::string_view::npos) mapping.path = std::string(line.substr(begin));
  return mapping;
}

}  // namespace

std::vector<MemoryMapping> parse_proc_maps(std::string_view text) {
  std::vector<MemoryMapping> mappings;
  while (!text.empty()) {
    size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (std::optional<MemoryMapping> mapping = parse_line(line)) {
      mappings.push_back(std::move(*mapping));
    }
  }
  return mappings;
}

absl::StatusOr<std::vector<MemoryMapping>> read_proc_maps(pid_t pid) {
  std::string path = absl::StrCat("/proc/", pid, "/maps");
  std::string text;
  int error = procfs::read_file(path, text);
  // Opened before an execve replaced the address space and read after, the file is empty though
  // the process runs (a command just started by `record -- COMMAND`): a fresh open reads the new
  // one. A zombie's or a kernel thread's stays empty, so the retries are few.
  for (int retry = 0; retry < kEmptyMapsRetries && error == 0 && text.empty(); ++retry) {
    error = procfs::read_file(path, text);
  }
  if (error != 0) {
    if (error == EACCES || error == EPERM) {
      return make_error(ErrorKind::kPermissionDenied,
                        absl::StrCat("cannot read ", path, ": ", std::strerror(error)),
                        "run as the same user as the target, or as root");
    }
    if (error == ENOENT || error == ESRCH) {
      return make_error(ErrorKind::kNoSuchProcess, absl::StrCat("no such process: ", pid),
                        "check the pid (ps -e)");
    }
    return make_error(ErrorKind::kInternal,
                      absl::StrCat("cannot read ", path, ": ", std::strerror(error)));
  }
  // A zombie (or a kernel thread) has no address space and an empty maps file.
  if (text.empty()) {
    return make_error(ErrorKind::kProcessExited,
                      absl::StrCat("process ", pid,
                                   " has exited (a zombie: its parent has not collected its exit "
                                   "status yet), or is a kernel thread"),
                      "nothing of its memory is left to read; dump a process while it runs");
  }
  return parse_proc_maps(text);
}

}  // namespace pystack
