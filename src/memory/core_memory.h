// The address space of a crashed process, read from its core file: what the core holds, and for
// the rest (the read-only parts of the executable and libraries, which the kernel leaves out) the
// files it had mapped, as found on this machine.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "memory/core_file.h"
#include "memory/remote_memory.h"
#include "memory/unique_fd.h"

namespace pystack {

// Where a file that the crashed process mapped (its path as that process saw it) is found here.
using FileLocator = std::function<std::string(const std::string& mapped_path)>;

class CoreMemory final : public RemoteMemory {
 public:
  // `core` must outlive this.
  CoreMemory(const CoreFile& core, FileLocator locate);

  absl::Status read(uint64_t address, void* out, size_t size) const override;

  // Compares the build id of the file found for `mapped_path` with the one in the core's image
  // of that file's first page (when the core holds it), once per path; a mismatch is recorded as
  // a warning. Files read in place of missing memory are checked the same way on first use.
  void check_build_id(const std::string& mapped_path) const;
  // What check_build_id would warn of, said to the caller instead ("FILE does not match the
  // core: build id ..."); nullopt when the ids agree or cannot be compared.
  std::optional<std::string> build_id_mismatch(const std::string& mapped_path) const;

  // One line each (without the "pystack-dump: warning: " prefix), in the order they arose;
  // cleared by the call.
  std::vector<std::string> take_warnings();

 private:
  struct OpenedFile {
    std::string located;  // the path here
    UniqueFd fd;
    std::string error;  // why it could not be opened, when fd is not valid
  };

  const CoreMappedFile* mapped_file_at(uint64_t address) const;
  // Bytes of one mapped file, [address, address + size) lying within `file`.
  absl::Status read_from_file(const CoreMappedFile& file, uint64_t address, uint8_t* out,
                              size_t size) const;
  const OpenedFile& opened(const std::string& mapped_path) const;
  // The end of the part of [cursor, end) that no segment of the core covers.
  uint64_t gap_end(uint64_t cursor, uint64_t end) const;

  const CoreFile& core_;
  FileLocator locate_;
  mutable absl::flat_hash_map<std::string, std::unique_ptr<OpenedFile>> files_;
  mutable absl::flat_hash_set<std::string> checked_;
  mutable std::vector<std::string> warnings_;
};

// The hex of the NT_GNU_BUILD_ID note of an ELF image, or "" when it has none or it cannot be
// read. `read` fetches bytes at file offsets when `mapped_at` is nullopt, else at run-time
// addresses of an image whose file offset 0 is mapped at *mapped_at.
using ByteReader = std::function<bool(uint64_t where, void* out, size_t size)>;
std::string elf_build_id(const ByteReader& read, std::optional<uint64_t> mapped_at);

}  // namespace pystack
