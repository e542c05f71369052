#include "symbols/getter_code.h"

#include <string>

#include "gtest/gtest.h"

namespace pystack {
namespace {

std::string bytes(std::initializer_list<unsigned char> list) {
  return std::string(list.begin(), list.end());
}

// Debian 11's /usr/bin/python2.7 (2.7.18-8+deb11u1), PyInterpreterState_Head at 0xab0ae, as
// objdump shows it: `mov 0x2ba4bb(%rip),%rax; ret`, the load of 0x365570.
TEST(GlobalReadByGetter, Debian11Python27) {
  const std::string code = bytes({0x48, 0x8b, 0x05, 0xbb, 0xa4, 0x2b, 0x00, 0xc3, 0x48, 0x8b,
                                  0x07, 0xc3, 0x8b, 0x05, 0xc8, 0xa4});
  EXPECT_EQ(global_read_by_getter(code, 0xab0ae), uint64_t{0x365570});
}

// pyenv's 3.6.15 libpython3.6m.so.1.0, whose .symtab still names interp_head at 0x2feee0: the
// getter at 0x174b90 leads to the same slot.
TEST(GlobalReadByGetter, Pyenv36AgreesWithItsSymbolTable) {
  const std::string code = bytes({0x48, 0x8b, 0x05, 0x49, 0xa3, 0x18, 0x00, 0xc3, 0x0f, 0x1f,
                                  0x84, 0x00, 0x00, 0x00, 0x00, 0x00});
  EXPECT_EQ(global_read_by_getter(code, 0x174b90), uint64_t{0x2feee0});
}

TEST(GlobalReadByGetter, Endbr64AndRepzRet) {
  // endbr64; mov 0x10(%rip),%rax; repz ret: the mov ends at 0x1000 + 4 + 7.
  const std::string code =
      bytes({0xf3, 0x0f, 0x1e, 0xfa, 0x48, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00, 0xf3, 0xc3});
  EXPECT_EQ(global_read_by_getter(code, 0x1000), uint64_t{0x1000 + 11 + 0x10});
}

TEST(GlobalReadByGetter, NegativeDisplacement) {
  // mov -0x20(%rip),%rax; ret
  const std::string code = bytes({0x48, 0x8b, 0x05, 0xe0, 0xff, 0xff, 0xff, 0xc3});
  EXPECT_EQ(global_read_by_getter(code, 0x5000), uint64_t{0x5000 + 7 - 0x20});
}

TEST(GlobalReadByGetter, AnythingElseIsNotAGetter) {
  // PyInterpreterState_Next: mov (%rdi),%rax; ret (a load through the argument).
  EXPECT_EQ(global_read_by_getter(bytes({0x48, 0x8b, 0x07, 0xc3}), 0x1000), std::nullopt);
  // A load that is not returned at once (a debug build's prologue, a lock taken first).
  EXPECT_EQ(global_read_by_getter(
                bytes({0x48, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00, 0x48, 0x85, 0xc0, 0xc3}), 0x1000),
            std::nullopt);
  // push %rbp; mov %rsp,%rbp; ... (an -O0 build).
  EXPECT_EQ(global_read_by_getter(bytes({0x55, 0x48, 0x89, 0xe5, 0x48, 0x8b, 0x05, 0x10, 0x00,
                                         0x00, 0x00, 0x5d, 0xc3}),
                                  0x1000),
            std::nullopt);
  // Cut short: the displacement or the ret missing.
  EXPECT_EQ(global_read_by_getter(bytes({0x48, 0x8b, 0x05, 0x10, 0x00}), 0x1000), std::nullopt);
  EXPECT_EQ(global_read_by_getter(bytes({0x48, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00}), 0x1000),
            std::nullopt);
  EXPECT_EQ(global_read_by_getter(bytes({0xf3, 0x0f, 0x1e, 0xfa}), 0x1000), std::nullopt);
  EXPECT_EQ(global_read_by_getter("", 0x1000), std::nullopt);
}

}  // namespace
}  // namespace pystack
