#include "format/native_text.h"

#include <cstdio>

namespace pystack {

std::string hex_address(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

void append_native_binary_line(std::string& out, const NativeFrame& frame) {
  if (frame.library.empty()) {
    out += "  Binary file '<unknown>' [" + hex_address(frame.address) + "]\n";
    return;
  }
  out += "  Binary file \"" + frame.library + "\"";
  if (!frame.function.empty()) {
    out += ", at " + frame.function;
    out += frame.inlined ? std::string(" (inlined)") : "+" + hex_address(frame.function_offset);
  }
  out += " [" + hex_address(frame.address) + "]\n";
}

void append_native_traceback_line(std::string& out, const NativeFrame& frame) {
  const size_t slash = frame.library.rfind('/');
  const std::string library =
      slash == std::string::npos ? frame.library : frame.library.substr(slash + 1);
  out += "  (C) File \"" + frame.file.value_or("???") + "\", line " +
         std::to_string(frame.file ? frame.line : 0) + ", in " +
         (frame.function.empty() ? std::string("???") : frame.function) + " (" +
         (library.empty() ? std::string("???") : library) + ")\n";
}

}  // namespace pystack
