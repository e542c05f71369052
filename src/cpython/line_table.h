// Decoders of code objects' line tables, one per format, pure functions of the table's bytes:
// the equivalent of PyCode_Addr2Line in each CPython version.
#pragma once

#include <string_view>

namespace pystack {

// 3.11+ location table (co_linetable): the line of the instruction at byte offset
// `byte_offset` (instruction index * 2). Returns `first_line` for a negative offset, as
// PyCode_Addr2Line does, and -1 where the table says there is no line.
int line_from_location_table(std::string_view table, int first_line, int byte_offset);

// 3.11+: the position co_positions() gives the instruction at `byte_offset`: its line, end
// line and UTF-8 byte columns, -1 for None (all -1 past the table's end, or for a negative offset).
struct SourcePosition {
  int line = -1;
  int end_line = -1;
  int column = -1;
  int end_column = -1;
};
SourcePosition position_from_location_table(std::string_view table, int first_line,
                                            int byte_offset);

// 3.10 line table (co_linetable): pairs (byte range length, signed line delta; -128 = no line).
int line_from_line_table_310(std::string_view table, int first_line, int byte_offset);

// Up to 3.9 (and 2.7): co_lnotab pairs (address delta, line delta; signed from 3.6).
int line_from_lnotab(std::string_view lnotab, int first_line, int byte_offset, bool signed_deltas);

}  // namespace pystack
