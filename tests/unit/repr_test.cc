// repr() text rules against CPython itself: tests/unit/data/repr_<version>.txt holds what each
// interpreter's repr() returned for floats, ints, str (2.7: unicode) and bytes (2.7: str), as
// recorded by scripts/gen-repr-fixtures. Plus the marker helpers.
#include "cpython/repr.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "cpython/unicode_printable.h"
#include "gtest/gtest.h"

namespace pystack {
namespace {

namespace fs = std::filesystem;

// The fixture files present, e.g. {"3.12.1", "tests/unit/data/repr_3.12.1.txt"}.
std::vector<std::pair<std::string, std::string>> fixtures() {
  std::vector<std::pair<std::string, std::string>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("tests/unit/data", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("repr_", 0) != 0 || name.size() < 10) continue;
    found.push_back({name.substr(5, name.size() - 9), entry.path().string()});
  }
  std::sort(found.begin(), found.end());
  return found;
}

// Little-endian base-2**30 digits of the non-negative integer written in hex.
std::vector<uint32_t> digits_from_hex(const std::string& hex) {
  std::vector<uint32_t> digits;
  uint64_t accumulator = 0;
  int bits = 0;
  for (size_t i = hex.size(); i-- > 0;) {
    accumulator |= static_cast<uint64_t>(std::stoi(hex.substr(i, 1), nullptr, 16)) << bits;
    bits += 4;
    if (bits >= 30) {
      digits.push_back(static_cast<uint32_t>(accumulator & ((1u << 30) - 1)));
      accumulator >>= 30;
      bits -= 30;
    }
  }
  if (bits > 0) digits.push_back(static_cast<uint32_t>(accumulator));
  while (!digits.empty() && digits.back() == 0) digits.pop_back();
  return digits;
}

std::u32string code_points_from(const std::string& field) {
  std::u32string text;
  if (field == "-") return text;
  for (absl::string_view part : absl::StrSplit(field, ',')) {
    text.push_back(static_cast<char32_t>(std::stoul(std::string(part), nullptr, 16)));
  }
  return text;
}

std::string bytes_from(const std::string& field) {
  std::string out;
  if (field == "-") return out;
  for (size_t i = 0; i + 1 < field.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(field.substr(i, 2), nullptr, 16)));
  }
  return out;
}

TEST(ReprFixtures, Present) {
  EXPECT_FALSE(fixtures().empty())
      << "no tests/unit/data/repr_*.txt (run from the repo root; scripts/gen-repr-fixtures)";
}

class RecordedReprs : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(RecordedReprs, MatchCPython) {
  const auto& [version, path] = GetParam();
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::string header;
  std::getline(in, header);
  ASSERT_NE(header.find("produced by CPython " + version), std::string::npos) << header;
  const int major = std::stoi(version.substr(0, 1));
  const int minor = std::stoi(version.substr(2, version.find('.', 2) - 2));
  size_t rows = 0, failures = 0;
  std::map<std::string, size_t> per_kind;
  for (std::string line; std::getline(in, line);) {
    const size_t first = line.find(' ');
    const size_t second = line.find(' ', first + 1);
    ASSERT_NE(second, std::string::npos) << line;
    const std::string kind = line.substr(0, first);
    const std::string data = line.substr(first + 1, second - first - 1);
    const std::string expected = line.substr(second + 1);
    std::string got;
    if (kind == "float") {
      got = float_repr(data == "nan" ? std::nan("") : std::strtod(data.c_str(), nullptr));
    } else if (kind == "int") {
      const bool negative = data[0] == '-';
      got = (negative ? "-" : "") + digits_to_decimal(digits_from_hex(data.substr(negative)), 30);
      if (major == 2) got += "L";
    } else if (kind == "str") {
      const std::u32string text = code_points_from(data);
      got = major == 2 ? unicode_repr_py2(text) : str_repr(text, major, minor);
    } else if (kind == "bytes") {
      got = bytes_repr(bytes_from(data), major >= 3);
    } else {
      FAIL() << "unknown row kind in " << path << ": " << line;
    }
    ++rows;
    ++per_kind[kind];
    if (got != expected && ++failures <= 20) {
      ADD_FAILURE() << version << " " << kind << " " << data << ": got " << got << ", CPython "
                    << expected;
    }
  }
  EXPECT_EQ(failures, 0u) << failures << " of " << rows << " rows differ";
  for (const char* kind : {"float", "int", "str", "bytes"}) {
    EXPECT_GT(per_kind[kind], 0u) << "no " << kind << " rows in " << path;
  }
}

INSTANTIATE_TEST_SUITE_P(Versions, RecordedReprs, ::testing::ValuesIn(fixtures()),
                         [](const ::testing::TestParamInfo<std::pair<std::string, std::string>>& info) {
                           std::string name = "py" + info.param.first;
                           std::replace(name.begin(), name.end(), '.', '_');
                           return name;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(RecordedReprs);

TEST(FloatRepr, PythonFormattingRules) {
  EXPECT_EQ(float_repr(1e16), "1e+16");
  EXPECT_EQ(float_repr(1e-05), "1e-05");
  EXPECT_EQ(float_repr(0.0001), "0.0001");
  EXPECT_EQ(float_repr(-0.0), "-0.0");
  EXPECT_EQ(float_repr(1.5), "1.5");
  EXPECT_EQ(float_repr(100.0), "100.0");
  EXPECT_EQ(float_repr(INFINITY), "inf");
  EXPECT_EQ(float_repr(-INFINITY), "-inf");
  EXPECT_EQ(float_repr(std::nan("")), "nan");
}

TEST(DigitsToDecimal, SmallAndZero) {
  EXPECT_EQ(digits_to_decimal({}, 30), "0");
  EXPECT_EQ(digits_to_decimal({0, 0}, 30), "0");
  EXPECT_EQ(digits_to_decimal({5}, 30), "5");
  EXPECT_EQ(digits_to_decimal({0, 1}, 30), "1073741824");
  EXPECT_EQ(digits_to_decimal({0, 1}, 15), "32768");
}

TEST(Utf8, SurrogatesAsBackslashEscapes) {
  EXPECT_EQ(to_utf8(U"a\u00e9\U0001F600"), "a\xc3\xa9\xf0\x9f\x98\x80");
  std::u32string lone(1, static_cast<char32_t>(0xdc80));
  EXPECT_EQ(to_utf8(lone), "\\udc80");
}

TEST(Markers, UnreadableAndPointer) {
  EXPECT_EQ(unreadable_marker(0x7f0012345678), "<unreadable 0x7f0012345678>");
  EXPECT_EQ(pointer_text(0xabc), "0xabc");
}

TEST(UnicodePrintable, DiffersByVersion) {
  // U+2EBF0 (CJK Extension I) was assigned in Unicode 15.1: printable in 3.13 only.
  EXPECT_TRUE(unicode_is_printable(0x2ebf0, 3, 13));
  EXPECT_FALSE(unicode_is_printable(0x2ebf0, 3, 12));
  EXPECT_TRUE(unicode_is_printable(U'a', 3, 6));
  EXPECT_FALSE(unicode_is_printable(0x0a, 3, 13));
  EXPECT_FALSE(unicode_is_printable(0xd800, 3, 13));
  EXPECT_FALSE(unicode_is_printable(0xad, 3, 13));  // soft hyphen: Cf
}

}  // namespace
}  // namespace pystack
