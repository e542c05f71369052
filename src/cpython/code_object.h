// What the walk needs of a code object, read once and kept by address. Code objects are
// immutable, but one can be freed and another allocated at its address between two snapshots:
// an entry is used again only when the fields it was decoded from still hold the same values.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "cpython/objects.h"
#include "cpython/releases.h"
#include "snapshot/snapshot.h"

namespace pystack {

struct CodeObject {
  std::optional<PyText> filename;
  std::optional<PyText> name;
  std::optional<PyText> qualname;
  std::string line_table;  // co_linetable (3.10+) or co_lnotab
  int first_line = 0;
  uint64_t first_instruction = 0;  // address of co_code_adaptive (3.11+)
  // Unique per decoded entry of one CodeCache: a code object freed and replaced at the same
  // address gets a new id, so that what is keyed by it (a sampler's lines and frames) stays right.
  uint32_t id = 0;
};

// The first instruction of the bytecode a frame of `code` (at `code_address`) runs. A
// free-threaded 3.14+ build gives threads their own copies of a code's bytecode (thread-local
// bytecode): the frame's tlbc_index picks co_tlbc->entries[index], entry 0 being
// co_code_adaptive. 0 when the index or the array is implausible.
uint64_t frame_first_instruction(const RemoteMemory& memory, const Layout& layout,
                                 const CodeObject& code, uint64_t code_address,
                                 int32_t tlbc_index);
// The same for the frame at `frame`, whose tlbc_index is read there (where the layout has one).
uint64_t frame_first_instruction_at(const RemoteMemory& memory, const Layout& layout,
                                    const CodeObject& code, uint64_t code_address,
                                    uint64_t frame);

// The line of the instruction at `byte_offset` (Python's f_lasti in bytes), per the release's
// line-table format.
int code_line_at(const CodeObject& code, const Release& release, int byte_offset);

class CodeCache {
 public:
  explicit CodeCache(const ObjectReader& objects) : objects_(objects) {}

  // The code object at `address`, from the cache when its fields are unchanged, else read now.
  // Fails on unreadable memory.
  absl::StatusOr<const CodeObject*> get(uint64_t address);
  void clear() { codes_.clear(); }

 private:
  // The values a CodeObject is decoded from: its type, the pointers to its names and line table,
  // its first line. Equal keys at one address mean the same code object, or an equal one.
  using Fingerprint = std::array<uint64_t, 6>;
  struct Entry {
    Fingerprint fingerprint;
    CodeObject code;
  };

  absl::StatusOr<Fingerprint> read_fingerprint(uint64_t address) const;
  CodeObject decode(uint64_t address, const Fingerprint& fingerprint) const;

  const ObjectReader& objects_;
  // Nodes: a CodeObject stays where it is while others are added (a sample holds pointers).
  absl::node_hash_map<uint64_t, Entry> codes_;
  uint32_t next_id_ = 1;
};

}  // namespace pystack
