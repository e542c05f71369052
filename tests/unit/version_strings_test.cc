// The PY_VERSION scan of .rodata (symbols/version_strings.h) on made-up data and on the
// libpythons of this machine.
#include "symbols/version_strings.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace pystack {
namespace {

using namespace std::string_literals;

std::vector<VersionString> scan(const std::string& data) { return version_strings_in(data); }

TEST(VersionStrings, FindsWholeStringsAndMergedTails) {
  EXPECT_EQ(scan("\0" "3.9.18\0"s), (std::vector<VersionString>{{3, 9, 18}}));
  // The linker merged PY_VERSION into the tail of pyenv's prefix.
  EXPECT_EQ(scan("x\0/root/.pyenv/versions/3.10.13\0y\0"s),
            (std::vector<VersionString>{{3, 10, 13}}));
  EXPECT_EQ(scan("\0" "2.7.18+\0" "3.10.0rc2\0" "3.8.0b1\0" "3.7.0a4\0"s),
            (std::vector<VersionString>{{2, 7, 18}, {3, 10, 0}, {3, 8, 0}, {3, 7, 0}}));
}

TEST(VersionStrings, KeepsEachVersionOnceInOrder) {
  EXPECT_EQ(scan("\0" "3.9.18\0" "GLIBC_2.3.2\0" "3.9.18\0"s),
            (std::vector<VersionString>{{3, 9, 18}, {2, 3, 2}}));
}

TEST(VersionStrings, RejectsWhatIsNotAVersion) {
  EXPECT_TRUE(scan("\0" "13.9.18\0" "1.3.9.18\0" "3.9\0" "4.1.0\0" "3.9.\0" ".3.9.1\0"s).empty());
  EXPECT_TRUE(scan("3.9.18").empty());  // no terminating NUL
  EXPECT_TRUE(scan("").empty());
  EXPECT_TRUE(scan("\0\0\0"s).empty());
  EXPECT_TRUE(scan("\0" "3.123.1\0" "3.9.1234\0"s).empty());  // too many digits
}

TEST(VersionStrings, StopsAtTheBound) {
  std::string data(1, '\0');
  for (int minor = 0; minor < 40; ++minor) data += "3." + std::to_string(minor) + ".1" + '\0';
  EXPECT_EQ(version_strings_in(data, 5).size(), 5u);
}

TEST(VersionStrings, FindsTheVersionOfEachPyenvLibpython) {
  const char* root = std::getenv("PYENV_ROOT");
  const char* home = std::getenv("HOME");
  const std::filesystem::path versions =
      std::filesystem::path(root ? root : std::string(home ? home : "/root") + "/.pyenv") /
      "versions";
  std::error_code ec;
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(versions, ec)) {
    int major = 0, minor = 0, micro = 0;
    if (std::sscanf(entry.path().filename().c_str(), "%d.%d.%d", &major, &minor, &micro) != 3) {
      continue;
    }
    for (const auto& lib : std::filesystem::directory_iterator(entry.path() / "lib", ec)) {
      const std::string name = lib.path().filename().string();
      if (name.rfind("libpython", 0) != 0 || name.find(".so.1.0") == std::string::npos) continue;
      absl::StatusOr<ElfFile> elf = ElfFile::open(lib.path().string());
      ASSERT_TRUE(elf.ok()) << elf.status();
      std::vector<VersionString> found = version_strings_in_rodata(*elf);
      EXPECT_NE(std::find(found.begin(), found.end(), VersionString{major, minor, micro}),
                found.end())
          << lib.path();
      ++checked;
    }
  }
  if (checked == 0) GTEST_SKIP() << "no pyenv libpython under " << versions;
}

}  // namespace
}  // namespace pystack
