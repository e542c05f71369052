#include "common/utf8.h"

namespace pystack {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

void append_hex(std::string& out, char32_t value, int digits) {
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
    out.push_back(kHexDigits[(value >> shift) & 0xf]);
  }
}

}  // namespace

void append_utf8_code_point(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
  } else {
    // Past U+10FFFF cannot come from CPython; written as the 4-byte pattern all the same.
    out.push_back(static_cast<char>(0xf0 | ((c >> 18) & 0x07)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
  }
}

void append_utf8_backslashreplace(std::string& out, std::u32string_view text) {
  for (char32_t c : text) {
    if (c >= 0xd800 && c <= 0xdfff) {
      out += "\\u";
      append_hex(out, c, 4);
    } else if (c > 0x10ffff) {
      out += "\\U";
      append_hex(out, c, 8);
    } else {
      append_utf8_code_point(out, c);
    }
  }
}

}  // namespace pystack
