// A core file as a Target: the crashed process's memory from the core and, for what the kernel
// left out, from the files it had mapped, found here by the paths it saw (under a sysroot first).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "memory/core_file.h"
#include "memory/core_memory.h"
#include "memory/target.h"

namespace pystack {

// Where the crashed process's files are found here.
struct CoreFileLocations {
  std::string sysroot;     // the root of a copy of the crashed machine's files, or ""
  std::string executable;  // the crashed process's executable, given by path, or ""
};

class CoreTarget final : public Target {
 public:
  // Errors: kNoSuchFile, kPermissionDenied, kBadCore (CoreFile::open); kNoSuchFile for a
  // locations.executable that does not exist.
  static absl::StatusOr<std::unique_ptr<CoreTarget>> open(const std::string& core_path,
                                                          CoreFileLocations locations);

  const CoreFile& core() const { return *core_; }

  pid_t pid() const override;
  std::string description() const override;
  const RemoteMemory& memory() const override { return *memory_; }
  const std::vector<MemoryMapping>& mappings() const override { return mappings_; }
  std::string file_of(const MemoryMapping& mapping) const override;
  std::string executable() const override { return executable_; }
  std::string process_name() const override { return core_->process().command; }
  // The first word of NT_PRPSINFO's pr_psargs (cut at 79 bytes; an argv[0] with a space in it
  // loses its tail).
  std::string argv0() const override;
  std::string source_file(const std::string& path) const override;
  void runtime_file_found(const std::string& mapped_path) override;

  absl::Status stop(absl::Duration) override { return absl::OkStatus(); }
  void resume() override {}
  std::vector<pid_t> threads() const override;
  std::optional<uint64_t> fs_base(pid_t tid) const override;
  std::optional<DwarfRegisters> registers(pid_t tid) const override;
  std::optional<BlockedSyscall> blocked_syscall(pid_t tid) const override;
  std::string root_directory() const override { return locations_.sysroot; }
  std::optional<std::string> os_thread_name(pid_t) const override { return std::nullopt; }
  bool knows_os_thread_names() const override { return false; }
  int fatal_signal() const override { return core_->signal(); }
  std::optional<pid_t> signalled_thread() const override;

  bool gone() const override { return false; }
  absl::Status no_runtime_error(const absl::Status& cause) const override;
  absl::Status unreadable_runtime_error(const absl::Status& cause) const override;
  absl::Status no_interpreter_error() const override;
  absl::Status incomplete_error() const override;
  std::vector<std::string> take_warnings() override;

 private:
  CoreTarget(std::unique_ptr<CoreFile> core, CoreFileLocations locations);
  // Where the file the crashed process knew as `mapped` is found here.
  std::string locate(const std::string& mapped) const;

  std::unique_ptr<CoreFile> core_;
  CoreFileLocations locations_;
  std::string executable_;
  std::vector<MemoryMapping> mappings_;
  std::unique_ptr<CoreMemory> memory_;
  std::vector<std::string> warnings_;
};

}  // namespace pystack
