// Finds the ELF file of a process that holds the CPython runtime (a libpython, or the executable
// when it is linked statically), and the run-time addresses of the symbols the walk starts from.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "symbols/version_strings.h"
#include "memory/proc_maps.h"

namespace pystack {

// A run-time address range.
struct AddressRange {
  uint64_t start = 0;
  uint64_t size = 0;

  // True when all of [address, address + length) lies inside (no overflow on any input).
  bool contains(uint64_t address, uint64_t length = 1) const {
    return address >= start && address - start < size && length <= size - (address - start);
  }
};

struct PythonBinary {
  std::string path;        // the mapped path, as the target sees it
  uint64_t load_bias = 0;  // run-time address minus link-time address
  // Run-time addresses (load bias applied), when the file has them.
  std::optional<uint64_t> runtime;             // _PyRuntime (3.7+), symbol or .PyRuntime section
  std::optional<uint64_t> py_version;          // Py_Version (3.11+)
  std::optional<uint64_t> thread_state_current;  // _PyThreadState_Current (3.6)
  // interp_head (2.7, 3.6): in .symtab only; in a stripped file, read off the code of the
  // exported PyInterpreterState_Head() (symbols/getter_code.h).
  std::optional<uint64_t> interp_head;
  std::optional<uint64_t> code_type;           // PyCode_Type
  std::optional<uint64_t> unicode_type;        // PyUnicode_Type
  // major, minor from the file name ("libpython3.11.so.1.0", "python3.11"), 0 when absent.
  int name_major = 0;
  int name_minor = 0;
  // When neither the name nor Py_Version tell the version: the PY_VERSION-like strings of the
  // file's .rodata (symbols/version_strings.h), for identify_runtime to choose from.
  std::vector<VersionString> rodata_versions;
  // 2.7/3.6 without an interp_head symbol: the run-time .data and .bss, where the getter's slot
  // must lie, and where cpython/interpreter_scan.h looks when neither gives interp_head.
  std::vector<AddressRange> writable_data;
};

// Maps a path from the target's point of view to one this process can open (for a live
// process: /proc/PID/map_files/..., /proc/PID/root/...; for a core: --sysroot).
using PathResolver = std::function<std::string(const MemoryMapping& mapping)>;

// Looks at every file-backed mapping, libpython first, then the executable, then the rest, and
// returns the first that holds a CPython runtime. kNoPythonRuntime when none does.
absl::StatusOr<PythonBinary> find_python_binary(const std::vector<MemoryMapping>& mappings,
                                                const PathResolver& resolve);

// Where the _asyncio module's "AsyncioDebug" section (3.14+) is loaded: in an _asyncio*.so, or
// in the executable or libpython when _asyncio is built in. nullopt when no mapped file has it
// (asyncio not imported yet, or a release without it).
std::optional<uint64_t> find_asyncio_debug_section(const std::vector<MemoryMapping>& mappings,
                                                   const PathResolver& resolve);

}  // namespace pystack
