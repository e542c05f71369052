// Struct offsets of one CPython minor version, one struct per CPython struct: the data that keeps
// version differences out of the code. Tables are generated from each interpreter's headers
// (scripts/gen-layouts) into third_party/cpython/; 3.13+ overlay the offsets the target publishes
// in _Py_DebugOffsets. Which model a release follows (frame chain, line table, GIL, ...) is not
// inferred from these: the registry of releases says it (cpython/releases.h).
#pragma once

#include <cstdint>
#include <vector>

namespace pystack {

// Every field is a byte offset (or a size, or a bit position) and -1 where the version lacks it.
// The order of the structs and their fields is the order of scripts/layout_probe.c's output.

// _PyRuntimeState
struct RuntimeOffsets {
  int64_t interpreters_head = -1;
  int64_t gil_locked = -1;  // 3.7-3.11: the GIL lives in the runtime
  int64_t gil_last_holder = -1;
  int64_t tstate_current = -1;
  int64_t gc_collecting = -1;  // 3.7-3.8
};

// PyInterpreterState
struct InterpreterOffsets {
  int64_t size = -1;
  int64_t next = -1;
  int64_t threads_head = -1;
  int64_t id = -1;
  int64_t gc_collecting = -1;  // 3.9+
  int64_t ceval_gil = -1;  // 3.12+: pointer to the interpreter's GIL
  int64_t modules = -1;  // sys.modules: modules, imports.modules (3.12+)
};

// struct _gil_runtime_state (3.12+)
struct GilOffsets {
  int64_t locked = -1;  // within struct _gil_runtime_state (3.12+)
  int64_t last_holder = -1;  // PyThreadState
  int64_t enabled = -1;  // free-threaded builds: whether the GIL is on (PYTHON_GIL=1, -X gil=1)
};

// PyThreadState
struct ThreadStateOffsets {
  int64_t size = -1;
  int64_t prev = -1;
  int64_t next = -1;
  int64_t interp = -1;
  int64_t frame = -1;  // frame (<3.11), cframe (3.11/3.12), current_frame (3.13+)
  int64_t thread_id = -1;
  int64_t native_thread_id = -1;
  int64_t datastack_chunk = -1;  // _PyInterpreterFrame (3.11+)
  int64_t exc_info = -1;   // _PyErr_StackItem *: the exception being handled (3.7+)
  int64_t exc_value = -1;  // tstate->exc_value itself (2.7, 3.6)
};

// _PyCFrame (3.11/3.12)
struct CFrameOffsets {
  int64_t current_frame = -1;  // within _PyCFrame (3.11/3.12)
};

// _PyInterpreterFrame (3.11+)
struct InterpreterFrameOffsets {
  int64_t size = -1;
  int64_t code = -1;  // f_code, or f_executable (3.13+)
  int64_t instr = -1;  // prev_instr (3.11/3.12), instr_ptr (3.13+)
  int64_t previous = -1;
  int64_t owner = -1;  // PyFrameObject (up to 3.10)
  int64_t locals = -1;  // _PyInterpreterFrame.f_locals (3.11+)
  int64_t localsplus = -1;  // _PyInterpreterFrame.localsplus (3.11+)
  int64_t globals = -1;
  int64_t builtins = -1;
  int64_t stacktop = -1;      // an int: localsplus slots in use (3.11-3.13)
  int64_t stackpointer = -1;  // a _PyStackRef * (3.14+)
  // Free-threaded 3.14+: which copy of its code's bytecode the frame runs (an int32; 0 is
  // co_code_adaptive itself, others co_tlbc->entries[i]).
  int64_t tlbc_index = -1;
};

// PyFrameObject (up to 3.10)
struct FrameObjectOffsets {
  int64_t back = -1;
  int64_t code = -1;
  int64_t lasti = -1;
  int64_t lineno = -1;  // PyCodeObject
  int64_t locals = -1;  // PyFrameObject.f_locals (up to 3.10)
  int64_t localsplus = -1;  // PyFrameObject.f_localsplus (up to 3.10)
  int64_t valuestack = -1;  // f_valuestack (3.x up to 3.10)
  int64_t stacktop = -1;    // f_stacktop, a pointer (up to 3.9)
  int64_t stackdepth = -1;  // f_stackdepth, an int (3.10)
  int64_t iblock = -1;      // f_iblock: blocks in use (3.x up to 3.10)
  int64_t blockstack = -1;  // f_blockstack: PyTryBlock {int b_type, b_handler, b_level}[]
  int64_t iframe = -1;      // f_frame: its _PyInterpreterFrame (3.11+; a traceback's tb_frame)
};

// PyCodeObject
struct CodeOffsets {
  int64_t filename = -1;
  int64_t name = -1;
  int64_t qualname = -1;
  int64_t linetable = -1;  // co_lnotab (<3.10), co_linetable (3.10+)
  int64_t firstlineno = -1;
  int64_t adaptive = -1;  // co_code_adaptive (3.11+)
  int64_t flags = -1;
  int64_t nlocalsplus = -1;  // 3.11+
  int64_t localsplusnames = -1;  // 3.11+
  int64_t localspluskinds = -1;  // 3.11+
  int64_t nlocals = -1;  // up to 3.10
  int64_t varnames = -1;  // up to 3.10
  int64_t cellvars = -1;  // up to 3.10
  int64_t freevars = -1;  // up to 3.10
  int64_t code = -1;  // co_code, a bytes object (up to 3.10)
  int64_t exceptiontable = -1;  // co_exceptiontable, a bytes object (3.11+)
  int64_t tlbc = -1;  // free-threaded 3.14+: co_tlbc, a _PyCodeArray {size; entries[]}
};

// PyObject, PyVarObject
struct ObjectOffsets {
  int64_t type = -1;
  int64_t var_size = -1;
  // MANAGED_DICT_OFFSET (3.11+), before the object: -24, or -8 in a free-threaded build.
  int64_t managed_dict = -1;
};

// PyTypeObject
struct TypeOffsets {
  int64_t flags = -1;
  int64_t name = -1;  // tp_name (a C string)
  int64_t basicsize = -1;
  int64_t repr = -1;
  int64_t base = -1;
  int64_t dict = -1;
  int64_t dictoffset = -1;
};

// PyBytesObject (2.7: PyStringObject)
struct BytesOffsets {
  int64_t sval = -1;
};

// PyASCIIObject, PyCompactUnicodeObject (2.7: PyUnicodeObject)
struct UnicodeOffsets {
  int64_t length = -1;
  int64_t state = -1;
  int64_t ascii_size = -1;
  int64_t compact_size = -1;
  int64_t data_any = -1;
  int64_t kind_shift = -1;
  int64_t compact_bit = -1;
  int64_t ascii_bit = -1;
  int64_t char_size = -1;  // Python 2: sizeof(Py_UNICODE), 2 or 4
};

// PyHeapTypeObject
struct HeapTypeOffsets {
  int64_t name = -1;  // PyHeapTypeObject.ht_name
  int64_t qualname = -1;  // ht_qualname (3.x)
  int64_t cached_keys = -1;  // ht_cached_keys (3.x)
};

// PyTupleObject
struct TupleOffsets {
  int64_t items = -1;  // PyTupleObject.ob_item (inline array)
};

// PyListObject
struct ListOffsets {
  int64_t items = -1;  // PyListObject.ob_item (pointer)
};

// PyFloatObject
struct FloatOffsets {
  int64_t value = -1;
};

// PyLongObject
struct LongOffsets {
  int64_t tag = -1;  // lv_tag (3.12+): sign in bits 0-1, digits from bit 3
  int64_t digits = -1;  // ob_digit
  int64_t digit_size = -1;  // sizeof(digit)
  int64_t shift = -1;  // PyLong_SHIFT
};

// PyIntObject (2.7)
struct IntOffsets {
  int64_t value = -1;  // Python 2 PyIntObject.ob_ival
};

// PyCellObject
struct CellOffsets {
  int64_t ref = -1;
};

// PyModuleObject
struct ModuleOffsets {
  int64_t dict = -1;
};

// PyFunctionObject
struct FunctionOffsets {
  int64_t name = -1;
  int64_t qualname = -1;  // 3.x
};

// PyCFunctionObject
struct CFunctionOffsets {
  int64_t method = -1;  // PyCFunctionObject.m_ml
  int64_t self = -1;
};

// PyMethodDef
struct MethodDefOffsets {
  int64_t name = -1;  // PyMethodDef.ml_name
};

// PyDictObject
struct DictOffsets {
  int64_t used = -1;
  int64_t keys = -1;  // ma_keys (3.x), ma_table (2.7)
  int64_t values = -1;  // ma_values (3.x)
  int64_t mask = -1;  // ma_mask (2.7)
};

// PyDictKeysObject
struct DictKeysOffsets {
  int64_t size = -1;  // dk_size (3.6-3.10)
  int64_t log2_size = -1;  // 3.11+
  int64_t log2_index_bytes = -1;  // 3.11+
  int64_t kind = -1;  // 3.11+: general, unicode or split entries
  int64_t nentries = -1;
  int64_t indices = -1;
};

// PyDictKeyEntry (2.7: PyDictEntry)
struct DictEntryOffsets {
  int64_t size = -1;  // PyDictKeyEntry (2.7: PyDictEntry)
  int64_t key = -1;
  int64_t value = -1;
};

// PyDictValues
struct DictValuesOffsets {
  int64_t values = -1;  // values[] within PyDictValues (3.13: after a header)
};

// PySetObject
struct SetOffsets {
  int64_t used = -1;
  int64_t mask = -1;
  int64_t table = -1;
};

// setentry
struct SetEntryOffsets {
  int64_t size = -1;
  int64_t key = -1;
};

// PyGenObject, PyCoroObject, PyAsyncGenObject
struct GenOffsets {
  int64_t qualname = -1;  // gi_qualname (cr_, ag_ alike) (3.x)
  int64_t code = -1;  // gi_code (2.7)
  int64_t frame = -1;        // gi_frame, a PyFrameObject (3.x up to 3.10)
  int64_t iframe = -1;       // gi_iframe, the embedded _PyInterpreterFrame (3.11+)
  int64_t frame_state = -1;  // gi_frame_state, an int8 (3.11+)
};

// PyMethodObject
struct MethodOffsets {
  int64_t func = -1;  // PyMethodObject.im_func
  int64_t self = -1;  // _PyInterpreterFrame.f_globals, f_builtins (3.11+): what _PyFrame_SafeGetCode checks first.
};

// _PyErr_StackItem (3.7+): one level of the stack of exceptions being handled
struct ErrStackItemOffsets {
  int64_t exc_type = -1;  // 3.7-3.10
  int64_t exc_value = -1;
  int64_t previous_item = -1;
};

// PyBaseExceptionObject
struct BaseExceptionOffsets {
  int64_t dict = -1;
  int64_t args = -1;
  int64_t traceback = -1;  // 3.x
  int64_t context = -1;    // 3.x
  int64_t cause = -1;      // 3.x
  int64_t suppress_context = -1;  // a char (3.x)
};

// PyTracebackObject
struct TracebackOffsets {
  int64_t next = -1;
  int64_t frame = -1;
  int64_t lasti = -1;   // an int: bytes (3.11+: code units * 2)
  int64_t lineno = -1;  // an int (3.12+: -1 until asked)
};

// PyOSErrorObject
struct OSErrorOffsets {
  int64_t myerrno = -1;
  int64_t strerror = -1;
  int64_t filename = -1;
  int64_t filename2 = -1;  // 3.4+
};

// PySyntaxErrorObject
struct SyntaxErrorOffsets {
  int64_t msg = -1;
  int64_t filename = -1;
  int64_t lineno = -1;
  int64_t offset = -1;
  int64_t text = -1;
  int64_t end_lineno = -1;  // 3.10+
  int64_t end_offset = -1;  // 3.10+
};

// PyBaseExceptionGroupObject (3.11+), PyImportErrorObject
struct ExceptionGroupOffsets {
  int64_t msg = -1;
  int64_t excs = -1;  // a tuple
};
struct ImportErrorOffsets {
  int64_t msg = -1;
};

struct Layout {
  int64_t major = -1;
  int64_t minor = -1;
  int64_t pointer_size = -1;
  // 1 for a free-threaded build (Py_GIL_DISABLED, PEP 703): another object header, and so
  // other offsets throughout; 0 for the default build.
  int64_t free_threaded = 0;
  RuntimeOffsets runtime;
  InterpreterOffsets interp;
  GilOffsets gil;
  ThreadStateOffsets tstate;
  CFrameOffsets cframe;
  InterpreterFrameOffsets iframe;
  FrameObjectOffsets frame;
  CodeOffsets code;
  ObjectOffsets object;
  TypeOffsets type;
  BytesOffsets bytes;
  UnicodeOffsets unicode;
  HeapTypeOffsets heaptype;
  TupleOffsets tuple;
  ListOffsets list;
  FloatOffsets float_object;
  LongOffsets long_object;
  IntOffsets int_object;
  CellOffsets cell;
  ModuleOffsets module;
  FunctionOffsets function;
  CFunctionOffsets cfunction;
  MethodDefOffsets methoddef;
  DictOffsets dict;
  DictKeysOffsets dictkeys;
  DictEntryOffsets dict_entry;
  DictEntryOffsets dict_unicode_entry;
  DictValuesOffsets dictvalues;
  SetOffsets set;
  SetEntryOffsets set_entry;
  GenOffsets gen;
  MethodOffsets method;
  ErrStackItemOffsets err_stackitem;
  BaseExceptionOffsets base_exception;
  TracebackOffsets traceback;
  OSErrorOffsets os_error;
  SyntaxErrorOffsets syntax_error;
  ExceptionGroupOffsets exception_group;
  ImportErrorOffsets import_error;
};

// The generated table for major.minor, or nullptr when none was generated for it.
const Layout* find_layout(int major, int minor);

// Every generated table, oldest first (for --help and tests).
const std::vector<Layout>& all_layouts();

// sizeof(PyObject), where the fields of a C object of the standard library begin: 16, or 32 in
// a free-threaded build (ob_tid, ob_mutex, ob_gc_bits, ob_ref_local, ob_ref_shared, ob_type).
inline constexpr int64_t kDefaultObjectHeaderSize = 16;
inline constexpr int64_t kFreeThreadedObjectHeaderSize = 32;
inline int64_t object_header_size(const Layout& layout) { return layout.object.type + 8; }
// How much further an object's own fields lie than in a default build: 0, or 16 when free-threaded.
inline int64_t object_header_growth(const Layout& layout) {
  return object_header_size(layout) - kDefaultObjectHeaderSize;
}

}  // namespace pystack
