// The text rules of CPython's repr() for values read out of a target, as pure functions: float
// (the shortest round-trip repr), int, str (per version: which code points it keeps as is),
// bytes, Python 2 str and unicode. Reading the objects is cpython/object_repr.h's job.
//
// Where pystack-dump cuts a repr short (remote memory is bounded, CPython's repr is not), the cut
// is marked, reprlib-style, and never looks like a complete value:
//   - a str or bytes longer than the bound: the repr of its head, then "..." after the closing
//     quote: 'aaaa'...   b'xx'...
//   - a container with more items than the bound: its first items, then "..." as the last item:
//     [0, 1, 2, ...]   {'a': 1, ...}
//   - a container nested deeper than the bound: its brackets around "...": [...] {...} (...)
//     (as reprlib does; CPython itself prints the same for a container that contains itself)
//   - an int with more decimal digits than the bound (CPython 3.11+ refuses to convert those
//     too): <int with more than N digits>
//   - memory that cannot be read: <unreadable 0xADDRESS>
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pystack {

// repr(float): "1.5", "100.0", "1e+16", "1e-05", "0.0001", "-0.0", "inf", "-inf", "nan".
std::string float_repr(double value);

// The decimal digits of the non-negative integer whose base-2**shift digits, least significant
// first, are `digits` (CPython's ob_digit). Requires 1 <= shift <= 32.
std::string digits_to_decimal(const std::vector<uint32_t>& digits, int shift);

// repr() of a Python 3 str of the given interpreter version: quote choice, escapes, and
// non-ASCII code points kept when that version's str.isprintable says so. UTF-8.
std::string str_repr(std::u32string_view text, int major, int minor);

// repr() of bytes (Python 3, with the b prefix) or of a Python 2 str (without it).
std::string bytes_repr(std::string_view bytes, bool b_prefix);

// repr() of a Python 2 unicode object: u'...', every code point past 0x7e escaped.
std::string unicode_repr_py2(std::u32string_view text);

// `text` as UTF-8; a lone surrogate (which UTF-8 cannot encode) as \udXXX, as Python's
// backslashreplace error handler writes it (common/utf8.h).
std::string to_utf8(std::u32string_view text);

// The marker for memory that cannot be read: <unreadable 0x7f...>.
std::string unreadable_marker(uint64_t address);

// CPython's %p: 0x and lowercase hex.
std::string pointer_text(uint64_t address);

}  // namespace pystack
