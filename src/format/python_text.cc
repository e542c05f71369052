#include "format/python_text.h"

namespace pystack {

bool is_line_boundary(char32_t c) {
  switch (c) {
    case 0x0a: case 0x0b: case 0x0c: case 0x0d: case 0x1c: case 0x1d: case 0x1e:
    case 0x85: case 0x2028: case 0x2029:
      return true;
    default:
      return false;
  }
}

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

}  // namespace pystack
