#include "memory/core_target.h"

#include <elf.h>
#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/errors.h"
#include "memory/process_tree.h"

namespace pystack {
namespace {

constexpr char kDeletedSuffix[] = " (deleted)";
constexpr size_t kMaxPathLength = 4096;

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

const CoreMappedFile* mapped_file_at(const CoreFile& core, uint64_t address) {
  for (const CoreMappedFile& file : core.mapped_files()) {
    if (address >= file.start && address < file.end) return &file;
  }
  return nullptr;
}

// AT_EXECFN points at the path the process was started with, on its stack.
std::string execfn_of(const CoreFile& core) {
  std::optional<uint64_t> address = core.auxv(AT_EXECFN);
  if (!address) return "";
  std::string path;
  char c = 0;
  for (uint64_t at = *address; path.size() < kMaxPathLength; ++at) {
    if (!core.read_image(at, &c, 1).ok() || c == '\0') break;
    path += c;
  }
  return c == '\0' ? path : "";
}

// The crashed process's executable as that process saw it: the mapped file holding its program
// headers or its entry point (the auxiliary vector says where), else the path it was started with.
std::string executable_of(const CoreFile& core) {
  for (uint64_t type : {AT_PHDR, AT_ENTRY}) {
    std::optional<uint64_t> address = core.auxv(type);
    if (!address) continue;
    if (const CoreMappedFile* file = mapped_file_at(core, *address)) return file->path;
  }
  return execfn_of(core);
}

std::string strip_deleted(const std::string& path) {
  return absl::EndsWith(path, kDeletedSuffix)
             ? path.substr(0, path.size() - (sizeof kDeletedSuffix - 1))
             : path;
}

// A core of a process in a container nested in another names its files from a root further out
// (/srv/box/rootfs/usr/bin/python3.14 for the container's /usr/bin/python3.14): the longest tail
// of `path` that names a file under `sysroot`, or "".
std::string under_sysroot_by_tail(const std::string& sysroot, const std::string& path) {
  constexpr int kMaxComponents = 64;
  size_t at = 0;
  for (int i = 0; i < kMaxComponents && (at = path.find('/', at + 1)) != std::string::npos; ++i) {
    std::string under = sysroot + path.substr(at);
    if (exists(under)) return under;
  }
  return "";
}

// NT_FILE as MemoryMappings, the executable's first (find_python_binary takes the first
// file-backed mapping for the executable, as in /proc/PID/maps).
std::vector<MemoryMapping> mappings_of(const CoreFile& core, const std::string& executable) {
  std::vector<MemoryMapping> mappings;
  for (const CoreMappedFile& file : core.mapped_files()) {
    MemoryMapping mapping{file.start, file.end, file.file_offset, true, false, false, file.path};
    if (const CoreSegment* segment = core.segment_at(file.start)) {
      mapping.readable = segment->readable;
      mapping.writable = segment->writable;
      mapping.executable = segment->executable;
    }
    mappings.push_back(std::move(mapping));
  }
  std::stable_partition(mappings.begin(), mappings.end(),
                        [&](const MemoryMapping& m) { return m.path == executable; });
  return mappings;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CoreTarget>> CoreTarget::open(const std::string& core_path,
                                                             CoreFileLocations locations) {
  absl::StatusOr<std::unique_ptr<CoreFile>> core = CoreFile::open(core_path);
  if (!core.ok()) return core.status();
  if (!locations.executable.empty() && !exists(locations.executable)) {
    return make_error(ErrorKind::kNoSuchFile, "no such file: --executable " + locations.executable);
  }
  return std::unique_ptr<CoreTarget>(new CoreTarget(*std::move(core), std::move(locations)));
}

CoreTarget::CoreTarget(std::unique_ptr<CoreFile> core, CoreFileLocations locations)
    : core_(std::move(core)), locations_(std::move(locations)) {
  executable_ = executable_of(*core_);
  mappings_ = mappings_of(*core_, executable_);
  memory_ = std::make_unique<CoreMemory>(
      *core_, [this](const std::string& mapped) { return locate(mapped); });
  if (core_->truncated()) {
    warnings_.push_back(
        absl::StrFormat("the core %s is truncated (%d of %d bytes): memory past the cut is missing",
                        core_->path(), core_->size(), core_->expected_size()));
  }
  if (std::vector<pid_t> lost = core_->lost_stacks(); !lost.empty()) {
    warnings_.push_back(absl::StrCat(
        "the core ", core_->path(), " holds zeros for the stack of thread",
        lost.size() > 1 ? "s " : " ", absl::StrJoin(lost, ", "),
        ": the program that wrote it could not read that memory (gdb 13's gcore cannot read a "
        "stack behind recent glibc's in-mapping guard page; gdb 18's can)"));
  }
}

pid_t CoreTarget::pid() const {
  if (core_->process().pid != 0) return core_->process().pid;
  return core_->threads().empty() ? 0 : core_->threads().front().tid;
}

std::string CoreTarget::description() const {
  const CoreProcessInfo& info = core_->process();
  std::string text = absl::StrCat("process ", info.pid);
  // The command line as the process had it, escaped: it may hold anything, newlines too.
  if (!info.arguments.empty() || !info.command.empty()) {
    absl::StrAppend(&text, " (", printable_command_line(info.arguments, info.command, 80), ")");
  }
  return text;
}

// --executable for the executable; under --sysroot first (also by the tail of a path named from
// further out), then at its own path (without the kernel's " (deleted)" mark, if need be).
std::string CoreTarget::locate(const std::string& mapped) const {
  const std::string& sysroot = locations_.sysroot;
  if (!locations_.executable.empty() && mapped == executable_) return locations_.executable;
  for (const std::string& path : {mapped, strip_deleted(mapped)}) {
    if (!sysroot.empty()) {
      std::string under = sysroot + (absl::StartsWith(path, "/") ? "" : "/") + path;
      if (exists(under)) return under;
    }
    if (exists(path)) return path;
  }
  if (!sysroot.empty()) {
    if (std::string under = under_sysroot_by_tail(sysroot, strip_deleted(mapped));
        !under.empty()) {
      return under;
    }
  }
  return mapped;
}

std::string CoreTarget::file_of(const MemoryMapping& mapping) const { return locate(mapping.path); }

// Under --sysroot first, then where it was. A core does not record the working directory:
// relative names are taken as relative to ours.
std::string CoreTarget::source_file(const std::string& path) const {
  const std::string& sysroot = locations_.sysroot;
  if (!sysroot.empty() && absl::StartsWith(path, "/") && exists(sysroot + path)) {
    return sysroot + path;
  }
  return path;
}

std::string CoreTarget::argv0() const {
  const std::string& arguments = core_->process().arguments;
  return arguments.substr(0, arguments.find(' '));
}

void CoreTarget::runtime_file_found(const std::string& mapped_path) {
  memory_->check_build_id(mapped_path);
}

std::vector<pid_t> CoreTarget::threads() const {
  std::vector<pid_t> tids;
  for (const CoreThread& thread : core_->threads()) tids.push_back(thread.tid);
  return tids;
}

std::optional<BlockedSyscall> CoreTarget::blocked_syscall(pid_t tid) const {
  for (const CoreThread& thread : core_->threads()) {
    if (thread.tid == tid) return thread.syscall;
  }
  return std::nullopt;
}

std::optional<DwarfRegisters> CoreTarget::registers(pid_t tid) const {
  for (const CoreThread& thread : core_->threads()) {
    if (thread.tid == tid) return thread.registers;
  }
  return std::nullopt;
}

std::optional<uint64_t> CoreTarget::fs_base(pid_t tid) const {
  for (const CoreThread& thread : core_->threads()) {
    if (thread.tid == tid) return thread.fs_base != 0 ? std::optional(thread.fs_base) : std::nullopt;
  }
  return std::nullopt;
}

// The kernel writes the thread that received the fatal signal first.
std::optional<pid_t> CoreTarget::signalled_thread() const {
  if (core_->signal() == 0 || core_->threads().empty()) return std::nullopt;
  return core_->threads().front().tid;
}

// When no CPython runtime was found: a file that would hold it (the executable, a libpython)
// that is missing here is the likelier cause, and the user can fix that.
absl::Status CoreTarget::no_runtime_error(const absl::Status& cause) const {
  if (error_kind(cause) != ErrorKind::kNoPythonRuntime) return cause;
  const std::string where =
      locations_.sysroot.empty()
          ? ""
          : absl::StrCat(" (looked under --sysroot ", locations_.sysroot, " and at its own path)");
  // A file found for the executable or a libpython that is another build than the one the
  // process ran (the wrong --executable, a --sysroot of another machine).
  std::vector<std::string> runtime_files = {executable_};
  for (const CoreMappedFile& file : core_->mapped_files()) {
    const std::string base = file.path.substr(file.path.rfind('/') + 1);
    if (absl::StartsWith(base, "libpython")) runtime_files.push_back(file.path);
  }
  for (const std::string& file : runtime_files) {
    if (file.empty()) continue;
    std::optional<std::string> mismatch = memory_->build_id_mismatch(file);
    if (!mismatch) continue;
    const bool given = file == executable_ && !locations_.executable.empty();
    return make_error(
        ErrorKind::kNoSuchFile,
        absl::StrCat(given ? absl::StrCat("--executable ", locations_.executable,
                                          " is not the crashed process's executable: ")
                           : "a file found for the crashed process is another build than the "
                             "one it ran: ",
                     *mismatch),
        "give the executable of the build that crashed with --executable PATH, or the root of "
        "a copy of the crashed machine's files with --sysroot DIR");
  }
  if (!executable_.empty() && !exists(locate(executable_))) {
    return make_error(
        ErrorKind::kNoSuchFile,
        absl::StrCat("the executable of the crashed process, ", executable_, ", was not found",
                     locations_.executable.empty() ? where : ""),
        "give it with --executable PATH, or the root of a copy of the crashed machine's files "
        "with --sysroot DIR");
  }
  for (const CoreMappedFile& file : core_->mapped_files()) {
    const std::string base = file.path.substr(file.path.rfind('/') + 1);
    if (absl::StartsWith(base, "libpython") && !exists(locate(file.path))) {
      return make_error(
          ErrorKind::kNoSuchFile,
          absl::StrCat("the library ", file.path, ", mapped by the crashed process, was not found",
                       where),
          "give the root of a copy of the crashed machine's files with --sysroot DIR");
    }
  }
  return make_error(ErrorKind::kNoPythonRuntime,
                    absl::StrCat("the core ", core_->path(), " is of ", description(),
                                 ", which is not a Python process: ", cause.message()),
                    error_hint(cause));
}

// When the runtime was found but cannot be read.
absl::Status CoreTarget::unreadable_runtime_error(const absl::Status& cause) const {
  if (error_kind(cause) == ErrorKind::kUnsupportedVersion) return cause;
  if (core_->truncated()) {
    return make_error(
        ErrorKind::kBadCore,
        absl::StrFormat("cannot read the Python runtime from the truncated core %s "
                        "(%d of %d bytes): %s",
                        core_->path(), core_->size(), core_->expected_size(), cause.message()),
        "the core was cut short (disk full, or a size limit such as ulimit -c)");
  }
  return make_error(ErrorKind::kRuntimeUnreadable,
                    absl::StrCat("cannot read the Python runtime of ", description(),
                                 " from the core: ", cause.message()),
                    "the process may have died before Python was initialised, or its memory is "
                    "corrupt");
}

absl::Status CoreTarget::no_interpreter_error() const {
  return make_error(
      ErrorKind::kNoInterpreter,
      absl::StrCat("the core ", core_->path(), " holds a CPython runtime without an interpreter "
                   "or thread: ", description(), " died before Python started or after it shut "
                   "down, or the files read for it are not the ones it ran"),
      "if a warning above says a file's build id differs, give the crashed machine's files with "
      "--sysroot DIR or --executable PATH");
}

absl::Status CoreTarget::incomplete_error() const {
  return make_error(
      ErrorKind::kIncomplete,
      absl::StrCat("the dump is incomplete: parts of the process's memory are missing from the "
                   "core",
                   core_->truncated() ? " (it is truncated)" : " and its mapped files",
                   " (marked in the output)"));
}

std::vector<std::string> CoreTarget::take_warnings() {
  std::vector<std::string> warnings = std::move(warnings_);
  warnings_.clear();
  for (std::string& warning : memory_->take_warnings()) warnings.push_back(std::move(warning));
  return warnings;
}

}  // namespace pystack
