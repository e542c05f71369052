/* Prints the struct offsets pystack-dump needs, one "name value" line each, in the order of
 * the fields of pystack::Layout (src/cpython/layout.h). Compiled against one interpreter's
 * installed headers by scripts/gen-layouts; absent fields print -1. */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <frameobject.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#if PY_VERSION_HEX >= 0x03090000
#include "internal/pycore_runtime.h"
#include "internal/pycore_interp.h"
#elif PY_VERSION_HEX >= 0x03080000
#include "internal/pycore_pystate.h"
#elif PY_VERSION_HEX >= 0x03070000
#include "internal/pystate.h"
#endif
#if PY_VERSION_HEX >= 0x030B0000
#include "internal/pycore_frame.h"
#include "internal/pycore_code.h"
#endif

#define OUT(name, value) printf("%s %lld\n", name, (long long)(value))
#define NONE(name) OUT(name, -1)

/* Position of the lowest bit that `set` turns on in a zeroed PyASCIIObject's state word. */
#define STATE_BIT(name, assign) do {                                      \
    PyASCIIObject o; memset(&o, 0, sizeof o); o.state.assign;           \
    unsigned char *p = (unsigned char *)&o.state; long long bit = -1;   \
    for (int i = 0; i < (int)(sizeof o.state * 8); i++)                 \
        if (p[i / 8] & (1 << (i % 8))) { bit = i; break; }              \
    OUT(name, bit); } while (0)

int main(void) {
    OUT("version_hex", PY_VERSION_HEX);
    OUT("pointer_size", sizeof(void *));
    /* _PyRuntimeState */
#if PY_VERSION_HEX >= 0x03070000
    OUT("runtime_interpreters_head", offsetof(_PyRuntimeState, interpreters.head));
#else
    NONE("runtime_interpreters_head");
#endif
#if PY_VERSION_HEX >= 0x03070000 && PY_VERSION_HEX < 0x030C0000
    OUT("runtime_gil_locked", offsetof(_PyRuntimeState, ceval.gil.locked));
    OUT("runtime_gil_last_holder", offsetof(_PyRuntimeState, ceval.gil.last_holder));
    OUT("runtime_tstate_current", offsetof(_PyRuntimeState, gilstate.tstate_current));
#else
    NONE("runtime_gil_locked"); NONE("runtime_gil_last_holder"); NONE("runtime_tstate_current");
#endif
#if PY_VERSION_HEX >= 0x03070000 && PY_VERSION_HEX < 0x03090000
    OUT("runtime_gc_collecting", offsetof(_PyRuntimeState, gc.collecting));
#else
    NONE("runtime_gc_collecting");
#endif
    /* PyInterpreterState */
    OUT("interp_size", sizeof(PyInterpreterState));
    OUT("interp_next", offsetof(PyInterpreterState, next));
#if PY_VERSION_HEX >= 0x030B0000
    OUT("interp_threads_head", offsetof(PyInterpreterState, threads.head));
#else
    OUT("interp_threads_head", offsetof(PyInterpreterState, tstate_head));
#endif
#if PY_VERSION_HEX >= 0x03070000
    OUT("interp_id", offsetof(PyInterpreterState, id));
#else
    NONE("interp_id");
#endif
#if PY_VERSION_HEX >= 0x03090000
    OUT("interp_gc_collecting", offsetof(PyInterpreterState, gc.collecting));
#else
    NONE("interp_gc_collecting");
#endif
#if PY_VERSION_HEX >= 0x030C0000
    OUT("interp_ceval_gil", offsetof(PyInterpreterState, ceval.gil));
    OUT("gil_locked", offsetof(struct _gil_runtime_state, locked));
    OUT("gil_last_holder", offsetof(struct _gil_runtime_state, last_holder));
#else
    NONE("interp_ceval_gil"); NONE("gil_locked"); NONE("gil_last_holder");
#endif
    /* PyThreadState */
    OUT("tstate_size", sizeof(PyThreadState));
#if PY_MAJOR_VERSION >= 3
    OUT("tstate_prev", offsetof(PyThreadState, prev));
#else
    NONE("tstate_prev");
#endif
    OUT("tstate_next", offsetof(PyThreadState, next));
    OUT("tstate_interp", offsetof(PyThreadState, interp));
#if PY_VERSION_HEX >= 0x030D0000
    OUT("tstate_frame", offsetof(PyThreadState, current_frame));
#elif PY_VERSION_HEX >= 0x030B0000
    OUT("tstate_frame", offsetof(PyThreadState, cframe));
#else
    OUT("tstate_frame", offsetof(PyThreadState, frame));
#endif
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030D0000
    OUT("cframe_current_frame", offsetof(_PyCFrame, current_frame));
#else
    NONE("cframe_current_frame");
#endif
    OUT("tstate_thread_id", offsetof(PyThreadState, thread_id));
#if PY_VERSION_HEX >= 0x030B0000
    OUT("tstate_native_thread_id", offsetof(PyThreadState, native_thread_id));
    OUT("tstate_datastack_chunk", offsetof(PyThreadState, datastack_chunk));
#else
    NONE("tstate_native_thread_id"); NONE("tstate_datastack_chunk");
#endif
    /* _PyInterpreterFrame (3.11+) */
#if PY_VERSION_HEX >= 0x030B0000
    OUT("iframe_size", sizeof(_PyInterpreterFrame));
#if PY_VERSION_HEX >= 0x030D0000
    OUT("iframe_code", offsetof(_PyInterpreterFrame, f_executable));
    OUT("iframe_instr", offsetof(_PyInterpreterFrame, instr_ptr));
#else
    OUT("iframe_code", offsetof(_PyInterpreterFrame, f_code));
    OUT("iframe_instr", offsetof(_PyInterpreterFrame, prev_instr));
#endif
    OUT("iframe_previous", offsetof(_PyInterpreterFrame, previous));
    OUT("iframe_owner", offsetof(_PyInterpreterFrame, owner));
#else
    NONE("iframe_size"); NONE("iframe_code"); NONE("iframe_instr"); NONE("iframe_previous");
    NONE("iframe_owner");
#endif
    /* PyFrameObject (up to 3.10) */
#if PY_VERSION_HEX < 0x030B0000
    OUT("frame_back", offsetof(PyFrameObject, f_back));
    OUT("frame_code", offsetof(PyFrameObject, f_code));
    OUT("frame_lasti", offsetof(PyFrameObject, f_lasti));
    OUT("frame_lineno", offsetof(PyFrameObject, f_lineno));
#else
    NONE("frame_back"); NONE("frame_code"); NONE("frame_lasti"); NONE("frame_lineno");
#endif
    /* PyCodeObject */
    OUT("code_filename", offsetof(PyCodeObject, co_filename));
    OUT("code_name", offsetof(PyCodeObject, co_name));
#if PY_VERSION_HEX >= 0x030B0000
    OUT("code_qualname", offsetof(PyCodeObject, co_qualname));
#else
    NONE("code_qualname");
#endif
#if PY_VERSION_HEX >= 0x030A0000
    OUT("code_linetable", offsetof(PyCodeObject, co_linetable));
#else
    OUT("code_linetable", offsetof(PyCodeObject, co_lnotab));
#endif
    OUT("code_firstlineno", offsetof(PyCodeObject, co_firstlineno));
#if PY_VERSION_HEX >= 0x030B0000
    OUT("code_adaptive", offsetof(PyCodeObject, co_code_adaptive));
#else
    NONE("code_adaptive");
#endif
    /* Objects */
    OUT("object_type", offsetof(PyObject, ob_type));
    OUT("type_flags", offsetof(PyTypeObject, tp_flags));
    OUT("var_size", offsetof(PyVarObject, ob_size));
#if PY_MAJOR_VERSION >= 3
    OUT("bytes_sval", offsetof(PyBytesObject, ob_sval));
    OUT("unicode_length", offsetof(PyASCIIObject, length));
    OUT("unicode_state", offsetof(PyASCIIObject, state));
    OUT("unicode_ascii_size", sizeof(PyASCIIObject));
    OUT("unicode_compact_size", sizeof(PyCompactUnicodeObject));
    OUT("unicode_data_any", offsetof(PyUnicodeObject, data.any));
    STATE_BIT("unicode_kind_shift", kind = 1);
    STATE_BIT("unicode_compact_bit", compact = 1);
    STATE_BIT("unicode_ascii_bit", ascii = 1);
#else
    OUT("bytes_sval", offsetof(PyStringObject, ob_sval));
    OUT("unicode_length", offsetof(PyUnicodeObject, length));
    NONE("unicode_state");
    NONE("unicode_ascii_size");
    NONE("unicode_compact_size");
    OUT("unicode_data_any", offsetof(PyUnicodeObject, str));
    NONE("unicode_kind_shift"); NONE("unicode_compact_bit"); NONE("unicode_ascii_bit");
#endif
#if PY_MAJOR_VERSION < 3
    OUT("unicode_char_size", sizeof(Py_UNICODE));
#else
    NONE("unicode_char_size");
#endif
    return 0;
}
