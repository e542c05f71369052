// The chosen output format applied to a Snapshot.
#pragma once

#include <string>

#include "cli/options.h"
#include "format/json.h"
#include "memory/target.h"
#include "snapshot/request.h"
#include "snapshot/snapshot.h"

namespace pystack {

// The chosen format applied to `snapshot`, taken of `target`. The traceback and JSON formats
// show source lines: they are read here, before formatting, where the target says its files are
// (Target::source_file). The faulthandler format reads no file.
// With --tasks=tree, an await graph with a cycle is no tree: `cycle_error` (when given) gets
// pstree's message for stderr and the text is empty; without it the message is the text.
std::string render(const Snapshot& snapshot, const Options& options, const Target& target,
                   std::string* cycle_error = nullptr);

// --all --format=json: the JSON document on one line, labelled with host, pid and command line.
std::string render_json_line(const Snapshot& snapshot, const Options& options,
                             const Target& target, const ProcessLabel& label);

// What the chosen format reads of a snapshot (each formatter declares it).
SnapshotNeeds needs_of(const Options& options);

}  // namespace pystack
