// Core files from hostile bytes: the ELF header, program headers and notes (threads, NT_FILE,
// auxv, prpsinfo, siginfo) parsed, then the image read where the core says it holds memory.
// Then the same bytes as a Target, through libdw (--native): a module for each file the core
// names with code (opened here by that path, when one exists: tests/fuzz/corpus/core_file has a
// seed naming the host's libc.so.6) and each thread's C stack unwound from the registers of its
// NT_PRSTATUS over the core's memory.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "memory/core_file.h"
#include "memory/core_target.h"
#include "native/native_unwinder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const int fd = ::memfd_create("core", MFD_CLOEXEC);
  if (fd < 0 || ::ftruncate(fd, 0) != 0 || ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) {
    return 0;
  }
  absl::StatusOr<std::unique_ptr<pystack::CoreFile>> core =
      pystack::CoreFile::open(absl::StrCat("/proc/self/fd/", fd));
  if (!core.ok()) return 0;
  uint8_t buffer[256];
  for (const pystack::CoreSegment& segment : (*core)->segments()) {
    (void)(*core)->read_image(segment.address, buffer, sizeof buffer);
    (void)(*core)->read_image(segment.address + segment.memory_size - 1, buffer, 1);
  }
  for (const pystack::CoreMappedFile& file : (*core)->mapped_files()) {
    (void)(*core)->segment_at(file.start);
  }
  (void)(*core)->lost_stacks();
  (void)(*core)->auxv(3);

  absl::StatusOr<std::unique_ptr<pystack::CoreTarget>> target =
      pystack::CoreTarget::open(absl::StrCat("/proc/self/fd/", fd), {});
  if (!target.ok()) return 0;
  pystack::NativeUnwindOptions options;
  options.max_frames = 64;
  const std::string runtime =
      (*target)->mappings().empty() ? "" : (*target)->mappings().front().path;
  absl::StatusOr<std::unique_ptr<pystack::NativeUnwinder>> unwinder =
      pystack::NativeUnwinder::create(**target, runtime, options);
  if (!unwinder.ok()) return 0;
  int threads = 0;
  for (const pid_t tid : (*target)->threads()) {
    if (++threads > 16) break;
    (void)(*unwinder)->unwind(tid);
  }
  return 0;
}
