// The source part of a traceback frame as Lib/traceback.py prints it: the stripped line (2.7,
// 3.6-3.10) and, 3.11+, the caret/tilde lines drawn from the instruction's positions. A pure
// function of the version and linecache's lines; where CPython asks ast.parse, a small parser of
// Python expressions and simple statements here answers instead (see traceback_carets.cc for the
// constructs it does not know: there it answers as CPython does when ast.parse fails).
#pragma once

#include <string>
#include <vector>

#include "snapshot/snapshot.h"

namespace pystack {

// What StackSummary.format_frame_summary prints below a frame's `  File "...", line N, in NAME`
// line for a frame of an exception's traceback: the source line(s) as that version shows them
// and, 3.11+, the caret/tilde line(s) it draws from the instruction's position; "" when the
// version prints no source (no line). `lines[i]` is linecache.getline(filename, lineno + i) for
// lineno .. end_lineno (only lines[0] when end_lineno is unknown); an empty string where
// linecache returns ''. Columns are UTF-8 byte offsets as co_positions() gives them; < 0: None
// (end_lineno < 0 too). Colorize off, as format_exception's default.
std::u32string format_frame_source(const PythonVersion& version,
                                   const std::vector<std::u32string>& lines,
                                   int lineno, int end_lineno, int colno, int end_colno);

}  // namespace pystack
