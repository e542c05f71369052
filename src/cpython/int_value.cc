#include "cpython/int_value.h"

#include "cpython/long_object.h"
#include "memory/remote_memory.h"

namespace pystack {

std::optional<uint64_t> nonnegative_int_value(const ObjectReader& objects, TypeCache& types,
                                              uint64_t object) {
  const Layout& layout = objects.layout();
  const RemoteMemory& memory = objects.memory();
  absl::StatusOr<const TypeInfo*> type = types.of(object);
  if (!type.ok()) return std::nullopt;
  if ((*type)->kind == ReprKind::kInt2) {
    absl::StatusOr<int64_t> value = read_value<int64_t>(memory, object + layout.int_object.value);
    if (!value.ok() || *value < 0) return std::nullopt;
    return static_cast<uint64_t>(*value);
  }
  if ((*type)->kind != ReprKind::kInt) return std::nullopt;
  absl::StatusOr<LongHeader> header = read_long_header(memory, layout, object);
  if (!header.ok() || header->negative) return std::nullopt;
  const uint64_t ndigits = header->ndigits;
  const int shift = static_cast<int>(layout.long_object.shift);
  // At most the digits of 64 bits and one more (zero) digit; divided, not multiplied, so that a
  // corrupt count cannot wrap around the bound.
  if (shift <= 0 || ndigits > (64 + static_cast<uint64_t>(shift)) / static_cast<uint64_t>(shift)) {
    return std::nullopt;
  }
  absl::StatusOr<std::vector<uint32_t>> digits = read_long_digits(memory, layout, object, ndigits);
  if (!digits.ok()) return std::nullopt;
  uint64_t value = 0;
  for (uint64_t i = 0; i < ndigits; ++i) {
    const uint32_t digit = (*digits)[i];
    const uint64_t at = i * shift;
    if (at >= 64) {
      if (digit != 0) return std::nullopt;  // too large
      continue;
    }
    // The bits of this digit that 64 bits cannot hold must be zero.
    if (at + shift > 64 && (static_cast<uint64_t>(digit) >> (64 - at)) != 0) return std::nullopt;
    value |= static_cast<uint64_t>(digit) << at;
  }
  return value;
}

}  // namespace pystack
