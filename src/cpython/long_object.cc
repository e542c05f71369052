#include "cpython/long_object.h"

#include <cstring>

#include "cpython/releases.h"

namespace pystack {

absl::StatusOr<LongHeader> read_long_header(const RemoteMemory& memory, const Layout& layout,
                                            uint64_t object) {
  LongHeader header;
  if (release_of(layout).long_size == LongSize::kLvTag) {
    absl::StatusOr<uint64_t> tag = read_value<uint64_t>(memory, object + layout.long_object.tag);
    if (!tag.ok()) return tag.status();
    header.ndigits = *tag >> 3;
    header.negative = (*tag & 3) == 2;
  } else {
    absl::StatusOr<int64_t> size = read_value<int64_t>(memory, object + layout.object.var_size);
    if (!size.ok()) return size.status();
    header.negative = *size < 0;
    header.ndigits =
        header.negative ? 0 - static_cast<uint64_t>(*size) : static_cast<uint64_t>(*size);
  }
  return header;
}

absl::StatusOr<std::vector<uint32_t>> read_long_digits(const RemoteMemory& memory,
                                                       const Layout& layout, uint64_t object,
                                                       uint64_t ndigits) {
  // digit is uint16_t in builds with 15-bit digits (PYLONG_BITS_IN_DIGIT=15), else uint32_t.
  const size_t digit_size = layout.long_object.digit_size == 2 ? 2 : 4;
  std::vector<uint8_t> raw(ndigits * digit_size);
  if (!raw.empty()) {
    absl::Status status = memory.read(object + layout.long_object.digits, raw.data(), raw.size());
    if (!status.ok()) return status;
  }
  std::vector<uint32_t> digits(ndigits);
  for (uint64_t i = 0; i < ndigits; ++i) {
    std::memcpy(&digits[i], raw.data() + i * digit_size, digit_size);  // little-endian
  }
  return digits;
}

}  // namespace pystack
