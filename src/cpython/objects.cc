#include "cpython/objects.h"

#include "cpython/image.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/str_format.h"

namespace pystack {
namespace {

}  // namespace

std::u32string decode_code_points(const uint8_t* data, uint64_t count, int kind) {
  std::u32string out;
  out.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    switch (kind) {
      case 1: out.push_back(data[i]); break;
      case 2: out.push_back(static_cast<char32_t>(data[2 * i] | (data[2 * i + 1] << 8))); break;
      default: out.push_back(static_cast<char32_t>(load_u32(data + 4 * i))); break;
    }
  }
  return out;
}

absl::StatusOr<uint64_t> ObjectReader::read_pointer(uint64_t address) const {
  return read_value<uint64_t>(memory_, address);
}

absl::StatusOr<uint64_t> ObjectReader::type_of(uint64_t object) const {
  return read_pointer(object + layout_.object.type);
}

absl::StatusOr<uint64_t> ObjectReader::type_flags(uint64_t object) const {
  absl::StatusOr<uint64_t> type = type_of(object);
  if (!type.ok()) return type.status();
  auto it = type_flags_.find(*type);
  if (it != type_flags_.end()) return it->second;
  absl::StatusOr<uint64_t> flags = read_value<uint64_t>(memory_, *type + layout_.type.flags);
  if (!flags.ok()) return flags.status();
  type_flags_.emplace(*type, *flags);
  return *flags;
}

absl::StatusOr<std::optional<PyText>> ObjectReader::read_text(uint64_t object,
                                                              uint64_t max_code_points) const {
  if (object == 0) return std::optional<PyText>();
  absl::StatusOr<uint64_t> flags = type_flags(object);
  if (!flags.ok()) return flags.status();
  if (release_.strings == StringModel::kPython2) {
    return read_string2(object, *flags, max_code_points);
  }
  if (!(*flags & kTpFlagsUnicodeSubclass)) return std::optional<PyText>();
  return read_unicode3(object, max_code_points);
}

// PEP 393 strings: compact ASCII (data after PyASCIIObject), compact (after
// PyCompactUnicodeObject), or legacy (data.any pointer, up to 3.11).
absl::StatusOr<std::optional<PyText>> ObjectReader::read_unicode3(uint64_t object,
                                                                 uint64_t max) const {
  const size_t header_size = static_cast<size_t>(
      std::max(layout_.unicode.compact_size, layout_.unicode.data_any + 8));
  uint8_t header[128];
  if (header_size > sizeof header) return absl::InternalError("unicode layout too large");
  if (absl::Status s = memory_.read(object, header, header_size); !s.ok()) return s;
  const int64_t length = static_cast<int64_t>(load_u64(header + layout_.unicode.length));
  const uint32_t state = load_u32(header + layout_.unicode.state);
  const int kind = (state >> layout_.unicode.kind_shift) & 7;
  const bool compact = (state >> layout_.unicode.compact_bit) & 1;
  const bool ascii = (state >> layout_.unicode.ascii_bit) & 1;
  if (length < 0 || length > (int64_t{1} << 40)) return corrupt("str of impossible length", object);
  if (kind != 1 && kind != 2 && kind != 4) {
    // A legacy string that was never made ready has no data faulthandler can print.
    if (kind == 0 && !compact) return std::optional<PyText>(PyText{});
    return corrupt("str of unknown kind", object);
  }
  uint64_t data = 0;
  if (compact) {
    data = object + (ascii ? layout_.unicode.ascii_size : layout_.unicode.compact_size);
  } else {
    data = load_u64(header + layout_.unicode.data_any);
    if (data == 0) return std::optional<PyText>(PyText{});
  }
  const uint64_t count = std::min<uint64_t>(static_cast<uint64_t>(length), max);
  std::vector<uint8_t> bytes(count * kind);
  if (absl::Status s = memory_.read(data, bytes.data(), bytes.size()); !s.ok()) return s;
  PyText text;
  text.length = static_cast<uint64_t>(length);
  text.code_points = decode_code_points(bytes.data(), count, kind);
  return std::optional<PyText>(std::move(text));
}

// Python 2: str (bytes, shown byte by byte as faulthandler-style code points) or unicode (UCS4
// on Linux builds, data behind a pointer).
absl::StatusOr<std::optional<PyText>> ObjectReader::read_string2(uint64_t object, uint64_t flags,
                                                                 uint64_t max) const {
  if (flags & kTpFlagsStringSubclass2) {
    absl::StatusOr<int64_t> size = read_value<int64_t>(memory_, object + layout_.object.var_size);
    if (!size.ok()) return size.status();
    if (*size < 0 || *size > (int64_t{1} << 40)) return corrupt("str of impossible size", object);
    const uint64_t count = std::min<uint64_t>(*size, max);
    std::vector<uint8_t> bytes(count);
    if (absl::Status s = memory_.read(object + layout_.bytes.sval, bytes.data(), count); !s.ok())
      return s;
    return std::optional<PyText>(PyText{decode_code_points(bytes.data(), count, 1),
                                        static_cast<uint64_t>(*size)});
  }
  if (flags & kTpFlagsUnicodeSubclass2) {
    absl::StatusOr<int64_t> size = read_value<int64_t>(memory_, object + layout_.unicode.length);
    absl::StatusOr<uint64_t> data = read_pointer(object + layout_.unicode.data_any);
    if (!size.ok()) return size.status();
    if (!data.ok()) return data.status();
    if (*size < 0 || *size > (int64_t{1} << 40)) return corrupt("unicode of impossible size", object);
    const uint64_t count = std::min<uint64_t>(*size, max);
    const int char_size = layout_.unicode.char_size == 2 ? 2 : 4;  // --enable-unicode=ucs2/ucs4
    std::vector<uint8_t> bytes(count * char_size);
    if (absl::Status s = memory_.read(*data, bytes.data(), bytes.size()); !s.ok()) return s;
    return std::optional<PyText>(PyText{decode_code_points(bytes.data(), count, char_size),
                                        static_cast<uint64_t>(*size)});
  }
  return std::optional<PyText>();
}

absl::StatusOr<std::string> ObjectReader::read_bytes(uint64_t object) const {
  absl::StatusOr<int64_t> size = read_value<int64_t>(memory_, object + layout_.object.var_size);
  if (!size.ok()) return size.status();
  if (*size < 0 || static_cast<uint64_t>(*size) > kMaxBytesLength) {
    return corrupt("bytes of impossible size", object);
  }
  std::string out(static_cast<size_t>(*size), '\0');
  if (absl::Status s = memory_.read(object + layout_.bytes.sval, out.data(), out.size()); !s.ok())
    return s;
  return out;
}

}  // namespace pystack
