// _Py_DebugOffsets of CPython 3.14 and later: every offset the target publishes comes from the
// target, laid over the table generated from the version's headers (third_party/cpython/) for
// the object model it does not publish.
//
// Each known layout of the struct is data (debug_offsets_format.h): its sections and their fields,
// in the order Include/internal/pycore_debug_offsets.h declares them. Fields are looked up by
// name, so a new layout is one more table entry, checked against the header by reading it side
// by side; the reader of an image is debug_offsets.cc's, the same as 3.13's.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "cpython/debug_offsets.h"
#include "cpython/debug_offsets_format.h"
#include "cpython/layout.h"

namespace pystack {
namespace {

using Format = DebugOffsetsFormat;

// The known layouts, per version. Within a version they are told apart by kAnchors.
const std::vector<Format>& formats() {
  static const std::vector<Format> kFormats = [] {
    std::vector<Format> formats = {
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
        // Modules/_remote_debugging/debug_offsets_validation.h pins sizeof(_Py_DebugOffsets) at
        // 888 bytes (111 words) and names these fields; declaration order from a fork at that
        // state (taegyunkim/cpython, commit 8543f762). thread_state gained the profiler's
        // fields, type_object two sizes, and heap_type_object, err_stackitem,
        // compactunicodeobject_size and the GC statistics are new.
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
    };
    // An earlier 3.15 pre-release state: as above without thread_state.last_profiled_frame_seq
    // (110 words), as mirrored by bloomberg/pystack (Python3_15, commit 0e1b1ee2).
    formats.push_back(without_field(formats.back(),
                                    "CPython 3.15 pre-release (880-byte _Py_DebugOffsets)",
                                    "thread_state", "last_profiled_frame_seq"));
    return formats;
  }();
  return kFormats;
}

// Values that every build of CPython 3.13+ on a 64-bit target publishes, whatever else
// changed: PyThreadState and _PyInterpreterFrame begin with these fields, PyObject is
// {ob_refcnt, ob_type} and PyVarObject adds ob_size (a free-threaded build's object header is
// 16 bytes longer: kFreeThreadedHeaderGrowth). A layout whose words do not show them where it
// expects them is not the target's.
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
// ob_tid, ob_flags/ob_mutex/ob_gc_bits, ob_ref_local and ob_ref_shared before ob_type.
constexpr uint64_t kFreeThreadedHeaderGrowth =
    kFreeThreadedObjectHeaderSize - kDefaultObjectHeaderSize;

bool anchors_hold(std::string_view image, const Format& format, bool free_threaded) {
  return std::all_of(std::begin(kAnchors), std::end(kAnchors), [&](const Anchor& a) {
    const bool in_object = a.section != "thread_state" && a.section != "interpreter_frame";
    const uint64_t value = a.value + (free_threaded && in_object ? kFreeThreadedHeaderGrowth : 0);
    return debug_offsets_field(image, format, a.section, a.field) == value;
  });
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
  size_t words = static_cast<size_t>(debug_offsets_word_count(debug_offsets_format_313()));
  for (const Format& format : formats()) {
    words = std::max(words, static_cast<size_t>(debug_offsets_word_count(format)));
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
  if (!has_debug_offsets(image) || image.size() < kDebugOffsetsHeaderWords * 8) {
    return absl::DataLossError("_Py_DebugOffsets is truncated");
  }
  const uint64_t hex = debug_offsets_version(image);
  const int major = static_cast<int>((hex >> 24) & 0xff);
  const int minor = static_cast<int>((hex >> 16) & 0xff);
  // A free-threaded build is read with its own table (the object model): without one, refused.
  const bool free_threaded = debug_offsets_word(image, kDebugOffsetsFreeThreadedWord) != 0;
  if (free_threaded && (base == nullptr || base->free_threaded == 0)) {
    return absl::UnimplementedError(absl::StrFormat(
        "free-threaded builds of Python %d.%d are not supported yet", major, minor));
  }
  if (!free_threaded && base != nullptr && base->free_threaded != 0) {
    return absl::InternalError("a free-threaded table given for a default build's _Py_DebugOffsets");
  }
  for (const Format& format : formats()) {
    if (format.major != as_major || format.minor != as_minor) continue;
    if (!anchors_hold(image, format, free_threaded)) continue;  // also when the image is too short
    return read_debug_offsets(image, format, base);
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
  if (!has_debug_offsets(image)) return absl::DataLossError("_Py_DebugOffsets is truncated");
  const uint64_t hex = debug_offsets_version(image);
  return layout_from_debug_offsets_as(image, base, static_cast<int>((hex >> 24) & 0xff),
                                      static_cast<int>((hex >> 16) & 0xff));
}

}  // namespace pystack
