// str.isprintable() of one code point, per CPython minor version: what repr() of a Python 3 str
// keeps as is (printable) or escapes. The Unicode database grows with each minor version, so the
// answer depends on it; the data is generated from the interpreters themselves
// (scripts/gen-unicode-printable into third_party/cpython/unicode_printable.inc).
#pragma once

#include <cstddef>

namespace pystack {

// For versions newer than the newest generated table, that table answers (an approximation
// that errs only on characters assigned after it).
bool unicode_is_printable(char32_t code_point, int major, int minor);

}  // namespace pystack
