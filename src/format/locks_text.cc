#include "format/locks_text.h"

#include <cstdio>

#include "format/quoted_name.h"

namespace pystack {
namespace {

const Thread* find_thread(const Interpreter& interpreter, uint64_t thread_id) {
  for (const Thread& thread : interpreter.threads) {
    if (thread.thread_id == thread_id) return &thread;
  }
  return nullptr;
}

// `0x00007f... "name"` (the id as the faulthandler format writes it; the name when known).
void append_thread(std::string& out, const Interpreter& interpreter, uint64_t thread_id) {
  char id[24];
  std::snprintf(id, sizeof id, "0x%016llx", static_cast<unsigned long long>(thread_id));
  out += id;
  const Thread* thread = find_thread(interpreter, thread_id);
  if (thread == nullptr) return;
  const std::optional<std::string>& name = thread->name ? thread->name : thread->os_name;
  if (!name) return;
  out += ' ';
  append_quoted_name(out, *name);
}

// `RLock at 0x7f... (app.LOCK_A)`
void append_object(std::string& out, const LockObject& object) {
  char address[24];
  std::snprintf(address, sizeof address, "0x%llx", static_cast<unsigned long long>(object.address));
  out += object.type.empty() ? "an object" : object.type;
  if (object.address != 0) {  // the GIL has no object
    out += " at ";
    out += address;
  }
  if (object.name) {
    out += " (";
    out += *object.name;
    out += ')';
  }
}

void append_holder(std::string& out, const Interpreter& interpreter, const LockWait& wait) {
  switch (wait.holder) {
    case LockHolder::kRecorded:
    case LockHolder::kInferred:
      if (wait.holder_thread_id) {
        out += "held by thread ";
        append_thread(out, interpreter, *wait.holder_thread_id);
        out += wait.holder == LockHolder::kRecorded ? " (recorded by CPython: " : " (inferred: ";
        break;
      }
      [[fallthrough]];
    case LockHolder::kUnknown:
      out += "holder unknown (";
      break;
    case LockHolder::kNone:
      out += "no holder (";
      break;
  }
  out += wait.how;
  out += ")";
}

void append_wait(std::string& out, const Interpreter& interpreter, const LockWait& wait) {
  out += "  Thread ";
  append_thread(out, interpreter, wait.thread_id);
  out += " waits for ";
  append_object(out, wait.object);
  out += ": ";
  append_holder(out, interpreter, wait);
  out += '\n';
}

void append_deadlock(std::string& out, const Interpreter& interpreter,
                     const std::vector<uint64_t>& cycle) {
  out += "Deadlock: ";
  for (uint64_t thread : cycle) {
    out += "thread ";
    append_thread(out, interpreter, thread);
    out += " -> ";
  }
  out += "thread ";
  append_thread(out, interpreter, cycle.front());
  out += '\n';
}

void append_report(std::string& out, const Interpreter& interpreter, const LockReport& report) {
  out += "Locks (pystack-dump --locks):\n";
  if (report.waits.empty()) out += "  No thread waits for a lock.\n";
  for (const LockWait& wait : report.waits) append_wait(out, interpreter, wait);
  if (report.walk_error) {
    out += "  <pystack-dump: ";
    out += *report.walk_error;
    out += ">\n";
  }
  for (const std::vector<uint64_t>& cycle : report.deadlocks) {
    if (!cycle.empty()) append_deadlock(out, interpreter, cycle);
  }
  if (report.deadlocks.empty()) out += "No deadlock found.\n";
}

}  // namespace

std::string format_locks(const Snapshot& snapshot) {
  std::string out;
  for (const Interpreter& interpreter : snapshot.interpreters) {
    if (!interpreter.locks) continue;
    out += '\n';
    append_report(out, interpreter, *interpreter.locks);
  }
  return out;
}

}  // namespace pystack
