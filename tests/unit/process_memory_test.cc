#include "memory/process_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/errors.h"
#include "gtest/gtest.h"
#include "target_test_child.h"

namespace pystack {
namespace {

// Same address in a forked child; the child changes it so a read proves it read the child.
uint64_t g_value = 0x1111111111111111;
char g_text[64] = "parent";

testing::Child fork_reader_target() {
  return testing::Child::fork([](const std::function<void()>& ready) {
    g_value = 0xC0FFEE0000000000 | static_cast<uint64_t>(::getpid());
    std::strcpy(g_text, "hello from the child");
    ready();
    for (;;) ::pause();
  });
}

TEST(ProcessMemory, ReadsTheChildsValues) {
  testing::Child child = fork_reader_target();
  absl::StatusOr<ProcessMemory> memory = ProcessMemory::open(child.pid());
  ASSERT_TRUE(memory.ok()) << memory.status();
  absl::StatusOr<uint64_t> value = read_value<uint64_t>(*memory, reinterpret_cast<uint64_t>(&g_value));
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, 0xC0FFEE0000000000 | static_cast<uint64_t>(child.pid()));
  char text[sizeof g_text] = {};
  ASSERT_TRUE(memory->read(reinterpret_cast<uint64_t>(g_text), text, sizeof text).ok());
  EXPECT_STREQ(text, "hello from the child");
}

TEST(ProcessMemory, SizeZeroIsOkAnywhere) {
  testing::Child child = fork_reader_target();
  absl::StatusOr<ProcessMemory> memory = ProcessMemory::open(child.pid());
  ASSERT_TRUE(memory.ok());
  EXPECT_TRUE(memory->read(0, nullptr, 0).ok());
}

TEST(ProcessMemory, RejectsAbsurdSizesAndOverflow) {
  testing::Child child = fork_reader_target();
  absl::StatusOr<ProcessMemory> memory = ProcessMemory::open(child.pid());
  ASSERT_TRUE(memory.ok());
  char byte;
  absl::Status huge = memory->read(reinterpret_cast<uint64_t>(&g_value), &byte, size_t{1} << 40);
  EXPECT_FALSE(huge.ok());
  EXPECT_NE(huge.message().find("too large"), std::string::npos) << huge;
  absl::Status wrap = memory->read(std::numeric_limits<uint64_t>::max() - 3, &byte, 8);
  EXPECT_FALSE(wrap.ok());
  EXPECT_NE(wrap.message().find("overflow"), std::string::npos) << wrap;
}

TEST(ProcessMemory, UnmappedAddressFailsNamingIt) {
  testing::Child child = fork_reader_target();
  absl::StatusOr<ProcessMemory> memory = ProcessMemory::open(child.pid());
  ASSERT_TRUE(memory.ok());
  uint64_t value;
  absl::Status status = memory->read(0x10, &value, sizeof value);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("0x10"), std::string::npos) << status;
}

TEST(ProcessMemory, ReadAcrossTheEndOfAMappingFailsAtTheGap) {
  // Two pages, the second unmapped before the fork: a read spanning both is short.
  long page = ::sysconf(_SC_PAGESIZE);
  char* pages = static_cast<char*>(
      ::mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(pages, MAP_FAILED);
  ASSERT_EQ(::munmap(pages + page, page), 0);
  std::memset(pages, 'x', page);
  testing::Child child = testing::Child::fork([](const std::function<void()>& ready) {
    ready();
    for (;;) ::pause();
  });
  ::munmap(pages, page);  // ours only; the child keeps its copy
  absl::StatusOr<ProcessMemory> memory = ProcessMemory::open(child.pid());
  ASSERT_TRUE(memory.ok());
  uint64_t start = reinterpret_cast<uint64_t>(pages) + page - 16;
  std::vector<char> buffer(64);
  absl::Status status = memory->read(start, buffer.data(), buffer.size());
  ASSERT_FALSE(status.ok());
  std::string gap = absl::StrFormat("0x%x", reinterpret_cast<uint64_t>(pages) + page);
  EXPECT_NE(status.message().find(gap), std::string::npos) << status;
  // The mapped part alone reads fine.
  ASSERT_TRUE(memory->read(start, buffer.data(), 16).ok());
  EXPECT_EQ(std::string(buffer.data(), 16), std::string(16, 'x'));
}

TEST(ProcessMemory, LargeReadSpanningManyPages) {
  constexpr size_t kSize = 8 << 20;
  char* block = static_cast<char*>(
      ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(block, MAP_FAILED);
  for (size_t i = 0; i < kSize; ++i) block[i] = static_cast<char>(i * 7);
  testing::Child child = testing::Child::fork([](const std::function<void()>& ready) {
    ready();
    for (;;) ::pause();
  });
  absl::StatusOr<ProcessMemory> memory = ProcessMemory::open(child.pid());
  ASSERT_TRUE(memory.ok());
  std::vector<char> copy(kSize);
  ASSERT_TRUE(memory->read(reinterpret_cast<uint64_t>(block), copy.data(), kSize).ok());
  EXPECT_EQ(std::memcmp(copy.data(), block, kSize), 0);
  ::munmap(block, kSize);
}

TEST(ProcessMemory, OpenNonexistentPid) {
  pid_t gone;
  {
    testing::Child child = fork_reader_target();
    gone = child.pid();
  }
  absl::StatusOr<ProcessMemory> memory = ProcessMemory::open(gone);
  ASSERT_FALSE(memory.ok());
  EXPECT_EQ(error_kind(memory.status()), ErrorKind::kNoSuchProcess);
  EXPECT_EQ(error_kind(ProcessMemory::open(0).status()), ErrorKind::kNoSuchProcess);
  EXPECT_EQ(error_kind(ProcessMemory::open(-5).status()), ErrorKind::kNoSuchProcess);
}

TEST(ProcessMemory, ReadAfterExitIsProcessExited) {
  testing::Child child = fork_reader_target();
  absl::StatusOr<ProcessMemory> memory = ProcessMemory::open(child.pid());
  ASSERT_TRUE(memory.ok());
  child.kill_and_reap();
  uint64_t value;
  absl::Status status = memory->read(reinterpret_cast<uint64_t>(&g_value), &value, sizeof value);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(error_kind(status), ErrorKind::kProcessExited) << status;
}

}  // namespace
}  // namespace pystack
