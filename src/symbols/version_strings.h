// The CPython version a binary was built as, read from its PY_VERSION string ("3.9.18",
// "3.10.0rc2", "2.7.18+") in .rodata: for 3.7-3.10 (no Py_Version symbol) and 2.7/3.6 when the
// file name does not say the version (a static executable renamed `python`, an embedding
// program, a renamed libpython). Nothing is run.
#pragma once

#include <string_view>
#include <vector>

#include "symbols/elf_file.h"

namespace pystack {

struct VersionString {
  int major = 0;
  int minor = 0;
  int micro = 0;
  bool operator==(const VersionString&) const = default;
};

// Every distinct version-shaped string tail in `rodata`, in order of first appearance: a
// NUL-terminated string that ends in MAJOR.MINOR.MICRO (MAJOR 2 or 3), optionally followed by a
// release tag (a1, b2, rc1) and a '+', and not preceded by a digit or a dot. The linker merges
// string tails, so PY_VERSION may be the end of a longer string (pyenv's prefix
// "/root/.pyenv/versions/3.9.18" holds "3.9.18"); other strings may match too ("GLIBC_2.3.2"):
// callers keep the versions they can read and check them against memory. At most `max_results`.
std::vector<VersionString> version_strings_in(std::string_view rodata, size_t max_results = 16);

// version_strings_in() over the .rodata section of `elf` (read from its file, at most 256 MiB);
// empty when the file has no such section or it cannot be read.
std::vector<VersionString> version_strings_in_rodata(const ElfFile& elf);

}  // namespace pystack
