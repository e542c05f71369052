// What pystack-dump knows about a type object of the target: its name, flags, and which of
// CPython's built-in reprs its instances get. Read once per type and kept by address (types
// live as long as their instances).
//
// A type's repr is told apart by its tp_repr slot, not by its name alone: a built-in static type
// (int, dict, ...) is recognized by tp_name and its subclass flag, and a subclass shares its repr
// exactly when it inherited that tp_repr (class D(dict): pass prints as a dict; a class that
// defines __repr__ gets slot_tp_repr, which no reader can run).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "cpython/objects.h"

namespace pystack {

enum class ReprKind : uint8_t {
  kOther,    // a repr pystack-dump cannot compute (a C repr it does not know, or Python code)
  kObject,   // object.__repr__: <module.Name object at 0x...>
  kNone,
  kBool,
  kInt,      // 3.x int, 2.7 long
  kInt2,     // 2.7 int
  kFloat,
  kStr,      // 3.x str
  kBytes,    // 3.x bytes, 2.7 str
  kUnicode2, // 2.7 unicode
  kTuple,
  kList,
  kDict,
  kSet,
  kFrozenSet,
  kFunction,
  kBuiltinFunction,
  kType,
  kModule,
  kCell,
  kGenerator,       // <generator object QUALNAME at 0x...>
  kCoroutine,
  kAsyncGenerator,
  kMethod,          // 3.x bound method: <bound method QUALNAME of REPR>
};

inline constexpr uint64_t kTpFlagsHeapType = 1ULL << 9;
inline constexpr uint64_t kTpFlagsManagedDict = 1ULL << 4;   // 3.11+
inline constexpr uint64_t kTpFlagsInlineValues = 1ULL << 2;  // 3.13+

struct TypeInfo {
  uint64_t address = 0;
  std::string name;  // tp_name (at most kMaxTypeNameBytes)
  uint64_t flags = 0;
  uint64_t base = 0;
  uint64_t tp_repr = 0;
  int64_t basicsize = 0;
  int64_t dictoffset = 0;
  ReprKind kind = ReprKind::kOther;
  bool exact = false;  // the built-in type itself, not a subclass
  bool heap() const { return flags & kTpFlagsHeapType; }

  // For classifying subclasses: the tp_repr that gives `kind`, and object.__repr__'s.
  uint64_t kind_repr = 0;
  uint64_t object_repr = 0;
};

inline constexpr size_t kMaxTypeNameBytes = 256;
inline constexpr int kMaxTypeDepth = 64;  // tp_base chain

class TypeCache {
 public:
  explicit TypeCache(const ObjectReader& objects) : objects_(objects) {}

  absl::StatusOr<const TypeInfo*> get(uint64_t type);
  absl::StatusOr<const TypeInfo*> of(uint64_t object);
  void clear() { types_.clear(); }

 private:
  absl::StatusOr<const TypeInfo*> get(uint64_t type, int depth);
  absl::StatusOr<TypeInfo> read(uint64_t type) const;
  void classify(TypeInfo& type, const TypeInfo* base) const;

  const ObjectReader& objects_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<TypeInfo>> types_;
};

// True when `layout` has every offset the readers of types, dicts, reprs, locals and thread
// names use (a layout assembled for a version without them has -1 there).
bool has_object_layout(const Layout& layout);

// A NUL-terminated C string of the target, at most `max` bytes.
absl::StatusOr<std::string> read_c_string(const RemoteMemory& memory, uint64_t address,
                                          size_t max);

}  // namespace pystack
