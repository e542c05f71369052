#include "format/crash_c_stack.h"

#include <cstdint>

#include "format/native_text.h"

namespace pystack {
namespace {

// One entry of _Py_backtrace_symbols_fd. dli_fname is written with PUTS, up to its first NUL.
void append_frame(std::string& out, const CrashCFrame& frame) {
  const std::string file = frame.file.substr(0, frame.file.find('\0'));
  if (file.empty()) {
    out += "  Binary file '<unknown>' [" + hex_address(frame.address) + "]\n";
    return;
  }
  // Without a symbol, dli_saddr is the load bias: 0 (a non-PIE executable) prints no offset.
  if (!frame.symbol && frame.symbol_address == 0) {
    out += "  Binary file \"" + file + "\" [" + hex_address(frame.address) + "]\n";
    return;
  }
  const bool after = frame.address >= frame.symbol_address;
  const uint64_t offset =
      after ? frame.address - frame.symbol_address : frame.symbol_address - frame.address;
  out += "  Binary file \"" + file + "\", at ";
  if (frame.symbol) out += frame.symbol->substr(0, frame.symbol->find('\0'));
  out += after ? '+' : '-';
  // dump_hexadecimal(..., strip_zeros=1) and dump_pointer: lower case, no leading zeros.
  out += hex_address(offset) + " [" + hex_address(frame.address) + "]\n";
}

}  // namespace

void append_crash_c_stack(std::string& out, const CrashCStack& stack) {
  // faulthandler_dump_c_stack writes the blank line, _Py_DumpStack the rest.
  out += "\nCurrent thread's C stack trace (most recent call first):\n";
  for (const CrashCFrame& frame : stack.frames) append_frame(out, frame);
  if (stack.truncated) out += "  <truncated rest of calls>\n";
}

}  // namespace pystack
