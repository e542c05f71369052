#include "sampling/profile_builder.h"

#include "common/utf8.h"

namespace pystack {
namespace {

std::string utf8_or(const std::optional<PyText>& text, std::string_view fallback) {
  if (!text) return std::string(fallback);
  std::string out;
  append_utf8_backslashreplace(out, text->code_points);
  return out;
}

// A frame's function as profilers show it: co_qualname where the release has it (3.11+).
std::string function_name(const CodeObject& code) {
  return code.qualname ? utf8_or(code.qualname, "???") : utf8_or(code.name, "???");
}

}  // namespace

ProfileBuilder::ProfileBuilder(bool lines) : lines_(lines) { profile_.lines = lines; }

uint32_t ProfileBuilder::add_process(int pid, std::string command) {
  profile_.processes.push_back(ProfileProcess{pid, std::move(command)});
  return static_cast<uint32_t>(profile_.processes.size() - 1);
}

uint32_t ProfileBuilder::thread(uint32_t process, uint64_t thread_id, uint64_t native_id,
                                std::string_view name) {
  std::vector<uint32_t>& same_id = threads_by_id_[{process, thread_id, native_id}];
  for (uint32_t index : same_id) {
    if (profile_.threads[index].name == name) return index;
  }
  profile_.threads.push_back(ProfileThread{process, native_id, std::string(name)});
  same_id.push_back(static_cast<uint32_t>(profile_.threads.size() - 1));
  return same_id.back();
}

uint32_t ProfileBuilder::frame_index(const SampledFrame& frame) {
  const int line = lines_ ? frame.line : -1;
  const uint32_t code_id = frame.code != nullptr ? frame.code->id : 0;
  const uint64_t key = (uint64_t{code_id} << 32) | static_cast<uint32_t>(line);
  auto it = frame_by_code_.find(key);
  if (it != frame_by_code_.end()) return it->second;
  ProfileFrame text;
  text.line = line;
  if (frame.code != nullptr) {
    text.function = function_name(*frame.code);
    text.filename = utf8_or(frame.code->filename, "???");
    text.first_line = frame.code->first_line;
  } else {
    text.function = "???";
    text.filename = "???";
  }
  const uint32_t index = text_index(std::move(text));
  frame_by_code_.emplace(key, index);
  return index;
}

uint32_t ProfileBuilder::text_index(ProfileFrame text) {
  auto [by_text, inserted] = frame_by_text_.try_emplace(
      std::tuple(text.function, text.filename, text.line, text.first_line),
      static_cast<uint32_t>(profile_.frames.size()));
  if (inserted) profile_.frames.push_back(std::move(text));
  return by_text->second;
}

uint32_t ProfileBuilder::native_frame_index(const NativeFrame& frame, uint32_t ordinal) {
  const auto key = std::tuple(frame.address, frame.activation, ordinal);
  auto it = frame_by_pc_.find(key);
  if (it != frame_by_pc_.end()) return it->second;
  ProfileFrame text;
  text.function = frame.function.empty() ? "???" : frame.function;
  const size_t slash = frame.library.rfind('/');
  text.filename = frame.library.empty() ? "???" : frame.library.substr(slash + 1);
  const uint32_t index = text_index(std::move(text));
  frame_by_pc_.emplace(key, index);
  return index;
}

void ProfileBuilder::add(uint32_t thread, const Sample& sample, const SampledThread& sampled,
                         const NativeStack& native, bool all_native) {
  merged_.clear();
  uint32_t next = 0;  // the next Python frame, most recent first
  auto take_group = [&] {
    while (next < sampled.frame_count) {
      const SampledFrame& frame = sample.frames[sampled.first_frame + next++];
      merged_.push_back(frame_index(frame));
      if (frame.entry) return;
    }
  };
  uint32_t ordinal = 0;
  for (size_t i = 0; i < native.frames.size(); ++i) {
    const NativeFrame& frame = native.frames[i];
    ordinal = i > 0 && native.frames[i - 1].address == frame.address ? ordinal + 1 : 0;
    if (frame.evaluates_python && next < sampled.frame_count) {
      take_group();
      if (all_native) merged_.push_back(native_frame_index(frame, ordinal));
      continue;
    }
    if (frame.interpreter && !all_native) continue;
    merged_.push_back(native_frame_index(frame, ordinal));
  }
  while (next < sampled.frame_count) {
    merged_.push_back(frame_index(sample.frames[sampled.first_frame + next++]));
  }
  key_.clear();
  key_.push_back(thread);
  key_.insert(key_.end(), merged_.rbegin(), merged_.rend());
  count_key(thread);
}

void ProfileBuilder::add(uint32_t thread, const Sample& sample, const SampledThread& sampled) {
  key_.clear();
  key_.push_back(thread);
  for (uint32_t i = sampled.frame_count; i > 0; --i) {
    key_.push_back(frame_index(sample.frames[sampled.first_frame + i - 1]));
  }
  count_key(thread);
}

void ProfileBuilder::count_key(uint32_t thread) {
  ++profile_.thread_samples;
  auto it = stacks_.find(absl::Span<const uint32_t>(key_));
  if (it != stacks_.end()) {
    ++profile_.stacks[it->second].count;
    return;
  }
  ProfileStack stack;
  stack.thread = thread;
  stack.frames.assign(key_.begin() + 1, key_.end());
  stack.count = 1;
  stacks_.emplace(key_, static_cast<uint32_t>(profile_.stacks.size()));
  profile_.stacks.push_back(std::move(stack));
}

}  // namespace pystack
