// Reads, for a Snapshot's frames, the source lines that the target's linecache would give
// (format/linecache.h), through a resolver that says where this process can open the target's
// files. The only file access of the traceback and JSON formats; they get the result as a value.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

#include "snapshot/source_lines.h"
#include "memory/target.h"
#include "snapshot/snapshot.h"

namespace pystack {

// The path (as bytes) at which this process can open the target's file `target_path` (bytes as
// the target would pass them to stat(): absolute, or relative to the target's working
// directory), or "" when it cannot be reached.
using SourcePathResolver = std::function<std::string(const std::string& target_path)>;

// The target's files where it says they are (Target::source_file): a live process's through
// /proc/PID/root and /proc/PID/cwd, a core's under --sysroot. `target` must outlive the resolver.
SourcePathResolver target_source_resolver(const Target& target);

// Files as they are on this machine: relative paths taken as relative to `cwd` ("" keeps them
// relative to ours). For a test.
SourcePathResolver plain_source_resolver(const std::string& cwd = "");

// linecache.getline(filename, lineno) for every frame with a str filename and a line number:
// names linecache skips ("" and "<...>") are not looked up, nor files that are not regular or
// larger than kMaxSourceFileBytes. Unreadable or undecodable files give no lines. A target with
// absurdly many distinct files is read up to kMaxSourceFiles files / kMaxSourceBytes bytes.
SourceLines read_source_lines(const Snapshot& snapshot, const SourcePathResolver& resolve);

inline constexpr size_t kMaxSourceFileBytes = 32u << 20;
inline constexpr size_t kMaxSourceFiles = 4096;
inline constexpr size_t kMaxSourceBytes = 256u << 20;

}  // namespace pystack
