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
};

// The generated table for major.minor, or nullptr when none was generated for it.
const Layout* find_layout(int major, int minor);

// Every generated table, oldest first (for --help and tests).
const std::vector<Layout>& all_layouts();

}  // namespace pystack
