// The local variables of one frame as frame.f_locals shows them to traceback's capture_locals,
// with their reprs (cpython/object_repr.h), sorted by name.
//
// Which names and values, per version:
//   3.11+   the frame's localsplus slots, named by co_localsplusnames, of kinds
//           co_localspluskinds; a cell or free variable's slot holds a cell, whose content is
//           the value; free variables only in optimized code (functions), as
//           _PyFrame_FastToLocals does;
//   < 3.11  f_localsplus: co_nlocals slots named by co_varnames, then co_cellvars and
//           co_freevars (cells), as PyFrame_FastToLocals maps them;
//   not optimized (module, class body, exec): the frame's f_locals dict (a module's globals),
//           updated by those slots (3.13: only by hidden comprehension variables, since 3.13's
//           f_locals is that dict itself).
// An unbound slot (NULL, or an empty cell) is left out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "cpython/dict.h"
#include "cpython/object_repr.h"
#include "cpython/objects.h"
#include "cpython/py_types.h"
#include "snapshot/snapshot.h"

namespace pystack {

// Locals shown for one frame at most; past it one more entry named "..." says how many more
// there are (a module's globals can be many).
inline constexpr size_t kMaxLocalsPerFrame = 512;

class LocalsReader {
 public:
  // All references must outlive this object.
  LocalsReader(const ObjectReader& objects, TypeCache& types, const DictReader& dicts,
               ObjectRepr& reprs);

  // `frame`: the _PyInterpreterFrame (3.11+) or the frame object (up to 3.10) running the code
  // object at `code`. Never fails: unreadable values are marked in their repr, an unreadable
  // frame or code object gives no locals.
  std::vector<Local> read(uint64_t frame, uint64_t code);
  void clear() { codes_.clear(); }

 private:
  // What a code object says about its frames' slots.
  struct CodeSlots {
    std::vector<std::optional<std::string>> names;  // per slot; nullopt: not a named variable
    std::vector<uint8_t> kinds;                     // CO_FAST_* per slot
    int32_t flags = 0;                              // co_flags
  };

  absl::StatusOr<const CodeSlots*> code_slots(uint64_t code);
  absl::StatusOr<CodeSlots> read_code_slots(uint64_t code) const;
  absl::Status append_names(uint64_t tuple, uint8_t kind, size_t count,
                            CodeSlots& slots) const;
  std::optional<std::string> key_text(uint64_t key) const;
  uint64_t cell_content(uint64_t value);

  const ObjectReader& objects_;
  TypeCache& types_;
  const DictReader& dicts_;
  ObjectRepr& reprs_;
  absl::flat_hash_map<uint64_t, CodeSlots> codes_;
};

}  // namespace pystack
