// The registry of CPython releases: one row per release (and per patch range where what
// pystack-dump shows differs), saying which model each concept of that release follows and
// where its struct offsets come from. Every version difference the readers and formatters act on
// is a field here; adding a release is adding a row (plus its generated layout table).
#pragma once

#include <span>

#include "cpython/layout.h"
#include "snapshot/snapshot.h"

namespace pystack {

// How the runtime tells its version: 2.7 to 3.10 by the file's name or the PY_VERSION string in
// its data, 3.11/3.12 by Py_Version, 3.13+ by _Py_DebugOffsets.
enum class VersionSource { kNameOrRodata, kPyVersion, kDebugOffsets };
// Where the interpreter list starts: the static interp_head (2.7, 3.6), _PyRuntime (3.7+).
enum class InterpreterListHead { kStaticInterpHead, kRuntime };
// Where the offsets come from: the generated table; laid over by the 3.13 _Py_DebugOffsets; or
// from the 3.14+ _Py_DebugOffsets, the table filling in the object model it does not publish.
enum class LayoutSource { kGenerated, kDebugOffsets313, kDebugOffsets314 };
// The GIL's state: _PyThreadState_Current (2.7, 3.6), _PyRuntime.ceval.gil (3.7-3.11), the
// interpreter's ceval.gil pointer (3.12+).
enum class GilLocation { kThreadStateCurrent, kRuntime, kInterpreter };
// The collector's "collecting" flag: none read (2.7, 3.6), _PyRuntime.gc (3.7, 3.8), the
// interpreter's gc (3.9+).
enum class GcFlagLocation { kNone, kRuntime, kInterpreter };
// A thread's frames: PyFrameObjects linked by f_back from tstate->frame (up to 3.10);
// _PyInterpreterFrames from tstate->cframe->current_frame (3.11, 3.12) or tstate->current_frame.
enum class FrameChain { kFrameObjects, kInterpreterFramesViaCFrame, kInterpreterFrames };
// A frame's code: a plain pointer, or a tagged _PyStackRef (3.14+, cpython/stack_ref.h), as are
// the localsplus slots.
enum class CodeReference { kPointer, kStackRef };
// Where a frame is in its code: f_lasti in bytes (up to 3.9), in code units (3.10), or the
// instruction pointer (3.11+).
enum class InstructionPosition { kLastiBytes, kLastiCodeUnits, kInstructionPointer };
// co_lnotab with unsigned (2.7) or signed (3.6-3.9) line deltas, 3.10's co_linetable, 3.11+'s
// location table.
enum class LineTable { kLnotabUnsigned, kLnotabSigned, kLineTable310, kLocationTable };
// str: Python 2's str (bytes) and unicode objects, or PEP 393's compact strings.
enum class StringModel { kPython2, kPep393 };
// An int's sign and size: ob_size (up to 3.11), lv_tag (3.12+: sign in bits 0-1, digit count
// from bit 3).
enum class LongSize { kObSize, kLvTag };
// dict: Python 2's open table, 3.6-3.10's compact keys, 3.11+'s keys with a kind.
enum class DictModel { kPython2Table, kCompactKeys, kKeysWithKind };
// An object's managed __dict__ (Py_TPFLAGS_MANAGED_DICT): none before 3.11; 3.11's dict or values
// pointers before the object; 3.12's tagged values pointer; 3.13+'s inline values.
enum class ManagedDict { kNone, kPointers311, kTaggedValues312, kInlineValues313 };
// Which fast-local slots of an unoptimized frame (module, class body) hold its locals: all of
// them, or only the hidden ones of inlined comprehensions (3.13+).
enum class UnoptimizedFastLocals { kAll, kHiddenOnly };
// The built-in types of the object model: Python 2's (int, long, str, unicode) or Python 3's.
enum class BuiltinTypes { kPython2, kPython3 };

// faulthandler's all-threads dump (Python/traceback.c), as each release prints it.
struct FaulthandlerDialect {
  // Printed for a thread without a Python frame; nullptr: nothing (3.6/3.7).
  const char* no_frame = nullptr;
  // Printed after MAX_FRAME_DEPTH frames when more follow; nullptr: nothing (3.13.0 drops it).
  const char* frames_cut = nullptr;
  // "  Garbage-collecting" under the current thread's header while the collector runs (3.10+).
  bool shows_gc = false;
  // 3.14+ write_thread_name: " [NAME]" after the thread id, NAME the OS thread name
  // (pthread_getname_np) written as raw bytes, when it is not empty.
  bool shows_os_thread_name = false;
  // 3.14+: no_frame only when tstate->current_frame is NULL; a chain of only the interpreter's
  // own frames prints nothing.
  bool no_frame_needs_empty_chain = false;
  // 3.14.1+ (gh-140815): the interpreter's own frames count toward MAX_FRAME_DEPTH.
  bool counts_skipped_frames = false;
  // 3.13.10+, 3.14.1+ (gh-140815): printed after a frame with a ??? (filename, line or name),
  // or instead of a frame that fails CPython's safety check, ending the thread's dump; nullptr:
  // the dump goes on.
  const char* invalid_frame = nullptr;
};

// repr() of the objects --locals shows, as each release writes it.
struct ReprDialect {
  // 2.7: ints and longs (42L), str as bytes without a b prefix, <type '...'> for static types,
  // sets as set([...]), module reprs in C, generators by their code's name.
  bool python2 = false;
  // 3.6-3.11: importlib's _module_repr asks the module's loader first.
  bool module_repr_from_loader = false;
};

// traceback.format_stack() (Lib/traceback.py), as each release formats it.
struct TracebackDialect {
  bool python2 = false;                // str is bytes: written raw, stripped of ASCII whitespace only
  bool folds_repeats = true;           // "[Previous line repeated N more time(s)]" (3.6+)
  bool indents_with_textwrap = false;  // 3.13+: the line goes through textwrap.indent (splitlines)
  bool shows_stdin_alias = false;      // 3.13+: a filename "<stdin>-N" is shown as "<stdin>"
  const char* unknown_lineno = "None";  // a frame without a line: f_lineno is None in 3.x
};

// Which Python frames begin a C-level run of the interpreter loop (Frame::entry, for --native).
enum class EntryFrames {
  kEvery,         // up to 3.10: one _PyEval_EvalFrameDefault per frame
  kIsEntryField,  // 3.11: _PyInterpreterFrame.is_entry, the byte before owner
  kShimBelow,     // 3.12+: the loop pushes a shim (or entry frame) below the first frame it runs
};

// Where --tasks finds asyncio's tasks.
enum class TaskRegistry {
  kNone,           // 2.7, 3.6
  kModuleGlobals,  // 3.7-3.13: asyncio's own registries of tasks (Python objects)
  kAsyncioDebug,   // 3.14+: the per-thread lists the AsyncioDebug section locates
};

// How a suspended coroutine tells the object it awaits (_PyGen_yf of Objects/genobject.c).
enum class AwaitedObject {
  kYieldFromOpcode,  // up to 3.10: the next instruction is YIELD_FROM; the top of the stack
  kResumeOparg,      // 3.11, 3.12: the next is RESUME with oparg >= 2; the top of the stack
  kFrameState,       // 3.13+: gi_frame_state says so; the top of the stack (3.14+: stackpointer)
};

// _asyncio's TaskObj (Modules/_asynciomodule.c), where no AsyncioDebug section publishes it
// (3.7-3.13; x86-64, checked with each release's DWARF): byte offsets, -1 for none.
struct TaskObjectOffsets {
  int64_t loop = -1;        // fut_loop
  int64_t callback0 = -1;   // fut_callback0: a TaskGroup child's TaskGroup._on_task_done
  int64_t state = -1;       // fut_state, an int: 0 PENDING
  int64_t fut_waiter = -1;  // task_fut_waiter: the future the task waits for
  int64_t coro = -1;        // task_coro
  int64_t name = -1;        // task_name (3.8+): a str, or an int N for "Task-N" (3.12+)
};

// --tasks: how a release keeps tasks and coroutines.
struct AsyncioModel {
  TaskRegistry registry = TaskRegistry::kNone;
  // kModuleGlobals: the globals of asyncio.tasks that hold every task (WeakSets or sets), and
  // the C Task's fields.
  const char* registry_globals[2] = {nullptr, nullptr};
  TaskObjectOffsets task;
  AwaitedObject awaited = AwaitedObject::kFrameState;
  int yield_from_opcode = -1;   // kYieldFromOpcode: YIELD_FROM
  int resume_opcodes[2] = {-1, -1};  // kResumeOparg: RESUME and its quickened or instrumented form
  // gi_frame_state (3.11+): the value of a cleared frame, and those of a frame suspended in
  // `await` (its top of stack is the awaited object); kNoFrameState: none.
  static constexpr int kNoFrameState = 1000;  // no int8 has it
  int frame_cleared = kNoFrameState;
  int suspended_yield_from = kNoFrameState;
  int suspended_yield_from_locked = kNoFrameState;  // 3.15
  // Which slot below the frame's stackpointer holds the awaited object: 1 (3.14), 2 (3.15:
  // SEND leaves the value to send on top of it).
  int awaited_slot = 1;
  // 3.14's `python -m asyncio ps` walks from threads.main towards older threads: it lists the
  // main thread's tasks only (and the interpreter's list); 3.15 lists every thread's.
  bool ps_main_thread_only = false;
};

struct Release {
  int major = 0;
  int minor = 0;
  int first_micro = 0;  // the row holds from major.minor.first_micro up to the next row
  const Layout* layout = nullptr;  // the table generated from the release's headers
  // The table of its free-threaded build (Py_GIL_DISABLED): generated from the headers of a real
  // free-threaded build (3.13t), or from a default build's headers compiled as one's (3.14t,
  // 3.15t); nullptr: such a build is refused.
  const Layout* free_threaded_layout = nullptr;
  // A free-threaded build of the release ran the integration tests; if not, a dump of one warns.
  bool free_threaded_verified = false;

  VersionSource version_source = VersionSource::kNameOrRodata;
  InterpreterListHead interpreter_list = InterpreterListHead::kRuntime;
  LayoutSource layout_source = LayoutSource::kGenerated;
  GilLocation gil = GilLocation::kRuntime;
  GcFlagLocation gc_flag = GcFlagLocation::kInterpreter;
  FrameChain frames = FrameChain::kFrameObjects;
  CodeReference code_reference = CodeReference::kPointer;
  // _PyInterpreterFrame.owner values from which a frame is the interpreter's own (a shim, an
  // entry frame) and faulthandler does not print it; -1: every frame is printed.
  int first_skipped_frame_owner = -1;
  EntryFrames entry_frames = EntryFrames::kEvery;
  InstructionPosition instruction_position = InstructionPosition::kLastiBytes;
  LineTable line_table = LineTable::kLnotabSigned;
  StringModel strings = StringModel::kPep393;
  LongSize long_size = LongSize::kObSize;
  DictModel dicts = DictModel::kCompactKeys;
  ManagedDict managed_dict = ManagedDict::kNone;
  UnoptimizedFastLocals unoptimized_fast_locals = UnoptimizedFastLocals::kAll;
  BuiltinTypes builtin_types = BuiltinTypes::kPython3;
  const char* builtins_module = "builtins";
  const char* thread_name_attribute = "_name";  // threading.Thread's name attribute
  // threading names the OS thread after the Python thread (_thread.set_name, 3.14+).
  bool names_os_threads = false;
  AsyncioModel asyncio;
  // --locks: _thread.RLock keeps a _PyRecursiveMutex (3.14+: held when its flag byte's bit 0 is
  // set, the count one more than its level) rather than rlock_owner and rlock_count.
  bool rlock_recursive_mutex = false;

  ReprDialect repr;
  FaulthandlerDialect faulthandler;
  TracebackDialect traceback;
};

// Every row, oldest first.
std::span<const Release> all_releases();

// The row for `version`, or nullptr when this build does not know its major.minor.
const Release* find_release(const PythonVersion& version);

// The models of the release a layout was made for (its major.minor; the first row of that minor:
// patch rows differ only in what formats show). Every Layout comes from a known release.
const Release& release_of(const Layout& layout);

// The row of `version`, else the newest row before it (the oldest row for a version older than
// all). The one place an unknown release meets the registry: the reader refuses an unknown
// release, or reads it as a known one (Snapshot::read_as); only what was made by hand reaches
// here with one.
const Release& release_at_or_before(const PythonVersion& version);

// The row a snapshot is shown by: the release it was read as (a newer release whose
// _Py_DebugOffsets matched a known one), else its own.
const Release& release_shown(const Snapshot& snapshot);

// The newest row.
const Release& newest_release();

// "2.7, 3.6, 3.7, ..." (for messages and --help).
std::string supported_versions();

}  // namespace pystack
