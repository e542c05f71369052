#include "format/profile_labels.h"

#include "absl/strings/str_cat.h"
#include "common/utf8.h"

namespace pystack {

std::string frame_label(const ProfileFrame& frame) {
  if (frame.line < 0) return absl::StrCat(frame.function, " (", frame.filename, ")");
  return absl::StrCat(frame.function, " (", frame.filename, ":", frame.line, ")");
}

std::string thread_label(const ProfileThread& thread) {
  const std::string tid = thread.native_id == 0 ? "?" : absl::StrCat(thread.native_id);
  if (thread.name.empty()) return absl::StrCat("thread ", tid);
  return absl::StrCat(thread.name, " (tid ", tid, ")");
}

std::string_view cut_utf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t end = max_bytes;
  // Back up over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) --end;
  return text.substr(0, end);
}

std::string process_label(const ProfileProcess& process) {
  return absl::StrCat("process ", process.pid, ": ",
                      std::string(cut_utf8(process.command, kMaxCommandBytes)));
}

bool shows_process_roots(const Profile& profile) { return profile.processes.size() > 1; }

std::vector<std::string> thread_root_labels(const Profile& profile, uint32_t thread) {
  std::vector<std::string> labels;
  if (thread >= profile.threads.size()) {  // a malformed profile: still one root per stack
    labels.push_back("thread ?");
    return labels;
  }
  const ProfileThread& t = profile.threads[thread];
  if (shows_process_roots(profile)) {
    labels.push_back(t.process < profile.processes.size()
                         ? process_label(profile.processes[t.process])
                         : "process ?");
  }
  labels.push_back(thread_label(t));
  return labels;
}

std::vector<std::string> stack_labels(const Profile& profile, const ProfileStack& stack) {
  std::vector<std::string> labels = thread_root_labels(profile, stack.thread);
  for (uint32_t frame : stack.frames) {
    labels.push_back(frame < profile.frames.size() ? frame_label(profile.frames[frame]) : "?");
  }
  return labels;
}

std::string valid_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  // The surrogateescape decoder turns every invalid byte into a lone surrogate, and so are
  // encoded surrogates: both become U+FFFD.
  for (char32_t c : decode_utf8_surrogateescape(bytes)) {
    append_utf8_code_point(out, c >= 0xd800 && c <= 0xdfff ? char32_t{0xfffd} : c);
  }
  return out;
}

}  // namespace pystack
