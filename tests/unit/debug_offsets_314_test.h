// _Py_DebugOffsets of CPython 3.14 and 3.15 as C structs, transcribed field by field from
// Include/internal/pycore_debug_offsets.h (no such interpreter runs on this machine), and
// synthetic images of them for the tests: debug_offsets_314_test.cc (the parser) and
// snapshot_314_test.cc (a whole walk over a fake process).
//
// Where each declaration was read (see also src/cpython/debug_offsets_314.cc):
//  - 3.14: the 3.14 release header, as mirrored by bloomberg/pystack (namespace Python3_14,
//    src/pystack/_pystack/cpython/runtime.h, commit 0e1b1ee2) and by typthon (a fork of the 3.14
//    release, commit 71cf7bf1); python/cpython's own copy in the index is a 3.14 alpha.
//  - 3.15 (888 bytes): python/cpython main at commit 11f3545d (its
//    Modules/_remote_debugging/debug_offsets_validation.h asserts sizeof == 888), field order
//    from taegyunkim/cpython commit 8543f762.
//  - 3.15 (880 bytes): an earlier 3.15 pre-release, as mirrored by bloomberg/pystack (Python3_15).
//
// The offset values are illustrative values of an x86-64 GIL build, chosen to be realistic
// (they follow the 3.14 struct declarations where known) but not recorded from an interpreter:
// the parser must take whatever the target publishes.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace pystack::test314 {

struct DebugOffsets314 {
  char cookie[8];
  uint64_t version;
  uint64_t free_threaded;
  struct { uint64_t size, finalizing, interpreters_head; } runtime_state;
  struct {
    uint64_t size, id, next, threads_head, threads_main, gc, imports_modules, sysdict, builtins,
        ceval_gil, gil_runtime_state, gil_runtime_state_enabled, gil_runtime_state_locked,
        gil_runtime_state_holder, code_object_generation, tlbc_generation;
  } interpreter_state;
  struct {
    uint64_t size, prev, next, interp, current_frame, thread_id, native_thread_id,
        datastack_chunk, status;
  } thread_state;
  struct {
    uint64_t size, previous, executable, instr_ptr, localsplus, owner, stackpointer, tlbc_index;
  } interpreter_frame;
  struct {
    uint64_t size, filename, name, qualname, linetable, firstlineno, argcount, localsplusnames,
        localspluskinds, co_code_adaptive, co_tlbc;
  } code_object;
  struct { uint64_t size, ob_type; } pyobject;
  struct { uint64_t size, tp_name, tp_repr, tp_flags; } type_object;
  struct { uint64_t size, ob_item, ob_size; } tuple_object;
  struct { uint64_t size, ob_item, ob_size; } list_object;
  struct { uint64_t size, used, table, mask; } set_object;
  struct { uint64_t size, ma_keys, ma_values; } dict_object;
  struct { uint64_t size, ob_fval; } float_object;
  struct { uint64_t size, lv_tag, ob_digit; } long_object;
  struct { uint64_t size, ob_size, ob_sval; } bytes_object;
  struct { uint64_t size, state, length, asciiobject_size; } unicode_object;
  struct { uint64_t size, collecting; } gc;
  struct { uint64_t size, gi_name, gi_iframe, gi_frame_state; } gen_object;
  struct { uint64_t next, prev; } llist_node;
  struct {
    uint64_t eval_breaker, remote_debugger_support, remote_debugging_enabled,
        debugger_pending_call, debugger_script_path, debugger_script_path_size;
  } debugger_support;
};
static_assert(sizeof(DebugOffsets314) == 95 * 8);

// thread_state of CPython 3.15 main, and of the earlier pre-release (no last_profiled_frame_seq).
struct ThreadState315 {
  uint64_t size, prev, next, interp, current_frame, base_frame, last_profiled_frame,
      last_profiled_frame_seq, thread_id, native_thread_id, datastack_chunk, status, holds_gil,
      gil_requested, current_exception, exc_state;
};
struct ThreadState315Pre {
  uint64_t size, prev, next, interp, current_frame, base_frame, last_profiled_frame, thread_id,
      native_thread_id, datastack_chunk, status, holds_gil, gil_requested, current_exception,
      exc_state;
};

// CPython 3.15: main (888 bytes) with ThreadState315, the 880-byte pre-release with
// ThreadState315Pre; everything else is the same.
template <typename ThreadState>
struct DebugOffsets315T {
  char cookie[8];
  uint64_t version;
  uint64_t free_threaded;
  struct { uint64_t size, finalizing, interpreters_head; } runtime_state;
  struct {
    uint64_t size, id, next, threads_head, threads_main, gc, imports_modules, sysdict, builtins,
        ceval_gil, gil_runtime_state, gil_runtime_state_enabled, gil_runtime_state_locked,
        gil_runtime_state_holder, code_object_generation, tlbc_generation;
  } interpreter_state;
  ThreadState thread_state;
  struct { uint64_t exc_value; } err_stackitem;
  struct {
    uint64_t size, previous, executable, instr_ptr, localsplus, owner, stackpointer, tlbc_index;
  } interpreter_frame;
  struct {
    uint64_t size, filename, name, qualname, linetable, firstlineno, argcount, localsplusnames,
        localspluskinds, co_code_adaptive, co_tlbc;
  } code_object;
  struct { uint64_t size, ob_type; } pyobject;
  struct { uint64_t size, tp_name, tp_repr, tp_flags, tp_basicsize, tp_dictoffset; } type_object;
  struct { uint64_t size, ht_cached_keys; } heap_type_object;
  struct { uint64_t size, ob_item, ob_size; } tuple_object;
  struct { uint64_t size, ob_item, ob_size; } list_object;
  struct { uint64_t size, used, table, mask; } set_object;
  struct { uint64_t size, ma_keys, ma_values; } dict_object;
  struct { uint64_t size, ob_fval; } float_object;
  struct { uint64_t size, lv_tag, ob_digit; } long_object;
  struct { uint64_t size, ob_size, ob_sval; } bytes_object;
  struct {
    uint64_t size, state, length, asciiobject_size, compactunicodeobject_size;
  } unicode_object;
  struct {
    uint64_t size, collecting, frame, generation_stats_size, generation_stats;
  } gc;
  struct { uint64_t size, gi_name, gi_iframe, gi_frame_state; } gen_object;
  struct { uint64_t next, prev; } llist_node;
  struct {
    uint64_t eval_breaker, remote_debugger_support, remote_debugging_enabled,
        debugger_pending_call, debugger_script_path, debugger_script_path_size;
  } debugger_support;
};
using DebugOffsets315 = DebugOffsets315T<ThreadState315>;
using DebugOffsets315Pre = DebugOffsets315T<ThreadState315Pre>;
static_assert(sizeof(DebugOffsets315) == 888);
static_assert(sizeof(DebugOffsets315Pre) == 880);

inline constexpr uint64_t kVersion3140 = 0x030E00F0;  // 3.14.0 final
inline constexpr uint64_t kVersion3141 = 0x030E01F0;  // 3.14.1
inline constexpr uint64_t kVersion315b1 = 0x030F00B1;  // 3.15.0b1

// Offsets inside CPython's structs for the synthetic images, named after the C fields. The
// _PyInterpreterFrame ones follow 3.14's pycore_interpframe_structs.h for a GIL build:
// f_executable, previous, f_funcobj, f_globals, f_builtins, f_locals, frame_obj, instr_ptr,
// stackpointer, return_offset (2 bytes), owner, visited, localsplus.
struct Sizes {
  // interpreters_head lies after the debug offsets, at the start of _PyRuntime.
  static constexpr uint64_t kRuntimeSize = 420000, kInterpretersHead = 1032;
  static constexpr uint64_t kInterpSize = 201760, kInterpId = 7288, kInterpNext = 7280,
                            kThreadsHead = 7360, kThreadsMain = 7368, kInterpGc = 7592,
                            kModules = 7704, kCevalGil = 16, kGil = 12000, kGilLocked = 12016,
                            kGilHolder = 12008;
  static constexpr uint64_t kGcSize = 400, kGcCollecting = 12;
  static constexpr uint64_t kTstateSize = 352, kCurrentFrame = 72, kThreadId = 152,
                            kNativeThreadId = 160, kDatastack = 232, kStatus = 192;
  static constexpr uint64_t kFrameSize = 88, kInstrPtr = 56, kStackPointer = 64, kOwner = 74,
                            kLocalsplus = 80;
  static constexpr uint64_t kCodeSize = 216, kFilename = 112, kName = 120, kQualname = 128,
                            kLinetable = 136, kFirstLineno = 68, kArgcount = 60,
                            kLocalsplusNames = 96, kLocalsplusKinds = 104, kCodeAdaptive = 208;
  static constexpr uint64_t kTypeSize = 416, kTpName = 24, kTpRepr = 88, kTpFlags = 168;
  static constexpr uint64_t kBytesSize = 40, kObSval = 32;
  static constexpr uint64_t kUnicodeSize = 64, kState = 32, kLength = 16, kAsciiSize = 40,
                            kCompactSize = 56;
};

// Fills every field a 3.14 or 3.15 struct shares, by name.
template <typename D>
D example_offsets(uint64_t version) {
  using S = Sizes;
  D d{};
  std::memcpy(d.cookie, "xdebugpy", 8);
  d.version = version;
  d.free_threaded = 0;
  d.runtime_state.size = S::kRuntimeSize;
  d.runtime_state.finalizing = 1016;
  d.runtime_state.interpreters_head = S::kInterpretersHead;
  auto& is = d.interpreter_state;
  is.size = S::kInterpSize;
  is.id = S::kInterpId;
  is.next = S::kInterpNext;
  is.threads_head = S::kThreadsHead;
  is.threads_main = S::kThreadsMain;
  is.gc = S::kInterpGc;
  is.imports_modules = S::kModules;
  is.sysdict = 7712;
  is.builtins = 7720;
  is.ceval_gil = S::kCevalGil;
  is.gil_runtime_state = S::kGil;
  is.gil_runtime_state_enabled = 0;  // GIL build: no `enabled` field
  is.gil_runtime_state_locked = S::kGilLocked;
  is.gil_runtime_state_holder = S::kGilHolder;
  is.code_object_generation = 12400;
  is.tlbc_generation = 0;  // GIL build
  auto& ts = d.thread_state;
  ts.size = S::kTstateSize;
  ts.prev = 0;
  ts.next = 8;
  ts.interp = 16;
  ts.current_frame = S::kCurrentFrame;
  ts.thread_id = S::kThreadId;
  ts.native_thread_id = S::kNativeThreadId;
  ts.datastack_chunk = S::kDatastack;
  ts.status = S::kStatus;
  auto& fr = d.interpreter_frame;
  fr.size = S::kFrameSize;
  fr.previous = 8;
  fr.executable = 0;
  fr.instr_ptr = S::kInstrPtr;
  fr.localsplus = S::kLocalsplus;
  fr.owner = S::kOwner;
  fr.stackpointer = S::kStackPointer;
  fr.tlbc_index = 0;
  auto& co = d.code_object;
  co.size = S::kCodeSize;
  co.filename = S::kFilename;
  co.name = S::kName;
  co.qualname = S::kQualname;
  co.linetable = S::kLinetable;
  co.firstlineno = S::kFirstLineno;
  co.argcount = S::kArgcount;
  co.localsplusnames = S::kLocalsplusNames;
  co.localspluskinds = S::kLocalsplusKinds;
  co.co_code_adaptive = S::kCodeAdaptive;
  co.co_tlbc = 0;
  d.pyobject.size = 16;
  d.pyobject.ob_type = 8;
  d.type_object.size = S::kTypeSize;
  d.type_object.tp_name = S::kTpName;
  d.type_object.tp_repr = S::kTpRepr;
  d.type_object.tp_flags = S::kTpFlags;
  d.tuple_object = {32, 24, 16};
  d.list_object = {40, 24, 16};
  d.set_object = {200, 24, 40, 32};
  d.dict_object = {48, 32, 40};
  d.float_object = {24, 16};
  d.long_object = {32, 16, 24};
  d.bytes_object = {S::kBytesSize, 16, S::kObSval};
  d.unicode_object.size = S::kUnicodeSize;
  d.unicode_object.state = S::kState;
  d.unicode_object.length = S::kLength;
  d.unicode_object.asciiobject_size = S::kAsciiSize;
  d.gc.size = S::kGcSize;
  d.gc.collecting = S::kGcCollecting;
  d.gen_object = {200, 32, 88, 83};
  d.llist_node = {0, 8};
  d.debugger_support = {24, 328, 4096, 0, 8, 512};
  return d;
}

inline DebugOffsets315 example_315(uint64_t version = kVersion315b1) {
  DebugOffsets315 d = example_offsets<DebugOffsets315>(version);
  d.thread_state.base_frame = 256;
  d.thread_state.last_profiled_frame = 248;
  d.thread_state.last_profiled_frame_seq = 344;
  d.unicode_object.compactunicodeobject_size = Sizes::kCompactSize;
  d.type_object.tp_basicsize = 32;
  d.type_object.tp_dictoffset = 288;
  d.heap_type_object = {944, 880};
  d.gc.frame = 40;
  d.gc.generation_stats_size = 24;
  d.gc.generation_stats = 48;
  return d;
}

inline DebugOffsets315Pre example_315_pre(uint64_t version = 0x030F00A2) {
  DebugOffsets315Pre d = example_offsets<DebugOffsets315Pre>(version);
  d.thread_state.base_frame = 256;
  d.unicode_object.compactunicodeobject_size = Sizes::kCompactSize;
  return d;
}

template <typename D>
std::string image_of(const D& d) {
  return std::string(reinterpret_cast<const char*>(&d), sizeof d);
}

}  // namespace pystack::test314
