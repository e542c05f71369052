// Reading CPython objects out of remote memory: type checks, str, bytes. Every size and pointer
// is checked; every read is bounded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "cpython/layout.h"
#include "cpython/releases.h"
#include "snapshot/snapshot.h"
#include "memory/remote_memory.h"

namespace pystack {

inline constexpr uint64_t kTpFlagsBytesSubclass = 1ULL << 27;
inline constexpr uint64_t kTpFlagsUnicodeSubclass = 1ULL << 28;
inline constexpr uint64_t kTpFlagsStringSubclass2 = 1ULL << 27;   // Python 2 str
inline constexpr uint64_t kTpFlagsUnicodeSubclass2 = 1ULL << 28;  // Python 2 unicode

// Bounds on what one object read may cost.
inline constexpr uint64_t kMaxTextCodePoints = 1 << 16;
inline constexpr uint64_t kMaxBytesLength = 1 << 22;

// Reads objects of one process through one layout. Keeps type flags by type address, which are
// stable for the life of a process.
class ObjectReader {
 public:
  ObjectReader(const RemoteMemory& memory, const Layout& layout)
      : memory_(memory), layout_(layout), release_(release_of(layout)) {}

  const RemoteMemory& memory() const { return memory_; }
  const Layout& layout() const { return layout_; }
  // The models of the layout's release (cpython/releases.h).
  const Release& release() const { return release_; }

  // Reads a pointer-sized value.
  absl::StatusOr<uint64_t> read_pointer(uint64_t address) const;
  // tp_flags of the object's type.
  absl::StatusOr<uint64_t> type_flags(uint64_t object) const;
  absl::StatusOr<uint64_t> type_of(uint64_t object) const;

  // A str object (Python 2: str or unicode) as code points, at most `max_code_points` of them.
  // nullopt when the object is not a str (or the pointer is NULL), as faulthandler prints ???.
  absl::StatusOr<std::optional<PyText>> read_text(uint64_t object,
                                                  uint64_t max_code_points = kMaxTextCodePoints) const;
  // The contents of a bytes object (Python 2: str), at most kMaxBytesLength.
  absl::StatusOr<std::string> read_bytes(uint64_t object) const;

 private:
  absl::StatusOr<std::optional<PyText>> read_unicode3(uint64_t object, uint64_t max) const;
  absl::StatusOr<std::optional<PyText>> read_string2(uint64_t object, uint64_t flags,
                                                     uint64_t max) const;

  const RemoteMemory& memory_;
  const Layout& layout_;
  const Release& release_;
  mutable absl::flat_hash_map<uint64_t, uint64_t> type_flags_;
};

// Decodes `count` code points of `kind` (1, 2 or 4 bytes each, little endian) from `data`.
std::u32string decode_code_points(const uint8_t* data, uint64_t count, int kind);

}  // namespace pystack
