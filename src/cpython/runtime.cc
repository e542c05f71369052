#include "cpython/runtime.h"

#include <cstdlib>
#include <string>

#include "absl/strings/str_format.h"
#include "common/errors.h"
#include "cpython/debug_offsets.h"

namespace pystack {
namespace {

constexpr int kOldestSupportedMinor = 11;
constexpr int kNewestSupportedMinor = 13;
// Set PYSTACK_DUMP_EXPERIMENTAL=1 to read 2.7 and 3.6-3.10 before their tests are complete.
bool experimental() { return std::getenv("PYSTACK_DUMP_EXPERIMENTAL") != nullptr; }

bool supported(const PythonVersion& v) {
  if (experimental() && ((v.major == 2 && v.minor == 7) || (v.major == 3 && v.minor >= 6))) {
    return v.minor <= kNewestSupportedMinor || v.major == 2;
  }
  return v.major == 3 && v.minor >= kOldestSupportedMinor && v.minor <= kNewestSupportedMinor;
}

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
  if (!supported(version)) return unsupported(version);
  const Layout* layout = find_layout(version.major, version.minor);
  if (layout == nullptr) return unsupported(version);
  PythonRuntime out{version, *layout, runtime, 0, 0, binary.code_type};
  return out;
}

// 2.7 and 3.6 have no _PyRuntime: the interpreter list starts at the static interp_head.
absl::StatusOr<PythonRuntime> without_runtime(const PythonBinary& binary) {
  PythonVersion named{binary.name_major, binary.name_minor, -1, 0};
  if (named.major == 0) {
    return make_error(ErrorKind::kUnsupportedVersion,
                      "cannot tell the Python version of " + binary.path,
                      "supported versions: " + supported_versions());
  }
  if (!binary.interp_head) {
    return make_error(ErrorKind::kNotPython,
                      "no interp_head symbol in " + binary.path + " (stripped?)",
                      "Python 2.7 and 3.6 need the interpreter's full symbol table");
  }
  absl::StatusOr<PythonRuntime> runtime = with_layout(named, 0, binary);
  if (!runtime.ok()) return runtime;
  runtime->interp_head_address = *binary.interp_head;
  runtime->thread_state_current_address = binary.thread_state_current.value_or(0);
  return runtime;
}

}  // namespace

std::string supported_versions() {
  std::string out;
  for (int minor = kOldestSupportedMinor; minor <= kNewestSupportedMinor; ++minor) {
    if (!out.empty()) out += ", ";
    out += absl::StrFormat("3.%d", minor);
  }
  return out;
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
  if (!binary.runtime) return without_runtime(binary);
  const uint64_t runtime = *binary.runtime;

  // 3.13+: the runtime describes itself.
  std::string image(kDebugOffsetsSize313, '\0');
  if (memory.read(runtime, image.data(), image.size()).ok() && has_debug_offsets(image)) {
    PythonVersion version = version_from_hex(debug_offsets_version(image));
    if (!supported(version)) return unsupported(version);
    const Layout* base = find_layout(version.major, version.minor);
    if (base == nullptr) return unsupported(version);
    absl::StatusOr<Layout> layout = layout_from_debug_offsets_313(image, *base);
    if (!layout.ok()) {
      return make_error(ErrorKind::kNotPython, std::string(layout.status().message()),
                        "the process's memory may be corrupt");
    }
    return PythonRuntime{version, *layout, runtime, 0, 0, binary.code_type};
  }
  // 3.11+: Py_Version.
  if (binary.py_version) {
    absl::StatusOr<uint32_t> hex = read_value<uint32_t>(memory, *binary.py_version);
    if (!hex.ok()) {
      return make_error(ErrorKind::kNotPython, "cannot read Py_Version: " +
                                                   std::string(hex.status().message()));
    }
    return with_layout(version_from_hex(*hex), runtime, binary);
  }
  // Older versions: the file name tells major.minor.
  PythonVersion named{binary.name_major, binary.name_minor, -1, 0};
  if (named.major == 0) {
    return make_error(ErrorKind::kUnsupportedVersion,
                      "cannot tell the Python version of " + binary.path,
                      "supported versions: " + supported_versions());
  }
  return with_layout(named, runtime, binary);
}

}  // namespace pystack
