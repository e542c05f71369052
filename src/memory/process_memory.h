// The memory of a live process, read with process_vm_readv (or /proc/PID/mem where that is
// refused). Never writes.
#pragma once

#include <sys/types.h>

#include "absl/status/statusor.h"
#include "memory/remote_memory.h"
#include "memory/unique_fd.h"

namespace pystack {

class ProcessMemory final : public RemoteMemory {
 public:
  static absl::StatusOr<ProcessMemory> open(pid_t pid);
  absl::Status read(uint64_t address, void* out, size_t size) const override;
  // One process_vm_readv for up to IOV_MAX requests at a time; a request it could not read
  // (unmapped) is read again alone, and so are those after it.
  void read_many(ReadRequest* requests, size_t count) const override;
  pid_t pid() const { return pid_; }

 private:
  explicit ProcessMemory(pid_t pid) : pid_(pid) {}
  // One read call: the bytes read (> 0), or 0 with `error` set to an errno (0 for EOF).
  size_t read_chunk(uint64_t address, char* out, size_t size, int& error) const;
  absl::Status read_error(uint64_t address, size_t size, uint64_t failed_at, int error) const;

  pid_t pid_;
  mutable UniqueFd mem_fd_;  // opened on the first read that process_vm_readv refuses
  mutable bool vm_readv_works_ = true;
};

}  // namespace pystack
