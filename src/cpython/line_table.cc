// PyCode_Addr2Line of each CPython version, over a table's bytes only. The tables come from
// another process, so any byte string must be safe: every read is bounds-checked, every loop
// consumes at least one byte, and arithmetic wraps (as CPython's ints do in practice) instead of
// overflowing. On well-formed tables the answers are CPython's, checked against fixtures
// recorded from the interpreters themselves (scripts/gen-line-table-fixtures).
#include "cpython/line_table.h"

#include <cstdint>

namespace pystack {
namespace {

// CPython keeps lines in an int and adds deltas without checks; we add modulo 2^32 so a
// hostile table gives a wrong line, never undefined behaviour.
int add_wrapping(int line, int delta) {
  return static_cast<int>(static_cast<uint32_t>(line) + static_cast<uint32_t>(delta));
}

// A cursor over the table that reads 0 past the end: a truncated entry then ends cleanly.
class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : bytes_(bytes) {}
  bool at_end() const { return pos_ >= bytes_.size(); }
  size_t pos() const { return pos_; }
  uint8_t peek() const { return at_end() ? 0 : static_cast<uint8_t>(bytes_[pos_]); }
  uint8_t read() {
    uint8_t b = peek();
    if (!at_end()) ++pos_;
    return b;
  }
  void skip(size_t n) { pos_ = n < bytes_.size() - pos_ ? pos_ + n : bytes_.size(); }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

// ---- 3.11+ location table (Objects/codeobject.c, Objects/locations.md) ----

constexpr int kCodeUnitSize = 2;  // sizeof(_Py_CODEUNIT)
constexpr int kLocationNone = 15;
constexpr int kLocationLong = 14;
constexpr int kLocationNoColumns = 13;
constexpr int kLocationOneLine0 = 10;
constexpr int kLocationOneLine2 = 12;

// scan_varint: 6 bits a byte, little end first, 0x40 = more. Bits past 32 are dropped (C would
// shift out of range there); a varint cut by the table's end stops at the end.
uint32_t scan_varint(std::string_view table, size_t pos) {
  ByteReader reader(table);
  reader.skip(pos);
  uint32_t read = reader.read();
  uint32_t value = read & 63;
  for (unsigned shift = 6; (read & 64) && !reader.at_end(); shift += 6) {
    read = reader.read();
    if (shift < 32) value |= (read & 63) << shift;
  }
  return value;
}

// scan_signed_varint: the sign lives in bit 0.
int scan_signed_varint(std::string_view table, size_t pos) {
  uint32_t value = scan_varint(table, pos);
  int magnitude = static_cast<int>(value >> 1);
  return (value & 1) ? -magnitude : magnitude;
}

int location_code(uint8_t first_byte) { return (first_byte >> 3) & 15; }

// get_line_delta: how far the entry starting at `pos` moves the line.
int location_line_delta(std::string_view table, size_t pos, uint8_t first_byte) {
  int code = location_code(first_byte);
  if (code == kLocationNoColumns || code == kLocationLong) {
    return scan_signed_varint(table, pos + 1);
  }
  if (code >= kLocationOneLine0 && code <= kLocationOneLine2) return code - kLocationOneLine0;
  return 0;  // same line, or no location
}

// One range of the location table: [start, end) in bytes and its line (-1: none).
struct AddressRange {
  int64_t start = -1;
  int64_t end = 0;
  int line = -1;
};

// advance(): reads the entry at the reader, then skips to the next byte with bit 7 set, the
// start of the next entry (CPython finds entries that way, not by parsing their operands).
void advance_location(ByteReader& reader, std::string_view table, AddressRange& range,
                      int& computed_line) {
  uint8_t first = reader.peek();
  computed_line = add_wrapping(computed_line, location_line_delta(table, reader.pos(), first));
  range.line = (first >> 3) == (0x10 | kLocationNone) ? -1 : computed_line;  // is_no_line_marker
  range.start = range.end;
  range.end += ((first & 7) + 1) * kCodeUnitSize;
  do {
    reader.read();
  } while (!reader.at_end() && (reader.peek() & 128) == 0);
}

// ---- 3.10 line table (Objects/codeobject.c, Objects/lnotab_notes.txt) ----

constexpr int kNoLine310 = -128;

// advance() of 3.10: one (length, line delta) pair. A lone trailing byte reads its delta as 0.
void advance_310(ByteReader& reader, AddressRange& range, int& computed_line) {
  range.start = range.end;
  range.end += reader.read();
  int delta = static_cast<int8_t>(reader.read());
  if (delta == kNoLine310) {
    range.line = -1;
  } else {
    computed_line = add_wrapping(computed_line, delta);
    range.line = computed_line;
  }
}

// PyLineTable_NextAddressRange of 3.10: skips empty ranges. CPython assumes the table never ends
// inside such a run; here it is a failure, as if the table had ended.
bool next_range_310(ByteReader& reader, AddressRange& range, int& computed_line) {
  if (reader.at_end()) return false;
  advance_310(reader, range, computed_line);
  while (range.start == range.end) {
    if (reader.at_end()) return false;
    advance_310(reader, range, computed_line);
  }
  return true;
}

}  // namespace

int line_from_location_table(std::string_view table, int first_line, int byte_offset) {
  if (byte_offset < 0) return first_line;
  // _PyCode_CheckLineNumber from a fresh _PyCode_InitAddressRange: walk forward until the
  // range holding the offset; -1 when the table ends first.
  ByteReader reader(table);
  AddressRange range;
  int computed_line = first_line;
  while (range.end <= byte_offset) {
    if (reader.at_end()) return -1;
    advance_location(reader, table, range, computed_line);
  }
  return range.line;
}

namespace {

// One entry of the location table with its columns (Objects/locations.md; codeobject.c's
// positionsiter_next): `line` moves by the entry's delta; the rest is the entry's own.
SourcePosition read_position_entry(std::string_view table, size_t pos, int& line) {
  ByteReader reader(table);
  reader.skip(pos);
  const uint8_t first = reader.read();
  const int code = location_code(first);
  SourcePosition p;
  if (code == kLocationNone) return p;  // the line does not move either
  line = add_wrapping(line, location_line_delta(table, pos, first));
  p.line = line;
  p.end_line = line;
  if (code < kLocationOneLine0) {  // short form: the column's high bits are in the code
    const uint8_t second = reader.read();
    p.column = code * 8 + ((second >> 4) & 7);
    p.end_column = p.column + (second & 15);
  } else if (code <= kLocationOneLine2) {
    p.column = reader.read();
    p.end_column = reader.read();
  } else if (code == kLocationLong) {
    // Three varints after the line delta: end line delta, column + 1, end column + 1.
    size_t at = pos + 1;
    auto skip_varint = [&](size_t from) {
      size_t i = from;
      while (i < table.size() && (static_cast<uint8_t>(table[i]) & 64)) ++i;
      return i + 1;
    };
    at = skip_varint(at);
    p.end_line = add_wrapping(line, static_cast<int>(scan_varint(table, at)));
    at = skip_varint(at);
    p.column = static_cast<int>(scan_varint(table, at)) - 1;
    at = skip_varint(at);
    p.end_column = static_cast<int>(scan_varint(table, at)) - 1;
  }  // kLocationNoColumns: a line only
  return p;
}

}  // namespace

SourcePosition position_from_location_table(std::string_view table, int first_line,
                                            int byte_offset) {
  if (byte_offset < 0) return {};
  ByteReader reader(table);
  int64_t end = 0;
  int line = first_line;
  while (!reader.at_end()) {
    const size_t pos = reader.pos();
    const uint8_t first = reader.peek();
    const int64_t start = end;
    end += ((first & 7) + 1) * kCodeUnitSize;
    int entry_line = line;
    const SourcePosition p = read_position_entry(table, pos, entry_line);
    line = entry_line;
    if (byte_offset >= start && byte_offset < end) return p;
    do {
      reader.read();
    } while (!reader.at_end() && (reader.peek() & 128) == 0);
  }
  return {};
}

int line_from_line_table_310(std::string_view table, int first_line, int byte_offset) {
  if (byte_offset < 0) return first_line;
  ByteReader reader(table);
  AddressRange range;
  int computed_line = first_line;
  while (range.end <= byte_offset) {
    if (!next_range_310(reader, range, computed_line)) return -1;
  }
  return range.line;
}

int line_from_lnotab(std::string_view lnotab, int first_line, int byte_offset,
                     bool signed_deltas) {
  // Pairs (address delta, line delta); a lone trailing byte is ignored (size / 2). The address
  // is 64-bit so it cannot wrap; the line wraps like CPython's int. A negative offset stops
  // before the first pair: first_line.
  int line = first_line;
  int64_t addr = 0;
  for (size_t i = 0; i + 1 < lnotab.size(); i += 2) {
    addr += static_cast<uint8_t>(lnotab[i]);
    if (addr > byte_offset) break;
    uint8_t delta = static_cast<uint8_t>(lnotab[i + 1]);
    line = add_wrapping(line, signed_deltas ? static_cast<int8_t>(delta) : delta);
  }
  return line;
}

}  // namespace pystack
