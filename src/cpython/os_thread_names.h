// The OS thread names of a target that cannot be asked for them: a core has no
// /proc/PID/task/TID/comm. From 3.14 on, CPython gives each threading.Thread its OS name from its
// Python name when the thread starts (Thread._bootstrap_inner -> _thread.set_name); the main
// thread keeps the process's name (NT_PRPSINFO's pr_fname in a core), and a thread started from C
// inherits its creator's, which a core does not record: the process's name is taken for it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "snapshot/snapshot.h"

namespace pystack {

// _PYTHREAD_NAME_MAXLEN on Linux: the kernel's comm holds 15 bytes and a NUL.
inline constexpr size_t kOsThreadNameMaxBytes = 15;

// What _thread.set_name(name) gives the kernel on Linux: `python_name` encoded as UTF-8 with the
// "replace" handler, so a lone surrogate becomes '?', then cut to 15 bytes, even inside a
// character. `python_name` is as to_utf8 writes it (a lone surrogate as the text "\udXXX").
std::string os_thread_name_from_python_name(std::string_view python_name);

// True for versions whose threading names OS threads after their Python names (3.14+).
bool python_names_os_threads(const PythonVersion& version);

// Sets Thread::os_name of every thread that has none, as CPython 3.14+ set it: `main_tid` (the
// process id) is the main thread, named `process_name` unless it renamed itself; the other
// threads by their Python name, else `process_name`. Needs Thread::name and native_thread_id.
void infer_os_thread_names(Snapshot& snapshot, uint64_t main_tid, std::string_view process_name);

}  // namespace pystack
