#include "cpython/object_repr.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cpython/long_object.h"
#include "cpython/repr.h"

namespace pystack {
namespace {

constexpr size_t kMaxNameBytes = 256;
constexpr int64_t kMaxSequenceSize = int64_t{1} << 40;

// The smallest bound on the code points or bytes read for a str or bytes: even with the output
// budget spent, a value shows its beginning.
constexpr size_t kMinTextRead = 64;

}  // namespace

ObjectRepr::ObjectRepr(const ObjectReader& objects, TypeCache& types, const DictReader& dicts,
                       PythonVersion version, ReprLimits limits)
    : objects_(objects), types_(types), dicts_(dicts), version_(version), limits_(limits) {}

std::string ObjectRepr::repr(uint64_t object) {
  State state;
  append(state, object, 0);
  return std::move(state.out);
}

bool ObjectRepr::exhausted(const State& state) const {
  return state.out.size() >= limits_.max_bytes || state.objects >= limits_.max_objects;
}

bool ObjectRepr::nested_too_deep(const State& state, uint64_t object, int depth) const {
  return depth >= limits_.max_depth ||
         std::find(state.active.begin(), state.active.end(), object) != state.active.end();
}

template <typename AppendItem>
void ObjectRepr::append_items(State& state, uint64_t object, const std::string& open, size_t count,
                              bool cut, const std::string& close, AppendItem append_item) {
  state.active.push_back(object);
  state.out += open;
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) state.out += ", ";
    if (exhausted(state)) {
      state.out += "...";
      cut = false;  // marked
      break;
    }
    append_item(i);
  }
  if (cut) state.out += ", ...";
  state.out += close;
  state.active.pop_back();
}

void ObjectRepr::append(State& state, uint64_t object, int depth) {
  if (object == 0) {
    state.out += "<NULL>";
    return;
  }
  // Containers stop at the bounds themselves; this also ends chains through other objects (a
  // method's self, a module's loader) that corrupt memory could make endless.
  if (depth > limits_.max_depth || state.objects >= limits_.max_objects) {
    state.out += "...";
    return;
  }
  ++state.objects;
  absl::StatusOr<const TypeInfo*> type = types_.of(object);
  if (!type.ok()) {
    state.out += unreadable_marker(object);
    return;
  }
  append_kind(state, object, **type, depth);
}

void ObjectRepr::append_kind(State& state, uint64_t object, const TypeInfo& type, int depth) {
  switch (type.kind) {
    case ReprKind::kNone: state.out += "None"; return;
    case ReprKind::kBool: append_bool(state, object); return;
    case ReprKind::kInt: append_int(state, object, python2_rules()); return;
    case ReprKind::kInt2: {
      absl::StatusOr<int64_t> value =
          read_value<int64_t>(objects_.memory(), object + objects_.layout().int_object.value);
      state.out += value.ok() ? absl::StrCat(*value) : unreadable_marker(object);
      return;
    }
    case ReprKind::kFloat: {
      absl::StatusOr<double> value =
          read_value<double>(objects_.memory(), object + objects_.layout().float_object.value);
      state.out += value.ok() ? float_repr(*value) : unreadable_marker(object);
      return;
    }
    case ReprKind::kStr:
    case ReprKind::kUnicode2: append_str(state, object, type.kind); return;
    case ReprKind::kBytes: append_bytes(state, object); return;
    case ReprKind::kTuple:
    case ReprKind::kList: append_sequence(state, object, type, depth); return;
    case ReprKind::kDict: append_dict(state, object, depth); return;
    case ReprKind::kSet:
    case ReprKind::kFrozenSet: append_set(state, object, type, depth); return;
    case ReprKind::kFunction: append_function(state, object); return;
    case ReprKind::kBuiltinFunction: append_builtin_function(state, object); return;
    case ReprKind::kType: append_type(state, object); return;
    case ReprKind::kModule: append_module(state, object, depth); return;
    case ReprKind::kCell: append_cell(state, object); return;
    case ReprKind::kGenerator:
    case ReprKind::kCoroutine:
    case ReprKind::kAsyncGenerator: append_generator(state, object, type); return;
    case ReprKind::kMethod: append_method(state, object, type, depth); return;
    case ReprKind::kObject:
    case ReprKind::kOther: append_default(state, object, type); return;
  }
}

void ObjectRepr::append_bool(State& state, uint64_t object) {
  const Layout& layout = objects_.layout();
  bool value = false;
  if (python2_rules()) {
    absl::StatusOr<int64_t> ival = read_value<int64_t>(objects_.memory(), object + layout.int_object.value);
    if (!ival.ok()) return void(state.out += unreadable_marker(object));
    value = *ival != 0;
  } else {
    absl::StatusOr<LongHeader> header = read_long_header(objects_.memory(), layout, object);
    if (!header.ok()) return void(state.out += unreadable_marker(object));
    value = header->ndigits != 0;
  }
  state.out += value ? "True" : "False";
}

void ObjectRepr::append_int(State& state, uint64_t object, bool python2_long) {
  const Layout& layout = objects_.layout();
  const RemoteMemory& memory = objects_.memory();
  absl::StatusOr<LongHeader> header = read_long_header(memory, layout, object);
  if (!header.ok()) return void(state.out += unreadable_marker(object));
  const std::string too_long =
      absl::StrFormat("<int with more than %d digits>", limits_.max_int_digits);
  // Each digit holds fewer than 10 decimal digits: this many cannot fit in the bound.
  if (header->ndigits > limits_.max_int_digits / 9 + 2) return void(state.out += too_long);
  absl::StatusOr<std::vector<uint32_t>> digits =
      read_long_digits(memory, layout, object, header->ndigits);
  if (!digits.ok()) return void(state.out += unreadable_marker(object));
  const std::string decimal = digits_to_decimal(*digits, static_cast<int>(layout.long_object.shift));
  if (decimal.size() > limits_.max_int_digits) return void(state.out += too_long);
  if (header->negative) state.out.push_back('-');
  state.out += decimal;
  if (python2_long) state.out.push_back('L');
}

void ObjectRepr::append_str(State& state, uint64_t object, ReprKind kind) {
  const size_t budget = limits_.max_bytes > state.out.size() ? limits_.max_bytes - state.out.size() : 0;
  const size_t max = std::clamp<size_t>(budget, kMinTextRead, kMaxTextCodePoints);
  absl::StatusOr<std::optional<PyText>> text = objects_.read_text(object, max);
  if (!text.ok() || !text->has_value()) return void(state.out += unreadable_marker(object));
  const PyText& t = **text;
  state.out += kind == ReprKind::kUnicode2 ? unicode_repr_py2(t.code_points)
                                           : str_repr(t.code_points, version_.major, version_.minor);
  if (!t.complete()) state.out += "...";
}

void ObjectRepr::append_bytes(State& state, uint64_t object) {
  const Layout& layout = objects_.layout();
  absl::StatusOr<int64_t> size = read_value<int64_t>(objects_.memory(), object + layout.object.var_size);
  if (!size.ok() || *size < 0 || *size > kMaxSequenceSize) {
    return void(state.out += unreadable_marker(object));
  }
  const size_t budget = limits_.max_bytes > state.out.size() ? limits_.max_bytes - state.out.size() : 0;
  const size_t count = std::min<size_t>(static_cast<size_t>(*size), std::max(budget, kMinTextRead));
  std::string data(count, '\0');
  if (count > 0 && !objects_.memory().read(object + layout.bytes.sval, data.data(), count).ok()) {
    return void(state.out += unreadable_marker(object));
  }
  state.out += bytes_repr(data, !python2_rules());
  if (count < static_cast<size_t>(*size)) state.out += "...";
}

// tuple and list: "(a, b)", "(a,)", "()", "[a, b]", "[]"; "(...)"/"[...]" for one being printed
// already (CPython's Py_ReprEnter) and, here, past the depth bound.
void ObjectRepr::append_sequence(State& state, uint64_t object, const TypeInfo& type, int depth) {
  const Layout& layout = objects_.layout();
  const bool tuple = type.kind == ReprKind::kTuple;
  const char* open = tuple ? "(" : "[";
  const char* close = tuple ? ")" : "]";
  absl::StatusOr<int64_t> size = read_value<int64_t>(objects_.memory(), object + layout.object.var_size);
  if (!size.ok() || *size < 0 || *size > kMaxSequenceSize) {
    return void(state.out += unreadable_marker(object));
  }
  if (*size == 0) return void(state.out += absl::StrCat(open, close));
  if (nested_too_deep(state, object, depth)) {
    return void(state.out += absl::StrCat(open, "...", close));
  }
  uint64_t items = object + layout.tuple.items;
  if (!tuple) {
    absl::StatusOr<uint64_t> pointer = objects_.read_pointer(object + layout.list.items);
    if (!pointer.ok()) return void(state.out += unreadable_marker(object));
    items = *pointer;
  }
  const size_t count = std::min<size_t>(static_cast<size_t>(*size), limits_.max_items);
  std::vector<uint64_t> pointers(count);
  if (!objects_.memory().read(items, pointers.data(), count * 8).ok()) {
    return void(state.out += absl::StrCat(open, unreadable_marker(items), close));
  }
  const bool cut = count < static_cast<size_t>(*size);
  // A tuple of one item keeps its comma: "(x,)".
  const std::string end = tuple && *size == 1 ? std::string(",") + close : std::string(close);
  append_items(state, object, open, count, cut, end,
               [&](size_t i) { append(state, pointers[i], depth + 1); });
}

void ObjectRepr::append_dict(State& state, uint64_t object, int depth) {
  absl::StatusOr<int64_t> used =
      read_value<int64_t>(objects_.memory(), object + objects_.layout().dict.used);
  if (!used.ok()) return void(state.out += unreadable_marker(object));
  if (*used == 0) return void(state.out += "{}");
  if (nested_too_deep(state, object, depth)) return void(state.out += "{...}");
  std::vector<DictItem> items;
  bool cut = false;
  if (!dicts_.items(object, limits_.max_items, items, cut).ok()) {
    return void(state.out += unreadable_marker(object));
  }
  append_items(state, object, "{", items.size(), cut, "}", [&](size_t i) {
    append(state, items[i].key, depth + 1);
    state.out += ": ";
    append(state, items[i].value, depth + 1);
  });
}

// 3.x: "{1, 2}" for a set, "NAME({1, 2})" for a frozenset or a subclass, "NAME()" when empty;
// 2.7: "NAME([1, 2])" always. tp_name is the class's own name for a subclass.
void ObjectRepr::append_set(State& state, uint64_t object, const TypeInfo& type, int depth) {
  const bool python2 = python2_rules();
  absl::StatusOr<int64_t> used =
      read_value<int64_t>(objects_.memory(), object + objects_.layout().set.used);
  if (!used.ok()) return void(state.out += unreadable_marker(object));
  if (nested_too_deep(state, object, depth)) {
    return void(state.out += absl::StrCat(type.name, "(...)"));
  }
  if (*used == 0 && !python2) return void(state.out += absl::StrCat(type.name, "()"));
  std::vector<uint64_t> items;
  bool cut = false;
  if (!dicts_.set_items(object, limits_.max_items, items, cut).ok()) {
    return void(state.out += unreadable_marker(object));
  }
  const bool bare = !python2 && type.kind == ReprKind::kSet && type.exact;
  std::string open = python2 ? "[" : "{";
  std::string close = python2 ? "]" : "}";
  if (!bare) {
    open = absl::StrCat(type.name, "(", open);
    close += ")";
  }
  append_items(state, object, open, items.size(), cut, close,
               [&](size_t i) { append(state, items[i], depth + 1); });
}

std::optional<std::string> ObjectRepr::text_of(uint64_t object, size_t max_code_points) const {
  absl::StatusOr<std::optional<PyText>> text = objects_.read_text(object, max_code_points);
  if (!text.ok() || !text->has_value()) return std::nullopt;
  return to_utf8((*text)->code_points);
}

bool ObjectRepr::is_none(uint64_t object) {
  absl::StatusOr<const TypeInfo*> type = types_.of(object);
  return type.ok() && (*type)->kind == ReprKind::kNone;
}

// 3.x: <function QUALNAME at 0x...>; 2.7: <function NAME at 0x...>.
void ObjectRepr::append_function(State& state, uint64_t object) {
  const Layout& layout = objects_.layout();
  const int64_t offset = layout.function.qualname >= 0 ? layout.function.qualname : layout.function.name;
  absl::StatusOr<uint64_t> name = objects_.read_pointer(object + offset);
  std::optional<std::string> text = name.ok() ? text_of(*name) : std::nullopt;
  if (!text) return void(state.out += unreadable_marker(object));
  state.out += absl::StrCat("<function ", *text, " at ", pointer_text(object), ">");
}

void ObjectRepr::append_builtin_function(State& state, uint64_t object) {
  const Layout& layout = objects_.layout();
  absl::StatusOr<uint64_t> method = objects_.read_pointer(object + layout.cfunction.method);
  absl::StatusOr<uint64_t> self = objects_.read_pointer(object + layout.cfunction.self);
  if (!method.ok() || !self.ok() || *method == 0) return void(state.out += unreadable_marker(object));
  absl::StatusOr<uint64_t> name_pointer = objects_.read_pointer(*method + layout.methoddef.name);
  absl::StatusOr<std::string> name =
      name_pointer.ok() ? read_c_string(objects_.memory(), *name_pointer, kMaxNameBytes)
                        : absl::StatusOr<std::string>(name_pointer.status());
  if (!name.ok()) return void(state.out += unreadable_marker(object));
  absl::StatusOr<const TypeInfo*> self_type =
      *self != 0 ? types_.of(*self) : absl::StatusOr<const TypeInfo*>(nullptr);
  if (!self_type.ok()) return void(state.out += unreadable_marker(*self));
  if (*self_type == nullptr || (*self_type)->kind == ReprKind::kModule) {
    state.out += absl::StrCat("<built-in function ", *name, ">");
  } else {
    state.out += absl::StrCat("<built-in method ", *name, " of ", (*self_type)->name,
                              " object at ", pointer_text(*self), ">");
  }
}

const ObjectRepr::TypeNames& ObjectRepr::type_names(const TypeInfo& type) {
  auto it = type_names_.find(type.address);
  if (it != type_names_.end()) return it->second;
  const Layout& layout = objects_.layout();
  TypeNames names;
  if (type.heap()) {
    absl::StatusOr<uint64_t> dict = objects_.read_pointer(type.address + layout.type.dict);
    if (dict.ok() && *dict != 0) {
      absl::StatusOr<std::optional<uint64_t>> module = dicts_.find(*dict, "__module__");
      if (module.ok() && module->has_value()) names.module = text_of(**module, kMaxNameBytes);
    }
    const int64_t offset = layout.heaptype.qualname >= 0 ? layout.heaptype.qualname : layout.heaptype.name;
    absl::StatusOr<uint64_t> qualname = objects_.read_pointer(type.address + offset);
    std::optional<std::string> text = qualname.ok() ? text_of(*qualname, kMaxNameBytes) : std::nullopt;
    names.qualname = text.value_or(type.name);
  } else {
    const size_t dot = type.name.rfind('.');
    if (dot == std::string::npos) {
      names.module = objects_.release().builtins_module;
      names.qualname = type.name;
    } else {
      names.module = type.name.substr(0, dot);
      names.qualname = type.name.substr(dot + 1);
    }
  }
  return type_names_.emplace(type.address, std::move(names)).first->second;
}

// object_repr: <MODULE.QUALNAME object at 0x...>, or <TP_NAME object at 0x...> for the builtins
// module or a type without a str __module__.
void ObjectRepr::append_default(State& state, uint64_t object, const TypeInfo& type) {
  const TypeNames& names = type_names(type);
  const char* builtins = objects_.release().builtins_module;
  if (names.module && *names.module != builtins) {
    state.out += absl::StrCat("<", *names.module, ".", names.qualname, " object at ",
                              pointer_text(object), ">");
  } else {
    state.out += absl::StrCat("<", type.name, " object at ", pointer_text(object), ">");
  }
}

// type_repr: 3.x <class 'MODULE.QUALNAME'> or <class 'TP_NAME'>; 2.7 says "type" for a static
// type.
void ObjectRepr::append_type(State& state, uint64_t type_object) {
  absl::StatusOr<const TypeInfo*> type = types_.get(type_object);
  if (!type.ok()) return void(state.out += unreadable_marker(type_object));
  const TypeNames& names = type_names(**type);
  const bool python2 = python2_rules();
  const char* kind = python2 && !(*type)->heap() ? "type" : "class";
  const char* builtins = objects_.release().builtins_module;
  if (names.module && *names.module != builtins) {
    state.out += absl::StrCat("<", kind, " '", *names.module, ".", names.qualname, "'>");
  } else {
    state.out += absl::StrCat("<", kind, " '", (*type)->name, "'>");
  }
}

// 2.7: module_repr in C. 3.x: importlib._bootstrap._module_repr: from __spec__ when there is
// one, else from __name__, __file__ and __loader__.
void ObjectRepr::append_module(State& state, uint64_t object, int depth) {
  absl::StatusOr<uint64_t> dict = objects_.read_pointer(object + objects_.layout().module.dict);
  if (!dict.ok()) return void(state.out += unreadable_marker(object));
  auto lookup = [&](std::string_view key) -> std::optional<uint64_t> {
    if (*dict == 0) return std::nullopt;
    absl::StatusOr<std::optional<uint64_t>> value = dicts_.find(*dict, key);
    return value.ok() ? *value : std::nullopt;
  };
  if (python2_rules()) {
    std::optional<uint64_t> name = lookup("__name__");
    std::optional<uint64_t> file = lookup("__file__");
    std::optional<std::string> name_text = name ? text_of(*name) : std::nullopt;
    std::optional<std::string> file_text = file ? text_of(*file, kMaxTextCodePoints) : std::nullopt;
    if (!file_text) {
      state.out += absl::StrCat("<module '", name_text.value_or("?"), "' (built-in)>");
    } else {
      state.out += absl::StrCat("<module '", name_text.value_or("?"), "' from '", *file_text, "'>");
    }
    return;
  }
  std::optional<uint64_t> name = lookup("__name__");
  std::optional<uint64_t> loader = lookup("__loader__");
  if (loader && name && append_module_from_loader(state, *loader, *name, depth)) return;
  std::optional<uint64_t> spec = lookup("__spec__");
  if (spec && !is_none(*spec) && append_module_from_spec(state, *spec, depth)) return;
  state.out += "<module ";
  if (name) {
    append(state, *name, depth + 1);
  } else {
    state.out += "'?'";
  }
  if (std::optional<uint64_t> file = lookup("__file__")) {
    state.out += " from ";
    append(state, *file, depth + 1);
  } else if (loader && !is_none(*loader)) {
    state.out += " (";
    append(state, *loader, depth + 1);
    state.out += ")";
  }
  state.out += ">";
}

// 3.6-3.11's _module_repr asks the loader first: the importers of built-in and frozen modules
// (classes) and the namespace loader have a module_repr() (3.6-3.8 give built-in modules a spec
// without an origin, so only this path prints "(built-in)" for them).
bool ObjectRepr::append_module_from_loader(State& state, uint64_t loader, uint64_t name,
                                           int depth) {
  if (!objects_.release().repr.module_repr_from_loader) return false;
  absl::StatusOr<const TypeInfo*> loader_type = types_.of(loader);
  if (!loader_type.ok()) return false;
  const char* origin = nullptr;
  if ((*loader_type)->kind == ReprKind::kType) {
    absl::StatusOr<const TypeInfo*> cls = types_.get(loader);
    if (!cls.ok()) return false;
    const TypeNames& names = type_names(**cls);
    if (names.module != "_frozen_importlib") return false;
    if (names.qualname == "BuiltinImporter") origin = "built-in";
    if (names.qualname == "FrozenImporter") origin = "frozen";
  } else {
    const TypeNames& names = type_names(**loader_type);
    if (names.module == "_frozen_importlib_external" &&
        (names.qualname == "_NamespaceLoader" || names.qualname == "NamespaceLoader")) {
      origin = "namespace";
    }
  }
  if (origin == nullptr) return false;
  state.out += "<module ";
  append(state, name, depth + 1);
  state.out += absl::StrCat(" (", origin, ")>");
  return true;
}

// _module_repr_from_spec. False (nothing written) when the spec lacks an attribute it reads.
bool ObjectRepr::append_module_from_spec(State& state, uint64_t spec, int depth) {
  absl::StatusOr<const TypeInfo*> type = types_.of(spec);
  if (!type.ok()) return false;
  auto attribute = [&](std::string_view name) -> std::optional<uint64_t> {
    absl::StatusOr<std::optional<uint64_t>> value = dicts_.find_attribute(spec, **type, name);
    return value.ok() ? *value : std::nullopt;
  };
  std::optional<uint64_t> name = attribute("name");
  std::optional<uint64_t> origin = attribute("origin");
  if (!name || !origin) return false;
  auto append_name = [&] {
    if (is_none(*name)) {
      state.out += "'?'";
    } else {
      append(state, *name, depth + 1);
    }
  };
  if (is_none(*origin)) {
    std::optional<uint64_t> loader = attribute("loader");
    if (!loader) return false;
    state.out += "<module ";
    append_name();
    if (!is_none(*loader)) {
      state.out += " (";
      append(state, *loader, depth + 1);
      state.out += ")";
    }
    state.out += ">";
    return true;
  }
  // has_location is a property over _set_fileattr.
  std::optional<uint64_t> has_location = attribute("_set_fileattr");
  if (!has_location) return false;
  absl::StatusOr<const TypeInfo*> flag_type = types_.of(*has_location);
  if (!flag_type.ok() || (*flag_type)->kind != ReprKind::kBool) return false;
  State flag;
  append_bool(flag, *has_location);
  state.out += "<module ";
  if (flag.out == "True") {
    append_name();
    state.out += " from ";
    append(state, *origin, depth + 1);
  } else {
    append(state, *name, depth + 1);
    state.out += " (";
    // str(origin): the text itself when it is a str.
    std::optional<std::string> text = text_of(*origin, kMaxTextCodePoints);
    if (text) {
      state.out += *text;
    } else {
      append(state, *origin, depth + 1);
    }
    state.out += ")";
  }
  state.out += ">";
  return true;
}

// 3.x: <generator object QUALNAME at 0x...> (coroutine, async_generator alike: the type's name);
// 2.7: <generator object CO_NAME at 0x...>, the name cut at 200 bytes.
void ObjectRepr::append_generator(State& state, uint64_t object, const TypeInfo& type) {
  const Layout& layout = objects_.layout();
  std::optional<std::string> name;
  if (python2_rules()) {
    absl::StatusOr<uint64_t> code = objects_.read_pointer(object + layout.gen.code);
    absl::StatusOr<uint64_t> co_name =
        code.ok() ? objects_.read_pointer(*code + layout.code.name) : code;
    if (co_name.ok()) name = text_of(*co_name, 200);
  } else {
    absl::StatusOr<uint64_t> qualname = objects_.read_pointer(object + layout.gen.qualname);
    if (qualname.ok()) name = text_of(*qualname, kMaxNameBytes);
  }
  if (!name) return void(state.out += unreadable_marker(object));
  // The repr names the built-in type, whatever a subclass is called.
  const char* kind = type.kind == ReprKind::kCoroutine        ? "coroutine"
                     : type.kind == ReprKind::kAsyncGenerator ? "async_generator"
                                                              : "generator";
  state.out += absl::StrCat("<", kind, " object ", *name, " at ", pointer_text(object), ">");
}

// method_repr: <bound method FUNC.__qualname__ of repr(SELF)>, for a Python function (what a
// method object almost always holds); anything else gets the default form.
void ObjectRepr::append_method(State& state, uint64_t object, const TypeInfo& type, int depth) {
  const Layout& layout = objects_.layout();
  absl::StatusOr<uint64_t> func = objects_.read_pointer(object + layout.method.func);
  absl::StatusOr<uint64_t> self = objects_.read_pointer(object + layout.method.self);
  if (!func.ok() || !self.ok()) return void(state.out += unreadable_marker(object));
  absl::StatusOr<const TypeInfo*> func_type = types_.of(*func);
  if (!func_type.ok() || (*func_type)->kind != ReprKind::kFunction) {
    return append_default(state, object, type);
  }
  absl::StatusOr<uint64_t> qualname = objects_.read_pointer(*func + layout.function.qualname);
  std::optional<std::string> name = qualname.ok() ? text_of(*qualname, kMaxNameBytes) : std::nullopt;
  if (!name) return void(state.out += unreadable_marker(*func));
  state.out += absl::StrCat("<bound method ", *name, " of ");
  append(state, *self, depth + 1);
  state.out += ">";
}

// <cell at 0x...: empty> or <cell at 0x...: TP_NAME object at 0x...> (tp_name cut at 80).
void ObjectRepr::append_cell(State& state, uint64_t object) {
  absl::StatusOr<uint64_t> ref = objects_.read_pointer(object + objects_.layout().cell.ref);
  if (!ref.ok()) return void(state.out += unreadable_marker(object));
  if (*ref == 0) return void(state.out += absl::StrCat("<cell at ", pointer_text(object), ": empty>"));
  absl::StatusOr<const TypeInfo*> type = types_.of(*ref);
  if (!type.ok()) return void(state.out += unreadable_marker(*ref));
  state.out += absl::StrCat("<cell at ", pointer_text(object), ": ", (*type)->name.substr(0, 80),
                            " object at ", pointer_text(*ref), ">");
}

}  // namespace pystack
