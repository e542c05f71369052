#include "common/elf_notes.h"

#include <elf.h>

#include <cstring>

#include "absl/strings/str_format.h"

namespace pystack {
namespace {

uint64_t align_up(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) & ~(alignment - 1);
}

}  // namespace

std::string gnu_build_id_in_notes(std::string_view notes, uint64_t alignment) {
  for (uint64_t offset = 0; offset + 12 <= notes.size();) {
    uint32_t header[3];  // namesz, descsz, type
    std::memcpy(header, notes.data() + offset, sizeof header);
    const uint64_t name = offset + 12;
    const uint64_t desc = align_up(name + header[0], alignment);
    const uint64_t next = align_up(desc + header[1], alignment);
    // 64-bit sums of 32-bit sizes cannot wrap; `next <= offset` only guards the loop.
    if (desc > notes.size() || desc + header[1] > notes.size() || next <= offset) return "";
    if (header[2] == NT_GNU_BUILD_ID && header[0] == 4 &&
        std::memcmp(notes.data() + name, "GNU", 4) == 0) {
      std::string hex;
      for (uint64_t i = 0; i < header[1]; ++i) {
        absl::StrAppendFormat(&hex, "%02x", static_cast<unsigned char>(notes[desc + i]));
      }
      return hex;
    }
    offset = next;
  }
  return "";
}

}  // namespace pystack
