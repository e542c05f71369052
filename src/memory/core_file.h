// An ELF core file (Linux x86-64), mapped into memory and never read whole: its threads, the
// signal that killed the process, the files it had mapped, its auxiliary vector and the memory
// image that the core itself holds. Only reads; every number in the file is checked before use
// (a core may be truncated or corrupt).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "memory/registers.h"

namespace pystack {

// One thread (NT_PRSTATUS). The kernel writes the thread that received the fatal signal first.
struct CoreThread {
  pid_t tid = 0;
  int signal = 0;        // pr_cursig: the signal being delivered when the core was made
  uint64_t fs_base = 0;  // x86-64 glibc: the thread's TCB address, which is its pthread_t
  DwarfRegisters registers{};
  BlockedSyscall syscall;
};

// One PT_LOAD: `memory_size` bytes at `address`, of which the first `file_size` are in the core
// at `offset` (the rest, if any, was left out: read-only file data, or memory the dump skipped).
struct CoreSegment {
  uint64_t address = 0;
  uint64_t memory_size = 0;
  uint64_t offset = 0;
  uint64_t file_size = 0;
  // Of file_size, the bytes really present (less when the core is truncated).
  uint64_t available = 0;
  bool readable = false, writable = false, executable = false;
  // Not the process's memory although the core says it is: a thread's stack whose bytes gdb's
  // gcore could not read (gdb 13 on a stack behind recent glibc's in-mapping guard page (2.43 here)
  // writes zeros for the whole mapping). The thread whose TCB lies in it; 0 when the segment is sound.
  pid_t lost_thread = 0;
};

// One file mapping (NT_FILE): [start, end) maps `path` from byte `file_offset` on.
struct CoreMappedFile {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t file_offset = 0;
  std::string path;  // as the crashed process saw it
};

// NT_PRPSINFO.
struct CoreProcessInfo {
  pid_t pid = 0;
  std::string command;    // pr_fname: the executable's name, at most 15 bytes
  std::string arguments;  // pr_psargs: the command line, cut at 79 bytes, spaces between words
};

class CoreFile {
 public:
  // Errors: kNoSuchProcess (no such file), kPermissionDenied, kBadCore (not an x86-64 ELF core,
  // or one whose notes are cut off or unreadable).
  static absl::StatusOr<std::unique_ptr<CoreFile>> open(const std::string& path);

  CoreFile(const CoreFile&) = delete;
  CoreFile& operator=(const CoreFile&) = delete;
  ~CoreFile();

  const std::string& path() const { return path_; }
  const std::vector<CoreThread>& threads() const { return threads_; }
  // The signal that made the core: NT_SIGINFO's si_signo, else the first thread's pr_cursig;
  // 0 when there is none (gcore writes the stop signal of a live process, which is not fatal).
  int signal() const { return signal_; }
  const std::vector<CoreSegment>& segments() const { return segments_; }  // sorted by address
  const std::vector<CoreMappedFile>& mapped_files() const { return files_; }
  // The value of an NT_AUXV entry (AT_PHDR, AT_ENTRY, AT_EXECFN, ...), when present.
  std::optional<uint64_t> auxv(uint64_t type) const;
  const CoreProcessInfo& process() const { return process_; }

  uint64_t size() const { return size_; }
  // The size the program headers say the core should have; > size() when it was cut short.
  uint64_t expected_size() const { return expected_size_; }
  bool truncated() const { return expected_size_ > size_; }

  // Copies the core's own image of [address, address + size) into `out`: only what the core
  // holds, never a mapped file (see CoreMemory for that). Fails unless all of it is there.
  absl::Status read_image(uint64_t address, void* out, size_t size) const;
  // The segment holding `address`, or nullptr.
  const CoreSegment* segment_at(uint64_t address) const;
  // The threads whose stack segment the core holds as zeros (CoreSegment::lost_thread).
  std::vector<pid_t> lost_stacks() const;

 private:
  CoreFile() = default;
  absl::Status parse();
  absl::Status parse_notes(const std::vector<std::pair<uint64_t, uint64_t>>& note_ranges);
  void parse_note(uint32_t type, const uint8_t* desc, size_t size);
  void parse_prstatus(const uint8_t* desc, size_t size);
  void parse_file_note(const uint8_t* desc, size_t size);
  void parse_auxv(const uint8_t* desc, size_t size);
  void parse_prpsinfo(const uint8_t* desc, size_t size);
  void mark_lost_stacks();

  std::string path_;
  const uint8_t* data_ = nullptr;  // the whole core, mapped read-only
  uint64_t size_ = 0;
  uint64_t expected_size_ = 0;
  std::vector<CoreThread> threads_;
  int signal_ = 0;
  int siginfo_signal_ = 0;
  std::vector<CoreSegment> segments_;
  std::vector<CoreMappedFile> files_;
  std::vector<std::pair<uint64_t, uint64_t>> auxv_;
  CoreProcessInfo process_;
};

}  // namespace pystack
