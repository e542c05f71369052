// traceback.format_stack() (Lib/traceback.py: extract_stack, StackSummary.format,
// format_frame_summary; 2.7: extract_stack and format_list) as a pure function of a Snapshot and
// the source lines read for it. What differs between versions lives in one Dialect table.
#include "format/traceback.h"

#include "format/locals_text.h"

#include <algorithm>
#include <cstdio>
#include <string_view>
#include <vector>

#include "cpython/releases.h"
#include "format/crash_c_stack.h"
#include "format/exception_text.h"
#include "format/python_text.h"
#include "format/quoted_name.h"

#include "format/native_text.h"
#include "snapshot/merged_stack.h"

namespace pystack {
namespace {

constexpr int kRecursiveCutoff = 3;  // _RECURSIVE_CUTOFF

using Dialect = TracebackDialect;  // per release: cpython/releases.h

// A str of the target as print() writes it (see traceback.h); a string the reader had to cut
// is marked with "...".
void append_text(std::string& out, std::u32string_view text, const Dialect& dialect) {
  if (dialect.python2) {
    append_python2_bytes(out, text);
  } else {
    append_utf8_backslashreplace(out, text);
  }
}

void append_py_text(std::string& out, const std::optional<PyText>& text, const Dialect& dialect) {
  if (!text) {
    out += "???";  // not a str: cannot happen in CPython (code objects require str); corrupt memory
    return;
  }
  append_text(out, text->code_points, dialect);
  if (!text->complete()) out += "...";
}

// ---- the thread header (ours) ----

void append_header(std::string& out, const Thread& thread) {
  char id[40];
  std::snprintf(id, sizeof id, "0x%016llx", static_cast<unsigned long long>(thread.thread_id));
  out += thread.is_current ? "Current thread " : "Thread ";
  out += id;
  std::vector<std::string> facts;
  if (thread.native_thread_id) facts.push_back("tid " + std::to_string(*thread.native_thread_id));
  const std::optional<std::string>& name = thread.name ? thread.name : thread.os_name;
  if (name) {
    std::string quoted;
    append_quoted_name(quoted, *name);
    facts.push_back(quoted);
  }
  if (thread.holds_gil) facts.push_back("holds the GIL");
  if (thread.gc_collecting) facts.push_back("garbage-collecting");
  if (!facts.empty()) {
    out += " (";
    for (size_t i = 0; i < facts.size(); ++i) {
      if (i) out += ", ";
      out += facts[i];
    }
    out += ')';
  }
  out += " (most recent call last):\n";
}

// ---- one frame: format_frame_summary / format_list ----

bool is_all_space(std::u32string_view s, const Dialect& dialect) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), dialect.python2 ? is_python2_space : is_python3_space);
}

// 3.13: textwrap.indent(line, '    ') + "\n": "    " before each piece of line.splitlines(True)
// that is not all whitespace. (A stripped line has boundaries only inside it, like \x0c.)
void append_textwrap_indented(std::string& out, std::u32string_view line, const Dialect& dialect) {
  size_t begin = 0;
  while (begin < line.size()) {
    size_t end = begin;
    while (end < line.size() && !is_line_boundary(line[end])) ++end;
    if (end < line.size()) {
      if (line[end] == U'\r' && end + 1 < line.size() && line[end + 1] == U'\n') ++end;
      ++end;
    }
    std::u32string_view piece = line.substr(begin, end - begin);
    if (!is_all_space(piece, dialect)) out += "    ";
    append_text(out, piece, dialect);
    begin = end;
  }
  out += '\n';
}

void append_source_line(std::string& out, const Frame& frame, const SourceLines& sources,
                        const Dialect& dialect) {
  if (!frame.filename || frame.lineno < 1) return;
  const std::u32string* line = sources.line(frame.filename->code_points, frame.lineno);
  if (line == nullptr) return;
  std::u32string_view stripped = strip_python(*line, dialect.python2);
  if (stripped.empty()) return;
  if (dialect.indents_with_textwrap) {
    append_textwrap_indented(out, stripped, dialect);
  } else {
    out += "    ";
    append_text(out, stripped, dialect);
    out += '\n';
  }
}

void append_frame(std::string& out, const Frame& frame, const SourceLines& sources,
                  const Dialect& dialect, bool with_locals) {
  out += "  File \"";
  static const std::u32string kStdinPrefix = U"<stdin>-";
  if (dialect.shows_stdin_alias && frame.filename &&
      frame.filename->code_points.compare(0, kStdinPrefix.size(), kStdinPrefix) == 0) {
    out += "<stdin>";
  } else {
    append_py_text(out, frame.filename, dialect);
  }
  out += "\", line ";
  out += frame.lineno >= 0 ? std::to_string(frame.lineno) : dialect.unknown_lineno;
  out += ", in ";
  append_py_text(out, frame.name, dialect);
  out += '\n';
  append_source_line(out, frame, sources, dialect);
  if (with_locals) append_locals(out, frame);
}

// ---- a stack: StackSummary.format ----

// The (filename, lineno, name) that the repeat rule compares; a missing part (None in Python)
// never equals anything, as "last_x is None or last_x != x" goes.
bool same_place(const Frame& a, const Frame& b) {
  return a.filename && b.filename && a.name && b.name && a.lineno >= 0 && b.lineno >= 0 &&
         a.filename->code_points == b.filename->code_points && a.lineno == b.lineno &&
         a.name->code_points == b.name->code_points;
}

void append_repeat_note(std::string& out, int count) {
  count -= kRecursiveCutoff;
  out += "  [Previous line repeated " + std::to_string(count) + " more time" +
         (count > 1 ? "s" : "") + "]\n";
}

// The frames oldest first, each once (2.7) or with runs past the cutoff folded (3.6+).
void append_stack(std::string& out, const Thread& thread, const SourceLines& sources,
                  const Dialect& dialect, bool with_locals) {
  const Frame* last = nullptr;
  int count = 0;
  for (auto it = thread.frames.rbegin(); it != thread.frames.rend(); ++it) {
    const Frame& frame = *it;
    if (dialect.folds_repeats) {
      if (last == nullptr || !same_place(*last, frame)) {
        if (count > kRecursiveCutoff) append_repeat_note(out, count);
        last = &frame;
        count = 0;
      }
      ++count;
      if (count > kRecursiveCutoff) continue;
    }
    append_frame(out, frame, sources, dialect, with_locals);
  }
  if (dialect.folds_repeats && count > kRecursiveCutoff) append_repeat_note(out, count);
}

// --native: Python and C frames oldest first, none folded.
void append_merged_stack(std::string& out, const Thread& thread, const SourceLines& sources,
                         const Dialect& dialect, bool with_locals, bool all_native) {
  const std::vector<StackEntry> stack = merged_stack(thread, all_native);
  for (auto it = stack.rbegin(); it != stack.rend(); ++it) {
    switch (it->kind) {
      case StackEntry::Kind::kPython:
        append_frame(out, *it->python, sources, dialect, with_locals);
        break;
      case StackEntry::Kind::kNative:
        append_native_traceback_line(out, *it->native);
        break;
      case StackEntry::Kind::kNativeEnd:
        out += "  <pystack-dump: C stack ends: " + *it->end_error + ">\n";
        break;
      case StackEntry::Kind::kNote:
        out += "  <pystack-dump: " + *it->end_error + ">\n";
        break;
    }
  }
}

// --exceptions: what the thread is handling, as traceback.format_exception prints it.
void append_handled_exception(std::string& out, const HandledException& exception,
                              const SourceLines& sources, const PythonVersion& version) {
  out += "Handling exception:\n";
  out += format_exception_text(version, exception, sources);
  if (exception.walk_error) out += "<pystack-dump: " + *exception.walk_error + ">\n";
}

void append_thread(std::string& out, const Thread& thread, const SourceLines& sources,
                   const Dialect& dialect, bool with_locals, bool all_native,
                   const PythonVersion& version) {
  append_header(out, thread);
  // The walk stops early at the old end of the stack: the marker stands for the frames before
  // the oldest one shown.
  if (thread.walk_error) out += "  <pystack-dump: " + *thread.walk_error + ">\n";
  if (thread.native) {
    append_merged_stack(out, thread, sources, dialect, with_locals, all_native);
  } else {
    append_stack(out, thread, sources, dialect, with_locals);
  }
  if (thread.exception) append_handled_exception(out, *thread.exception, sources, version);
}

}  // namespace

SnapshotNeeds traceback_needs(bool with_locals) {
  return {.locals = with_locals, .thread_names = true, .os_thread_names_since = PythonVersion{}};
}

std::string format_traceback(const Snapshot& snapshot, const SourceLines& sources,
                             bool with_locals, bool all_native) {
  const Dialect& dialect = release_shown(snapshot).traceback;
  std::string out;
  if (snapshot.fatal_error) out += "Fatal Python error: " + *snapshot.fatal_error + "\n\n";
  bool first = true;
  for (const Interpreter& interp : snapshot.interpreters) {
    for (const Thread& thread : interp.threads) {
      if (!first) out += '\n';
      first = false;
      append_thread(out, thread, sources, dialect, with_locals, all_native,
                    snapshot.read_as.value_or(snapshot.version));
    }
    if (interp.walk_error) {
      if (!first) out += '\n';
      first = false;
      out += "<pystack-dump: " + *interp.walk_error + ">\n";
    }
  }
  // After the threads, as faulthandler's crash report (format/faulthandler.cc): the C stack of
  // the thread that received the signal, when 3.14+'s handler would have printed it.
  if (snapshot.crash_c_stack) append_crash_c_stack(out, *snapshot.crash_c_stack);
  return out;
}

}  // namespace pystack
