#include "symbols/elf_file.h"

#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <sys/stat.h>

#include <bit>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/elf_notes.h"
#include "common/errors.h"

namespace pystack {
namespace {

// The kernel maps segments at page granularity; 4 KiB is the smallest page of every target we
// read, and a PT_LOAD with p_offset 0 is aligned to at least that.
constexpr uint64_t kPageSize = 4096;

void init_libelf_once() {
  // elf_version must precede every other libelf call; a function-local static runs it once,
  // thread-safely. Failure shows up as elf_begin returning null.
  static const bool initialized = elf_version(EV_CURRENT) != EV_NONE;
  (void)initialized;
}

absl::Status open_error(const std::string& path, int err) {
  std::string message = absl::StrCat("cannot open ", path, ": ", std::strerror(err));
  if (err == ENOENT || err == ENOTDIR) return make_error(ErrorKind::kNoSuchFile, message);
  if (err == EACCES || err == EPERM) {
    return make_error(ErrorKind::kPermissionDenied, message, "run as the owner of the file or as root");
  }
  return make_error(ErrorKind::kInternal, message);
}

absl::Status not_elf(const std::string& path, std::string_view why) {
  return make_error(ErrorKind::kNotElf, absl::StrCat(path, " is not an ELF file (", std::string(why), ")"));
}

// ---- Bounds-checked reads from section bytes (may be unaligned: the file is mmapped). ----

struct Bytes {
  const unsigned char* data = nullptr;
  uint64_t size = 0;

  bool has(uint64_t offset, uint64_t length) const {
    return offset <= size && length <= size - offset;
  }
  std::optional<uint64_t> read(uint64_t offset, uint64_t width) const {
    if (!has(offset, width)) return std::nullopt;
    if (width == 8) {
      uint64_t v;
      std::memcpy(&v, data + offset, 8);
      return v;
    }
    uint32_t v;
    std::memcpy(&v, data + offset, 4);
    return v;
  }
  std::optional<uint64_t> u32(uint64_t offset) const { return read(offset, 4); }
};

// The raw (unconverted) bytes of a section. Hash tables are read raw so that libelf never runs
// its own size computations on their untrusted headers; we parse them in host byte order, which
// is why a foreign-endian file gets no hash lookups.
std::optional<Bytes> raw_section_bytes(Elf* elf, size_t index) {
  if (index == 0) return std::nullopt;
  Elf_Scn* scn = elf_getscn(elf, index);
  if (scn == nullptr) return std::nullopt;
  const Elf_Data* data = elf_rawdata(scn, nullptr);
  if (data == nullptr || data->d_buf == nullptr) return std::nullopt;
  return Bytes{static_cast<const unsigned char*>(data->d_buf), data->d_size};
}

bool host_byte_order(Elf* elf) {
  const char* ident = elf_getident(elf, nullptr);
  if (ident == nullptr) return false;
  constexpr unsigned char kHost =
      std::endian::native == std::endian::little ? ELFDATA2LSB : ELFDATA2MSB;
  return static_cast<unsigned char>(ident[EI_DATA]) == kHost;
}

// ---- Symbol tables ----

struct SymbolTable {
  Elf* elf = nullptr;
  Elf_Data* data = nullptr;
  size_t strings = 0;  // section index of the string table
  uint64_t count = 0;
};

std::optional<SymbolTable> symbol_table(Elf* elf, size_t index) {
  if (index == 0) return std::nullopt;
  Elf_Scn* scn = elf_getscn(elf, index);
  GElf_Shdr shdr;
  if (scn == nullptr || gelf_getshdr(scn, &shdr) == nullptr) return std::nullopt;
  Elf_Data* data = elf_getdata(scn, nullptr);
  if (data == nullptr || data->d_buf == nullptr) return std::nullopt;
  size_t entry = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
  if (entry == 0) return std::nullopt;
  return SymbolTable{elf, data, shdr.sh_link, data->d_size / entry};
}

std::optional<GElf_Sym> symbol_at(const SymbolTable& table, uint64_t index) {
  if (index >= table.count || index > INT_MAX) return std::nullopt;
  GElf_Sym sym;
  // gelf_getsym checks the index against the data size itself, too.
  if (gelf_getsym(table.data, static_cast<int>(index), &sym) == nullptr) return std::nullopt;
  return sym;
}

bool name_is(const SymbolTable& table, const GElf_Sym& sym, std::string_view name) {
  // elf_strptr checks the offset against the string section and that the string ends inside it.
  const char* str = elf_strptr(table.elf, table.strings, sym.st_name);
  return str != nullptr && name == str;
}

// A match that the caller can use: defined here (undefined entries are imports of the name).
std::optional<ElfSymbol> match(const SymbolTable& table, uint64_t index, std::string_view name) {
  std::optional<GElf_Sym> sym = symbol_at(table, index);
  if (!sym || sym->st_shndx == SHN_UNDEF || !name_is(table, *sym, name)) return std::nullopt;
  return ElfSymbol{sym->st_value, sym->st_size};
}

uint32_t gnu_hash(std::string_view name) {
  uint32_t h = 5381;
  for (unsigned char c : name) h = h * 33 + c;
  return h;
}

uint32_t sysv_hash(std::string_view name) {
  uint32_t h = 0;
  for (unsigned char c : name) {
    h = (h << 4) + c;
    uint32_t g = h & 0xf0000000u;
    if (g != 0) h ^= g >> 24;
    h &= ~g;
  }
  return h;
}

// The bloom filter of .gnu.hash says "surely absent" or "maybe present". Unusable parameters
// (a corrupt file) make it say "maybe", so that only the bounded chain walk decides.
bool bloom_may_contain(const Bytes& hash, uint32_t bloom_size, uint32_t bloom_shift,
                       uint64_t word_bytes, uint32_t h) {
  if (bloom_size == 0 || bloom_shift >= 32) return true;
  const uint64_t bits = word_bytes * 8;
  std::optional<uint64_t> word = hash.read(16 + ((h / bits) % bloom_size) * word_bytes, word_bytes);
  if (!word) return true;
  uint64_t mask = (uint64_t{1} << (h % bits)) | (uint64_t{1} << ((h >> bloom_shift) % bits));
  return (*word & mask) == mask;
}

// Layout: nbuckets, symoffset, bloom_size, bloom_shift (u32 each), bloom[bloom_size] (class-sized
// words), buckets[nbuckets] (u32), chain[] (u32, one per symbol from symoffset on; bit 0 ends a
// chain). Every read is bounds-checked and the walk moves strictly forward through the symbol
// table, so a corrupt table ends after at most `count` steps.
std::optional<ElfSymbol> gnu_hash_lookup(const SymbolTable& table, const Bytes& hash,
                                         uint64_t word_bytes, std::string_view name) {
  auto nbuckets = hash.u32(0), symoffset = hash.u32(4), bloom_size = hash.u32(8),
       bloom_shift = hash.u32(12);
  if (!nbuckets || !symoffset || !bloom_size || !bloom_shift || *nbuckets == 0) return std::nullopt;
  const uint64_t buckets = 16 + *bloom_size * word_bytes;  // no overflow: u32 * 8
  const uint64_t chains = buckets + *nbuckets * 4;
  const uint32_t h = gnu_hash(name);
  if (!bloom_may_contain(hash, *bloom_size, *bloom_shift, word_bytes, h)) return std::nullopt;

  std::optional<uint64_t> first = hash.u32(buckets + (h % *nbuckets) * 4);
  if (!first || *first == 0 || *first < *symoffset) return std::nullopt;
  for (uint64_t index = *first; index < table.count; ++index) {
    std::optional<uint64_t> chain_hash = hash.u32(chains + (index - *symoffset) * 4);
    if (!chain_hash) return std::nullopt;
    if ((*chain_hash | 1) == (h | 1)) {
      if (std::optional<ElfSymbol> found = match(table, index, name)) return found;
    }
    if (*chain_hash & 1) return std::nullopt;
  }
  return std::nullopt;
}

// Layout: nbucket, nchain, bucket[nbucket], chain[nchain], in entries of `entry` bytes (4, or 8
// on a few 64-bit ABIs). A corrupt chain may loop, so the walk is cut after `count` steps.
std::optional<ElfSymbol> sysv_hash_lookup(const SymbolTable& table, const Bytes& hash,
                                          uint64_t entry, std::string_view name) {
  auto nbucket = hash.read(0, entry), nchain = hash.read(entry, entry);
  if (!nbucket || !nchain || *nbucket == 0) return std::nullopt;
  const uint64_t buckets = 2 * entry;
  if (*nbucket > hash.size / entry) return std::nullopt;  // keeps the next product in range
  const uint64_t chains = buckets + *nbucket * entry;
  const uint32_t h = sysv_hash(name);

  std::optional<uint64_t> index = hash.read(buckets + (h % *nbucket) * entry, entry);
  for (uint64_t steps = 0; index && *index != STN_UNDEF && steps < table.count; ++steps) {
    if (*index >= *nchain || *index >= table.count) return std::nullopt;
    if (std::optional<ElfSymbol> found = match(table, *index, name)) return found;
    index = hash.read(chains + *index * entry, entry);
  }
  return std::nullopt;
}

// ---- Program headers and notes ----

std::optional<GElf_Phdr> program_header(Elf* elf, size_t index) {
  GElf_Phdr phdr;
  if (gelf_getphdr(elf, static_cast<int>(index), &phdr) == nullptr) return std::nullopt;
  return phdr;
}

size_t program_header_count(Elf* elf) {
  size_t count = 0;
  if (elf_getphdrnum(elf, &count) != 0) return 0;
  return count;
}

// The hex of the NT_GNU_BUILD_ID note in `data`, or "". libelf has already put the note
// headers in this machine's byte order; ELF_T_NHDR8 marks notes padded to 8 bytes.
std::string build_id_in(Elf_Data* data) {
  if (data == nullptr || data->d_buf == nullptr) return "";
  return gnu_build_id_in_notes(
      std::string_view(static_cast<const char*>(data->d_buf), data->d_size),
      data->d_type == ELF_T_NHDR8 ? 8 : 4);
}

}  // namespace

ElfFile::ElfFile(std::string path, UniqueFd fd, Elf* elf)
    : path_(std::move(path)), fd_(std::move(fd)), elf_(elf) {}

ElfFile::ElfFile(ElfFile&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::move(other.fd_)),
      elf_(std::exchange(other.elf_, nullptr)),
      sections_(other.sections_) {}

ElfFile& ElfFile::operator=(ElfFile&& other) noexcept {
  if (this != &other) {
    // The old handle must be ended before its fd is replaced (and closed).
    if (elf_ != nullptr) elf_end(elf_);
    elf_ = std::exchange(other.elf_, nullptr);
    fd_ = std::move(other.fd_);
    path_ = std::move(other.path_);
    sections_ = other.sections_;
  }
  return *this;
}

ElfFile::~ElfFile() {
  // Runs before fd_ is closed (members are destroyed after the body).
  if (elf_ != nullptr) elf_end(elf_);
}

absl::StatusOr<ElfFile> ElfFile::open(const std::string& path) {
  init_libelf_once();
  // O_NONBLOCK: a hostile mapping path may name a FIFO, and opening one must not hang us.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return open_error(path, errno);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return open_error(path, errno);
  if (!S_ISREG(st.st_mode)) return not_elf(path, "not a regular file");

  Elf* elf = elf_begin(fd.get(), ELF_C_READ_MMAP, nullptr);
  if (elf == nullptr) return not_elf(path, elf_errmsg(-1));
  ElfFile file(path, std::move(fd), elf);  // owns `elf` from here on, whatever happens next
  GElf_Ehdr ehdr;
  if (elf_kind(elf) != ELF_K_ELF) return not_elf(path, "bad magic");
  if (gelf_getehdr(elf, &ehdr) == nullptr) return not_elf(path, elf_errmsg(-1));

  // Sections are found by type, not name: the names are just as untrusted and cost a lookup.
  Elf_Scn* scn = nullptr;
  Sections& s = file.sections_;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr) continue;
    size_t index = elf_ndxscn(scn);
    if (shdr.sh_type == SHT_DYNSYM && s.dynsym == 0) s.dynsym = index;
    if (shdr.sh_type == SHT_SYMTAB && s.symtab == 0) s.symtab = index;
  }
  scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || s.dynsym == 0 || shdr.sh_link != s.dynsym) continue;
    if (shdr.sh_type == SHT_GNU_HASH && s.gnu_hash == 0) s.gnu_hash = elf_ndxscn(scn);
    if (shdr.sh_type == SHT_HASH && s.sysv_hash == 0) s.sysv_hash = elf_ndxscn(scn);
  }
  return file;
}

std::optional<ElfSymbol> ElfFile::find_dynamic_symbol(std::string_view name) const {
  std::optional<SymbolTable> table = symbol_table(elf_, sections_.dynsym);
  if (!table || !host_byte_order(elf_)) return std::nullopt;
  if (std::optional<Bytes> hash = raw_section_bytes(elf_, sections_.gnu_hash)) {
    uint64_t word_bytes = gelf_getclass(elf_) == ELFCLASS64 ? 8 : 4;
    return gnu_hash_lookup(*table, *hash, word_bytes, name);
  }
  if (std::optional<Bytes> hash = raw_section_bytes(elf_, sections_.sysv_hash)) {
    GElf_Shdr shdr;
    Elf_Scn* scn = elf_getscn(elf_, sections_.sysv_hash);
    uint64_t entry = scn && gelf_getshdr(scn, &shdr) && shdr.sh_entsize == 8 ? 8 : 4;
    return sysv_hash_lookup(*table, *hash, entry, name);
  }
  return std::nullopt;
}

std::optional<ElfSymbol> ElfFile::find_symbol(std::string_view name) const {
  if (std::optional<ElfSymbol> found = find_dynamic_symbol(name)) return found;
  std::optional<SymbolTable> table = symbol_table(elf_, sections_.symtab);
  if (!table) return std::nullopt;
  // .symtab has no hash table. A global definition wins over a local one of the same name (static
  // variables of different files may share a name); otherwise the first local is taken.
  std::optional<ElfSymbol> local;
  for (uint64_t i = 1; i < table->count; ++i) {
    std::optional<ElfSymbol> found = match(*table, i, name);
    if (!found) continue;
    std::optional<GElf_Sym> sym = symbol_at(*table, i);
    if (GELF_ST_BIND(sym->st_info) != STB_LOCAL) return found;
    if (!local) local = found;
  }
  return local;
}

std::optional<ElfSection> ElfFile::find_section(std::string_view name) const {
  size_t names = 0;
  if (elf_getshdrstrndx(elf_, &names) != 0) return std::nullopt;
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf_, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr) continue;
    const char* section_name = elf_strptr(elf_, names, shdr.sh_name);
    if (section_name != nullptr && name == section_name) {
      return ElfSection{shdr.sh_addr, shdr.sh_size, shdr.sh_offset};
    }
  }
  return std::nullopt;
}

std::optional<std::string> ElfFile::bytes_at(uint64_t address, uint64_t size) const {
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf_, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type == SHT_NOBITS) continue;
    if ((shdr.sh_flags & SHF_ALLOC) == 0 || address < shdr.sh_addr) continue;
    const uint64_t offset = address - shdr.sh_addr;
    if (offset >= shdr.sh_size) continue;
    std::optional<Bytes> bytes = raw_section_bytes(elf_, elf_ndxscn(scn));
    if (!bytes || !bytes->has(offset, size)) return std::nullopt;
    return std::string(reinterpret_cast<const char*>(bytes->data + offset), size);
  }
  return std::nullopt;
}

uint64_t ElfFile::base_address() const {
  // The segment that starts at file offset 0 is what the mapping of offset 0 shows. Without one
  // (unusual linkers), the lowest PT_LOAD extrapolated back to offset 0 is where it would be.
  std::optional<uint64_t> lowest;
  for (size_t i = 0, n = program_header_count(elf_); i < n; ++i) {
    std::optional<GElf_Phdr> phdr = program_header(elf_, i);
    if (!phdr || phdr->p_type != PT_LOAD) continue;
    if (phdr->p_offset == 0) return phdr->p_vaddr & ~(kPageSize - 1);
    if (phdr->p_vaddr >= phdr->p_offset && (!lowest || phdr->p_vaddr - phdr->p_offset < *lowest)) {
      lowest = phdr->p_vaddr - phdr->p_offset;
    }
  }
  return lowest.value_or(0) & ~(kPageSize - 1);
}

bool ElfFile::is_shared_object() const {
  GElf_Ehdr ehdr;
  return gelf_getehdr(elf_, &ehdr) != nullptr && ehdr.e_type == ET_DYN;
}

std::string ElfFile::build_id() const {
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf_, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != SHT_NOTE) continue;
    std::string id = build_id_in(elf_getdata(scn, nullptr));
    if (!id.empty()) return id;
  }
  // A file without section headers still has its notes in PT_NOTE segments.
  for (size_t i = 0, n = program_header_count(elf_); i < n; ++i) {
    std::optional<GElf_Phdr> phdr = program_header(elf_, i);
    if (!phdr || phdr->p_type != PT_NOTE) continue;
    std::string id =
        build_id_in(elf_getdata_rawchunk(elf_, phdr->p_offset, phdr->p_filesz, ELF_T_NHDR));
    if (!id.empty()) return id;
  }
  return "";
}

}  // namespace pystack
