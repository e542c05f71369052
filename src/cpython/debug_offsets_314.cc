// _Py_DebugOffsets of CPython 3.14 and later: every offset the target publishes comes from the
// target, laid over the table generated from the version's headers (third_party/cpython/) for
// the object model it does not publish.
//
// Each known layout of the struct is data: its sections and their fields, in the order
// Include/internal/pycore_debug_offsets.h declares them (every field is one uint64_t, after the
// three header words cookie, version, free_threaded). Fields are looked up by name, so a new
// layout is one more table entry, checked against the header by reading it side by side.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "cpython/debug_offsets.h"

namespace pystack {
namespace {

constexpr int kHeaderWords = 3;  // cookie, version, free_threaded
constexpr int kVersionWord = 1;
constexpr int kFreeThreadedWord = 2;
// No CPython struct the walk reads comes near this; a larger size is corrupt memory.
constexpr uint64_t kMaxStructSize = 1 << 24;
// ObjectReader reads a str's header (up to PyUnicodeObject.data) into a 128-byte buffer;
// sizeof(PyUnicodeObject) is 64 on 64-bit builds.
constexpr uint64_t kMaxUnicodeObjectSize = 128;

struct Section {
  std::string_view name;
  std::string_view fields;  // space-separated, in declaration order
};

struct Format {
  int major;
  int minor;
  std::string_view source;  // where the declaration was read
  std::vector<Section> sections;
};

// The known layouts, per version. Within a version they are told apart by kAnchors.
const std::vector<Format>& formats() {
  static const std::vector<Format> kFormats = {
      // CPython 3.14 (3.14.0 and its bug-fix releases). The python/cpython copy in the search
      // index is a 3.14 alpha (commit 7a57f7c2: no code_object_generation, tlbc, llist_node);
      // this is the 3.14 release layout, as mirrored by bloomberg/pystack (Python3_14, commit
      // 0e1b1ee2) and by a fork of the 3.14 release (typthon, commit 71cf7bf1), which agree.
      {3, 14, "CPython 3.14 Include/internal/pycore_debug_offsets.h",
       {
           {"runtime_state", "size finalizing interpreters_head"},
           {"interpreter_state",
            "size id next threads_head threads_main gc imports_modules sysdict builtins "
            "ceval_gil gil_runtime_state gil_runtime_state_enabled gil_runtime_state_locked "
            "gil_runtime_state_holder code_object_generation tlbc_generation"},
           {"thread_state",
            "size prev next interp current_frame thread_id native_thread_id datastack_chunk "
            "status"},
           {"interpreter_frame",
            "size previous executable instr_ptr localsplus owner stackpointer tlbc_index"},
           {"code_object",
            "size filename name qualname linetable firstlineno argcount localsplusnames "
            "localspluskinds co_code_adaptive co_tlbc"},
           {"pyobject", "size ob_type"},
           {"type_object", "size tp_name tp_repr tp_flags"},
           {"tuple_object", "size ob_item ob_size"},
           {"list_object", "size ob_item ob_size"},
           {"set_object", "size used table mask"},
           {"dict_object", "size ma_keys ma_values"},
           {"float_object", "size ob_fval"},
           {"long_object", "size lv_tag ob_digit"},
           {"bytes_object", "size ob_size ob_sval"},
           {"unicode_object", "size state length asciiobject_size"},
           {"gc", "size collecting"},
           {"gen_object", "size gi_name gi_iframe gi_frame_state"},
           {"llist_node", "next prev"},
           {"debugger_support",
            "eval_breaker remote_debugger_support remote_debugging_enabled "
            "debugger_pending_call debugger_script_path debugger_script_path_size"},
       }},
      // CPython 3.15 main as of python/cpython commit 11f3545d, whose
      // Modules/_remote_debugging/debug_offsets_validation.h pins sizeof(_Py_DebugOffsets) at 888
      // bytes (111 words) and names these fields; declaration order from a fork at that state
      // (taegyunkim/cpython, commit 8543f762). thread_state gained the profiler's fields,
      // type_object two sizes, and heap_type_object, err_stackitem, compactunicodeobject_size
      // and the GC statistics are new.
      {3, 15, "CPython 3.15 (main, 888-byte _Py_DebugOffsets)",
       {
           {"runtime_state", "size finalizing interpreters_head"},
           {"interpreter_state",
            "size id next threads_head threads_main gc imports_modules sysdict builtins "
            "ceval_gil gil_runtime_state gil_runtime_state_enabled gil_runtime_state_locked "
            "gil_runtime_state_holder code_object_generation tlbc_generation"},
           {"thread_state",
            "size prev next interp current_frame base_frame last_profiled_frame "
            "last_profiled_frame_seq thread_id native_thread_id datastack_chunk status "
            "holds_gil gil_requested current_exception exc_state"},
           {"err_stackitem", "exc_value"},
           {"interpreter_frame",
            "size previous executable instr_ptr localsplus owner stackpointer tlbc_index"},
           {"code_object",
            "size filename name qualname linetable firstlineno argcount localsplusnames "
            "localspluskinds co_code_adaptive co_tlbc"},
           {"pyobject", "size ob_type"},
           {"type_object", "size tp_name tp_repr tp_flags tp_basicsize tp_dictoffset"},
           {"heap_type_object", "size ht_cached_keys"},
           {"tuple_object", "size ob_item ob_size"},
           {"list_object", "size ob_item ob_size"},
           {"set_object", "size used table mask"},
           {"dict_object", "size ma_keys ma_values"},
           {"float_object", "size ob_fval"},
           {"long_object", "size lv_tag ob_digit"},
           {"bytes_object", "size ob_size ob_sval"},
           {"unicode_object", "size state length asciiobject_size compactunicodeobject_size"},
           {"gc", "size collecting frame generation_stats_size generation_stats"},
           {"gen_object", "size gi_name gi_iframe gi_frame_state"},
           {"llist_node", "next prev"},
           {"debugger_support",
            "eval_breaker remote_debugger_support remote_debugging_enabled "
            "debugger_pending_call debugger_script_path debugger_script_path_size"},
       }},
      // An earlier 3.15 pre-release state: as above without thread_state.last_profiled_frame_seq
      // (110 words), as mirrored by bloomberg/pystack (Python3_15, commit 0e1b1ee2).
      {3, 15, "CPython 3.15 pre-release (880-byte _Py_DebugOffsets)",
       {
           {"runtime_state", "size finalizing interpreters_head"},
           {"interpreter_state",
            "size id next threads_head threads_main gc imports_modules sysdict builtins "
            "ceval_gil gil_runtime_state gil_runtime_state_enabled gil_runtime_state_locked "
            "gil_runtime_state_holder code_object_generation tlbc_generation"},
           {"thread_state",
            "size prev next interp current_frame base_frame last_profiled_frame thread_id "
            "native_thread_id datastack_chunk status holds_gil gil_requested "
            "current_exception exc_state"},
           {"err_stackitem", "exc_value"},
           {"interpreter_frame",
            "size previous executable instr_ptr localsplus owner stackpointer tlbc_index"},
           {"code_object",
            "size filename name qualname linetable firstlineno argcount localsplusnames "
            "localspluskinds co_code_adaptive co_tlbc"},
           {"pyobject", "size ob_type"},
           {"type_object", "size tp_name tp_repr tp_flags tp_basicsize tp_dictoffset"},
           {"heap_type_object", "size ht_cached_keys"},
           {"tuple_object", "size ob_item ob_size"},
           {"list_object", "size ob_item ob_size"},
           {"set_object", "size used table mask"},
           {"dict_object", "size ma_keys ma_values"},
           {"float_object", "size ob_fval"},
           {"long_object", "size lv_tag ob_digit"},
           {"bytes_object", "size ob_size ob_sval"},
           {"unicode_object", "size state length asciiobject_size compactunicodeobject_size"},
           {"gc", "size collecting frame generation_stats_size generation_stats"},
           {"gen_object", "size gi_name gi_iframe gi_frame_state"},
           {"llist_node", "next prev"},
           {"debugger_support",
            "eval_breaker remote_debugger_support remote_debugging_enabled "
            "debugger_pending_call debugger_script_path debugger_script_path_size"},
       }},
  };
  return kFormats;
}

// Values that every GIL build of CPython 3.13+ on a 64-bit target publishes, whatever else
// changed: PyThreadState and _PyInterpreterFrame begin with these fields, PyObject is
// {ob_refcnt, ob_type} and PyVarObject adds ob_size. A layout whose words do not show them
// where it expects them is not the target's.
struct Anchor {
  std::string_view section;
  std::string_view field;
  uint64_t value;
};
constexpr Anchor kAnchors[] = {
    {"thread_state", "prev", 0},           {"thread_state", "next", 8},
    {"thread_state", "interp", 16},        {"interpreter_frame", "executable", 0},
    {"interpreter_frame", "previous", 8},  {"pyobject", "size", 16},
    {"pyobject", "ob_type", 8},            {"tuple_object", "ob_size", 16},
    {"list_object", "ob_size", 16},        {"bytes_object", "ob_size", 16},
};

uint64_t load_word(std::string_view image, int index) {
  uint64_t v;
  std::memcpy(&v, image.data() + static_cast<size_t>(index) * 8, sizeof v);
  return v;
}

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

int word_count(const Format& format) {
  int words = kHeaderWords;
  for (const Section& section : format.sections) {
    words += static_cast<int>(field_names(section.fields).size());
  }
  return words;
}

// One image read through one format. Offsets are checked as they are taken; the first reason
// not to trust the image is kept.
class FormatReader {
 public:
  FormatReader(std::string_view image, const Format& format) : image_(image), format_(format) {}

  bool fits() const { return image_.size() >= static_cast<size_t>(word_count(format_)) * 8; }

  bool has(std::string_view section, std::string_view field) const {
    return index(section, field) >= 0;
  }

  // Requires fits() and has(section, field).
  uint64_t word(std::string_view section, std::string_view field) const {
    return load_word(image_, index(section, field));
  }

  bool anchors_hold() const {
    return std::all_of(std::begin(kAnchors), std::end(kAnchors), [&](const Anchor& a) {
      return has(a.section, a.field) && word(a.section, a.field) == a.value;
    });
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
  int index(std::string_view section, std::string_view field) const {
    int words = kHeaderWords;
    for (const Section& s : format_.sections) {
      int position = 0;
      for (std::string_view name : field_names(s.fields)) {
        if (s.name == section && name == field) return words + position;
        ++position;
      }
      words += position;
    }
    return -1;
  }

  std::string_view image_;
  const Format& format_;
  std::string problem_;
};

// Fields of PyASCIIObject.state in a GIL build (Include/cpython/unicodeobject.h of 3.14 and
// 3.15): interned:2, kind:3, compact:1, ascii:1, statically_allocated:1, then padding.
constexpr int64_t kUnicodeKindShift = 2;
constexpr int64_t kUnicodeCompactBit = 5;
constexpr int64_t kUnicodeAsciiBit = 6;
// PyCompactUnicodeObject = PyASCIIObject + Py_ssize_t utf8_length + char *utf8 (same header);
// used where the version does not publish sizeof(PyCompactUnicodeObject) (3.14).
constexpr int64_t kCompactUnicodeExtra = 16;

void read_runtime_and_interpreter(FormatReader& r, Layout& layout) {
  layout.runtime_interpreters_head = r.offset("runtime_state", "interpreters_head", 8);
  layout.interp_size = r.struct_size("interpreter_state");
  layout.interp_id = r.offset("interpreter_state", "id", 8);
  layout.interp_next = r.offset("interpreter_state", "next", 8);
  layout.interp_threads_head = r.offset("interpreter_state", "threads_head", 8);
  layout.interp_modules = r.offset("interpreter_state", "imports_modules", 8);
  // interp->gc is a struct _gc_runtime_state; collecting is an int inside it.
  layout.interp_gc_collecting =
      r.nested("interpreter_state", "gc", r.struct_size("gc"), r.offset("gc", "collecting", 4));
  // ceval.gil points at a struct _gil_runtime_state; the table gives locked and last_holder
  // inside the interpreter's own _gil, so their distance from _gil is their place in the struct.
  layout.interp_ceval_gil = r.offset("interpreter_state", "ceval_gil", 8);
  const int64_t gil = r.offset("interpreter_state", "gil_runtime_state", 1);
  const int64_t locked = r.offset("interpreter_state", "gil_runtime_state_locked", 4);
  const int64_t holder = r.offset("interpreter_state", "gil_runtime_state_holder", 8);
  if (gil >= 0 && locked >= 0 && holder >= 0) {
    if (locked < gil || holder < gil) r.fail("the GIL's fields lie before the GIL");
    layout.gil_locked = locked - gil;
    layout.gil_last_holder = holder - gil;
  }
}

void read_thread_and_frame(FormatReader& r, Layout& layout) {
  layout.tstate_size = r.struct_size("thread_state");
  layout.tstate_prev = r.offset("thread_state", "prev", 8);
  layout.tstate_next = r.offset("thread_state", "next", 8);
  layout.tstate_interp = r.offset("thread_state", "interp", 8);
  layout.tstate_frame = r.offset("thread_state", "current_frame", 8);
  layout.tstate_thread_id = r.offset("thread_state", "thread_id", 8);
  layout.tstate_native_thread_id = r.offset("thread_state", "native_thread_id", 8);
  layout.tstate_datastack_chunk = r.offset("thread_state", "datastack_chunk", 8);
  layout.iframe_size = r.struct_size("interpreter_frame");
  layout.iframe_previous = r.offset("interpreter_frame", "previous", 8);
  layout.iframe_code = r.offset("interpreter_frame", "executable", 8);  // a tagged _PyStackRef
  layout.iframe_instr = r.offset("interpreter_frame", "instr_ptr", 8);
  layout.iframe_owner = r.offset("interpreter_frame", "owner", 1);
  layout.iframe_localsplus = r.offset("interpreter_frame", "localsplus", 0);
}

void read_code(FormatReader& r, Layout& layout) {
  layout.code_filename = r.offset("code_object", "filename", 8);
  layout.code_name = r.offset("code_object", "name", 8);
  layout.code_qualname = r.offset("code_object", "qualname", 8);
  layout.code_linetable = r.offset("code_object", "linetable", 8);
  layout.code_firstlineno = r.offset("code_object", "firstlineno", 4);
  layout.code_adaptive = r.offset("code_object", "co_code_adaptive", 0);
  layout.code_localsplusnames = r.offset("code_object", "localsplusnames", 8);
  layout.code_localspluskinds = r.offset("code_object", "localspluskinds", 8);
}

void read_objects(FormatReader& r, Layout& layout) {
  layout.object_type = r.offset("pyobject", "ob_type", 8);
  layout.type_flags = r.offset("type_object", "tp_flags", 8);
  layout.type_name = r.offset("type_object", "tp_name", 8);
  layout.type_repr = r.offset("type_object", "tp_repr", 8);
  layout.var_size = r.offset("bytes_object", "ob_size", 8);
  layout.bytes_sval = r.offset("bytes_object", "ob_sval", 1);
  layout.tuple_items = r.offset("tuple_object", "ob_item", 0);
  layout.list_items = r.offset("list_object", "ob_item", 8);
  layout.dict_keys = r.offset("dict_object", "ma_keys", 8);
  layout.dict_values = r.offset("dict_object", "ma_values", 8);
  layout.float_value = r.offset("float_object", "ob_fval", 8);
  layout.long_tag = r.offset("long_object", "lv_tag", 8);
  layout.long_digits = r.offset("long_object", "ob_digit", 0);
  layout.set_used = r.offset("set_object", "used", 8);
  layout.set_table = r.offset("set_object", "table", 8);
  layout.set_mask = r.offset("set_object", "mask", 8);
}

void read_unicode(FormatReader& r, Layout& layout) {
  const int64_t size = r.struct_size("unicode_object");
  if (size > static_cast<int64_t>(kMaxUnicodeObjectSize)) {
    r.fail(absl::StrFormat("sizeof(PyUnicodeObject) (%d) is implausible", size));
    return;
  }
  layout.unicode_state = r.offset("unicode_object", "state", 4);
  layout.unicode_length = r.offset("unicode_object", "length", 8);
  layout.unicode_ascii_size = r.offset("unicode_object", "asciiobject_size", 0);
  layout.unicode_compact_size =
      r.has("unicode_object", "compactunicodeobject_size")
          ? r.offset("unicode_object", "compactunicodeobject_size", 0)
          : (layout.unicode_ascii_size < 0 ? -1 : layout.unicode_ascii_size + kCompactUnicodeExtra);
  // PyUnicodeObject = PyCompactUnicodeObject + the data pointer.
  layout.unicode_data_any = layout.unicode_compact_size;
  if (layout.unicode_state < 0 || layout.unicode_length < 0 || layout.unicode_ascii_size < 0 ||
      layout.unicode_compact_size < 0) {
    return;
  }
  if (layout.unicode_state + 4 > layout.unicode_ascii_size ||
      layout.unicode_length + 8 > layout.unicode_ascii_size ||
      layout.unicode_ascii_size > layout.unicode_compact_size ||
      layout.unicode_data_any + 8 > size) {
    r.fail("the str layout is inconsistent");
  }
  layout.unicode_kind_shift = kUnicodeKindShift;
  layout.unicode_compact_bit = kUnicodeCompactBit;
  layout.unicode_ascii_bit = kUnicodeAsciiBit;
}

absl::StatusOr<Layout> read_layout(FormatReader& r, const Layout* base, int major, int minor) {
  Layout layout = base != nullptr ? *base : Layout{};
  layout.major = major;
  layout.minor = minor;
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

std::string known_formats(int major, int minor) {
  std::string out;
  for (const Format& format : formats()) {
    if (format.major != major || format.minor != minor) continue;
    if (!out.empty()) out += "; ";
    out += format.source;
  }
  return out.empty() ? "none" : out;
}

}  // namespace

size_t debug_offsets_read_size() {
  size_t words = kDebugOffsetsSize313 / 8;
  for (const Format& format : formats()) {
    words = std::max(words, static_cast<size_t>(word_count(format)));
  }
  return words * 8;
}

std::pair<int, int> newest_known_debug_offsets() {
  std::pair<int, int> newest{3, 13};
  for (const Format& format : formats()) newest = std::max(newest, {format.major, format.minor});
  return newest;
}

absl::StatusOr<Layout> layout_from_debug_offsets_as(std::string_view image, const Layout* base,
                                                    int as_major, int as_minor) {
  if (!has_debug_offsets(image) || image.size() < kHeaderWords * 8) {
    return absl::DataLossError("_Py_DebugOffsets is truncated");
  }
  const uint64_t hex = load_word(image, kVersionWord);
  const int major = static_cast<int>((hex >> 24) & 0xff);
  const int minor = static_cast<int>((hex >> 16) & 0xff);
  if (load_word(image, kFreeThreadedWord) != 0) {
    return absl::UnimplementedError(absl::StrFormat(
        "free-threaded builds of Python %d.%d are not supported yet", major, minor));
  }
  for (const Format& format : formats()) {
    if (format.major != as_major || format.minor != as_minor) continue;
    FormatReader reader(image, format);
    if (!reader.fits() || !reader.anchors_hold()) continue;
    return read_layout(reader, base, as_major, as_minor);
  }
  if (major == as_major && minor == as_minor) {
    return absl::UnimplementedError(absl::StrFormat(
        "the _Py_DebugOffsets of Python %d.%d (version 0x%08x) has a layout this build does not "
        "know (it knows: %s)",
        major, minor, hex, known_formats(major, minor)));
  }
  return absl::UnimplementedError(
      absl::StrFormat("no layout of %d.%d fits it", as_major, as_minor));
}

absl::StatusOr<Layout> layout_from_debug_offsets(std::string_view image, const Layout* base) {
  if (!has_debug_offsets(image) || image.size() < kHeaderWords * 8) {
    return absl::DataLossError("_Py_DebugOffsets is truncated");
  }
  const uint64_t hex = load_word(image, kVersionWord);
  return layout_from_debug_offsets_as(image, base, static_cast<int>((hex >> 24) & 0xff),
                                      static_cast<int>((hex >> 16) & 0xff));
}

}  // namespace pystack
