// One ELF file opened with libelf: symbols, sections and load addresses. Move-only; owns the fd
// and the Elf handle.
#pragma once

#include <libelf.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "memory/unique_fd.h"

namespace pystack {

struct ElfSymbol {
  uint64_t value = 0;  // the link-time address (add the load bias)
  uint64_t size = 0;
};

struct ElfSection {
  uint64_t address = 0;  // link-time address
  uint64_t size = 0;
  uint64_t file_offset = 0;
};

class ElfFile {
 public:
  // Errors: kNoSuchFile when the file does not exist, kPermissionDenied, kNotElf when it is
  // not an ELF file.
  static absl::StatusOr<ElfFile> open(const std::string& path);

  ElfFile(ElfFile&& other) noexcept;
  ElfFile& operator=(ElfFile&& other) noexcept;
  ~ElfFile();

  // A defined symbol by name: the dynamic symbol table through its hash table (.gnu.hash or
  // .hash), then the full symbol table (.symtab) if the file has one.
  std::optional<ElfSymbol> find_symbol(std::string_view name) const;
  // Only the dynamic symbol table, through its hash table.
  std::optional<ElfSymbol> find_dynamic_symbol(std::string_view name) const;
  std::optional<ElfSection> find_section(std::string_view name) const;
  // `size` bytes of the file's contents at link-time `address`, from the section that holds them
  // all (not .bss-like sections, which have none in the file); nullopt when none does.
  std::optional<std::string> bytes_at(uint64_t address, uint64_t size) const;

  // The link-time address that the mapping of file offset 0 corresponds to: subtract it from the
  // start of that mapping to get the load bias (which is then 0 for an ET_EXEC file).
  uint64_t base_address() const;
  bool is_shared_object() const;  // ET_DYN
  std::string build_id() const;   // hex of NT_GNU_BUILD_ID, or ""
  const std::string& path() const { return path_; }

 private:
  // Section indices found once at open, 0 when absent: every lookup needs them.
  struct Sections {
    size_t dynsym = 0;
    size_t gnu_hash = 0;   // only when its sh_link is `dynsym`
    size_t sysv_hash = 0;  // likewise
    size_t symtab = 0;
  };

  ElfFile(std::string path, UniqueFd fd, Elf* elf);
  std::string path_;
  UniqueFd fd_;
  Elf* elf_ = nullptr;
  Sections sections_;
};

}  // namespace pystack
