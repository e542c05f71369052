// The one reader of _Py_DebugOffsets images (every version: a layout of the struct is data, see
// debug_offsets_format.h), and 3.13's entry point. 3.14+'s layouts, and the choice between them,
// are in debug_offsets_314.cc.
#include "cpython/debug_offsets.h"

#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_format.h"
#include "cpython/debug_offsets_format.h"

namespace pystack {
namespace {

// No CPython struct the walk reads comes near this; a larger size is corrupt memory.
constexpr uint64_t kMaxStructSize = 1 << 24;
// ObjectReader reads a str's header (up to PyUnicodeObject.data) into a 128-byte buffer;
// sizeof(PyUnicodeObject) is 64 on 64-bit builds.
constexpr uint64_t kMaxUnicodeObjectSize = 128;

// Fields of PyASCIIObject.state in a GIL build (Include/cpython/unicodeobject.h, the same from
// 3.13 to 3.15): interned:2, kind:3, compact:1, ascii:1, statically_allocated:1, then padding.
constexpr int64_t kUnicodeKindShift = 2;
constexpr int64_t kUnicodeCompactBit = 5;
constexpr int64_t kUnicodeAsciiBit = 6;
// PyCompactUnicodeObject = PyASCIIObject + Py_ssize_t utf8_length + char *utf8 (same header);
// used where the version does not publish sizeof(PyCompactUnicodeObject) (3.13, 3.14).
constexpr int64_t kCompactUnicodeExtra = 16;

}  // namespace

// Include/internal/pycore_runtime.h of 3.13: 73 words (kDebugOffsetsSize313).
const DebugOffsetsFormat& debug_offsets_format_313() {
  static const DebugOffsetsFormat kFormat = {
      3, 13, "CPython 3.13 Include/internal/pycore_runtime.h",
      {
          {"runtime_state", "size finalizing interpreters_head"},
          {"interpreter_state",
           "size id next threads_head gc imports_modules sysdict builtins ceval_gil "
           "gil_runtime_state gil_runtime_state_enabled gil_runtime_state_locked "
           "gil_runtime_state_holder"},
          {"thread_state",
           "size prev next interp current_frame thread_id native_thread_id datastack_chunk "
           "status"},
          {"interpreter_frame", "size previous executable instr_ptr localsplus owner"},
          {"code_object",
           "size filename name qualname linetable firstlineno argcount localsplusnames "
           "localspluskinds co_code_adaptive"},
          {"pyobject", "size ob_type"},
          {"type_object", "size tp_name tp_repr tp_flags"},
          {"tuple_object", "size ob_item ob_size"},
          {"list_object", "size ob_item ob_size"},
          {"dict_object", "size ma_keys ma_values"},
          {"float_object", "size ob_fval"},
          {"long_object", "size lv_tag ob_digit"},
          {"bytes_object", "size ob_size ob_sval"},
          {"unicode_object", "size state length asciiobject_size"},
          {"gc", "size collecting"},
      }};
  return kFormat;
}

namespace {

// The names in a section's space-separated field list.
std::vector<std::string_view> field_names(std::string_view fields) {
  std::vector<std::string_view> names;
  while (!fields.empty()) {
    const size_t space = fields.find(' ');
    if (space != 0) names.push_back(fields.substr(0, space));
    if (space == std::string_view::npos) break;
    fields.remove_prefix(space + 1);
  }
  return names;
}

// The word index of `section.field` in `format`, or -1.
int field_index(const DebugOffsetsFormat& format, std::string_view section,
                std::string_view field) {
  int words = kDebugOffsetsHeaderWords;
  for (const DebugOffsetsSection& s : format.sections) {
    int position = 0;
    for (std::string_view name : field_names(s.fields)) {
      if (s.name == section && name == field) return words + position;
      ++position;
    }
    words += position;
  }
  return -1;
}

// One image read through one format. Offsets are checked as they are taken; the first reason
// not to trust the image is kept.
class FormatReader {
 public:
  FormatReader(std::string_view image, const DebugOffsetsFormat& format)
      : image_(image), format_(format) {}

  bool has(std::string_view section, std::string_view field) const {
    return field_index(format_, section, field) >= 0;
  }

  // Requires has(section, field).
  uint64_t word(std::string_view section, std::string_view field) const {
    return debug_offsets_word(image_, field_index(format_, section, field));
  }

  // sizeof the struct a section describes, or -1 (and a problem) when implausible.
  int64_t struct_size(std::string_view section) {
    const uint64_t size = word(section, "size");
    if (size == 0 || size > kMaxStructSize) {
      fail(absl::StrFormat("size of %s (%d) is implausible", section, size));
      return -1;
    }
    return static_cast<int64_t>(size);
  }

  // The offset of a field `width` bytes wide inside its section's struct, or -1 (and a
  // problem) when it does not fit. Written so that a huge value cannot wrap around.
  int64_t offset(std::string_view section, std::string_view field, uint64_t width) {
    const int64_t size = struct_size(section);
    const uint64_t value = word(section, field);
    if (size < 0) return -1;
    const uint64_t limit = static_cast<uint64_t>(size);
    if (value > limit || width > limit - value) {
      fail(absl::StrFormat("offset of %s.%s (%d) outside its struct (%d bytes)", section, field,
                           value, limit));
      return -1;
    }
    return static_cast<int64_t>(value);
  }

  // A field of a struct embedded at `inner_offset` of `outer`'s struct: the sum, when the
  // embedded struct (of `inner_size` bytes) fits its container.
  int64_t nested(std::string_view outer, std::string_view inner_field, int64_t inner_size,
                 int64_t offset_in_inner) {
    if (inner_size < 0 || offset_in_inner < 0) return -1;
    const int64_t base = offset(outer, inner_field, static_cast<uint64_t>(inner_size));
    return base < 0 ? -1 : base + offset_in_inner;
  }

  void fail(std::string message) {
    if (problem_.empty()) problem_ = std::move(message);
  }
  const std::string& problem() const { return problem_; }

 private:
  std::string_view image_;
  const DebugOffsetsFormat& format_;
  std::string problem_;
};

void read_runtime_and_interpreter(FormatReader& r, Layout& layout) {
  layout.runtime.interpreters_head = r.offset("runtime_state", "interpreters_head", 8);
  layout.interp.size = r.struct_size("interpreter_state");
  layout.interp.id = r.offset("interpreter_state", "id", 8);
  layout.interp.next = r.offset("interpreter_state", "next", 8);
  layout.interp.threads_head = r.offset("interpreter_state", "threads_head", 8);
  layout.interp.modules = r.offset("interpreter_state", "imports_modules", 8);
  // interp->gc is a struct _gc_runtime_state; collecting is an int inside it.
  layout.interp.gc_collecting =
      r.nested("interpreter_state", "gc", r.struct_size("gc"), r.offset("gc", "collecting", 4));
  // ceval.gil points at a struct _gil_runtime_state; the table gives locked and last_holder
  // inside the interpreter's own _gil, so their distance from _gil is their place in the struct.
  layout.interp.ceval_gil = r.offset("interpreter_state", "ceval_gil", 8);
  const int64_t gil = r.offset("interpreter_state", "gil_runtime_state", 1);
  const int64_t locked = r.offset("interpreter_state", "gil_runtime_state_locked", 4);
  const int64_t holder = r.offset("interpreter_state", "gil_runtime_state_holder", 8);
  if (gil >= 0 && locked >= 0 && holder >= 0) {
    if (locked < gil || holder < gil) r.fail("the GIL's fields lie before the GIL");
    layout.gil.locked = locked - gil;
    layout.gil.last_holder = holder - gil;
  }
  // Only a free-threaded build has _gil.enabled (a GIL build publishes 0 there). Unlike its
  // neighbours, it is published as offsetof(struct _gil_runtime_state, enabled).
  if (layout.free_threaded != 0 && gil >= 0) {
    const int64_t enabled = r.offset("interpreter_state", "gil_runtime_state_enabled", 4);
    if (enabled >= 0 && gil + enabled + 4 > layout.interp.size) {
      r.fail("the GIL's enabled flag lies outside the interpreter");
    }
    layout.gil.enabled = enabled;
  }
}

void read_thread_and_frame(FormatReader& r, Layout& layout) {
  layout.tstate.size = r.struct_size("thread_state");
  layout.tstate.prev = r.offset("thread_state", "prev", 8);
  layout.tstate.next = r.offset("thread_state", "next", 8);
  layout.tstate.interp = r.offset("thread_state", "interp", 8);
  layout.tstate.frame = r.offset("thread_state", "current_frame", 8);
  layout.tstate.thread_id = r.offset("thread_state", "thread_id", 8);
  layout.tstate.native_thread_id = r.offset("thread_state", "native_thread_id", 8);
  layout.tstate.datastack_chunk = r.offset("thread_state", "datastack_chunk", 8);
  layout.iframe.size = r.struct_size("interpreter_frame");
  layout.iframe.previous = r.offset("interpreter_frame", "previous", 8);
  layout.iframe.code = r.offset("interpreter_frame", "executable", 8);  // a tagged _PyStackRef
  layout.iframe.instr = r.offset("interpreter_frame", "instr_ptr", 8);
  layout.iframe.owner = r.offset("interpreter_frame", "owner", 1);
  layout.iframe.localsplus = r.offset("interpreter_frame", "localsplus", 0);
  // Thread-local bytecode (free-threaded 3.14+; a default build publishes 0 there).
  if (layout.free_threaded != 0 && r.has("interpreter_frame", "tlbc_index")) {
    layout.iframe.tlbc_index = r.offset("interpreter_frame", "tlbc_index", 4);
    layout.code.tlbc = r.offset("code_object", "co_tlbc", 8);
  }
}

void read_code(FormatReader& r, Layout& layout) {
  layout.code.filename = r.offset("code_object", "filename", 8);
  layout.code.name = r.offset("code_object", "name", 8);
  layout.code.qualname = r.offset("code_object", "qualname", 8);
  layout.code.linetable = r.offset("code_object", "linetable", 8);
  layout.code.firstlineno = r.offset("code_object", "firstlineno", 4);
  layout.code.adaptive = r.offset("code_object", "co_code_adaptive", 0);
  layout.code.localsplusnames = r.offset("code_object", "localsplusnames", 8);
  layout.code.localspluskinds = r.offset("code_object", "localspluskinds", 8);
}

void read_objects(FormatReader& r, Layout& layout) {
  layout.object.type = r.offset("pyobject", "ob_type", 8);
  layout.type.flags = r.offset("type_object", "tp_flags", 8);
  layout.type.name = r.offset("type_object", "tp_name", 8);
  layout.type.repr = r.offset("type_object", "tp_repr", 8);
  layout.object.var_size = r.offset("bytes_object", "ob_size", 8);
  layout.bytes.sval = r.offset("bytes_object", "ob_sval", 1);
  layout.tuple.items = r.offset("tuple_object", "ob_item", 0);
  layout.list.items = r.offset("list_object", "ob_item", 8);
  layout.dict.keys = r.offset("dict_object", "ma_keys", 8);
  layout.dict.values = r.offset("dict_object", "ma_values", 8);
  layout.float_object.value = r.offset("float_object", "ob_fval", 8);
  layout.long_object.tag = r.offset("long_object", "lv_tag", 8);
  layout.long_object.digits = r.offset("long_object", "ob_digit", 0);
  if (r.has("set_object", "size")) {  // published from 3.14
    layout.set.used = r.offset("set_object", "used", 8);
    layout.set.table = r.offset("set_object", "table", 8);
    layout.set.mask = r.offset("set_object", "mask", 8);
  }
}

void read_unicode(FormatReader& r, Layout& layout) {
  const int64_t size = r.struct_size("unicode_object");
  if (size > static_cast<int64_t>(kMaxUnicodeObjectSize)) {
    r.fail(absl::StrFormat("sizeof(PyUnicodeObject) (%d) is implausible", size));
    return;
  }
  layout.unicode.state = r.offset("unicode_object", "state", 4);
  layout.unicode.length = r.offset("unicode_object", "length", 8);
  layout.unicode.ascii_size = r.offset("unicode_object", "asciiobject_size", 0);
  layout.unicode.compact_size =
      r.has("unicode_object", "compactunicodeobject_size")
          ? r.offset("unicode_object", "compactunicodeobject_size", 0)
          : (layout.unicode.ascii_size < 0 ? -1 : layout.unicode.ascii_size + kCompactUnicodeExtra);
  // PyUnicodeObject = PyCompactUnicodeObject + the data pointer.
  layout.unicode.data_any = layout.unicode.compact_size;
  if (layout.unicode.state < 0 || layout.unicode.length < 0 || layout.unicode.ascii_size < 0 ||
      layout.unicode.compact_size < 0) {
    return;
  }
  if (layout.unicode.state + 4 > layout.unicode.ascii_size ||
      layout.unicode.length + 8 > layout.unicode.ascii_size ||
      layout.unicode.ascii_size > layout.unicode.compact_size ||
      layout.unicode.data_any + 8 > size) {
    r.fail("the str layout is inconsistent");
  }
  // A free-threaded build's state starts with a whole byte for `interned`: its table has the
  // bits (generated from the headers); a default build's are these.
  if (layout.free_threaded == 0 || layout.unicode.kind_shift < 0) {
    layout.unicode.kind_shift = kUnicodeKindShift;
    layout.unicode.compact_bit = kUnicodeCompactBit;
    layout.unicode.ascii_bit = kUnicodeAsciiBit;
  }
}

}  // namespace

uint64_t debug_offsets_word(std::string_view image, int index) {
  uint64_t v;
  std::memcpy(&v, image.data() + static_cast<size_t>(index) * 8, sizeof v);
  return v;
}

int debug_offsets_word_count(const DebugOffsetsFormat& format) {
  int words = kDebugOffsetsHeaderWords;
  for (const DebugOffsetsSection& section : format.sections) {
    words += static_cast<int>(field_names(section.fields).size());
  }
  return words;
}

std::optional<uint64_t> debug_offsets_field(std::string_view image,
                                            const DebugOffsetsFormat& format,
                                            std::string_view section, std::string_view field) {
  const int index = field_index(format, section, field);
  if (index < 0 || image.size() < static_cast<size_t>(debug_offsets_word_count(format)) * 8) {
    return std::nullopt;
  }
  return debug_offsets_word(image, index);
}

DebugOffsetsFormat without_field(DebugOffsetsFormat format, std::string_view source,
                                 std::string_view section, std::string_view field) {
  format.source = source;
  for (DebugOffsetsSection& s : format.sections) {
    if (s.name != section) continue;
    std::string kept;
    for (std::string_view name : field_names(s.fields)) {
      if (name == field) continue;
      if (!kept.empty()) kept += ' ';
      kept += name;
    }
    s.fields = std::move(kept);
  }
  return format;
}

absl::StatusOr<Layout> read_debug_offsets(std::string_view image, const DebugOffsetsFormat& format,
                                          const Layout* base) {
  FormatReader r(image, format);
  Layout layout = base != nullptr ? *base : Layout{};
  layout.major = format.major;
  layout.minor = format.minor;
  layout.pointer_size = 8;
  read_runtime_and_interpreter(r, layout);
  read_thread_and_frame(r, layout);
  read_code(r, layout);
  read_objects(r, layout);
  read_unicode(r, layout);
  if (!r.problem().empty()) {
    return absl::DataLossError("the target's _Py_DebugOffsets cannot be trusted: " + r.problem());
  }
  return layout;
}

bool has_debug_offsets(std::string_view image) {
  return image.size() >= 16 && image.substr(0, kDebugOffsetsCookie.size()) == kDebugOffsetsCookie;
}

uint64_t debug_offsets_version(std::string_view image) {
  return debug_offsets_word(image, kDebugOffsetsVersionWord);
}

absl::StatusOr<Layout> layout_from_debug_offsets_313(std::string_view image, const Layout& base) {
  const DebugOffsetsFormat& format = debug_offsets_format_313();
  if (image.size() < static_cast<size_t>(debug_offsets_word_count(format)) * 8 ||
      !has_debug_offsets(image)) {
    return absl::DataLossError("_Py_DebugOffsets is truncated");
  }
  const bool free_threaded = debug_offsets_word(image, kDebugOffsetsFreeThreadedWord) != 0;
  if (free_threaded != (base.free_threaded != 0)) {
    return absl::InternalError(
        "the table given for a 3.13 _Py_DebugOffsets is not of the same build (free-threaded or not)");
  }
  return read_debug_offsets(image, format, &base);
}

}  // namespace pystack
