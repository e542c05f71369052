// _Py_DumpTracebackThreads, dump_traceback, dump_frame and write_thread_id (Python/traceback.c)
// as a pure function of a Snapshot. What differs between versions lives in one Dialect table;
// everything else is common to 3.6..3.15 (2.7 has no faulthandler; it gets the 3.6 format).
#include "format/faulthandler.h"

#include "format/locals_text.h"

#include <algorithm>
#include <cstdio>

#include "cpython/releases.h"
#include "format/crash_c_stack.h"
#include "format/dump_ascii.h"
#include "format/native_text.h"
#include "snapshot/merged_stack.h"

namespace pystack {
namespace {

constexpr size_t kMaxFrameDepth = 100;  // MAX_FRAME_DEPTH
constexpr size_t kMaxThreads = 100;     // MAX_NTHREADS

using Dialect = FaulthandlerDialect;  // per release: cpython/releases.h

// _Py_DumpDecimal.
void append_decimal(std::string& out, int value) { out += std::to_string(value); }

// write_thread_name (3.14+): pthread_getname_np into a 100-byte buffer, written up to its NUL.
void write_thread_name(std::string& out, const Thread& thread) {
  if (!thread.os_name) return;
  const std::string& name = *thread.os_name;
  const size_t length = std::min({name.find('\0'), name.size(), size_t{99}});
  if (length == 0) return;
  out += " [";
  out.append(name, 0, length);
  out += ']';
}

// write_thread_id: the pthread_t in hex, zero-padded to sizeof(unsigned long) * 2 digits.
void write_thread_id(std::string& out, const Thread& thread, const Dialect& dialect) {
  out += thread.is_current ? "Current thread 0x" : "Thread 0x";
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(thread.thread_id));
  out += hex;
  if (dialect.shows_os_thread_name) write_thread_name(out, thread);
  out += " (most recent call first):\n";
}

// A str is quoted; anything else (nullopt) is ??? without quotes.
void append_filename(std::string& out, const std::optional<PyText>& filename) {
  if (!filename) {
    out += "???";
    return;
  }
  out += '"';
  append_dump_ascii(out, *filename);
  out += '"';
}

void append_lineno(std::string& out, int lineno) {
  if (lineno >= 0) {
    append_decimal(out, lineno);
  } else {
    out += "???";
  }
}

void append_name(std::string& out, const std::optional<PyText>& name) {
  if (name) {
    append_dump_ascii(out, *name);
  } else {
    out += "???";
  }
}

// dump_frame: `  File "FILENAME", line N in NAME` (no comma before "in", unlike traceback.py).
void dump_frame(std::string& out, const Frame& frame) {
  out += "  File ";
  append_filename(out, frame.filename);
  out += ", line ";
  append_lineno(out, frame.lineno);
  out += " in ";
  append_name(out, frame.name);
  out += '\n';
}

// Our own marker for a walk that stopped early; CPython has no such case, so no dialect.
void dump_walk_error(std::string& out, const std::string& message) {
  out += "  <pystack-dump: ";
  out += message;
  out += ">\n";
}

// 3.14.1+ dump_frame returns -1 (an invalid frame) when it printed a ???.
bool printed_unknowns(const Frame& frame) {
  return !frame.filename || frame.lineno < 0 || !frame.name;
}

// --native: the C frames (and the C stack's end) to print before each Python frame, and after
// the last one (index frames.size()). Without --native, nothing.
std::vector<std::vector<StackEntry>> native_lines_by_frame(const Thread& thread, bool all_native) {
  std::vector<std::vector<StackEntry>> lines(thread.frames.size() + 1);
  if (!thread.native) return lines;
  size_t next = 0;
  for (const StackEntry& entry : merged_stack(thread, all_native)) {
    if (entry.kind == StackEntry::Kind::kPython) {
      next = static_cast<size_t>(entry.python - thread.frames.data()) + 1;
    } else {
      lines[next].push_back(entry);
    }
  }
  return lines;
}

void dump_native_lines(std::string& out, const std::vector<StackEntry>& entries) {
  for (const StackEntry& entry : entries) {
    if (entry.kind == StackEntry::Kind::kNative) {
      append_native_binary_line(out, *entry.native);
    } else if (entry.kind == StackEntry::Kind::kNativeEnd) {
      dump_walk_error(out, "C stack ends: " + *entry.end_error);
    } else {
      dump_walk_error(out, *entry.end_error);
    }
  }
}

// dump_traceback without its "Stack" header: the frames, at most MAX_FRAME_DEPTH of them. With
// --native, the C frames between them; where faulthandler stops, the C frames stop too.
void dump_traceback(std::string& out, const Thread& thread, const Dialect& dialect,
                    bool all_native) {
  const std::vector<std::vector<StackEntry>> native = native_lines_by_frame(thread, all_native);
  if (thread.frames.empty() && !thread.walk_error) {
    const bool chain_empty = !dialect.no_frame_needs_empty_chain || thread.skipped_frames == 0;
    if (dialect.no_frame && chain_empty) out += dialect.no_frame;
    dump_native_lines(out, native.back());
    return;
  }
  size_t depth = 0;  // faulthandler's frame count
  size_t index = 0;
  for (const Frame& frame : thread.frames) {
    if (dialect.counts_skipped_frames) {
      depth += static_cast<size_t>(std::max(0, frame.skipped_above));
    }
    if (depth >= kMaxFrameDepth) {
      if (dialect.frames_cut) out += dialect.frames_cut;
      return;  // past the cut, a walk error concerns frames that were never printed
    }
    dump_native_lines(out, native[index++]);
    // dump_frame returns -1 before it prints anything when _PyFrame_SafeGetCode fails.
    if (dialect.invalid_frame && frame.fails_safety_check) {
      out += dialect.invalid_frame;
      return;
    }
    dump_frame(out, frame);
    // Not CPython's: the reader fills locals only when --locals asks for them.
    if (!frame.locals.empty()) append_locals(out, frame);
    if (dialect.invalid_frame && printed_unknowns(frame)) {
      out += dialect.invalid_frame;
      return;
    }
    ++depth;
  }
  dump_native_lines(out, native.back());
  if (thread.walk_error) dump_walk_error(out, *thread.walk_error);
}

// One thread's block: header, the collector's note, frames.
void dump_thread(std::string& out, const Thread& thread, const Dialect& dialect, bool all_native) {
  write_thread_id(out, thread, dialect);
  if (dialect.shows_gc && thread.is_current && thread.gc_collecting) {
    out += "  Garbage-collecting\n";
  }
  dump_traceback(out, thread, dialect, all_native);
}

// _Py_DumpTracebackThreads for one interpreter: a blank line before every thread but the
// first, and past MAX_NTHREADS threads "..." (after that blank line) instead of the rest.
void dump_interpreter(std::string& out, const Interpreter& interp, const Dialect& dialect,
                      bool all_native) {
  size_t nthreads = 0;
  for (const Thread& thread : interp.threads) {
    if (nthreads != 0) out += '\n';
    if (nthreads >= kMaxThreads) {
      out += "...\n";
      break;
    }
    dump_thread(out, thread, dialect, all_native);
    ++nthreads;
  }
  if (interp.walk_error) {
    if (nthreads != 0) out += '\n';
    out += "<pystack-dump: " + *interp.walk_error + ">\n";
  }
}

// faulthandler's crash handler dumps one interpreter: the crashed thread's, else the main one
// (_PyGILState_GetInterpreterStateUnsafe), which is last in the list (newest first).
// dump_traceback_later and a live dump show them all.
std::vector<const Interpreter*> interpreters_dumped(const Snapshot& snapshot) {
  std::vector<const Interpreter*> all;
  for (const Interpreter& interp : snapshot.interpreters) {
    for (const Thread& thread : interp.threads) {
      if (snapshot.fatal_error && thread.is_current) return {&interp};
    }
    all.push_back(&interp);
  }
  if (snapshot.fatal_error && !all.empty()) return {all.back()};
  return all;
}

std::optional<PythonVersion> first_version_showing_os_thread_names() {
  for (const Release& release : all_releases()) {
    if (release.faulthandler.shows_os_thread_name) {
      return PythonVersion{release.major, release.minor, release.first_micro, 0};
    }
  }
  return std::nullopt;
}

bool prints_nothing(const Interpreter& interp) {
  // CPython returns "unable to get the thread head state" and writes nothing.
  return interp.threads.empty() && !interp.walk_error;
}

}  // namespace

bool faulthandler_shows_os_thread_names(const PythonVersion& version) {
  return release_at_or_before(version).faulthandler.shows_os_thread_name;
}

SnapshotNeeds faulthandler_needs() {
  SnapshotNeeds needs;
  needs.os_thread_names_since = first_version_showing_os_thread_names();
  return needs;
}

std::string format_faulthandler(const Snapshot& snapshot, bool all_native) {
  const Dialect& dialect = release_shown(snapshot).faulthandler;
  std::string out;
  // faulthandler_fatal_error: the signal's name and a blank line before the threads.
  if (snapshot.fatal_error) out += "Fatal Python error: " + *snapshot.fatal_error + "\n\n";
  bool first = true;
  for (const Interpreter* dumped : interpreters_dumped(snapshot)) {
    const Interpreter& interp = *dumped;
    if (prints_nothing(interp)) continue;
    if (!first) out += '\n';  // interpreters are separated like threads are
    dump_interpreter(out, interp, dialect, all_native);
    first = false;
  }
  // 3.14+'s crash handler goes on with the C stack of the thread that received the signal.
  if (snapshot.crash_c_stack) append_crash_c_stack(out, *snapshot.crash_c_stack);
  return out;
}

}  // namespace pystack
