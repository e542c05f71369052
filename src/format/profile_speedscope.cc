#include "format/profile_speedscope.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "format/json_writer.h"
#include "format/profile_labels.h"

namespace pystack {
namespace {

constexpr std::string_view kSchema = "https://www.speedscope.app/file-format-schema.json";

void append_string(std::string& out, std::string_view utf8) {
  append_json_string(out, decode_utf8_surrogateescape(utf8));
}

// speedscope's frames: one per distinct (label, file, line), indexed by ProfileFrame.
struct SharedFrames {
  std::vector<std::string> names;
  std::vector<int32_t> of_profile_frame;  // Profile::frames index -> shared index
  std::string json;                       // the "frames" array's members
};

SharedFrames shared_frames(const Profile& profile) {
  SharedFrames shared;
  absl::flat_hash_map<std::tuple<std::string, std::string, int>, int32_t> index;
  for (const ProfileFrame& frame : profile.frames) {
    std::string name = frame_label(frame);
    auto [it, added] = index.try_emplace(std::make_tuple(name, frame.filename, frame.line),
                                         static_cast<int32_t>(shared.names.size()));
    shared.of_profile_frame.push_back(it->second);
    if (!added) continue;
    if (!shared.names.empty()) shared.json += ",\n    ";
    shared.json += "{\"name\": ";
    append_string(shared.json, name);
    shared.json += ", \"file\": ";
    append_string(shared.json, frame.filename);
    if (frame.line >= 0) absl::StrAppend(&shared.json, ", \"line\": ", frame.line);
    shared.json += '}';
    shared.names.push_back(std::move(name));
  }
  return shared;
}

// Nanoseconds per sample; 0 when the profile has no rate.
int64_t period_nanos(const Profile& profile) {
  if (!(profile.rate_hz > 0)) return 0;
  return static_cast<int64_t>(std::llround(1e9 / profile.rate_hz));
}

std::string profile_name(const Profile& profile, uint32_t thread) {
  std::vector<std::string> roots = thread_root_labels(profile, thread);
  std::string name = roots[0];
  for (size_t i = 1; i < roots.size(); ++i) absl::StrAppend(&name, " / ", roots[i]);
  return name;
}

struct ThreadSamples {
  // Distinct stacks (shared frame indices, root first) and their counts.
  std::map<std::vector<int32_t>, int64_t> counts;
  int64_t total = 0;
};

std::vector<ThreadSamples> samples_by_thread(const Profile& profile, const SharedFrames& shared) {
  std::vector<ThreadSamples> threads(profile.threads.size());
  for (const ProfileStack& stack : profile.stacks) {
    if (stack.count <= 0 || stack.thread >= threads.size()) continue;
    std::vector<int32_t> frames;
    for (uint32_t f : stack.frames) {
      if (f < shared.of_profile_frame.size()) frames.push_back(shared.of_profile_frame[f]);
    }
    threads[stack.thread].counts[frames] += stack.count;
    threads[stack.thread].total += stack.count;
  }
  return threads;
}

// The samples in the folded format's order (by their labels), so that speedscope's "time order"
// view, which has no real time order to show here, groups common prefixes.
std::vector<std::pair<const std::vector<int32_t>*, int64_t>> ordered_samples(
    const ThreadSamples& thread, const SharedFrames& shared) {
  std::vector<std::pair<const std::vector<int32_t>*, int64_t>> samples;
  for (const auto& [frames, count] : thread.counts) samples.emplace_back(&frames, count);
  std::sort(samples.begin(), samples.end(), [&](const auto& a, const auto& b) {
    return std::lexicographical_compare(
        a.first->begin(), a.first->end(), b.first->begin(), b.first->end(),
        [&](int32_t x, int32_t y) { return shared.names[x] < shared.names[y]; });
  });
  return samples;
}

void append_profile(std::string& out, const std::string& name, const ThreadSamples& thread,
                    const SharedFrames& shared, int64_t period) {
  const int64_t weight_per_sample = period > 0 ? period : 1;
  out += "{\"type\": \"sampled\", \"name\": ";
  append_string(out, name);
  absl::StrAppend(&out, ", \"unit\": \"", period > 0 ? "nanoseconds" : "none",
                  "\", \"startValue\": 0, \"endValue\": ", thread.total * weight_per_sample);
  std::string samples, weights;
  for (const auto& [frames, count] : ordered_samples(thread, shared)) {
    if (!samples.empty()) {
      samples += ",\n      ";
      weights += ", ";
    }
    samples += '[';
    for (size_t i = 0; i < frames->size(); ++i) {
      absl::StrAppend(&samples, i ? ", " : "", (*frames)[i]);
    }
    samples += ']';
    absl::StrAppend(&weights, count * weight_per_sample);
  }
  absl::StrAppend(&out, ",\n     \"samples\": [\n      ", samples, "],\n     \"weights\": [",
                  weights, "]}");
}

}  // namespace

std::string format_speedscope(const Profile& profile, std::string_view version) {
  const SharedFrames shared = shared_frames(profile);
  const std::vector<ThreadSamples> threads = samples_by_thread(profile, shared);
  const int64_t period = period_nanos(profile);

  std::string profiles;
  size_t count = 0, active = 0;
  int64_t busiest = 0;
  for (uint32_t t = 0; t < threads.size(); ++t) {
    if (threads[t].total == 0) continue;  // a thread never sampled: an empty profile
    if (threads[t].total > busiest) {
      busiest = threads[t].total;
      active = count;
    }
    if (count++) profiles += ",\n    ";
    append_profile(profiles, profile_name(profile, t), threads[t], shared, period);
  }

  std::string name = "pystack-dump record";
  if (profile.processes.size() == 1) absl::StrAppend(&name, ": ", process_label(profile.processes[0]));

  std::string out = "{\"$schema\": ";
  append_string(out, kSchema);
  absl::StrAppend(&out, ",\n  \"shared\": {\"frames\": [\n    ", shared.json, "]},\n");
  absl::StrAppend(&out, "  \"profiles\": [\n    ", profiles, "],\n  \"name\": ");
  append_string(out, name);
  absl::StrAppend(&out, ",\n  \"activeProfileIndex\": ", active, ",\n  \"exporter\": ");
  append_string(out, "pystack-dump " + std::string(version));
  out += "}\n";
  return out;
}

}  // namespace pystack
