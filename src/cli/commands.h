// The commands pystack-dump runs, one per Options::Action. Each returns the process exit code.
#pragma once

#include "cli/options.h"

namespace pystack {

int run_process_dump(const Options& options);  // PID
int run_core_dump(const Options& options);     // --core CORE
int run_tree_dump(const Options& options);     // --subprocesses PID
int run_all_dump(const Options& options);      // --all
int run_with_timeout(const Options& options);  // --timeout SECS -- COMMAND
int run_record(const Options& options);        // record
int run_top(const Options& options);           // top

}  // namespace pystack
