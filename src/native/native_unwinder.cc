#include "native/native_unwinder.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/errors.h"
#include "native/module_symbols.h"

namespace pystack {
namespace {

constexpr size_t kStackBlock = 4096;
constexpr size_t kMaxStackBlocks = 1024;  // 4 MiB of stack per unwind at most
constexpr int kMaxInlineDepth = 16;

NativeUnwinder* unwinder_of(void* arg) { return static_cast<NativeUnwinder*>(arg); }

// A core may name a FIFO or a device where a library was: opened without blocking, and used only
// when it is a regular file.
int open_regular_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return -1;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Whether the file starts as an ELF object does (a mapped data file does not).
bool is_elf_file(const std::string& path) {
  const int fd = open_regular_file(path);
  if (fd < 0) return false;
  char magic[4] = {};
  const bool elf = ::pread(fd, magic, sizeof magic, 0) == 4 && std::memcmp(magic, "\x7f" "ELF", 4) == 0;
  ::close(fd);
  return elf;
}

// find_elf: the file behind the module, as the target reaches it (a container's root, a
// --sysroot). The module's userdata holds its path.
int find_target_file(Dwfl_Module*, void** userdata, const char*, Dwarf_Addr, char** file_name,
                     Elf** elfp) {
  const auto* path = static_cast<const std::string*>(*userdata);
  if (path == nullptr || path->empty()) return -1;
  const int fd = open_regular_file(*path);
  if (fd < 0) return -1;
  *file_name = ::strdup(path->c_str());
  *elfp = nullptr;
  return fd;
}

// Dwfl_Thread_Callbacks over the Target: its threads, their registers, its memory.
pid_t next_thread(Dwfl*, void* arg, void** thread_arg) {
  const std::vector<pid_t> threads = unwinder_of(arg)->target().threads();
  const auto index = reinterpret_cast<uintptr_t>(*thread_arg);
  if (index >= threads.size()) return 0;
  *thread_arg = reinterpret_cast<void*>(index + 1);
  return threads[index];
}

bool get_thread(Dwfl*, pid_t tid, void* arg, void** thread_arg) {
  const std::vector<pid_t> threads = unwinder_of(arg)->target().threads();
  if (std::find(threads.begin(), threads.end(), tid) == threads.end()) return false;
  *thread_arg = arg;
  return true;
}

bool memory_read(Dwfl*, Dwarf_Addr address, Dwarf_Word* result, void* arg) {
  uint64_t word = 0;
  if (!unwinder_of(arg)->read_word(address, &word)) return false;
  *result = word;
  return true;
}

bool set_initial_registers(Dwfl_Thread* thread, void* thread_arg) {
  const NativeUnwinder* unwinder = unwinder_of(thread_arg);
  std::optional<DwarfRegisters> registers = unwinder->target().registers(dwfl_thread_tid(thread));
  if (!registers) return false;
  Dwarf_Word words[17];
  std::copy(registers->begin(), registers->end(), words);
  if (!dwfl_thread_state_registers(thread, 0, 17, words)) return false;
  dwfl_thread_state_register_pc(thread, (*registers)[16]);
  return true;
}

const Dwfl_Thread_Callbacks kThreadCallbacks = {
    .next_thread = next_thread,
    .get_thread = get_thread,
    .memory_read = memory_read,
    .set_initial_registers = set_initial_registers,
    .detach = nullptr,
    .thread_detach = nullptr,
};

// The name a DIE of a function (or an inlined call of one) gives it: its own, or its abstract
// origin's / specification's.
const char* function_name(Dwarf_Die* die) {
  Dwarf_Die origin = *die;
  for (int i = 0; i < 4; ++i) {
    if (const char* name = dwarf_diename(&origin)) return name;
    Dwarf_Attribute attribute;
    Dwarf_Attribute* ref = dwarf_attr(&origin, DW_AT_abstract_origin, &attribute);
    if (ref == nullptr) ref = dwarf_attr(&origin, DW_AT_specification, &attribute);
    if (ref == nullptr || dwarf_formref_die(ref, &origin) == nullptr) return nullptr;
  }
  return nullptr;
}

constexpr int kMaxScopeDepth = 64;
constexpr int kMaxScopeVisits = 1 << 20;

// The DIEs whose ranges hold `pc`, outermost first, below `parent`. Unlike dwarf_getscopes (which
// finds nothing in the "<artificial>" units of an LTO build), it follows DW_TAG_imported_unit,
// where such units keep their functions. Bounded: hostile or huge DWARF ends the search.
bool containing_scopes(Dwarf_Die* parent, Dwarf_Addr pc, std::vector<Dwarf_Die>& out,
                       int& visits) {
  Dwarf_Die child;
  if (static_cast<int>(out.size()) >= kMaxScopeDepth || dwarf_child(parent, &child) != 0) {
    return false;
  }
  do {
    if (++visits > kMaxScopeVisits) return false;
    if (dwarf_tag(&child) == DW_TAG_imported_unit) {
      Dwarf_Attribute attribute;
      Dwarf_Die imported;
      if (dwarf_formref_die(dwarf_attr(&child, DW_AT_import, &attribute), &imported) != nullptr &&
          containing_scopes(&imported, pc, out, visits)) {
        return true;
      }
      continue;
    }
    if (dwarf_haspc(&child, pc) > 0) {
      out.push_back(child);
      containing_scopes(&child, pc, out, visits);
      return true;
    }
  } while (dwarf_siblingof(&child, &child) == 0);
  return false;
}

// DW_AT_call_file / DW_AT_call_line of an inlined call: where, in its caller, it stands.
void call_site(Dwarf_Die* inlined, NativeFrame& caller) {
  Dwarf_Attribute attribute;
  Dwarf_Word file = 0, line = 0;
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_line, &attribute), &line) != 0) return;
  caller.line = static_cast<int>(line);
  Dwarf_Files* files = nullptr;
  size_t count = 0;
  Dwarf_Die unit;  // the unit that holds the call: its line table names the file
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_file, &attribute), &file) == 0 &&
      dwarf_diecu(inlined, &unit, nullptr, nullptr) != nullptr &&
      dwarf_getsrcfiles(&unit, &files, &count) == 0 && file < count) {
    if (const char* name = dwarf_filesrc(files, file, nullptr, nullptr)) caller.file = name;
  }
}

struct FrameWalk {
  NativeUnwinder* unwinder;
  std::vector<uint64_t> pcs;
  std::vector<bool> activations;
  int max_frames;
};

int collect_frame(Dwfl_Frame* frame, void* arg) {
  auto* walk = static_cast<FrameWalk*>(arg);
  Dwarf_Addr pc = 0;
  bool activation = false;
  if (!dwfl_frame_pc(frame, &pc, &activation)) return DWARF_CB_ABORT;
  walk->pcs.push_back(pc);
  walk->activations.push_back(activation);
  return static_cast<int>(walk->pcs.size()) >= walk->max_frames ? DWARF_CB_ABORT : DWARF_CB_OK;
}

}  // namespace

// GCC names the parts and copies of a function it split or cloned NAME.cold, NAME.part.0,
// NAME.lto_priv.0, ...: a symbol table names the loop's hot part so.
bool evaluates_python_frames(const std::string& name) {
  const std::string_view base = std::string_view(name).substr(0, name.find('.'));
  return base == "_PyEval_EvalFrameDefault" || base == "PyEval_EvalFrameEx";
}

NativeUnwinder::NativeUnwinder(const Target& target, std::string runtime_file,
                               NativeUnwindOptions options)
    : target_(target),
      runtime_file_(std::move(runtime_file)),
      options_(std::move(options)),
      stack_memory_(target.memory(), kMaxStackBlocks, kStackBlock) {}

NativeUnwinder::~NativeUnwinder() {
  if (dwfl_ != nullptr) dwfl_end(dwfl_);
}

absl::StatusOr<std::unique_ptr<NativeUnwinder>> NativeUnwinder::create(
    const Target& target, const std::string& runtime_file, NativeUnwindOptions options) {
  std::unique_ptr<NativeUnwinder> unwinder(
      new NativeUnwinder(target, runtime_file, std::move(options)));
  absl::Status status = unwinder->attach();
  if (!status.ok()) return status;
  return unwinder;
}

absl::Status NativeUnwinder::attach() {
  // Nothing is ever downloaded: libdwfl asks debuginfod only when this is set.
  ::unsetenv("DEBUGINFOD_URLS");
  // "-": no CRC check of .gnu_debuglink files (a check reads the whole file); "" the file's own
  // directory, then .debug beside it, then the build-id trees.
  std::vector<std::string> path = {"-", ".debug", "/usr/lib/debug"};
  for (const std::string& dir : options_.debug_directories) path.push_back(dir);
  // A process in a container (a core with --sysroot): its own debug files, under its root.
  if (const std::string root = target_.root_directory(); !root.empty()) {
    path.push_back(root + "/usr/lib/debug");
  }
  debuginfo_path_ = absl::StrJoin(path, ":");
  debuginfo_path_ptr_ = debuginfo_path_.data();
  callbacks_.find_elf = find_target_file;
  callbacks_.find_debuginfo = dwfl_standard_find_debuginfo;
  callbacks_.debuginfo_path = &debuginfo_path_ptr_;
  dwfl_ = dwfl_begin(&callbacks_);
  if (dwfl_ == nullptr) {
    return make_error(ErrorKind::kInternal, absl::StrCat("libdw: ", dwfl_errmsg(-1)));
  }
  report_modules();
  if (!dwfl_attach_state(dwfl_, nullptr, target_.pid(), &kThreadCallbacks, this)) {
    return make_error(ErrorKind::kInternal,
                      absl::StrCat("libdw cannot unwind this target: ", dwfl_errmsg(-1)));
  }
  return absl::OkStatus();
}

// One module per file mapped with code: from its first mapping to the end of its last one.
void NativeUnwinder::report_modules() {
  dwfl_report_begin(dwfl_);
  const std::vector<MemoryMapping>& mappings = target_.mappings();
  for (size_t i = 0; i < mappings.size();) {
    const std::string& path = mappings[i].path;
    size_t j = i;
    bool executable = false;
    uint64_t end = mappings[i].end;
    while (j < mappings.size() && mappings[j].path == path) {
      executable = executable || mappings[j].executable;
      end = std::max(end, mappings[j].end);
      ++j;
    }
    // gdb's cores mark no mapping executable: any ELF file mapped from its start is a module.
    const std::string local = path.empty() || path[0] != '/' || mappings[i].file_offset != 0
                                  ? std::string()
                                  : target_.file_of(mappings[i]);
    if (!local.empty() && (executable || is_elf_file(local))) {
      Dwfl_Module* module = dwfl_report_module(dwfl_, path.c_str(), mappings[i].start, end);
      void** userdata = nullptr;
      if (module != nullptr &&
          dwfl_module_info(module, &userdata, nullptr, nullptr, nullptr, nullptr, nullptr,
                           nullptr) != nullptr &&
          userdata != nullptr) {
        module_files_.push_back(std::make_unique<std::string>(local));
        *userdata = module_files_.back().get();
      }
    }
    i = j;
  }
  dwfl_report_end(dwfl_, nullptr, nullptr);
}

bool NativeUnwinder::read_word(uint64_t address, uint64_t* out) const {
  if (stack_memory_.read(address, out, sizeof *out).ok()) return true;
  unreadable_ = address;  // libdw takes an unreadable return address for the stack's end
  return false;
}

NativeUnwinder::Unwound NativeUnwinder::unwind_pcs(pid_t tid) {
  stack_memory_.clear();
  unreadable_.reset();
  FrameWalk walk{this, {}, {}, options_.max_frames};
  Unwound unwound;
  unwound.failed = dwfl_getthread_frames(dwfl_, tid, collect_frame, &walk) != 0;
  if (unwound.failed) {
    const char* message = dwfl_errmsg(-1);
    unwound.error = message != nullptr ? message : "unwinding failed";
  }
  unwound.pcs = std::move(walk.pcs);
  unwound.activations = std::move(walk.activations);
  unwound.unreadable = unreadable_;
  return unwound;
}

// Whether the stack's outermost frame is where a thread begins: clone3 (clone), or _start and
// __libc_start_main for the main thread (clone3@GLIBC_2.34, _start.cold: their base names).
static bool ends_at_thread_start(const NativeStack& stack) {
  if (stack.frames.empty()) return false;
  const std::string& name = stack.frames.back().function;
  const std::string base = name.substr(0, name.find_first_of("@."));
  return base == "clone3" || base == "__clone3" || base == "clone" || base == "__clone" ||
         base == "_start" || base == "__libc_start_main";
}

NativeStack NativeUnwinder::describe(const Unwound& unwound) {
  NativeStack stack;
  for (size_t i = 0; i < unwound.pcs.size(); ++i) {
    describe_pc(unwound.pcs[i], unwound.activations[i], stack.frames);
  }
  if (static_cast<int>(unwound.pcs.size()) >= options_.max_frames) {
    stack.end_error = absl::StrCat("more than ", options_.max_frames, " C frames");
  } else if (ends_at_thread_start(stack)) {
    // libdw reports the end of some stacks as an error: the outermost frame's return address
    // is 0 or undefined. Past a thread's start, that is the end.
  } else if (unwound.failed) {
    stack.end_error = unwound.error;
  } else if (unwound.unreadable) {
    // libdw also takes an unreadable return address for the end: the stack is cut there.
    stack.end_error = absl::StrCat("the stack cannot be read at ", absl::Hex(*unwound.unreadable));
  }
  return stack;
}

void NativeUnwinder::describe_pc(uint64_t pc, bool activation, std::vector<NativeFrame>& out) {
  const uint64_t key = pc * 2 + (activation ? 1 : 0);
  auto it = described_.find(key);
  if (it == described_.end()) {
    std::vector<NativeFrame> frames;
    describe_uncached(pc, activation, frames);
    it = described_.emplace(key, std::move(frames)).first;
  }
  out.insert(out.end(), it->second.begin(), it->second.end());
}

// The function, file and line of one pc; where debug information shows calls inlined at it, one
// frame per inlined call, innermost first, as gdb shows them.
void NativeUnwinder::describe_uncached(uint64_t pc, bool activation,
                                       std::vector<NativeFrame>& out) {
  // A return address points past the call: look up the call instruction.
  const Dwarf_Addr lookup = activation || pc == 0 ? pc : pc - 1;
  NativeFrame frame;
  frame.address = pc;
  frame.activation = activation;
  Dwfl_Module* module = dwfl_addrmodule(dwfl_, lookup);
  if (module == nullptr) {
    out.push_back(frame);
    return;
  }
  const char* module_name = dwfl_module_info(module, nullptr, nullptr, nullptr, nullptr, nullptr,
                                             nullptr, nullptr);
  frame.library = module_name != nullptr ? module_name : "";
  frame.interpreter = frame.library == runtime_file_;
  std::unique_ptr<ModuleSymbols>& symbols = symbols_[module];
  if (symbols == nullptr) symbols = std::make_unique<ModuleSymbols>(module);
  if (std::optional<ModuleSymbols::Symbol> symbol = symbols->find(lookup)) {
    frame.function = symbol->name;
    frame.function_offset = pc - symbol->start;
  }
  // DWARF: for every frame when asked (file, line, inlined calls), else only to name an
  // interpreter frame no symbol covers (to find the loop that runs Python frames).
  const bool read_dwarf = options_.source_info || (frame.interpreter && frame.function.empty());
  if (!read_dwarf) {
    frame.evaluates_python = frame.interpreter && evaluates_python_frames(frame.function);
    out.push_back(frame);
    return;
  }
  if (Dwfl_Line* line = options_.source_info ? dwfl_module_getsrc(module, lookup) : nullptr) {
    int number = 0;
    if (const char* file = dwfl_lineinfo(line, nullptr, &number, nullptr, nullptr, nullptr)) {
      frame.file = file;
      frame.line = number;
    }
  }
  // Inlined calls, from DWARF: the innermost scope last.
  Dwarf_Addr bias = 0;
  Dwarf_Die* cu = dwfl_module_addrdie(module, lookup, &bias);
  std::vector<Dwarf_Die> scopes;
  int visits = 0;
  if (cu != nullptr) containing_scopes(cu, lookup - bias, scopes, visits);
  std::vector<NativeFrame> chain;
  NativeFrame current = frame;
  for (auto it = scopes.rbegin();
       it != scopes.rend() && static_cast<int>(chain.size()) < kMaxInlineDepth; ++it) {
    const int tag = dwarf_tag(&*it);
    if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram) continue;
    if (const char* name = function_name(&*it)) current.function = name;
    if (tag == DW_TAG_subprogram) break;
    // An inlined call: this frame is the callee; its caller continues at the call site.
    current.inlined = true;
    chain.push_back(current);
    current = frame;
    current.file.reset();
    current.line = 0;
    call_site(&*it, current);
  }
  chain.push_back(current);
  for (NativeFrame& f : chain) f.evaluates_python = f.interpreter && evaluates_python_frames(f.function);
  out.insert(out.end(), chain.begin(), chain.end());
}

}  // namespace pystack
