#include "cpython/thread_names.h"

#include "absl/strings/str_format.h"
#include "cpython/long_object.h"
#include "cpython/repr.h"

namespace pystack {
namespace {

constexpr size_t kMaxActiveThreads = 1 << 16;

}  // namespace

// sys.modules['threading'].__dict__['_active'], or 0 when there is none.
absl::StatusOr<uint64_t> ThreadNameReader::threading_active(uint64_t interp) {
  const Layout& layout = objects_.layout();
  if (layout.interp.modules < 0) return uint64_t{0};
  absl::StatusOr<uint64_t> modules = objects_.read_pointer(interp + layout.interp.modules);
  if (!modules.ok()) return modules.status();
  if (*modules == 0) return uint64_t{0};
  absl::StatusOr<std::optional<uint64_t>> module = dicts_.find(*modules, "threading");
  if (!module.ok()) return module.status();
  if (!module->has_value()) return uint64_t{0};
  absl::StatusOr<const TypeInfo*> type = types_.of(**module);
  if (!type.ok()) return type.status();
  if ((*type)->kind != ReprKind::kModule) return uint64_t{0};
  absl::StatusOr<uint64_t> dict = objects_.read_pointer(**module + layout.module.dict);
  if (!dict.ok()) return dict.status();
  if (*dict == 0) return uint64_t{0};
  absl::StatusOr<std::optional<uint64_t>> active = dicts_.find(*dict, "_active");
  if (!active.ok()) return active.status();
  if (!active->has_value()) return uint64_t{0};
  type = types_.of(**active);
  if (!type.ok()) return type.status();
  return (*type)->kind == ReprKind::kDict ? **active : 0;
}

// A non-negative int (2.7: int or long) that fits in 64 bits.
std::optional<uint64_t> ThreadNameReader::int_value(uint64_t object) {
  const Layout& layout = objects_.layout();
  const RemoteMemory& memory = objects_.memory();
  absl::StatusOr<const TypeInfo*> type = types_.of(object);
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
    if (i * shift >= 64 && digit != 0) return std::nullopt;  // too large
    if (i * shift < 64) value |= static_cast<uint64_t>(digit) << (i * shift);
  }
  return value;
}

std::optional<std::string> ThreadNameReader::name_of(uint64_t thread) {
  absl::StatusOr<const TypeInfo*> type = types_.of(thread);
  if (!type.ok()) return std::nullopt;
  const char* attribute = objects_.release().thread_name_attribute;
  absl::StatusOr<std::optional<uint64_t>> name = dicts_.find_attribute(thread, **type, attribute);
  if (!name.ok() || !name->has_value()) return std::nullopt;
  absl::StatusOr<const TypeInfo*> name_type = types_.of(**name);
  if (!name_type.ok()) return std::nullopt;
  if ((*name_type)->kind == ReprKind::kBytes) {  // a Python 2 str: its bytes as they are
    absl::StatusOr<std::string> bytes = objects_.read_bytes(**name);
    if (!bytes.ok()) return std::nullopt;
    return bytes->substr(0, kMaxThreadNameBytes);
  }
  absl::StatusOr<std::optional<PyText>> text = objects_.read_text(**name, kMaxThreadNameBytes);
  if (!text.ok() || !text->has_value()) return std::nullopt;
  return to_utf8((*text)->code_points);
}

absl::StatusOr<absl::flat_hash_map<uint64_t, std::string>> ThreadNameReader::read(uint64_t interp) {
  absl::flat_hash_map<uint64_t, std::string> names;
  if (!has_object_layout(objects_.layout())) return names;
  absl::StatusOr<uint64_t> active = threading_active(interp);
  if (!active.ok()) return active.status();
  if (*active == 0) return names;
  std::vector<DictItem> items;
  bool cut = false;
  if (absl::Status s = dicts_.items(*active, kMaxActiveThreads, items, cut); !s.ok()) return s;
  for (const DictItem& item : items) {
    std::optional<uint64_t> ident = int_value(item.key);
    if (!ident) continue;
    if (std::optional<std::string> name = name_of(item.value)) names[*ident] = *std::move(name);
  }
  return names;
}

}  // namespace pystack
