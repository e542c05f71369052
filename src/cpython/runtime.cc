#include "cpython/runtime.h"

#include <string>

#include "absl/strings/str_format.h"
#include "common/errors.h"
#include "cpython/debug_offsets.h"

namespace pystack {
namespace {

// The oldest version this build walks; older tables exist but their walk is not written yet.
constexpr int kOldestSupportedMinor = 11;
constexpr int kNewestSupportedMinor = 13;

bool supported(const PythonVersion& v) {
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
  return PythonRuntime{version, *layout, runtime, binary.code_type};
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
  if (!binary.runtime) {
    PythonVersion named{binary.name_major, binary.name_minor, -1, 0};
    if (named.major != 0) return unsupported(named);
    return make_error(ErrorKind::kNotPython, "no _PyRuntime in " + binary.path);
  }
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
    return PythonRuntime{version, *layout, runtime, binary.code_type};
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
