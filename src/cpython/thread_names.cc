#include "cpython/thread_names.h"

#include "absl/strings/str_format.h"
#include "cpython/int_value.h"
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
    std::optional<uint64_t> ident = nonnegative_int_value(objects_, types_, item.key);
    if (!ident) continue;
    if (std::optional<std::string> name = name_of(item.value)) names[*ident] = *std::move(name);
  }
  return names;
}

}  // namespace pystack
