// ELF notes (NT_GNU_BUILD_ID among them), and an ELF image's build id read through its program
// headers, from hostile bytes: as a file (offsets) and as mapped memory (addresses).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "common/elf_notes.h"
#include "fuzz_input.h"
#include "memory/core_memory.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pystack::fuzz::FuzzInput in(data, size);
  const bool eight = in.take<uint8_t>() & 1;
  const std::string_view bytes = in.rest();
  (void)pystack::gnu_build_id_in_notes(bytes, eight ? 8 : 4);
  const uint64_t base = 0x400000;
  auto read = [&](uint64_t where, void* out, size_t n, uint64_t origin) {
    if (where < origin || where - origin > bytes.size() || n > bytes.size() - (where - origin)) {
      return false;
    }
    std::memcpy(out, bytes.data() + (where - origin), n);
    return true;
  };
  (void)pystack::elf_build_id(
      [&](uint64_t where, void* out, size_t n) { return read(where, out, n, 0); }, std::nullopt);
  (void)pystack::elf_build_id(
      [&](uint64_t where, void* out, size_t n) { return read(where, out, n, base); }, base);
  return 0;
}
