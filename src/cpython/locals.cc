#include "cpython/locals.h"

#include "cpython/image.h"

#include <map>

#include "absl/strings/str_format.h"
#include "cpython/repr.h"
#include "cpython/stack_ref.h"

namespace pystack {
namespace {

// co_localspluskinds bits (Include/internal/pycore_code.h); before 3.11 the same kinds are
// derived from which tuple names the slot.
constexpr uint8_t kFastHidden = 0x10;  // 3.12+: an inlined comprehension's variable
constexpr uint8_t kFastLocal = 0x20;
constexpr uint8_t kFastCell = 0x40;
constexpr uint8_t kFastFree = 0x80;
constexpr int32_t kCoOptimized = 0x0001;

constexpr int64_t kMaxSlots = 1 << 16;
constexpr size_t kMaxNameCodePoints = 1024;

}  // namespace

LocalsReader::LocalsReader(const ObjectReader& objects, TypeCache& types, const DictReader& dicts,
                           ObjectRepr& reprs)
    : objects_(objects), types_(types), dicts_(dicts), reprs_(reprs) {}

absl::StatusOr<const LocalsReader::CodeSlots*> LocalsReader::code_slots(uint64_t code) {
  auto it = codes_.find(code);
  if (it != codes_.end()) return &it->second;
  absl::StatusOr<CodeSlots> slots = read_code_slots(code);
  if (!slots.ok()) return slots.status();
  return &codes_.emplace(code, *std::move(slots)).first->second;
}

// Appends the names held by the tuple at `tuple` (at most `count` of them; fewer slots are
// filled with unnamed ones) as slots of `kind`.
absl::Status LocalsReader::append_names(uint64_t tuple, uint8_t kind, size_t count,
                                        CodeSlots& slots) const {
  const Layout& layout = objects_.layout();
  absl::StatusOr<int64_t> size = read_value<int64_t>(objects_.memory(), tuple + layout.object.var_size);
  if (!size.ok()) return size.status();
  if (*size < 0 || *size > kMaxSlots) return corrupt("corrupt name tuple", tuple);
  const size_t named = std::min<size_t>(count, static_cast<size_t>(*size));
  std::vector<uint64_t> items(named);
  if (named > 0) {
    if (absl::Status s = objects_.memory().read(tuple + layout.tuple.items, items.data(), named * 8);
        !s.ok()) {
      return s;
    }
  }
  for (size_t i = 0; i < count; ++i) {
    slots.names.push_back(i < named ? key_text(items[i]) : std::nullopt);
    slots.kinds.push_back(kind);
  }
  return absl::OkStatus();
}

absl::StatusOr<LocalsReader::CodeSlots> LocalsReader::read_code_slots(uint64_t code) const {
  const Layout& layout = objects_.layout();
  const RemoteMemory& memory = objects_.memory();
  CodeSlots slots;
  absl::StatusOr<int32_t> flags = read_value<int32_t>(memory, code + layout.code.flags);
  if (!flags.ok()) return flags.status();
  slots.flags = *flags;
  if (objects_.release().frames != FrameChain::kFrameObjects) {  // 3.11+: co_localsplus*
    absl::StatusOr<uint64_t> names = objects_.read_pointer(code + layout.code.localsplusnames);
    absl::StatusOr<uint64_t> kinds = objects_.read_pointer(code + layout.code.localspluskinds);
    if (!names.ok() || !kinds.ok()) return corrupt("unreadable code object", code);
    absl::StatusOr<int64_t> count = read_value<int64_t>(memory, *names + layout.object.var_size);
    if (!count.ok()) return count.status();
    if (*count < 0 || *count > kMaxSlots) return corrupt("corrupt co_localsplusnames", code);
    if (absl::Status s = append_names(*names, 0, static_cast<size_t>(*count), slots); !s.ok())
      return s;
    absl::StatusOr<std::string> kind_bytes = objects_.read_bytes(*kinds);
    if (!kind_bytes.ok()) return kind_bytes.status();
    if (kind_bytes->size() != slots.kinds.size()) return corrupt("corrupt co_localspluskinds", code);
    for (size_t i = 0; i < kind_bytes->size(); ++i) slots.kinds[i] = static_cast<uint8_t>((*kind_bytes)[i]);
    return slots;
  }
  absl::StatusOr<int32_t> nlocals = read_value<int32_t>(memory, code + layout.code.nlocals);
  absl::StatusOr<uint64_t> varnames = objects_.read_pointer(code + layout.code.varnames);
  absl::StatusOr<uint64_t> cellvars = objects_.read_pointer(code + layout.code.cellvars);
  absl::StatusOr<uint64_t> freevars = objects_.read_pointer(code + layout.code.freevars);
  if (!nlocals.ok() || !varnames.ok() || !cellvars.ok() || !freevars.ok()) {
    return corrupt("unreadable code object", code);
  }
  if (*nlocals < 0 || *nlocals > kMaxSlots) return corrupt("corrupt co_nlocals", code);
  auto tuple_size = [&](uint64_t tuple) -> absl::StatusOr<size_t> {
    absl::StatusOr<int64_t> size = read_value<int64_t>(memory, tuple + layout.object.var_size);
    if (!size.ok()) return size.status();
    if (*size < 0 || *size > kMaxSlots) return corrupt("corrupt name tuple", tuple);
    return static_cast<size_t>(*size);
  };
  absl::StatusOr<size_t> ncells = tuple_size(*cellvars);
  absl::StatusOr<size_t> nfrees = tuple_size(*freevars);
  if (!ncells.ok() || !nfrees.ok()) return corrupt("unreadable code object", code);
  absl::Status s = append_names(*varnames, kFastLocal, static_cast<size_t>(*nlocals), slots);
  if (s.ok()) s = append_names(*cellvars, kFastCell, *ncells, slots);
  if (s.ok()) s = append_names(*freevars, kFastFree, *nfrees, slots);
  if (!s.ok()) return s;
  return slots;
}

std::optional<std::string> LocalsReader::key_text(uint64_t key) const {
  absl::StatusOr<std::optional<PyText>> text = objects_.read_text(key, kMaxNameCodePoints);
  if (!text.ok() || !text->has_value()) return std::nullopt;
  return to_utf8((*text)->code_points);
}

// A cell's content (0 when empty); anything that is not a cell is returned as is (a 3.11+ cell
// slot before MAKE_CELL ran holds the plain argument).
uint64_t LocalsReader::cell_content(uint64_t value) {
  absl::StatusOr<const TypeInfo*> type = types_.of(value);
  if (!type.ok() || (*type)->kind != ReprKind::kCell || !(*type)->exact) return value;
  absl::StatusOr<uint64_t> content = objects_.read_pointer(value + objects_.layout().cell.ref);
  return content.ok() ? *content : value;
}

std::vector<Local> LocalsReader::read(uint64_t frame, uint64_t code) {
  std::vector<Local> out;
  if (!has_object_layout(objects_.layout())) return out;
  absl::StatusOr<const CodeSlots*> slots_or = code_slots(code);
  if (!slots_or.ok()) return out;
  const CodeSlots& slots = **slots_or;
  const Layout& layout = objects_.layout();
  const bool interpreter_frame = objects_.release().frames != FrameChain::kFrameObjects;
  const uint64_t localsplus =
      frame + (interpreter_frame ? layout.iframe.localsplus : layout.frame.localsplus);
  const int64_t locals_dict = interpreter_frame ? layout.iframe.locals : layout.frame.locals;
  const bool optimized = slots.flags & kCoOptimized;
  const bool hidden_only =
      objects_.release().unoptimized_fast_locals == UnoptimizedFastLocals::kHiddenOnly;

  std::map<std::string, uint64_t> values;  // sorted as Python sorts str: by code point
  std::map<std::string, int64_t> tagged_ints;  // 3.14+: ints held in the slot itself
  if (!optimized) {
    absl::StatusOr<uint64_t> dict = objects_.read_pointer(frame + locals_dict);
    if (dict.ok() && *dict != 0) {
      dicts_.for_each(*dict, [&](uint64_t key, uint64_t value) {
        if (std::optional<std::string> name = key_text(key)) values[*name] = value;
        return values.size() <= kMaxSlots;
      }).IgnoreError();  // what was read is shown
    }
  }
  // Unreadable slots leave what the dict had (nothing, for a function).
  std::vector<uint64_t> slot_values(slots.names.size());
  const bool readable =
      slot_values.empty() ||
      objects_.memory().read(localsplus, slot_values.data(), slot_values.size() * 8).ok();
  for (size_t i = 0; readable && i < slots.names.size(); ++i) {
    const uint8_t kind = slots.kinds[i];
    if (!slots.names[i]) continue;
    if (!optimized && (kind & kFastFree)) continue;
    if (!optimized && hidden_only && !(kind & kFastHidden)) continue;
    const StackRef ref = decode_stack_ref(objects_.release(), slot_values[i]);
    if (ref.is_int) {
      tagged_ints[*slots.names[i]] = ref.int_value;
      values[*slots.names[i]] = 0;
      continue;
    }
    uint64_t value = ref.object;
    if (value != 0 && (kind & (kFastCell | kFastFree))) value = cell_content(value);
    if (value == 0) {
      values.erase(*slots.names[i]);
    } else {
      values[*slots.names[i]] = value;
    }
  }
  for (const auto& [name, value] : values) {
    if (out.size() == kMaxLocalsPerFrame) {
      out.push_back({"...", absl::StrFormat("<%d more not shown>", values.size() - out.size())});
      break;
    }
    auto tagged = tagged_ints.find(name);
    out.push_back({name, tagged != tagged_ints.end() && value == 0
                             ? std::to_string(tagged->second)
                             : reprs_.repr(value)});
  }
  return out;
}

}  // namespace pystack
