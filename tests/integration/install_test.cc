// What `make install` ships besides the binary, checked from outside: the man page agrees with
// `pystack-dump --help` (every option both ways, every exit code, every command form), renders
// without warnings; `make install`/`make uninstall` put exactly the four files in place and take
// them away again; the bash and zsh completions offer what the command line takes.
//
// These read the repository's files (doc/, completion/, the Makefile): the repository is the
// directory above the test binary (BUILD/integration-tests) that holds them, or above
// $PYSTACK_DUMP; a test skips, saying so, where none is found.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace pystack_it {
namespace {

namespace fs = std::filesystem;

constexpr auto kToolTimeout = std::chrono::seconds(30);
constexpr auto kMakeTimeout = std::chrono::seconds(120);

constexpr char kManPage[] = "doc/pystack-dump.1";
constexpr char kBashCompletion[] = "completion/pystack-dump.bash";
constexpr char kZshCompletion[] = "completion/_pystack-dump";

// The directory of the test binary: the BUILD the Makefile built it in.
std::string BuildDir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

// The repository: the first directory above the test binary, else above $PYSTACK_DUMP, that holds
// the Makefile and the man page (BUILD may be nested, e.g. build/sanitizers).
absl::StatusOr<std::string> RepoRoot() {
  std::vector<fs::path> starts;
  std::error_code ec;
  if (fs::path exe = fs::read_symlink("/proc/self/exe", ec); !ec) starts.push_back(exe);
  if (const char* tool = getenv("PYSTACK_DUMP"); tool != nullptr && *tool != '\0') {
    starts.push_back(fs::absolute(tool, ec));
  }
  for (const fs::path& start : starts) {
    for (fs::path dir = start.parent_path(); !dir.empty(); dir = dir.parent_path()) {
      if (fs::exists(dir / "Makefile", ec) && fs::exists(dir / kManPage, ec)) {
        return fs::weakly_canonical(dir).string();
      }
      if (dir == dir.root_path()) break;
    }
  }
  return absl::NotFoundError(
      "the repository (a directory with Makefile and doc/pystack-dump.1) is not above the test "
      "binary nor above $PYSTACK_DUMP");
}

#define SKIP_UNLESS_REPO(var)                                                     \
  absl::StatusOr<std::string> var##_or = RepoRoot();                              \
  if (!var##_or.ok()) GTEST_SKIP() << var##_or.status().message();                \
  const std::string& var = *var##_or

bool HaveProgram(const std::string& name) {
  absl::StatusOr<RunResult> r =
      RunProgram({"sh", "-c", "command -v \"$0\" >/dev/null", name}, kToolTimeout);
  return r.ok() && r->exit_code() == 0;
}

// ---------------------------------------------------------------------------------------------
// Reading troff: just what the man page uses, enough to compare its words with --help's.

// Plain text of troff escapes: \- is '-', quotes and spaces become what they print, font changes
// and zero-width escapes vanish.
std::string Unescape(absl::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    const char c = text[++i];
    if (c == 'f') {  // \fB, \f(CW, \f[BI]
      if (i + 1 < text.size() && text[i + 1] == '(') {
        i += 3;
      } else if (i + 1 < text.size() && text[i + 1] == '[') {
        i = text.find(']', i);
        if (i == absl::string_view::npos) break;
      } else {
        ++i;
      }
    } else if (c == '(') {  // \(lq, \(dq, \(aq ...
      const absl::string_view name = text.substr(i + 1, 2);
      i += 2;
      if (name == "lq" || name == "rq" || name == "dq") out += '"';
      if (name == "aq") out += '\'';
    } else if (c == '-' || c == ' ' || c == '.' || c == '\'') {
      out += c;
    } else if (c == 'e' || c == '\\') {
      out += '\\';
    }  // \& \% \: and anything else: nothing
  }
  return out;
}

// A request line's name and arguments ("quoted" ones kept whole), unescaped.
std::pair<std::string, std::vector<std::string>> ParseRequest(absl::string_view line) {
  line.remove_prefix(1);
  std::vector<std::string> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == line.size()) break;
    std::string word;
    if (line[i] == '"') {
      for (++i; i < line.size() && line[i] != '"'; ++i) word += line[i];
      ++i;
    } else {
      // "\ " is a space inside a word.
      for (; i < line.size() && line[i] != ' ' && line[i] != '\t'; ++i) {
        word += line[i];
        if (line[i] == '\\' && i + 1 < line.size()) word += line[++i];
      }
    }
    words.push_back(Unescape(word));
  }
  if (words.empty()) return {"", {}};
  std::string name = words.front();
  words.erase(words.begin());
  return {name, words};
}

// What a line prints: text as is, a font macro's arguments (the alternating ones run together),
// SY's command name; nothing for other requests and comments.
std::string RenderLine(absl::string_view line) {
  if (line.empty()) return "";
  if (line[0] != '.' && line[0] != '\'') return Unescape(line);
  if (absl::StartsWith(line, ".\\\"")) return "";
  auto [name, args] = ParseRequest(line);
  static const std::set<std::string> kAlternating = {"BR", "RB", "BI", "IB", "IR", "RI"};
  if (kAlternating.contains(name)) return absl::StrJoin(args, "");
  if (name == "B" || name == "I" || name == "SY" || name == "SM" || name == "SB") {
    return absl::StrJoin(args, " ");
  }
  return "";
}

std::string CollapseSpaces(absl::string_view text) {
  return absl::StrJoin(absl::StrSplit(text, absl::ByAnyChar(" \t\n"), absl::SkipEmpty()), " ");
}

struct ManPage {
  std::map<std::string, std::vector<std::string>> sections;  // .SH name -> its lines
};

ManPage ParseManPage(const std::string& text) {
  ManPage page;
  std::vector<std::string>* current = nullptr;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, ".SH")) {
      current = &page.sections[CollapseSpaces(absl::StrJoin(ParseRequest(line).second, " "))];
      continue;
    }
    if (current != nullptr) current->emplace_back(line);
  }
  return page;
}

// The tags of a section's .TP/.TQ entries, rendered.
std::vector<std::string> EntryTags(const std::vector<std::string>& lines) {
  std::vector<std::string> tags;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    if (lines[i] != ".TP" && lines[i] != ".TQ") continue;
    size_t tag = i + 1;
    while (tag < lines.size() && absl::StartsWith(lines[tag], ".\\\"")) ++tag;
    if (tag < lines.size()) tags.push_back(CollapseSpaces(RenderLine(lines[tag])));
  }
  return tags;
}

// "-o" and "--output" of "-o, --output=FILE"; "--tasks" of "--tasks[=table|tree]".
std::set<std::string> OptionsIn(const std::string& text) {
  static const std::regex kOption(R"((?:^|[\s,\[(])(--?[A-Za-z][A-Za-z0-9-]*))");
  std::set<std::string> options;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kOption);
       it != std::sregex_iterator(); ++it) {
    options.insert((*it)[1].str());
  }
  return options;
}

// ---------------------------------------------------------------------------------------------
// Reading --help

struct Help {
  std::set<std::string> usage_forms;     // "pystack-dump --all [OPTIONS]", spaces collapsed
  std::set<std::string> dump_options;    // "Options:"
  std::set<std::string> record_options;  // "Record options ...:"
  std::set<std::string> exit_codes;      // the "  N   text" lines of "Exit codes:"
  std::set<std::string> other_numbers;   // numbers in the other lines there (124, 128+N, ...)
};

Help ParseHelp(const std::string& text) {
  Help help;
  enum class Part { kNone, kUsage, kDump, kRecord, kExit } part = Part::kNone;
  static const std::regex kExitLine(R"(^  (\d+)\s+\S)");
  static const std::regex kNumber(R"(\b\d+\b)");
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, "Usage: ")) {
      part = Part::kUsage;
      line.remove_prefix(7);
    } else if (line == "Options:") {
      part = Part::kDump;
      continue;
    } else if (absl::StartsWith(line, "Record options")) {
      part = Part::kRecord;
      continue;
    } else if (line == "Exit codes:") {
      part = Part::kExit;
      continue;
    } else if (line.empty() && part != Part::kExit) {
      part = Part::kNone;
      continue;
    }
    const std::string text_line(line);
    switch (part) {
      case Part::kNone:
        break;
      case Part::kUsage:
        help.usage_forms.insert(CollapseSpaces(line));
        break;
      case Part::kDump:
      case Part::kRecord: {
        if (!absl::StartsWith(line, "  -")) break;  // a description's continuation
        // The option words end where the description column starts (two spaces).
        absl::string_view words = line.substr(2);
        words = words.substr(0, words.find("  "));
        for (const std::string& option : OptionsIn(std::string(words))) {
          (part == Part::kDump ? help.dump_options : help.record_options).insert(option);
        }
        break;
      }
      case Part::kExit: {
        std::smatch m;
        if (std::regex_search(text_line, m, kExitLine)) {
          help.exit_codes.insert(m[1].str());
        } else if (!absl::StartsWith(line, " ")) {
          for (auto it = std::sregex_iterator(text_line.begin(), text_line.end(), kNumber);
               it != std::sregex_iterator(); ++it) {
            help.other_numbers.insert(it->str());
          }
        }
        break;
      }
    }
  }
  return help;
}

// ---------------------------------------------------------------------------------------------
// The comparison

void CompareOptions(const std::set<std::string>& help, const std::string& help_part,
                    const std::vector<std::string>* man_lines, const std::string& man_section,
                    std::vector<std::string>& problems) {
  if (man_lines == nullptr) {
    problems.push_back(absl::StrCat("the man page has no section ", man_section));
    return;
  }
  std::set<std::string> man;
  for (const std::string& tag : EntryTags(*man_lines)) {
    for (const std::string& option : OptionsIn(tag)) man.insert(option);
  }
  for (const std::string& option : help) {
    if (!man.contains(option)) {
      problems.push_back(absl::StrCat("--help lists ", option, " under \"", help_part,
                                      "\", the man page's ", man_section,
                                      " has no entry (.TP) for it"));
    }
  }
  for (const std::string& option : man) {
    if (!help.contains(option)) {
      problems.push_back(absl::StrCat("the man page's ", man_section, " has an entry for ", option,
                                      ", --help does not list it under \"", help_part, "\""));
    }
  }
}

// Where the man page and --help disagree, one line each; empty when they agree.
std::vector<std::string> ManPageDisagreements(const std::string& help_text,
                                              const std::string& man_text) {
  std::vector<std::string> problems;
  const Help help = ParseHelp(help_text);
  const ManPage man = ParseManPage(man_text);
  auto section = [&](const std::string& name) -> const std::vector<std::string>* {
    auto it = man.sections.find(name);
    return it == man.sections.end() ? nullptr : &it->second;
  };
  if (help.usage_forms.empty() || help.dump_options.empty() || help.record_options.empty() ||
      help.exit_codes.empty()) {
    problems.push_back("--help no longer has the parts this test reads (\"Usage: \", "
                       "\"Options:\", \"Record options\", \"Exit codes:\"): update the test");
  }

  CompareOptions(help.dump_options, "Options:", section("OPTIONS"), "OPTIONS", problems);
  CompareOptions(help.record_options, "Record options", section("RECORD AND TOP OPTIONS"),
                 "RECORD AND TOP OPTIONS", problems);

  // Exit codes: an entry each in EXIT STATUS; the numbers of --help's closing sentences (record,
  // --timeout) in its text.
  if (const std::vector<std::string>* lines = section("EXIT STATUS"); lines == nullptr) {
    problems.push_back("the man page has no section EXIT STATUS");
  } else {
    std::set<std::string> man_codes;
    for (const std::string& tag : EntryTags(*lines)) {
      if (!tag.empty() && tag.find_first_not_of("0123456789") == std::string::npos) {
        man_codes.insert(tag);
      }
    }
    for (const std::string& code : help.exit_codes) {
      if (!man_codes.contains(code)) {
        problems.push_back(absl::StrCat("--help lists exit code ", code,
                                        ", the man page's EXIT STATUS has no entry (.TP) for it"));
      }
    }
    for (const std::string& code : man_codes) {
      if (!help.exit_codes.contains(code)) {
        problems.push_back(absl::StrCat("the man page's EXIT STATUS has an entry for ", code,
                                        ", --help lists no exit code ", code));
      }
    }
    std::string text;
    for (const std::string& line : *lines) absl::StrAppend(&text, RenderLine(line), " ");
    for (const std::string& number : help.other_numbers) {
      if (!std::regex_search(text, std::regex(absl::StrCat("\\b", number, "\\b")))) {
        problems.push_back(absl::StrCat("--help's exit codes mention ", number,
                                        ", the man page's EXIT STATUS does not"));
      }
    }
  }

  // Command forms: each usage line of --help is one .SY ... .YS form of the SYNOPSIS.
  if (const std::vector<std::string>* lines = section("SYNOPSIS"); lines == nullptr) {
    problems.push_back("the man page has no section SYNOPSIS");
  } else {
    std::set<std::string> forms;
    std::string form;
    bool in_form = false;
    for (const std::string& line : *lines) {
      if (absl::StartsWith(line, ".SY")) {
        in_form = true;
        form.clear();
      }
      if (!in_form) continue;
      if (absl::StartsWith(line, ".YS")) {
        forms.insert(CollapseSpaces(form));
        in_form = false;
        continue;
      }
      absl::StrAppend(&form, RenderLine(line), " ");
    }
    for (const std::string& usage : help.usage_forms) {
      if (!forms.contains(usage)) {
        problems.push_back(absl::StrCat("--help's usage line \"", usage, "\" is not a form ",
                                        "(.SY ... .YS) of the man page's SYNOPSIS"));
      }
    }
    for (const std::string& synopsis : forms) {
      if (!help.usage_forms.contains(synopsis)) {
        problems.push_back(absl::StrCat("the man page's SYNOPSIS has \"", synopsis,
                                        "\", which is no usage line of --help"));
      }
    }
  }
  return problems;
}

std::string HelpText() {
  absl::StatusOr<std::string> tool = ToolPath();
  if (!tool.ok()) return "";
  absl::StatusOr<RunResult> r = RunProgram({*tool, "--help"}, kToolTimeout);
  return r.ok() && r->exit_code() == 0 ? r->out : "";
}

// Removes the first occurrence of `what` from `text`; false when it is not there.
bool Remove(std::string& text, const std::string& what) {
  const size_t at = text.find(what);
  if (at == std::string::npos) return false;
  text.erase(at, what.size());
  return true;
}

// ---------------------------------------------------------------------------------------------
// The man page

TEST(ManPage, AgreesWithHelp) {
  SKIP_UNLESS_REPO(root);
  ASSERT_TOOL(tool);
  const std::string help = HelpText();
  ASSERT_FALSE(help.empty()) << tool << " --help failed";
  std::optional<std::string> man = ReadFile(root + "/" + kManPage);
  ASSERT_TRUE(man.has_value()) << "cannot read " << root << "/" << kManPage;
  const std::vector<std::string> problems = ManPageDisagreements(help, *man);
  EXPECT_TRUE(problems.empty()) << kManPage << " and `pystack-dump --help` disagree:\n  "
                                << absl::StrJoin(problems, "\n  ");
}

// The comparison itself finds what is missing on either side, and says which.
TEST(ManPage, DisagreementsAreFoundAndNamed) {
  SKIP_UNLESS_REPO(root);
  ASSERT_TOOL(tool);
  const std::string help = HelpText();
  ASSERT_FALSE(help.empty()) << tool << " --help failed";
  std::optional<std::string> man = ReadFile(root + "/" + kManPage);
  ASSERT_TRUE(man.has_value());
  ASSERT_TRUE(ManPageDisagreements(help, *man).empty()) << "see ManPage.AgreesWithHelp";

  struct Case {
    std::string description;
    bool in_man;       // remove `removed` from the man page, else from --help
    std::string removed;
    std::vector<std::string> expected;  // each in one of the problems, one problem each
  };
  const std::vector<Case> cases = {
      {"an option's entry", true, ".TP\n.B \\-\\-locks\n",
       {"--help lists --locks under \"Options:\""}},
      {"a record option's entry", true, ".TP\n.BR \\-q \", \" \\-\\-quiet\n",
       {"--help lists -q under \"Record options\"",
        "--help lists --quiet under \"Record options\""}},
      {"an exit code's entry", true, ".TP\n.B 11\n", {"--help lists exit code 11"}},
      {"a command form", true, ".SY pystack-dump\n.B \\-\\-all\n.RI [ OPTIONS ]\n.YS\n",
       {"usage line \"pystack-dump --all [OPTIONS]\""}},
      {"an option of --help", false,
       "  --gil                   keep only the thread that holds the GIL\n",
       {"has an entry for --gil, --help does not list it under \"Record options\""}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("removed from " + std::string(c.in_man ? "the man page" : "--help") + ": " +
                 c.description);
    std::string man_text = *man, help_text = help;
    ASSERT_TRUE(Remove(c.in_man ? man_text : help_text, c.removed))
        << "not found, update the test: " << Printable(c.removed);
    const std::vector<std::string> problems = ManPageDisagreements(help_text, man_text);
    EXPECT_EQ(problems.size(), c.expected.size()) << absl::StrJoin(problems, "\n");
    for (const std::string& expected : c.expected) {
      EXPECT_TRUE(std::any_of(problems.begin(), problems.end(),
                              [&](const std::string& p) { return absl::StrContains(p, expected); }))
          << "no problem says \"" << expected << "\": " << absl::StrJoin(problems, "\n");
    }
  }
}

TEST(ManPage, RendersWithoutWarnings) {
  SKIP_UNLESS_REPO(root);
  if (!HaveProgram("groff")) GTEST_SKIP() << "no groff (Debian's groff-base)";
  const std::string page = root + "/" + kManPage;
  // -ww: every warning; -z: no output, only the diagnostics.
  absl::StatusOr<RunResult> r = RunProgram({"groff", "-man", "-ww", "-z", page}, kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  EXPECT_EQ(r->err, "") << "groff -man -ww: " << r->err;
  if (HaveProgram("man")) {
    absl::StatusOr<RunResult> m = RunProgram({"man", "--warnings", "-l", page}, kToolTimeout,
                                             {"MANPAGER=cat", "PAGER=cat", "MANWIDTH=80"});
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->exit_code(), 0) << m->Describe();
    EXPECT_EQ(m->err, "") << "man --warnings: " << m->err;
    EXPECT_NE(m->out.find("EXIT STATUS"), std::string::npos) << m->out;
  }
}

// ---------------------------------------------------------------------------------------------
// make install, make uninstall

// Every path under `dir`, relative, directories ending in '/'.
std::set<std::string> Tree(const std::string& dir) {
  std::set<std::string> paths;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const std::string relative = fs::relative(it->path(), dir).string();
    paths.insert(it->symlink_status().type() == fs::file_type::directory ? relative + "/"
                                                                         : relative);
  }
  return paths;
}

// make -C ROOT, with only the variables given: none of the caller's (an outer `make test`'s
// MAKEFLAGS, a MANDIR of the environment) may leak in.
absl::StatusOr<RunResult> RunMake(const std::string& root, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"env"};
  for (const char* name : {"MAKEFLAGS", "MFLAGS", "GNUMAKEFLAGS", "MAKELEVEL", "PREFIX", "DESTDIR",
                           "BINDIR", "MANDIR", "BASH_COMPLETION_DIR", "ZSH_COMPLETION_DIR"}) {
    argv.insert(argv.end(), {"-u", name});
  }
  argv.insert(argv.end(), {"make", "--no-print-directory", "-C", root});
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, kMakeTimeout);
}

TEST(Install, InstallsExactlyFourFilesAndUninstallRemovesThem) {
  SKIP_UNLESS_REPO(root);
  const std::string build = BuildDir();
  const std::string binary = build + "/pystack-dump";
  ASSERT_EQ(access(binary.c_str(), X_OK), 0)
      << binary << " is not built: the test installs the binary beside the test binary";

  struct File {
    std::string path;  // relative to DESTDIR
    int mode;
    std::string source;  // in the repository; empty for the binary
  };
  struct Layout {
    std::vector<std::string> variables;
    std::vector<File> files;  // the binary first
  };
  const std::vector<Layout> layouts = {
      {{"PREFIX=/usr/local"},
       {{"usr/local/bin/pystack-dump", 0755, ""},
        {"usr/local/share/man/man1/pystack-dump.1", 0644, kManPage},
        {"usr/local/share/bash-completion/completions/pystack-dump", 0644, kBashCompletion},
        {"usr/local/share/zsh/site-functions/_pystack-dump", 0644, kZshCompletion}}},
      // As the Debian package's build calls it.
      {{"PREFIX=/usr", "ZSH_COMPLETION_DIR=/usr/share/zsh/vendor-completions"},
       {{"usr/bin/pystack-dump", 0755, ""},
        {"usr/share/man/man1/pystack-dump.1", 0644, kManPage},
        {"usr/share/bash-completion/completions/pystack-dump", 0644, kBashCompletion},
        {"usr/share/zsh/vendor-completions/_pystack-dump", 0644, kZshCompletion}}},
  };

  for (const Layout& layout : layouts) {
    SCOPED_TRACE(absl::StrJoin(layout.variables, " "));
    TempDir dest;
    // -o: the binary is taken as built; make must not rebuild it (nor anything) here.
    std::vector<std::string> args = {"BUILD=" + build, "-o", binary, "DESTDIR=" + dest.path()};
    args.insert(args.end(), layout.variables.begin(), layout.variables.end());
    std::vector<std::string> install = args;
    install.push_back("install");
    absl::StatusOr<RunResult> r = RunMake(root, install);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->exit_code(), 0) << r->Describe();

    // Exactly the four files, and the directories that lead to them.
    std::set<std::string> expected;
    for (const File& file : layout.files) {
      expected.insert(file.path);
      for (fs::path dir = fs::path(file.path).parent_path(); !dir.empty();
           dir = dir.parent_path()) {
        expected.insert(dir.string() + "/");
      }
    }
    EXPECT_EQ(absl::StrJoin(Tree(dest.path()), "\n"), absl::StrJoin(expected, "\n"));

    for (const File& file : layout.files) {
      const std::string path = dest.path() + "/" + file.path;
      struct stat st;
      ASSERT_EQ(lstat(path.c_str(), &st), 0) << path << " was not installed";
      EXPECT_TRUE(S_ISREG(st.st_mode)) << path;
      EXPECT_EQ(st.st_mode & 07777, static_cast<mode_t>(file.mode))
          << path << ": mode " << std::oct << (st.st_mode & 07777);
      if (!file.source.empty()) {
        EXPECT_TRUE(ReadFile(path) == ReadFile(root + "/" + file.source))
            << path << " differs from " << file.source;
      }
    }

    // The installed binary runs, and is the one built.
    const std::string installed = dest.path() + "/" + layout.files.front().path;
    ASSERT_TRUE(absl::EndsWith(installed, "bin/pystack-dump")) << installed;
    absl::StatusOr<RunResult> version = RunProgram({installed, "--version"}, kToolTimeout);
    ASSERT_TRUE(version.ok()) << version.status();
    EXPECT_EQ(version->exit_code(), 0) << version->Describe();
    EXPECT_TRUE(absl::StartsWith(version->out, "pystack-dump ")) << Printable(version->out);
    EXPECT_EQ(fs::file_size(installed), fs::file_size(binary));

    std::vector<std::string> uninstall = args;
    uninstall.push_back("uninstall");
    r = RunMake(root, uninstall);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->exit_code(), 0) << r->Describe();
    // No file left; the directories stay (make uninstall removes only what it installed).
    std::vector<std::string> left;
    for (const std::string& path : Tree(dest.path())) {
      if (!absl::EndsWith(path, "/")) left.push_back(path);
    }
    EXPECT_TRUE(left.empty()) << "left after make uninstall: " << absl::StrJoin(left, ", ");
  }
}

// ---------------------------------------------------------------------------------------------
// Completion

// COMPREPLY of the bash completion for COMP_WORDS = `words`, the cursor in the last one.
absl::StatusOr<std::vector<std::string>> BashComplete(const std::string& script,
                                                      const std::vector<std::string>& words,
                                                      std::string* err) {
  std::vector<std::string> argv = {
      "bash", "--norc", "--noprofile", "-c",
      R"(source "$1" || exit 1
shift
[[ $(complete -p pystack-dump) == "complete -F _pystack_dump pystack-dump" ]] || exit 3
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_pystack_dump || exit 2
((${#COMPREPLY[@]} == 0)) || printf '%s\n' "${COMPREPLY[@]}")",
      "bash", script};
  argv.insert(argv.end(), words.begin(), words.end());
  absl::StatusOr<RunResult> r = RunProgram(argv, kToolTimeout);
  if (!r.ok()) return r.status();
  if (r->exit_code() != 0) return absl::InternalError(r->Describe());
  *err = r->err;
  return std::vector<std::string>(absl::StrSplit(r->out, '\n', absl::SkipEmpty()));
}

bool Contains(const std::vector<std::string>& words, const std::string& word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

TEST(Completion, BashCompletesOptionsValuesFilesPidsAndCommands) {
  SKIP_UNLESS_REPO(root);
  if (!HaveProgram("bash")) GTEST_SKIP() << "no bash";
  const std::string script = root + "/" + kBashCompletion;
  TempDir dir;
  ASSERT_TRUE(WriteFile(dir.path() + "/core.4242", ""));
  const std::string self = std::to_string(getpid());

  using Words = std::vector<std::string>;
  struct Case {
    Words words;
    Words exactly;   // the whole reply, in order; or, when empty:
    Words includes;  // words the reply holds
    Words excludes;  // words it does not
  };
  const std::vector<Case> cases = {
      {{"pystack-dump", "--for"}, {"--format="}, {}, {}},
      {{"pystack-dump", "--co"}, {"--core="}, {}, {}},
      {{"pystack-dump", "--format="},
       {"--format=faulthandler", "--format=traceback", "--format=json"}, {}, {}},
      {{"pystack-dump", "record", "--format="},
       {"--format=folded", "--format=speedscope", "--format=svg", "--format=pprof"}, {}, {}},
      // As bash splits the words when '=' is in COMP_WORDBREAKS (the default): only the part
      // after '=' is replaced.
      {{"pystack-dump", "record", "--format", "="}, {"folded", "speedscope", "svg", "pprof"}, {},
       {}},
      {{"pystack-dump", "record", "--format", "=", "sp"}, {"speedscope"}, {}, {}},
      {{"pystack-dump", "--tasks="}, {"--tasks=table", "--tasks=tree"}, {}, {}},
      {{"pystack-dump", "--format", "tr"}, {"traceback"}, {}, {}},
      {{"pystack-dump", "re"}, {"record"}, {}, {}},
      {{"pystack-dump", "top", "--ou"}, {}, {}, {"--output="}},  // top writes no file
      {{"pystack-dump", "record", "--ou"}, {"--output="}, {}, {}},
      {{"pystack-dump", "--core=" + dir.path() + "/co"}, {"--core=" + dir.path() + "/core.4242"},
       {}, {}},
      {{"pystack-dump", "--core", dir.path() + "/co"}, {dir.path() + "/core.4242"}, {}, {}},
      {{"pystack-dump", "record", "-o", dir.path() + "/"}, {dir.path() + "/core.4242"}, {}, {}},
      {{"pystack-dump", ""}, {}, {"record", "top", self}, {"--format="}},
      {{"pystack-dump", "--native", ""}, {}, {self}, {"record"}},
      {{"pystack-dump", "--all", ""}, {}, {}, {self}},  // --all takes no PID
      {{"pystack-dump", "--timeout", "5", "--", "tru"}, {}, {"true"}, {}},
      {{"pystack-dump", "record", "--", "tru"}, {}, {"true"}, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("COMP_WORDS: [" + absl::StrJoin(c.words, "] [") + "]");
    std::string err;
    absl::StatusOr<std::vector<std::string>> reply = BashComplete(script, c.words, &err);
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(err, "");
    const std::string shown = "[" + absl::StrJoin(*reply, "] [") + "]";
    if (!c.exactly.empty()) {
      EXPECT_EQ(*reply, c.exactly) << shown;
    }
    for (const std::string& word : c.includes) {
      EXPECT_TRUE(Contains(*reply, word)) << word << " not in " << shown;
    }
    for (const std::string& word : c.excludes) {
      EXPECT_FALSE(Contains(*reply, word)) << word << " in " << shown;
    }
  }
}

TEST(Completion, ZshParsesAndCompinitLoadsIt) {
  SKIP_UNLESS_REPO(root);
  if (!HaveProgram("zsh")) GTEST_SKIP() << "no zsh (Debian's zsh)";
  absl::StatusOr<RunResult> r = RunProgram({"zsh", "-n", root + "/" + kZshCompletion},
                                           kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  EXPECT_EQ(r->err, "");
  // compinit finds it by its #compdef line: pystack-dump is completed by _pystack-dump.
  r = RunProgram({"zsh", "-f", "-c",
                  "fpath=(\"$1\" $fpath); autoload -Uz compinit; compinit -u -D; "
                  "print -r -- \"$_comps[pystack-dump]\"",
                  "zsh", root + "/completion"},
                 kToolTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << r->Describe();
  EXPECT_EQ(r->out, "_pystack-dump\n") << r->Describe();
}

// Drives an interactive zsh in a pseudo-terminal (zsh/zpty): types each line given and TAB, with
// compadd wrapped to log what the completion functions add (compadd -O). zle-line-init logs
// "== ready N" whenever zle reads a new line: each line is typed only then (keys typed while
// the shell is busy elsewhere may be lost), and the words of line N stand between "== ready N"
// and "== ready N+1".
constexpr char kZshDriver[] = R"zsh(zmodload zsh/zpty || exit 2
log=$1 dir=$2
shift 2
: > $log
# Waits until the log has the line $1, draining the terminal's output meanwhile.
await() {
  integer t
  for (( t = 0; t < 400; t++ )); do
    while zpty -rt z chunk 2>/dev/null; do :; done
    [[ -n ${(M)${(f)"$(<$log)"}:#$1} ]] && return 0
    sleep 0.05
  done
  print -r -- "zsh did not get to '$1'"
  exit 3
}
zpty z zsh -f -i
# One line: what is typed while the shell runs it may be lost.
setup=(
  "bindkey -e; PS1='> '; LISTMAX=100000"
  "fpath=(${(q)dir} \$fpath); autoload -Uz compinit; compinit -u -D"
  "compadd() { local -a m; builtin compadd -O m \"\$@\""
  "  (( \$#m )) && print -r -- \"\${(j: :)m}\" >> ${(q)log}; builtin compadd \"\$@\"; }"
  "integer ready; zle-line-init() { print -r -- \"== ready \$((++ready))\" >> ${(q)log}; }"
  "zle -N zle-line-init"
)
zpty -w z "${(j:; :)setup}"
await '== ready 1'
integer n=1
for line in "$@"; do
  zpty -w -n z "$line"$'\t\C-e\C-u\n'
  (( ++n ))
  await "== ready $n"
done
zpty -d z
)zsh";

TEST(Completion, ZshCompletesOptionsValuesFilesAndCommands) {
  SKIP_UNLESS_REPO(root);
  if (!HaveProgram("zsh")) GTEST_SKIP() << "no zsh (Debian's zsh)";
  TempDir dir;
  ASSERT_TRUE(WriteFile(dir.path() + "/driver.zsh", kZshDriver));
  ASSERT_TRUE(WriteFile(dir.path() + "/core.4242", ""));
  struct Case {
    std::string line;
    std::vector<std::string> includes, excludes;
  };
  const std::vector<Case> cases = {
      {"pystack-dump --for", {"--format"}, {}},
      {"pystack-dump --co", {"--core"}, {"--format"}},
      {"pystack-dump --format=", {"faulthandler", "traceback", "json"}, {"folded"}},
      {"pystack-dump record --format=", {"folded", "speedscope", "svg", "pprof"}, {"json"}},
      {"pystack-dump --tasks=", {"table", "tree"}, {}},
      {"pystack-dump re", {"record"}, {}},
      {"pystack-dump top --ou", {}, {"--output"}},
      {"pystack-dump --core " + dir.path() + "/co", {"core.4242"}, {}},
      {"pystack-dump record -o " + dir.path() + "/co", {"core.4242"}, {}},
      {"pystack-dump --timeout 5 -- tru", {"true"}, {}},
  };
  std::vector<std::string> argv = {"zsh", "-f", dir.path() + "/driver.zsh", dir.path() + "/log",
                                   root + "/completion"};
  for (const Case& c : cases) argv.push_back(c.line);
  absl::StatusOr<RunResult> r = RunProgram(argv, std::chrono::seconds(90), {"TERM=xterm"});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_code(), 0) << r->Describe();
  std::optional<std::string> log = ReadFile(dir.path() + "/log");
  ASSERT_TRUE(log.has_value());
  // What was offered for each line: the words logged between "== ready N" and "== ready N+1".
  std::vector<std::set<std::string>> offered;
  for (absl::string_view line : absl::StrSplit(*log, '\n')) {
    if (absl::StartsWith(line, "== ready ")) {
      offered.emplace_back();
      continue;
    }
    if (offered.empty()) continue;
    for (absl::string_view word : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
      offered.back().emplace(word);
    }
  }
  ASSERT_EQ(offered.size(), cases.size() + 1) << *log;
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("typed: " + cases[i].line + "<TAB>");
    const std::string shown = absl::StrJoin(offered[i], " ");
    for (const std::string& word : cases[i].includes) {
      EXPECT_TRUE(offered[i].contains(word)) << word << " not offered; offered: " << shown;
    }
    for (const std::string& word : cases[i].excludes) {
      EXPECT_FALSE(offered[i].contains(word)) << word << " offered: " << shown;
    }
  }
}

}  // namespace
}  // namespace pystack_it
