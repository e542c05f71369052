#include "format/locals_text.h"

#include <algorithm>
#include <vector>

namespace pystack {

// Python compares str by code point, as their UTF-8 bytes compare.
void append_locals(std::string& out, const Frame& frame) {
  std::vector<const Local*> sorted;
  for (const Local& local : frame.locals) sorted.push_back(&local);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Local* a, const Local* b) { return a->name < b->name; });
  for (const Local* local : sorted) out += "    " + local->name + " = " + local->repr + "\n";
}

}  // namespace pystack
