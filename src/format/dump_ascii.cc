// _Py_DumpASCII (Python/traceback.c), the string writer of faulthandler.
#include "format/dump_ascii.h"

#include <algorithm>

namespace pystack {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// _Py_DumpHexadecimal with a fixed width: zero-padded, lowercase.
void append_hex(std::string& out, char32_t value, int width) {
  for (int shift = (width - 1) * 4; shift >= 0; shift -= 4) {
    out.push_back(kHexDigits[(value >> shift) & 0xf]);
  }
}

bool is_printable_ascii(char32_t ch) { return ch >= 0x20 && ch <= 0x7e; }

// One code point: as is when printable ASCII, else the shortest of \xNN, \uNNNN, \UNNNNNNNN.
void append_code_point(std::string& out, char32_t ch) {
  if (is_printable_ascii(ch)) {
    out.push_back(static_cast<char>(ch));
  } else if (ch <= 0xff) {
    out += "\\x";
    append_hex(out, ch, 2);
  } else if (ch <= 0xffff) {
    out += "\\u";
    append_hex(out, ch, 4);
  } else {
    out += "\\U";
    append_hex(out, ch, 8);
  }
}

}  // namespace

void append_dump_ascii(std::string& out, const PyText& text) {
  // CPython decides the cut from the object's length, not from what we managed to read: a
  // bounded read of a long string still ends in "...", exactly as the target would print it.
  const bool truncated = text.length > kFaulthandlerMaxStringLength;
  const uint64_t shown = std::min<uint64_t>(
      {text.code_points.size(), kFaulthandlerMaxStringLength, text.length});
  for (uint64_t i = 0; i < shown; ++i) append_code_point(out, text.code_points[i]);
  if (truncated) out += "...";
}

}  // namespace pystack
