#include "memory/core_memory.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/elf_notes.h"

namespace pystack {
namespace {

// Bounds on what an ELF header may make us read while looking for its build id.
constexpr uint16_t kMaxProgramHeaders = 512;
constexpr uint64_t kMaxNoteSegment = 1 << 16;
constexpr uint64_t kMaxHeaderOffset = 1 << 20;

// pread until `size` bytes are in or the file ends; the count read.
size_t pread_fully(int fd, void* out, size_t size, uint64_t offset) {
  size_t done = 0;
  while (done < size) {
    ssize_t n =
        ::pread(fd, static_cast<char*>(out) + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

}  // namespace

std::string elf_build_id(const ByteReader& read, std::optional<uint64_t> mapped_at) {
  const uint64_t base = mapped_at.value_or(0);
  Elf64_Ehdr ehdr;
  if (!read(base, &ehdr, sizeof ehdr) || std::memcmp(ehdr.e_ident, ELFMAG, SELFMAG) != 0 ||
      ehdr.e_ident[EI_CLASS] != ELFCLASS64 || ehdr.e_phentsize != sizeof(Elf64_Phdr) ||
      ehdr.e_phnum == 0 || ehdr.e_phnum > kMaxProgramHeaders || ehdr.e_phoff > kMaxHeaderOffset) {
    return "";
  }
  std::vector<Elf64_Phdr> phdrs(ehdr.e_phnum);
  if (!read(base + ehdr.e_phoff, phdrs.data(), phdrs.size() * sizeof(Elf64_Phdr))) return "";
  // In memory, a note is at its p_vaddr plus the load bias, which the segment that maps file
  // offset 0 gives.
  uint64_t bias = 0;
  if (mapped_at) {
    auto first = std::find_if(phdrs.begin(), phdrs.end(), [](const Elf64_Phdr& p) {
      return p.p_type == PT_LOAD && p.p_offset == 0;
    });
    if (first == phdrs.end()) return "";
    bias = base - first->p_vaddr;
  }
  for (const Elf64_Phdr& phdr : phdrs) {
    if (phdr.p_type != PT_NOTE || phdr.p_filesz == 0 || phdr.p_filesz > kMaxNoteSegment) continue;
    std::vector<uint8_t> notes(phdr.p_filesz);
    const uint64_t where = mapped_at ? bias + phdr.p_vaddr : phdr.p_offset;
    if (!read(where, notes.data(), notes.size())) continue;
    std::string id = gnu_build_id_in_notes(
        std::string_view(reinterpret_cast<const char*>(notes.data()), notes.size()),
        phdr.p_align == 8 ? 8 : 4);
    if (!id.empty()) return id;
  }
  return "";
}

CoreMemory::CoreMemory(const CoreFile& core, FileLocator locate)
    : core_(core), locate_(std::move(locate)) {}

absl::Status CoreMemory::read(uint64_t address, void* out, size_t size) const {
  if (size == 0) return absl::OkStatus();
  if (address + size < address) return absl::OutOfRangeError("read wraps around");
  auto* dest = static_cast<uint8_t*>(out);
  const uint64_t end = address + size;
  for (uint64_t cursor = address; cursor < end;) {
    const CoreSegment* segment = core_.segment_at(cursor);
    uint64_t chunk_end = end;
    if (segment != nullptr && segment->lost_thread != 0) {
      return absl::DataLossError(absl::StrFormat(
          "0x%x is in the stack of thread %d, which the core holds as zeros (not saved)", cursor,
          segment->lost_thread));
    }
    if (segment != nullptr) {
      const uint64_t inside = cursor - segment->address;
      if (inside < segment->available) {
        chunk_end = std::min(end, segment->address + segment->available);
        absl::Status status = core_.read_image(cursor, dest, chunk_end - cursor);
        if (!status.ok()) return status;
        dest += chunk_end - cursor;
        cursor = chunk_end;
        continue;
      }
      if (inside < segment->file_size) {
        return absl::DataLossError(
            absl::StrFormat("0x%x is past the end of the truncated core", cursor));
      }
      chunk_end = std::min(end, segment->address + segment->memory_size);
    } else {
      chunk_end = gap_end(cursor, end);
    }
    // Left out of the core: the file mapped there has the bytes, if a file is mapped there.
    const CoreMappedFile* file = mapped_file_at(cursor);
    if (file == nullptr) {
      return absl::NotFoundError(absl::StrFormat("0x%x is not in the core", cursor));
    }
    chunk_end = std::min(chunk_end, file->end);
    absl::Status status = read_from_file(*file, cursor, dest, chunk_end - cursor);
    if (!status.ok()) return status;
    dest += chunk_end - cursor;
    cursor = chunk_end;
  }
  return absl::OkStatus();
}

uint64_t CoreMemory::gap_end(uint64_t cursor, uint64_t end) const {
  const std::vector<CoreSegment>& segments = core_.segments();
  auto next =
      std::upper_bound(segments.begin(), segments.end(), cursor,
                       [](uint64_t a, const CoreSegment& segment) { return a < segment.address; });
  return next == segments.end() ? end : std::min(end, next->address);
}

const CoreMappedFile* CoreMemory::mapped_file_at(uint64_t address) const {
  const std::vector<CoreMappedFile>& files = core_.mapped_files();
  auto after =
      std::upper_bound(files.begin(), files.end(), address,
                       [](uint64_t a, const CoreMappedFile& file) { return a < file.start; });
  if (after == files.begin()) return nullptr;
  const CoreMappedFile& file = *(after - 1);
  return address < file.end ? &file : nullptr;
}

const CoreMemory::OpenedFile& CoreMemory::opened(const std::string& mapped_path) const {
  auto it = files_.find(mapped_path);
  if (it != files_.end()) return *it->second;
  auto file = std::make_unique<OpenedFile>();
  file->located = locate_(mapped_path);
  // O_NONBLOCK: a path in a hostile core may name a FIFO.
  file->fd.reset(::open(file->located.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  struct stat st;
  if (!file->fd.valid()) {
    file->error = std::strerror(errno);
  } else if (::fstat(file->fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    file->fd.reset();
    file->error = "not a regular file";
  }
  return *files_.emplace(mapped_path, std::move(file)).first->second;
}

absl::Status CoreMemory::read_from_file(const CoreMappedFile& file, uint64_t address, uint8_t* out,
                                        size_t size) const {
  const OpenedFile& source = opened(file.path);
  if (!source.fd.valid()) {
    return absl::NotFoundError(absl::StrFormat("0x%x is not in the core, and %s cannot be read: %s",
                                               address, source.located, source.error));
  }
  check_build_id(file.path);
  const uint64_t offset = file.file_offset + (address - file.start);
  if (offset < file.file_offset || offset > static_cast<uint64_t>(INT64_MAX) - size) {
    return absl::OutOfRangeError(absl::StrFormat("0x%x: bad file offset", address));
  }
  if (pread_fully(source.fd.get(), out, size, offset) != size) {
    return absl::OutOfRangeError(
        absl::StrFormat("0x%x is past the end of %s (not in the core)", address, source.located));
  }
  return absl::OkStatus();
}

void CoreMemory::check_build_id(const std::string& mapped_path) const {
  if (!checked_.insert(mapped_path).second) return;
  if (std::optional<std::string> mismatch = build_id_mismatch(mapped_path)) {
    warnings_.push_back(absl::StrCat(*mismatch,
                                     "; what is read from it may be wrong (give the right files "
                                     "with --sysroot DIR or --executable PATH)"));
  }
}

std::optional<std::string> CoreMemory::build_id_mismatch(const std::string& mapped_path) const {
  checked_.insert(mapped_path);  // said once: by the caller, or as a warning
  const std::vector<CoreMappedFile>& files = core_.mapped_files();
  auto first = std::find_if(files.begin(), files.end(), [&](const CoreMappedFile& file) {
    return file.path == mapped_path && file.file_offset == 0;
  });
  if (first == files.end()) return std::nullopt;
  // Only the core's own bytes: reading the ELF header from the file would compare it to itself.
  const std::string in_core =
      elf_build_id([this](uint64_t where, void* out,
                          size_t size) { return core_.read_image(where, out, size).ok(); },
                   first->start);
  if (in_core.empty()) return std::nullopt;  // the core did not keep the file's first page
  const OpenedFile& source = opened(mapped_path);
  if (!source.fd.valid()) return std::nullopt;
  const int fd = source.fd.get();
  const std::string on_disk = elf_build_id(
      [fd](uint64_t where, void* out, size_t size) {
        return where <= static_cast<uint64_t>(INT64_MAX) - size &&
               pread_fully(fd, out, size, where) == size;
      },
      std::nullopt);
  if (on_disk == in_core) return std::nullopt;
  const std::string which = source.located == mapped_path
                                ? mapped_path
                                : absl::StrCat(source.located, " (for ", mapped_path, ")");
  return absl::StrCat(which, " does not match the core: build id ",
                      on_disk.empty() ? "none" : on_disk, " here, ", in_core, " in the core");
}

std::vector<std::string> CoreMemory::take_warnings() { return std::exchange(warnings_, {}); }

}  // namespace pystack
