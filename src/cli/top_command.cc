// pystack-dump top [OPTIONS] (PID | -- COMMAND [ARGS...])
//
// A live view like top(1): the Python functions the target spends its time in, by own and total
// share of the samples so far, refreshed every second. Keys: o and t sort by own or total, r
// starts the counts afresh, q (or Ctrl-C) quits. When stdout is not a terminal, a plain text
// table is printed every second instead.
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/report.h"
#include "cli/sampling_run.h"
#include "format/profile_top.h"

namespace pystack {
namespace {

// The terminal in the mode top needs (keys unbuffered, no echo, the alternate screen), restored
// on every way out.
class TerminalScreen {
 public:
  TerminalScreen() {
    if (::tcgetattr(0, &saved_) == 0) {
      termios raw = saved_;
      raw.c_lflag &= ~(ICANON | ECHO);
      raw.c_cc[VMIN] = 0;
      raw.c_cc[VTIME] = 0;
      keys_ = ::tcsetattr(0, TCSANOW, &raw) == 0;
    }
    write_all(stdout, "\033[?1049h\033[?25l");  // alternate screen, cursor hidden
  }
  ~TerminalScreen() {
    write_all(stdout, "\033[?25h\033[?1049l");
    if (keys_) ::tcsetattr(0, TCSANOW, &saved_);
  }
  TerminalScreen(const TerminalScreen&) = delete;
  TerminalScreen& operator=(const TerminalScreen&) = delete;

  // The keys typed since the last call.
  std::string keys() {
    if (!keys_) return "";
    char buffer[64];
    const ssize_t n = ::read(0, buffer, sizeof buffer);
    return n > 0 ? std::string(buffer, n) : "";
  }
  void draw(const std::vector<std::string>& lines) {
    write_all(stdout, absl::StrCat("\033[H\033[2J", absl::StrJoin(lines, "\r\n")));
  }

 private:
  termios saved_{};
  bool keys_ = false;
};

struct ScreenSize {
  size_t rows = 24;
  size_t columns = 80;
};

ScreenSize screen_size() {
  winsize size{};
  if (::ioctl(1, TIOCGWINSZ, &size) != 0 || size.ws_row == 0) return {};
  return {size.ws_row, size.ws_col};
}

std::string header(const Options& options, const Profile& profile, const SamplingCounts& counts,
                   absl::Duration elapsed, TopSort sort) {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  const char* filter = options.sampler.gil_only ? "the GIL holder"
                       : options.sampler.idle   ? "all threads"
                                                : "running threads";
  std::string target = profile.processes.empty()
                           ? std::string("?")
                           : absl::StrCat(profile.processes.front().pid);
  if (profile.processes.size() > 1) absl::StrAppend(&target, " +", profile.processes.size() - 1);
  return absl::StrFormat(
      "pystack-dump top: pid %s, %.0f s, %d samples at %.1f/s (asked %g/s), %d stacks of %s, "
      "%d torn, %d dropped; sort: %s (o/t), r reset, q quit",
      target, seconds, counts.rounds, seconds > 0 ? counts.rounds / seconds : 0.0,
      options.sampler.rate_hz, counts.thread_samples, filter, counts.torn, counts.dropped,
      sort == TopSort::kOwn ? "own" : "total");
}

}  // namespace

int run_top(const Options& options) {
  absl::StatusOr<std::unique_ptr<SamplingRun>> run = SamplingRun::start(options);
  if (!run.ok()) return report_error(run.status());
  const bool interactive = ::isatty(1) && ::isatty(0);
  std::optional<TerminalScreen> screen;
  if (interactive) screen.emplace();
  TopSort sort = TopSort::kOwn;
  bool quit = false;
  const absl::Time deadline = options.sampler.duration_seconds > 0
                                  ? absl::Now() + absl::Seconds(options.sampler.duration_seconds)
                                  : absl::InfiniteFuture();
  SamplingSession& session = (*run)->session();
  auto draw = [&](const Profile& profile, const SamplingCounts& counts, absl::Duration elapsed) {
    const ScreenSize size = screen_size();
    std::vector<std::string> lines = {header(options, profile, counts, elapsed, sort)};
    if (interactive && lines.front().size() > size.columns) lines.front().resize(size.columns);
    const size_t rows = interactive ? (size.rows > 3 ? size.rows - 3 : 1) : 40;
    for (std::string& line :
         format_top(profile, sort, rows, interactive ? size.columns : 0)) {
      lines.push_back(std::move(line));
    }
    if (interactive) {
      screen->draw(lines);
    } else if (!write_all(stdout, absl::StrCat(absl::StrJoin(lines, "\n"), "\n\n"))) {
      quit = true;  // stdout closed (a pipe to head): nothing more to show
    }
  };
  SessionControl control;
  control.should_stop = [&] {
    if (screen) {
      for (char key : screen->keys()) {
        if (key == 'q' || key == 'Q') quit = true;
        if (key == 'o') sort = TopSort::kOwn;
        if (key == 't') sort = TopSort::kTotal;
        if (key == 'r') {
          Profile& profile = session.profile();
          for (ProfileStack& stack : profile.stacks) stack.count = 0;
          profile.thread_samples = 0;
        }
      }
    }
    return quit || (*run)->stop_requested() || absl::Now() >= deadline;
  };
  control.tick_every = absl::Seconds(1);
  control.tick = draw;
  session.run(control);
  screen.reset();
  const int command_status = (*run)->finish_command(absl::Seconds(5));
  // The last table stays on the terminal after the screen is restored.
  const Profile& profile = session.profile();
  std::vector<std::string> lines = {header(options, profile, session.counts(),
                                           absl::Nanoseconds(profile.duration_nanos), sort)};
  for (std::string& line : format_top(profile, sort, 20, 0)) lines.push_back(std::move(line));
  if (interactive) write_all(stdout, absl::StrCat(absl::StrJoin(lines, "\n"), "\n"));
  // After the screen: on it, they would have been drawn over.
  warn_about_session(session);
  return (*run)->has_command() ? command_status : kExitOk;
}

}  // namespace pystack
