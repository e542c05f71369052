#include "format/crash_c_stack.h"

#include <cstdint>

namespace pystack {
namespace {

// dump_hexadecimal(fd, value, sizeof(void*), strip_zeros=1): lowercase, no leading zeros, at
// least one digit.
void append_hex(std::string& out, uint64_t value) {
  char digits[16];
  int n = 0;
  do {
    digits[n++] = "0123456789abcdef"[value & 15];
    value >>= 4;
  } while (value != 0);
  while (n > 0) out += digits[--n];
}

// dump_pointer.
void append_pointer(std::string& out, uint64_t address) {
  out += "0x";
  append_hex(out, address);
}

// One entry of _Py_backtrace_symbols_fd. dli_fname is written with PUTS, up to its first NUL.
void append_frame(std::string& out, const CrashCFrame& frame) {
  const std::string file = frame.file.substr(0, frame.file.find('\0'));
  if (file.empty()) {
    out += "  Binary file '<unknown>' [";
    append_pointer(out, frame.address);
    out += "]\n";
    return;
  }
  // Without a symbol, dli_saddr is the load bias: 0 (a non-PIE executable) prints no offset.
  if (!frame.symbol && frame.symbol_address == 0) {
    out += "  Binary file \"" + file + "\" [";
    append_pointer(out, frame.address);
    out += "]\n";
    return;
  }
  const bool after = frame.address >= frame.symbol_address;
  const uint64_t offset =
      after ? frame.address - frame.symbol_address : frame.symbol_address - frame.address;
  out += "  Binary file \"" + file + "\", at ";
  if (frame.symbol) out += frame.symbol->substr(0, frame.symbol->find('\0'));
  out += after ? '+' : '-';
  out += "0x";
  append_hex(out, offset);
  out += " [";
  append_pointer(out, frame.address);
  out += "]\n";
}

}  // namespace

void append_crash_c_stack(std::string& out, const CrashCStack& stack) {
  // faulthandler_dump_c_stack writes the blank line, _Py_DumpStack the rest.
  out += "\nCurrent thread's C stack trace (most recent call first):\n";
  for (const CrashCFrame& frame : stack.frames) append_frame(out, frame);
  if (stack.truncated) out += "  <truncated rest of calls>\n";
}

}  // namespace pystack
