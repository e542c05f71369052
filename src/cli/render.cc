#include "cli/render.h"

#include "format/faulthandler.h"
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

SnapshotNeeds needs_of(const Options& options) {
  SnapshotNeeds needs = format_needs(options);
  needs.native = options.native != NativeFrames::kNone;
  // The faulthandler format shows no file or line of a C frame: symbol tables are enough.
  needs.native_source_info = options.format != OutputFormat::kFaulthandler;
  return needs;
}

std::string render(const Snapshot& snapshot, const Options& options, const Target& target) {
  const SourcePathResolver sources = target_source_resolver(target);
  const bool all_native = options.native == NativeFrames::kAll;
  switch (options.format) {
    case OutputFormat::kTraceback:
      return format_traceback(snapshot, read_source_lines(snapshot, sources), options.locals,
                              all_native);
    case OutputFormat::kJson:
      return format_json(snapshot, read_source_lines(snapshot, sources), options.locals,
                         all_native);
    case OutputFormat::kFaulthandler:
      break;
  }
  return format_faulthandler(snapshot, all_native);
}

}  // namespace pystack
