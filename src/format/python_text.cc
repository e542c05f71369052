#include "format/python_text.h"

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

}  // namespace

bool is_python3_space(char32_t c) {
  switch (c) {
    case 0x09: case 0x0a: case 0x0b: case 0x0c: case 0x0d:
    case 0x1c: case 0x1d: case 0x1e: case 0x1f: case 0x20:
    case 0x85: case 0xa0: case 0x1680:
    case 0x2028: case 0x2029: case 0x202f: case 0x205f: case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200a;
  }
}

bool is_python2_space(char32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

std::u32string_view strip_python(std::u32string_view text, bool python2) {
  const auto space = python2 ? is_python2_space : is_python3_space;
  size_t begin = 0, end = text.size();
  while (begin < end && space(text[begin])) ++begin;
  while (end > begin && space(text[end - 1])) --end;
  return text.substr(begin, end - begin);
}

void append_python2_bytes(std::string& out, std::u32string_view text) {
  for (char32_t c : text) {
    if (c <= 0xff) {
      out.push_back(static_cast<char>(c));
    } else {
      append_utf8_backslashreplace(out, std::u32string_view(&c, 1));
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
