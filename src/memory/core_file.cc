#include "memory/core_file.h"

#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/mman.h>
#include <sys/procfs.h>
#include <sys/stat.h>
#include <sys/user.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/errors.h"
#include "memory/unique_fd.h"

namespace pystack {
namespace {

// Bounds that keep a corrupt core from costing unbounded time or memory.
constexpr size_t kMaxProgramHeaders = 1 << 20;
constexpr size_t kMaxThreads = 1 << 16;
constexpr size_t kMaxAuxvEntries = 1024;

void init_libelf_once() {
  static const bool initialized = elf_version(EV_CURRENT) != EV_NONE;
  (void)initialized;
}

absl::Status bad_core(const std::string& path, const std::string& why,
                      const std::string& hint = "") {
  return make_error(ErrorKind::kBadCore, absl::StrCat(path, ": ", why),
                    hint.empty() ? absl::StrCat("give a core file (`file ", path,
                                                "` says \"core file\"), as the kernel or gdb's "
                                                "gcore write them")
                                 : hint);
}

absl::Status open_error(const std::string& path, int err) {
  if (err == ENOENT || err == ENOTDIR) {
    return make_error(ErrorKind::kNoSuchFile, absl::StrCat("no such core file: ", path),
                      "check the path given to --core");
  }
  if (err == EACCES || err == EPERM) {
    return make_error(ErrorKind::kPermissionDenied,
                      absl::StrCat("cannot read the core file ", path, ": ", std::strerror(err)),
                      "cores are written readable by their owner only: run as that user or root");
  }
  return make_error(ErrorKind::kBadCore,
                    absl::StrCat("cannot open the core file ", path, ": ", std::strerror(err)));
}

// a + b, or UINT64_MAX when that wraps.
uint64_t saturating_add(uint64_t a, uint64_t b) { return a + b < a ? UINT64_MAX : a + b; }

// A NUL-terminated string in a fixed-size field, bounded by the field.
std::string fixed_string(const char* field, size_t size) {
  return std::string(field, strnlen(field, size));
}

template <typename T>
T load(const uint8_t* bytes) {
  T value;
  std::memcpy(&value, bytes, sizeof value);
  return value;
}

// The checks that come before libelf sees the file: libelf converts foreign byte orders in
// place, and this reader knows only one kind of core.
absl::Status check_elf_header(const std::string& path, const uint8_t* data, uint64_t size) {
  if (size < sizeof(Elf64_Ehdr) && size >= SELFMAG && std::memcmp(data, ELFMAG, SELFMAG) == 0) {
    return bad_core(path,
                    absl::StrFormat("truncated core: %d bytes, too short for an ELF header", size),
                    "was the core cut short (disk full, a size limit)?");
  }
  if (size < sizeof(Elf64_Ehdr) || std::memcmp(data, ELFMAG, SELFMAG) != 0) {
    return bad_core(path, "not a core file (no ELF header)",
                    "give the core file of a crashed process, e.g. `core` or `core.PID`");
  }
  const auto ehdr = load<Elf64_Ehdr>(data);
  if (ehdr.e_ident[EI_CLASS] != ELFCLASS64 || ehdr.e_ident[EI_DATA] != ELFDATA2LSB ||
      ehdr.e_machine != EM_X86_64) {
    return bad_core(path, "not the core of an x86-64 process",
                    "pystack-dump reads Linux x86-64 cores only");
  }
  if (ehdr.e_type == ET_EXEC || ehdr.e_type == ET_DYN) {
    return bad_core(path, "not a core file (an ELF executable or library)",
                    "give the core with --core CORE and, if needed, the executable with "
                    "--executable PATH");
  }
  if (ehdr.e_type != ET_CORE) return bad_core(path, "not a core file (ELF type is not CORE)");
  if (ehdr.e_phentsize != sizeof(Elf64_Phdr)) {
    return bad_core(path, "corrupt core: bad program header size");
  }
  return absl::OkStatus();
}

// The kernel's (and gdb's) notes that matter here, all owned by "CORE".
constexpr uint32_t kNtFile = 0x46494c45;     // NT_FILE
constexpr uint32_t kNtSiginfo = 0x53494749;  // NT_SIGINFO

}  // namespace

CoreFile::~CoreFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

absl::StatusOr<std::unique_ptr<CoreFile>> CoreFile::open(const std::string& path) {
  // O_NONBLOCK: a FIFO given as the core must not hang us.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return open_error(path, errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return open_error(path, errno);
  if (!S_ISREG(st.st_mode)) return bad_core(path, "not a regular file");
  if (st.st_size == 0) return bad_core(path, "the file is empty", "was the core cut short?");

  std::unique_ptr<CoreFile> core(new CoreFile());
  core->path_ = path;
  core->size_ = static_cast<uint64_t>(st.st_size);
  // Mapped, not read: cores are as large as the process was, and a dump needs a few pages.
  void* address = ::mmap(nullptr, core->size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (address == MAP_FAILED) {
    return bad_core(path, absl::StrCat("cannot map the core: ", std::strerror(errno)));
  }
  core->data_ = static_cast<const uint8_t*>(address);
  if (absl::Status status = core->parse(); !status.ok()) return status;
  return core;
}

absl::Status CoreFile::parse() {
  if (absl::Status status = check_elf_header(path_, data_, size_); !status.ok()) return status;
  init_libelf_once();
  // libelf leaves a native-order image untouched (checked above), so the read-only map is safe.
  Elf* elf = elf_memory(reinterpret_cast<char*>(const_cast<uint8_t*>(data_)), size_);
  if (elf == nullptr) return bad_core(path_, absl::StrCat("unreadable ELF: ", elf_errmsg(-1)));
  struct ElfEnd {
    Elf* elf;
    ~ElfEnd() { elf_end(elf); }
  } end{elf};

  // Checked before libelf, which only says that it cannot read them.
  const auto ehdr = load<Elf64_Ehdr>(data_);
  if (ehdr.e_phnum != PN_XNUM &&
      (ehdr.e_phoff > size_ || ehdr.e_phnum > (size_ - ehdr.e_phoff) / sizeof(Elf64_Phdr))) {
    return bad_core(path_, "truncated core: the program headers are cut off",
                    "was the core cut short (disk full, a size limit)?");
  }
  size_t count = 0;
  if (elf_getphdrnum(elf, &count) != 0 || count == 0 || count > kMaxProgramHeaders) {
    return bad_core(path_, "corrupt core: no readable program headers");
  }
  std::vector<std::pair<uint64_t, uint64_t>> notes;  // (offset, size)
  for (size_t i = 0; i < count; ++i) {
    GElf_Phdr phdr;
    if (gelf_getphdr(elf, static_cast<int>(i), &phdr) == nullptr) continue;
    expected_size_ = std::max(expected_size_, saturating_add(phdr.p_offset, phdr.p_filesz));
    if (phdr.p_type == PT_NOTE) notes.emplace_back(phdr.p_offset, phdr.p_filesz);
    if (phdr.p_type != PT_LOAD) continue;
    CoreSegment segment;
    segment.address = phdr.p_vaddr;
    segment.memory_size = std::min(phdr.p_memsz, UINT64_MAX - phdr.p_vaddr);
    segment.offset = phdr.p_offset;
    segment.file_size = std::min(phdr.p_filesz, segment.memory_size);
    segment.available =
        phdr.p_offset >= size_ ? 0 : std::min(segment.file_size, size_ - phdr.p_offset);
    segment.readable = phdr.p_flags & PF_R;
    segment.writable = phdr.p_flags & PF_W;
    segment.executable = phdr.p_flags & PF_X;
    if (segment.memory_size > 0) segments_.push_back(segment);
  }
  std::sort(segments_.begin(), segments_.end(),
            [](const CoreSegment& a, const CoreSegment& b) { return a.address < b.address; });

  // The notes, as far as the file holds them.
  for (auto [offset, size] : notes) {
    if (offset >= size_) continue;
    const uint64_t present = std::min(size, size_ - offset);
    Elf_Data* data = elf_getdata_rawchunk(elf, static_cast<int64_t>(offset), present, ELF_T_NHDR);
    if (data == nullptr || data->d_buf == nullptr) continue;
    const auto* bytes = static_cast<const uint8_t*>(data->d_buf);
    GElf_Nhdr note;
    size_t name_offset = 0, desc_offset = 0;
    // gelf_getnote hands out only name and desc offsets inside the data, and 0 at the end or at
    // a malformed note.
    for (size_t next = 0;
         (next = gelf_getnote(data, next, &note, &name_offset, &desc_offset)) > 0;) {
      if (note.n_namesz != 5 || std::memcmp(bytes + name_offset, "CORE", 5) != 0) continue;
      parse_note(note.n_type, bytes + desc_offset, note.n_descsz);
    }
  }
  mark_lost_stacks();
  if (threads_.empty()) {
    if (truncated()) {
      return bad_core(path_,
                      absl::StrFormat("truncated core: %d of %d bytes, and its notes (threads, "
                                      "mapped files) are cut off",
                                      size_, expected_size_),
                      "was the core cut short (disk full, a size limit)?");
    }
    return bad_core(path_, "corrupt core: no thread (NT_PRSTATUS) in its notes");
  }
  signal_ = siginfo_signal_ != 0 ? siginfo_signal_ : threads_.front().signal;
  std::sort(files_.begin(), files_.end(),
            [](const CoreMappedFile& a, const CoreMappedFile& b) { return a.start < b.start; });
  return absl::OkStatus();
}

void CoreFile::parse_note(uint32_t type, const uint8_t* desc, size_t size) {
  switch (type) {
    case NT_PRSTATUS:
      parse_prstatus(desc, size);
      break;
    case NT_PRPSINFO:
      parse_prpsinfo(desc, size);
      break;
    case NT_AUXV:
      if (auxv_.empty()) parse_auxv(desc, size);
      break;
    case kNtFile:
      if (files_.empty()) parse_file_note(desc, size);
      break;
    case kNtSiginfo:
      // The first one belongs to the thread that received the signal.
      if (siginfo_signal_ == 0 && size >= sizeof(int)) siginfo_signal_ = load<int>(desc);
      break;
    default:
      break;
  }
}

void CoreFile::parse_prstatus(const uint8_t* desc, size_t size) {
  if (size < sizeof(struct elf_prstatus) || threads_.size() >= kMaxThreads) return;
  const auto status = load<struct elf_prstatus>(desc);
  CoreThread thread;
  thread.tid = status.pr_pid;
  thread.signal = status.pr_cursig;
  static_assert(sizeof(status.pr_reg) >= sizeof(struct user_regs_struct));
  struct user_regs_struct regs;
  std::memcpy(&regs, &status.pr_reg, sizeof regs);
  thread.fs_base = regs.fs_base;
  thread.registers = dwarf_registers(regs);
  thread.syscall = blocked_syscall(regs);
  threads_.push_back(thread);
}

void CoreFile::parse_prpsinfo(const uint8_t* desc, size_t size) {
  if (size < sizeof(struct elf_prpsinfo)) return;
  const auto info = load<struct elf_prpsinfo>(desc);
  process_.pid = info.pr_pid;
  process_.command = fixed_string(info.pr_fname, sizeof info.pr_fname);
  process_.arguments = fixed_string(info.pr_psargs, sizeof info.pr_psargs);
  while (!process_.arguments.empty() && process_.arguments.back() == ' ') {
    process_.arguments.pop_back();
  }
}

void CoreFile::parse_auxv(const uint8_t* desc, size_t size) {
  for (size_t i = 0; i + 16 <= size && auxv_.size() < kMaxAuxvEntries; i += 16) {
    const uint64_t type = load<uint64_t>(desc + i);
    if (type == AT_NULL) break;
    auxv_.emplace_back(type, load<uint64_t>(desc + i + 8));
  }
}

// NT_FILE: count, page size, `count` (start, end, offset in pages) triples, then `count`
// NUL-terminated paths.
void CoreFile::parse_file_note(const uint8_t* desc, size_t size) {
  if (size < 16) return;
  const uint64_t count = load<uint64_t>(desc);
  const uint64_t page_size = load<uint64_t>(desc + 8);
  if (page_size == 0 || (page_size & (page_size - 1)) != 0 || page_size > (1u << 30)) return;
  if (count > (size - 16) / 24) return;
  const uint8_t* names = desc + 16 + count * 24;
  const uint8_t* const names_end = desc + size;
  for (uint64_t i = 0; i < count && names < names_end; ++i) {
    const uint8_t* entry = desc + 16 + i * 24;
    const size_t length = strnlen(reinterpret_cast<const char*>(names), names_end - names);
    CoreMappedFile file;
    file.start = load<uint64_t>(entry);
    file.end = load<uint64_t>(entry + 8);
    const uint64_t pages = load<uint64_t>(entry + 16);
    file.path.assign(reinterpret_cast<const char*>(names), length);
    names += length + 1;
    if (file.end <= file.start || pages > UINT64_MAX / page_size) continue;
    file.file_offset = pages * page_size;
    files_.push_back(std::move(file));
  }
}

std::optional<uint64_t> CoreFile::auxv(uint64_t type) const {
  for (const auto& [entry_type, value] : auxv_) {
    if (entry_type == type) return value;
  }
  return std::nullopt;
}

const CoreSegment* CoreFile::segment_at(uint64_t address) const {
  auto after =
      std::upper_bound(segments_.begin(), segments_.end(), address,
                       [](uint64_t a, const CoreSegment& segment) { return a < segment.address; });
  if (after == segments_.begin()) return nullptr;
  const CoreSegment& segment = *(after - 1);
  return address - segment.address < segment.memory_size ? &segment : nullptr;
}

absl::Status CoreFile::read_image(uint64_t address, void* out, size_t size) const {
  if (size == 0) return absl::OkStatus();
  if (address + size < address) return absl::OutOfRangeError("read wraps around");
  auto* dest = static_cast<uint8_t*>(out);
  const uint64_t end = address + size;
  for (uint64_t cursor = address; cursor < end;) {
    const CoreSegment* segment = segment_at(cursor);
    if (segment == nullptr || cursor - segment->address >= segment->available) {
      return absl::NotFoundError(absl::StrFormat("0x%x is not in the core", cursor));
    }
    const uint64_t chunk = std::min(end - cursor, segment->available - (cursor - segment->address));
    std::memcpy(dest, data_ + segment->offset + (cursor - segment->address), chunk);
    dest += chunk;
    cursor += chunk;
  }
  return absl::OkStatus();
}

// On x86-64 the word at the thread pointer (fs_base) is the thread pointer itself (the TLS ABI:
// glibc's and musl's TCB start with a pointer to themselves), and the TCB sits at the top of the
// thread's stack mapping. A core whose copy of that word is anything else did not save that
// mapping: what it holds there is not the process's memory.
void CoreFile::mark_lost_stacks() {
  for (const CoreThread& thread : threads_) {
    if (thread.fs_base == 0) continue;
    uint64_t self = 0;
    if (!read_image(thread.fs_base, &self, sizeof self).ok()) continue;  // not in the core at all
    if (self == thread.fs_base) continue;
    for (CoreSegment& segment : segments_) {
      if (thread.fs_base - segment.address < segment.memory_size && segment.lost_thread == 0) {
        segment.lost_thread = thread.tid;
      }
    }
  }
}

std::vector<pid_t> CoreFile::lost_stacks() const {
  std::vector<pid_t> out;
  for (const CoreSegment& segment : segments_) {
    if (segment.lost_thread != 0) out.push_back(segment.lost_thread);
  }
  return out;
}

}  // namespace pystack
