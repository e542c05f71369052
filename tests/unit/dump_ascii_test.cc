// append_dump_ascii against _Py_DumpASCII's rules (the recorded faulthandler fixtures cover the
// same through real interpreters; these pin the edges).
#include "format/dump_ascii.h"

#include <gtest/gtest.h>

namespace pystack {
namespace {

std::string dump(std::u32string code_points, uint64_t length) {
  PyText text;
  text.code_points = std::move(code_points);
  text.length = length;
  std::string out = "<";
  append_dump_ascii(out, text);
  return out + ">";
}

std::string dump(const std::u32string& code_points) {
  return dump(code_points, code_points.size());
}

TEST(DumpAscii, PrintableAsciiAsIs) {
  EXPECT_EQ(dump(U" azAZ09~!\"\\"), "< azAZ09~!\"\\>");
}

TEST(DumpAscii, EscapesByRange) {
  EXPECT_EQ(dump(U"\t"), "<\\x09>");
  EXPECT_EQ(dump(std::u32string(1, U'\0')), "<\\x00>");
  EXPECT_EQ(dump(U"\x1f\x7f\xe9\xff"), "<\\x1f\\x7f\\xe9\\xff>");
  EXPECT_EQ(dump(U"\u0100\uabcd\uffff"), "<\\u0100\\uabcd\\uffff>");
  EXPECT_EQ(dump(U"\U00010000\U0010ffff"), "<\\U00010000\\U0010ffff>");
  EXPECT_EQ(dump(std::u32string(1, char32_t{0xdc80})), "<\\udc80>");  // lone surrogate
  EXPECT_EQ(dump(std::u32string(1, char32_t{0xffffffff})), "<\\Uffffffff>");
}

TEST(DumpAscii, EmptyString) { EXPECT_EQ(dump(U""), "<>"); }

TEST(DumpAscii, CutAt500CodePoints) {
  EXPECT_EQ(dump(std::u32string(500, U'a')), "<" + std::string(500, 'a') + ">");
  EXPECT_EQ(dump(std::u32string(501, U'a')), "<" + std::string(500, 'a') + "...>");
  std::string escaped;
  for (int i = 0; i < 500; ++i) escaped += "\\u0101";
  EXPECT_EQ(dump(std::u32string(600, U'\u0101')), "<" + escaped + "...>");
}

TEST(DumpAscii, BoundedReadUsesTheTargetLength) {
  // Fewer code points read than the target holds: print what is there, "..." past 500.
  EXPECT_EQ(dump(U"abc", 501), "<abc...>");
  EXPECT_EQ(dump(U"abc", 500), "<abc>");
  EXPECT_EQ(dump(std::u32string(700, U'b'), 1000000), "<" + std::string(500, 'b') + "...>");
}

TEST(DumpAscii, NeverPrintsMoreThanTheLength) {
  EXPECT_EQ(dump(U"abcdef", 2), "<ab>");
}

TEST(DumpAscii, Appends) {
  PyText text;
  text.code_points = U"x";
  text.length = 1;
  std::string out = "keep";
  append_dump_ascii(out, text);
  EXPECT_EQ(out, "keepx");
}

}  // namespace
}  // namespace pystack
