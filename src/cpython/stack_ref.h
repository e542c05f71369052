// _PyStackRef (3.14+, GIL builds; Include/internal/pycore_stackref.h): a frame's f_executable
// and localsplus[] slots hold tagged words. The low Py_TAG_BITS (3) tag them: 0 or 1
// (Py_TAG_REFCNT, also PyStackRef_NULL's bits) mark an object pointer, 3 (Py_INT_TAG) an int
// stored in the word itself (shifted left by 2). Before 3.14 the slots are plain pointers.
#pragma once

#include <cstdint>

#include "cpython/releases.h"

namespace pystack {

struct StackRef {
  uint64_t object = 0;  // the object it refers to; 0: none (NULL), or a tagged int
  bool is_int = false;
  int64_t int_value = 0;  // when is_int
};

inline StackRef decode_stack_ref(const Release& release, uint64_t bits) {
  if (release.code_reference != CodeReference::kStackRef) return {bits, false, 0};
  constexpr uint64_t kTagBits = 3, kIntTag = 3;
  if ((bits & kTagBits) == kIntTag) return {0, true, static_cast<int64_t>(bits) >> 2};
  return {bits & ~kTagBits, false, 0};
}

}  // namespace pystack
