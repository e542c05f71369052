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
#include "internal/pycore_object.h"
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
#ifdef Py_GIL_DISABLED
    OUT("free_threaded", 1);
#else
    OUT("free_threaded", 0);
#endif
    /* _PyRuntimeState */
#if PY_VERSION_HEX >= 0x03070000
    OUT("runtime.interpreters_head", offsetof(_PyRuntimeState, interpreters.head));
#else
    NONE("runtime.interpreters_head");
#endif
#if PY_VERSION_HEX >= 0x03070000 && PY_VERSION_HEX < 0x030C0000
    OUT("runtime.gil_locked", offsetof(_PyRuntimeState, ceval.gil.locked));
    OUT("runtime.gil_last_holder", offsetof(_PyRuntimeState, ceval.gil.last_holder));
    OUT("runtime.tstate_current", offsetof(_PyRuntimeState, gilstate.tstate_current));
#else
    NONE("runtime.gil_locked"); NONE("runtime.gil_last_holder"); NONE("runtime.tstate_current");
#endif
#if PY_VERSION_HEX >= 0x03070000 && PY_VERSION_HEX < 0x03090000
    OUT("runtime.gc_collecting", offsetof(_PyRuntimeState, gc.collecting));
#else
    NONE("runtime.gc_collecting");
#endif
    /* PyInterpreterState */
    OUT("interp.size", sizeof(PyInterpreterState));
    OUT("interp.next", offsetof(PyInterpreterState, next));
#if PY_VERSION_HEX >= 0x030B0000
    OUT("interp.threads_head", offsetof(PyInterpreterState, threads.head));
#else
    OUT("interp.threads_head", offsetof(PyInterpreterState, tstate_head));
#endif
#if PY_VERSION_HEX >= 0x03070000
    OUT("interp.id", offsetof(PyInterpreterState, id));
#else
    NONE("interp.id");
#endif
#if PY_VERSION_HEX >= 0x03090000
    OUT("interp.gc_collecting", offsetof(PyInterpreterState, gc.collecting));
#else
    NONE("interp.gc_collecting");
#endif
#if PY_VERSION_HEX >= 0x030C0000
    OUT("interp.ceval_gil", offsetof(PyInterpreterState, ceval.gil));
    OUT("gil.locked", offsetof(struct _gil_runtime_state, locked));
    OUT("gil.last_holder", offsetof(struct _gil_runtime_state, last_holder));
#else
    NONE("interp.ceval_gil"); NONE("gil.locked"); NONE("gil.last_holder");
#endif
#if PY_VERSION_HEX >= 0x030D0000 && defined(Py_GIL_DISABLED)
    OUT("gil.enabled", offsetof(struct _gil_runtime_state, enabled));
#else
    NONE("gil.enabled");
#endif
    /* PyThreadState */
    OUT("tstate.size", sizeof(PyThreadState));
#if PY_MAJOR_VERSION >= 3
    OUT("tstate.prev", offsetof(PyThreadState, prev));
#else
    NONE("tstate.prev");
#endif
    OUT("tstate.next", offsetof(PyThreadState, next));
    OUT("tstate.interp", offsetof(PyThreadState, interp));
#if PY_VERSION_HEX >= 0x030D0000
    OUT("tstate.frame", offsetof(PyThreadState, current_frame));
#elif PY_VERSION_HEX >= 0x030B0000
    OUT("tstate.frame", offsetof(PyThreadState, cframe));
#else
    OUT("tstate.frame", offsetof(PyThreadState, frame));
#endif
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030D0000
    OUT("cframe.current_frame", offsetof(_PyCFrame, current_frame));
#else
    NONE("cframe.current_frame");
#endif
    OUT("tstate.thread_id", offsetof(PyThreadState, thread_id));
#if PY_VERSION_HEX >= 0x030B0000
    OUT("tstate.native_thread_id", offsetof(PyThreadState, native_thread_id));
    OUT("tstate.datastack_chunk", offsetof(PyThreadState, datastack_chunk));
#else
    NONE("tstate.native_thread_id"); NONE("tstate.datastack_chunk");
#endif
    /* _PyInterpreterFrame (3.11+) */
#if PY_VERSION_HEX >= 0x030B0000
    OUT("iframe.size", sizeof(_PyInterpreterFrame));
#if PY_VERSION_HEX >= 0x030D0000
    /* 3.14+: a _PyStackRef, the object pointer with tag bits in its low bits */
    OUT("iframe.code", offsetof(_PyInterpreterFrame, f_executable));
    OUT("iframe.instr", offsetof(_PyInterpreterFrame, instr_ptr));
#else
    OUT("iframe.code", offsetof(_PyInterpreterFrame, f_code));
    OUT("iframe.instr", offsetof(_PyInterpreterFrame, prev_instr));
#endif
    OUT("iframe.previous", offsetof(_PyInterpreterFrame, previous));
    OUT("iframe.owner", offsetof(_PyInterpreterFrame, owner));
#else
    NONE("iframe.size"); NONE("iframe.code"); NONE("iframe.instr"); NONE("iframe.previous");
    NONE("iframe.owner");
#endif
    /* PyFrameObject (up to 3.10) */
#if PY_VERSION_HEX < 0x030B0000
    OUT("frame.back", offsetof(PyFrameObject, f_back));
    OUT("frame.code", offsetof(PyFrameObject, f_code));
    OUT("frame.lasti", offsetof(PyFrameObject, f_lasti));
    OUT("frame.lineno", offsetof(PyFrameObject, f_lineno));
#else
    NONE("frame.back"); NONE("frame.code"); NONE("frame.lasti"); NONE("frame.lineno");
#endif
    /* PyCodeObject */
    OUT("code.filename", offsetof(PyCodeObject, co_filename));
    OUT("code.name", offsetof(PyCodeObject, co_name));
#if PY_VERSION_HEX >= 0x030B0000
    OUT("code.qualname", offsetof(PyCodeObject, co_qualname));
#else
    NONE("code.qualname");
#endif
#if PY_VERSION_HEX >= 0x030A0000
    OUT("code.linetable", offsetof(PyCodeObject, co_linetable));
#else
    OUT("code.linetable", offsetof(PyCodeObject, co_lnotab));
#endif
    OUT("code.firstlineno", offsetof(PyCodeObject, co_firstlineno));
#if PY_VERSION_HEX >= 0x030B0000
    OUT("code.adaptive", offsetof(PyCodeObject, co_code_adaptive));
#else
    NONE("code.adaptive");
#endif
    /* Objects */
    OUT("object.type", offsetof(PyObject, ob_type));
    OUT("type.flags", offsetof(PyTypeObject, tp_flags));
    OUT("object.var_size", offsetof(PyVarObject, ob_size));
#if defined(MANAGED_DICT_OFFSET)
    OUT("object.managed_dict", MANAGED_DICT_OFFSET);
#elif PY_VERSION_HEX >= 0x030B0000
    OUT("object.managed_dict", -3 * (long long)sizeof(PyObject *));  /* 3.12: _PyObject_DictOrValuesPointer */
#else
    NONE("object.managed_dict");
#endif
#if PY_MAJOR_VERSION >= 3
    OUT("bytes.sval", offsetof(PyBytesObject, ob_sval));
    OUT("unicode.length", offsetof(PyASCIIObject, length));
    OUT("unicode.state", offsetof(PyASCIIObject, state));
    OUT("unicode.ascii_size", sizeof(PyASCIIObject));
    OUT("unicode.compact_size", sizeof(PyCompactUnicodeObject));
    OUT("unicode.data_any", offsetof(PyUnicodeObject, data.any));
    STATE_BIT("unicode.kind_shift", kind = 1);
    STATE_BIT("unicode.compact_bit", compact = 1);
    STATE_BIT("unicode.ascii_bit", ascii = 1);
#else
    OUT("bytes.sval", offsetof(PyStringObject, ob_sval));
    OUT("unicode.length", offsetof(PyUnicodeObject, length));
    NONE("unicode.state");
    NONE("unicode.ascii_size");
    NONE("unicode.compact_size");
    OUT("unicode.data_any", offsetof(PyUnicodeObject, str));
    NONE("unicode.kind_shift"); NONE("unicode.compact_bit"); NONE("unicode.ascii_bit");
#endif
#if PY_MAJOR_VERSION < 3
    OUT("unicode.char_size", sizeof(Py_UNICODE));
#else
    NONE("unicode.char_size");
#endif

    /* ---- Frame locals, object reprs, thread names ---- */
    /* sys.modules */
#if PY_VERSION_HEX >= 0x030C0000
    OUT("interp.modules", offsetof(PyInterpreterState, imports.modules));
#else
    OUT("interp.modules", offsetof(PyInterpreterState, modules));
#endif
    /* Frames */
#if PY_VERSION_HEX >= 0x030B0000
    OUT("iframe.locals", offsetof(_PyInterpreterFrame, f_locals));
    /* 3.14+: _PyStackRef entries (tagged object pointers) */
    OUT("iframe.localsplus", offsetof(_PyInterpreterFrame, localsplus));
    NONE("frame.locals"); NONE("frame.localsplus");
#else
    NONE("iframe.locals"); NONE("iframe.localsplus");
    OUT("frame.locals", offsetof(PyFrameObject, f_locals));
    OUT("frame.localsplus", offsetof(PyFrameObject, f_localsplus));
#endif
    /* Code objects */
    OUT("code.flags", offsetof(PyCodeObject, co_flags));
#if PY_VERSION_HEX >= 0x030B0000
    OUT("code.nlocalsplus", offsetof(PyCodeObject, co_nlocalsplus));
    OUT("code.localsplusnames", offsetof(PyCodeObject, co_localsplusnames));
    OUT("code.localspluskinds", offsetof(PyCodeObject, co_localspluskinds));
    NONE("code.nlocals"); NONE("code.varnames"); NONE("code.cellvars"); NONE("code.freevars");
#else
    NONE("code.nlocalsplus"); NONE("code.localsplusnames"); NONE("code.localspluskinds");
    OUT("code.nlocals", offsetof(PyCodeObject, co_nlocals));
    OUT("code.varnames", offsetof(PyCodeObject, co_varnames));
    OUT("code.cellvars", offsetof(PyCodeObject, co_cellvars));
    OUT("code.freevars", offsetof(PyCodeObject, co_freevars));
#endif
    /* Types */
    OUT("type.name", offsetof(PyTypeObject, tp_name));
    OUT("type.basicsize", offsetof(PyTypeObject, tp_basicsize));
    OUT("type.repr", offsetof(PyTypeObject, tp_repr));
    OUT("type.base", offsetof(PyTypeObject, tp_base));
    OUT("type.dict", offsetof(PyTypeObject, tp_dict));
    OUT("type.dictoffset", offsetof(PyTypeObject, tp_dictoffset));
    OUT("heaptype.name", offsetof(PyHeapTypeObject, ht_name));
#if PY_MAJOR_VERSION >= 3
    OUT("heaptype.qualname", offsetof(PyHeapTypeObject, ht_qualname));
    OUT("heaptype.cached_keys", offsetof(PyHeapTypeObject, ht_cached_keys));
#else
    NONE("heaptype.qualname"); NONE("heaptype.cached_keys");
#endif
    /* Plain objects */
    OUT("tuple.items", offsetof(PyTupleObject, ob_item));
    OUT("list.items", offsetof(PyListObject, ob_item));
    OUT("float_object.value", offsetof(PyFloatObject, ob_fval));
#if PY_VERSION_HEX >= 0x030C0000
    OUT("long_object.tag", offsetof(PyLongObject, long_value.lv_tag));
    OUT("long_object.digits", offsetof(PyLongObject, long_value.ob_digit));
#else
    NONE("long_object.tag");
    OUT("long_object.digits", offsetof(PyLongObject, ob_digit));
#endif
    OUT("long_object.digit_size", sizeof(digit));
    OUT("long_object.shift", PyLong_SHIFT);
#if PY_MAJOR_VERSION < 3
    OUT("int_object.value", offsetof(PyIntObject, ob_ival));
#else
    NONE("int_object.value");
#endif
    OUT("cell.ref", offsetof(PyCellObject, ob_ref));
    OUT("module.dict", offsetof(PyModuleObject, md_dict));
    OUT("function.name", offsetof(PyFunctionObject, func_name));
#if PY_MAJOR_VERSION >= 3
    OUT("function.qualname", offsetof(PyFunctionObject, func_qualname));
#else
    NONE("function.qualname");
#endif
    OUT("cfunction.method", offsetof(PyCFunctionObject, m_ml));
    OUT("cfunction.self", offsetof(PyCFunctionObject, m_self));
    OUT("methoddef.name", offsetof(PyMethodDef, ml_name));
    /* Dicts: 2.7 an open-addressing table of entries; 3.6+ a compact keys object */
    OUT("dict.used", offsetof(PyDictObject, ma_used));
#if PY_MAJOR_VERSION >= 3
    OUT("dict.keys", offsetof(PyDictObject, ma_keys));
    OUT("dict.values", offsetof(PyDictObject, ma_values));
    NONE("dict.mask");
#else
    OUT("dict.keys", offsetof(PyDictObject, ma_table));
    NONE("dict.values");
    OUT("dict.mask", offsetof(PyDictObject, ma_mask));
#endif
#if PY_VERSION_HEX >= 0x030B0000
    NONE("dictkeys.size");
    OUT("dictkeys.log2_size", offsetof(PyDictKeysObject, dk_log2_size));
    OUT("dictkeys.log2_index_bytes", offsetof(PyDictKeysObject, dk_log2_index_bytes));
    OUT("dictkeys.kind", offsetof(PyDictKeysObject, dk_kind));
    OUT("dictkeys.nentries", offsetof(PyDictKeysObject, dk_nentries));
    OUT("dictkeys.indices", offsetof(PyDictKeysObject, dk_indices));
    OUT("dict_entry.size", sizeof(PyDictKeyEntry));
    OUT("dict_entry.key", offsetof(PyDictKeyEntry, me_key));
    OUT("dict_entry.value", offsetof(PyDictKeyEntry, me_value));
    OUT("dict_unicode_entry.size", sizeof(PyDictUnicodeEntry));
    OUT("dict_unicode_entry.key", offsetof(PyDictUnicodeEntry, me_key));
    OUT("dict_unicode_entry.value", offsetof(PyDictUnicodeEntry, me_value));
    OUT("dictvalues.values", offsetof(PyDictValues, values));
#elif PY_MAJOR_VERSION >= 3
    OUT("dictkeys.size", offsetof(ProbeDictKeys, dk_size));
    NONE("dictkeys.log2_size"); NONE("dictkeys.log2_index_bytes"); NONE("dictkeys.kind");
    OUT("dictkeys.nentries", offsetof(ProbeDictKeys, dk_nentries));
    OUT("dictkeys.indices", offsetof(ProbeDictKeys, dk_indices));
    OUT("dict_entry.size", sizeof(ProbeDictKeyEntry));
    OUT("dict_entry.key", offsetof(ProbeDictKeyEntry, me_key));
    OUT("dict_entry.value", offsetof(ProbeDictKeyEntry, me_value));
    NONE("dict_unicode_entry.size"); NONE("dict_unicode_entry.key");
    NONE("dict_unicode_entry.value");
    OUT("dictvalues.values", 0);  /* ma_values is a plain PyObject *[] */
#else
    NONE("dictkeys.size"); NONE("dictkeys.log2_size"); NONE("dictkeys.log2_index_bytes");
    NONE("dictkeys.kind"); NONE("dictkeys.nentries"); NONE("dictkeys.indices");
    OUT("dict_entry.size", sizeof(PyDictEntry));
    OUT("dict_entry.key", offsetof(PyDictEntry, me_key));
    OUT("dict_entry.value", offsetof(PyDictEntry, me_value));
    NONE("dict_unicode_entry.size"); NONE("dict_unicode_entry.key");
    NONE("dict_unicode_entry.value"); NONE("dictvalues.values");
#endif
    /* Sets: an open-addressing table of (key, hash) entries */
    OUT("set.used", offsetof(PySetObject, used));
    OUT("set.mask", offsetof(PySetObject, mask));
    OUT("set.table", offsetof(PySetObject, table));
    OUT("set_entry.size", sizeof(setentry));
    OUT("set_entry.key", offsetof(setentry, key));
    /* Generators, coroutines, async generators (3.x: one header); bound methods */
#if PY_MAJOR_VERSION >= 3
    OUT("gen.qualname", offsetof(PyGenObject, gi_qualname));
    NONE("gen.code");
#else
    NONE("gen.qualname");
    OUT("gen.code", offsetof(PyGenObject, gi_code));
#endif
    OUT("method.func", offsetof(PyMethodObject, im_func));
    OUT("method.self", offsetof(PyMethodObject, im_self));
    /* The frame fields CPython's own check of a frame reads (_PyFrame_SafeGetCode, 3.13.10+) */
#if PY_VERSION_HEX >= 0x030B0000
    OUT("iframe.globals", offsetof(_PyInterpreterFrame, f_globals));
    OUT("iframe.builtins", offsetof(_PyInterpreterFrame, f_builtins));
#else
    NONE("iframe.globals"); NONE("iframe.builtins");
#endif
    /* What a suspended coroutine awaits (--tasks): its frame and the top of that frame's stack */
#if PY_VERSION_HEX >= 0x030E0000
    NONE("iframe.stacktop");
    OUT("iframe.stackpointer", offsetof(_PyInterpreterFrame, stackpointer));
#elif PY_VERSION_HEX >= 0x030B0000
    OUT("iframe.stacktop", offsetof(_PyInterpreterFrame, stacktop));
    NONE("iframe.stackpointer");
#else
    NONE("iframe.stacktop"); NONE("iframe.stackpointer");
#endif
#if PY_MAJOR_VERSION >= 3 && PY_VERSION_HEX < 0x030B0000
    OUT("frame.valuestack", offsetof(PyFrameObject, f_valuestack));
#if PY_VERSION_HEX >= 0x030A0000
    NONE("frame.stacktop");
    OUT("frame.stackdepth", offsetof(PyFrameObject, f_stackdepth));
#else
    OUT("frame.stacktop", offsetof(PyFrameObject, f_stacktop));
    NONE("frame.stackdepth");
#endif
#else
    NONE("frame.valuestack"); NONE("frame.stacktop"); NONE("frame.stackdepth");
#endif
#if PY_VERSION_HEX < 0x030B0000
    OUT("code.code", offsetof(PyCodeObject, co_code));
    NONE("code.exceptiontable");
#else
    NONE("code.code");
    OUT("code.exceptiontable", offsetof(PyCodeObject, co_exceptiontable));
#endif
    /* Thread-local bytecode of free-threaded builds (3.14+): the copy a frame runs */
#if PY_VERSION_HEX >= 0x030E0000 && defined(Py_GIL_DISABLED)
    OUT("iframe.tlbc_index", offsetof(_PyInterpreterFrame, tlbc_index));
    OUT("code.tlbc", offsetof(PyCodeObject, co_tlbc));
#else
    NONE("iframe.tlbc_index"); NONE("code.tlbc");
#endif
    /* The blocks a frame is in (--locks: `with` blocks), up to 3.10 */
#if PY_MAJOR_VERSION >= 3 && PY_VERSION_HEX < 0x030B0000
    OUT("frame.iblock", offsetof(PyFrameObject, f_iblock));
    OUT("frame.blockstack", offsetof(PyFrameObject, f_blockstack));
#else
    NONE("frame.iblock"); NONE("frame.blockstack");
#endif
#if PY_VERSION_HEX >= 0x030B0000
    NONE("gen.frame");
    OUT("gen.iframe", offsetof(PyGenObject, gi_iframe));
    OUT("gen.frame_state", offsetof(PyGenObject, gi_frame_state));
#else
    OUT("gen.frame", offsetof(PyGenObject, gi_frame));
    NONE("gen.iframe"); NONE("gen.frame_state");
#endif
    /* The exception a thread handles (--exceptions) */
#if PY_VERSION_HEX >= 0x03070000
    OUT("tstate.exc_info", offsetof(PyThreadState, exc_info));
    NONE("tstate.exc_value");
#else
    NONE("tstate.exc_info");
    OUT("tstate.exc_value", offsetof(PyThreadState, exc_value));
#endif
#if PY_VERSION_HEX >= 0x030B0000
    OUT("frame.iframe", offsetof(PyFrameObject, f_frame));
#else
    NONE("frame.iframe");
#endif
#if PY_VERSION_HEX >= 0x030B0000
    NONE("err_stackitem.exc_type");
    OUT("err_stackitem.exc_value", offsetof(_PyErr_StackItem, exc_value));
    OUT("err_stackitem.previous_item", offsetof(_PyErr_StackItem, previous_item));
#elif PY_VERSION_HEX >= 0x03070000
    OUT("err_stackitem.exc_type", offsetof(_PyErr_StackItem, exc_type));
    OUT("err_stackitem.exc_value", offsetof(_PyErr_StackItem, exc_value));
    OUT("err_stackitem.previous_item", offsetof(_PyErr_StackItem, previous_item));
#else
    NONE("err_stackitem.exc_type"); NONE("err_stackitem.exc_value");
    NONE("err_stackitem.previous_item");
#endif
    OUT("base_exception.dict", offsetof(PyBaseExceptionObject, dict));
    OUT("base_exception.args", offsetof(PyBaseExceptionObject, args));
#if PY_MAJOR_VERSION >= 3
    OUT("base_exception.traceback", offsetof(PyBaseExceptionObject, traceback));
    OUT("base_exception.context", offsetof(PyBaseExceptionObject, context));
    OUT("base_exception.cause", offsetof(PyBaseExceptionObject, cause));
    OUT("base_exception.suppress_context", offsetof(PyBaseExceptionObject, suppress_context));
#else
    NONE("base_exception.traceback"); NONE("base_exception.context");
    NONE("base_exception.cause"); NONE("base_exception.suppress_context");
#endif
    OUT("traceback.next", offsetof(PyTracebackObject, tb_next));
    OUT("traceback.frame", offsetof(PyTracebackObject, tb_frame));
    OUT("traceback.lasti", offsetof(PyTracebackObject, tb_lasti));
    OUT("traceback.lineno", offsetof(PyTracebackObject, tb_lineno));
    OUT("os_error.myerrno", offsetof(PyEnvironmentErrorObject, myerrno));
    OUT("os_error.strerror", offsetof(PyEnvironmentErrorObject, strerror));
    OUT("os_error.filename", offsetof(PyEnvironmentErrorObject, filename));
#if PY_MAJOR_VERSION >= 3
    OUT("os_error.filename2", offsetof(PyOSErrorObject, filename2));
#else
    NONE("os_error.filename2");
#endif
    OUT("syntax_error.msg", offsetof(PySyntaxErrorObject, msg));
    OUT("syntax_error.filename", offsetof(PySyntaxErrorObject, filename));
    OUT("syntax_error.lineno", offsetof(PySyntaxErrorObject, lineno));
    OUT("syntax_error.offset", offsetof(PySyntaxErrorObject, offset));
    OUT("syntax_error.text", offsetof(PySyntaxErrorObject, text));
#if PY_VERSION_HEX >= 0x030A0000
    OUT("syntax_error.end_lineno", offsetof(PySyntaxErrorObject, end_lineno));
    OUT("syntax_error.end_offset", offsetof(PySyntaxErrorObject, end_offset));
#else
    NONE("syntax_error.end_lineno"); NONE("syntax_error.end_offset");
#endif
#if PY_VERSION_HEX >= 0x030B0000
    OUT("exception_group.msg", offsetof(PyBaseExceptionGroupObject, msg));
    OUT("exception_group.excs", offsetof(PyBaseExceptionGroupObject, excs));
#else
    NONE("exception_group.msg"); NONE("exception_group.excs");
#endif
#if PY_MAJOR_VERSION >= 3
    OUT("import_error.msg", offsetof(PyImportErrorObject, msg));
#else
    NONE("import_error.msg");
#endif
    return 0;
}
