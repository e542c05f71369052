// _Py_DebugOffsets (3.13+): the offsets a CPython runtime publishes about itself at the start of
// _PyRuntime, behind the cookie "xdebugpy". Parsing is a pure function of the bytes, by one
// reader for every version (debug_offsets.cc) of layouts kept as data (debug_offsets_format.h).
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "cpython/layout.h"

namespace pystack {

inline constexpr std::string_view kDebugOffsetsCookie = "xdebugpy";
// The size of the 3.13 struct: 73 64-bit words (cookie included).
inline constexpr size_t kDebugOffsetsSize313 = 73 * 8;

// True when `image` starts with the cookie.
bool has_debug_offsets(std::string_view image);
// PY_VERSION_HEX stored after the cookie (requires has_debug_offsets).
uint64_t debug_offsets_version(std::string_view image);

// Overlays the 3.13 _Py_DebugOffsets in `image` onto `base` (the generated 3.13 table), after
// checking that every offset lies inside the size of its struct (as for 3.14+). kDataLoss when
// the image is truncated or the offsets cannot be trusted.
absl::StatusOr<Layout> layout_from_debug_offsets_313(std::string_view image, const Layout& base);

// ---- 3.14+ (debug_offsets_314.cc) ----

// How many bytes of _PyRuntime to read so that every _Py_DebugOffsets this build knows fits.
size_t debug_offsets_read_size();

// 3.14+: the whole Layout, from the target's _Py_DebugOffsets and from constants of the version's
// headers (no table is generated for these versions). The struct grows between versions, and
// between pre-releases of one version, and says nothing of its own size: the image is matched
// against every layout known for its major.minor by values any GIL build of CPython has (see
// debug_offsets_314.cc), then every offset is checked against the size of its struct.
// Errors: kUnimplemented when no known layout matches (an unknown pre-release) or for a
// free-threaded build; kDataLoss when the matched offsets cannot be trusted.
// `base`, when given, is the table generated from the version's headers: fields the target does
// not publish (the object model that --locals and thread names read) come from it, every
// published offset from the target.
absl::StatusOr<Layout> layout_from_debug_offsets(std::string_view image,
                                                 const Layout* base = nullptr);

// The newest major.minor whose _Py_DebugOffsets this build knows (3.15).
std::pair<int, int> newest_known_debug_offsets();

// For a release newer than any known: `image` read with the layouts of `as_major.as_minor`
// (and `base`, that version's table). The Layout's major and minor are as_major and as_minor:
// the model it follows. Errors as layout_from_debug_offsets, kUnimplemented when no layout fits.
absl::StatusOr<Layout> layout_from_debug_offsets_as(std::string_view image, const Layout* base,
                                                    int as_major, int as_minor);

}  // namespace pystack
