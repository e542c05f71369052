#include "symbols/dynamic_symbols.h"

#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <set>
#include <utility>

#include "memory/unique_fd.h"
#include "symbols/elf_file.h"

namespace pystack {
namespace {

// The loader's page on x86-64: l_map_start is the first PT_LOAD's address rounded down to it.
constexpr uint64_t kPageSize = 4096;
// Bounds on what the target's memory may make us walk or read.
constexpr size_t kMaxObjects = 4096;      // link-map entries, all namespaces together
constexpr size_t kMaxNamespaces = 16;     // glibc's DL_NNS
constexpr size_t kMaxNameBytes = 4096;    // PATH_MAX: l_name, argv[0]
constexpr uint64_t kMaxDynamicEntries = 4096;
constexpr uint64_t kMaxImageBytes = 1 << 20;    // an ELF image read from memory (a vDSO: 8 KiB)
constexpr uint64_t kMaxProgramHeaders = 1024;
constexpr uint64_t kMaxSymbolVisits = 1 << 22;  // one object's hash-table walk
constexpr uint64_t kMaxSymbols = 1 << 24;       // .dynsym entries of one object (a few 100k at most)

// struct r_debug / r_debug_extended and the public head of struct link_map (<link.h>, 64-bit).
constexpr uint64_t kRDebugMap = 8;
constexpr uint64_t kRDebugNext = 40;  // r_debug_extended.r_next, when r_version >= 2
struct LinkMapHead {
  uint64_t l_addr;  // the load bias
  uint64_t l_name;
  uint64_t l_ld;    // the dynamic section, in memory
  uint64_t l_next;
  uint64_t l_prev;
};

void init_libelf_once() {
  // elf_version must precede every other libelf call (as in elf_file.cc).
  static const bool initialized = elf_version(EV_CURRENT) != EV_NONE;
  (void)initialized;
}

// A NUL-terminated string of the target, at most `max` bytes; nullopt when unreadable or
// unterminated. Read in pieces that never cross a 256-byte boundary, so a string that ends
// just before unmapped memory is still read whole.
std::optional<std::string> read_c_string(const RemoteMemory& memory, uint64_t address,
                                         size_t max) {
  constexpr uint64_t kPiece = 256;
  std::string out;
  char piece[kPiece];
  while (out.size() < max) {
    const uint64_t at = address + out.size();
    if (at < address) return std::nullopt;  // wrapped around the address space
    const uint64_t size = kPiece - at % kPiece;
    if (!memory.read(at, piece, size).ok()) return std::nullopt;
    const void* nul = std::memchr(piece, '\0', size);
    if (nul != nullptr) {
      out.append(piece, static_cast<const char*>(nul) - piece);
      return out.size() <= max ? std::optional(out) : std::nullopt;
    }
    out.append(piece, size);
  }
  return std::nullopt;
}

std::optional<uint64_t> read_word(const RemoteMemory& memory, uint64_t address) {
  absl::StatusOr<uint64_t> value = read_value<uint64_t>(memory, address);
  if (!value.ok()) return std::nullopt;
  return *value;
}

// libelf over an object's file, or over a copy of its image read from the target's memory.
class ElfImage {
 public:
  static std::unique_ptr<ElfImage> open_file(const std::string& path) {
    init_libelf_once();
    // O_NONBLOCK: a hostile mapping path may name a FIFO.
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    struct stat st;
    if (!fd.valid() || fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return nullptr;
    std::unique_ptr<ElfImage> image(new ElfImage);
    image->fd_ = std::move(fd);
    image->elf_ = elf_begin(image->fd_.get(), ELF_C_READ_MMAP, nullptr);
    return checked(std::move(image));
  }

  static std::unique_ptr<ElfImage> from_bytes(std::vector<char> bytes) {
    init_libelf_once();
    std::unique_ptr<ElfImage> image(new ElfImage);
    image->bytes_ = std::move(bytes);
    image->elf_ = elf_memory(image->bytes_.data(), image->bytes_.size());
    return checked(std::move(image));
  }

  ~ElfImage() {
    if (elf_ != nullptr) elf_end(elf_);  // before fd_ closes
  }
  ElfImage(const ElfImage&) = delete;
  ElfImage& operator=(const ElfImage&) = delete;

  Elf* elf() const { return elf_; }

 private:
  ElfImage() = default;
  static std::unique_ptr<ElfImage> checked(std::unique_ptr<ElfImage> image) {
    GElf_Ehdr ehdr;
    if (image->elf_ == nullptr || elf_kind(image->elf_) != ELF_K_ELF ||
        gelf_getehdr(image->elf_, &ehdr) == nullptr) {
      return nullptr;
    }
    return image;
  }

  UniqueFd fd_;
  std::vector<char> bytes_;
  Elf* elf_ = nullptr;
};

// The ELF image of an object the target has no file mapping for (the vDSO), read from its
// memory at `address`: headers, then everything up to the end of the section headers.
std::unique_ptr<ElfImage> image_from_memory(const RemoteMemory& memory, uint64_t address) {
  absl::StatusOr<Elf64_Ehdr> ehdr = read_value<Elf64_Ehdr>(memory, address);
  if (!ehdr.ok() || std::memcmp(ehdr->e_ident, ELFMAG, SELFMAG) != 0 ||
      ehdr->e_ident[EI_CLASS] != ELFCLASS64) {
    return nullptr;
  }
  // Each product is below 2^32 (16-bit counts and sizes), each sum below 2^65: checked below.
  const uint64_t headers = uint64_t{ehdr->e_phnum} * ehdr->e_phentsize;
  const uint64_t sections = uint64_t{ehdr->e_shnum} * ehdr->e_shentsize;
  if (ehdr->e_phoff > kMaxImageBytes || ehdr->e_shoff > kMaxImageBytes) return nullptr;
  const uint64_t size = std::max({ehdr->e_phoff + headers, ehdr->e_shoff + sections,
                                  uint64_t{sizeof(Elf64_Ehdr)}});
  if (size > kMaxImageBytes) return nullptr;
  std::vector<char> bytes(size);
  if (!memory.read(address, bytes.data(), bytes.size()).ok()) return nullptr;
  return ElfImage::from_bytes(std::move(bytes));
}

struct Segment {
  uint64_t vaddr = 0;
  uint64_t offset = 0;
  uint64_t memsz = 0;
};

// What the program headers say, in their order.
struct Layout {
  bool shared = false;  // ET_DYN
  std::vector<Segment> loads;
  std::optional<Segment> dynamic;
  std::string interpreter;  // PT_INTERP
};

Layout layout_of(Elf* elf) {
  Layout layout;
  GElf_Ehdr ehdr;
  if (gelf_getehdr(elf, &ehdr) == nullptr) return layout;
  layout.shared = ehdr.e_type == ET_DYN;
  size_t count = 0;
  if (elf_getphdrnum(elf, &count) != 0) return layout;
  count = std::min<size_t>(count, kMaxProgramHeaders);
  for (size_t i = 0; i < count; ++i) {
    GElf_Phdr phdr;
    if (gelf_getphdr(elf, static_cast<int>(i), &phdr) == nullptr) continue;
    const Segment segment{phdr.p_vaddr, phdr.p_offset, phdr.p_memsz};
    if (phdr.p_type == PT_LOAD) layout.loads.push_back(segment);
    if (phdr.p_type == PT_DYNAMIC && !layout.dynamic) layout.dynamic = segment;
    if (phdr.p_type == PT_INTERP && layout.interpreter.empty() && phdr.p_filesz < kMaxNameBytes) {
      Elf_Data* data = elf_getdata_rawchunk(elf, phdr.p_offset, phdr.p_filesz, ELF_T_BYTE);
      if (data != nullptr && data->d_buf != nullptr) {
        const char* text = static_cast<const char*>(data->d_buf);
        layout.interpreter.assign(text, strnlen(text, data->d_size));
      }
    }
  }
  return layout;
}

// The load bias of a file the target mapped at `path`: where its mapping of the first
// PT_LOAD's page lies, less that page's link-time address (0 for an ET_EXEC file).
std::optional<uint64_t> bias_from_mappings(const Layout& layout, const std::string& path,
                                           const std::vector<MemoryMapping>& mappings) {
  if (!layout.shared) return 0;
  if (layout.loads.empty()) return std::nullopt;
  const Segment& first = layout.loads.front();
  const uint64_t page_offset = first.offset & ~(kPageSize - 1);
  std::optional<uint64_t> start;
  for (const MemoryMapping& mapping : mappings) {
    if (mapping.path == path && mapping.file_offset == page_offset &&
        (!start || mapping.start < *start)) {
      start = mapping.start;
    }
  }
  if (!start) return std::nullopt;
  return *start - (first.vaddr & ~(kPageSize - 1));
}

// One entry of the dynamic symbol table that glibc's _dl_addr would consider, in the order it
// considers them.
struct Candidate {
  uint64_t value = 0;
  uint64_t size = 0;
  uint32_t name = 0;       // st_name
  bool undefined = false;  // SHN_UNDEF (a PLT address the executable exports)
};

// Bounds-checked reads from a section's raw bytes.
struct Bytes {
  const unsigned char* data = nullptr;
  uint64_t size = 0;
  std::optional<uint32_t> u32(uint64_t offset) const {
    if (offset > size || size - offset < 4) return std::nullopt;
    uint32_t v;
    std::memcpy(&v, data + offset, 4);
    return v;
  }
};

std::optional<Bytes> raw_bytes(Elf_Scn* scn) {
  if (scn == nullptr) return std::nullopt;
  const Elf_Data* data = elf_rawdata(scn, nullptr);
  if (data == nullptr || data->d_buf == nullptr) return std::nullopt;
  return Bytes{static_cast<const unsigned char*>(data->d_buf), data->d_size};
}

// The dynamic symbol table and what glibc reads of it: DT_SYMTAB, DT_STRTAB/DT_STRSZ and the
// hash table. Found by section type, as libelf has them (the section headers describe the same
// bytes the dynamic section points at in a file that was not tampered with).
struct DynamicTable {
  Elf_Data* symbols = nullptr;
  uint64_t count = 0;
  size_t strings = 0;        // section index of .dynstr
  uint64_t strings_size = 0;  // DT_STRSZ
  Elf_Scn* gnu_hash = nullptr;
  Elf_Scn* sysv_hash = nullptr;
};

std::optional<DynamicTable> dynamic_table(Elf* elf) {
  DynamicTable table;
  size_t dynsym = 0;
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != SHT_DYNSYM) continue;
    dynsym = elf_ndxscn(scn);
    table.symbols = elf_getdata(scn, nullptr);
    table.strings = shdr.sh_link;
    break;
  }
  if (dynsym == 0 || table.symbols == nullptr || table.symbols->d_buf == nullptr) {
    return std::nullopt;
  }
  const size_t entry = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
  if (entry == 0) return std::nullopt;
  table.count = std::min<uint64_t>(table.symbols->d_size / entry, kMaxSymbols);
  GElf_Shdr strings;
  Elf_Scn* strings_scn = elf_getscn(elf, table.strings);
  if (strings_scn == nullptr || gelf_getshdr(strings_scn, &strings) == nullptr) {
    return std::nullopt;
  }
  table.strings_size = strings.sh_size;
  scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_link != dynsym) continue;
    if (shdr.sh_type == SHT_GNU_HASH && table.gnu_hash == nullptr) table.gnu_hash = scn;
    if (shdr.sh_type == SHT_HASH && table.sysv_hash == nullptr) table.sysv_hash = scn;
  }
  return table;
}

// elf/dl-addr.c, determine_info: the symbols it looks at and the ones it skips.
//  - With DT_GNU_HASH: every symbol the hash table references (bucket by bucket, each chain to
//    its end bit), skipping SHN_UNDEF entries whose value is 0, SHN_ABS and STT_TLS ones.
//  - Else: the table from its start to DT_HASH's nchain (to the end without DT_HASH), keeping
//    only global or weak symbols that are not hidden or internal, with the same skips.
//  - In both, a name beyond DT_STRSZ is skipped.
std::vector<Candidate> candidates_of(Elf* elf) {
  std::vector<Candidate> out;
  const char* ident = elf_getident(elf, nullptr);
  constexpr unsigned char kHost =
      std::endian::native == std::endian::little ? ELFDATA2LSB : ELFDATA2MSB;
  // Hash tables are parsed raw, in this machine's byte order: a foreign file gets no symbols.
  if (ident == nullptr || static_cast<unsigned char>(ident[EI_DATA]) != kHost) return out;
  std::optional<DynamicTable> table = dynamic_table(elf);
  if (!table) return out;

  // A symbol seen again cannot change _dl_addr's answer (only a strictly greater value wins):
  // each is kept once, so a hostile table that revisits entries costs no memory.
  std::vector<bool> seen(table->count, false);
  auto consider = [&](uint64_t index, bool needs_global) {
    GElf_Sym sym;
    if (index >= table->count || seen[index] ||
        gelf_getsym(table->symbols, static_cast<int>(index), &sym) == nullptr) {
      return;
    }
    seen[index] = true;
    if (needs_global) {
      const int bind = GELF_ST_BIND(sym.st_info);
      const int visibility = GELF_ST_VISIBILITY(sym.st_other);
      if (bind != STB_GLOBAL && bind != STB_WEAK) return;
      if (visibility == STV_HIDDEN || visibility == STV_INTERNAL) return;
    }
    if (GELF_ST_TYPE(sym.st_info) == STT_TLS) return;
    if (sym.st_shndx == SHN_UNDEF && sym.st_value == 0) return;
    if (sym.st_shndx == SHN_ABS) return;
    if (sym.st_name >= table->strings_size) return;
    out.push_back({sym.st_value, sym.st_size, sym.st_name, sym.st_shndx == SHN_UNDEF});
  };

  if (std::optional<Bytes> hash = raw_bytes(table->gnu_hash)) {
    // nbuckets, symoffset, bloom_size, bloom_shift (u32), bloom[bloom_size] (class-sized words),
    // buckets[nbuckets] (u32), then one u32 per symbol from symoffset on (bit 0 ends a chain).
    auto nbuckets = hash->u32(0), symoffset = hash->u32(4), bloom_size = hash->u32(8);
    if (!nbuckets || !symoffset || !bloom_size) return out;
    const uint64_t word = gelf_getclass(elf) == ELFCLASS64 ? 8 : 4;
    const uint64_t buckets = 16 + uint64_t{*bloom_size} * word;
    const uint64_t chains = buckets + uint64_t{*nbuckets} * 4;
    uint64_t visits = 0;
    for (uint64_t bucket = 0; bucket < *nbuckets; ++bucket) {
      std::optional<uint32_t> first = hash->u32(buckets + bucket * 4);
      if (!first) break;  // the table ends here
      if (*first == 0) continue;
      // glibc reads chain_zero[index], chain_zero = chains - symoffset: an index below
      // symoffset would read the buckets, which a sound table never does.
      for (uint64_t index = *first; index >= *symoffset && visits < kMaxSymbolVisits;
           ++index, ++visits) {
        std::optional<uint32_t> chain = hash->u32(chains + (index - *symoffset) * 4);
        if (!chain || index >= table->count) break;
        consider(index, /*needs_global=*/false);
        if (*chain & 1) break;
      }
    }
    return out;
  }
  uint64_t end = table->count;
  if (std::optional<Bytes> hash = raw_bytes(table->sysv_hash)) {
    std::optional<uint32_t> nchain = hash->u32(4);
    end = nchain ? std::min<uint64_t>(*nchain, end) : 0;
  }
  for (uint64_t index = 0; index < end && index < kMaxSymbolVisits; ++index) {
    consider(index, /*needs_global=*/true);
  }
  return out;
}

}  // namespace

struct DynamicSymbolizer::Object {
  uint64_t bias = 0;     // l_addr
  std::string name;      // l_name
  bool executable = false;  // the main map: dladdr names it by argv[0] when l_name is ""
  // The file mapping the object's dynamic section (l_ld) lies in: its file is the object's.
  // None for the vDSO, whose image is read from memory at l_addr.
  std::optional<MemoryMapping> mapping;
  // That file's mappings around it: an address outside cannot be the object's, which spares
  // opening files for nothing.
  uint64_t window_start = 0, window_end = 0;
  // Made up from the mappings (no link map): the bias comes from the program headers.
  bool bias_from_mapping = false;

  // Loaded on first use.
  bool loaded = false;
  std::unique_ptr<ElfImage> image;
  bool has_extent = false;
  uint64_t map_start = 0, map_end = 0;  // l_map_start, l_map_end
  bool contiguous = true;                // l_contiguous
  std::vector<Segment> loads;
  std::vector<Candidate> candidates;
  size_t strings = 0;

  // _dl_find_dso_for_object: within [l_map_start, l_map_end), and for an object mapped with
  // holes (only the executable can be: ld.so maps libraries in one piece) within a PT_LOAD.
  bool holds(uint64_t address) const {
    if (address < map_start || address >= map_end) return false;
    if (contiguous) return true;
    for (const Segment& load : loads) {
      if (address - bias - load.vaddr < load.memsz) return true;  // glibc's unsigned test
    }
    return false;
  }
};

DynamicSymbolizer::DynamicSymbolizer(const Target& target) : target_(target) {
  read_link_map();
  if (objects_.empty()) objects_from_mappings();
}

DynamicSymbolizer::~DynamicSymbolizer() = default;

namespace {

// The mapping holding `address` and the span of that file's mappings next to it (sorted by
// address), or nullopt.
std::optional<std::pair<MemoryMapping, std::pair<uint64_t, uint64_t>>> file_mapping_at(
    const std::vector<MemoryMapping>& sorted, uint64_t address) {
  auto it = std::upper_bound(sorted.begin(), sorted.end(), address,
                             [](uint64_t a, const MemoryMapping& m) { return a < m.start; });
  if (it == sorted.begin()) return std::nullopt;
  --it;
  if (address >= it->end || it->path.empty() || it->path[0] == '[') return std::nullopt;
  auto first = it, last = it;
  while (first != sorted.begin() && std::prev(first)->path == it->path) --first;
  while (std::next(last) != sorted.end() && std::next(last)->path == it->path) ++last;
  return std::pair(*it, std::pair(first->start, last->end));
}

std::vector<MemoryMapping> sorted_mappings(const Target& target) {
  std::vector<MemoryMapping> sorted = target.mappings();
  std::sort(sorted.begin(), sorted.end(),
            [](const MemoryMapping& a, const MemoryMapping& b) { return a.start < b.start; });
  return sorted;
}

}  // namespace

// r_debug through the executable's DT_DEBUG (which ld.so fills in at start-up), then each
// namespace's chain of link maps, in the order glibc searches them.
void DynamicSymbolizer::read_link_map() {
  const std::vector<MemoryMapping>& mappings = target_.mappings();
  if (mappings.empty()) return;
  const MemoryMapping& executable = mappings.front();
  std::unique_ptr<ElfImage> image = ElfImage::open_file(target_.file_of(executable));
  if (!image) return;
  const Layout layout = layout_of(image->elf());
  interpreter_path_ = layout.interpreter;
  std::optional<uint64_t> bias = bias_from_mappings(layout, executable.path, mappings);
  if (!bias || !layout.dynamic) return;

  const RemoteMemory& memory = target_.memory();
  uint64_t r_debug = 0;
  const uint64_t entries = std::min(layout.dynamic->memsz / sizeof(Elf64_Dyn), kMaxDynamicEntries);
  for (uint64_t i = 0; i < entries; ++i) {
    absl::StatusOr<Elf64_Dyn> dyn =
        read_value<Elf64_Dyn>(memory, *bias + layout.dynamic->vaddr + i * sizeof(Elf64_Dyn));
    if (!dyn.ok() || dyn->d_tag == DT_NULL) break;
    if (dyn->d_tag == DT_DEBUG) r_debug = dyn->d_un.d_ptr;
  }

  const std::vector<MemoryMapping> sorted = sorted_mappings(target_);
  std::set<uint64_t> seen_namespaces, seen_maps;
  for (size_t ns = 0; r_debug != 0 && ns < kMaxNamespaces && seen_namespaces.insert(r_debug).second;
       ++ns) {
    absl::StatusOr<int32_t> version = read_value<int32_t>(memory, r_debug);
    std::optional<uint64_t> map = read_word(memory, r_debug + kRDebugMap);
    if (!version.ok() || !map) break;
    bool first_in_namespace = true;
    while (*map != 0 && objects_.size() < kMaxObjects && seen_maps.insert(*map).second) {
      absl::StatusOr<LinkMapHead> head = read_value<LinkMapHead>(memory, *map);
      if (!head.ok()) break;
      auto object = std::make_unique<Object>();
      object->bias = head->l_addr;
      object->name = read_c_string(memory, head->l_name, kMaxNameBytes).value_or("");
      // Only the first object of the first namespace is the program (lt_executable).
      object->executable = ns == 0 && first_in_namespace;
      if (auto found = file_mapping_at(sorted, head->l_ld)) {
        object->mapping = found->first;
        std::tie(object->window_start, object->window_end) = found->second;
      }
      objects_.push_back(std::move(object));
      first_in_namespace = false;
      map = head->l_next;
    }
    // r_debug_extended (glibc 2.35+, r_version 2) chains the other namespaces' r_debug.
    std::optional<uint64_t> next = *version >= 2 ? read_word(memory, r_debug + kRDebugNext)
                                                 : std::nullopt;
    r_debug = next.value_or(0);
  }
  from_link_map_ = !objects_.empty();
}

// Without a readable link map (a core cut short, a process caught before ld.so filled in
// DT_DEBUG): one object per mapped file, in address order, named as mapped. The loader's name
// may differ (a symlink in its search path), so this is a best guess, said by from_link_map().
void DynamicSymbolizer::objects_from_mappings() {
  const std::vector<MemoryMapping>& mappings = target_.mappings();
  if (mappings.empty()) return;
  const std::string executable = mappings.front().path;
  const std::vector<MemoryMapping> sorted = sorted_mappings(target_);
  std::set<std::string> seen;
  for (const MemoryMapping& mapping : sorted) {
    if (objects_.size() >= kMaxObjects) break;
    if (mapping.path.empty() || mapping.path[0] == '[' || !seen.insert(mapping.path).second) {
      continue;
    }
    auto object = std::make_unique<Object>();
    object->executable = mapping.path == executable;
    object->name = object->executable ? "" : mapping.path;
    object->bias_from_mapping = true;
    if (auto found = file_mapping_at(sorted, mapping.start)) {
      object->mapping = found->first;
      std::tie(object->window_start, object->window_end) = found->second;
    }
    objects_.push_back(std::move(object));
  }
  // The program first, as in a link map.
  std::stable_partition(objects_.begin(), objects_.end(),
                        [](const std::unique_ptr<Object>& o) { return o->executable; });
}

void DynamicSymbolizer::load(Object& object) const {
  if (object.loaded) return;
  object.loaded = true;
  object.image = object.mapping ? ElfImage::open_file(target_.file_of(*object.mapping))
                                : image_from_memory(target_.memory(), object.bias);
  if (!object.image) return;
  const Layout layout = layout_of(object.image->elf());
  if (object.bias_from_mapping) {
    std::optional<uint64_t> bias = bias_from_mappings(layout, object.mapping->path, target_.mappings());
    if (!bias) return;
    object.bias = *bias;
  }
  if (layout.loads.empty()) return;
  object.loads = layout.loads;
  if (object.executable) {
    // rtld.c for the main map: the lowest page to the highest end over all PT_LOADs, and
    // contiguous only when each segment starts on the page after the previous one's end.
    object.map_start = UINT64_MAX;
    uint64_t expected = 0;
    for (const Segment& load : layout.loads) {
      const uint64_t start = object.bias + (load.vaddr & ~(kPageSize - 1));
      const uint64_t end = object.bias + load.vaddr + load.memsz;
      object.map_start = std::min(object.map_start, start);
      object.map_end = std::max(object.map_end, end);
      if (expected != 0 && expected != start) object.contiguous = false;
      expected = (end + kPageSize - 1) & ~(kPageSize - 1);
    }
  } else {
    // _dl_map_segments: from the first segment's page to the last segment's end, in one piece.
    object.map_start = object.bias + (layout.loads.front().vaddr & ~(kPageSize - 1));
    object.map_end = object.bias + layout.loads.back().vaddr + layout.loads.back().memsz;
  }
  object.has_extent = true;
  std::optional<DynamicTable> table = dynamic_table(object.image->elf());
  if (table) object.strings = table->strings;
  object.candidates = candidates_of(object.image->elf());
}

DynamicSymbolizer::Object* DynamicSymbolizer::object_at(uint64_t address) const {
  for (const std::unique_ptr<Object>& object : objects_) {
    if (object->mapping &&
        (address < object->window_start || address >= object->window_end)) {
      continue;
    }
    load(*object);
    if (object->has_extent ? object->holds(address) : object->mapping.has_value()) {
      // Without program headers (its file is gone) the mappings are all there is to go by.
      return object.get();
    }
  }
  return nullptr;
}

CrashCFrame DynamicSymbolizer::describe(uint64_t address) const {
  CrashCFrame frame;
  frame.address = address;
  Object* object = object_at(address);
  if (object == nullptr) return frame;
  frame.file = object->executable && object->name.empty() ? argv0() : object->name;
  frame.symbol_address = object->bias;
  if (frame.file.empty()) return frame;
  // DL_ADDR_SYM_MATCH: the address within the symbol (exactly at it for an undefined or
  // sizeless one), and of the matches the one with the greatest value, the first on a tie.
  // Sums wrap as glibc's ElfW(Addr) arithmetic does.
  const Candidate* best = nullptr;
  for (const Candidate& candidate : object->candidates) {
    const uint64_t start = object->bias + candidate.value;
    const bool exact_only = candidate.undefined || candidate.size == 0;
    const bool inside = address >= start && ((exact_only && address == start) ||
                                             address < start + candidate.size);
    if (inside && (best == nullptr || best->value < candidate.value)) best = &candidate;
  }
  if (best != nullptr) {
    const char* name = elf_strptr(object->image->elf(), object->strings, best->name);
    frame.symbol = name != nullptr ? name : "";
    frame.symbol_address = object->bias + best->value;
  }
  return frame;
}

std::vector<std::string> DynamicSymbolizer::object_names() const {
  std::vector<std::string> names;
  for (const std::unique_ptr<Object>& object : objects_) {
    names.push_back(object->executable && object->name.empty() ? argv0() : object->name);
  }
  return names;
}

// dladdr names the program by _dl_argv[0], ld.so's copy of the pointer that main() got: read
// where ld.so keeps it (its dynamic symbol _dl_argv, GLIBC_PRIVATE), so that a program that
// rewrote its argv[0] in place shows as it was at the crash. The core's pr_psargs (or
// /proc/PID/cmdline) when that fails.
const std::string& DynamicSymbolizer::argv0() const {
  if (argv0_) return *argv0_;
  const RemoteMemory& memory = target_.memory();
  for (const std::unique_ptr<Object>& object : objects_) {
    const std::string base = object->name.substr(object->name.rfind('/') + 1);
    const bool is_loader = (!interpreter_path_.empty() && object->name == interpreter_path_) ||
                           base.rfind("ld-linux", 0) == 0 || base.rfind("ld.so", 0) == 0;
    if (!is_loader || !object->mapping) continue;
    absl::StatusOr<ElfFile> file = ElfFile::open(target_.file_of(*object->mapping));
    if (!file.ok()) continue;
    std::optional<ElfSymbol> symbol = file->find_dynamic_symbol("_dl_argv");
    if (!symbol) continue;
    std::optional<uint64_t> argv = read_word(memory, object->bias + symbol->value);
    std::optional<uint64_t> first = argv && *argv != 0 ? read_word(memory, *argv) : std::nullopt;
    if (!first || *first == 0) continue;
    if (std::optional<std::string> text = read_c_string(memory, *first, kMaxNameBytes)) {
      argv0_ = *std::move(text);
      return *argv0_;
    }
  }
  argv0_ = target_.argv0();
  return *argv0_;
}

}  // namespace pystack
