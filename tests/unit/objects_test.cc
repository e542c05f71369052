// String decoding of PEP 393 data: code points of each kind, little endian.
#include "cpython/objects.h"

#include "gtest/gtest.h"

namespace pystack {
namespace {

TEST(DecodeCodePoints, Latin1) {
  const uint8_t data[] = {'a', 0xe9, 0x7f, 0x00};
  EXPECT_EQ(decode_code_points(data, 4, 1), (std::u32string{U'a', 0xe9, 0x7f, 0}));
}

TEST(DecodeCodePoints, Ucs2) {
  const uint8_t data[] = {0x2d, 0x4e, 0x87, 0x65, 0x41, 0x00};  // 中文A
  EXPECT_EQ(decode_code_points(data, 3, 2), (std::u32string{0x4e2d, 0x6587, U'A'}));
}

TEST(DecodeCodePoints, Ucs4IncludingLoneSurrogatesAndAstral) {
  const uint8_t data[] = {0x00, 0xf6, 0x01, 0x00, 0x00, 0xd8, 0x00, 0x00};
  EXPECT_EQ(decode_code_points(data, 2, 4), (std::u32string{0x1f600, 0xd800}));
}

TEST(DecodeCodePoints, CountBoundsTheRead) {
  const uint8_t data[] = {'a', 'b', 'c'};
  EXPECT_EQ(decode_code_points(data, 2, 1), U"ab");
  EXPECT_EQ(decode_code_points(data, 0, 1), U"");
}

}  // namespace
}  // namespace pystack
