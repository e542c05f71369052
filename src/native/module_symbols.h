// The function symbols of one module, sorted once, for a pc's symbol by binary search: libdw's
// dwfl_module_addrinfo searches the whole table for every address (a dump of 11 threads spent
// half its time there).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <elfutils/libdwfl.h>

namespace pystack {

class ModuleSymbols {
 public:
  // Reads the module's best symbol table (its debug file's .symtab, else its own .symtab or
  // .dynsym), through libdw. The names stay libdw's: valid while the Dwfl lives.
  explicit ModuleSymbols(Dwfl_Module* module);

  struct Symbol {
    const char* name = nullptr;
    uint64_t start = 0;  // run-time address
  };
  // The function that covers `address`: of the symbols starting nearest below it, the one libdw
  // would prefer (a sized one that covers it, global before weak before local); nullopt when
  // the nearest ones end before it.
  std::optional<Symbol> find(uint64_t address) const;

 private:
  struct Entry {
    uint64_t start = 0;
    uint64_t size = 0;
    int rank = 0;  // lower is preferred at the same start
    const char* name = nullptr;
  };
  std::vector<Entry> entries_;  // by start, then rank
};

}  // namespace pystack
