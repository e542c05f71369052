// Python's own view of text, shared by the traceback and JSON formatters and the source reader:
// str.isspace and str.strip per Python major version, UTF-8 with Python's error handlers.
//
// Python 2 str objects are bytes; the reader gives them as code points 0..255 (one per byte), and
// so does the source reader for Python 2 source lines. Python 3 text is code points, lone
// surrogates included (filenames decoded with surrogateescape, code renamed by code.replace()).
#pragma once

#include <string>
#include <string_view>

// The UTF-8 encoder (append_utf8_code_point, append_utf8_backslashreplace) is common/utf8.h's;
// it is part of this header's view of text for the formatters.
#include "common/utf8.h"

namespace pystack {

// Python 3 str.isspace() of one code point (Py_UNICODE_ISSPACE: the ASCII whitespace and the
// separators \x1c..\x1f, and Unicode's White_Space; the same set for 3.6..3.13).
bool is_python3_space(char32_t c);

// Whether str.splitlines() ends a line at this code point (\n \r \v \f \x1c-\x1e \x85 U+2028
// U+2029).
bool is_line_boundary(char32_t c);

// Python 2 str.isspace() of one byte (C locale isspace): space, \t, \n, \v, \f, \r.
bool is_python2_space(char32_t c);

// str.strip() with no argument: `python2` selects byte semantics (Python 2 str).
std::u32string_view strip_python(std::u32string_view text, bool python2);

// Appends a Python 2 str (code points 0..255 are its bytes) as those bytes, byte for byte as
// Python 2 writes it. Code points past 0xff (a Python 2 unicode object) are written as UTF-8.
void append_python2_bytes(std::string& out, std::u32string_view text);

}  // namespace pystack
