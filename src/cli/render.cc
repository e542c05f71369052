#include "cli/render.h"

#include "cpython/releases.h"
#include "format/asyncio_tasks_text.h"
#include "format/faulthandler.h"
#include "format/locks_text.h"
#include "format/json.h"
#include "format/traceback.h"
#include "sources/source_reader.h"

namespace pystack {

namespace {

SnapshotNeeds format_needs(const Options& options) {
  switch (options.format) {
    case OutputFormat::kTraceback:
      return traceback_needs(options.locals);
    case OutputFormat::kJson:
      return json_needs(options.locals);
    case OutputFormat::kFaulthandler:
      break;
  }
  return faulthandler_needs();
}

}  // namespace

// --tasks in a text view: `python -m asyncio ps` or `pstree`, as the target's release prints them.
std::string render_tasks(const Snapshot& snapshot, TaskView view, std::string* cycle_error) {
  const bool main_thread_only = release_shown(snapshot).asyncio.ps_main_thread_only;
  if (view == TaskView::kTable) return format_task_table(snapshot, main_thread_only);
  TaskTree tree = format_task_tree(snapshot, main_thread_only);
  if (tree.cycle_error.empty()) return tree.text;
  if (cycle_error == nullptr) return tree.cycle_error;
  *cycle_error = tree.cycle_error;
  return "";
}

SnapshotNeeds needs_of(const Options& options) {
  if (options.tasks && options.format != OutputFormat::kJson) {
    SnapshotNeeds needs;
    needs.tasks = true;
    return needs;
  }
  SnapshotNeeds needs = format_needs(options);
  needs.tasks = options.tasks.has_value();
  needs.locks = options.locks;
  needs.exceptions = options.exceptions;
  if (options.locks) needs.thread_names = true;  // the report names the threads
  needs.native = options.native != NativeFrames::kNone;
  // The faulthandler format shows no file or line of a C frame: symbol tables are enough.
  needs.native_source_info = options.format != OutputFormat::kFaulthandler;
  return needs;
}

std::string render(const Snapshot& snapshot, const Options& options, const Target& target,
                   std::string* cycle_error) {
  if (options.tasks && options.format != OutputFormat::kJson) {
    return render_tasks(snapshot, *options.tasks, cycle_error);
  }
  const SourcePathResolver sources = target_source_resolver(target);
  const bool all_native = options.native == NativeFrames::kAll;
  switch (options.format) {
    case OutputFormat::kTraceback:
      return format_traceback(snapshot, read_source_lines(snapshot, sources), options.locals,
                              all_native) +
             format_locks(snapshot);
    case OutputFormat::kJson:
      return format_json(snapshot, read_source_lines(snapshot, sources), options.locals,
                         all_native);
    case OutputFormat::kFaulthandler:
      break;
  }
  return format_faulthandler(snapshot, all_native) + format_locks(snapshot);
}

std::string render_json_line(const Snapshot& snapshot, const Options& options,
                             const Target& target, const ProcessLabel& label) {
  return format_json_line(snapshot, read_source_lines(snapshot, target_source_resolver(target)),
                          options.locals, options.native == NativeFrames::kAll, label);
}

}  // namespace pystack
