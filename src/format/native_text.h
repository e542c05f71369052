// How C frames read in the text formats (--native).
#pragma once

#include <string>

#include "snapshot/snapshot.h"

namespace pystack {

// The faulthandler format's line for a C frame, in the form of CPython 3.14's C stack trace
// (_Py_backtrace_symbols_fd), with the mapped path and the whole symbol table:
//   `  Binary file "LIBRARY", at FUNCTION+0xOFFSET [0xADDRESS]`
//   `  Binary file "LIBRARY", at FUNCTION (inlined) [0xADDRESS]`   a call inlined there
//   `  Binary file "LIBRARY" [0xADDRESS]`                          no symbol covers it
//   `  Binary file '<unknown>' [0xADDRESS]`                        no file is mapped there
void append_native_binary_line(std::string& out, const NativeFrame& frame);

// The traceback format's line for a C frame, as pystack prints it:
//   `  (C) File "FILE", line N, in FUNCTION (LIBRARY_NAME)`, "???" and 0 for what is unknown.
void append_native_traceback_line(std::string& out, const NativeFrame& frame);

// "0x" and the value in lower-case hex, without leading zeros (dump_hexadecimal's strip).
std::string hex_address(uint64_t value);

}  // namespace pystack
