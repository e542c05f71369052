// The names every profile format gives to the boxes of a stack, so that a flame graph drawn from
// the folded, speedscope, SVG or pprof output shows the same boxes: a process root (only when the
// profile covers several processes), a thread root, then one box per Python frame.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "snapshot/profile.h"

namespace pystack {

// `FUNCTION (FILE:LINE)`, or `FUNCTION (FILE)` when the line is unknown (< 0).
std::string frame_label(const ProfileFrame& frame);

// `NAME (tid TID)` for a named thread, else `thread TID`; TID is the native id, `?` when 0.
std::string thread_label(const ProfileThread& thread);

// `process PID: COMMAND`, the command cut to kMaxCommandBytes at a UTF-8 character boundary (no
// ellipsis: the cut is already visible as a command line that stops short).
inline constexpr size_t kMaxCommandBytes = 80;
std::string process_label(const ProfileProcess& process);

// Whether stacks get a process root above their thread root: only when there is more than one
// process to tell apart.
bool shows_process_roots(const Profile& profile);

// The labels of one stack, root first: [process], thread, then its frames outermost first.
std::vector<std::string> stack_labels(const Profile& profile, const ProfileStack& stack);

// The labels above the frames of `thread`: [process label], thread label.
std::vector<std::string> thread_root_labels(const Profile& profile, uint32_t thread);

// `bytes` with each invalid UTF-8 sequence (and each encoded surrogate) replaced by U+FFFD, for
// the formats whose readers insist on valid UTF-8 (XML, protobuf strings).
std::string valid_utf8(std::string_view bytes);

// `text` cut to at most `max_bytes` bytes without splitting a UTF-8 sequence.
std::string_view cut_utf8(std::string_view text, size_t max_bytes);

}  // namespace pystack
