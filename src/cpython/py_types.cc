#include "cpython/py_types.h"

#include <cstring>
#include <initializer_list>

#include "absl/strings/str_format.h"

namespace pystack {
namespace {

constexpr uint64_t kTpFlagsIntSubclass2 = 1ULL << 23;  // 2.7 int
constexpr uint64_t kTpFlagsLongSubclass = 1ULL << 24;
constexpr uint64_t kTpFlagsListSubclass = 1ULL << 25;
constexpr uint64_t kTpFlagsTupleSubclass = 1ULL << 26;
constexpr uint64_t kTpFlagsBytesSubclass3 = 1ULL << 27;  // 2.7: str
constexpr uint64_t kTpFlagsUnicodeSubclass3 = 1ULL << 28;
constexpr uint64_t kTpFlagsDictSubclass = 1ULL << 29;
constexpr uint64_t kTpFlagsTypeSubclass = 1ULL << 31;

struct Builtin {
  const char* name;
  uint64_t required_flag;  // 0: none
  ReprKind kind;
};

constexpr Builtin kBuiltins3[] = {
    {"object", 0, ReprKind::kObject},
    {"NoneType", 0, ReprKind::kNone},
    {"bool", kTpFlagsLongSubclass, ReprKind::kBool},
    {"int", kTpFlagsLongSubclass, ReprKind::kInt},
    {"float", 0, ReprKind::kFloat},
    {"str", kTpFlagsUnicodeSubclass3, ReprKind::kStr},
    {"bytes", kTpFlagsBytesSubclass3, ReprKind::kBytes},
    {"tuple", kTpFlagsTupleSubclass, ReprKind::kTuple},
    {"list", kTpFlagsListSubclass, ReprKind::kList},
    {"dict", kTpFlagsDictSubclass, ReprKind::kDict},
    {"set", 0, ReprKind::kSet},
    {"frozenset", 0, ReprKind::kFrozenSet},
    {"function", 0, ReprKind::kFunction},
    {"builtin_function_or_method", 0, ReprKind::kBuiltinFunction},
    {"type", kTpFlagsTypeSubclass, ReprKind::kType},
    {"module", 0, ReprKind::kModule},
    {"cell", 0, ReprKind::kCell},
    {"generator", 0, ReprKind::kGenerator},
    {"coroutine", 0, ReprKind::kCoroutine},
    {"async_generator", 0, ReprKind::kAsyncGenerator},
    {"method", 0, ReprKind::kMethod},
};

constexpr Builtin kBuiltins2[] = {
    {"object", 0, ReprKind::kObject},
    {"NoneType", 0, ReprKind::kNone},
    {"bool", kTpFlagsIntSubclass2, ReprKind::kBool},
    {"int", kTpFlagsIntSubclass2, ReprKind::kInt2},
    {"long", kTpFlagsLongSubclass, ReprKind::kInt},
    {"float", 0, ReprKind::kFloat},
    {"str", kTpFlagsBytesSubclass3, ReprKind::kBytes},
    {"unicode", kTpFlagsUnicodeSubclass3, ReprKind::kUnicode2},
    {"tuple", kTpFlagsTupleSubclass, ReprKind::kTuple},
    {"list", kTpFlagsListSubclass, ReprKind::kList},
    {"dict", kTpFlagsDictSubclass, ReprKind::kDict},
    {"set", 0, ReprKind::kSet},
    {"frozenset", 0, ReprKind::kFrozenSet},
    {"function", 0, ReprKind::kFunction},
    {"builtin_function_or_method", 0, ReprKind::kBuiltinFunction},
    {"type", kTpFlagsTypeSubclass, ReprKind::kType},
    {"module", 0, ReprKind::kModule},
    {"cell", 0, ReprKind::kCell},
    {"generator", 0, ReprKind::kGenerator},
};

// True when every offset is there (-1 marks one the version lacks).
bool present(std::initializer_list<int64_t> offsets) {
  for (int64_t offset : offsets) {
    if (offset < 0) return false;
  }
  return true;
}

// The built-in static type named `name`, or kOther.
ReprKind builtin_kind(const std::string& name, uint64_t flags, BuiltinTypes builtins) {
  auto find = [&](const auto& table) {
    for (const Builtin& b : table) {
      if (name == b.name && (b.required_flag == 0 || (flags & b.required_flag))) return b.kind;
    }
    return ReprKind::kOther;
  };
  return builtins == BuiltinTypes::kPython2 ? find(kBuiltins2) : find(kBuiltins3);
}

}  // namespace

bool has_object_layout(const Layout& l) {
  const bool objects =
      present({l.type.name, l.type.basicsize, l.type.repr, l.type.base, l.type.dict,
               l.type.dictoffset, l.heaptype.name, l.tuple.items, l.list.items,
               l.float_object.value, l.long_object.digits, l.cell.ref, l.module.dict,
               l.function.name, l.cfunction.method, l.cfunction.self, l.methoddef.name,
               l.code.flags, l.object.var_size, l.method.func, l.method.self}) &&
      l.long_object.digit_size > 0 && l.long_object.shift > 0;
  const bool containers = present({l.dict.used, l.dict.keys, l.dict_entry.key,
                                   l.dict_entry.value, l.set.used, l.set.mask, l.set.table,
                                   l.set_entry.key}) &&
                          l.dict_entry.size > 0 && l.set_entry.size > 0;
  if (!objects || !containers) return false;
  const Release& release = release_of(l);
  if (release.builtin_types == BuiltinTypes::kPython2) {
    return present({l.dict.mask, l.int_object.value, l.frame.localsplus, l.gen.code});
  }
  const bool python3 =
      present({l.gen.qualname, l.dict.values, l.dictkeys.nentries, l.dictkeys.indices,
               l.dictvalues.values, l.heaptype.qualname, l.function.qualname});
  if (!python3) return false;
  if (release.dicts == DictModel::kKeysWithKind) {
    return l.dict_unicode_entry.size > 0 &&
           present({l.code.localsplusnames, l.code.localspluskinds, l.iframe.localsplus,
                    l.iframe.locals, l.heaptype.cached_keys});
  }
  return present({l.dictkeys.size, l.code.nlocals, l.code.varnames, l.code.cellvars,
                  l.code.freevars, l.frame.localsplus, l.frame.locals});
}

absl::StatusOr<std::string> read_c_string(const RemoteMemory& memory, uint64_t address,
                                          size_t max) {
  std::string out;
  // Reads in small steps so that a short string at the end of a mapping is still readable.
  constexpr size_t kStep = 64;
  char buffer[kStep];
  while (out.size() < max) {
    const size_t step = std::min(kStep, max - out.size());
    // Never cross a page boundary in one read: the next page may not be mapped.
    const uint64_t to_page_end = 4096 - ((address + out.size()) % 4096);
    const size_t n = std::min<uint64_t>(step, to_page_end);
    if (absl::Status s = memory.read(address + out.size(), buffer, n); !s.ok()) return s;
    const void* nul = std::memchr(buffer, 0, n);
    if (nul != nullptr) {
      out.append(buffer, static_cast<const char*>(nul) - buffer);
      return out;
    }
    out.append(buffer, n);
  }
  return out;
}

absl::StatusOr<const TypeInfo*> TypeCache::get(uint64_t type) { return get(type, 0); }

absl::StatusOr<const TypeInfo*> TypeCache::of(uint64_t object) {
  absl::StatusOr<uint64_t> type = objects_.type_of(object);
  if (!type.ok()) return type.status();
  return get(*type);
}

absl::StatusOr<const TypeInfo*> TypeCache::get(uint64_t type, int depth) {
  auto it = types_.find(type);
  if (it != types_.end()) return it->second.get();
  if (depth > kMaxTypeDepth) {
    return absl::DataLossError(absl::StrFormat("type hierarchy too deep at 0x%x", type));
  }
  absl::StatusOr<TypeInfo> info = read(type);
  if (!info.ok()) return info.status();
  const TypeInfo* base = nullptr;
  if (info->base != 0 && info->base != type) {
    absl::StatusOr<const TypeInfo*> b = get(info->base, depth + 1);
    if (b.ok()) base = *b;
  }
  classify(*info, base);
  auto stored = std::make_unique<TypeInfo>(*std::move(info));
  const TypeInfo* result = stored.get();
  types_[type] = std::move(stored);
  return result;
}

absl::StatusOr<TypeInfo> TypeCache::read(uint64_t type) const {
  const Layout& layout = objects_.layout();
  const RemoteMemory& memory = objects_.memory();
  TypeInfo info;
  info.address = type;
  absl::StatusOr<uint64_t> name = objects_.read_pointer(type + layout.type.name);
  absl::StatusOr<uint64_t> flags = read_value<uint64_t>(memory, type + layout.type.flags);
  absl::StatusOr<uint64_t> base = objects_.read_pointer(type + layout.type.base);
  absl::StatusOr<uint64_t> repr = objects_.read_pointer(type + layout.type.repr);
  absl::StatusOr<int64_t> basicsize = read_value<int64_t>(memory, type + layout.type.basicsize);
  absl::StatusOr<int64_t> dictoffset = read_value<int64_t>(memory, type + layout.type.dictoffset);
  if (!name.ok() || !flags.ok() || !base.ok() || !repr.ok() || !basicsize.ok() ||
      !dictoffset.ok()) {
    return absl::DataLossError(absl::StrFormat("unreadable type at 0x%x", type));
  }
  if (*name != 0) {
    absl::StatusOr<std::string> text = read_c_string(memory, *name, kMaxTypeNameBytes);
    if (text.ok()) info.name = *std::move(text);
  }
  info.flags = *flags;
  info.base = *base;
  info.tp_repr = *repr;
  info.basicsize = *basicsize;
  info.dictoffset = *dictoffset;
  return info;
}

void TypeCache::classify(TypeInfo& type, const TypeInfo* base) const {
  if (base != nullptr) type.object_repr = base->object_repr;
  if (!type.heap()) {
    const ReprKind own = builtin_kind(type.name, type.flags, objects_.release().builtin_types);
    if (own != ReprKind::kOther) {
      type.kind = own;
      type.exact = true;
      type.kind_repr = type.tp_repr;
      if (own == ReprKind::kObject && type.base == 0) type.object_repr = type.tp_repr;
      return;
    }
  }
  if (base != nullptr && base->kind != ReprKind::kOther && type.tp_repr == base->kind_repr) {
    type.kind = base->kind;
  } else if (type.object_repr != 0 && type.tp_repr == type.object_repr) {
    type.kind = ReprKind::kObject;
  } else {
    type.kind = ReprKind::kOther;
  }
  type.kind_repr = type.tp_repr;
}

}  // namespace pystack
