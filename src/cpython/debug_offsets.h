// _Py_DebugOffsets (3.13+): the offsets a CPython runtime publishes about itself at the start of
// _PyRuntime, behind the cookie "xdebugpy". Parsing is a pure function of the bytes.
#pragma once

#include <cstdint>
#include <string_view>

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
// checking that every offset lies inside the size of its struct. Fails (kUnsupportedVersion
// or corrupt data) when the offsets cannot be trusted.
absl::StatusOr<Layout> layout_from_debug_offsets_313(std::string_view image, const Layout& base);

}  // namespace pystack
