// Python-level thread names: threading.Thread.name of each thread an interpreter's threading
// module knows, found as CPython itself would: sys.modules['threading']._active maps a thread
// ident (the pthread_t, tstate->thread_id) to its Thread object, whose name is the instance
// attribute _name (2.7: _Thread__name). sys.modules is interp->modules (interp->imports.modules
// from 3.12).
#pragma once

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "cpython/dict.h"
#include "cpython/objects.h"
#include "cpython/py_types.h"

namespace pystack {

inline constexpr size_t kMaxThreadNameBytes = 1024;

class ThreadNameReader {
 public:
  // All references must outlive this object.
  ThreadNameReader(const ObjectReader& objects, TypeCache& types, const DictReader& dicts)
      : objects_(objects), types_(types), dicts_(dicts) {}

  // ident -> name (UTF-8; a Python 2 str as its bytes) for the interpreter at `interp`. Empty
  // when the threading module was never imported there.
  absl::StatusOr<absl::flat_hash_map<uint64_t, std::string>> read(uint64_t interp);

 private:
  absl::StatusOr<uint64_t> threading_active(uint64_t interp);
  std::optional<std::string> name_of(uint64_t thread);

  const ObjectReader& objects_;
  TypeCache& types_;
  const DictReader& dicts_;
};

}  // namespace pystack
