// The warnings a dump, record and top give for a runtime no interpreter of the test suite vouches
// for: the texts README's "Supported versions" promises, one line each.
#include "cli/report.h"

#include <algorithm>
#include <string>

#include "gtest/gtest.h"

namespace pystack {
namespace {

PythonVersion version(int major, int minor, int micro) { return {major, minor, micro, 0}; }

TEST(CaveatWarnings, NoneForAVerifiedRuntime) {
  EXPECT_EQ(caveat_warnings(RuntimeCaveat{version(3, 13, 5), false, std::nullopt}), "");
}

TEST(CaveatWarnings, AnUnverifiedFreeThreadedBuild) {
  EXPECT_EQ(caveat_warnings(RuntimeCaveat{version(3, 14, 0), true, std::nullopt}),
            "pystack-dump: warning: free-threaded Python 3.14.0 is read from its _Py_DebugOffsets "
            "and CPython's sources; this build of pystack-dump was not tested against a running "
            "one\n");
}

TEST(CaveatWarnings, ANewerReleaseReadAsAnOlderOne) {
  EXPECT_EQ(caveat_warnings(RuntimeCaveat{version(3, 16, 0), false, version(3, 15, -1)}),
            "pystack-dump: warning: Python 3.16.0 is newer than this build of pystack-dump knows; "
            "its _Py_DebugOffsets matches 3.15's, and the output follows 3.15's format\n");
}

TEST(CaveatWarnings, BothAreALineEach) {
  const std::string text =
      caveat_warnings(RuntimeCaveat{version(3, 16, 1), true, version(3, 15, -1)});
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
  EXPECT_EQ(text.rfind("pystack-dump: warning: free-threaded Python 3.16.1 ", 0), 0u) << text;
  EXPECT_NE(text.find("\npystack-dump: warning: Python 3.16.1 is newer"), std::string::npos)
      << text;
}

TEST(OneLine, EscapesControlCharacters) {
  EXPECT_EQ(one_line("a\nb\x1b[31m\x7f"), "a\\x0ab\\x1b[31m\\x7f");
}

}  // namespace
}  // namespace pystack
