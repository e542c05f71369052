#include "cli/render.h"

#include "format/faulthandler.h"
#include "format/json.h"
#include "format/traceback.h"
#include "sources/source_reader.h"

namespace pystack {

SnapshotNeeds needs_of(const Options& options) {
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

std::string render(const Snapshot& snapshot, const Options& options, const Target& target) {
  const SourcePathResolver sources = target_source_resolver(target);
  switch (options.format) {
    case OutputFormat::kTraceback:
      return format_traceback(snapshot, read_source_lines(snapshot, sources), options.locals);
    case OutputFormat::kJson:
      return format_json(snapshot, read_source_lines(snapshot, sources), options.locals);
    case OutputFormat::kFaulthandler:
      break;
  }
  return format_faulthandler(snapshot);
}

}  // namespace pystack
