// StackSummary.format_frame_summary's source part (Lib/traceback.py) per release, as a pure
// function. The Python code is simulated step by step, its quirks included (3.11 mixes byte and
// character offsets, str.splitlines() splits at \f and \x1c, slices clamp, ...), because the
// output must be byte-identical. What differs between releases is one CaretRules row.
//
// ast.parse is answered by a small tokenizer and recursive-descent parser of Python expressions
// and simple statements. It knows: names, numbers, strings (prefixes r b u f, t from 3.14,
// implicit concatenation, triple quotes, 3.12+'s nested f-string quotes), every operator,
// comparisons, not/and/or, if-else, lambda, walrus, await, yield, calls (*, **, keywords, a sole
// generator), attributes, subscripts and slices, tuples, lists, dicts, sets, comprehensions;
// statements: expressions, return, pass/break/continue, (chained, augmented, annotated)
// assignment, import, from-import, del, assert, raise, global, nonlocal, separated by ';'.
// It does not know (it answers "unsure"; the caller then answers as CPython does when ast.parse
// raises SyntaxError, which is exact unless the unknown construct sits inside an otherwise valid
// segment whose top node is a BinOp/Subscript/Call, or inside a `return f(...)`/`x = f(...)`
// line): compound statements (they cannot be the first statement of interest: exact), soft
// keyword statements (`type X = ...`, `match`), comments and unterminated lines inside f-string
// replacement fields, the contents of replacement fields before 3.12 (taken as valid: the line
// compiled), t-strings implicitly concatenated with other strings, \r and control characters
// outside strings and comments, number literals other than decimal/float/imaginary/0x/0o/0b, and
// which non-ASCII characters may form identifiers (any non-space one is taken).
#include "format/traceback_carets.h"

#include "format/python_text.h"

#include <algorithm>
#include <optional>
#include <set>
#include <string_view>

namespace pystack {
namespace {

// ---- per release ----

enum class Layout {
  kStrippedLine,  // 2.7, 3.6-3.10: "    LINE.strip()\n"
  kCarets311,     // 3.11, 3.12: one line, carets under it, anchors of BinOp/Subscript
  kCarets313,     // 3.13+: every line of the positions, anchors of BinOp/Subscript/Call
};

enum class Width {
  kCodePoints,  // before _display_width: offsets count characters
  kEastAsian,   // _display_width: W and F are 2 columns, ASCII lines by offset
  kWlen,        // 3.15: _wlen: combining and Cf 0, W/F 2, ANSI escapes 0, \x1a 2
};

struct CaretRules {
  int major, minor, micro;  // first release of this row
  Layout layout;
  Width width;
  bool ascii_strip;       // 2.7: str is bytes, strip() strips ASCII whitespace only
  bool skip_to_operator;  // anchors skip ")", "#" and spaces to the operator or bracket
  bool pep701;            // 3.12+: f-string replacement fields are tokenized (nested quotes)
  bool tstrings;          // 3.14+: t'...' template strings (PEP 750)
};

// Newest first; the first row at or below the version applies.
// _display_width (bpo-43950, gh-28150) was backported in October 2023: 3.12.1 and 3.11.7 are
// the first releases with it (both recorded). 3.12.0 is inferred, not recorded. 3.11.2
// (recorded) also lacks the loops that skip ")", "#" and spaces before the operator or bracket;
// when 3.11.3-3.11.6 gained them is unknown, so they are taken as 3.11.2.
constexpr CaretRules kRules[] = {
    // release     layout               width              ascii  skip   pep701 tstrings
    {3, 15, 0, Layout::kCarets313, Width::kWlen, false, true, true, true},
    {3, 14, 0, Layout::kCarets313, Width::kEastAsian, false, true, true, true},
    {3, 13, 0, Layout::kCarets313, Width::kEastAsian, false, true, true, false},
    {3, 12, 1, Layout::kCarets311, Width::kEastAsian, false, true, true, false},
    {3, 12, 0, Layout::kCarets311, Width::kCodePoints, false, true, true, false},
    {3, 11, 7, Layout::kCarets311, Width::kEastAsian, false, true, false, false},
    {3, 11, 0, Layout::kCarets311, Width::kCodePoints, false, false, false, false},
    {3, 0, 0, Layout::kStrippedLine, Width::kCodePoints, false, false, false, false},
    {0, 0, 0, Layout::kStrippedLine, Width::kCodePoints, true, false, false, false},
};

const CaretRules& rules_for(const PythonVersion& v) {
  for (const CaretRules& rules : kRules) {
    if (v.at_least(rules.major, rules.minor, rules.micro)) return rules;
  }
  return kRules[std::size(kRules) - 1];
}

// ---- str as Python sees it ----

using Str = std::u32string;
using StrView = std::u32string_view;

bool py_isspace(char32_t c) {  // str.isspace: bidirectional WS/B/S or Zs
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
         c == 0x202f || c == 0x205f || c == 0x3000;
}
bool ascii_isspace(char32_t c) { return c == ' ' || (c >= 0x09 && c <= 0x0d); }

Str lstrip(StrView s) {
  size_t i = 0;
  while (i < s.size() && py_isspace(s[i])) ++i;
  return Str(s.substr(i));
}
Str rstrip(StrView s) {
  size_t n = s.size();
  while (n > 0 && py_isspace(s[n - 1])) --n;
  return Str(s.substr(0, n));
}
Str strip(StrView s) { return lstrip(rstrip(s)); }

bool is_ascii(StrView s) {
  return std::all_of(s.begin(), s.end(), [](char32_t c) { return c < 0x80; });
}

std::vector<Str> splitlines(StrView s, bool keepends = false) {
  std::vector<Str> out;
  size_t start = 0, i = 0;
  while (i < s.size()) {
    if (!is_line_boundary(s[i])) {
      ++i;
      continue;
    }
    size_t eol = i + ((s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ? 2 : 1);
    out.emplace_back(s.substr(start, (keepends ? eol : i) - start));
    start = i = eol;
  }
  if (start < s.size()) out.emplace_back(s.substr(start));
  return out;
}

// s[start:stop] with Python's clamping and negative indexes.
Str py_slice(StrView s, long start, long stop) {
  const long n = static_cast<long>(s.size());
  auto clamp = [n](long i) { return i < 0 ? std::max(0L, i + n) : std::min(i, n); };
  start = clamp(start);
  stop = clamp(stop);
  return stop > start ? Str(s.substr(start, stop - start)) : Str();
}

int utf8_length(char32_t c) { return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4; }

// _byte_offset_to_character_offset: len(s.encode()[:offset].decode(errors="replace")); a cut
// character decodes to one U+FFFD.
long byte_to_char_offset(StrView s, long offset) {
  long bytes = 0, chars = 0;
  for (char32_t c : s) {
    if (bytes >= offset) break;
    bytes += utf8_length(c);
    ++chars;
  }
  return chars;
}

struct PythonError {};  // an exception the Python code would raise (not suppressed: no output)

// ---- display width ----

struct CodePointRange {
  char32_t first, last;
};
// Generated with CPython 3.15.2's unicodedata (ranges of east_asian_width in W/F, combining()
// != 0, category Cf but U+00AD); older releases' Unicode versions differ only in new code points.
// unicodedata 17.0.0 (CPython 3.15.2)
constexpr CodePointRange kWideOrFullwidth[] = {
    {0x1100, 0x115f}, {0x231a, 0x231b}, {0x2329, 0x232a}, {0x23e9, 0x23ec}, {0x23f0, 0x23f0},
    {0x23f3, 0x23f3}, {0x25fd, 0x25fe}, {0x2614, 0x2615}, {0x2630, 0x2637}, {0x2648, 0x2653},
    {0x267f, 0x267f}, {0x268a, 0x268f}, {0x2693, 0x2693}, {0x26a1, 0x26a1}, {0x26aa, 0x26ab},
    {0x26bd, 0x26be}, {0x26c4, 0x26c5}, {0x26ce, 0x26ce}, {0x26d4, 0x26d4}, {0x26ea, 0x26ea},
    {0x26f2, 0x26f3}, {0x26f5, 0x26f5}, {0x26fa, 0x26fa}, {0x26fd, 0x26fd}, {0x2705, 0x2705},
    {0x270a, 0x270b}, {0x2728, 0x2728}, {0x274c, 0x274c}, {0x274e, 0x274e}, {0x2753, 0x2755},
    {0x2757, 0x2757}, {0x2795, 0x2797}, {0x27b0, 0x27b0}, {0x27bf, 0x27bf}, {0x2b1b, 0x2b1c},
    {0x2b50, 0x2b50}, {0x2b55, 0x2b55}, {0x2e80, 0x2e99}, {0x2e9b, 0x2ef3}, {0x2f00, 0x2fd5},
    {0x2ff0, 0x303e}, {0x3041, 0x3096}, {0x3099, 0x30ff}, {0x3105, 0x312f}, {0x3131, 0x318e},
    {0x3190, 0x31e5}, {0x31ef, 0x321e}, {0x3220, 0x3247}, {0x3250, 0xa48c}, {0xa490, 0xa4c6},
    {0xa960, 0xa97c}, {0xac00, 0xd7a3}, {0xf900, 0xfaff}, {0xfe10, 0xfe19}, {0xfe30, 0xfe52},
    {0xfe54, 0xfe66}, {0xfe68, 0xfe6b}, {0xff01, 0xff60}, {0xffe0, 0xffe6}, {0x16fe0, 0x16fe4},
    {0x16ff0, 0x16ff6}, {0x17000, 0x18cd5}, {0x18cff, 0x18d1e}, {0x18d80, 0x18df2},
    {0x1aff0, 0x1aff3}, {0x1aff5, 0x1affb}, {0x1affd, 0x1affe}, {0x1b000, 0x1b122},
    {0x1b132, 0x1b132}, {0x1b150, 0x1b152}, {0x1b155, 0x1b155}, {0x1b164, 0x1b167},
    {0x1b170, 0x1b2fb}, {0x1d300, 0x1d356}, {0x1d360, 0x1d376}, {0x1f004, 0x1f004},
    {0x1f0cf, 0x1f0cf}, {0x1f18e, 0x1f18e}, {0x1f191, 0x1f19a}, {0x1f200, 0x1f202},
    {0x1f210, 0x1f23b}, {0x1f240, 0x1f248}, {0x1f250, 0x1f251}, {0x1f260, 0x1f265},
    {0x1f300, 0x1f320}, {0x1f32d, 0x1f335}, {0x1f337, 0x1f37c}, {0x1f37e, 0x1f393},
    {0x1f3a0, 0x1f3ca}, {0x1f3cf, 0x1f3d3}, {0x1f3e0, 0x1f3f0}, {0x1f3f4, 0x1f3f4},
    {0x1f3f8, 0x1f43e}, {0x1f440, 0x1f440}, {0x1f442, 0x1f4fc}, {0x1f4ff, 0x1f53d},
    {0x1f54b, 0x1f54e}, {0x1f550, 0x1f567}, {0x1f57a, 0x1f57a}, {0x1f595, 0x1f596},
    {0x1f5a4, 0x1f5a4}, {0x1f5fb, 0x1f64f}, {0x1f680, 0x1f6c5}, {0x1f6cc, 0x1f6cc},
    {0x1f6d0, 0x1f6d2}, {0x1f6d5, 0x1f6d8}, {0x1f6dc, 0x1f6df}, {0x1f6eb, 0x1f6ec},
    {0x1f6f4, 0x1f6fc}, {0x1f7e0, 0x1f7eb}, {0x1f7f0, 0x1f7f0}, {0x1f90c, 0x1f93a},
    {0x1f93c, 0x1f945}, {0x1f947, 0x1f9ff}, {0x1fa70, 0x1fa7c}, {0x1fa80, 0x1fa8a},
    {0x1fa8e, 0x1fac6}, {0x1fac8, 0x1fac8}, {0x1facd, 0x1fadc}, {0x1fadf, 0x1faea},
    {0x1faef, 0x1faf8}, {0x20000, 0x2fffd}, {0x30000, 0x3fffd},
};
constexpr CodePointRange kCombining[] = {
    {0x300, 0x34e}, {0x350, 0x36f}, {0x483, 0x487}, {0x591, 0x5bd}, {0x5bf, 0x5bf},
    {0x5c1, 0x5c2}, {0x5c4, 0x5c5}, {0x5c7, 0x5c7}, {0x610, 0x61a}, {0x64b, 0x65f},
    {0x670, 0x670}, {0x6d6, 0x6dc}, {0x6df, 0x6e4}, {0x6e7, 0x6e8}, {0x6ea, 0x6ed},
    {0x711, 0x711}, {0x730, 0x74a}, {0x7eb, 0x7f3}, {0x7fd, 0x7fd}, {0x816, 0x819},
    {0x81b, 0x823}, {0x825, 0x827}, {0x829, 0x82d}, {0x859, 0x85b}, {0x897, 0x89f},
    {0x8ca, 0x8e1}, {0x8e3, 0x8ff}, {0x93c, 0x93c}, {0x94d, 0x94d}, {0x951, 0x954},
    {0x9bc, 0x9bc}, {0x9cd, 0x9cd}, {0x9fe, 0x9fe}, {0xa3c, 0xa3c}, {0xa4d, 0xa4d},
    {0xabc, 0xabc}, {0xacd, 0xacd}, {0xb3c, 0xb3c}, {0xb4d, 0xb4d}, {0xbcd, 0xbcd},
    {0xc3c, 0xc3c}, {0xc4d, 0xc4d}, {0xc55, 0xc56}, {0xcbc, 0xcbc}, {0xccd, 0xccd},
    {0xd3b, 0xd3c}, {0xd4d, 0xd4d}, {0xdca, 0xdca}, {0xe38, 0xe3a}, {0xe48, 0xe4b},
    {0xeb8, 0xeba}, {0xec8, 0xecb}, {0xf18, 0xf19}, {0xf35, 0xf35}, {0xf37, 0xf37},
    {0xf39, 0xf39}, {0xf71, 0xf72}, {0xf74, 0xf74}, {0xf7a, 0xf7d}, {0xf80, 0xf80},
    {0xf82, 0xf84}, {0xf86, 0xf87}, {0xfc6, 0xfc6}, {0x1037, 0x1037}, {0x1039, 0x103a},
    {0x108d, 0x108d}, {0x135d, 0x135f}, {0x1714, 0x1715}, {0x1734, 0x1734}, {0x17d2, 0x17d2},
    {0x17dd, 0x17dd}, {0x18a9, 0x18a9}, {0x1939, 0x193b}, {0x1a17, 0x1a18}, {0x1a60, 0x1a60},
    {0x1a75, 0x1a7c}, {0x1a7f, 0x1a7f}, {0x1ab0, 0x1abd}, {0x1abf, 0x1add}, {0x1ae0, 0x1aeb},
    {0x1b34, 0x1b34}, {0x1b44, 0x1b44}, {0x1b6b, 0x1b73}, {0x1baa, 0x1bab}, {0x1be6, 0x1be6},
    {0x1bf2, 0x1bf3}, {0x1c37, 0x1c37}, {0x1cd0, 0x1cd2}, {0x1cd4, 0x1ce0}, {0x1ce2, 0x1ce8},
    {0x1ced, 0x1ced}, {0x1cf4, 0x1cf4}, {0x1cf8, 0x1cf9}, {0x1dc0, 0x1dff}, {0x20d0, 0x20dc},
    {0x20e1, 0x20e1}, {0x20e5, 0x20f0}, {0x2cef, 0x2cf1}, {0x2d7f, 0x2d7f}, {0x2de0, 0x2dff},
    {0x302a, 0x302f}, {0x3099, 0x309a}, {0xa66f, 0xa66f}, {0xa674, 0xa67d}, {0xa69e, 0xa69f},
    {0xa6f0, 0xa6f1}, {0xa806, 0xa806}, {0xa82c, 0xa82c}, {0xa8c4, 0xa8c4}, {0xa8e0, 0xa8f1},
    {0xa92b, 0xa92d}, {0xa953, 0xa953}, {0xa9b3, 0xa9b3}, {0xa9c0, 0xa9c0}, {0xaab0, 0xaab0},
    {0xaab2, 0xaab4}, {0xaab7, 0xaab8}, {0xaabe, 0xaabf}, {0xaac1, 0xaac1}, {0xaaf6, 0xaaf6},
    {0xabed, 0xabed}, {0xfb1e, 0xfb1e}, {0xfe20, 0xfe2f}, {0x101fd, 0x101fd}, {0x102e0, 0x102e0},
    {0x10376, 0x1037a}, {0x10a0d, 0x10a0d}, {0x10a0f, 0x10a0f}, {0x10a38, 0x10a3a},
    {0x10a3f, 0x10a3f}, {0x10ae5, 0x10ae6}, {0x10d24, 0x10d27}, {0x10d69, 0x10d6d},
    {0x10eab, 0x10eac}, {0x10efa, 0x10efb}, {0x10efd, 0x10eff}, {0x10f46, 0x10f50},
    {0x10f82, 0x10f85}, {0x11046, 0x11046}, {0x11070, 0x11070}, {0x1107f, 0x1107f},
    {0x110b9, 0x110ba}, {0x11100, 0x11102}, {0x11133, 0x11134}, {0x11173, 0x11173},
    {0x111c0, 0x111c0}, {0x111ca, 0x111ca}, {0x11235, 0x11236}, {0x112e9, 0x112ea},
    {0x1133b, 0x1133c}, {0x1134d, 0x1134d}, {0x11366, 0x1136c}, {0x11370, 0x11374},
    {0x113ce, 0x113d0}, {0x11442, 0x11442}, {0x11446, 0x11446}, {0x1145e, 0x1145e},
    {0x114c2, 0x114c3}, {0x115bf, 0x115c0}, {0x1163f, 0x1163f}, {0x116b6, 0x116b7},
    {0x1172b, 0x1172b}, {0x11839, 0x1183a}, {0x1193d, 0x1193e}, {0x11943, 0x11943},
    {0x119e0, 0x119e0}, {0x11a34, 0x11a34}, {0x11a47, 0x11a47}, {0x11a99, 0x11a99},
    {0x11c3f, 0x11c3f}, {0x11d42, 0x11d42}, {0x11d44, 0x11d45}, {0x11d97, 0x11d97},
    {0x11f41, 0x11f42}, {0x1612f, 0x1612f}, {0x16af0, 0x16af4}, {0x16b30, 0x16b36},
    {0x16ff0, 0x16ff1}, {0x1bc9e, 0x1bc9e}, {0x1d165, 0x1d169}, {0x1d16d, 0x1d172},
    {0x1d17b, 0x1d182}, {0x1d185, 0x1d18b}, {0x1d1aa, 0x1d1ad}, {0x1d242, 0x1d244},
    {0x1e000, 0x1e006}, {0x1e008, 0x1e018}, {0x1e01b, 0x1e021}, {0x1e023, 0x1e024},
    {0x1e026, 0x1e02a}, {0x1e08f, 0x1e08f}, {0x1e130, 0x1e136}, {0x1e2ae, 0x1e2ae},
    {0x1e2ec, 0x1e2ef}, {0x1e4ec, 0x1e4ef}, {0x1e5ee, 0x1e5ef}, {0x1e6e3, 0x1e6e3},
    {0x1e6e6, 0x1e6e6}, {0x1e6ee, 0x1e6ef}, {0x1e6f5, 0x1e6f5}, {0x1e8d0, 0x1e8d6},
    {0x1e944, 0x1e94a},
};
constexpr CodePointRange kFormatNotSoftHyphen[] = {
    {0x600, 0x605}, {0x61c, 0x61c}, {0x6dd, 0x6dd}, {0x70f, 0x70f}, {0x890, 0x891},
    {0x8e2, 0x8e2}, {0x180e, 0x180e}, {0x200b, 0x200f}, {0x202a, 0x202e}, {0x2060, 0x2064},
    {0x2066, 0x206f}, {0xfeff, 0xfeff}, {0xfff9, 0xfffb}, {0x110bd, 0x110bd}, {0x110cd, 0x110cd},
    {0x13430, 0x1343f}, {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0xe0001, 0xe0001},
    {0xe0020, 0xe007f},
};

template <size_t N>
bool in_ranges(const CodePointRange (&ranges)[N], char32_t c) {
  auto it = std::upper_bound(std::begin(ranges), std::end(ranges), c,
                             [](char32_t v, const CodePointRange& r) { return v < r.first; });
  return it != std::begin(ranges) && c <= std::prev(it)->last;
}

int east_asian_width(char32_t c) { return in_ranges(kWideOrFullwidth, c) ? 2 : 1; }

int wlen_char_width(char32_t c) {  // _str_width (3.15)
  if (c < 128) return 1;
  if (in_ranges(kCombining, c) || in_ranges(kFormatNotSoftHyphen, c)) return 0;
  return east_asian_width(c);
}

// Lengths of the non-overlapping matches of \x1b\[[ -@]*[A-~] (_ANSI_ESCAPE_SEQUENCE).
long ansi_escape_length(StrView s) {
  long total = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != 0x1b || i + 1 >= s.size() || s[i + 1] != '[') continue;
    size_t j = i + 2;
    while (j < s.size() && s[j] >= 0x20 && s[j] <= 0x40) ++j;
    if (j < s.size() && s[j] >= 0x41 && s[j] <= 0x7e) {
      total += static_cast<long>(j + 1 - i);
      i = j;
    }
  }
  return total;
}

long wlen(StrView s) {
  if (s.size() == 1 && s[0] != 0x1a) return wlen_char_width(s[0]);
  long length = 0;
  for (char32_t c : s) length += wlen_char_width(c) + (c == 0x1a ? 1 : 0);
  return length - ansi_escape_length(s);
}

// _display_width(line, offset); offset < 0: None.
long display_width(const CaretRules& rules, StrView line, long offset = -1) {
  if (rules.width == Width::kWlen) {
    return offset < 0 ? wlen(line) : wlen(py_slice(line, 0, offset));
  }
  if (offset < 0) offset = static_cast<long>(line.size());
  if (rules.width == Width::kCodePoints || is_ascii(line)) return offset;
  long width = 0;
  for (char32_t c : py_slice(line, 0, offset)) width += east_asian_width(c);
  return width;
}

// ---- textwrap ----

// textwrap.dedent; our texts have no whitespace-only lines but "" (they were rstripped) and
// caret lines of spaces, which both versions of dedent turn into "".
Str dedent(StrView text) {
  std::vector<Str> lines;
  for (size_t start = 0;;) {
    size_t nl = text.find(U'\n', start);
    lines.emplace_back(text.substr(start, nl == StrView::npos ? StrView::npos : nl - start));
    if (nl == StrView::npos) break;
    start = nl + 1;
  }
  auto blank = [](const Str& l) {
    return std::all_of(l.begin(), l.end(), [](char32_t c) { return c == ' ' || c == '\t'; });
  };
  std::optional<Str> margin;
  for (const Str& l : lines) {
    if (blank(l)) continue;
    size_t n = 0;
    while (n < l.size() && (l[n] == ' ' || l[n] == '\t')) ++n;
    Str indent = l.substr(0, n);
    if (!margin) {
      margin = indent;
    } else {
      size_t k = 0;
      while (k < margin->size() && k < indent.size() && (*margin)[k] == indent[k]) ++k;
      margin->resize(k);
    }
  }
  Str out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) out += U'\n';
    if (blank(lines[i])) continue;
    out += StrView(lines[i]).substr(margin ? margin->size() : 0);
  }
  return out;
}

// textwrap.indent(text, prefix) (default predicate: lines that are not whitespace only), or
// with `every_line` (predicate lambda line: True).
Str indent(StrView text, StrView prefix, bool every_line) {
  Str out;
  for (const Str& line : splitlines(text, true)) {
    if (every_line || !std::all_of(line.begin(), line.end(), py_isspace)) out += prefix;
    out += line;
  }
  return out;
}

// ---- a parser standing in for ast.parse ----

struct Invalid {};  // ast.parse raises SyntaxError
struct Unsure {};   // a construct this parser does not implement

struct Pos {
  int line = 1;  // ast: lineno from 1
  int col = 0;   // ast: UTF-8 byte column
};

enum class Tok { kName, kNumber, kString, kOp, kNewline, kEnd };

struct Token {
  Tok kind;
  Str text;  // names and operators; strings: "b" bytes, "s" str
  Pos start, end;
};

const std::set<Str> kKeywords = {
    U"False", U"None",   U"True",   U"and",   U"as",       U"assert", U"async",
    U"await", U"break",  U"class",  U"continue", U"def",   U"del",    U"elif",
    U"else",  U"except", U"finally", U"for",  U"from",     U"global", U"if",
    U"import", U"in",    U"is",     U"lambda", U"nonlocal", U"not",   U"or",
    U"pass",  U"raise",  U"return", U"try",   U"while",    U"with",   U"yield"};

bool is_name_start(char32_t c) { return c == '_' || (c | 0x20) - 'a' < 26u || c >= 0x80; }
bool is_name_char(char32_t c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

bool is_string_prefix(StrView p, bool tstrings) {
  static const std::set<Str> kPrefixes = {U"r", U"u", U"b", U"f", U"br", U"rb", U"fr", U"rf"};
  static const std::set<Str> kTemplatePrefixes = {U"t", U"tr", U"rt"};
  Str lower;
  for (char32_t c : p) lower += (c < 0x80) ? static_cast<char32_t>(std::tolower(c)) : c;
  return kPrefixes.count(lower) > 0 || (tstrings && kTemplatePrefixes.count(lower) > 0);
}

bool valid_number(StrView n) {  // decimal, float, imaginary, 0x/0o/0b; underscores between digits
  auto digits = [&](size_t& i, auto ok) {
    size_t start = i;
    while (i < n.size() && (ok(n[i]) || (n[i] == '_' && i > start && i + 1 < n.size() && ok(n[i + 1]))))
      ++i;
    return i > start;
  };
  auto dec = [](char32_t c) { return c >= '0' && c <= '9'; };
  size_t i = 0;
  if (n.size() > 2 && n[0] == '0' && std::string_view("xXoObB").find(static_cast<char>(n[1])) != std::string_view::npos) {
    char k = static_cast<char>(n[1] | 0x20);
    auto ok = [k](char32_t c) {
      if (k == 'x') return (c >= '0' && c <= '9') || (c | 0x20) - 'a' < 6u;
      return c >= '0' && c <= (k == 'o' ? '7' : '1');
    };
    i = 2;
    if (i < n.size() && n[i] == '_') ++i;
    return digits(i, ok) && i == n.size();
  }
  bool int_part = digits(i, dec);
  bool frac = false;
  if (i < n.size() && n[i] == '.') {
    ++i;
    frac = digits(i, dec);
  }
  if (!int_part && !frac) return false;
  if (i < n.size() && (n[i] | 0x20) == 'e') {
    ++i;
    if (i < n.size() && (n[i] == '+' || n[i] == '-')) ++i;
    if (!digits(i, dec)) return false;
  }
  if (i < n.size() && (n[i] | 0x20) == 'j') ++i;
  if (i != n.size()) return false;
  // "012" is invalid, "00" and "0_0" are not
  if (n.size() > 1 && n[0] == '0' && std::all_of(n.begin(), n.end(), [](char32_t c) { return c == '0' || c == '_' || (c >= '0' && c <= '9'); })) {
    return std::all_of(n.begin(), n.end(), [](char32_t c) { return c == '0' || c == '_'; });
  }
  return true;
}

class Tokenizer {
 public:
  Tokenizer(StrView src, const CaretRules& rules) : src_(src), rules_(rules) {}

  std::vector<Token> run() {
    while (true) {
      if (i_ >= src_.size()) {
        if (!brackets_.empty()) throw Invalid{};
        if (!tokens_.empty() && tokens_.back().kind != Tok::kNewline) push(Tok::kNewline, U"", here());
        push(Tok::kEnd, U"", here());
        return tokens_;
      }
      if (line_start_ && brackets_.empty() && !indentation()) continue;
      char32_t c = src_[i_];
      if (c == ' ' || c == '\t' || c == '\f') {
        advance();
      } else if (c == '#') {
        while (i_ < src_.size() && src_[i_] != '\n') advance();
      } else if (c == '\\') {
        advance();
        if (i_ >= src_.size() || src_[i_] != '\n') throw Invalid{};
        newline();
      } else if (c == '\n') {
        if (brackets_.empty() && !tokens_.empty() && tokens_.back().kind != Tok::kNewline)
          push(Tok::kNewline, U"", here());
        newline();
        line_start_ = brackets_.empty();
      } else if (is_name_start(c)) {
        name_or_string();
      } else if ((c >= '0' && c <= '9') || (c == '.' && i_ + 1 < src_.size() && src_[i_ + 1] >= '0' && src_[i_ + 1] <= '9')) {
        number();
      } else if (c == '\'' || c == '"') {
        string(here(), U"");
      } else {
        op();
      }
    }
  }

 private:
  Pos here() const { return pos_; }
  void advance() {
    pos_.col += utf8_length(src_[i_]);
    ++i_;
  }
  void newline() {
    ++i_;
    ++pos_.line;
    pos_.col = 0;
  }
  void push(Tok kind, Str text, Pos start) { tokens_.push_back({kind, std::move(text), start, here()}); }

  // At the start of a logical line: blank and comment lines are skipped; indentation is an
  // error (only statements at column 0 are parsed). Returns whether tokens follow.
  bool indentation() {
    size_t j = i_;
    while (j < src_.size() && (src_[j] == ' ' || src_[j] == '\t' || src_[j] == '\f')) ++j;
    if (j >= src_.size() || src_[j] == '\n' || src_[j] == '#') {
      while (i_ < src_.size() && src_[i_] != '\n') advance();
      if (i_ < src_.size()) newline();
      return false;
    }
    if (j != i_) throw Invalid{};  // IndentationError: unexpected indent
    line_start_ = false;
    return true;
  }

  void name_or_string() {
    Pos start = here();
    size_t begin = i_;
    while (i_ < src_.size() && is_name_char(src_[i_])) {
      if (py_isspace(src_[i_]) || src_[i_] < 0x20) throw Unsure{};
      advance();
    }
    Str name(src_.substr(begin, i_ - begin));
    if (i_ < src_.size() && (src_[i_] == '\'' || src_[i_] == '"') && name.size() <= 2 &&
        is_string_prefix(name, rules_.tstrings)) {
      string(start, name);
      return;
    }
    push(Tok::kName, name, start);
  }

  void number() {
    Pos start = here();
    size_t begin = i_;
    while (i_ < src_.size()) {
      char32_t c = src_[i_];
      bool exponent_sign = (c == '+' || c == '-') && i_ > begin && (src_[i_ - 1] | 0x20) == 'e' &&
                           !(src_.size() > begin + 1 && (src_[begin + 1] | 0x20) == 'x');
      if (!(is_name_char(c) && c < 0x80) && c != '.' && !exponent_sign) break;
      advance();
    }
    if (!valid_number(src_.substr(begin, i_ - begin))) throw Unsure{};
    push(Tok::kNumber, Str(src_.substr(begin, i_ - begin)), start);
  }

  void string(Pos start, StrView prefix) {
    bool bytes = prefix.find_first_of(U"bB") != StrView::npos;
    string_body(prefix.find_first_of(U"fFtT") != StrView::npos);
    bool tstring = rules_.tstrings && prefix.find_first_of(U"tT") != StrView::npos;
    push(Tok::kString, bytes ? U"b" : tstring ? U"t" : U"s", start);
  }

  // From an opening quote through the closing one. Before 3.12 an f-string is one string token
  // (its fields are compiled apart: their validity is assumed here); 3.12+ tokenizes the fields,
  // so a field may hold strings in the same quotes (PEP 701).
  void string_body(bool fstring) {
    const char32_t quote = src_[i_];
    const bool triple = i_ + 2 < src_.size() && src_[i_ + 1] == quote && src_[i_ + 2] == quote;
    for (int k = 0; k < (triple ? 3 : 1); ++k) advance();
    struct Field {
      bool spec = false;  // after the top-level ':' of the field: literal text again
      int brackets = 0;
    };
    std::vector<Field> fields;
    const bool fields_tokenized = fstring && rules_.pep701;
    while (true) {
      if (i_ >= src_.size()) throw Invalid{};
      const char32_t c = src_[i_];
      if (fields_tokenized && !fields.empty() && !fields.back().spec) {
        Field& field = fields.back();
        if (c == '\'' || c == '"') {
          size_t j = i_;
          while (j > 0 && src_[j - 1] < 0x80 && std::isalpha(static_cast<int>(src_[j - 1]))) --j;
          string_body(src_.substr(j, i_ - j).find_first_of(rules_.tstrings ? U"fFtT" : U"fF") != StrView::npos);
          continue;
        }
        if (c == '#') throw Unsure{};
        if (c == '\n') {
          if (!triple) throw Unsure{};
          newline();
          continue;
        }
        if (c == '(' || c == '[' || c == '{') {
          ++field.brackets;
        } else if (c == ')' || c == ']' || (c == '}' && field.brackets > 0)) {
          if (--field.brackets < 0) throw Invalid{};
        } else if (c == '}') {
          fields.pop_back();
        } else if (c == ':' && field.brackets == 0) {
          field.spec = true;
        }
        advance();
        continue;
      }
      if (c == '\\') {
        advance();
        if (i_ >= src_.size()) throw Invalid{};
        if (src_[i_] == '\n') newline(); else advance();
        continue;
      }
      if (c == '\n') {
        if (!triple) throw Invalid{};
        newline();
        continue;
      }
      const bool doubled = i_ + 1 < src_.size() && src_[i_ + 1] == c;
      if (fields_tokenized && c == '{') {
        if (fields.empty() && doubled) advance(); else fields.push_back({});
      } else if (fields_tokenized && c == '}') {
        if (!fields.empty()) fields.pop_back();
        else if (doubled) advance();
        else throw Invalid{};  // single '}' is not allowed
      } else if (c == quote && (!triple || (i_ + 2 < src_.size() && src_[i_ + 1] == quote && src_[i_ + 2] == quote))) {
        if (!fields.empty()) throw Invalid{};
        for (int k = 0; k < (triple ? 3 : 1); ++k) advance();
        return;
      }
      advance();
    }
  }

  void op() {
    static const StrView kOps[] = {
        U"**=", U"//=", U">>=", U"<<=", U"...", U"->", U":=", U"**", U"//", U"<<", U">>", U"<=",
        U">=", U"==", U"!=", U"+=", U"-=", U"*=", U"/=", U"%=", U"&=", U"|=", U"^=", U"@=",
        U"+", U"-", U"*", U"/", U"%", U"@", U"&", U"|", U"^", U"~", U"<", U">", U"(", U")",
        U"[", U"]", U"{", U"}", U",", U":", U";", U".", U"="};
    StrView rest = src_.substr(i_);
    for (StrView candidate : kOps) {
      if (rest.substr(0, candidate.size()) != candidate) continue;
      Pos start = here();
      for (size_t k = 0; k < candidate.size(); ++k) advance();
      char32_t c = candidate[0];
      if (candidate.size() == 1 && (c == '(' || c == '[' || c == '{')) {
        // The tokenizer's MAXLEVEL: "too many nested parentheses"
        if (brackets_.size() >= 200) throw Invalid{};
        brackets_.push_back(c);
      }
      if (candidate.size() == 1 && (c == ')' || c == ']' || c == '}')) {
        char32_t open = c == ')' ? '(' : c == ']' ? '[' : '{';
        if (brackets_.empty() || brackets_.back() != open) throw Invalid{};
        brackets_.pop_back();
      }
      push(Tok::kOp, Str(candidate), start);
      return;
    }
    if (src_[i_] < 0x80 && src_[i_] >= 0x20) throw Invalid{};  // $ ? ! ` as tokens
    throw Unsure{};  // control characters, \r: not worth modelling
  }

  StrView src_;
  const CaretRules& rules_;
  size_t i_ = 0;
  Pos pos_;
  bool line_start_ = true;
  std::vector<char32_t> brackets_;
  std::vector<Token> tokens_;
};

enum class K {
  kName, kConst, kBinOp, kUnary, kBoolOp, kCompare, kCall, kAttribute, kSubscript, kTuple,
  kList, kDict, kSet, kComp, kLambda, kIfExp, kNamed, kStarred, kSlice, kAwait, kYield,
};

struct Node {
  K kind;
  Pos start, end;
  int a = -1, b = -1;     // BinOp left/right, Subscript value/slice, Call/Attribute/Starred a
  std::vector<int> elts;  // Tuple, List
};

enum class S { kExpr, kReturn, kAssign, kOther };

struct Stmt {
  S kind;
  int value = -1;
  std::vector<int> targets;
};

struct Module {
  enum Status { kOk, kInvalid, kUnsure } status = kOk;
  std::vector<Stmt> body;  // as far as parsed
  std::vector<Node> nodes;
};

class Parser {
 public:
  Parser(std::vector<Token> tokens, std::vector<Node>& nodes) : t_(std::move(tokens)), nodes_(nodes) {}

  void module(std::vector<Stmt>& body) {
    while (peek().kind != Tok::kEnd) {
      body.push_back(simple_stmt());
      while (is_op(U";")) {
        next();
        if (peek().kind == Tok::kNewline) break;
        body.push_back(simple_stmt());
      }
      expect_kind(Tok::kNewline);
    }
  }

 private:
  const Token& peek(size_t ahead = 0) const { return t_[std::min(p_ + ahead, t_.size() - 1)]; }
  const Token& next() { return t_[std::min(p_++, t_.size() - 1)]; }
  const Token& last() const { return t_[p_ - 1]; }
  bool is_op(StrView s, size_t ahead = 0) const { return peek(ahead).kind == Tok::kOp && peek(ahead).text == s; }
  bool is_kw(StrView s, size_t ahead = 0) const { return peek(ahead).kind == Tok::kName && peek(ahead).text == s; }
  bool is_keyword(const Token& t) const { return t.kind == Tok::kName && kKeywords.count(t.text); }
  void expect_op(StrView s) {
    if (!is_op(s)) throw Invalid{};
    next();
  }
  void expect_kw(StrView s) {
    if (!is_kw(s)) throw Invalid{};
    next();
  }
  void expect_kind(Tok k) {
    if (peek().kind != k) throw Invalid{};
    next();
  }
  int make(K kind, Pos start, Pos end, int a = -1, int b = -1) {
    nodes_.push_back({kind, start, end, a, b, {}});
    return static_cast<int>(nodes_.size() - 1);
  }
  const Node& n(int i) const { return nodes_[i]; }

  Stmt simple_stmt() {
    const Token& t = peek();
    if (is_kw(U"return")) {
      next();
      Stmt s{S::kReturn};
      if (!at_statement_end()) s.value = star_expressions();
      return s;
    }
    if (is_kw(U"pass") || is_kw(U"break") || is_kw(U"continue")) {
      next();
      return {S::kOther};
    }
    if (is_kw(U"yield")) return {S::kExpr, yield_expression(), {}};
    if (is_keyword(t) && !starts_expression(t)) {
      keyword_statement();
      return {S::kOther};
    }
    int e = star_expressions();
    if (is_op(U"=")) {
      Stmt s{S::kAssign};
      std::vector<int> chain = {e};
      while (is_op(U"=")) {
        next();
        chain.push_back(is_kw(U"yield") ? yield_expression() : star_expressions());
      }
      s.value = chain.back();
      chain.pop_back();
      for (int target : chain) check_target(target, false);
      s.targets = chain;
      return s;
    }
    if (is_op(U":")) {  // annotated assignment
      if (n(e).kind != K::kName && n(e).kind != K::kAttribute && n(e).kind != K::kSubscript) throw Invalid{};
      next();
      expression();
      if (is_op(U"=")) {
        next();
        if (is_kw(U"yield")) yield_expression(); else star_expressions();
      }
      return {S::kOther};
    }
    if (peek().kind == Tok::kOp && peek().text.size() >= 2 && peek().text.back() == '=' &&
        peek().text != U"==" && peek().text != U"<=" && peek().text != U">=" && peek().text != U"!=") {
      if (n(e).kind != K::kName && n(e).kind != K::kAttribute && n(e).kind != K::kSubscript) throw Invalid{};
      next();
      if (is_kw(U"yield")) yield_expression(); else star_expressions();
      return {S::kOther};
    }
    if (n(e).kind == K::kStarred) throw Invalid{};
    return {S::kExpr, e, {}};
  }

  int yield_expression() {
    Pos start = next().start;
    if (is_kw(U"from")) {
      next();
      expression();
    } else if (can_start_expression()) {
      star_expressions();
    }
    return make(K::kYield, start, last().end);
  }

  void dotted_name() {
    do {
      if (peek().kind != Tok::kName || is_keyword(peek())) throw Invalid{};
      next();
    } while (is_op(U".") && (next(), true));
  }

  void optional_alias() {
    if (!is_kw(U"as")) return;
    next();
    if (peek().kind != Tok::kName || is_keyword(peek())) throw Invalid{};
    next();
  }

  // The simple statements led by a keyword; compound ones are not parsed.
  void keyword_statement() {
    const Str word = next().text;
    if (word == U"import") {
      do {
        dotted_name();
        optional_alias();
      } while (is_op(U",") && (next(), true));
    } else if (word == U"from") {
      bool dots = false;
      while (is_op(U".") || is_op(U"...")) dots = (next(), true);
      if (!is_kw(U"import")) dotted_name();
      else if (!dots) throw Invalid{};
      expect_kw(U"import");
      if (is_op(U"*")) {
        next();
        return;
      }
      bool paren = is_op(U"(");
      if (paren) next();
      do {
        if (paren && is_op(U")")) break;
        if (peek().kind != Tok::kName || is_keyword(peek())) throw Invalid{};
        next();
        optional_alias();
      } while (is_op(U",") && (next(), true));
      if (paren) expect_op(U")");
    } else if (word == U"del") {
      int targets = star_expressions();
      if (n(targets).kind == K::kStarred) throw Invalid{};
      check_target(targets, false);
    } else if (word == U"assert") {
      expression();
      if (is_op(U",")) {
        next();
        expression();
      }
    } else if (word == U"raise") {
      if (at_statement_end()) return;
      expression();
      if (is_kw(U"from")) {
        next();
        expression();
      }
    } else if (word == U"global" || word == U"nonlocal") {
      do {
        if (peek().kind != Tok::kName || is_keyword(peek())) throw Invalid{};
        next();
      } while (is_op(U",") && (next(), true));
    } else {
      throw Unsure{};  // if, for, while, def, class, with, try, async: compound statements
    }
  }

  bool at_statement_end() const { return peek().kind == Tok::kNewline || is_op(U";") || peek().kind == Tok::kEnd; }

  bool starts_expression(const Token& t) const {
    static const std::set<Str> kExpressionKeywords = {U"not", U"lambda", U"await", U"None", U"True", U"False"};
    return kExpressionKeywords.count(t.text) > 0;
  }

  void check_target(int i, bool in_sequence) {
    switch (n(i).kind) {
      case K::kName: case K::kAttribute: case K::kSubscript: return;
      case K::kStarred:
        if (!in_sequence) throw Invalid{};
        check_target(n(i).a, false);
        return;
      case K::kTuple: case K::kList:
        for (int e : n(i).elts) check_target(e, true);
        return;
      default: throw Invalid{};
    }
  }

  // star_expressions: a Tuple without parentheses when there is a comma
  int star_expressions() {
    Pos start = peek().start;
    int first = star_expression();
    if (!is_op(U",")) return first;
    std::vector<int> elts = {first};
    while (is_op(U",")) {
      next();
      if (!can_start_expression()) break;
      elts.push_back(star_expression());
    }
    int t = make(K::kTuple, start, last().end);
    nodes_[t].elts = elts;
    return t;
  }

  bool can_start_expression() const {
    const Token& t = peek();
    if (t.kind == Tok::kName) return !is_keyword(t) || starts_expression(t) || t.text == U"yield";
    if (t.kind == Tok::kNumber || t.kind == Tok::kString) return true;
    if (t.kind != Tok::kOp) return false;
    static const std::set<Str> kStarts = {U"(", U"[", U"{", U"-", U"+", U"~", U"*", U"...", U"**"};
    return kStarts.count(t.text) > 0;
  }

  int star_expression() {
    if (is_op(U"*")) {
      Pos start = next().start;
      int value = bitor_expr();
      return make(K::kStarred, start, last().end, value);
    }
    return expression();
  }

  int named_expression() {
    if (peek().kind == Tok::kName && !is_keyword(peek()) && is_op(U":=", 1)) {
      const Token& name = next();
      int target = make(K::kName, name.start, name.end);
      next();
      int value = expression();
      return make(K::kNamed, name.start, last().end, target, value);
    }
    return expression();
  }

  int star_named_expression() {
    if (is_op(U"*")) return star_expression();
    return named_expression();
  }

  // Nesting without brackets (unary operators, lambda bodies) also recurses: CPython's parser
  // stops at MAXSTACK with "too complex"; we stop far below it and do not guess.
  struct DepthGuard {
    explicit DepthGuard(int& depth) : depth_(depth) {
      if (++depth_ > 1000) throw Unsure{};
    }
    ~DepthGuard() { --depth_; }
    int& depth_;
  };

  int expression() {
    DepthGuard guard(depth_);
    if (is_kw(U"lambda")) return lambdef();
    Pos start = peek().start;
    int body = disjunction();
    if (!is_kw(U"if")) return body;
    next();
    disjunction();
    expect_kw(U"else");
    expression();
    return make(K::kIfExp, start, last().end);
  }

  int lambdef() {
    Pos start = next().start;
    while (!is_op(U":")) {
      if (is_op(U"*") || is_op(U"**")) {
        bool star = is_op(U"*");
        next();
        if (peek().kind == Tok::kName && !is_keyword(peek())) next();
        else if (!star) throw Invalid{};
      } else if (is_op(U"/")) {
        next();
      } else if (peek().kind == Tok::kName && !is_keyword(peek())) {
        next();
        if (is_op(U"=")) {
          next();
          expression();
        }
      } else {
        throw Invalid{};
      }
      if (!is_op(U",")) break;
      next();
    }
    expect_op(U":");
    expression();
    return make(K::kLambda, start, last().end);
  }

  int disjunction() { return bool_op(U"or", &Parser::conjunction); }
  int conjunction() { return bool_op(U"and", &Parser::inversion); }
  int bool_op(StrView word, int (Parser::*operand)()) {
    Pos start = peek().start;
    int result = (this->*operand)();
    while (is_kw(word)) {
      next();
      (this->*operand)();
      result = make(K::kBoolOp, start, last().end);
    }
    return result;
  }

  int inversion() {
    DepthGuard guard(depth_);
    if (is_kw(U"not")) {
      Pos start = next().start;
      int operand = inversion();
      return make(K::kUnary, start, last().end, operand);
    }
    return comparison();
  }

  bool comparison_operator() {
    static const std::set<Str> kOps = {U"==", U"!=", U"<", U">", U"<=", U">="};
    if (peek().kind == Tok::kOp && kOps.count(peek().text)) return next(), true;
    if (is_kw(U"in")) return next(), true;
    if (is_kw(U"not") && is_kw(U"in", 1)) return next(), next(), true;
    if (is_kw(U"is")) {
      next();
      if (is_kw(U"not")) next();
      return true;
    }
    return false;
  }

  int comparison() {
    Pos start = peek().start;
    int result = bitor_expr();
    while (comparison_operator()) {
      bitor_expr();
      result = make(K::kCompare, start, last().end);
    }
    return result;
  }

  // Left-associative binary operator levels, loosest first.
  int binary(int level) {
    static const std::vector<std::vector<Str>> kLevels = {
        {U"|"}, {U"^"}, {U"&"}, {U"<<", U">>"}, {U"+", U"-"}, {U"*", U"/", U"//", U"%", U"@"}};
    if (level == static_cast<int>(kLevels.size())) return factor();
    Pos start = peek().start;  // EXTRA: from the rule's first token to its last one
    int left = binary(level + 1);
    while (peek().kind == Tok::kOp &&
           std::find(kLevels[level].begin(), kLevels[level].end(), peek().text) != kLevels[level].end()) {
      next();
      int right = binary(level + 1);
      left = make(K::kBinOp, start, last().end, left, right);
    }
    return left;
  }
  int bitor_expr() { return binary(0); }

  int factor() {
    DepthGuard guard(depth_);
    if (is_op(U"+") || is_op(U"-") || is_op(U"~")) {
      Pos start = next().start;
      int operand = factor();
      return make(K::kUnary, start, last().end, operand);
    }
    return power();
  }

  int power() {
    Pos start = peek().start;
    int base = await_primary();
    if (!is_op(U"**")) return base;
    next();
    int exponent = factor();
    return make(K::kBinOp, start, last().end, base, exponent);
  }

  int await_primary() {
    if (is_kw(U"await")) {
      Pos start = next().start;
      int value = primary();
      return make(K::kAwait, start, last().end, value);
    }
    return primary();
  }

  int primary() {
    Pos start = peek().start;
    int value = atom();
    while (true) {
      if (is_op(U".")) {
        next();
        if (peek().kind != Tok::kName || is_keyword(peek())) throw Invalid{};
        value = make(K::kAttribute, start, next().end, value);
      } else if (is_op(U"(")) {
        next();
        call_arguments();
        value = make(K::kCall, start, last().end, value);
      } else if (is_op(U"[")) {
        next();
        int slice = slices();
        expect_op(U"]");
        value = make(K::kSubscript, start, last().end, value, slice);
      } else {
        return value;
      }
    }
  }

  void call_arguments() {  // after "(", through ")"
    bool first = true;
    while (!is_op(U")")) {
      if (is_op(U"*") || is_op(U"**")) {
        next();
        expression();
      } else if (peek().kind == Tok::kName && !is_keyword(peek()) && is_op(U"=", 1)) {
        next();
        next();
        expression();
      } else {
        named_expression();
        if (first && (is_kw(U"for") || is_kw(U"async"))) {
          comprehension_clauses();
          if (!is_op(U")")) throw Invalid{};  // a generator must be the sole argument
        }
      }
      first = false;
      if (!is_op(U",")) break;
      next();
    }
    expect_op(U")");
  }

  int slice_item() {
    Pos start = peek().start;
    int lower = -1;
    if (!is_op(U":")) {
      if (is_op(U"*")) return star_expression();
      lower = named_expression();
      if (!is_op(U":")) return lower;
    }
    next();  // ':'
    if (!is_op(U":") && !is_op(U"]") && !is_op(U",")) expression();
    if (is_op(U":")) {
      next();
      if (!is_op(U"]") && !is_op(U",")) expression();
    }
    return make(K::kSlice, start, last().end);
  }

  int slices() {
    Pos start = peek().start;
    int first = slice_item();
    if (!is_op(U",")) return first;
    while (is_op(U",")) {
      next();
      if (is_op(U"]")) break;
      slice_item();
    }
    return make(K::kTuple, start, last().end);
  }

  void comprehension_clauses() {
    while (is_kw(U"for") || is_kw(U"async")) {
      if (is_kw(U"async")) next();
      expect_kw(U"for");
      std::vector<int> targets;
      do {
        if (!targets.empty()) next();
        if (is_kw(U"in")) break;
        if (is_op(U"*")) {
          Pos start = next().start;
          int value = primary();
          targets.push_back(make(K::kStarred, start, last().end, value));
        } else {
          targets.push_back(primary());
        }
      } while (is_op(U","));
      for (int t : targets) check_target(t, targets.size() > 1);
      expect_kw(U"in");
      disjunction();
      while (is_kw(U"if")) {
        next();
        disjunction();
      }
    }
  }

  int atom() {
    const Token& t = peek();
    if (t.kind == Tok::kName) {
      if (t.text == U"None" || t.text == U"True" || t.text == U"False") return make(K::kConst, t.start, next().end);
      if (is_keyword(t)) throw Invalid{};
      return make(K::kName, t.start, next().end);
    }
    if (t.kind == Tok::kNumber) return make(K::kConst, t.start, next().end);
    if (t.kind == Tok::kString) {
      Pos start = t.start;
      Str kind = t.text;
      while (peek().kind == Tok::kString) {
        if (peek().text != kind && (kind == U"t" || peek().text == U"t")) throw Unsure{};
        if (peek().text != kind) throw Invalid{};  // bytes and str mixed
        next();
      }
      return make(K::kConst, start, last().end);
    }
    if (is_op(U"...")) return make(K::kConst, t.start, next().end);
    if (is_op(U"(")) return parenthesized();
    if (is_op(U"[")) return bracketed();
    if (is_op(U"{")) return braced();
    throw Invalid{};
  }

  int parenthesized() {
    Pos start = next().start;
    if (is_op(U")")) return make(K::kTuple, start, next().end);
    if (is_kw(U"yield")) {
      int value = yield_expression();
      expect_op(U")");
      return value;
    }
    int first = star_named_expression();
    if (is_kw(U"for") || is_kw(U"async")) {
      if (n(first).kind == K::kStarred) throw Invalid{};
      comprehension_clauses();
      expect_op(U")");
      return make(K::kComp, start, last().end);
    }
    if (!is_op(U",")) {
      if (n(first).kind == K::kStarred) throw Invalid{};
      expect_op(U")");
      return first;  // a group: the node keeps its own positions
    }
    std::vector<int> elts = {first};
    while (is_op(U",")) {
      next();
      if (is_op(U")")) break;
      elts.push_back(star_named_expression());
    }
    expect_op(U")");
    int tuple = make(K::kTuple, start, last().end);
    nodes_[tuple].elts = elts;
    return tuple;
  }

  int bracketed() {
    Pos start = next().start;
    std::vector<int> elts;
    if (!is_op(U"]")) {
      elts.push_back(star_named_expression());
      if (is_kw(U"for") || is_kw(U"async")) {
        if (n(elts[0]).kind == K::kStarred) throw Invalid{};
        comprehension_clauses();
        expect_op(U"]");
        return make(K::kComp, start, last().end);
      }
      while (is_op(U",")) {
        next();
        if (is_op(U"]")) break;
        elts.push_back(star_named_expression());
      }
    }
    expect_op(U"]");
    int list = make(K::kList, start, last().end);
    nodes_[list].elts = elts;
    return list;
  }

  int braced() {
    Pos start = next().start;
    if (is_op(U"}")) return make(K::kDict, start, next().end);
    bool dict;
    if (is_op(U"**")) {
      next();
      bitor_expr();
      dict = true;
    } else {
      star_named_expression();
      dict = is_op(U":");
      if (dict) {
        next();
        expression();
      }
    }
    if (is_kw(U"for") || is_kw(U"async")) {
      comprehension_clauses();
      expect_op(U"}");
      return make(K::kComp, start, last().end);
    }
    while (is_op(U",")) {
      next();
      if (is_op(U"}")) break;
      if (dict) {
        if (is_op(U"**")) {
          next();
          bitor_expr();
        } else {
          expression();
          expect_op(U":");
          expression();
        }
      } else {
        star_named_expression();
      }
    }
    expect_op(U"}");
    return make(dict ? K::kDict : K::kSet, start, last().end);
  }

  std::vector<Token> t_;
  size_t p_ = 0;
  int depth_ = 0;
  std::vector<Node>& nodes_;
};

// ast.parse(text) as far as this parser can tell.
Module parse_module(StrView text, const CaretRules& rules) {
  Module m;
  try {
    Parser(Tokenizer(text, rules).run(), m.nodes).module(m.body);
  } catch (const Invalid&) {
    m.status = Module::kInvalid;
  } catch (const Unsure&) {
    m.status = Module::kUnsure;
  }
  return m;
}

// The one expression statement a segment parses to (ast.parse succeeded, len(body) == 1, Expr),
// or null: SyntaxError, several statements, not an expression, or this parser unsure.
const Node* sole_expression(const Module& m) {
  if (m.status != Module::kOk || m.body.size() != 1 || m.body[0].kind != S::kExpr) return nullptr;
  return &m.nodes[m.body[0].value];
}

// ---- 3.11 / 3.12 ----

struct Anchors311 {
  long left_end, right_start;
};

// _extract_caret_anchors_from_line_segment (3.11, 3.12): offsets in characters of `segment`.
std::optional<Anchors311> anchors_311(const CaretRules& rules, StrView segment) {
  Module m = parse_module(segment, rules);
  const Node* expr = sole_expression(m);
  if (!expr) return std::nullopt;
  auto normalize = [&](long offset) { return byte_to_char_offset(segment, offset); };
  const long size = static_cast<long>(segment.size());
  if (expr->kind == K::kBinOp) {
    const Node& left = m.nodes[expr->a];
    const Node& right = m.nodes[expr->b];
    Str op = py_slice(segment, normalize(left.end.col), normalize(right.start.col));
    long op_offset = static_cast<long>(op.size() - lstrip(op).size());
    // Python adds this character count to a byte offset; so do we.
    long left_anchor = left.end.col + op_offset;
    long right_anchor = left_anchor + 1;
    if (op_offset + 1 < static_cast<long>(op.size()) && !py_isspace(op[op_offset + 1])) ++right_anchor;
    if (rules.skip_to_operator) {
      while (left_anchor < size && (py_isspace(segment[left_anchor]) || segment[left_anchor] == ')' || segment[left_anchor] == '#')) {
        ++left_anchor;
        ++right_anchor;
      }
    }
    return Anchors311{normalize(left_anchor), normalize(right_anchor)};
  }
  if (expr->kind == K::kSubscript) {
    long left_anchor = normalize(m.nodes[expr->a].end.col);
    long right_anchor = normalize(m.nodes[expr->b].end.col + 1);
    if (rules.skip_to_operator) {
      while (left_anchor < size && segment[left_anchor] != '[') ++left_anchor;
      while (right_anchor < size && segment[right_anchor] != ']') ++right_anchor;
      if (right_anchor < size) ++right_anchor;
    }
    return Anchors311{left_anchor, right_anchor};
  }
  return std::nullopt;
}

Str repeat(char32_t c, long n) { return n > 0 ? Str(static_cast<size_t>(n), c) : Str(); }

Str format_311(const CaretRules& rules, const std::vector<Str>& lines, int lineno, int end_lineno,
               int colno, int end_colno) {
  const Str& line = lines[0];  // _original_line: linecache's line, newline included
  Str stripped = strip(line);
  if (stripped.empty()) return {};
  Str out = U"    " + stripped + U"\n";
  if (colno < 0 || end_colno < 0) return out;
  const long stripped_len = static_cast<long>(stripped.size());
  const long stripped_characters = static_cast<long>(line.size()) - stripped_len;
  long start = byte_to_char_offset(line, colno);
  long end = byte_to_char_offset(line, end_colno);
  Str segment = py_slice(line, start, end);
  std::optional<Anchors311> anchors;
  if (lineno == end_lineno) {
    anchors = anchors_311(rules, segment);
  } else {
    end = rules.width == Width::kCodePoints ? stripped_characters + stripped_len - 1
                                            : static_cast<long>(rstrip(line).size());
  }
  if (!(end - start < stripped_len || (anchors && anchors->right_start - anchors->left_end > 0))) return out;
  // 3.11.0-3.11.3 count characters (start and end + 1); later ones display columns.
  long dp_start = display_width(rules, line, start) + 1;
  long dp_end = display_width(rules, line, end) + 1;
  out += U"    " + repeat(' ', dp_start - stripped_characters);
  if (anchors) {
    long left = display_width(rules, segment, anchors->left_end);
    long right = display_width(rules, segment, anchors->right_start);
    out += repeat('~', left) + repeat('^', right - left) + repeat('~', dp_end - dp_start - right);
  } else {
    out += repeat('^', dp_end - dp_start);
  }
  return out + U"\n";
}

// ---- 3.13+ ----

struct Anchors313 {
  long left_end_lineno, left_end_offset, right_start_lineno, right_start_offset;
};

struct Suppressed {};  // an exception inside `with suppress(Exception)`: no anchors

// _extract_caret_anchors_from_line_segment (3.13+), on `(\n{segment}\n)`.
std::optional<Anchors313> anchors_313(const CaretRules& rules, StrView segment) {
  Str wrapped = U"(\n" + Str(segment) + U"\n)";
  Module m = parse_module(wrapped, rules);
  const Node* expr = sole_expression(m);
  if (!expr) return std::nullopt;
  if (expr->kind != K::kBinOp && expr->kind != K::kSubscript && expr->kind != K::kCall) return std::nullopt;
  const std::vector<Str> lines = splitlines(segment);
  const long count = static_cast<long>(lines.size());
  auto line_at = [&](long i) -> const Str& {
    if (i < 0 || i >= count) throw Suppressed{};
    return lines[i];
  };
  auto size_of = [&](long i) { return static_cast<long>(line_at(i).size()); };
  auto normalize = [&](long lineno, long offset) { return byte_to_char_offset(line_at(lineno), offset); };
  using Loc = std::pair<long, long>;
  auto next_valid_char = [&](long lineno, long col) -> Loc {
    while (lineno < count && col >= size_of(lineno)) {
      col = 0;
      ++lineno;
    }
    if (!(lineno < count && col < size_of(lineno))) throw Suppressed{};  // assert
    return {lineno, col};
  };
  auto increment_until = [&](Loc at, auto stop) -> Loc {
    while (true) {
      char32_t ch = line_at(at.first)[at.second];
      if (ch == '\\' || ch == '#') at = next_valid_char(at.first + 1, 0);
      else if (!stop(ch)) at = next_valid_char(at.first, at.second + 1);
      else return at;
    }
  };
  auto end_of = [&](const Node& node) -> Loc {  // setup_positions(force_valid=False)
    long lineno = node.end.line - 2;
    return {lineno, normalize(lineno, node.end.col)};
  };
  auto valid_end_of = [&](const Node& node) { auto [l, c] = end_of(node); return next_valid_char(l, c); };
  try {
    if (expr->kind == K::kBinOp) {
      const Node& right = m.nodes[expr->b];
      auto [lineno, col] = increment_until(valid_end_of(m.nodes[expr->a]), [](char32_t c) { return !py_isspace(c) && c != ')'; });
      long right_col = col + 1;
      if (right_col < size_of(lineno) &&
          (right.start.line - 2 > lineno || right_col < normalize(right.start.line - 2, right.start.col))) {
        char32_t ch = lines[lineno][right_col];
        if (!py_isspace(ch) && ch != '\\' && ch != '#') ++right_col;
      }
      return Anchors313{lineno, col, lineno, right_col};
    }
    char32_t bracket = expr->kind == K::kSubscript ? '[' : '(';
    Loc left = increment_until(valid_end_of(m.nodes[expr->a]), [bracket](char32_t c) { return c == bracket; });
    Loc right = end_of(*expr);
    return Anchors313{left.first, left.second, right.first, right.second};
  } catch (const Suppressed&) {
    return std::nullopt;
  }
}

// Whether _should_show_carets's ast test hides the carets: the first statement is
// `return NAME(...)` or `NAME = CALL` whose call spans exactly the instruction's lines.
bool call_spans_statement(const CaretRules& rules, long start, long end,
                          const std::vector<Str>& all_lines) {
  Str text;
  for (size_t i = 0; i < all_lines.size(); ++i) text += (i ? U"\n" : U"") + all_lines[i];
  Module m = parse_module(text, rules);
  if (m.status != Module::kOk || m.body.empty()) return false;  // SyntaxError (or unsure): shown
  const Stmt& s = m.body[0];
  if (s.value < 0 || m.nodes[s.value].kind != K::kCall) return false;
  const Node& call = m.nodes[s.value];
  if (s.kind == S::kReturn) {
    if (m.nodes[call.a].kind != K::kName) return false;
  } else if (s.kind == S::kAssign) {
    if (s.targets.size() != 1 || m.nodes[s.targets[0]].kind != K::kName) return false;
  } else {
    return false;
  }
  // Python compares byte columns with character offsets; so do we.
  return call.start.line == 1 && call.end.line == static_cast<int>(all_lines.size()) &&
         call.start.col == start && call.end.col == end;
}

bool should_show_carets(const CaretRules& rules, long start, long end,
                        const std::vector<Str>& all_lines, bool anchors) {
  if (call_spans_statement(rules, start, end, all_lines)) return false;
  if (anchors) return true;
  return !lstrip(py_slice(all_lines[0], 0, start)).empty() ||
         !rstrip(py_slice(all_lines.back(), end, static_cast<long>(all_lines.back().size()))).empty();
}

// _set_lines: linecache's lines lineno..end_lineno, each rstripped, joined, with a final "\n".
Str joined_source_lines(const std::vector<Str>& lines, int count) {
  Str text;
  for (int i = 0; i < count; ++i) {
    if (i) text += U'\n';
    if (i < static_cast<int>(lines.size())) text += rstrip(lines[i]);
  }
  return text + U'\n';
}

Str join_lines(const std::vector<Str>& lines) {
  Str text;
  for (size_t i = 0; i < lines.size(); ++i) text += (i ? U"\n" : U"") + lines[i];
  return text;
}

// What the caret lines need, in display columns of the dedented lines.
struct CaretMarks {
  long dp_start = 0, dp_end = 0;  // instruction start on the first line, end on the last
  std::optional<Anchors313> anchors;
  long left_end = 0, right_start = 0;  // the anchors, in display columns of their lines
  char32_t primary = '^', secondary = '^';
};

// The caret line under all_lines[i] (output_line's carets).
Str caret_line(const CaretRules& rules, const std::vector<Str>& all_lines, long i,
               const CaretMarks& m) {
  const Str& line = all_lines[i];
  const long last = static_cast<long>(all_lines.size()) - 1;
  const long spaces = static_cast<long>(line.size() - lstrip(line).size());
  const long count = i == last ? m.dp_end : display_width(rules, line);
  Str carets;
  for (long col = 0; col < count; ++col) {
    const bool after_left = m.anchors && (i > m.anchors->left_end_lineno ||
                                          (i == m.anchors->left_end_lineno && col >= m.left_end));
    const bool before_right = m.anchors && (i < m.anchors->right_start_lineno ||
                                            (i == m.anchors->right_start_lineno && col < m.right_start));
    if (col < spaces || (i == 0 && col < m.dp_start)) carets += U' ';
    else if (after_left && before_right) carets += m.secondary;
    else carets += m.primary;
  }
  return carets;
}

// The first and last lines, and those around the anchors.
std::vector<long> significant_lines(long last, const std::optional<Anchors313>& anchors) {
  std::set<long> lines = {0, last};
  if (anchors) {
    for (long at : {anchors->left_end_lineno, anchors->right_start_lineno}) {
      for (long l = at - 1; l <= at + 1; ++l) lines.insert(l);
    }
  }
  lines.erase(-1);
  lines.erase(last + 1);
  return {lines.begin(), lines.end()};
}

Str format_313(const CaretRules& rules, const std::vector<Str>& lines, int lineno, int end_lineno,
               int colno, int end_colno) {
  if (end_lineno < 0 || lineno < 0) return {};  // _set_lines needs both
  // Positions beyond any source file: corrupt memory, not worth a gigabyte of empty lines.
  if (end_lineno < lineno || end_lineno - lineno > (1 << 20)) throw PythonError{};
  const size_t span = static_cast<size_t>(end_lineno - lineno);
  const Str original = joined_source_lines(lines, static_cast<int>(span) + 1);  // _lines
  const Str dedented = dedent(original);
  if (strip(dedented).empty()) return {};
  if (colno < 0 || end_colno < 0) {  // only the first line, stripped
    return indent(strip(original.substr(0, original.find(U'\n'))), U"    ", false) + U"\n";
  }
  const std::vector<Str> all_original = splitlines(original);
  if (span >= all_original.size()) throw PythonError{};  // IndexError in format_frame_summary
  std::vector<Str> all_lines = splitlines(dedented);
  if (all_lines.size() > span + 1) all_lines.resize(span + 1);
  const long dedent_characters = static_cast<long>(all_original[0].size() - all_lines[0].size());
  const long start = std::max(0L, byte_to_char_offset(all_original[0], colno) - dedent_characters);
  const long end = std::max(0L, byte_to_char_offset(all_original[span], end_colno) - dedent_characters);
  const long last = static_cast<long>(all_lines.size()) - 1;

  CaretMarks m;
  m.dp_start = display_width(rules, all_lines[0], start);
  m.dp_end = display_width(rules, all_lines.back(), end);
  const Str joined = join_lines(all_lines);
  const long segment_end = static_cast<long>(joined.size()) - (static_cast<long>(all_lines.back().size()) - end);
  m.anchors = anchors_313(rules, py_slice(joined, start, segment_end));
  const bool show = should_show_carets(rules, start, end, all_lines, m.anchors.has_value());
  if (m.anchors) {
    auto line_at = [&](long i) -> const Str& {
      if (i < 0 || i > last) throw PythonError{};
      return all_lines[i];
    };
    // anchors on the segment's first line are relative to the instruction's start
    const long left = m.anchors->left_end_offset + (m.anchors->left_end_lineno == 0 ? start : 0);
    const long right = m.anchors->right_start_offset + (m.anchors->right_start_lineno == 0 ? start : 0);
    m.left_end = display_width(rules, line_at(m.anchors->left_end_lineno), left);
    m.right_start = display_width(rules, line_at(m.anchors->right_start_lineno), right);
    m.primary = '~';
  }

  Str result;
  auto output_line = [&](long i) {
    result += all_lines[i] + U"\n";
    if (show) result += caret_line(rules, all_lines, i, m) + U"\n";
  };
  const std::vector<long> order = significant_lines(last, m.anchors);
  for (size_t k = 0; k < order.size(); ++k) {
    const long gap = k ? order[k] - order[k - 1] : 1;
    if (gap == 2) {
      output_line(order[k] - 1);  // one line between: shown
    } else if (gap > 2) {
      const std::string elided = "...<" + std::to_string(gap - 1) + " lines>...\n";
      result += Str(elided.begin(), elided.end());
    }
    output_line(order[k]);
  }
  return indent(dedent(result), U"    ", true);
}

Str format_stripped(const CaretRules& rules, const std::vector<Str>& lines) {
  if (lines.empty()) return {};
  const Str& line = lines[0];
  Str stripped;
  if (rules.ascii_strip) {
    size_t b = 0, e = line.size();
    while (b < e && ascii_isspace(line[b])) ++b;
    while (e > b && ascii_isspace(line[e - 1])) --e;
    stripped = line.substr(b, e - b);
  } else {
    stripped = strip(line);
  }
  return stripped.empty() ? Str() : U"    " + stripped + U"\n";
}

}  // namespace

std::u32string format_frame_source(const PythonVersion& version,
                                   const std::vector<std::u32string>& lines,
                                   int lineno, int end_lineno, int colno, int end_colno) {
  const CaretRules& rules = rules_for(version);
  if (lines.empty()) return {};
  try {
    switch (rules.layout) {
      case Layout::kStrippedLine: return format_stripped(rules, lines);
      case Layout::kCarets311: return format_311(rules, lines, lineno, end_lineno, colno, end_colno);
      case Layout::kCarets313: return format_313(rules, lines, lineno, end_lineno, colno, end_colno);
    }
  } catch (const PythonError&) {
    // format_exception itself raises here; the best we can show is the stripped line.
    return format_stripped(rules, lines);
  }
  return {};
}

}  // namespace pystack
