#include "common/utf8.h"

namespace pystack {
namespace {

bool is_surrogate(char32_t c) { return c >= 0xd800 && c <= 0xdfff; }

// The length of the valid UTF-8 sequence at the start of `bytes`, or 0 when it is not one
// (RFC 3629 as CPython's decoder applies it: no overlongs, no surrogates, nothing past
// U+10FFFF). Stores the code point in `c`.
size_t utf8_sequence(std::string_view bytes, char32_t& c) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(bytes[i]); };
  const unsigned char b0 = byte(0);
  if (b0 < 0x80) {
    c = b0;
    return 1;
  }
  size_t length = 0;
  unsigned char low = 0x80, high = 0xbf;  // the range of the second byte
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    length = 2;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    length = 3;
    if (b0 == 0xe0) low = 0xa0;
    if (b0 == 0xed) high = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    length = 4;
    if (b0 == 0xf0) low = 0x90;
    if (b0 == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (bytes.size() < length) return 0;
  if (byte(1) < low || byte(1) > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  }
  char32_t value = b0 & (0x7f >> length);
  for (size_t i = 1; i < length; ++i) value = (value << 6) | (byte(i) & 0x3f);
  c = value;
  return length;
}


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

std::u32string decode_utf8_surrogateescape(std::string_view bytes) {
  std::u32string out;
  out.reserve(bytes.size());
  while (!bytes.empty()) {
    char32_t c = 0;
    size_t length = utf8_sequence(bytes, c);
    if (length == 0) {
      out.push_back(0xdc00 + static_cast<unsigned char>(bytes[0]));
      length = 1;
    } else {
      out.push_back(c);
    }
    bytes.remove_prefix(length);
  }
  return out;
}

bool decode_utf8_strict(std::string_view bytes, std::u32string& out) {
  out.clear();
  out.reserve(bytes.size());
  while (!bytes.empty()) {
    char32_t c = 0;
    size_t length = utf8_sequence(bytes, c);
    if (length == 0) return false;
    out.push_back(c);
    bytes.remove_prefix(length);
  }
  return true;
}

bool encode_utf8_surrogateescape(std::u32string_view text, std::string& out) {
  out.clear();
  for (char32_t c : text) {
    if (c >= 0xdc80 && c <= 0xdcff) {
      out.push_back(static_cast<char>(c - 0xdc00));
    } else if (is_surrogate(c) || c > 0x10ffff) {
      return false;
    } else {
      append_utf8_code_point(out, c);
    }
  }
  return true;
}

}  // namespace pystack
