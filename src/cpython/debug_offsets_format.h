// What every version's _Py_DebugOffsets shares, for debug_offsets.cc and debug_offsets_314.cc: a
// layout of the struct as data (its sections and their fields, in declaration order; every field
// is one uint64_t, after the header words cookie, version and free_threaded), and the one reader
// that lays an image, read through such a layout, over a Layout.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cpython/layout.h"

namespace pystack {

inline constexpr int kDebugOffsetsHeaderWords = 3;  // cookie, version, free_threaded
inline constexpr int kDebugOffsetsVersionWord = 1;
inline constexpr int kDebugOffsetsFreeThreadedWord = 2;

struct DebugOffsetsSection {
  std::string_view name;
  std::string fields;  // space-separated, in declaration order
};

struct DebugOffsetsFormat {
  int major;
  int minor;
  std::string_view source;  // where the declaration was read
  std::vector<DebugOffsetsSection> sections;
};

// CPython 3.13's layout (3.14+'s are in debug_offsets_314.cc).
const DebugOffsetsFormat& debug_offsets_format_313();

// Word `index` of `image`; requires image.size() >= (index + 1) * 8.
uint64_t debug_offsets_word(std::string_view image, int index);

// How many words an image of `format` has, header included.
int debug_offsets_word_count(const DebugOffsetsFormat& format);

// `section.field` of `image` read through `format`; nullopt when the format has no such field or
// the image is shorter than the format.
std::optional<uint64_t> debug_offsets_field(std::string_view image,
                                            const DebugOffsetsFormat& format,
                                            std::string_view section, std::string_view field);

// `format` without `section.field`: for a layout that differs from another by one field.
DebugOffsetsFormat without_field(DebugOffsetsFormat format, std::string_view source,
                                 std::string_view section, std::string_view field);

// The Layout `image` gives read through `format` (requires the image to be long enough): every
// published offset, checked against the size of its struct, over `base` (or an empty Layout),
// with format.major and format.minor. Fields a format lacks (3.13 has no set_object) keep the
// base's value. kDataLoss when an offset cannot be trusted.
absl::StatusOr<Layout> read_debug_offsets(std::string_view image, const DebugOffsetsFormat& format,
                                          const Layout* base);

}  // namespace pystack
