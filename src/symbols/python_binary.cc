#include "symbols/python_binary.h"

#include <algorithm>
#include <array>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "symbols/elf_file.h"
#include "symbols/getter_code.h"

namespace pystack {
namespace {

// One mapped file: its path as the target sees it and the mapping of its file offset 0, whose
// start is where the file's base_address() was loaded.
struct Candidate {
  std::string path;
  const MemoryMapping* base = nullptr;
};

std::string_view basename_of(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool is_libpython(std::string_view path) { return basename_of(path).starts_with("libpython"); }

// Libraries that every process maps and that never hold a CPython runtime: opening them would
// only cost time when the runtime is in none of the likelier files.
bool is_common_non_python_library(std::string_view path) {
  static constexpr std::array<std::string_view, 34> kPrefixes = {
      "libc.so",     "libc-",         "ld-linux",     "ld-musl",      "ld.so",
      "libm.so",     "libm-",         "libpthread",   "libdl.",       "libdl-",
      "librt.",      "librt-",        "libutil.",     "libutil-",     "libz.",
      "libcrypt.",   "libffi",        "libssl",       "libcrypto",    "libstdc++",
      "libgcc_s",    "libexpat",      "liblzma",      "libbz2",       "libreadline",
      "libncurses",  "libtinfo",      "libsqlite3",   "libuuid",      "libnss_",
      "libresolv",   "libselinux",    "libzstd",      "locale-archive"};
  std::string_view base = basename_of(path);
  for (std::string_view prefix : kPrefixes) {
    if (base.starts_with(prefix)) return true;
  }
  return false;
}

// File-backed mappings have absolute paths; "", "[heap]", "[vdso]", "[stack]"... do not.
bool is_file_backed(const MemoryMapping& mapping) { return mapping.path.starts_with('/'); }

// One candidate per path, in order of first appearance, with its offset-0 mapping (the lowest
// one if the file is mapped twice). Paths without such a mapping cannot be given a load bias.
std::vector<Candidate> group_by_path(const std::vector<MemoryMapping>& mappings) {
  std::vector<Candidate> candidates;
  for (const MemoryMapping& mapping : mappings) {
    if (!is_file_backed(mapping)) continue;
    auto it = std::find_if(candidates.begin(), candidates.end(),
                           [&](const Candidate& c) { return c.path == mapping.path; });
    if (it == candidates.end()) {
      candidates.push_back({mapping.path, nullptr});
      it = candidates.end() - 1;
    }
    if (mapping.file_offset == 0 && (it->base == nullptr || mapping.start < it->base->start)) {
      it->base = &mapping;
    }
  }
  std::erase_if(candidates, [](const Candidate& c) { return c.base == nullptr; });
  return candidates;
}

// The main executable first: when it holds a runtime (a static build) that is the one in use,
// even if a libpython is mapped too (extension modules of a shared build of the same version
// link it, and it then sits there, never initialised: the executable's exported symbols
// interpose on its). Then libpython* (a shared build keeps the runtime there), then everything
// else but the common system libraries.
std::vector<Candidate> order_candidates(const std::vector<MemoryMapping>& mappings) {
  std::vector<Candidate> grouped = group_by_path(mappings);
  auto first_file = std::find_if(mappings.begin(), mappings.end(), is_file_backed);
  std::string executable = first_file == mappings.end() ? "" : first_file->path;

  std::vector<Candidate> ordered;
  for (const Candidate& c : grouped) {
    if (c.path == executable && !is_libpython(c.path)) ordered.push_back(c);
  }
  for (const Candidate& c : grouped) {
    if (is_libpython(c.path)) ordered.push_back(c);
  }
  for (const Candidate& c : grouped) {
    if (!is_libpython(c.path) && c.path != executable && !is_common_non_python_library(c.path)) {
      ordered.push_back(c);
    }
  }
  return ordered;
}

// Leading decimal digits of `text`, consumed; nullopt when there are none.
std::optional<int> take_number(std::string_view& text) {
  int value = 0;
  size_t i = 0;
  for (; i < text.size() && i < 4 && text[i] >= '0' && text[i] <= '9'; ++i) {
    value = value * 10 + (text[i] - '0');
  }
  if (i == 0) return std::nullopt;
  text.remove_prefix(i);
  return value;
}

// "libpython3.11.so.1.0", "libpython2.7.so", "python3.11", "python3.6m" -> {major, minor}; {0, 0}
// unless both are there ("python3" and "libpython3.so" say nothing about the minor version).
std::pair<int, int> version_from_name(std::string_view path) {
  std::string_view name = basename_of(path);
  if (name.starts_with("lib")) name.remove_prefix(3);
  if (!name.starts_with("python")) return {0, 0};
  name.remove_prefix(6);
  std::optional<int> major = take_number(name);
  if (!major || !name.starts_with('.')) return {0, 0};
  name.remove_prefix(1);
  std::optional<int> minor = take_number(name);
  if (!minor) return {0, 0};
  return {*major, *minor};
}

std::optional<uint64_t> address_of(const ElfFile& elf, std::string_view symbol, uint64_t bias) {
  std::optional<ElfSymbol> found = elf.find_symbol(symbol);
  if (!found) return std::nullopt;
  return found->value + bias;
}

// _PyRuntime by symbol, else by its section (3.10+ put it in .PyRuntime so that it can be found
// even when the symbol tables are stripped).
std::optional<uint64_t> runtime_address(const ElfFile& elf, uint64_t bias) {
  if (std::optional<uint64_t> address = address_of(elf, "_PyRuntime", bias)) return address;
  std::optional<ElfSection> section = elf.find_section(".PyRuntime");
  if (!section || section->address == 0) return std::nullopt;
  return section->address + bias;
}

// The run-time ranges of the sections that hold the file's writable static data.
std::vector<AddressRange> writable_data_of(const ElfFile& elf, uint64_t bias) {
  std::vector<AddressRange> ranges;
  for (std::string_view name : {".data", ".bss"}) {
    std::optional<ElfSection> section = elf.find_section(name);
    if (section && section->address != 0 && section->size != 0) {
      ranges.push_back({section->address + bias, section->size});
    }
  }
  return ranges;
}

// interp_head (2.7, 3.6) of a file stripped of it, from the code of the exported
// PyInterpreterState_Head(), which returns it: only a slot inside `writable_data` (run-time).
std::optional<uint64_t> interp_head_from_getter(const ElfFile& elf, uint64_t bias,
                                                const std::vector<AddressRange>& writable_data) {
  std::optional<ElfSymbol> getter = elf.find_symbol("PyInterpreterState_Head");
  if (!getter) return std::nullopt;
  std::optional<std::string> code = elf.bytes_at(getter->value, kGetterCodeBytes);
  if (!code) return std::nullopt;
  std::optional<uint64_t> slot = global_read_by_getter(*code, getter->value);
  if (!slot) return std::nullopt;
  const uint64_t address = *slot + bias;
  const bool inside = std::any_of(writable_data.begin(), writable_data.end(),
                                  [&](const AddressRange& r) { return r.contains(address, 8); });
  return inside ? std::optional<uint64_t>(address) : std::nullopt;
}

// The PythonBinary of one opened file, or nullopt when it holds no runtime.
std::optional<PythonBinary> inspect(const ElfFile& elf, const Candidate& candidate) {
  PythonBinary binary;
  binary.path = candidate.path;
  // Unsigned wrap-around is intended: the bias may be "negative" for an ET_EXEC file that a core
  // or a sysroot maps elsewhere, and adding it back wraps the same way.
  binary.load_bias = candidate.base->start - elf.base_address();
  binary.runtime = runtime_address(elf, binary.load_bias);
  // The two 3.6/2.7 roots exist only when _PyRuntime does not; each miss costs a scan of .symtab,
  // so they are not looked for in a 3.7+ file.
  if (!binary.runtime) {
    binary.thread_state_current = address_of(elf, "_PyThreadState_Current", binary.load_bias);
    if (!binary.thread_state_current) return std::nullopt;
    binary.interp_head = address_of(elf, "interp_head", binary.load_bias);
    if (!binary.interp_head) {
      binary.writable_data = writable_data_of(elf, binary.load_bias);
      binary.interp_head = interp_head_from_getter(elf, binary.load_bias, binary.writable_data);
    }
  }
  binary.py_version = address_of(elf, "Py_Version", binary.load_bias);
  binary.code_type = address_of(elf, "PyCode_Type", binary.load_bias);
  binary.unicode_type = address_of(elf, "PyUnicode_Type", binary.load_bias);
  std::tie(binary.name_major, binary.name_minor) = version_from_name(candidate.path);
  if (binary.name_major == 0 && !binary.py_version) {
    binary.rodata_versions = version_strings_in_rodata(elf);
  }
  return binary;
}

absl::Status not_found(const std::vector<MemoryMapping>& mappings,
                       const absl::Status& open_failure) {
  auto first_file = std::find_if(mappings.begin(), mappings.end(), is_file_backed);
  std::string where = first_file == mappings.end()
                          ? "a process without file mappings"
                          : absl::StrCat(first_file->path, " or the libraries it maps");
  std::string hint = "is this a CPython process (2.7, 3.6 or later)?";
  if (!open_failure.ok()) {
    absl::StrAppend(&hint, " Some files could not be opened, e.g. ", open_failure.message());
  }
  return make_error(ErrorKind::kNoPythonRuntime, absl::StrCat("no CPython runtime found in ", where),
                    hint);
}

}  // namespace

absl::StatusOr<PythonBinary> find_python_binary(const std::vector<MemoryMapping>& mappings,
                                                const PathResolver& resolve) {
  std::vector<Candidate> candidates = order_candidates(mappings);
  absl::Status open_failure;
  for (const Candidate& candidate : candidates) {
    absl::StatusOr<ElfFile> elf = ElfFile::open(resolve(*candidate.base));
    if (!elf.ok()) {
      // A file we may not read could be the one: say so if nothing else holds a runtime. A
      // non-ELF mapping (fonts, locale data, caches) is expected and not worth mentioning.
      if (open_failure.ok() && error_kind(elf.status()) != ErrorKind::kNotElf) {
        open_failure = elf.status();
      }
      continue;
    }
    if (std::optional<PythonBinary> binary = inspect(*elf, candidate)) return *std::move(binary);
  }
  if (error_kind(open_failure) == ErrorKind::kPermissionDenied) return open_failure;
  return not_found(mappings, open_failure);
}

std::optional<uint64_t> find_asyncio_debug_section(const std::vector<MemoryMapping>& mappings,
                                                   const PathResolver& resolve) {
  auto first_file = std::find_if(mappings.begin(), mappings.end(), is_file_backed);
  const std::string executable = first_file == mappings.end() ? "" : first_file->path;
  for (const Candidate& candidate : group_by_path(mappings)) {
    const bool may_hold = candidate.path == executable || is_libpython(candidate.path) ||
                          basename_of(candidate.path).starts_with("_asyncio");
    if (!may_hold) continue;
    absl::StatusOr<ElfFile> elf = ElfFile::open(resolve(*candidate.base));
    if (!elf.ok()) continue;
    std::optional<ElfSection> section = elf->find_section(".AsyncioDebug");
    if (!section) section = elf->find_section("AsyncioDebug");
    if (!section) continue;
    return section->address + (candidate.base->start - elf->base_address());
  }
  return std::nullopt;
}

}  // namespace pystack
