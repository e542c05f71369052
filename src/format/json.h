// One JSON document describing the process and every thread's frames (schema: README.md, "JSON
// output"). A pure function: source lines come in read beforehand (sources/source_reader).
#pragma once

#include <string>

#include "snapshot/source_lines.h"
#include "snapshot/request.h"
#include "snapshot/snapshot.h"

namespace pystack {

// --native (Thread::native set): "frames" holds Python and C frames, each with a "kind"
// ("python" or "native"; a C frame has function, library, address, offset, file, line, inlined,
// interpreter), and the thread has "native_error"; `all_native`: the interpreter's frames too.
std::string format_json(const Snapshot& snapshot, const SourceLines& sources, bool with_locals,
                        bool all_native = false);

// pystack-dump --all --format=json: one process of a host, as a line of JSON Lines, so that the
// output of many hosts can be concatenated.
struct ProcessLabel {
  std::string host;          // the host name (gethostname)
  int pid = 0;
  std::string command_line;  // as the section header of --subprocesses shows it
};

// format_json's document on one line, starting with "host", "pid" and "command_line".
std::string format_json_line(const Snapshot& snapshot, const SourceLines& sources,
                             bool with_locals, bool all_native, const ProcessLabel& label);

// The line for a Python process that could not be dumped: host, pid, command_line, error.
std::string format_json_line_error(const ProcessLabel& label, const std::string& error);

// What format_json reads of a snapshot: names of every kind, and locals when it shows them.
SnapshotNeeds json_needs(bool with_locals);

}  // namespace pystack
