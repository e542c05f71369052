#include "cpython/unicode_printable.h"

#include <algorithm>
#include <iterator>

namespace pystack {
namespace {

struct CodePointRange {
  char32_t first;
  char32_t last;
};

struct PrintableDiff {
  int major;
  int minor;
  const CodePointRange* ranges;
  size_t count;
};

#include "cpython/unicode_printable.inc"

// Ranges are sorted and disjoint.
bool in_ranges(const CodePointRange* ranges, size_t count, char32_t c) {
  const CodePointRange* end = ranges + count;
  const CodePointRange* it = std::upper_bound(
      ranges, end, c, [](char32_t value, const CodePointRange& r) { return value < r.first; });
  return it != ranges && c <= (it - 1)->last;
}

}  // namespace

bool unicode_is_printable(char32_t code_point, int major, int minor) {
  bool printable = in_ranges(kPrintableBase, std::size(kPrintableBase), code_point);
  for (const PrintableDiff& diff : kPrintableDiffs) {
    if (diff.major == major && diff.minor == minor) {
      if (in_ranges(diff.ranges, diff.count, code_point)) printable = !printable;
      break;
    }
  }
  return printable;
}

}  // namespace pystack
