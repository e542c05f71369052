// What the walk needs of a code object, read once and kept by address: code objects are
// immutable, so a dump (and later each profiler sample) reads each one only once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "cpython/objects.h"
#include "snapshot/snapshot.h"

namespace pystack {

struct CodeObject {
  std::optional<PyText> filename;
  std::optional<PyText> name;
  std::optional<PyText> qualname;
  std::string line_table;  // co_linetable (3.10+) or co_lnotab
  int first_line = 0;
  uint64_t first_instruction = 0;  // address of co_code_adaptive (3.11+)
};

// The line of the instruction at `byte_offset` (Python's f_lasti in bytes), per the version's
// line-table format.
int code_line_at(const CodeObject& code, const Layout& layout, int byte_offset);

class CodeCache {
 public:
  explicit CodeCache(const ObjectReader& objects) : objects_(objects) {}

  // The code object at `address`, from the cache or read now. Fails on unreadable memory.
  absl::StatusOr<const CodeObject*> get(uint64_t address);
  void clear() { codes_.clear(); }

 private:
  absl::StatusOr<CodeObject> read_code_object(uint64_t address) const;

  const ObjectReader& objects_;
  absl::flat_hash_map<uint64_t, CodeObject> codes_;
};

}  // namespace pystack
