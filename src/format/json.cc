// format_json: the Snapshot as data, with the same threads, frames, line numbers and source
// lines as format_traceback shows (frames here most recent call first, as the Snapshot holds them).
#include "format/json.h"

#include <algorithm>
#include <string_view>
#include <vector>

#include "cpython/releases.h"
#include "format/json_writer.h"
#include "format/python_text.h"

#include "snapshot/merged_stack.h"

namespace pystack {
namespace {

// Python 2 str objects are bytes (code points 0..255 here): shown as os.fsdecode would show
// them (UTF-8, other bytes as lone surrogates \udc80..\udcff). Python 3 text as it is.
std::u32string as_unicode(std::u32string_view text, bool python2) {
  if (!python2) return std::u32string(text);
  std::string bytes;
  for (char32_t c : text) {
    if (c <= 0xff) {
      bytes.push_back(static_cast<char>(c));
    } else {
      append_utf8_code_point(bytes, c);  // a Python 2 unicode object
    }
  }
  return decode_utf8_surrogateescape(bytes);
}

// A str of the target, or null; a string the reader had to cut ends in "...".
void write_text(JsonWriter& json, const std::optional<PyText>& text, bool python2) {
  if (!text) {
    json.null();
    return;
  }
  std::u32string value = as_unicode(text->code_points, python2);
  if (!text->complete()) value += U"...";
  json.string(value);
}

void write_optional_utf8(JsonWriter& json, const std::optional<std::string>& text) {
  if (text) {
    json.string_utf8(*text);
  } else {
    json.null();
  }
}

// "3.12.1"; "3.6" when the reader could not tell the micro version (it is then negative).
std::string version_string(const PythonVersion& v) {
  std::string out = std::to_string(v.major) + "." + std::to_string(v.minor);
  if (v.micro >= 0) out += "." + std::to_string(v.micro);
  // PY_VERSION_HEX: release level in bits 4-7 (0xA alpha, 0xB beta, 0xC candidate, 0xF final).
  const unsigned level = (v.hex >> 4) & 0xf, serial = v.hex & 0xf;
  if (v.hex != 0 && level >= 0xa && level <= 0xc) {
    out += level == 0xa ? "a" : level == 0xb ? "b" : "rc";
    out += std::to_string(serial);
  }
  return out;
}

// The line traceback shows under the frame (stripped), or null.
void write_source(JsonWriter& json, const Frame& frame, const SourceLines& sources, bool python2) {
  const std::u32string* line =
      frame.filename && frame.lineno >= 1 ? sources.line(frame.filename->code_points, frame.lineno)
                                          : nullptr;
  std::u32string_view stripped = line ? strip_python(*line, python2) : std::u32string_view();
  if (stripped.empty()) {
    json.null();
  } else {
    json.string(as_unicode(stripped, python2));
  }
}

void write_locals(JsonWriter& json, const Frame& frame) {
  std::vector<const Local*> sorted;
  for (const Local& local : frame.locals) sorted.push_back(&local);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Local* a, const Local* b) { return a->name < b->name; });
  json.begin_object();
  for (const Local* local : sorted) {
    json.key(local->name);
    json.string_utf8(local->repr);
  }
  json.end_object();
}

void write_frame(JsonWriter& json, const Frame& frame, const SourceLines& sources, bool python2,
                 bool with_locals) {
  json.begin_object();
  json.key("kind");
  json.string_utf8("python");
  json.key("filename");
  write_text(json, frame.filename, python2);
  json.key("name");
  write_text(json, frame.name, python2);
  json.key("qualname");
  write_text(json, frame.qualname, python2);
  json.key("line");
  if (frame.lineno >= 0) {
    json.number(frame.lineno);
  } else {
    json.null();
  }
  json.key("source");
  write_source(json, frame, sources, python2);
  if (with_locals) {
    json.key("locals");
    write_locals(json, frame);
  }
  json.end_object();
}

// A string that is empty when unknown: null then.
void write_nonempty_utf8(JsonWriter& json, const std::string& text) {
  if (text.empty()) {
    json.null();
  } else {
    json.string_utf8(text);
  }
}

// --native: a C frame.
void write_native_frame(JsonWriter& json, const NativeFrame& frame) {
  json.begin_object();
  json.key("kind");
  json.string_utf8("native");
  json.key("function");
  write_nonempty_utf8(json, frame.function);
  json.key("library");
  write_nonempty_utf8(json, frame.library);
  json.key("address");
  json.unsigned_number(frame.address);
  json.key("offset");
  json.unsigned_number(frame.function_offset);
  json.key("file");
  write_optional_utf8(json, frame.file);
  json.key("line");
  if (frame.file) {
    json.number(frame.line);
  } else {
    json.null();
  }
  json.key("inlined");
  json.boolean(frame.inlined);
  json.key("interpreter");
  json.boolean(frame.interpreter);
  json.end_object();
}

void write_frames(JsonWriter& json, const Thread& thread, const SourceLines& sources,
                  bool python2, bool with_locals, bool all_native) {
  json.key("frames");
  json.begin_array();
  if (!thread.native) {
    for (const Frame& frame : thread.frames) write_frame(json, frame, sources, python2, with_locals);
    json.end_array();
    return;
  }
  for (const StackEntry& entry : merged_stack(thread, all_native)) {
    if (entry.kind == StackEntry::Kind::kPython) {
      write_frame(json, *entry.python, sources, python2, with_locals);
    } else if (entry.kind == StackEntry::Kind::kNative) {
      write_native_frame(json, *entry.native);
    }
  }
  json.end_array();
  json.key("native_error");
  write_nonempty_utf8(json, thread.native->end_error);
}

// --exceptions: one exception with its chains and members, each value written once (met again:
// {"id": N, "seen": true}), nesting bounded as traceback bounds it.
constexpr int kMaxExceptionDepth = 64;

void write_exception_value(JsonWriter& json, const HandledException& exception, int index,
                           const SourceLines& sources, std::vector<bool>& written, int depth);

void write_exception_ref(JsonWriter& json, const HandledException& exception, int index,
                         const SourceLines& sources, std::vector<bool>& written, int depth) {
  if (index < 0 || static_cast<size_t>(index) >= exception.values.size()) return json.null();
  if (written[index] || depth >= kMaxExceptionDepth) {
    json.begin_object();
    json.key("id");
    json.unsigned_number(exception.values[index].address);
    json.key("seen");
    json.boolean(true);
    json.end_object();
    return;
  }
  write_exception_value(json, exception, index, sources, written, depth);
}

void write_exception_value(JsonWriter& json, const HandledException& exception, int index,
                           const SourceLines& sources, std::vector<bool>& written, int depth) {
  written[index] = true;
  const ExceptionValue& value = exception.values[index];
  json.begin_object();
  json.key("id");
  json.unsigned_number(value.address);
  json.key("module");
  write_text(json, value.type_module, false);
  json.key("type");  // __qualname__
  write_text(json, value.type_qualname, false);
  json.key("message");  // str(exc); null: not computable
  write_text(json, value.str, false);
  json.key("message_from_base_exception");  // the class's own __str__ (Python) was not run
  json.boolean(value.str_overridden);
  json.key("frames");  // __traceback__, oldest call first
  json.begin_array();
  for (const TracebackEntry& entry : value.traceback) {
    json.begin_object();
    json.key("filename");
    write_text(json, entry.filename, false);
    json.key("name");
    write_text(json, entry.name, false);
    json.key("line");
    entry.lineno >= 0 ? json.number(entry.lineno) : json.null();
    json.key("end_line");
    entry.end_lineno >= 0 ? json.number(entry.end_lineno) : json.null();
    json.key("column");
    entry.colno >= 0 ? json.number(entry.colno) : json.null();
    json.key("end_column");
    entry.end_colno >= 0 ? json.number(entry.end_colno) : json.null();
    json.key("source");
    const std::u32string* line =
        entry.filename && entry.lineno > 0 ? sources.line(entry.filename->code_points, entry.lineno)
                                           : nullptr;
    line ? json.string(*line) : json.null();
    json.end_object();
  }
  json.end_array();
  json.key("notes");
  if (value.notes) {
    json.begin_array();
    for (const std::optional<PyText>& note : *value.notes) write_text(json, note, false);
    json.end_array();
  } else if (value.notes_repr) {
    write_text(json, value.notes_repr, false);
  } else {
    json.null();
  }
  json.key("suppress_context");
  json.boolean(value.suppress_context);
  json.key("cause");
  write_exception_ref(json, exception, value.cause, sources, written, depth + 1);
  json.key("context");
  write_exception_ref(json, exception, value.context, sources, written, depth + 1);
  json.key("exceptions");  // an exception group's members; null: not a group
  if (value.is_group) {
    json.begin_array();
    for (int member : value.members) {
      write_exception_ref(json, exception, member, sources, written, depth + 1);
    }
    json.end_array();
  } else {
    json.null();
  }
  json.end_object();
}

void write_exception(JsonWriter& json, const HandledException& exception,
                     const SourceLines& sources) {
  json.key("exception");
  if (exception.values.empty()) return json.null();
  std::vector<bool> written(exception.values.size(), false);
  write_exception_value(json, exception, 0, sources, written, 0);
  json.key("exception_error");
  write_optional_utf8(json, exception.walk_error);
}

void write_thread(JsonWriter& json, const Thread& thread, const SourceLines& sources,
                  bool python2, bool with_locals, bool all_native) {
  json.begin_object();
  json.key("thread_id");
  json.unsigned_number(thread.thread_id);
  json.key("native_thread_id");
  if (thread.native_thread_id) {
    json.unsigned_number(*thread.native_thread_id);
  } else {
    json.null();
  }
  json.key("name");
  write_optional_utf8(json, thread.name);
  json.key("os_name");
  write_optional_utf8(json, thread.os_name);
  json.key("is_current");
  json.boolean(thread.is_current);
  json.key("holds_gil");
  json.boolean(thread.holds_gil);
  json.key("gc_collecting");
  json.boolean(thread.gc_collecting);
  json.key("error");
  write_optional_utf8(json, thread.walk_error);
  write_frames(json, thread, sources, python2, with_locals, all_native);
  if (thread.exception) write_exception(json, *thread.exception, sources);
  json.end_object();
}

// --tasks: the interpreter's asyncio tasks, each list's in order, with the thread that runs it.
void write_tasks(JsonWriter& json, const AsyncioTasks& tasks, const SourceLines& sources) {
  json.key("tasks");
  json.begin_array();
  for (const AsyncioTaskList& list : tasks.lists) {
    for (const AsyncioTask& task : list.tasks) {
      json.begin_object();
      json.key("id");
      json.number(static_cast<int64_t>(task.id));
      json.key("name");
      json.string_utf8(task.name);
      json.key("thread");  // the OS thread id; null: the interpreter's list
      if (list.thread_id != 0) {
        json.number(static_cast<int64_t>(list.thread_id));
      } else {
        json.null();
      }
      json.key("coroutine_stack");  // most recent call first
      json.begin_array();
      for (const Frame& frame : task.coroutine_stack) {
        write_frame(json, frame, sources, /*python2=*/false, /*with_locals=*/false);
      }
      json.end_array();
      json.key("awaited_by");  // null: the release does not tell
      if (task.awaited_by_known) {
        json.begin_array();
        for (const TaskAwaiter& awaiter : task.awaited_by) {
          json.number(static_cast<int64_t>(awaiter.task_id));
        }
        json.end_array();
      } else {
        json.null();
      }
      json.end_object();
    }
  }
  json.end_array();
  json.key("tasks_unavailable");
  write_optional_utf8(json, tasks.unavailable);
  json.key("tasks_error");
  write_optional_utf8(json, tasks.walk_error);
}

const char* holder_word(LockHolder holder) {
  switch (holder) {
    case LockHolder::kRecorded: return "recorded";
    case LockHolder::kInferred: return "inferred";
    case LockHolder::kNone: return "none";
    case LockHolder::kUnknown: break;
  }
  return "unknown";
}

// --locks: {"waits": [...], "deadlocks": [[thread_id, ...], ...], "error": null}
void write_locks(JsonWriter& json, const LockReport& locks) {
  json.key("locks");
  json.begin_object();
  json.key("waits");
  json.begin_array();
  for (const LockWait& wait : locks.waits) {
    json.begin_object();
    json.key("thread_id");
    json.number(static_cast<int64_t>(wait.thread_id));
    json.key("object");
    json.begin_object();
    json.key("address");
    if (wait.object.address != 0) {
      json.number(static_cast<int64_t>(wait.object.address));
    } else {
      json.null();
    }
    json.key("type");
    json.string_utf8(wait.object.type);
    json.key("name");
    write_optional_utf8(json, wait.object.name);
    json.end_object();
    json.key("holder_thread_id");
    if (wait.holder_thread_id) {
      json.number(static_cast<int64_t>(*wait.holder_thread_id));
    } else {
      json.null();
    }
    json.key("holder");
    json.string_utf8(holder_word(wait.holder));
    json.key("how");
    json.string_utf8(wait.how);
    json.end_object();
  }
  json.end_array();
  json.key("deadlocks");
  json.begin_array();
  for (const std::vector<uint64_t>& cycle : locks.deadlocks) {
    json.begin_array();
    for (uint64_t thread : cycle) json.number(static_cast<int64_t>(thread));
    json.end_array();
  }
  json.end_array();
  json.key("error");
  write_optional_utf8(json, locks.walk_error);
  json.end_object();
}

}  // namespace

SnapshotNeeds json_needs(bool with_locals) {
  return {.locals = with_locals, .thread_names = true, .os_thread_names_since = PythonVersion{}};
}

namespace {

void write_process(JsonWriter& json, const ProcessLabel& label) {
  json.key("host");
  json.string_utf8(label.host);
  json.key("pid");
  json.number(label.pid);
  json.key("command_line");
  json.string_utf8(label.command_line);
}

void write_document(JsonWriter& json, const Snapshot& snapshot, const SourceLines& sources,
                    bool with_locals, bool all_native, const ProcessLabel* label) {
  const bool python2 = release_shown(snapshot).strings == StringModel::kPython2;
  json.begin_object();
  if (label != nullptr) {
    write_process(json, *label);
  } else {
    json.key("pid");
    json.number(snapshot.pid);
  }
  json.key("python_version");
  json.string_utf8(version_string(snapshot.version));
  json.key("executable");
  json.string_utf8(snapshot.executable);
  json.key("free_threaded");
  json.boolean(snapshot.free_threaded);
  json.key("fatal_error");
  write_optional_utf8(json, snapshot.fatal_error);
  json.key("interpreters");
  json.begin_array();
  for (const Interpreter& interp : snapshot.interpreters) {
    json.begin_object();
    json.key("id");
    json.number(interp.id);
    json.key("gil_enabled");
    json.boolean(interp.gil_enabled);
    json.key("error");
    write_optional_utf8(json, interp.walk_error);
    json.key("threads");
    json.begin_array();
    for (const Thread& thread : interp.threads) {
      write_thread(json, thread, sources, python2, with_locals, all_native);
    }
    json.end_array();
    if (interp.tasks) write_tasks(json, *interp.tasks, sources);
    if (interp.locks) write_locks(json, *interp.locks);
    json.end_object();
  }
  json.end_array();
  json.end_object();
}

}  // namespace

std::string format_json(const Snapshot& snapshot, const SourceLines& sources, bool with_locals,
                        bool all_native) {
  JsonWriter json;
  write_document(json, snapshot, sources, with_locals, all_native, nullptr);
  return json.finish();
}

std::string format_json_line(const Snapshot& snapshot, const SourceLines& sources,
                             bool with_locals, bool all_native, const ProcessLabel& label) {
  JsonWriter json(/*one_line=*/true);
  write_document(json, snapshot, sources, with_locals, all_native, &label);
  return json.finish();
}

std::string format_json_line_error(const ProcessLabel& label, const std::string& error) {
  JsonWriter json(/*one_line=*/true);
  json.begin_object();
  write_process(json, label);
  json.key("error");
  json.string_utf8(error);
  json.end_object();
  return json.finish();
}

}  // namespace pystack
