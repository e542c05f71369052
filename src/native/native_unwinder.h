// The C stacks of a target's threads (--native), unwound with libdw. One Dwfl per target, set up
// only through the Target interface (its mappings, the files behind them, its memory and its
// threads' registers), so that a live process, a process in a container and a core share one
// path, as libdwfl's Dwfl_Thread_Callbacks intend.
//
// Debug information is looked for where Debian puts it (the file itself, .gnu_debuglink, the
// build id under /usr/lib/debug), also under the target's root; never downloaded (debuginfod is
// switched off).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <elfutils/libdwfl.h>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "memory/page_cache.h"
#include "memory/target.h"
#include "native/module_symbols.h"
#include "snapshot/snapshot.h"

namespace pystack {

struct NativeUnwindOptions {
  // Where debug files are looked for beside /usr/lib/debug (a --sysroot's usr/lib/debug).
  std::vector<std::string> debug_directories;
  // File, line and inlined calls from DWARF for every frame. Without it, DWARF is read only for a
  // frame of the interpreter that no symbol names (the hot part of a loop split by the compiler),
  // so that the Python frames can still be placed: symbol tables cost little, a debug file's
  // compressed DWARF a lot.
  bool source_info = true;
  int max_frames = 512;  // a deeper stack ends with a marked line
};

class NativeUnwinder {
 public:
  // `runtime_file`: the mapped path of the file holding the CPython runtime (its C frames are the
  // interpreter's own). Errors: kInternal when libdw cannot be set up for this target.
  static absl::StatusOr<std::unique_ptr<NativeUnwinder>> create(
      const Target& target, const std::string& runtime_file, NativeUnwindOptions options = {});
  ~NativeUnwinder();
  NativeUnwinder(const NativeUnwinder&) = delete;
  NativeUnwinder& operator=(const NativeUnwinder&) = delete;

  // The pcs of thread `tid`'s C stack, read while the target is stopped: what must be done then,
  // and nothing more (no symbol, no DWARF). Memory read during one unwind is cached until the
  // next call (a live target moves between calls).
  struct Unwound {
    std::vector<uint64_t> pcs;
    std::vector<bool> activations;
    bool failed = false;  // libdw stopped with an error
    std::string error;
    std::optional<uint64_t> unreadable;  // an address the walk could not read
  };
  Unwound unwind_pcs(pid_t tid);
  // Names, files and lines of those pcs: the target may run again.
  NativeStack describe(const Unwound& unwound);
  NativeStack unwind(pid_t tid) { return describe(unwind_pcs(tid)); }

  // libdw's callbacks (native_unwinder.cc) reach the target through these.
  const Target& target() const { return target_; }
  bool read_word(uint64_t address, uint64_t* out) const;

 private:
  NativeUnwinder(const Target& target, std::string runtime_file, NativeUnwindOptions options);
  absl::Status attach();
  void report_modules();
  // Appends the frames for one pc: inlined calls first, innermost first.
  void describe_pc(uint64_t pc, bool activation, std::vector<NativeFrame>& out);
  void describe_uncached(uint64_t pc, bool activation, std::vector<NativeFrame>& out);

  const Target& target_;
  const std::string runtime_file_;
  const NativeUnwindOptions options_;
  std::string debuginfo_path_;  // libdwfl's colon-separated search path
  char* debuginfo_path_ptr_ = nullptr;
  Dwfl_Callbacks callbacks_{};
  Dwfl* dwfl_ = nullptr;
  PageCache stack_memory_;
  mutable std::optional<uint64_t> unreadable_;  // set by read_word during one unwind
  // Per module: the file to open (Dwfl module userdata points here; stable addresses).
  std::vector<std::unique_ptr<std::string>> module_files_;
  // Frames of a pc already described (symbols and lines do not change while the tool runs).
  absl::flat_hash_map<uint64_t, std::vector<NativeFrame>> described_;
  // Each module's function symbols, sorted on first use.
  absl::flat_hash_map<Dwfl_Module*, std::unique_ptr<ModuleSymbols>> symbols_;
};

// Whether the function named `name` is the interpreter loop that runs Python frames.
bool evaluates_python_frames(const std::string& name);

}  // namespace pystack
