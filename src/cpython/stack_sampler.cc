#include "cpython/stack_sampler.h"

#include <algorithm>
#include <cstring>

#include "cpython/stack_ref.h"

namespace pystack {
namespace {

// Bounds that keep a walk over corrupt memory finite. A chain longer than kMaxSampledFrames is
// taken for a cycle (deeper than any real stack: the default recursion limit is 1000).
constexpr int kMaxSampledInterpreters = 64;
constexpr int kMaxSampledThreads = 4096;
constexpr uint32_t kMaxSampledFrames = 1 << 16;
constexpr size_t kMaxLines = 1 << 20;
// Sampled structures are small and scattered (a thread state's few fields, a code object's
// head) or contiguous (a data-stack chunk's frames: adjacent blocks are read as one range):
// 256-byte blocks copy a few KiB per sample where pages would copy tens.
constexpr uint64_t kSampleBlockSize = 256;
// A block unused for this many samples leaves the working set (the frames of a call that
// returned, a thread that ended); one used again comes back at the cost of one read.
constexpr uint8_t kWorkingSetIdleRounds = 32;

using Outcome = SampledThread::Outcome;

}  // namespace

StackSampler::StackSampler(const RemoteMemory& memory, PythonRuntime runtime, bool check_torn,
                           bool read_gil)
    : memory_(memory),
      runtime_(std::move(runtime)),
      layout_(runtime_.layout),
      release_(release_of(runtime_.layout)),
      check_torn_(check_torn),
      read_gil_(read_gil),
      pages_(memory, /*max_blocks=*/16384, kSampleBlockSize),
      objects_(pages_, layout_),
      codes_(objects_),
      name_pages_(memory),
      name_objects_(name_pages_, layout_),
      name_types_(name_objects_),
      name_dicts_(name_objects_),
      names_(name_objects_, name_types_, name_dicts_) {}

absl::flat_hash_map<uint64_t, std::string> StackSampler::thread_names() {
  name_pages_.clear();
  name_types_.clear();
  absl::flat_hash_map<uint64_t, std::string> all;
  absl::StatusOr<uint64_t> interp =
      runtime_.runtime_address != 0
          ? name_objects_.read_pointer(runtime_.runtime_address +
                                       layout_.runtime.interpreters_head)
          : name_objects_.read_pointer(runtime_.interp_head_address);
  for (int i = 0; interp.ok() && *interp != 0 && i < kMaxSampledInterpreters; ++i) {
    absl::StatusOr<absl::flat_hash_map<uint64_t, std::string>> names = names_.read(*interp);
    if (names.ok()) all.merge(*names);
    interp = name_objects_.read_pointer(*interp + layout_.interp.next);
  }
  return all;
}

absl::Status StackSampler::sample(Sample& out, ThreadFilter walk) {
  out.clear();
  validated_.clear();
  pages_.clear();  // the target has moved on since the last sample
  // Most of this sample's blocks are the last ones': one vectored read instead of one each.
  pages_.prefetch_working_set();
  absl::StatusOr<uint64_t> head =
      runtime_.runtime_address != 0
          ? objects_.read_pointer(runtime_.runtime_address + layout_.runtime.interpreters_head)
          : objects_.read_pointer(runtime_.interp_head_address);
  if (!head.ok()) return head.status();
  uint64_t interp = *head;
  for (int i = 0; interp != 0 && i < kMaxSampledInterpreters; ++i) {
    const GilState gil =
        read_gil_ ? read_gil_holder(pages_, runtime_, release_, interp) : GilState{};
    absl::StatusOr<uint64_t> tstate = objects_.read_pointer(interp + layout_.interp.threads_head);
    for (int j = 0; tstate.ok() && *tstate != 0 && j < kMaxSampledThreads; ++j) {
      read_thread(*tstate, gil, out, walk);
      tstate = objects_.read_pointer(*tstate + layout_.tstate.next);
    }
    absl::StatusOr<uint64_t> next = objects_.read_pointer(interp + layout_.interp.next);
    if (!next.ok()) break;
    interp = *next;
  }
  pages_.update_working_set(kWorkingSetIdleRounds);
  return absl::OkStatus();
}

void StackSampler::read_thread(uint64_t tstate, const GilState& gil, Sample& out,
                               ThreadFilter walk) {
  SampledThread thread;
  thread.tstate = tstate;
  thread.holds_gil = gil.locked && gil.holder == tstate;
  thread.first_frame = static_cast<uint32_t>(out.frames.size());
  absl::StatusOr<uint64_t> id = read_value<uint64_t>(pages_, tstate + layout_.tstate.thread_id);
  uint64_t frame = 0, cframe = 0;
  if (!id.ok() || !current_frame(tstate, cframe, frame)) {
    thread.outcome = Outcome::kBroken;
    out.threads.push_back(thread);
    return;
  }
  thread.thread_id = *id;
  if (layout_.tstate.native_thread_id >= 0) {
    absl::StatusOr<uint64_t> native =
        read_value<uint64_t>(pages_, tstate + layout_.tstate.native_thread_id);
    if (native.ok()) thread.native_id = *native;
  }
  if (!walk(thread)) {
    thread.outcome = Outcome::kSkipped;
    out.threads.push_back(thread);
    return;
  }
  FirstFrame first;
  first.cframe = cframe;
  thread.outcome = release_.frames == FrameChain::kFrameObjects
                       ? read_frame_objects(frame, out, first)
                       : read_interpreter_frames(frame, out, first);
  thread.frame_count = static_cast<uint32_t>(out.frames.size()) - thread.first_frame;
  if (check_torn_ && thread.outcome != Outcome::kComplete) {
    thread.outcome = Outcome::kTorn;  // most likely a frame being pushed or popped
  }
  if (check_torn_ && thread.outcome == Outcome::kComplete && moved_on(tstate, first)) {
    thread.outcome = Outcome::kTorn;
  }
  out.threads.push_back(thread);
}

// 3.11/3.12: tstate->cframe->current_frame; else tstate->frame or tstate->current_frame.
bool StackSampler::current_frame(uint64_t tstate, uint64_t& cframe, uint64_t& frame) const {
  absl::StatusOr<uint64_t> pointer = read_value<uint64_t>(pages_, tstate + layout_.tstate.frame);
  if (!pointer.ok()) return false;
  if (release_.frames != FrameChain::kInterpreterFramesViaCFrame || *pointer == 0) {
    frame = *pointer;
    return true;
  }
  cframe = *pointer;
  absl::StatusOr<uint64_t> current =
      read_value<uint64_t>(pages_, cframe + layout_.cframe.current_frame);
  if (!current.ok()) return false;
  frame = *current;
  return true;
}

// The fields of a thread's first frame that change whenever it returns or calls (not its
// position, which moves on within the frame: the line read stays the one at the read), from
// `memory` (the sample's pages, or the target itself for the check after the walk).
bool StackSampler::read_first_frame(uint64_t frame, FirstFrame& first) const {
  first.address = frame;
  if (frame == 0) return true;
  const bool objects = release_.frames == FrameChain::kFrameObjects;
  const int64_t code = objects ? layout_.frame.code : layout_.iframe.code;
  const int64_t previous = objects ? layout_.frame.back : layout_.iframe.previous;
  const int64_t low = std::min(code, previous);
  const int64_t high = std::max(code, previous) + 8;
  uint8_t bytes[512];
  if (low < 0 || high - low > static_cast<int64_t>(sizeof bytes)) return false;
  if (!pages_.read(frame + low, bytes, high - low).ok()) return false;
  auto field = [&](int64_t offset) {
    uint64_t value = 0;
    std::memcpy(&value, bytes + (offset - low), sizeof value);
    return value;
  };
  first.code = field(code);
  first.previous = field(previous);
  return true;
}

// Read again from the target itself, in one vectored read: has the thread left the frame the
// walk started from? (The thread state's pointer, 3.11/3.12's C frame's, the frame's own links.)
bool StackSampler::moved_on(uint64_t tstate, const FirstFrame& first) const {
  const bool objects = release_.frames == FrameChain::kFrameObjects;
  const int64_t code = objects ? layout_.frame.code : layout_.iframe.code;
  const int64_t previous = objects ? layout_.frame.back : layout_.iframe.previous;
  const int64_t low = std::min(code, previous);
  uint64_t frame_pointer = 0, current = 0;
  uint8_t bytes[512];
  ReadRequest requests[3];
  size_t count = 0;
  requests[count++] = {tstate + layout_.tstate.frame, &frame_pointer, 8};
  if (first.cframe != 0) {
    requests[count++] = {first.cframe + layout_.cframe.current_frame, &current, 8};
  }
  const size_t span = static_cast<size_t>(std::max(code, previous) + 8 - low);
  if (first.address != 0) requests[count++] = {first.address + low, bytes, span};
  memory_.read_many(requests, count);
  for (size_t i = 0; i < count; ++i) {
    if (!requests[i].ok) return true;
  }
  if (first.cframe != 0 ? frame_pointer != first.cframe || current != first.address
                        : frame_pointer != first.address) {
    return true;
  }
  if (first.address == 0) return false;
  uint64_t now_code = 0, now_previous = 0;
  std::memcpy(&now_code, bytes + (code - low), 8);
  std::memcpy(&now_previous, bytes + (previous - low), 8);
  return now_code != first.code || now_previous != first.previous;
}

int StackSampler::line_of(const CodeObject& code, int byte_offset) {
  const uint64_t key = (uint64_t{code.id} << 32) | static_cast<uint32_t>(byte_offset);
  auto it = lines_.find(key);
  if (it != lines_.end()) return it->second;
  if (lines_.size() >= kMaxLines) lines_.clear();
  const int line = code_line_at(code, release_, byte_offset);
  lines_.emplace(key, line);
  return line;
}

// 3.11+: _PyInterpreterFrames linked by `previous`, mostly in the thread's data-stack chunk.
// A code object, validated once per sample however many frames run it (recursion), and checked
// to be one (3.13+: f_executable may be something else, a shim's); nullptr when it is not.
const CodeObject* StackSampler::code_at(uint64_t address) {
  auto it = validated_.find(address);
  if (it != validated_.end()) return it->second;
  const CodeObject* code = nullptr;
  absl::StatusOr<const CodeObject*> got = codes_.get(address);
  if (got.ok()) code = *got;
  if (code != nullptr && runtime_.code_type) {
    absl::StatusOr<uint64_t> type = objects_.type_of(address);
    if (!type.ok() || *type != *runtime_.code_type) code = nullptr;
  }
  validated_.emplace(address, code);
  return code;
}

// 3.11+: _PyInterpreterFrames linked by `previous`, mostly in the thread's data-stack chunk.
// The four fields of a frame are read at once.
Outcome StackSampler::read_interpreter_frames(uint64_t frame, Sample& out, FirstFrame& first) {
  if (!read_first_frame(frame, first)) return Outcome::kBroken;
  const InterpreterFrameOffsets& f = layout_.iframe;
  // Free-threaded 3.14+: the thread-local bytecode index too (in the same read).
  const int64_t tlbc = f.tlbc_index >= 0 ? f.tlbc_index : f.owner;
  const int64_t low = std::min({f.owner, f.code, f.previous, f.instr, tlbc});
  const int64_t span =
      std::max({f.owner + 1, f.code + 8, f.previous + 8, f.instr + 8, tlbc + 4}) - low;
  uint8_t bytes[256];
  if (low < 0 || span > static_cast<int64_t>(sizeof bytes)) return Outcome::kBroken;
  auto field = [&](int64_t offset) {
    uint64_t value = 0;
    std::memcpy(&value, bytes + (offset - low), sizeof value);
    return value;
  };
  const int first_skipped = release_.first_skipped_frame_owner;
  const size_t begin = out.frames.size();
  for (uint32_t depth = 0; frame != 0; ++depth) {
    if (depth >= kMaxSampledFrames) return Outcome::kBroken;
    if (!pages_.read(frame + low, bytes, span).ok()) return Outcome::kBroken;
    ++frames_read_;
    const uint8_t owner = bytes[f.owner - low];
    if (first_skipped >= 0 && owner >= first_skipped) {
      // A shim below the frames one run of the loop executes (Frame::entry, for --native).
      if (out.frames.size() > begin) out.frames.back().entry = true;
    } else {
      SampledFrame sampled;
      // 3.11: is_entry is the byte before owner.
      sampled.entry = release_.entry_frames == EntryFrames::kIsEntryField &&
                      bytes[f.owner - 1 - low] != 0;
      const uint64_t code_address = decode_stack_ref(release_, field(f.code)).object;
      sampled.code = code_at(code_address);
      if (sampled.code == nullptr) return Outcome::kBroken;
      uint64_t first = sampled.code->first_instruction;
      if (f.tlbc_index >= 0) {
        int32_t tlbc_index = 0;
        std::memcpy(&tlbc_index, bytes + (f.tlbc_index - low), sizeof tlbc_index);
        first = frame_first_instruction(pages_, layout_, *sampled.code, code_address, tlbc_index);
      }
      const int64_t units =
          (static_cast<int64_t>(field(f.instr)) - static_cast<int64_t>(first)) / 2;
      if (first != 0 && units >= -(1 << 28) && units <= (1 << 28)) {
        sampled.line = line_of(*sampled.code, static_cast<int>(units * 2));
      }
      out.frames.push_back(sampled);
    }
    frame = field(f.previous);
  }
  if (out.frames.size() > begin) out.frames.back().entry = true;  // the outermost loop's
  return Outcome::kComplete;
}

// Up to 3.10: PyFrameObjects linked by f_back.
Outcome StackSampler::read_frame_objects(uint64_t frame, Sample& out, FirstFrame& first) {
  if (!read_first_frame(frame, first)) return Outcome::kBroken;
  uint64_t frame_type = 0;
  for (uint32_t depth = 0; frame != 0; ++depth) {
    if (depth >= kMaxSampledFrames) return Outcome::kBroken;
    absl::StatusOr<uint64_t> type = objects_.type_of(frame);
    absl::StatusOr<uint64_t> code_address = objects_.read_pointer(frame + layout_.frame.code);
    absl::StatusOr<uint64_t> back = objects_.read_pointer(frame + layout_.frame.back);
    absl::StatusOr<int32_t> lasti = read_value<int32_t>(pages_, frame + layout_.frame.lasti);
    if (!type.ok() || !code_address.ok() || !back.ok() || !lasti.ok()) return Outcome::kBroken;
    ++frames_read_;
    if (frame_type == 0) frame_type = *type;
    if (*type != frame_type) return Outcome::kBroken;
    SampledFrame sampled;
    sampled.entry = true;  // a _PyEval_EvalFrameDefault (PyEval_EvalFrameEx) per frame
    sampled.code = code_at(*code_address);
    if (sampled.code == nullptr) return Outcome::kBroken;
    const int64_t byte_offset =
        release_.instruction_position == InstructionPosition::kLastiCodeUnits
            ? int64_t{*lasti} * 2
            : int64_t{*lasti};
    if (byte_offset >= -(1 << 28) && byte_offset <= (1 << 28)) {
      sampled.line = line_of(*sampled.code, static_cast<int>(byte_offset));
    }
    out.frames.push_back(sampled);
    frame = *back;
  }
  return Outcome::kComplete;
}

}  // namespace pystack
