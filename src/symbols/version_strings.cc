#include "symbols/version_strings.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <string>

#include "memory/unique_fd.h"

namespace pystack {
namespace {

constexpr uint64_t kMaxRodataSize = uint64_t{256} << 20;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads a run of 1..max_digits digits that ends right before `end` in `text`, moving `end` to
// its start; nullopt when there is none or it is longer.
std::optional<int> number_before(std::string_view text, size_t& end, size_t max_digits) {
  size_t begin = end;
  while (begin > 0 && is_digit(text[begin - 1]) && end - begin < max_digits + 1) --begin;
  if (begin == end || end - begin > max_digits) return std::nullopt;
  int value = 0;
  for (size_t i = begin; i < end; ++i) value = value * 10 + (text[i] - '0');
  end = begin;
  return value;
}

bool consume_before(std::string_view text, size_t& end, std::string_view suffix) {
  if (end < suffix.size() || text.substr(end - suffix.size(), suffix.size()) != suffix) {
    return false;
  }
  end -= suffix.size();
  return true;
}

// Skips a release tag ("a1", "b2", "rc3") that ends at `end`, if there is one.
void skip_release_tag(std::string_view text, size_t& end) {
  size_t at = end;
  if (!number_before(text, at, 2)) return;
  if (consume_before(text, at, "rc") || consume_before(text, at, "a") ||
      consume_before(text, at, "b")) {
    end = at;
  }
}

// The version whose text ends right before the NUL at `nul`, if the string's tail is one.
std::optional<VersionString> version_ending_at(std::string_view text, size_t nul) {
  size_t end = nul;
  consume_before(text, end, "+");
  skip_release_tag(text, end);
  VersionString v;
  std::optional<int> micro = number_before(text, end, 3);
  if (!micro || !consume_before(text, end, ".")) return std::nullopt;
  std::optional<int> minor = number_before(text, end, 2);
  if (!minor || !consume_before(text, end, ".")) return std::nullopt;
  std::optional<int> major = number_before(text, end, 1);
  if (!major || (*major != 2 && *major != 3)) return std::nullopt;
  if (end > 0 && (is_digit(text[end - 1]) || text[end - 1] == '.')) return std::nullopt;
  return VersionString{*major, *minor, *micro};
}

}  // namespace

std::vector<VersionString> version_strings_in(std::string_view rodata, size_t max_results) {
  std::vector<VersionString> found;
  for (size_t nul = rodata.find('\0'); nul != std::string_view::npos;
       nul = rodata.find('\0', nul + 1)) {
    if (nul == 0 || (!is_digit(rodata[nul - 1]) && rodata[nul - 1] != '+')) continue;
    std::optional<VersionString> v = version_ending_at(rodata, nul);
    if (!v || std::find(found.begin(), found.end(), *v) != found.end()) continue;
    found.push_back(*v);
    if (found.size() >= max_results) break;
  }
  return found;
}

std::vector<VersionString> version_strings_in_rodata(const ElfFile& elf) {
  std::optional<ElfSection> rodata = elf.find_section(".rodata");
  if (!rodata || rodata->size == 0 || rodata->size > kMaxRodataSize) return {};
  UniqueFd fd(::open(elf.path().c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return {};
  std::string bytes(rodata->size, '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::pread(fd.get(), bytes.data() + done, bytes.size() - done,
                        static_cast<off_t>(rodata->file_offset + done));
    if (n <= 0) return {};
    done += static_cast<size_t>(n);
  }
  return version_strings_in(bytes);
}

}  // namespace pystack
