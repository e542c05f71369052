// A small Python int read from the target (a thread ident, a task's number).
#pragma once

#include <cstdint>
#include <optional>

#include "cpython/objects.h"
#include "cpython/py_types.h"

namespace pystack {

// The value of a non-negative int (2.7: int or long) that fits in 64 bits; nullopt for anything
// else, or when it cannot be read.
std::optional<uint64_t> nonnegative_int_value(const ObjectReader& objects, TypeCache& types,
                                              uint64_t object);

}  // namespace pystack
