// _Py_DebugOffsets images (3.13, and 3.14+ matched against every known layout) as a target
// might hold them: the cookie and version put in front, the rest hostile.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cpython/debug_offsets.h"
#include "cpython/releases.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pystack::fuzz::FuzzInput in(data, size);
  const uint8_t minor = in.take<uint8_t>();
  std::string image(pystack::kDebugOffsetsCookie);
  // PY_VERSION_HEX of 3.13-3.16, final releases, as the cookie's next word.
  const uint64_t hex = (uint64_t{3} << 24) | (uint64_t{13u + minor % 4} << 16) | 0xf0;
  image.append(reinterpret_cast<const char*>(&hex), sizeof hex);
  image.append(in.rest());
  if (!pystack::has_debug_offsets(image)) return 0;
  const pystack::Layout* base313 = pystack::find_layout(3, 13);
  if (base313 != nullptr) (void)pystack::layout_from_debug_offsets_313(image, *base313);
  (void)pystack::layout_from_debug_offsets(image, pystack::find_layout(3, 14));
  (void)pystack::layout_from_debug_offsets(image);
  (void)pystack::layout_from_debug_offsets_as(image, pystack::find_layout(3, 15), 3, 15);
  return 0;
}
