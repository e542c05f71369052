#include "cpython/snapshot_reader.h"

#include <limits>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cpython/stack_ref.h"

namespace pystack {
namespace {

std::string at(std::string_view what, uint64_t address) {
  return absl::StrFormat("%s at 0x%x", what, address);
}

// Records `frame` as walked; false, with the thread's walk error set, when the chain loops back
// or is longer than pystack-dump reads (corrupt memory must not keep the walk going).
bool visit_frame(absl::flat_hash_set<uint64_t>& seen, uint64_t frame, Thread& thread) {
  if (!seen.insert(frame).second) {
    thread.walk_error = at("frame list loops", frame);
    return false;
  }
  if (seen.size() > kMaxFrames) {
    thread.walk_error = "more frames than pystack-dump reads";
    return false;
  }
  return true;
}

// _PyMem_IsPtrFreed: NULL and the low page, the debug allocator's fill patterns, the top page.
bool looks_freed(uint64_t pointer) {
  return pointer <= 0xff || pointer == 0xCDCDCDCDCDCDCDCDull ||
         pointer == 0xDDDDDDDDDDDDDDDDull || pointer == 0xFDFDFDFDFDFDFDFDull ||
         pointer >= 0xFFFFFFFFFFFFFF00ull;
}

}  // namespace

SnapshotReader::SnapshotReader(const RemoteMemory& memory, PythonRuntime runtime)
    : runtime_(std::move(runtime)),
      layout_(runtime_.layout),
      release_(release_of(runtime_.layout)),
      pages_(memory),
      objects_(pages_, layout_),
      codes_(objects_),
      types_(objects_),
      dicts_(objects_),
      reprs_(objects_, types_, dicts_, runtime_.version),
      locals_(objects_, types_, dicts_, reprs_),
      thread_names_(objects_, types_, dicts_),
      tasks_(objects_, types_, dicts_,
             [this](uint64_t coroutine) { return read_coroutine_frame(coroutine); }),
      locks_(objects_, types_, dicts_, codes_),
      exceptions_(objects_, types_, dicts_, reprs_, codes_) {
  tasks_.set_budget_check([this] { return over_budget(); });
}

void SnapshotReader::add_locks(Snapshot& snapshot, const LockWaitReader::SyscallOf& syscall_of) {
  for (Interpreter& interpreter : snapshot.interpreters) {
    const GilState gil = read_gil_holder(pages_, runtime_, release_, interpreter.address);
    interpreter.locks = locks_.read(interpreter, gil, syscall_of);
  }
}

void SnapshotReader::set_asyncio_debug_offsets(std::optional<AsyncioDebugOffsets> offsets) {
  tasks_.set_debug_offsets(offsets);
}

// A coroutine's own frame as a thread's stack would show it: gi_iframe (3.11+), or gi_frame,
// named by the coroutine's qualname (up to 3.10, whose code objects have none). nullopt when
// it has none (a finished coroutine up to 3.10) or it cannot be read.
std::optional<Frame> SnapshotReader::read_coroutine_frame(uint64_t coroutine) {
  if (layout_.gen.iframe >= 0) {
    const uint64_t frame = coroutine + layout_.gen.iframe;
    absl::StatusOr<uint8_t> owner = read_value<uint8_t>(pages_, frame + layout_.iframe.owner);
    absl::StatusOr<uint64_t> code = objects_.read_pointer(frame + layout_.iframe.code);
    if (!owner.ok() || !code.ok() || is_shim(*owner)) return std::nullopt;
    return read_frame(frame, decode_stack_ref(release_, *code).object);
  }
  if (layout_.gen.frame < 0 || layout_.gen.qualname < 0) return std::nullopt;
  absl::StatusOr<uint64_t> frame = objects_.read_pointer(coroutine + layout_.gen.frame);
  if (!frame.ok() || *frame == 0) return std::nullopt;
  absl::StatusOr<uint64_t> code = objects_.read_pointer(*frame + layout_.frame.code);
  absl::StatusOr<int32_t> lasti = read_value<int32_t>(pages_, *frame + layout_.frame.lasti);
  absl::StatusOr<uint64_t> qualname = objects_.read_pointer(coroutine + layout_.gen.qualname);
  if (!code.ok() || !lasti.ok()) return std::nullopt;
  Frame out = read_frame_object(*code, *lasti);
  if (qualname.ok()) {
    absl::StatusOr<std::optional<PyText>> text = objects_.read_text(*qualname);
    if (text.ok()) out.qualname = *text;
  }
  return out;
}

absl::StatusOr<Snapshot> SnapshotReader::read(const SnapshotNeeds& needs,
                                              const SnapshotBudget& budget,
                                              absl::Time stopped_at) {
  pages_.clear();
  options_ = needs;
  budget_ = budget;
  deadline_ = stopped_at + budget.max_stopped;
  frames_read_ = 0;
  spent_.reset();
  // Types can be freed and their memory reused between two reads (code objects are validated
  // on reuse by CodeCache).
  types_.clear();
  reprs_.clear();
  locals_.clear();
  Snapshot snapshot;
  snapshot.version = runtime_.version;
  snapshot.read_as = runtime_.read_as;
  snapshot.free_threaded = layout_.free_threaded != 0;
  snapshot.unverified_build = is_unverified_free_threaded(runtime_);
  // 3.7+: _PyRuntime.interpreters.head; 2.7 and 3.6: the static interp_head.
  absl::StatusOr<uint64_t> head =
      runtime_.runtime_address != 0
          ? objects_.read_pointer(runtime_.runtime_address + layout_.runtime.interpreters_head)
          : objects_.read_pointer(runtime_.interp_head_address);
  if (!head.ok()) return head.status();
  absl::flat_hash_set<uint64_t> seen;
  for (uint64_t interp = *head; interp != 0;) {
    if (std::optional<std::string> spent = over_budget();
        spent && !snapshot.interpreters.empty()) {
      snapshot.interpreters.back().walk_error = *spent;
      break;
    }
    if (!seen.insert(interp).second || seen.size() > kMaxInterpreters) {
      if (!snapshot.interpreters.empty()) {
        snapshot.interpreters.back().walk_error = "interpreter list loops or is too long";
      }
      break;
    }
    absl::StatusOr<Interpreter> interpreter = read_interpreter(interp);
    if (!interpreter.ok()) {
      if (snapshot.interpreters.empty()) return interpreter.status();
      snapshot.interpreters.back().walk_error = std::string(interpreter.status().message());
      break;
    }
    snapshot.interpreters.push_back(*std::move(interpreter));
    absl::StatusOr<uint64_t> next = objects_.read_pointer(interp + layout_.interp.next);
    if (!next.ok()) {
      snapshot.interpreters.back().walk_error = std::string(next.status().message());
      break;
    }
    interp = *next;
  }
  return snapshot;
}

absl::StatusOr<Interpreter> SnapshotReader::read_interpreter(uint64_t address) {
  Interpreter interpreter;
  interpreter.address = address;
  if (layout_.interp.id >= 0) {
    absl::StatusOr<int64_t> id = read_value<int64_t>(pages_, address + layout_.interp.id);
    if (!id.ok()) return absl::DataLossError(at("unreadable interpreter", address));
    interpreter.id = *id;
  }
  absl::StatusOr<uint64_t> head = objects_.read_pointer(address + layout_.interp.threads_head);
  if (!head.ok()) return absl::DataLossError(at("unreadable interpreter", address));
  const GilState gil = read_gil_holder(pages_, runtime_, release_, address);
  interpreter.gil_enabled = gil.enabled;
  const bool collecting = read_gc_collecting(address);

  absl::flat_hash_set<uint64_t> seen;
  for (uint64_t tstate = *head; tstate != 0;) {
    if (std::optional<std::string> spent = over_budget()) {
      interpreter.walk_error = *spent;
      break;
    }
    if (!seen.insert(tstate).second || seen.size() > kMaxThreads) {
      interpreter.walk_error = "thread list loops or is too long";
      break;
    }
    interpreter.threads.push_back(read_thread(tstate, gil, collecting));
    absl::StatusOr<uint64_t> next = objects_.read_pointer(tstate + layout_.tstate.next);
    if (!next.ok()) {
      interpreter.walk_error = at("unreadable thread state", tstate);
      break;
    }
    tstate = *next;
  }
  if (options_.thread_names) add_thread_names(interpreter);
  if (options_.tasks) interpreter.tasks = tasks_.read(address, interpreter.threads);
  return interpreter;
}

// Names are extras: a threading module that cannot be read leaves the threads unnamed.
void SnapshotReader::add_thread_names(Interpreter& interpreter) {
  absl::StatusOr<absl::flat_hash_map<uint64_t, std::string>> names =
      thread_names_.read(interpreter.address);
  if (!names.ok()) return;
  for (Thread& thread : interpreter.threads) {
    auto it = names->find(thread.thread_id);
    if (it != names->end()) thread.name = it->second;
  }
}

bool SnapshotReader::read_gc_collecting(uint64_t interp) const {
  uint64_t address = 0;
  switch (release_.gc_flag) {
    case GcFlagLocation::kInterpreter:
      address = interp + layout_.interp.gc_collecting;
      break;
    case GcFlagLocation::kRuntime:
      address = runtime_.runtime_address + layout_.runtime.gc_collecting;
      break;
    case GcFlagLocation::kNone:
      return false;
  }
  absl::StatusOr<int32_t> collecting = read_value<int32_t>(pages_, address);
  return collecting.ok() && *collecting != 0;
}

Thread SnapshotReader::read_thread(uint64_t tstate, const GilState& gil, bool collecting) {
  Thread thread;
  thread.tstate_address = tstate;
  thread.holds_gil = gil.locked && gil.holder == tstate;
  thread.is_current = thread.holds_gil;  // a live process's "current" thread
  thread.gc_collecting = collecting;
  absl::StatusOr<uint64_t> id = read_value<uint64_t>(pages_, tstate + layout_.tstate.thread_id);
  if (!id.ok()) {
    thread.walk_error = at("unreadable thread state", tstate);
    return thread;
  }
  thread.thread_id = *id;
  if (layout_.tstate.native_thread_id >= 0) {
    absl::StatusOr<uint64_t> native =
        read_value<uint64_t>(pages_, tstate + layout_.tstate.native_thread_id);
    if (native.ok()) thread.native_thread_id = *native;
  }
  absl::StatusOr<uint64_t> frame = current_frame(tstate);
  if (!frame.ok()) {
    thread.walk_error = std::string(frame.status().message());
    return thread;
  }
  read_frames(*frame, thread);
  if (options_.exceptions) thread.exception = exceptions_.read(tstate);
  return thread;
}

// 3.11/3.12: tstate->cframe->current_frame; 3.13+: tstate->current_frame.
absl::StatusOr<uint64_t> SnapshotReader::current_frame(uint64_t tstate) const {
  absl::StatusOr<uint64_t> frame = objects_.read_pointer(tstate + layout_.tstate.frame);
  if (!frame.ok()) return absl::DataLossError(at("unreadable thread state", tstate));
  if (release_.frames != FrameChain::kInterpreterFramesViaCFrame || *frame == 0) return *frame;
  absl::StatusOr<uint64_t> current = objects_.read_pointer(*frame + layout_.cframe.current_frame);
  if (!current.ok()) return absl::DataLossError(at("unreadable C frame", *frame));
  return *current;
}

// The clock is read every kFramesPerClockCheck frames: a frame costs well under a microsecond
// when its pages are cached.
constexpr int64_t kFramesPerClockCheck = 256;

std::optional<std::string> SnapshotReader::over_budget() {
  if (spent_) return spent_;
  if (frames_read_ >= budget_.max_frames) {
    spent_ = absl::StrFormat("the snapshot's budget of %d frames is spent", budget_.max_frames);
  } else if (pages_.bytes_read() > budget_.max_bytes_read) {
    spent_ = absl::StrFormat("the snapshot's budget of %d bytes read is spent",
                             budget_.max_bytes_read);
  } else if (absl::Now() > deadline_) {
    spent_ = absl::StrCat("the snapshot's budget of ", absl::FormatDuration(budget_.max_stopped),
                          " with the target stopped is spent");
  }
  return spent_;
}

bool SnapshotReader::spend_frame(Thread& thread) {
  const bool spent = spent_.has_value() || frames_read_ >= budget_.max_frames ||
                     (frames_read_ % kFramesPerClockCheck == 0 && over_budget());
  if (!spent) {
    ++frames_read_;
    return true;
  }
  thread.walk_error = *over_budget();
  return false;
}

bool SnapshotReader::is_shim(uint8_t owner) const {
  const int first = release_.first_skipped_frame_owner;
  return first >= 0 && owner >= first;
}

// 3.13+: f_executable may be something other than a code object.
void SnapshotReader::add_locals(uint64_t frame, Frame& out) {
  if (runtime_.code_type) {
    absl::StatusOr<uint64_t> type = objects_.type_of(out.code_address);
    if (!type.ok() || *type != *runtime_.code_type) return;
  }
  out.locals = locals_.read(frame, out.code_address);
}

void SnapshotReader::read_frames(uint64_t frame, Thread& thread) {
  if (release_.frames == FrameChain::kFrameObjects) {
    read_frame_objects(frame, thread);
    return;
  }
  absl::flat_hash_set<uint64_t> seen;
  int skipped = 0;  // the interpreter's own frames since the last frame kept
  while (frame != 0) {
    if (!visit_frame(seen, frame, thread) || !spend_frame(thread)) return;
    absl::StatusOr<uint8_t> owner = read_value<uint8_t>(pages_, frame + layout_.iframe.owner);
    absl::StatusOr<uint64_t> code = objects_.read_pointer(frame + layout_.iframe.code);
    absl::StatusOr<uint64_t> previous = objects_.read_pointer(frame + layout_.iframe.previous);
    if (!owner.ok() || !code.ok() || !previous.ok()) {
      thread.walk_error = at("unreadable frame", frame);
      return;
    }
    if (is_shim(*owner)) {
      ++skipped;
      ++thread.skipped_frames;
      if (release_.entry_frames == EntryFrames::kShimBelow && !thread.frames.empty()) {
        thread.frames.back().entry = true;
      }
    } else {
      thread.frames.push_back(read_frame(frame, decode_stack_ref(release_, *code).object));
      thread.frames.back().frame_address = frame;
      thread.frames.back().entry = is_entry(frame);
      thread.frames.back().skipped_above = skipped;
      thread.frames.back().fails_safety_check = fails_safety_check(frame, *code);
      skipped = 0;
      if (options_.locals) add_locals(frame, thread.frames.back());
    }
    frame = *previous;
  }
  // The oldest frame was run by the outermost loop.
  if (!thread.frames.empty()) thread.frames.back().entry = true;
}

bool SnapshotReader::is_entry(uint64_t frame) const {
  switch (release_.entry_frames) {
    case EntryFrames::kEvery: return true;
    case EntryFrames::kIsEntryField: {
      absl::StatusOr<uint8_t> flag = read_value<uint8_t>(pages_, frame + layout_.iframe.owner - 1);
      return flag.ok() && *flag != 0;
    }
    case EntryFrames::kShimBelow: return false;  // set when the shim is met
  }
  return false;
}

// Up to 3.10: PyFrameObjects linked by f_back; f_lasti is the last instruction's byte offset
// (3.10: its index in code units). All frames share one type: a frame of another type ends the
// walk, as faulthandler's PyFrame_Check does.
void SnapshotReader::read_frame_objects(uint64_t frame, Thread& thread) {
  absl::flat_hash_set<uint64_t> seen;
  uint64_t frame_type = 0;
  while (frame != 0) {
    if (!visit_frame(seen, frame, thread) || !spend_frame(thread)) return;
    absl::StatusOr<uint64_t> type = objects_.type_of(frame);
    absl::StatusOr<uint64_t> code = objects_.read_pointer(frame + layout_.frame.code);
    absl::StatusOr<uint64_t> back = objects_.read_pointer(frame + layout_.frame.back);
    absl::StatusOr<int32_t> lasti = read_value<int32_t>(pages_, frame + layout_.frame.lasti);
    if (!type.ok() || !code.ok() || !back.ok() || !lasti.ok()) {
      thread.walk_error = at("unreadable frame", frame);
      return;
    }
    if (frame_type == 0) frame_type = *type;
    if (*type != frame_type) return;
    Frame out = read_frame_object(*code, *lasti);
    out.frame_address = frame;
    out.entry = true;  // each frame has its own PyEval_EvalFrameEx / _PyEval_EvalFrameDefault
    thread.frames.push_back(std::move(out));
    if (options_.locals) add_locals(frame, thread.frames.back());
    frame = *back;
  }
}

// A PyFrameObject's code and place (up to 3.10): f_lasti in bytes (3.10: in code units).
Frame SnapshotReader::read_frame_object(uint64_t code, int32_t lasti) {
  Frame out;
  out.code_address = code;
  absl::StatusOr<const CodeObject*> code_object = codes_.get(code);
  if (!code_object.ok()) return out;
  out.filename = (*code_object)->filename;
  out.name = (*code_object)->name;
  const int64_t byte_offset = release_.instruction_position == InstructionPosition::kLastiCodeUnits
                                  ? int64_t{lasti} * 2
                                  : int64_t{lasti};
  if (byte_offset >= -(1 << 28) && byte_offset <= (1 << 28)) {
    out.lineno = code_line_at(**code_object, release_, static_cast<int>(byte_offset));
  }
  return out;
}

// _PyFrame_SafeGetCode (3.13.10+, 3.14.1+): what faulthandler checks before it prints a frame.
bool SnapshotReader::fails_safety_check(uint64_t frame, uint64_t executable_bits) const {
  if (layout_.iframe.globals < 0 || layout_.iframe.builtins < 0) return false;
  absl::StatusOr<uint64_t> globals = objects_.read_pointer(frame + layout_.iframe.globals);
  absl::StatusOr<uint64_t> builtins = objects_.read_pointer(frame + layout_.iframe.builtins);
  if (!globals.ok() || !builtins.ok() || *globals == 0 || *builtins == 0) return true;
  if (looks_freed(executable_bits)) return true;  // also PyStackRef_NULL (3.14+: 1)
  const uint64_t executable = decode_stack_ref(release_, executable_bits).object;
  absl::StatusOr<uint64_t> type = objects_.type_of(executable);
  if (looks_freed(executable) || !type.ok() || looks_freed(*type)) return true;
  return runtime_.code_type.has_value() && *type != *runtime_.code_type;  // PyCode_Check
}

Frame SnapshotReader::read_frame(uint64_t frame, uint64_t code_address) {
  Frame out;
  out.code_address = code_address;
  absl::StatusOr<const CodeObject*> code = codes_.get(code_address);
  if (!code.ok()) return out;  // printed as ??? throughout
  out.filename = (*code)->filename;
  out.name = (*code)->name;
  out.qualname = (*code)->qualname;
  absl::StatusOr<uint64_t> instr = objects_.read_pointer(frame + layout_.iframe.instr);
  if (!instr.ok()) return out;
  const uint64_t first = frame_first_instruction_at(pages_, layout_, **code, code_address, frame);
  if (first == 0) return out;
  // _PyInterpreterFrame_LASTI: code units from the first instruction, in bytes.
  const int64_t units = (static_cast<int64_t>(*instr) - static_cast<int64_t>(first)) / 2;
  if (units < -(1 << 28) || units > (1 << 28)) return out;
  out.lineno = code_line_at(**code, release_, static_cast<int>(units * 2));
  return out;
}

}  // namespace pystack
