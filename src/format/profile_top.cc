#include "format/profile_top.h"

#include <algorithm>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_format.h"

namespace pystack {
namespace {

using FunctionKey = std::pair<std::string, std::string>;  // function, filename

double percent(int64_t samples, int64_t total) {
  return total > 0 ? 100.0 * static_cast<double>(samples) / static_cast<double>(total) : 0.0;
}

// `line` cut to `width` code points (UTF-8 continuation bytes do not count).
std::string cut_to_width(std::string line, size_t width) {
  if (width == 0) return line;
  size_t chars = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xc0) == 0x80) continue;
    if (chars++ == width) {
      line.resize(i);
      break;
    }
  }
  return line;
}

}  // namespace

std::vector<TopRow> top_rows(const Profile& profile, TopSort sort) {
  absl::flat_hash_map<FunctionKey, TopRow> rows;
  auto row = [&](uint32_t frame) -> TopRow& {
    const ProfileFrame& f = profile.frames[frame];
    TopRow& r = rows[FunctionKey(f.function, f.filename)];
    if (r.function.empty() && r.filename.empty()) {
      r.function = f.function;
      r.filename = f.filename;
    }
    return r;
  };
  absl::flat_hash_set<FunctionKey> in_stack;
  for (const ProfileStack& stack : profile.stacks) {
    if (stack.count <= 0 || stack.frames.empty()) continue;
    in_stack.clear();
    for (uint32_t f : stack.frames) {
      if (f >= profile.frames.size()) continue;
      // A recursive function counts once per stack in its total.
      if (in_stack.emplace(profile.frames[f].function, profile.frames[f].filename).second) {
        row(f).total += stack.count;
      }
    }
    if (stack.frames.back() < profile.frames.size()) row(stack.frames.back()).own += stack.count;
  }

  std::vector<TopRow> sorted;
  sorted.reserve(rows.size());
  for (auto& [key, r] : rows) sorted.push_back(std::move(r));
  std::sort(sorted.begin(), sorted.end(), [sort](const TopRow& a, const TopRow& b) {
    const int64_t a_key = sort == TopSort::kOwn ? a.own : a.total;
    const int64_t b_key = sort == TopSort::kOwn ? b.own : b.total;
    const int64_t a_other = sort == TopSort::kOwn ? a.total : a.own;
    const int64_t b_other = sort == TopSort::kOwn ? b.total : b.own;
    return std::tie(b_key, b_other, a.function, a.filename) <
           std::tie(a_key, a_other, b.function, b.filename);
  });
  return sorted;
}

std::vector<std::string> format_top(const Profile& profile, TopSort sort, size_t max_rows,
                                    size_t width) {
  std::vector<std::string> lines;
  lines.push_back(cut_to_width(
      absl::StrFormat("%6s %7s %11s %13s  %s", "%Own", "%Total", "OwnSamples", "TotalSamples",
                      "Function (file)"),
      width));
  const std::vector<TopRow> rows = top_rows(profile, sort);
  for (size_t i = 0; i < rows.size() && i < max_rows; ++i) {
    const TopRow& r = rows[i];
    lines.push_back(cut_to_width(
        absl::StrFormat("%6.1f %7.1f %11d %13d  %s (%s)", percent(r.own, profile.thread_samples),
                        percent(r.total, profile.thread_samples), r.own, r.total, r.function,
                        r.filename),
        width));
  }
  return lines;
}

}  // namespace pystack
