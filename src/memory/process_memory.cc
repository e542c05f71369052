#include "memory/process_memory.h"

#include <algorithm>

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/errors.h"
#include "memory/procfs.h"

namespace pystack {
namespace {

// No CPython structure comes near this; a larger size is a corrupt length read from the target.
constexpr size_t kMaxReadSize = size_t{256} << 20;

std::string hex(uint64_t address) { return absl::StrFormat("0x%x", address); }

// Each chunk reader returns the bytes read (> 0), or 0 with `error` set to the errno (0 when
// the call read nothing without failing, e.g. EOF).
size_t read_chunk_vm(pid_t pid, uint64_t address, char* out, size_t size, int& error) {
  iovec local{out, size};
  iovec remote{reinterpret_cast<void*>(address), size};
  for (;;) {
    ssize_t n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n > 0) return static_cast<size_t>(n);
    if (n < 0 && errno == EINTR) continue;
    error = n < 0 ? errno : 0;
    return 0;
  }
}

size_t read_chunk_mem(int fd, uint64_t address, char* out, size_t size, int& error) {
  for (;;) {
    // /proc/PID/mem takes unsigned offsets (FMODE_UNSIGNED_OFFSET), so the cast is safe.
    ssize_t n = ::pread(fd, out, size, static_cast<off_t>(address));
    if (n > 0) return static_cast<size_t>(n);
    if (n < 0 && errno == EINTR) continue;
    error = n < 0 ? errno : 0;
    return 0;
  }
}

}  // namespace

absl::StatusOr<ProcessMemory> ProcessMemory::open(pid_t pid) {
  if (pid <= 0 || procfs::process_gone(pid)) {
    return make_error(ErrorKind::kNoSuchProcess, absl::StrCat("no such process: ", pid),
                      "check the pid (ps -e)");
  }
  return ProcessMemory(pid);
}

absl::Status ProcessMemory::read(uint64_t address, void* out, size_t size) const {
  if (size == 0) return absl::OkStatus();
  if (size > kMaxReadSize) {
    return absl::OutOfRangeError(
        absl::StrCat("refusing to read ", size, " bytes at ", hex(address), " (too large)"));
  }
  if (address > std::numeric_limits<uint64_t>::max() - size) {
    return absl::OutOfRangeError(
        absl::StrCat("cannot read ", size, " bytes at ", hex(address), ": address overflow"));
  }
  char* bytes = static_cast<char*>(out);
  size_t done = 0;
  while (done < size) {
    int error = 0;
    size_t n = read_chunk(address + done, bytes + done, size - done, error);
    if (n == 0) return read_error(address, size, address + done, error);
    done += n;
  }
  return absl::OkStatus();
}

void ProcessMemory::read_many(ReadRequest* requests, size_t count) const {
  constexpr size_t kBatch = 256;  // well under IOV_MAX (1024)
  iovec local[kBatch];
  iovec remote[kBatch];
  size_t first = 0;
  while (first < count) {
    if (!vm_readv_works_) {
      RemoteMemory::read_many(requests + first, count - first);
      return;
    }
    const size_t n = std::min(kBatch, count - first);
    size_t total = 0;
    for (size_t i = 0; i < n; ++i) {
      ReadRequest& request = requests[first + i];
      request.ok = false;
      local[i] = {request.out, request.size};
      remote[i] = {reinterpret_cast<void*>(request.address), request.size};
      total += request.size;
    }
    ssize_t got = ::process_vm_readv(pid_, local, n, remote, n, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) got = 0;
    // The kernel stops at the first remote range it cannot read: those before it are whole.
    size_t done = 0, i = 0;
    for (; i < n && done + requests[first + i].size <= static_cast<size_t>(got); ++i) {
      requests[first + i].ok = true;
      done += requests[first + i].size;
    }
    if (static_cast<size_t>(got) == total) {
      first += n;
      continue;
    }
    // Request `i` failed (wholly or in part): read alone, it says why; go on after it.
    ReadRequest& failed = requests[first + i];
    failed.ok = read(failed.address, failed.out, failed.size).ok();
    first += i + 1;
  }
}

// One process_vm_readv (or pread) call; falls back to /proc/PID/mem for good once
// process_vm_readv is refused (EPERM: e.g. some LSM policies; ENOSYS: seccomp, gVisor).
size_t ProcessMemory::read_chunk(uint64_t address, char* out, size_t size, int& error) const {
  if (vm_readv_works_) {
    size_t n = read_chunk_vm(pid_, address, out, size, error);
    if (n > 0 || (error != EPERM && error != ENOSYS)) return n;
    vm_readv_works_ = false;
  }
  if (!mem_fd_.valid()) {
    std::string path = absl::StrCat("/proc/", pid_, "/mem");
    mem_fd_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!mem_fd_.valid()) {
      error = errno;
      return 0;
    }
  }
  return read_chunk_mem(mem_fd_.get(), address, out, size, error);
}

absl::Status ProcessMemory::read_error(uint64_t address, size_t size, uint64_t failed_at,
                                       int error) const {
  std::string what = absl::StrCat("cannot read ", size, " bytes at ", hex(address));
  if (failed_at != address) absl::StrAppend(&what, " (unreadable from ", hex(failed_at), ")");
  // A vanished process shows up as ESRCH (process_vm_readv) or as EOF/EIO (/proc/PID/mem).
  // EFAULT is an address the live process does not map: no need to ask /proc (a scan of a
  // stripped binary's data meets hundreds of those, and each question costs three syscalls).
  if (error == ESRCH || (error != EFAULT && procfs::process_gone(pid_))) {
    return make_error(ErrorKind::kProcessExited,
                      absl::StrCat(what, ": process ", pid_, " has exited"));
  }
  if (error == EPERM || error == EACCES) {
    return make_error(ErrorKind::kPermissionDenied,
                      absl::StrCat(what, " of process ", pid_, ": ", std::strerror(error)),
                      "run as the same user as the target or as root, or grant CAP_SYS_PTRACE");
  }
  // EFAULT/EIO/EOF: the range is not (wholly) mapped. Not a make_error kind on purpose: readers
  // treat it as corrupt target data, not as a failure of the tool.
  return absl::OutOfRangeError(
      absl::StrCat(what, ": ", error != 0 ? std::strerror(error) : "not mapped"));
}

}  // namespace pystack
