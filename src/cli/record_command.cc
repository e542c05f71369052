// pystack-dump record [OPTIONS] (PID | -- COMMAND [ARGS...])
//
// Samples every thread's Python stack at --rate until --duration, a signal (Ctrl-C, SIGTERM,
// SIGHUP) or the end of the process, then writes the profile: nothing sampled is lost however
// the run ends. On a terminal, a status line on stderr while it runs; a summary line at the end.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/report.h"
#include "cli/sampling_run.h"
#include "common/errors.h"
#include "format/profile_folded.h"
#include "format/profile_pprof.h"
#include "format/profile_speedscope.h"
#include "format/profile_svg.h"

namespace pystack {
namespace {

const char* format_name(ProfileFormat format) {
  switch (format) {
    case ProfileFormat::kFolded: return "folded";
    case ProfileFormat::kSpeedscope: return "speedscope";
    case ProfileFormat::kSvg: return "svg";
    case ProfileFormat::kPprof: return "pprof";
  }
  return "?";
}

absl::StatusOr<std::string> render_profile(const Profile& profile, ProfileFormat format) {
  switch (format) {
    case ProfileFormat::kFolded: return format_folded(profile);
    case ProfileFormat::kSpeedscope:
      return format_speedscope(profile, absl::StrCat("pystack-dump ", kToolVersion));
    case ProfileFormat::kSvg: return format_flamegraph_svg(profile);
    case ProfileFormat::kPprof: return format_pprof(profile);
  }
  return absl::InternalError("unknown format");
}

double achieved_rate(const SamplingCounts& counts, absl::Duration elapsed) {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  return seconds > 0 ? static_cast<double>(counts.rounds) / seconds : 0;
}

// "12.3 s, 2460 samples (199.8/s), 2 threads, 0 torn, 0 dropped"
std::string progress_text(const Profile& profile, const SamplingCounts& counts,
                          absl::Duration elapsed) {
  return absl::StrFormat("%.1f s, %d samples (%.1f/s), %d stacks kept of %d threads, %d torn, "
                         "%d dropped",
                         absl::ToDoubleSeconds(elapsed), counts.rounds,
                         achieved_rate(counts, elapsed), counts.thread_samples,
                         profile.threads.size(), counts.torn, counts.dropped);
}

// The status line: rewritten in place on a terminal.
class StatusLine {
 public:
  explicit StatusLine(bool enabled) : enabled_(enabled) {}
  void show(const std::string& text) {
    if (!enabled_) return;
    write_all(stderr, absl::StrCat("\r\033[K", "pystack-dump: recording: ", text));
    shown_ = true;
  }
  void clear() {
    if (shown_) write_all(stderr, "\r\033[K");
    shown_ = false;
  }

 private:
  bool enabled_;
  bool shown_ = false;
};

// Writes the profile straight to `path` (a device or a pipe: /dev/null, /dev/stdout).
int write_in_place(const std::string& text, const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "we");
  if (file == nullptr) {
    return report_error(make_error(ErrorKind::kPermissionDenied,
                                   absl::StrCat("cannot open ", path, ": ", std::strerror(errno)),
                                   "give a file the tool may write"));
  }
  const bool written = write_all(file, text);
  const int write_errno = errno;
  if (std::fclose(file) != 0 || !written) {
    errno = written ? errno : write_errno;
    return report_error(write_error(path));
  }
  return kExitOk;
}

// Writes the profile to --output or to stdout. A new or regular file is written through a
// temporary name beside it and renamed, so that a reader never sees half a file; anything else
// that exists (a device such as /dev/null, a pipe, a symbolic link) is written through, never
// replaced by the rename.
int write_profile(const std::string& text, const Options& options) {
  if (options.output_path.empty()) return write_stdout(text);
  struct stat st;
  if (::lstat(options.output_path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return write_in_place(text, options.output_path);
  }
  const std::string temporary = absl::StrCat(options.output_path, ".tmp.", ::getpid());
  std::FILE* file = std::fopen(temporary.c_str(), "we");
  if (file == nullptr) {
    return report_error(make_error(ErrorKind::kPermissionDenied,
                                   absl::StrCat("cannot create ", options.output_path, ": ",
                                                std::strerror(errno)),
                                   "check the directory exists and is writable"));
  }
  const bool written = write_all(file, text);
  const int write_errno = errno;
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed) {
    errno = written ? errno : write_errno;
    const absl::Status error = write_error(options.output_path);
    ::unlink(temporary.c_str());
    return report_error(error);
  }
  if (std::rename(temporary.c_str(), options.output_path.c_str()) != 0) {
    const absl::Status error = write_error(options.output_path);
    ::unlink(temporary.c_str());
    return report_error(error);
  }
  return kExitOk;
}

std::string size_text(size_t bytes) {
  if (bytes < 10 * 1024) return absl::StrCat(bytes, " bytes");
  if (bytes < 10 * 1024 * 1024) return absl::StrCat(bytes / 1024, " KiB");
  return absl::StrCat(bytes / (1024 * 1024), " MiB");
}

}  // namespace

int run_record(const Options& options) {
  const ProfileFormat format = options.sampler.format.value_or(ProfileFormat::kFolded);
  if (format == ProfileFormat::kPprof && options.output_path.empty() && ::isatty(1)) {
    return report_error(make_error(ErrorKind::kInvalidArgument,
                                   "pprof is a binary format: not written to a terminal",
                                   "give --output FILE.pb.gz, or redirect stdout"));
  }
  absl::StatusOr<std::unique_ptr<SamplingRun>> run = SamplingRun::start(options);
  if (!run.ok()) {
    const int code = report_error(run.status());
    return error_kind(run.status()) == ErrorKind::kNoSuchFile && !options.command.empty()
               ? exit_code_for_start_error(run.status())
               : code;
  }
  StatusLine status(!options.sampler.quiet && ::isatty(2));
  const absl::Time deadline = options.sampler.duration_seconds > 0
                                  ? absl::Now() + absl::Seconds(options.sampler.duration_seconds)
                                  : absl::InfiniteFuture();
  SessionControl control;
  control.should_stop = [&] { return (*run)->stop_requested() || absl::Now() >= deadline; };
  control.tick_every = absl::Milliseconds(250);
  control.tick = [&](const Profile& profile, const SamplingCounts& counts,
                     absl::Duration elapsed) {
    status.show(progress_text(profile, counts, elapsed));
  };
  SamplingSession& session = (*run)->session();
  session.run(control);
  status.clear();
  const int command_status = (*run)->finish_command(absl::Seconds(5));

  const Profile& profile = session.profile();
  absl::StatusOr<std::string> text = render_profile(profile, format);
  if (!text.ok()) return report_error(text.status());
  if (const int written = write_profile(*text, options); written != kExitOk) return written;
  warn_about_session(session);
  if (!options.sampler.quiet) {
    std::string summary = absl::StrCat(
        "pystack-dump: recorded ",
        progress_text(profile, session.counts(), absl::Nanoseconds(profile.duration_nanos)),
        "; wrote ", format_name(format), " (", size_text(text->size()), ") to ",
        options.output_path.empty() ? std::string("standard output") : options.output_path);
    if (profile.thread_samples == 0) {
      absl::StrAppend(&summary, options.sampler.idle
                                    ? " (no Python stack was seen)"
                                    : " (no thread ran Python code: add --idle to see waiting "
                                      "threads too)");
    }
    write_all(stderr, summary + "\n");
  }
  return (*run)->has_command() ? command_status : kExitOk;
}

}  // namespace pystack
