// The plain value that readers produce and formatters consume: what every thread of a Python
// process was doing at one moment. No pointers into the target, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pystack {

struct PythonVersion {
  int major = 0;
  int minor = 0;
  int micro = 0;
  uint32_t hex = 0;  // PY_VERSION_HEX when known (release level and serial included), else 0

  bool at_least(int maj, int min) const { return major > maj || (major == maj && minor >= min); }
  bool at_least(int maj, int min, int mic) const {
    return major != maj || minor != min ? at_least(maj, min) : micro >= mic;
  }
};

// A runtime that no interpreter of the test suite vouches for, for a warning: a free-threaded
// build not tested running (Snapshot::unverified_build), or a release newer than this build
// knows read as an older one (Snapshot::read_as). Record and top keep one per version and kind.
struct RuntimeCaveat {
  PythonVersion version;
  bool unverified_free_threaded = false;
  std::optional<PythonVersion> read_as;
};

// A Python str (or Python 2 str/unicode) read from the target, as code points. Reads are bounded:
// `length` is the length in the target, `code_points` may hold fewer (`length` > size()).
struct PyText {
  std::u32string code_points;
  uint64_t length = 0;

  bool complete() const { return code_points.size() == length; }
};

// A local variable of a frame (--locals): its name and repr as the traceback module shows them.
struct Local {
  std::string name;  // UTF-8
  std::string repr;  // UTF-8
};

struct Frame {
  std::optional<PyText> filename;  // nullopt: not a str (faulthandler prints ???)
  std::optional<PyText> name;      // co_name
  std::optional<PyText> qualname;  // co_qualname (3.11+)
  int lineno = -1;                 // < 0: unknown (faulthandler prints ???)
  uint64_t code_address = 0;       // the code object's address, for caches and JSON
  // The frame's own address (_PyInterpreterFrame, or PyFrameObject up to 3.10): --locks reads
  // its locals and value stack.
  uint64_t frame_address = 0;
  std::vector<Local> locals;       // read only when asked for (--locals)
  // Frames of the interpreter's own (3.12+ shims, 3.14+ entry frames) the walk left out right
  // above this one: faulthandler 3.14.1+ counts them toward its 100-frame limit.
  int skipped_above = 0;
  // CPython's own check of a frame (_PyFrame_SafeGetCode, 3.13.10+/3.14.1+ faulthandler) would
  // reject it: no globals or builtins, or a code pointer that is freed memory or no code object.
  bool fails_safety_check = false;
  // The oldest frame of one C-level run of the interpreter loop (_PyEval_EvalFrameDefault):
  // before 3.11 every frame; 3.11: is_entry; 3.12+: an entry shim follows it. --native puts
  // the frames up to and including an entry frame where that loop's C frame stands.
  bool entry = false;
};

// A C frame (--native), unwound with libdw.
struct NativeFrame {
  uint64_t address = 0;          // the pc: the instruction, or a return address
  bool activation = false;       // the pc is the instruction itself (innermost, or interrupted)
  std::string function;          // "" when no symbol covers it
  uint64_t function_offset = 0;  // address - the symbol's start
  std::string library;           // the file mapped there, as the target names it ("" unknown)
  std::optional<std::string> file;  // source file, from debug information
  int line = 0;
  bool inlined = false;          // an inlined call within the next (outer) frame's function
  bool interpreter = false;      // in the file that holds the CPython runtime
  bool evaluates_python = false;  // the interpreter loop: Python frames run here
};

// One thread's C stack (--native).
struct NativeStack {
  std::vector<NativeFrame> frames;  // most recent call first
  // Why the unwind ended before the thread's first frame ("" when it reached it).
  std::string end_error;
};

// One line of CPython 3.14+'s crash handler (_Py_backtrace_symbols_fd): what dladdr() tells of
// a return address.
struct CrashCFrame {
  uint64_t address = 0;
  std::string file;                  // dli_fname: argv[0] for the executable ("" unknown)
  std::optional<std::string> symbol;  // dli_sname: the dynamic symbol covering the address
  uint64_t symbol_address = 0;        // dli_saddr (no symbol: the object's load bias)
};

// The C stack of the thread that received a fatal signal, as the crash handler of 3.14+ prints
// it, from the frame that received the signal on.
struct CrashCStack {
  std::vector<CrashCFrame> frames;
  bool truncated = false;  // the handler's 32-entry backtrace() would have ended here
};

// --exceptions: one entry of an exception's __traceback__ (tb_frame's code, tb_lineno, and from
// 3.11 the position co_positions() gives for tb_lasti), as traceback's FrameSummary holds it.
struct TracebackEntry {
  std::optional<PyText> filename;  // co_filename (nullopt: not a str)
  std::optional<PyText> name;      // co_name
  int lineno = -1;                 // tb_lineno; < 0: None
  // 3.11+: the instruction's end line and columns (UTF-8 byte offsets, as co_positions() gives
  // them); < 0: None.
  int end_lineno = -1;
  int colno = -1;
  int end_colno = -1;
};

// --exceptions: one exception object, with what traceback.TracebackException reads of it.
struct ExceptionValue {
  uint64_t address = 0;
  std::optional<PyText> type_module;  // type(exc).__module__ (nullopt: not a str)
  std::optional<PyText> type_qualname;  // type(exc).__qualname__
  // str(exc), as CPython's own __str__ of the exception's class (or of the nearest built-in
  // class above it) computes it; nullopt when it cannot be computed from outside (a value
  // whose str() is not known), which traceback prints as "<exception str() failed>".
  std::optional<PyText> str;
  // The class (or one above it, below the built-in one) defines __str__ in Python: `str` is
  // BaseException.__str__'s (or the built-in class's) instead, and the output says so.
  bool str_overridden = false;
  // 3.12+ traceback appends ". Did you mean: '...'?" to a NameError's, AttributeError's or
  // ImportError's line when it finds a near name among the frame's, the object's or the module's
  // names, which pystack-dump does not search: the output says it may be missing.
  bool suggestion_not_computed = false;
  std::vector<TracebackEntry> traceback;  // __traceback__, oldest call first (tb_next order)
  // __notes__ (3.11+), when it is a list or tuple: str() of each note (nullopt: not computable
  // from outside, printed as "<note str() failed>").
  std::optional<std::vector<std::optional<PyText>>> notes;  // nullopt: no __notes__, or not a sequence
  // __notes__ that is neither None nor a list/tuple: its repr (3.12+ print it alone).
  std::optional<PyText> notes_repr;
  // Chains, as indexes into HandledException::values (-1: None).
  int cause = -1;
  int context = -1;
  bool suppress_context = false;
  // BaseExceptionGroup (3.11+): its exceptions, as indexes into HandledException::values.
  bool is_group = false;
  std::vector<int> members;
  // SyntaxError and its subclasses: the fields traceback's _format_syntax_error reads.
  struct SyntaxErrorFields {
    std::optional<PyText> msg;
    std::optional<PyText> filename;
    std::optional<int64_t> lineno;
    std::optional<int64_t> offset;
    std::optional<PyText> text;
    std::optional<int64_t> end_lineno;  // 3.10+
    std::optional<int64_t> end_offset;  // 3.10+
  };
  std::optional<SyntaxErrorFields> syntax_error;
};

// The exception a thread is handling (sys.exc_info()[1] in that thread): the value and every
// exception its chains and groups reach, each once (cycles end where traceback ends them).
struct HandledException {
  std::vector<ExceptionValue> values;  // values[0] is the handled exception
  // Set when the walk stopped early (unreadable memory, a bound): what was read is kept.
  std::optional<std::string> walk_error;
};

struct Thread {
  uint64_t thread_id = 0;                  // tstate->thread_id, the pthread_t value
  std::optional<uint64_t> native_thread_id;  // the OS thread id, when known
  uint64_t tstate_address = 0;
  // faulthandler's "Current thread": the GIL holder of a live process, the thread that received
  // the fatal signal in a core of a crash.
  bool is_current = false;
  bool holds_gil = false;                  // the GIL is locked and this thread holds it
  bool gc_collecting = false;              // the collector runs in this thread's interpreter
  std::optional<std::string> name;         // threading.Thread.name, when the thread has one
  std::optional<std::string> os_name;      // /proc/PID/task/TID/comm (live processes)
  std::vector<Frame> frames;               // most recent call first
  int skipped_frames = 0;                  // the interpreter's own frames left out of `frames`
  // Set when the walk stopped early: unreadable memory, a cycle or the depth bound.
  std::optional<std::string> walk_error;
  std::optional<NativeStack> native;       // --native: the C stack
  // --exceptions: the exception this thread is handling, if any.
  std::optional<HandledException> exception;
};

// --tasks: one asyncio task (CPython 3.14+'s TaskInfo of _remote_debugging, or what older
// releases hold of it).
struct TaskAwaiter {
  uint64_t task_id = 0;  // the awaiting task's (or future's) address
  // The awaiter's coroutine chain, most recent call first; empty when it is no Task.
  std::vector<Frame> coroutine_stack;
};

struct AsyncioTask {
  uint64_t id = 0;    // the task object's address
  std::string name;   // UTF-8: the str name, "Task-N" for an int name; "" when it has none
  // The task's coroutine chain (cr_await / gi_yieldfrom), most recent call first; a frame's
  // qualname is the name the tools print.
  std::vector<Frame> coroutine_stack;
  std::vector<TaskAwaiter> awaited_by;
  // False where the release does not record who awaits the task and nothing else told it
  // (the awaiter columns are left empty rather than guessed).
  bool awaited_by_known = true;
};

// The tasks one thread's list holds (3.14+: tstate->asyncio_tasks_head; before: the tasks of
// the loop that thread runs), in the list's order.
struct AsyncioTaskList {
  // The OS thread id (as `python -m asyncio ps` prints it); 0: the interpreter's own list (the
  // tasks of threads that ended), or a loop that runs in no thread now.
  uint64_t thread_id = 0;
  uint64_t thread_ident = 0;  // that thread's Thread::thread_id (0: none)
  bool main_thread = false;  // the interpreter's main thread's list
  std::vector<AsyncioTask> tasks;
};

struct AsyncioTasks {
  std::vector<AsyncioTaskList> lists;  // CPython's order: threads newest first, then the interpreter's
  // Why no task list could be read (asyncio is not imported, ...); nullopt when they were.
  std::optional<std::string> unavailable;
  // Set when the walk stopped early (unreadable memory, a cycle, a bound): the lists are partial.
  std::optional<std::string> walk_error;
};

// --locks: what a blocked thread waits for, and who holds it.
enum class LockHolder {
  kRecorded,  // CPython keeps the owner (an RLock's owner, an import lock's owner, the GIL's holder)
  kInferred,  // a frame of the holder is inside a `with` block on the object
  kNone,      // nobody holds it to release it: a Condition nobody notifies, an empty Queue
  kUnknown,   // a plain Lock taken with acquire(): it records no owner
};

struct LockObject {
  uint64_t address = 0;
  std::string type;                 // type(obj).__name__: "RLock", "lock", "Condition", ...
  std::optional<std::string> name;  // where Python refers to it: "module.attr", "Class.attr"
};

struct LockWait {
  uint64_t thread_id = 0;  // the waiting thread's Thread::thread_id
  LockObject object;       // what it waits for
  LockHolder holder = LockHolder::kUnknown;
  std::optional<uint64_t> holder_thread_id;  // kRecorded, kInferred: the holding thread
  std::string how;  // how the holder was found, or why there is none ("RLock owner", ...)
};

struct LockReport {
  std::vector<LockWait> waits;  // in the order of the interpreter's threads
  // Every cycle of the wait-for graph, each once, from its smallest thread id.
  std::vector<std::vector<uint64_t>> deadlocks;
  std::optional<std::string> walk_error;
};

struct Interpreter {
  int64_t id = 0;
  uint64_t address = 0;
  // False in a free-threaded build running without its GIL: no thread is "Current thread".
  bool gil_enabled = true;
  std::vector<Thread> threads;  // CPython's own order: newest first
  std::optional<std::string> walk_error;
  std::optional<AsyncioTasks> tasks;  // --tasks
  std::optional<LockReport> locks;    // --locks
};

struct Snapshot {
  int pid = 0;
  // Set for a core of a process killed by a fatal signal: faulthandler's name for it
  // ("Segmentation fault", "Aborted", ...), printed as "Fatal Python error: NAME".
  std::optional<std::string> fatal_error;
  PythonVersion version;
  // A release newer than pystack-dump knows, read as this older one (its rules and formats).
  std::optional<PythonVersion> read_as;
  std::string executable;  // the target's executable, as the tool found it
  bool free_threaded = false;  // a free-threaded build (Py_GIL_DISABLED, PEP 703)
  // A free-threaded build of a release no such build was tested with (3.14t, 3.15t): read from
  // its _Py_DebugOffsets and CPython's sources alone.
  bool unverified_build = false;
  // A core of a crash of 3.14+: the C stack the crash handler prints after the Python dump.
  std::optional<CrashCStack> crash_c_stack;
  std::vector<Interpreter> interpreters;
};

}  // namespace pystack
