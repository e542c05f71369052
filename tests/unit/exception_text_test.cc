// format_exception_text against CPython itself: tests/unit/data/exceptions/<version>.txt, each
// recorded by that interpreter with scripts/gen-exception-fixtures (real exceptions: chains,
// cycles, notes, groups, SyntaxErrors, ...; the values as the reader gives them, linecache's
// lines, and ''.join(traceback.format_exception(...))). Also the str_overridden marker and the
// bounds (cycles, huge chains, groups that list themselves, indexes that point nowhere).
#include "format/exception_text.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "format/python_text.h"

namespace pystack {
namespace {

PyText text(std::u32string s) {
  PyText t;
  t.length = s.size();
  t.code_points = std::move(s);
  return t;
}

// The fixture's escapes: "\\" and "\u{HEX}"; the rest is UTF-8.
std::u32string unescape(std::string_view s) {
  std::u32string decoded;
  EXPECT_TRUE(decode_utf8_strict(s, decoded)) << s;
  std::u32string out;
  for (size_t i = 0; i < decoded.size(); ++i) {
    if (decoded[i] != U'\\' || i + 1 >= decoded.size()) {
      out += decoded[i];
    } else if (decoded[i + 1] == U'\\') {
      out += U'\\';
      ++i;
    } else {
      const size_t close = decoded.find(U'}', i);
      std::string hex;
      for (size_t j = i + 3; j < close; ++j) hex += static_cast<char>(decoded[j]);
      out += static_cast<char32_t>(std::stoul(hex, nullptr, 16));
      i = close;
    }
  }
  return out;
}

struct Case {
  std::string name;
  HandledException exception;
  SourceLines sources;
  std::string want;  // UTF-8, backslashreplace, as print() writes it
  std::string record;  // the fixture's lines, shown on a mismatch
};

PythonVersion parse_version(const std::string& stem) {
  PythonVersion v;
  std::sscanf(stem.c_str(), "%d.%d.%d", &v.major, &v.minor, &v.micro);
  return v;
}

std::vector<Case> load(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<Case> cases;
  std::string line;
  std::u32string frame_file;
  auto value = [&]() -> ExceptionValue& { return cases.back().exception.values.back(); };
  auto syntax = [&]() -> ExceptionValue::SyntaxErrorFields& { return *value().syntax_error; };
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.find(' ');
    const std::string key = line.substr(0, space);
    const std::string rest = space == std::string::npos ? "" : line.substr(space + 1);
    if (key == "case") {
      cases.emplace_back();
      cases.back().name = rest;
      continue;
    }
    Case& c = cases.back();
    c.record += line + "\n";
    if (key == "value") {
      c.exception.values.emplace_back();
    } else if (key == "module") {
      value().type_module = text(unescape(rest));
    } else if (key == "module!") {
      value().type_module.reset();
    } else if (key == "qualname") {
      value().type_qualname = text(unescape(rest));
    } else if (key == "str") {
      value().str = text(unescape(rest));
    } else if (key == "str!") {
      value().str.reset();
    } else if (key == "frame") {
      TracebackEntry entry;
      std::sscanf(rest.c_str(), "%d %d %d %d", &entry.lineno, &entry.end_lineno, &entry.colno,
                  &entry.end_colno);
      value().traceback.push_back(entry);
    } else if (key == "file") {
      frame_file = unescape(rest);
      value().traceback.back().filename = text(frame_file);
    } else if (key == "name") {
      value().traceback.back().name = text(unescape(rest));
    } else if (key == "source") {
      const size_t sp = rest.find(' ');
      c.sources.set_line(frame_file, std::stoi(rest.substr(0, sp)), unescape(rest.substr(sp + 1)));
    } else if (key == "notes") {
      value().notes.emplace();
    } else if (key == "note") {
      value().notes->push_back(text(unescape(rest)));
    } else if (key == "note!") {
      value().notes->push_back(std::nullopt);
    } else if (key == "notesrepr") {
      value().notes_repr = text(unescape(rest));
    } else if (key == "cause") {
      value().cause = std::stoi(rest);
    } else if (key == "context") {
      value().context = std::stoi(rest);
    } else if (key == "suppress") {
      value().suppress_context = rest == "1";
    } else if (key == "members") {
      value().is_group = true;
      std::istringstream members(rest);
      for (int m; members >> m;) value().members.push_back(m);
    } else if (key == "syntax") {
      value().syntax_error.emplace();
    } else if (key == "sfilename") {
      syntax().filename = text(unescape(rest));
    } else if (key == "sfilename!") {
      syntax().filename.reset();  // not a str: shown as None would be (not recorded by the reader)
    } else if (key == "slineno") {
      syntax().lineno = std::stoll(rest);
    } else if (key == "soffset") {
      syntax().offset = std::stoll(rest);
    } else if (key == "sendlineno") {
      syntax().end_lineno = std::stoll(rest);
    } else if (key == "sendoffset") {
      syntax().end_offset = std::stoll(rest);
    } else if (key == "stext") {
      syntax().text = text(unescape(rest));
    } else if (key == "smsg") {
      syntax().msg = text(unescape(rest));
    } else if (key == "want") {
      append_utf8_backslashreplace(c.want, unescape(rest));
    } else {
      ADD_FAILURE() << path << ": unknown line " << line;
    }
  }
  return cases;
}

std::vector<std::filesystem::path> fixture_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator("tests/unit/data/exceptions")) {
    if (entry.path().extension() == ".txt") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(ExceptionText, MatchesCPythonFixtures) {
  const auto files = fixture_files();
  ASSERT_GE(files.size(), 10u);
  for (const auto& path : files) {
    const PythonVersion version = parse_version(path.stem().string());
    const std::vector<Case> cases = load(path);
    int passed = 0;
    for (const Case& c : cases) {
      const std::string got = format_exception_text(version, c.exception, c.sources);
      if (got == c.want) {
        ++passed;
      } else {
        ADD_FAILURE() << path.stem().string() << " case " << c.name << "\n--- want:\n" << c.want
                      << "--- got:\n" << got << "--- record:\n" << c.record;
      }
    }
    std::printf("[ ExceptionText ] %s: %d/%zu cases pass\n", path.stem().string().c_str(),
                passed, cases.size());
    EXPECT_GT(cases.size(), 40u) << path;
  }
}

// ---- synthetic values: the marker and the bounds ----

ExceptionValue simple(std::u32string qualname, std::u32string str) {
  ExceptionValue v;
  v.type_module = text(U"builtins");
  v.type_qualname = text(std::move(qualname));
  v.str = text(std::move(str));
  return v;
}

const PythonVersion kV312{3, 12, 1, 0};
const PythonVersion kV38{3, 8, 18, 0};

TEST(ExceptionText, StrOverriddenAddsMarkerLine) {
  HandledException e;
  e.values.push_back(simple(U"ValueError", U"shown"));
  e.values[0].str_overridden = true;
  const std::string marker = std::string(kStrOverriddenMarker) + "\n";
  EXPECT_EQ(format_exception_text(kV312, e, {}), "ValueError: shown\n" + marker);
  // Inside a group: at the member's box indentation, before the notes. (A group that was never
  // raised, at the top: its exception-only line is already inside the box.)
  HandledException g;
  g.values.push_back(simple(U"ExceptionGroup", U"eg (1 sub-exception)"));
  g.values[0].is_group = true;
  g.values[0].members = {1};
  g.values.push_back(simple(U"ValueError", U"member"));
  g.values[1].str_overridden = true;
  g.values[1].notes.emplace();
  g.values[1].notes->push_back(text(U"note"));
  EXPECT_EQ(format_exception_text(kV312, g, {}),
            "  | ExceptionGroup: eg (1 sub-exception)\n"
            "  +-+---------------- 1 ----------------\n"
            "    | ValueError: member\n"
            "    | " + marker +
            "    | note\n"
            "    +------------------------------------\n");
}

// 2.7: no chains, __name__ alone, SyntaxError from its args; expected text from 2.7.18:
//   def f(e): raise e          (line 5 of /tmp/t27.py; called on line 8 as `f(e)`)
//   "".join(traceback.format_exception(type(c), c, sys.exc_info()[2]))
TEST(ExceptionText, Python27) {
  const PythonVersion v27{2, 7, 18, 0};
  SourceLines sources;
  sources.set_line(U"/tmp/t27.py", 8, U"        f(e)\n");
  sources.set_line(U"/tmp/t27.py", 5, U"    raise e\n");
  auto raised = [](ExceptionValue v) {
    TracebackEntry outer{.filename = text(U"/tmp/t27.py"), .name = text(U"<module>"), .lineno = 8};
    TracebackEntry inner{.filename = text(U"/tmp/t27.py"), .name = text(U"f"), .lineno = 5};
    v.traceback = {outer, inner};
    v.type_module = text(U"exceptions");
    HandledException e;
    e.values.push_back(std::move(v));
    e.values.push_back(simple(U"KeyError", U"context: not shown in 2.7"));
    e.values[0].context = 1;
    return e;
  };
  const std::string head =
      "Traceback (most recent call last):\n  File \"/tmp/t27.py\", line 8, in <module>\n    f(e)\n"
      "  File \"/tmp/t27.py\", line 5, in f\n    raise e\n";
  EXPECT_EQ(format_exception_text(v27, raised(simple(U"ValueError", U"v")), sources),
            head + "ValueError: v\n");
  EXPECT_EQ(format_exception_text(v27, raised(simple(U"Outer.Inner", U"x")), sources),
            head + "Inner: x\n");
  ExceptionValue syntax = simple(U"SyntaxError", U"bad (f.py, line 3)");
  syntax.syntax_error = ExceptionValue::SyntaxErrorFields{
      .msg = text(U"bad"), .filename = text(U"f.py"), .lineno = 3, .offset = 4,
      .text = text(U"  abc d\n")};
  EXPECT_EQ(format_exception_text(v27, raised(syntax), sources),
            head + "  File \"f.py\", line 3\n    abc d\n     ^\nSyntaxError: bad\n");
  ExceptionValue only = simple(U"SyntaxError", U"only");
  only.syntax_error = ExceptionValue::SyntaxErrorFields{.msg = text(U"only")};
  EXPECT_EQ(format_exception_text(v27, raised(only), sources), head + "SyntaxError: only\n");
  ExceptionValue no_msg = simple(U"SyntaxError", U" (f.py, line 3)");
  no_msg.syntax_error = ExceptionValue::SyntaxErrorFields{
      .msg = text(U""), .filename = text(U"f.py"), .lineno = 3, .text = text(U"x\n")};
  EXPECT_EQ(format_exception_text(v27, raised(no_msg), sources),
            head + "  File \"f.py\", line 3\n    x\nSyntaxError\n");
}

TEST(ExceptionText, CyclesEnd) {
  for (const PythonVersion& version : {kV38, kV312}) {
    HandledException e;
    for (int i = 0; i < 3; ++i) e.values.push_back(simple(U"E" + std::u32string(1, U'0' + i), U"x"));
    e.values[0].cause = 1;
    e.values[1].context = 2;
    e.values[2].cause = 0;
    e.values[2].context = 2;
    const std::string out = format_exception_text(version, e, {});
    EXPECT_EQ(out,
              "E2: x\n\nDuring handling of the above exception, another exception occurred:\n\n"
              "E1: x\n\nThe above exception was the direct cause of the following exception:\n\n"
              "E0: x\n");
  }
}

TEST(ExceptionText, HugeChainIsBoundedAndIterative) {
  HandledException e;
  constexpr int kCount = 100000;
  for (int i = 0; i < kCount; ++i) {
    e.values.push_back(simple(U"E", U"x"));
    e.values.back().cause = i + 1 < kCount ? i + 1 : -1;
  }
  for (const PythonVersion& version : {kV38, kV312}) {
    const std::string out = format_exception_text(version, e, {});
    EXPECT_NE(out.find("<pystack-dump: more than"), std::string::npos);
    EXPECT_LT(out.size(), 2'000'000u);
  }
}

TEST(ExceptionText, GroupListingItselfEnds) {
  HandledException e;
  e.values.push_back(simple(U"ExceptionGroup", U"self"));
  e.values[0].is_group = true;
  e.values[0].members = {0, 0, 0};
  const std::string out = format_exception_text(kV312, e, {});
  EXPECT_NE(out.find("... (max_group_depth is 10)"), std::string::npos);
  EXPECT_NE(out.find("<pystack-dump: more than"), std::string::npos);
}

TEST(ExceptionText, BadIndexesAreNone) {
  HandledException e;
  e.values.push_back(simple(U"ValueError", U"v"));
  e.values[0].cause = 7;
  e.values[0].context = -5;
  e.values[0].is_group = true;
  e.values[0].members = {99, -3};
  // A group whose members all point nowhere: a group of none, as format() would print it.
  EXPECT_EQ(format_exception_text(kV312, e, {}), "  | ValueError: v\n");
  e.values[0].is_group = false;
  EXPECT_EQ(format_exception_text(kV312, e, {}), "ValueError: v\n");
  HandledException empty;
  EXPECT_EQ(format_exception_text(kV312, empty, {}), "");
}

TEST(ExceptionText, WideGroupOfDuplicatesIsBounded) {
  // 15 members, each the same 15-wide group, 10 levels: 15^10 objects for Python.
  HandledException e;
  for (int level = 0; level < 10; ++level) {
    e.values.push_back(simple(U"ExceptionGroup", U"g"));
    e.values.back().is_group = true;
    e.values.back().members.assign(15, level + 1);
  }
  e.values.push_back(simple(U"ValueError", U"leaf"));
  const std::string out = format_exception_text(kV312, e, {});
  EXPECT_NE(out.find("<pystack-dump: more than"), std::string::npos);
  EXPECT_LT(out.size(), 20'000'000u);
}

}  // namespace
}  // namespace pystack
