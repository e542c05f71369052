// format_frame_source against CPython itself: tests/unit/data/carets/<version>.txt hold, for
// every frame of a few hundred small programs that raise, linecache's lines, the positions and
// what StackSummary.format_frame_summary printed below the File line (recorded by
// scripts/gen-caret-fixtures with each interpreter).
#include "format/traceback_carets.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace pystack {
namespace {

// PYSTACK_CARET_FIXTURES=DIR runs another recording (e.g. a bigger random corpus) instead.
const std::string kDataDir = std::getenv("PYSTACK_CARET_FIXTURES") ? std::getenv("PYSTACK_CARET_FIXTURES")
                                                                    : "tests/unit/data/carets";

std::u32string decode_utf8(std::string_view s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    int n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    char32_t cp = n == 1 ? c : c & (0x7f >> n);
    for (int k = 1; k < n; ++k) cp = (cp << 6) | (s[i + k] & 0x3f);
    out += cp;
    i += n;
  }
  return out;
}

std::string encode_utf8(std::u32string_view s) {
  std::string out;
  for (char32_t c : s) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xc0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xe0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (c & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (c & 0x3f));
    }
  }
  return out;
}

// The fixture's escapes: "\\" and "\u{HEX}".
std::u32string unescape(std::string_view text) {
  std::u32string raw = decode_utf8(text), out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\') {
      out += raw[i];
    } else if (raw[i + 1] == '\\') {
      out += '\\';
      ++i;
    } else {
      size_t close = raw.find(U'}', i);
      std::string hex(raw.begin() + i + 3, raw.begin() + close);
      out += static_cast<char32_t>(std::stoul(hex, nullptr, 16));
      i = close;
    }
  }
  return out;
}

// Escaped for failure messages: newlines shown as ⏎ and kept.
std::string show(std::u32string_view s) {
  std::string out;
  for (char32_t c : s) {
    if (c == '\n') out += "⏎\n";
    else if (c < 0x20) out += "\\x" + std::to_string(c);
    else out += encode_utf8(std::u32string(1, c));
  }
  return out;
}

struct Case {
  std::string name;
  int lineno = 0, end_lineno = 0, colno = 0, end_colno = 0;
  std::vector<std::u32string> lines;
  std::u32string want;
};

std::vector<Case> read_cases(const std::string& path, std::string& header) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("missing fixture " + path + " (run from the repo root)");
  std::getline(in, header);
  std::vector<Case> cases;
  for (std::string line; std::getline(in, line);) {
    std::string_view rest = std::string_view(line).substr(std::min(line.find(' ') + 1, line.size()));
    if (line.rfind("case ", 0) == 0) {
      cases.emplace_back().name = std::string(rest);
    } else if (line.rfind("pos ", 0) == 0) {
      std::istringstream(std::string(rest)) >> cases.back().lineno >> cases.back().end_lineno >>
          cases.back().colno >> cases.back().end_colno;
    } else if (line.rfind("line ", 0) == 0 || line == "line") {
      cases.back().lines.push_back(line == "line" ? U"" : unescape(rest));
    } else if (line.rfind("want", 0) == 0) {
      cases.back().want = line == "want" ? U"" : unescape(rest);
    }
  }
  return cases;
}

PythonVersion version_of(const std::string& name) {
  PythonVersion v;
  std::sscanf(name.c_str(), "%d.%d.%d", &v.major, &v.minor, &v.micro);
  return v;
}

std::vector<std::string> fixture_versions() {
  std::vector<std::string> versions;
  for (const auto& entry : std::filesystem::directory_iterator(kDataDir)) {
    if (entry.path().extension() == ".txt") versions.push_back(entry.path().stem().string());
  }
  std::sort(versions.begin(), versions.end());
  return versions;
}

class RecordedCarets : public ::testing::TestWithParam<std::string> {};

TEST_P(RecordedCarets, EveryFrameMatchesFormatFrameSummary) {
  const std::string version = GetParam();
  std::string header;
  std::vector<Case> cases = read_cases(kDataDir + "/" + version + ".txt", header);
  ASSERT_NE(header.find("produced by CPython " + version), std::string::npos) << header;
  ASSERT_GT(cases.size(), 500u);
  size_t failures = 0;
  for (const Case& c : cases) {
    std::u32string got = format_frame_source(version_of(version), c.lines, c.lineno, c.end_lineno,
                                             c.colno, c.end_colno);
    if (got == c.want) continue;
    if (++failures > 15) continue;
    std::string lines;
    for (const auto& l : c.lines) lines += "  | " + show(l) + (l.empty() || l.back() != '\n' ? "\n" : "");
    ADD_FAILURE() << version << " " << c.name << " pos " << c.lineno << " " << c.end_lineno << " "
                  << c.colno << " " << c.end_colno << "\n" << lines << "CPython:\n" << show(c.want)
                  << "\nours:\n" << show(got);
  }
  std::cout << "[ CARETS   ] " << version << ": " << cases.size() - failures << "/" << cases.size()
            << " cases match\n";
  EXPECT_EQ(failures, 0u);
}

INSTANTIATE_TEST_SUITE_P(Versions, RecordedCarets, ::testing::ValuesIn(fixture_versions()),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '.', '_');
                           return name;
                         });

// Hand-made: the rules that the corpus cannot show by accident.
TEST(CaretRules, OldReleasesPrintTheStrippedLine) {
  EXPECT_EQ(format_frame_source({2, 7, 18}, {U"  x = 1 \n"}, 1, -1, -1, -1), U"    x = 1\n");
  EXPECT_EQ(format_frame_source({3, 9, 18}, {U"\u3000x\n"}, 1, -1, -1, -1), U"    x\n");
  EXPECT_EQ(format_frame_source({2, 7, 18}, {U"\u00a0x\n"}, 1, -1, -1, -1), U"    \u00a0x\n");
  EXPECT_EQ(format_frame_source({3, 10, 13}, {U""}, 1, -1, -1, -1), U"");
}

TEST(CaretRules, NoEndLinenoPrintsNothingFrom313) {
  EXPECT_EQ(format_frame_source({3, 13, 0}, {U"x = a + n\n"}, 1, -1, 4, 9), U"");
  EXPECT_EQ(format_frame_source({3, 12, 1}, {U"x = a + n\n"}, 1, -1, 4, 9),
            U"    x = a + n\n        ^^^^^\n");
}

TEST(CaretRules, ColumnsUnknownFrom313ShowTheFirstLineOnly) {
  EXPECT_EQ(format_frame_source({3, 14, 10}, {U"  x = (a +\n", U"       n)\n"}, 1, 2, -1, -1),
            U"    x = (a +\n");
}

TEST(CaretRules, WlenCountsCombiningAndEscapesFrom315) {
  // 'e\u0301' is 2 columns to 3.14 and 1 to 3.15 (expected texts: those interpreters' own).
  const std::vector<std::u32string> lines = {U"x = 'e\u0301' + n\n"};
  EXPECT_EQ(format_frame_source({3, 14, 10}, lines, 1, 1, 4, 17),
            U"    x = 'e\u0301' + n\n        ~~~~~^~~\n");
  EXPECT_EQ(format_frame_source({3, 15, 2}, lines, 1, 1, 4, 17),
            U"    x = 'e\u0301' + n\n        ~~~~^~~\n");
}

// Whatever memory held: no crash, no hang, and deep nesting is refused, not recursed into.
TEST(CaretRules, ArbitraryInputsAreSafe) {
  const std::u32string alphabet = U" \t\n\f\x1c()[]{}+-*/%@<>=!:;,.'\"#\\abnfrt01\u6f22\u0301\u2028";
  std::mt19937 rng(7);
  for (int round = 0; round < 3000; ++round) {
    std::vector<std::u32string> lines(1 + rng() % 4);
    for (auto& line : lines) {
      for (unsigned k = rng() % 30; k > 0; --k) line += alphabet[rng() % alphabet.size()];
      if (rng() % 2) line += U'\n';
    }
    const int end = static_cast<int>(lines.size());
    for (const PythonVersion v : {PythonVersion{3, 11, 2}, PythonVersion{3, 12, 1},
                                  PythonVersion{3, 13, 0}, PythonVersion{3, 15, 2}}) {
      format_frame_source(v, lines, 1, end, static_cast<int>(rng() % 40) - 2,
                          static_cast<int>(rng() % 40) - 2);
    }
  }
  std::u32string deep = U"x = " + std::u32string(5000, U'(') + U"a" + std::u32string(5000, U')');
  EXPECT_NE(format_frame_source({3, 13, 0}, {deep + U"\n"}, 1, 1, 0, 10), U"");
  std::u32string unary = U"x = " + std::u32string(50000, U'-') + U"a + n";
  EXPECT_NE(format_frame_source({3, 12, 1}, {unary + U"\n"}, 1, 1, 4, 50009), U"");
}

}  // namespace
}  // namespace pystack
