#include "cpython/crash_c_stack.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <string_view>

#include "memory/unique_fd.h"

namespace pystack {
namespace {

constexpr std::string_view kSeparateHandlerFunction = "faulthandler_dump_c_stack";

// `name` is `function` or a compiler's clone of it ("function.lto_priv.0", ".isra.0", ...).
bool names_function(std::string_view name, std::string_view function) {
  return name.substr(0, function.size()) == function &&
         (name.size() == function.size() || name[function.size()] == '.');
}

// Whether the .symtab of the ELF file at `path` has a function named `function` (or a clone).
bool symtab_has_function(const std::string& path, std::string_view function) {
  static const bool initialized = elf_version(EV_CURRENT) != EV_NONE;  // before any libelf call
  (void)initialized;
  // O_NONBLOCK: the path may come from the target (a FIFO must not hang us).
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  struct stat st;
  if (!fd.valid() || fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  Elf* elf = elf_begin(fd.get(), ELF_C_READ_MMAP, nullptr);
  if (elf == nullptr) return false;
  bool found = false;
  Elf_Scn* scn = nullptr;
  while (!found && (scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != SHT_SYMTAB) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    const size_t entry = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
    if (data == nullptr || entry == 0) continue;
    const size_t count = std::min<size_t>(data->d_size / entry, INT_MAX);
    for (size_t i = 0; i < count && !found; ++i) {
      GElf_Sym sym;
      if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr ||
          GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF) {
        continue;
      }
      // elf_strptr checks that the name lies, NUL-terminated, inside the string section.
      const char* name = elf_strptr(elf, shdr.sh_link, sym.st_name);
      found = name != nullptr && names_function(name, function);
    }
  }
  elf_end(elf);
  return found;
}

// The index in `physical` of the frame that received the fatal signal.
size_t signalled_frame(const std::vector<const NativeFrame*>& physical) {
  size_t first = 1;
  while (first < physical.size() && !physical[first]->activation) ++first;
  if (first >= physical.size()) return 0;
  while (first + 1 < physical.size() && physical[first + 1]->activation) ++first;
  return first;
}

}  // namespace

int crash_handler_frames(const std::vector<std::string>& runtime_files) {
  for (const std::string& path : runtime_files) {
    if (symtab_has_function(path, kSeparateHandlerFunction)) {
      return kInlinedCrashHandlerFrames + 1;
    }
  }
  return kInlinedCrashHandlerFrames;
}

CrashCStack crash_c_stack(const std::vector<NativeFrame>& unwound,
                          const DynamicSymbolizer& symbols, int handler_frames) {
  std::vector<const NativeFrame*> physical;
  for (const NativeFrame& frame : unwound) {
    if (!frame.inlined) physical.push_back(&frame);
  }
  CrashCStack stack;
  // The handler's frames and the trampoline take the first entries of its array.
  const size_t room =
      static_cast<size_t>(std::max(0, kCrashBacktraceSize - std::max(0, handler_frames) - 1));
  const size_t first = signalled_frame(physical);
  const size_t available = physical.size() - std::min(first, physical.size());
  const size_t shown = std::min(available, room);
  for (size_t i = first; i < first + shown; ++i) {
    stack.frames.push_back(symbols.describe(physical[i]->address));
  }
  stack.truncated = available >= room;
  return stack;
}

}  // namespace pystack
