// parse_asyncio_debug_offsets on the AsyncioDebug sections of real interpreters
// (tests/unit/data/asyncio_debug_<version>.bin: `objcopy --only-section=.AsyncioDebug` of
// Debian's _asyncio module of 3.14.10 and of its python3.15 binary, where _asyncio is built in),
// and on damaged copies of them.

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "cpython/asyncio_debug_offsets.h"
#include "gtest/gtest.h"

namespace pystack {
namespace {

std::vector<uint8_t> Section(const std::string& version) {
  std::ifstream in("tests/unit/data/asyncio_debug_" + version + ".bin", std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void SetWord(std::vector<uint8_t>& bytes, size_t index, uint64_t value) {
  for (int i = 0; i < 8; ++i) bytes[index * 8 + i] = static_cast<uint8_t>(value >> (8 * i));
}

TEST(AsyncioDebugOffsets, ReadsDebian31410) {
  const std::vector<uint8_t> bytes = Section("3.14.10");
  ASSERT_EQ(bytes.size(), kAsyncioDebugOffsetsSize);
  absl::StatusOr<AsyncioDebugOffsets> o = parse_asyncio_debug_offsets(bytes);
  ASSERT_TRUE(o.ok()) << o.status();
  // TaskObj of Modules/_asynciomodule.c, x86-64 release build.
  EXPECT_EQ(o->task.size, 168u);
  EXPECT_EQ(o->task.name, 136u);
  EXPECT_EQ(o->task.awaited_by, 96u);
  EXPECT_EQ(o->task.is_task, 108u);
  EXPECT_EQ(o->task.awaited_by_is_set, 109u);
  EXPECT_EQ(o->task.coro, 128u);
  EXPECT_EQ(o->task.node, 152u);
  EXPECT_EQ(o->interpreter.tasks_head, 10880u);
  EXPECT_EQ(o->thread_state.running_loop, 864u);
  EXPECT_EQ(o->thread_state.running_task, 872u);
  EXPECT_EQ(o->thread_state.tasks_head, 880u);
}

TEST(AsyncioDebugOffsets, ReadsDebian3152) {
  absl::StatusOr<AsyncioDebugOffsets> o = parse_asyncio_debug_offsets(Section("3.15.2"));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->task.node, 152u);
  EXPECT_EQ(o->interpreter.tasks_head, 10856u);
  EXPECT_EQ(o->thread_state.tasks_head, 1048u);
}

TEST(AsyncioDebugOffsets, RejectsShortSection) {
  std::vector<uint8_t> bytes = Section("3.14.10");
  ASSERT_FALSE(bytes.empty());
  bytes.resize(kAsyncioDebugOffsetsSize - 1);
  EXPECT_FALSE(parse_asyncio_debug_offsets(bytes).ok());
}

TEST(AsyncioDebugOffsets, RejectsOffsetsOutsideTheirStruct) {
  const std::vector<uint8_t> good = Section("3.14.10");
  ASSERT_EQ(good.size(), kAsyncioDebugOffsetsSize);
  for (size_t word : {1, 2, 3, 5, 6, 8, 10, 12}) {  // an offset past its struct's end
    std::vector<uint8_t> bytes = good;
    SetWord(bytes, word, 1 << 30);
    EXPECT_FALSE(parse_asyncio_debug_offsets(bytes).ok()) << "word " << word;
  }
  std::vector<uint8_t> node_at_end = good;  // the two-pointer list node must fit
  SetWord(node_at_end, 6, 168 - 8);
  EXPECT_FALSE(parse_asyncio_debug_offsets(node_at_end).ok());
  std::vector<uint8_t> huge = good;  // a wild size
  SetWord(huge, 0, uint64_t{1} << 62);
  EXPECT_FALSE(parse_asyncio_debug_offsets(huge).ok());
}

}  // namespace
}  // namespace pystack
