// The memory mappings of a process (/proc/PID/maps, or a core's NT_FILE note).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace pystack {

struct MemoryMapping {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t file_offset = 0;
  bool readable = false;
  bool writable = false;
  bool executable = false;
  std::string path;  // "" for anonymous mappings; "[heap]", "[stack]" ... as the kernel names them
};

// Parses the text of /proc/PID/maps. Malformed lines are skipped.
std::vector<MemoryMapping> parse_proc_maps(std::string_view text);

// Reads and parses /proc/PID/maps (errors: kNoSuchProcess, kPermissionDenied).
absl::StatusOr<std::vector<MemoryMapping>> read_proc_maps(pid_t pid);

}  // namespace pystack
