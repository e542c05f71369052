#include "format/profile_folded.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "format/profile_labels.h"

namespace pystack {
namespace {

void append_folded_label(std::string& out, const std::string& label) {
  for (char c : label) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == ';') {
      out += ':';
    } else if (byte < 0x20 || byte == 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
}

std::string folded_path(const Profile& profile, const ProfileStack& stack) {
  std::string path;
  for (const std::string& label : stack_labels(profile, stack)) {
    if (!path.empty()) path += ';';
    append_folded_label(path, label);
  }
  return path;
}

}  // namespace

std::string format_folded(const Profile& profile) {
  std::map<std::string, int64_t> counts;  // ordered: the lines come out sorted
  for (const ProfileStack& stack : profile.stacks) {
    if (stack.count > 0) counts[folded_path(profile, stack)] += stack.count;
  }
  std::string out;
  for (const auto& [path, count] : counts) absl::StrAppend(&out, path, " ", count, "\n");
  return out;
}

}  // namespace pystack
