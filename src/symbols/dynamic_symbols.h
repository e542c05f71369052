// glibc's dladdr1(address, &info, &map, RTLD_DL_LINKMAP) as the target process itself would have
// answered it: the objects of its link map (r_debug, found through the executable's DT_DEBUG),
// the one whose extent holds the address, and the dynamic symbol covering it, chosen by glibc's
// own rules (elf/dl-addr.c). CPython 3.14's crash handler names each C frame this way
// (_Py_backtrace_symbols_fd), and its names are not a debugger's: only .dynsym counts, the
// executable is called by argv[0], a library by the name the loader opened it under.
//
// Everything read from the target (link map, names, argv) is hostile input: every pointer is
// read through RemoteMemory, every walk is bounded and cycle-safe. The symbol tables come from
// the object's file (Target::file_of), or from memory for an object that has none (the vDSO).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "memory/target.h"
#include "snapshot/snapshot.h"

namespace pystack {

class DynamicSymbolizer {
 public:
  // Reads the link map now; the symbol tables on first use. `target` must outlive this object.
  // Never fails: what cannot be read leaves addresses unknown ('<unknown>' in the handler's
  // words). Not thread-safe (describe() fills caches).
  explicit DynamicSymbolizer(const Target& target);
  ~DynamicSymbolizer();
  DynamicSymbolizer(const DynamicSymbolizer&) = delete;
  DynamicSymbolizer& operator=(const DynamicSymbolizer&) = delete;

  // What dladdr1 tells of `address`: dli_fname (argv[0] for the executable; "" when no object
  // holds the address), dli_sname and dli_saddr, or the object's load bias (link_map l_addr, as
  // the handler puts it in dli_saddr) when no symbol covers the address.
  CrashCFrame describe(uint64_t address) const;

  // The objects in link-map order, by the name dladdr gives them; for tests and messages.
  std::vector<std::string> object_names() const;
  // True when the objects came from the link map; false when it could not be read and they
  // were made up from the mappings (names as mapped, which may differ from the loader's).
  bool from_link_map() const { return from_link_map_; }
  // argv[0] as glibc's _dl_argv holds it in the target, else Target::argv0().
  const std::string& argv0() const;

 private:
  struct Object;

  void read_link_map();
  void objects_from_mappings();
  // The object whose extent holds `address`, loading tables as needed; nullptr when none.
  Object* object_at(uint64_t address) const;
  void load(Object& object) const;

  const Target& target_;
  std::vector<std::unique_ptr<Object>> objects_;
  bool from_link_map_ = false;
  std::string interpreter_path_;  // the executable's PT_INTERP: ld.so's l_name
  mutable std::optional<std::string> argv0_;
};

}  // namespace pystack
