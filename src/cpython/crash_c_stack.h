// What CPython 3.14+'s crash handler prints of the C stack of the thread that received a fatal
// signal (faulthandler_fatal_error -> _Py_DumpStack), rebuilt from that thread's unwound C
// frames in a core: the frames from the one that received the signal on, each named as the
// process's own dladdr1() named it.
#pragma once

#include <string>
#include <vector>

#include "snapshot/snapshot.h"
#include "symbols/dynamic_symbols.h"

namespace pystack {

// _Py_DumpStack's backtrace() holds at most this many entries (BACKTRACE_SIZE).
inline constexpr int kCrashBacktraceSize = 32;
// The handler's own frames above the signal trampoline in that backtrace when the compiler
// inlined faulthandler_dump_c_stack (Debian's optimized builds): _Py_DumpStack and
// faulthandler_fatal_error. A build that kept it as a function of its own (python3.14d) has 3.
inline constexpr int kInlinedCrashHandlerFrames = 2;

// The crash handler's frames above the trampoline for the runtime in these files (the file that
// holds the CPython runtime, and its separate debug file when there is one): 3 when one of them
// has faulthandler_dump_c_stack as a function of its own in .symtab (possibly with a suffix such
// as ".lto_priv.0"), else 2. A file without .symtab says nothing; all of them: 2.
int crash_handler_frames(const std::vector<std::string>& runtime_files);

// `unwound`: the crashed thread's C frames, innermost first (NativeUnwinder). The frame that
// received the signal is the one right below the signal trampoline: the first activation after
// frame 0 (the last of a run of them, for an unwinder that marks the trampoline as one too); the
// core of a process without a fatal-signal handler was made right at the fault, so with no such
// frame it is frame 0. Inlined frames are left out: backtrace() sees one entry per call.
//
// backtrace() counted `handler_frames` of the handler's own and the trampoline before these,
// so at most kCrashBacktraceSize - handler_frames - 1 of ours fit, and `truncated` is set when
// the handler's array was full (handler_frames + 1 + ours >= 32: _Py_DumpStack prints
// "<truncated rest of calls>" whenever backtrace() returned all 32, even with nothing left).
CrashCStack crash_c_stack(const std::vector<NativeFrame>& unwound,
                          const DynamicSymbolizer& symbols,
                          int handler_frames = kInlinedCrashHandlerFrames);

}  // namespace pystack
