// pystack-dump --core CORE: the report that faulthandler would have printed when the process
// died, read from its core file (or, for a core of a live process such as gcore makes, the dump
// of that moment, as for a live process).
#include <elf.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/live_dump.h"
#include "cli/render.h"
#include "cli/report.h"
#include "cli/source_reader.h"
#include "common/errors.h"
#include "cpython/os_thread_names.h"
#include "cpython/runtime.h"
#include "cpython/snapshot_reader.h"
#include "symbols/python_binary.h"
#include "target/core_file.h"
#include "target/core_memory.h"
#include "target/proc_maps.h"

namespace pystack {
namespace {

constexpr char kDeletedSuffix[] = " (deleted)";
constexpr size_t kMaxPathLength = 4096;

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

void warn(const std::string& message) {
  std::fprintf(stderr, "pystack-dump: warning: %s\n", message.c_str());
}

// faulthandler_handlers[] (Modules/faulthandler.c): the signals its crash handler reports, and
// their names, the same from 3.3 to 3.13.
std::optional<std::string> faulthandler_signal_name(int signal) {
  switch (signal) {
    case SIGBUS:
      return "Bus error";
    case SIGILL:
      return "Illegal instruction";
    case SIGFPE:
      return "Floating point exception";
    case SIGABRT:
      return "Aborted";
    case SIGSEGV:
      return "Segmentation fault";
    default:
      return std::nullopt;
  }
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

// Where a file the crashed process mapped is found here: --executable for its executable; under
// --sysroot first (also by the tail of a path named from further out), then at its own path
// (without the kernel's " (deleted)" mark, if need be).
FileLocator make_locator(const Options& options, const std::string& executable) {
  return [options, executable](const std::string& mapped) -> std::string {
    if (!options.executable.empty() && mapped == executable) return options.executable;
    for (const std::string& path : {mapped, strip_deleted(mapped)}) {
      if (!options.sysroot.empty()) {
        std::string under = options.sysroot + (absl::StartsWith(path, "/") ? "" : "/") + path;
        if (exists(under)) return under;
      }
      if (exists(path)) return path;
    }
    if (!options.sysroot.empty()) {
      if (std::string under = under_sysroot_by_tail(options.sysroot, strip_deleted(mapped));
          !under.empty()) {
        return under;
      }
    }
    return mapped;
  };
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

std::string describe_process(const CoreFile& core) {
  const CoreProcessInfo& info = core.process();
  std::string text = absl::StrCat("process ", info.pid);
  if (!info.arguments.empty()) {
    absl::StrAppend(&text, " (", info.arguments, ")");
  } else if (!info.command.empty()) {
    absl::StrAppend(&text, " (", info.command, ")");
  }
  return text;
}

// When no CPython runtime was found: a file that would hold it (the executable, a libpython)
// that is missing here is the likelier cause, and the user can fix that.
absl::Status explain_no_runtime(const absl::Status& status, const CoreFile& core,
                                const std::string& executable, const Options& options,
                                const FileLocator& locate) {
  if (error_kind(status) != ErrorKind::kNotPython) return status;
  const std::string where =
      options.sysroot.empty()
          ? ""
          : absl::StrCat(" (looked under --sysroot ", options.sysroot, " and at its own path)");
  if (!executable.empty() && !exists(locate(executable))) {
    return make_error(
        ErrorKind::kNoSuchProcess,
        absl::StrCat("the executable of the crashed process, ", executable, ", was not found",
                     options.executable.empty() ? where : ""),
        "give it with --executable PATH, or the root of a copy of the crashed machine's files "
        "with --sysroot DIR");
  }
  for (const CoreMappedFile& file : core.mapped_files()) {
    const std::string base = file.path.substr(file.path.rfind('/') + 1);
    if (absl::StartsWith(base, "libpython") && !exists(locate(file.path))) {
      return make_error(
          ErrorKind::kNoSuchProcess,
          absl::StrCat("the library ", file.path, ", mapped by the crashed process, was not found",
                       where),
          "give the root of a copy of the crashed machine's files with --sysroot DIR");
    }
  }
  return make_error(ErrorKind::kNotPython,
                    absl::StrCat("the core ", core.path(), " is of ", describe_process(core),
                                 ", which is not a Python process: ", status.message()),
                    error_hint(status));
}

// When the runtime was found but cannot be read.
absl::Status explain_unreadable(const absl::Status& status, const CoreFile& core) {
  if (error_kind(status) == ErrorKind::kUnsupportedVersion) return status;
  if (core.truncated()) {
    return make_error(
        ErrorKind::kBadCore,
        absl::StrFormat("cannot read the Python runtime from the truncated core %s "
                        "(%d of %d bytes): %s",
                        core.path(), core.size(), core.expected_size(), status.message()),
        "the core was cut short (disk full, or a size limit such as ulimit -c)");
  }
  return make_error(ErrorKind::kNotPython,
                    absl::StrCat("cannot read the Python runtime of ", describe_process(core),
                                 " from the core: ", status.message()),
                    "the process may have died before Python was initialised, or its memory is "
                    "corrupt");
}

absl::StatusOr<Snapshot> read_snapshot(const CoreFile& core, CoreMemory& memory,
                                       const std::string& executable, const Options& options,
                                       const FileLocator& locate) {
  absl::StatusOr<PythonBinary> binary =
      find_python_binary(mappings_of(core, executable),
                         [&locate](const MemoryMapping& mapping) { return locate(mapping.path); });
  if (!binary.ok()) return explain_no_runtime(binary.status(), core, executable, options, locate);
  memory.check_build_id(binary->path);
  absl::StatusOr<PythonRuntime> runtime = identify_runtime(memory, *binary);
  if (!runtime.ok()) return explain_unreadable(runtime.status(), core);
  SnapshotReader reader(memory, *std::move(runtime));
  ReadOptions read_options = read_options_for(options);
  // 3.14+ OS thread names are inferred from the Python ones (infer_os_thread_names).
  read_options.thread_names = read_options.thread_names ||
                              shows_os_thread_names(options, reader.runtime().version);
  absl::StatusOr<Snapshot> snapshot = reader.read(read_options);
  if (!snapshot.ok()) return explain_unreadable(snapshot.status(), core);
  return snapshot;
}

// The thread that received a fatal signal is faulthandler's "Current thread": its tstate is the
// one whose pthread_t (thread_id) is that thread's fs_base. A thread without a Python thread
// state leaves no thread current, as in faulthandler.
void mark_crashed_thread(Snapshot& snapshot, const CoreFile& core) {
  std::optional<std::string> name = faulthandler_signal_name(core.signal());
  if (!name) return;  // no crash (gcore) or not one faulthandler reports: the GIL holder stays
  snapshot.fatal_error = *name;
  const uint64_t crashed = core.threads().front().fs_base;
  for (Interpreter& interpreter : snapshot.interpreters) {
    for (Thread& thread : interpreter.threads) {
      thread.is_current = crashed != 0 && thread.thread_id == crashed;
    }
  }
}

// Threads older than 3.11 do not record their OS thread id; the core pairs it with fs_base.
void add_native_thread_ids(Snapshot& snapshot, const CoreFile& core) {
  absl::flat_hash_map<uint64_t, pid_t> tid_by_fs_base;
  for (const CoreThread& thread : core.threads())
    tid_by_fs_base.emplace(thread.fs_base, thread.tid);
  for (Interpreter& interpreter : snapshot.interpreters) {
    for (Thread& thread : interpreter.threads) {
      auto it = tid_by_fs_base.find(thread.thread_id);
      if (!thread.native_thread_id && it != tid_by_fs_base.end()) {
        thread.native_thread_id = static_cast<uint64_t>(it->second);
      }
    }
  }
}

bool has_current_thread(const Interpreter& interpreter) {
  return std::any_of(interpreter.threads.begin(), interpreter.threads.end(),
                     [](const Thread& thread) { return thread.is_current; });
}

// faulthandler's crash handler dumps one interpreter: the crashed thread's, else the main one
// (_PyGILState_GetInterpreterStateUnsafe), which is last in the list (newest first).
Snapshot crash_report_view(const Snapshot& snapshot) {
  if (!snapshot.fatal_error || snapshot.interpreters.size() < 2) return snapshot;
  Snapshot view = snapshot;
  auto crashed =
      std::find_if(view.interpreters.begin(), view.interpreters.end(), has_current_thread);
  Interpreter kept = crashed != view.interpreters.end() ? *crashed : view.interpreters.back();
  view.interpreters = {std::move(kept)};
  return view;
}

// Source files for the traceback and JSON formats: under --sysroot first, then where they were.
// A core does not record the working directory: relative names are taken as relative to ours.
SourcePathResolver core_source_resolver(const Options& options) {
  SourcePathResolver plain = plain_source_resolver();
  return [sysroot = options.sysroot, plain](const std::string& path) -> std::string {
    if (!sysroot.empty() && absl::StartsWith(path, "/") && exists(sysroot + path)) {
      return sysroot + path;
    }
    return plain(path);
  };
}

void print_warnings(CoreMemory& memory) {
  for (const std::string& warning : memory.take_warnings()) warn(warning);
}

}  // namespace

int run_core_dump(const Options& options) {
  absl::StatusOr<std::unique_ptr<CoreFile>> core = CoreFile::open(options.core_path);
  if (!core.ok()) return report_error(core.status());
  if ((*core)->truncated()) {
    warn(
        absl::StrFormat("the core %s is truncated (%d of %d bytes): memory past the cut is missing",
                        options.core_path, (*core)->size(), (*core)->expected_size()));
  }
  if (std::vector<pid_t> lost = (*core)->lost_stacks(); !lost.empty()) {
    warn(absl::StrCat("the core ", options.core_path, " holds zeros for the stack of thread",
                      lost.size() > 1 ? "s " : " ", absl::StrJoin(lost, ", "),
                      ": the program that wrote it could not read that memory (gdb 13's gcore "
                      "cannot read a stack behind recent glibc's in-mapping guard page; gdb 18's "
                      "can)"));
  }
  if (!options.executable.empty() && !exists(options.executable)) {
    return report_error(
        make_error(ErrorKind::kNoSuchProcess, "no such file: --executable " + options.executable));
  }
  const std::string executable = executable_of(**core);
  const FileLocator locate = make_locator(options, executable);
  CoreMemory memory(**core, locate);
  absl::StatusOr<Snapshot> snapshot = read_snapshot(**core, memory, executable, options, locate);
  print_warnings(memory);
  if (!snapshot.ok()) return report_error(snapshot.status());

  snapshot->pid =
      (*core)->process().pid != 0 ? (*core)->process().pid : (*core)->threads().front().tid;
  snapshot->executable = executable;
  warn_if_read_as_older(*snapshot);
  add_native_thread_ids(*snapshot, **core);
  if (python_names_os_threads(snapshot->version) &&
      shows_os_thread_names(options, snapshot->version)) {
    infer_os_thread_names(*snapshot, static_cast<uint64_t>(snapshot->pid),
                          (*core)->process().command);
  }
  mark_crashed_thread(*snapshot, **core);
  const Snapshot shown = options.format == OutputFormat::kFaulthandler
                             ? crash_report_view(*snapshot)
                             : *std::move(snapshot);
  if (!write_all(stdout, render(shown, options, core_source_resolver(options)))) return 1;
  if (snapshot_is_partial(shown)) {
    return report_error(make_error(
        ErrorKind::kPartial,
        absl::StrCat("the dump is incomplete: parts of the process's memory are missing from the "
                     "core",
                     (*core)->truncated() ? " (it is truncated)" : " and its mapped files",
                     " (marked in the output)")));
  }
  return 0;
}

}  // namespace pystack
