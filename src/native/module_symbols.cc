#include "native/module_symbols.h"

#include <gelf.h>

#include <algorithm>

namespace pystack {
namespace {

constexpr int kMaxSymbols = 1 << 22;  // a corrupt table ends the read there

int rank_of(const GElf_Sym& symbol) {
  switch (GELF_ST_BIND(symbol.st_info)) {
    case STB_GLOBAL: return 0;
    case STB_WEAK: return 1;
    default: return 2;
  }
}

// Functions; an untyped symbol only with a size (a label inside a function has none).
bool is_code(const GElf_Sym& symbol) {
  const int type = GELF_ST_TYPE(symbol.st_info);
  return type == STT_FUNC || type == STT_GNU_IFUNC || (type == STT_NOTYPE && symbol.st_size > 0);
}

constexpr int kLookBehind = 16;  // symbols started before the nearest that may still cover it

}  // namespace

ModuleSymbols::ModuleSymbols(Dwfl_Module* module) {
  const int count = std::min(dwfl_module_getsymtab(module), kMaxSymbols);
  for (int i = 1; i < count; ++i) {
    GElf_Sym symbol;
    GElf_Addr address = 0;
    GElf_Word section = 0;
    const char* name =
        dwfl_module_getsym_info(module, i, &symbol, &address, &section, nullptr, nullptr);
    if (name == nullptr || *name == '\0' || !is_code(symbol) || section == SHN_UNDEF ||
        address == 0) {
      continue;
    }
    entries_.push_back(Entry{address, symbol.st_size, rank_of(symbol), name});
  }
  std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    if (a.start != b.start) return a.start < b.start;
    if ((a.size == 0) != (b.size == 0)) return a.size != 0;  // a sized symbol first
    return a.rank < b.rank;
  });
}

std::optional<ModuleSymbols::Symbol> ModuleSymbols::find(uint64_t address) const {
  auto it = std::upper_bound(entries_.begin(), entries_.end(), address,
                             [](uint64_t a, const Entry& e) { return a < e.start; });
  if (it == entries_.begin()) return std::nullopt;
  const uint64_t start = std::prev(it)->start;
  auto first = std::lower_bound(entries_.begin(), it, start,
                                [](const Entry& e, uint64_t s) { return e.start < s; });
  for (auto e = first; e != it; ++e) {
    if (e->size == 0 || address < e->start + e->size) return Symbol{e->name, e->start};
  }
  // The nearest ones end before it: a sized function that starts further down may still hold it.
  for (int i = 0; i < kLookBehind && first != entries_.begin(); ++i) {
    --first;
    if (first->size != 0 && address < first->start + first->size) {
      return Symbol{first->name, first->start};
    }
  }
  return std::nullopt;
}

}  // namespace pystack
