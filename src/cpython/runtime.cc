#include "cpython/runtime.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/errors.h"
#include "cpython/debug_offsets.h"
#include "cpython/debug_offsets_format.h"
#include "cpython/interpreter_scan.h"

namespace pystack {
namespace {

std::string version_text(const PythonVersion& v) {
  return v.micro >= 0 ? absl::StrFormat("%d.%d.%d", v.major, v.minor, v.micro)
                      : absl::StrFormat("%d.%d", v.major, v.minor);
}

absl::Status unsupported(const PythonVersion& v) {
  return make_error(ErrorKind::kUnsupportedVersion,
                    absl::StrFormat("Python %s is not supported by this build of pystack-dump",
                                    version_text(v)),
                    "supported versions: " + supported_versions());
}

absl::StatusOr<PythonRuntime> with_layout(PythonVersion version, uint64_t runtime,
                                          const PythonBinary& binary) {
  const Release* release = find_release(version);
  if (release == nullptr) return unsupported(version);
  PythonRuntime out{version, *release->layout, runtime, 0, 0, binary.code_type};
  return out;
}

absl::Status unknown_version(const PythonBinary& binary, const std::string& why) {
  return make_error(ErrorKind::kUnsupportedVersion,
                    "cannot tell the Python version of " + binary.path + why,
                    "supported versions: " + supported_versions());
}

// The versions among the binary's PY_VERSION-like strings that this build can read and that
// have (3.7+) or lack (2.7, 3.6) a _PyRuntime like the binary does; one per minor version.
std::vector<PythonVersion> rodata_candidates(const PythonBinary& binary, bool has_runtime) {
  std::vector<PythonVersion> out;
  for (const VersionString& s : binary.rodata_versions) {
    PythonVersion v{s.major, s.minor, s.micro, 0};
    const Release* release = find_release(v);
    if (release == nullptr || release->version_source != VersionSource::kNameOrRodata) continue;
    const bool release_has_runtime = release->interpreter_list == InterpreterListHead::kRuntime;
    if (release_has_runtime != has_runtime) continue;
    bool seen = false;
    for (const PythonVersion& o : out) seen = seen || (o.major == v.major && o.minor == v.minor);
    if (!seen) out.push_back(v);
  }
  return out;
}

// The version of a binary whose name does not say it (a static executable renamed, an embedding
// program, a renamed libpython): the PY_VERSION string in its .rodata. When several fit, the one
// whose layout finds an interpreter through `head_slot(layout)` (the interpreter list's head).
template <typename HeadSlot>
absl::StatusOr<PythonVersion> version_from_rodata(const RemoteMemory& memory,
                                                  const PythonBinary& binary, bool has_runtime,
                                                  const HeadSlot& head_slot) {
  std::vector<PythonVersion> candidates = rodata_candidates(binary, has_runtime);
  if (candidates.empty()) return unknown_version(binary, " (no version in its name or data)");
  if (candidates.size() == 1) return candidates.front();
  std::vector<PythonVersion> fitting;
  for (const PythonVersion& v : candidates) {
    const Layout& layout = *find_release(v)->layout;
    std::optional<uint64_t> slot = head_slot(layout);
    if (!slot) continue;
    absl::StatusOr<uint64_t> head = read_value<uint64_t>(memory, *slot);
    if (head.ok() && is_interpreter(memory, layout, *head)) fitting.push_back(v);
  }
  if (fitting.size() == 1) return fitting.front();
  std::string names;
  for (const PythonVersion& v : candidates) names += (names.empty() ? "" : ", ") + version_text(v);
  return unknown_version(binary, " (it names " + names + ")");
}

// 2.7 and 3.6 have no _PyRuntime: the interpreter list starts at the static interp_head, or, in
// a stripped binary, at a slot of its data found by interpreter_scan.
absl::StatusOr<PythonRuntime> without_runtime(const RemoteMemory& memory,
                                              const PythonBinary& binary) {
  PythonVersion version{binary.name_major, binary.name_minor, -1, 0};
  if (version.major == 0) {
    absl::StatusOr<PythonVersion> found =
        version_from_rodata(memory, binary, /*has_runtime=*/false,
                            [&](const Layout&) { return binary.interp_head; });
    if (!found.ok()) return found.status();
    version = *found;
  }
  absl::StatusOr<PythonRuntime> runtime = with_layout(version, 0, binary);
  if (!runtime.ok()) return runtime;
  if (binary.interp_head) {
    runtime->interp_head_address = *binary.interp_head;
  } else {
    absl::StatusOr<uint64_t> slot = find_interpreter_head_slot(
        memory, runtime->layout, binary.writable_data, binary.thread_state_current);
    if (!slot.ok()) {
      return make_error(ErrorKind::kRuntimeUnreadable,
                        "no interp_head symbol in " + binary.path + " (stripped?), and " +
                            std::string(slot.status().message()),
                        error_hint(slot.status()));
    }
    runtime->interp_head_address = *slot;
  }
  runtime->thread_state_current_address = binary.thread_state_current.value_or(0);
  return runtime;
}

// The table an image is read with: the release's, or its free-threaded build's (nullptr: none).
const Layout* table_for(std::string_view image, const Release& release) {
  const bool free_threaded = debug_offsets_word(image, kDebugOffsetsFreeThreadedWord) != 0;
  return free_threaded ? release.free_threaded_layout : release.layout;
}

absl::Status free_threaded_unsupported(const Release& release) {
  return make_error(ErrorKind::kUnsupportedVersion,
                    absl::StrFormat("free-threaded builds of Python %d.%d are not supported by "
                                    "this build of pystack-dump",
                                    release.major, release.minor),
                    "supported versions: " + supported_versions());
}

// The Layout a _Py_DebugOffsets image gives, as the release's row says: its offsets laid over
// the table generated from the version's headers (3.13), or the layout of the 3.14+ struct that
// matches, the table filling in what it does not publish (debug_offsets_314.cc).
absl::StatusOr<Layout> layout_from_image(std::string_view image, const Release& release) {
  const Layout* table = table_for(image, release);
  switch (release.layout_source) {
    case LayoutSource::kDebugOffsets313:
      if (table == nullptr) return free_threaded_unsupported(release);
      return layout_from_debug_offsets_313(image, *table);
    case LayoutSource::kDebugOffsets314:
      if (table == nullptr) return free_threaded_unsupported(release);
      break;
    case LayoutSource::kGenerated:
      return *release.layout;
  }
  absl::StatusOr<Layout> layout = layout_from_debug_offsets(image, table);
  if (layout.status().code() == absl::StatusCode::kUnimplemented) {
    return make_error(ErrorKind::kUnsupportedVersion, std::string(layout.status().message()),
                      "supported versions: " + supported_versions());
  }
  return layout;
}

bool newer_than_known(const PythonVersion& v) {
  const Release& newest = newest_release();
  return v.major == newest.major && v.minor > newest.minor;
}

// A release newer than any this build knows is read as the newest known one only when its
// _Py_DebugOffsets has that release's layout and every offset checks out; otherwise refused.
absl::StatusOr<PythonRuntime> newer_runtime(std::string_view image, const PythonVersion& version,
                                            uint64_t runtime, const PythonBinary& binary) {
  const Release& newest = newest_release();
  const int major = newest.major, minor = newest.minor;
  const Layout* table = table_for(image, newest);
  if (table == nullptr) return free_threaded_unsupported(newest);
  absl::StatusOr<Layout> layout = layout_from_debug_offsets_as(image, table, major, minor);
  if (!layout.ok()) {
    return make_error(
        ErrorKind::kUnsupportedVersion,
        absl::StrFormat("Python %s is not supported by this build of pystack-dump: it is newer "
                        "than %d.%d, and its _Py_DebugOffsets does not have %d.%d's layout (%s)",
                        version_text(version), major, minor, major, minor,
                        layout.status().message()),
        "supported versions: " + supported_versions());
  }
  PythonRuntime out{version, *layout, runtime, 0, 0, binary.code_type};
  out.read_as = PythonVersion{major, minor, -1, 0};
  return out;
}

}  // namespace

bool is_unverified_free_threaded(const PythonRuntime& runtime) {
  return runtime.layout.free_threaded != 0 && !release_of(runtime.layout).free_threaded_verified;
}

PythonVersion version_from_hex(uint64_t hex) {
  PythonVersion v;
  v.major = static_cast<int>((hex >> 24) & 0xff);
  v.minor = static_cast<int>((hex >> 16) & 0xff);
  v.micro = static_cast<int>((hex >> 8) & 0xff);
  v.hex = static_cast<uint32_t>(hex);
  return v;
}

absl::StatusOr<PythonRuntime> identify_runtime(const RemoteMemory& memory,
                                               const PythonBinary& binary) {
  if (!binary.runtime) return without_runtime(memory, binary);
  const uint64_t runtime = *binary.runtime;

  // 3.13+: the runtime describes itself.
  std::string image(debug_offsets_read_size(), '\0');
  if (memory.read(runtime, image.data(), image.size()).ok() && has_debug_offsets(image)) {
    PythonVersion version = version_from_hex(debug_offsets_version(image));
    if (newer_than_known(version)) return newer_runtime(image, version, runtime, binary);
    const Release* release = find_release(version);
    if (release == nullptr) return unsupported(version);
    absl::StatusOr<Layout> layout = layout_from_image(image, *release);
    if (!layout.ok()) {
      if (error_kind(layout.status()) != ErrorKind::kInternal) return layout.status();
      return make_error(ErrorKind::kRuntimeUnreadable, std::string(layout.status().message()),
                        "the process's memory may be corrupt");
    }
    return PythonRuntime{version, *layout, runtime, 0, 0, binary.code_type};
  }
  // 3.11+: Py_Version.
  if (binary.py_version) {
    absl::StatusOr<uint32_t> hex = read_value<uint32_t>(memory, *binary.py_version);
    if (!hex.ok()) {
      if (error_kind(hex.status()) == ErrorKind::kProcessExited) return hex.status();
      return make_error(ErrorKind::kRuntimeUnreadable, "cannot read Py_Version: " +
                                                   std::string(hex.status().message()));
    }
    return with_layout(version_from_hex(*hex), runtime, binary);
  }
  // 3.7-3.10: the file name tells major.minor, else the PY_VERSION string in the file.
  PythonVersion version{binary.name_major, binary.name_minor, -1, 0};
  if (version.major == 0) {
    absl::StatusOr<PythonVersion> found = version_from_rodata(
        memory, binary, /*has_runtime=*/true, [&](const Layout& layout) -> std::optional<uint64_t> {
          return runtime + layout.runtime.interpreters_head;
        });
    if (!found.ok()) return found.status();
    version = *found;
  }
  return with_layout(version, runtime, binary);
}

}  // namespace pystack
