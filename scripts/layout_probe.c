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
#include "internal/pycore_dict.h"
#endif
#if PY_VERSION_HEX >= 0x030E0000
/* 3.14 moved the structs out of the headers above: _PyRuntimeState, PyInterpreterState, and
 * _PyInterpreterFrame with the generator objects, whose _PyStackRef (f_executable, localsplus[])
 * is in pycore_structs.h. Named here rather than reached through the includes above. */
#include "internal/pycore_runtime_structs.h"
#include "internal/pycore_interp_structs.h"
#include "internal/pycore_interpframe_structs.h"
#include "internal/pycore_stackref.h"
#endif
#if PY_VERSION_HEX >= 0x030A0000
#include "internal/pycore_moduleobject.h"
#endif
#if PY_VERSION_HEX < 0x030B0000
#include <longintrepr.h>
#endif

#if PY_MAJOR_VERSION >= 3 && PY_VERSION_HEX < 0x030B0000
/* Objects/dict-common.h of 3.6-3.10, which is not installed: the keys object and its entries. */
typedef struct {
    Py_ssize_t dk_refcnt;
    Py_ssize_t dk_size;
    void *dk_lookup;
    Py_ssize_t dk_usable;
    Py_ssize_t dk_nentries;
    char dk_indices[8];
} ProbeDictKeys;
typedef struct {
    Py_hash_t me_hash;
    PyObject *me_key;
    PyObject *me_value;
} ProbeDictKeyEntry;
#endif
#if PY_VERSION_HEX < 0x030A0000
/* Objects/moduleobject.c up to 3.9 (not installed): md_dict follows the object header. */
typedef struct {
    PyObject_HEAD
    PyObject *md_dict;
} PyModuleObject;
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
    /* 3.14+: a _PyStackRef, the object pointer with tag bits in its low bits */
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

    /* ---- Frame locals, object reprs, thread names ---- */
    /* sys.modules */
#if PY_VERSION_HEX >= 0x030C0000
    OUT("interp_modules", offsetof(PyInterpreterState, imports.modules));
#else
    OUT("interp_modules", offsetof(PyInterpreterState, modules));
#endif
    /* Frames */
#if PY_VERSION_HEX >= 0x030B0000
    OUT("iframe_locals", offsetof(_PyInterpreterFrame, f_locals));
    /* 3.14+: _PyStackRef entries (tagged object pointers) */
    OUT("iframe_localsplus", offsetof(_PyInterpreterFrame, localsplus));
    NONE("frame_locals"); NONE("frame_localsplus");
#else
    NONE("iframe_locals"); NONE("iframe_localsplus");
    OUT("frame_locals", offsetof(PyFrameObject, f_locals));
    OUT("frame_localsplus", offsetof(PyFrameObject, f_localsplus));
#endif
    /* Code objects */
    OUT("code_flags", offsetof(PyCodeObject, co_flags));
#if PY_VERSION_HEX >= 0x030B0000
    OUT("code_nlocalsplus", offsetof(PyCodeObject, co_nlocalsplus));
    OUT("code_localsplusnames", offsetof(PyCodeObject, co_localsplusnames));
    OUT("code_localspluskinds", offsetof(PyCodeObject, co_localspluskinds));
    NONE("code_nlocals"); NONE("code_varnames"); NONE("code_cellvars"); NONE("code_freevars");
#else
    NONE("code_nlocalsplus"); NONE("code_localsplusnames"); NONE("code_localspluskinds");
    OUT("code_nlocals", offsetof(PyCodeObject, co_nlocals));
    OUT("code_varnames", offsetof(PyCodeObject, co_varnames));
    OUT("code_cellvars", offsetof(PyCodeObject, co_cellvars));
    OUT("code_freevars", offsetof(PyCodeObject, co_freevars));
#endif
    /* Types */
    OUT("type_name", offsetof(PyTypeObject, tp_name));
    OUT("type_basicsize", offsetof(PyTypeObject, tp_basicsize));
    OUT("type_repr", offsetof(PyTypeObject, tp_repr));
    OUT("type_base", offsetof(PyTypeObject, tp_base));
    OUT("type_dict", offsetof(PyTypeObject, tp_dict));
    OUT("type_dictoffset", offsetof(PyTypeObject, tp_dictoffset));
    OUT("heaptype_name", offsetof(PyHeapTypeObject, ht_name));
#if PY_MAJOR_VERSION >= 3
    OUT("heaptype_qualname", offsetof(PyHeapTypeObject, ht_qualname));
    OUT("heaptype_cached_keys", offsetof(PyHeapTypeObject, ht_cached_keys));
#else
    NONE("heaptype_qualname"); NONE("heaptype_cached_keys");
#endif
    /* Plain objects */
    OUT("tuple_items", offsetof(PyTupleObject, ob_item));
    OUT("list_items", offsetof(PyListObject, ob_item));
    OUT("float_value", offsetof(PyFloatObject, ob_fval));
#if PY_VERSION_HEX >= 0x030C0000
    OUT("long_tag", offsetof(PyLongObject, long_value.lv_tag));
    OUT("long_digits", offsetof(PyLongObject, long_value.ob_digit));
#else
    NONE("long_tag");
    OUT("long_digits", offsetof(PyLongObject, ob_digit));
#endif
    OUT("long_digit_size", sizeof(digit));
    OUT("long_shift", PyLong_SHIFT);
#if PY_MAJOR_VERSION < 3
    OUT("int_value", offsetof(PyIntObject, ob_ival));
#else
    NONE("int_value");
#endif
    OUT("cell_ref", offsetof(PyCellObject, ob_ref));
    OUT("module_dict", offsetof(PyModuleObject, md_dict));
    OUT("function_name", offsetof(PyFunctionObject, func_name));
#if PY_MAJOR_VERSION >= 3
    OUT("function_qualname", offsetof(PyFunctionObject, func_qualname));
#else
    NONE("function_qualname");
#endif
    OUT("cfunction_method", offsetof(PyCFunctionObject, m_ml));
    OUT("cfunction_self", offsetof(PyCFunctionObject, m_self));
    OUT("methoddef_name", offsetof(PyMethodDef, ml_name));
    /* Dicts: 2.7 an open-addressing table of entries; 3.6+ a compact keys object */
    OUT("dict_used", offsetof(PyDictObject, ma_used));
#if PY_MAJOR_VERSION >= 3
    OUT("dict_keys", offsetof(PyDictObject, ma_keys));
    OUT("dict_values", offsetof(PyDictObject, ma_values));
    NONE("dict_mask");
#else
    OUT("dict_keys", offsetof(PyDictObject, ma_table));
    NONE("dict_values");
    OUT("dict_mask", offsetof(PyDictObject, ma_mask));
#endif
#if PY_VERSION_HEX >= 0x030B0000
    NONE("dictkeys_size");
    OUT("dictkeys_log2_size", offsetof(PyDictKeysObject, dk_log2_size));
    OUT("dictkeys_log2_index_bytes", offsetof(PyDictKeysObject, dk_log2_index_bytes));
    OUT("dictkeys_kind", offsetof(PyDictKeysObject, dk_kind));
    OUT("dictkeys_nentries", offsetof(PyDictKeysObject, dk_nentries));
    OUT("dictkeys_indices", offsetof(PyDictKeysObject, dk_indices));
    OUT("dict_entry_size", sizeof(PyDictKeyEntry));
    OUT("dict_entry_key", offsetof(PyDictKeyEntry, me_key));
    OUT("dict_entry_value", offsetof(PyDictKeyEntry, me_value));
    OUT("dict_unicode_entry_size", sizeof(PyDictUnicodeEntry));
    OUT("dict_unicode_entry_key", offsetof(PyDictUnicodeEntry, me_key));
    OUT("dict_unicode_entry_value", offsetof(PyDictUnicodeEntry, me_value));
    OUT("dictvalues_values", offsetof(PyDictValues, values));
#elif PY_MAJOR_VERSION >= 3
    OUT("dictkeys_size", offsetof(ProbeDictKeys, dk_size));
    NONE("dictkeys_log2_size"); NONE("dictkeys_log2_index_bytes"); NONE("dictkeys_kind");
    OUT("dictkeys_nentries", offsetof(ProbeDictKeys, dk_nentries));
    OUT("dictkeys_indices", offsetof(ProbeDictKeys, dk_indices));
    OUT("dict_entry_size", sizeof(ProbeDictKeyEntry));
    OUT("dict_entry_key", offsetof(ProbeDictKeyEntry, me_key));
    OUT("dict_entry_value", offsetof(ProbeDictKeyEntry, me_value));
    NONE("dict_unicode_entry_size"); NONE("dict_unicode_entry_key");
    NONE("dict_unicode_entry_value");
    OUT("dictvalues_values", 0);  /* ma_values is a plain PyObject *[] */
#else
    NONE("dictkeys_size"); NONE("dictkeys_log2_size"); NONE("dictkeys_log2_index_bytes");
    NONE("dictkeys_kind"); NONE("dictkeys_nentries"); NONE("dictkeys_indices");
    OUT("dict_entry_size", sizeof(PyDictEntry));
    OUT("dict_entry_key", offsetof(PyDictEntry, me_key));
    OUT("dict_entry_value", offsetof(PyDictEntry, me_value));
    NONE("dict_unicode_entry_size"); NONE("dict_unicode_entry_key");
    NONE("dict_unicode_entry_value"); NONE("dictvalues_values");
#endif
    /* Sets: an open-addressing table of (key, hash) entries */
    OUT("set_used", offsetof(PySetObject, used));
    OUT("set_mask", offsetof(PySetObject, mask));
    OUT("set_table", offsetof(PySetObject, table));
    OUT("set_entry_size", sizeof(setentry));
    OUT("set_entry_key", offsetof(setentry, key));
    /* Generators, coroutines, async generators (3.x: one header); bound methods */
#if PY_MAJOR_VERSION >= 3
    OUT("gen_qualname", offsetof(PyGenObject, gi_qualname));
    NONE("gen_code");
#else
    NONE("gen_qualname");
    OUT("gen_code", offsetof(PyGenObject, gi_code));
#endif
    OUT("method_func", offsetof(PyMethodObject, im_func));
    OUT("method_self", offsetof(PyMethodObject, im_self));
    /* The frame fields CPython's own check of a frame reads (_PyFrame_SafeGetCode, 3.13.10+) */
#if PY_VERSION_HEX >= 0x030B0000
    OUT("iframe_globals", offsetof(_PyInterpreterFrame, f_globals));
    OUT("iframe_builtins", offsetof(_PyInterpreterFrame, f_builtins));
#else
    NONE("iframe_globals"); NONE("iframe_builtins");
#endif
    return 0;
}
