// Struct offsets of one CPython minor version: the data that keeps version differences out of
// the code. Tables are generated from each interpreter's headers (scripts/gen-layouts) into
// third_party/cpython/; 3.13+ overlays the offsets the target publishes in _Py_DebugOffsets.
#pragma once

#include <cstdint>
#include <vector>

namespace pystack {

// Every field is a byte offset (or a size, or a bit position) and -1 where the version lacks it.
// The order matches the output of scripts/layout_probe.c.
struct Layout {
  int64_t major = -1;
  int64_t minor = -1;
  int64_t pointer_size = -1;
  // _PyRuntimeState
  int64_t runtime_interpreters_head = -1;
  int64_t runtime_gil_locked = -1;       // 3.7-3.11: the GIL lives in the runtime
  int64_t runtime_gil_last_holder = -1;
  int64_t runtime_tstate_current = -1;
  int64_t runtime_gc_collecting = -1;    // 3.7-3.8
  // PyInterpreterState
  int64_t interp_size = -1;
  int64_t interp_next = -1;
  int64_t interp_threads_head = -1;
  int64_t interp_id = -1;
  int64_t interp_gc_collecting = -1;     // 3.9+
  int64_t interp_ceval_gil = -1;         // 3.12+: pointer to the interpreter's GIL
  int64_t gil_locked = -1;               // within struct _gil_runtime_state (3.12+)
  int64_t gil_last_holder = -1;
  // PyThreadState
  int64_t tstate_size = -1;
  int64_t tstate_prev = -1;
  int64_t tstate_next = -1;
  int64_t tstate_interp = -1;
  int64_t tstate_frame = -1;             // frame (<3.11), cframe (3.11/3.12), current_frame (3.13+)
  int64_t cframe_current_frame = -1;     // within _PyCFrame (3.11/3.12)
  int64_t tstate_thread_id = -1;
  int64_t tstate_native_thread_id = -1;
  int64_t tstate_datastack_chunk = -1;
  // _PyInterpreterFrame (3.11+)
  int64_t iframe_size = -1;
  int64_t iframe_code = -1;              // f_code, or f_executable (3.13+)
  int64_t iframe_instr = -1;             // prev_instr (3.11/3.12), instr_ptr (3.13+)
  int64_t iframe_previous = -1;
  int64_t iframe_owner = -1;
  // PyFrameObject (up to 3.10)
  int64_t frame_back = -1;
  int64_t frame_code = -1;
  int64_t frame_lasti = -1;
  int64_t frame_lineno = -1;
  // PyCodeObject
  int64_t code_filename = -1;
  int64_t code_name = -1;
  int64_t code_qualname = -1;
  int64_t code_linetable = -1;           // co_lnotab (<3.10), co_linetable (3.10+)
  int64_t code_firstlineno = -1;
  int64_t code_adaptive = -1;            // co_code_adaptive (3.11+)
  // Objects
  int64_t object_type = -1;
  int64_t type_flags = -1;
  int64_t var_size = -1;
  int64_t bytes_sval = -1;
  int64_t unicode_length = -1;
  int64_t unicode_state = -1;
  int64_t unicode_ascii_size = -1;
  int64_t unicode_compact_size = -1;
  int64_t unicode_data_any = -1;
  int64_t unicode_kind_shift = -1;
  int64_t unicode_compact_bit = -1;
  int64_t unicode_ascii_bit = -1;
  int64_t unicode_char_size = -1;        // Python 2: sizeof(Py_UNICODE), 2 or 4
  // ---- Frame locals, object reprs and thread names (--locals, Thread.name) ----
  int64_t interp_modules = -1;           // sys.modules: modules, imports.modules (3.12+)
  int64_t iframe_locals = -1;            // _PyInterpreterFrame.f_locals (3.11+)
  int64_t iframe_localsplus = -1;        // _PyInterpreterFrame.localsplus (3.11+)
  int64_t frame_locals = -1;             // PyFrameObject.f_locals (up to 3.10)
  int64_t frame_localsplus = -1;         // PyFrameObject.f_localsplus (up to 3.10)
  int64_t code_flags = -1;
  int64_t code_nlocalsplus = -1;         // 3.11+
  int64_t code_localsplusnames = -1;     // 3.11+
  int64_t code_localspluskinds = -1;     // 3.11+
  int64_t code_nlocals = -1;             // up to 3.10
  int64_t code_varnames = -1;            // up to 3.10
  int64_t code_cellvars = -1;            // up to 3.10
  int64_t code_freevars = -1;            // up to 3.10
  int64_t type_name = -1;                // tp_name (a C string)
  int64_t type_basicsize = -1;
  int64_t type_repr = -1;
  int64_t type_base = -1;
  int64_t type_dict = -1;
  int64_t type_dictoffset = -1;
  int64_t heaptype_name = -1;            // PyHeapTypeObject.ht_name
  int64_t heaptype_qualname = -1;        // ht_qualname (3.x)
  int64_t heaptype_cached_keys = -1;     // ht_cached_keys (3.x)
  int64_t tuple_items = -1;              // PyTupleObject.ob_item (inline array)
  int64_t list_items = -1;               // PyListObject.ob_item (pointer)
  int64_t float_value = -1;
  int64_t long_tag = -1;                 // lv_tag (3.12+): sign in bits 0-1, digits from bit 3
  int64_t long_digits = -1;              // ob_digit
  int64_t long_digit_size = -1;          // sizeof(digit)
  int64_t long_shift = -1;               // PyLong_SHIFT
  int64_t int_value = -1;                // Python 2 PyIntObject.ob_ival
  int64_t cell_ref = -1;
  int64_t module_dict = -1;
  int64_t function_name = -1;
  int64_t function_qualname = -1;        // 3.x
  int64_t cfunction_method = -1;         // PyCFunctionObject.m_ml
  int64_t cfunction_self = -1;
  int64_t methoddef_name = -1;           // PyMethodDef.ml_name
  int64_t dict_used = -1;
  int64_t dict_keys = -1;                // ma_keys (3.x), ma_table (2.7)
  int64_t dict_values = -1;              // ma_values (3.x)
  int64_t dict_mask = -1;                // ma_mask (2.7)
  int64_t dictkeys_size = -1;            // dk_size (3.6-3.10)
  int64_t dictkeys_log2_size = -1;       // 3.11+
  int64_t dictkeys_log2_index_bytes = -1;  // 3.11+
  int64_t dictkeys_kind = -1;            // 3.11+: general, unicode or split entries
  int64_t dictkeys_nentries = -1;
  int64_t dictkeys_indices = -1;
  int64_t dict_entry_size = -1;          // PyDictKeyEntry (2.7: PyDictEntry)
  int64_t dict_entry_key = -1;
  int64_t dict_entry_value = -1;
  int64_t dict_unicode_entry_size = -1;  // PyDictUnicodeEntry (3.11+)
  int64_t dict_unicode_entry_key = -1;
  int64_t dict_unicode_entry_value = -1;
  int64_t dictvalues_values = -1;        // values[] within PyDictValues (3.13: after a header)
  int64_t set_used = -1;
  int64_t set_mask = -1;
  int64_t set_table = -1;
  int64_t set_entry_size = -1;
  int64_t set_entry_key = -1;
  int64_t gen_qualname = -1;             // gi_qualname (cr_, ag_ alike) (3.x)
  int64_t gen_code = -1;                 // gi_code (2.7)
  int64_t method_func = -1;              // PyMethodObject.im_func
  int64_t method_self = -1;
  // _PyInterpreterFrame.f_globals, f_builtins (3.11+): what _PyFrame_SafeGetCode checks first.
  int64_t iframe_globals = -1;
  int64_t iframe_builtins = -1;
};

// The generated table for major.minor, or nullptr when none was generated for it.
const Layout* find_layout(int major, int minor);

// Every generated table, oldest first (for --help and tests).
const std::vector<Layout>& all_layouts();

}  // namespace pystack
