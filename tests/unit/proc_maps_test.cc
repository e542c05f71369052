#include "memory/proc_maps.h"

#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>

#include "common/errors.h"
#include "gtest/gtest.h"
#include "memory/unique_fd.h"
#include "target_test_child.h"

namespace pystack {
namespace {

TEST(ParseProcMaps, FileBackedMapping) {
  std::vector<MemoryMapping> maps = parse_proc_maps(
      "7f1200001000-7f1200023000 r-xp 00001000 fd:01 1234                       "
      "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0\n");
  ASSERT_EQ(maps.size(), 1u);
  EXPECT_EQ(maps[0].start, 0x7f1200001000u);
  EXPECT_EQ(maps[0].end, 0x7f1200023000u);
  EXPECT_EQ(maps[0].file_offset, 0x1000u);
  EXPECT_TRUE(maps[0].readable);
  EXPECT_FALSE(maps[0].writable);
  EXPECT_TRUE(maps[0].executable);
  EXPECT_EQ(maps[0].path, "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0");
}

TEST(ParseProcMaps, AnonymousAndSpecialMappings) {
  std::vector<MemoryMapping> maps = parse_proc_maps(
      "55d0c0a00000-55d0c0b00000 rw-p 00000000 00:00 0                          [heap]\n"
      "7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \n"
      "7ffd1000000-7ffd1021000 ---p 00000000 00:00 0\n"
      "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n");
  ASSERT_EQ(maps.size(), 4u);
  EXPECT_EQ(maps[0].path, "[heap]");
  EXPECT_TRUE(maps[0].readable && maps[0].writable && !maps[0].executable);
  EXPECT_EQ(maps[1].path, "");
  EXPECT_EQ(maps[2].path, "");
  EXPECT_EQ(maps[2].start, 0x7ffd1000000u);
  EXPECT_FALSE(maps[2].readable || maps[2].writable || maps[2].executable);
  EXPECT_EQ(maps[3].start, 0xffffffffff600000u);
  EXPECT_EQ(maps[3].path, "[vsyscall]");
}

TEST(ParseProcMaps, PathsWithSpacesAndDeleted) {
  std::vector<MemoryMapping> maps = parse_proc_maps(
      "400000-401000 r--p 00000000 08:02 77    /home/me/my env/bin/python3 (deleted)\n"
      "401000-402000 r-xp 00001000 08:02 77    /opt/a  b/lib x.so\n"
      "402000-403000 rw-s 00000000 00:05 9     /memfd:shared (deleted)\n");
  ASSERT_EQ(maps.size(), 3u);
  // Kept verbatim: the kernel's " (deleted)" suffix tells callers the file is gone.
  EXPECT_EQ(maps[0].path, "/home/me/my env/bin/python3 (deleted)");
  EXPECT_EQ(maps[1].path, "/opt/a  b/lib x.so");
  EXPECT_EQ(maps[1].file_offset, 0x1000u);
  EXPECT_EQ(maps[2].path, "/memfd:shared (deleted)");
}

TEST(ParseProcMaps, SkipsMalformedLines) {
  std::vector<MemoryMapping> maps = parse_proc_maps(
      "\n"
      "garbage\n"
      "400000 r--p 00000000 08:02 77 /no/dash\n"
      "zz0000-401000 r--p 00000000 08:02 77 /bad/hex\n"
      "402000-401000 r--p 00000000 08:02 77 /end/before/start\n"
      "400000-401000 r--p 0000000g 08:02 77 /bad/offset\n"
      "400000-401000 r--p 00000000 08:02\n"
      "400000-401000 r\n"
      "10000000000000000-10000000000000001 r--p 00000000 08:02 77 /too/big\n"
      "500000-501000 r--p 00000000 08:02 77 /good\n"
      "600000-601000 r--p 00000000 08:02 77 /no/newline/at/end");
  ASSERT_EQ(maps.size(), 2u);
  EXPECT_EQ(maps[0].path, "/good");
  EXPECT_EQ(maps[1].path, "/no/newline/at/end");
}

TEST(ParseProcMaps, EmptyText) { EXPECT_TRUE(parse_proc_maps("").empty()); }

TEST(ReadProcMaps, FindsOwnMappings) {
  // A mapping with a known address and permissions, seen by a forked child that keeps it.
  void* page = ::mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(page, MAP_FAILED);
  testing::Child child = testing::Child::fork([](const std::function<void()>& ready) {
    ready();
    for (;;) ::pause();
  });
  absl::StatusOr<std::vector<MemoryMapping>> maps = read_proc_maps(child.pid());
  ::munmap(page, 4096);
  ASSERT_TRUE(maps.ok()) << maps.status();
  char exe[4096] = {};
  ASSERT_GT(::readlink("/proc/self/exe", exe, sizeof exe - 1), 0);
  std::string self_exe = exe;
  bool found_page = false, found_stack = false, found_self = false;
  uint64_t address = reinterpret_cast<uint64_t>(page);
  for (const MemoryMapping& m : *maps) {
    if (m.start <= address && address < m.end) {
      found_page = m.readable && m.executable && !m.writable;
    }
    if (m.path == "[stack]") found_stack = true;
    if (m.path == self_exe) found_self = m.file_offset == 0 || found_self;
  }
  EXPECT_TRUE(found_page);
  EXPECT_TRUE(found_stack);
  EXPECT_TRUE(found_self);
}

TEST(ReadProcMaps, NoSuchProcess) {
  pid_t gone;
  {
    testing::Child child = testing::Child::fork([](const std::function<void()>& ready) { ready(); });
    gone = child.pid();
  }  // killed and reaped: the pid is free (and will not be reused this soon)
  absl::StatusOr<std::vector<MemoryMapping>> maps = read_proc_maps(gone);
  ASSERT_FALSE(maps.ok());
  EXPECT_EQ(error_kind(maps.status()), ErrorKind::kNoSuchProcess);
  EXPECT_NE(maps.status().message().find(std::to_string(gone)), std::string::npos);
  EXPECT_FALSE(error_hint(maps.status()).empty());
}

// A process that exited but is not reaped yet: it was there, and has exited.
TEST(ReadProcMaps, ZombieHasExited) {
  testing::Child child = testing::Child::fork([](const std::function<void()>& ready) { ready(); });
  ASSERT_TRUE(testing::eventually([&] { return procfs::process_gone(child.pid()); }));
  absl::StatusOr<std::vector<MemoryMapping>> maps = read_proc_maps(child.pid());
  ASSERT_FALSE(maps.ok());
  EXPECT_EQ(error_kind(maps.status()), ErrorKind::kProcessExited);
  EXPECT_NE(maps.status().message().find("zombie"), std::string::npos) << maps.status();
  EXPECT_FALSE(error_hint(maps.status()).empty());
}

// A process in its execve is not a zombie: a maps file opened before the new address space
// replaced the old one and read after it reads empty, which must not be taken for an exit (a
// `record -- COMMAND` once failed so). The child re-executes a shell a thousand times; no read of
// its maps meanwhile may say it exited and be followed by one that finds it running. (Its real
// exit also reads empty a while before /proc shows a zombie: those are not followed by one.)
TEST(ReadProcMaps, AProcessInItsExecveIsNotTakenForAZombie) {
  if (::access("/bin/sh", X_OK) != 0) GTEST_SKIP() << "no /bin/sh to execute";
  testing::Child child = testing::Child::fork([](const std::function<void()>& ready) {
    ready();
    const char* script = "[ \"$1\" -gt 0 ] && exec /bin/sh -c \"$0\" \"$0\" $(($1 - 1))";
    ::execl("/bin/sh", "sh", "-c", script, script, "1000", static_cast<char*>(nullptr));
  });
  int reads = 0;
  int said_exited = 0;
  int mistaken = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!procfs::process_gone(child.pid()) && std::chrono::steady_clock::now() < deadline) {
    absl::StatusOr<std::vector<MemoryMapping>> maps = read_proc_maps(child.pid());
    ++reads;
    if (maps.ok()) {
      mistaken += said_exited;
      said_exited = 0;
    } else if (error_kind(maps.status()) == ErrorKind::kProcessExited) {
      ++said_exited;
    }
  }
  EXPECT_TRUE(procfs::process_gone(child.pid())) << "the shell did not finish its execs";
  EXPECT_GT(reads, 100);
  EXPECT_EQ(mistaken, 0) << "of " << reads << " reads";
}

}  // namespace
}  // namespace pystack
