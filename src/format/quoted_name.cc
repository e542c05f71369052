#include "format/quoted_name.h"

#include <cstdio>

namespace pystack {

void append_quoted_name(std::string& out, const std::string& name) {
  out += '"';
  for (unsigned char c : name) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

}  // namespace pystack
