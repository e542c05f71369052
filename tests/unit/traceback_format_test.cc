// format_traceback on synthetic snapshots, against text CPython itself produced: each kExpected*
// literal is the output of traceback.format_list() of the same frames run by that interpreter
// (encoded as UTF-8 with errors='backslashreplace'; 2.7: its str bytes), with this program:
//
//   frames = [(filename, lineno, name, line), ...]   # as in Frames() below
//   text = "".join(traceback.format_list(frames))
//
// format_list applies StackSummary.format (the repeated-frame rule, 3.13's textwrap.indent) to
// given lines, exactly as format_stack does to the lines linecache finds. Also: the header line
// (ours), locals, walk errors, and the linecache emulation (coding cookies, BOM, newlines).
#include "format/traceback.h"

#include <gtest/gtest.h>

#include "sources/linecache.h"
#include "format/python_text.h"

namespace pystack {
namespace {

PythonVersion version(int major, int minor, int micro = 0) { return {major, minor, micro, 0}; }

PyText text(std::u32string s) {
  PyText t;
  t.length = s.size();
  t.code_points = std::move(s);
  return t;
}

// A Python 2 str: its bytes as code points 0..255.
std::u32string bytes_as_text(const std::string& bytes) {
  std::u32string out;
  for (unsigned char c : bytes) out.push_back(c);
  return out;
}

struct FrameSpec {
  std::u32string filename;
  int lineno;
  std::u32string name;
  std::u32string line;  // "" for none
};

// The frames of gen.py (see the top of this file), oldest first, for Python 3 or 2.
std::vector<FrameSpec> Frames(bool python2) {
  const std::u32string f = U"  return f()\n", k = U"\tk()\n";
  std::vector<FrameSpec> frames = {
      {U"/app/main.py", 10, U"<module>", U"    main()\n"},
      {U"/app/main.py", 5, U"main",
       python2 ? bytes_as_text("\xc2\xa0 work()  \n") : U"\u00a0 work()  \u2003\n"},
  };
  for (int i = 0; i < 5; ++i) frames.push_back({U"/app/w.py", 3, U"f", f});
  frames.push_back({U"/app/w.py", 7, U"g", U""});
  for (int i = 0; i < 4; ++i) frames.push_back({U"/app/w.py", 3, U"f", f});
  for (int i = 0; i < 3; ++i) frames.push_back({U"/app/w.py", 9, U"k", k});
  frames.push_back({U"<string>", 1, python2 ? U"h\xff" : U"h\xdcff", U""});
  frames.push_back({U"/app/ff.py", 2, U"ff",
                    python2 ? U"  a = 1;\x0c" U"b()\n"
                            : U"  a = 1;\x0c" U"b()  # x\x1cy\u2028z\x0c\x0cw\n"});
  frames.push_back({U"<stdin>-1", 4, U"s", U"s()\n"});
  return frames;
}

// One thread holding `frames` (given oldest first, stored most recent first as the reader does)
// and the SourceLines with their lines.
struct Case {
  Snapshot snapshot;
  SourceLines sources;
};

Case make_case(PythonVersion v, const std::vector<FrameSpec>& frames) {
  Case c;
  c.snapshot.version = v;
  Thread thread;
  thread.thread_id = 0x7f0000001000;
  for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
    Frame frame;
    frame.filename = text(it->filename);
    frame.name = text(it->name);
    frame.lineno = it->lineno;
    thread.frames.push_back(frame);
    if (!it->line.empty()) c.sources.set_line(it->filename, it->lineno, it->line);
  }
  c.snapshot.interpreters.resize(1);
  c.snapshot.interpreters[0].threads.push_back(thread);
  return c;
}

constexpr char kHeader[] = "Thread 0x00007f0000001000 (most recent call last):\n";

// CPython 2.7.18.
constexpr char kExpected27[] =
    "  File \"/app/main.py\", line 10, in <module>\n"
    "    main()\n"
    "  File \"/app/main.py\", line 5, in main\n"
    "    \xc2""\xa0"" work()\n"
    "  File \"/app/w.py\", line 3, in f\n"
    "    return f()\n"
    "  File \"/app/w.py\", line 3, in f\n"
    "    return f()\n"
    "  File \"/app/w.py\", line 3, in f\n"
    "    return f()\n"
    "  File \"/app/w.py\", line 3, in f\n"
    "    return f()\n"
    "  File \"/app/w.py\", line 3, in f\n"
    "    return f()\n"
    "  File \"/app/w.py\", line 7, in g\n"
    "  File \"/app/w.py\", line 3, in f\n"
    "    return f()\n"
    "  File \"/app/w.py\", line 3, in f\n"
    "    return f()\n"
    "  File \"/app/w.py\", line 3, in f\n"
    "    return f()\n"
    "  File \"/app/w.py\", line 3, in f\n"
    "    return f()\n"
    "  File \"/app/w.py\", line 9, in k\n"
    "    k()\n"
    "  File \"/app/w.py\", line 9, in k\n"
    "    k()\n"
    "  File \"/app/w.py\", line 9, in k\n"
    "    k()\n"
    "  File \"<string>\", line 1, in h\xff""\n"
    "  File \"/app/ff.py\", line 2, in ff\n"
    "    a = 1;\x0c""b()\n"
    "  File \"<stdin>-1\", line 4, in s\n"
    "    s()\n";

// CPython 3.6.15 and 3.12.1 (identical).
constexpr char kExpected36[] =
    "  File \"/app/main.py\", line 10, in <module>\n"
    "    main()\n"
    "  File \"/app/main.py\", line 5, in main\n"
    "    work()\n"
    "  File \"/app/w.py\", line 3, in f\n"
    "    return f()\n"
    "  File \"/app/w.py\", line 3, in f\n"
    "    return f()\n"
    "  File \"/app/w.py\", line 3, in f\n"
    "    return f()\n"
    "  [Previous line repeated 2 more times]\n"
    "  File \"/app/w.py\", line 7, in g\n"
    "  File \"/app/w.py\", line 3, in f\n"
    "    return f()\n"
    "  File \"/app/w.py\", line 3, in f\n"
    "    return f()\n"
    "  File \"/app/w.py\", line 3, in f\n"
    "    return f()\n"
    "  [Previous line repeated 1 more time]\n"
    "  File \"/app/w.py\", line 9, in k\n"
    "    k()\n"
    "  File \"/app/w.py\", line 9, in k\n"
    "    k()\n"
    "  File \"/app/w.py\", line 9, in k\n"
    "    k()\n"
    "  File \"<string>\", line 1, in h\\udcff\n"
    "  File \"/app/ff.py\", line 2, in ff\n"
    "    a = 1;\x0c""b()  # x\x1c""y\xe2""\x80""\xa8""z\x0c""\x0c""w\n"
    "  File \"<stdin>-1\", line 4, in s\n"
    "    s()\n";

// CPython 3.13.0: textwrap.indent() splits at \x0c, \x1c, U+2028...; "<stdin>-N" shown as
// "<stdin>".
constexpr char kExpected313[] =
    "  File \"/app/main.py\", line 10, in <module>\n"
    "    main()\n"
    "  File \"/app/main.py\", line 5, in main\n"
    "    work()\n"
    "  File \"/app/w.py\", line 3, in f\n"
    "    return f()\n"
    "  File \"/app/w.py\", line 3, in f\n"
    "    return f()\n"
    "  File \"/app/w.py\", line 3, in f\n"
    "    return f()\n"
    "  [Previous line repeated 2 more times]\n"
    "  File \"/app/w.py\", line 7, in g\n"
    "  File \"/app/w.py\", line 3, in f\n"
    "    return f()\n"
    "  File \"/app/w.py\", line 3, in f\n"
    "    return f()\n"
    "  File \"/app/w.py\", line 3, in f\n"
    "    return f()\n"
    "  [Previous line repeated 1 more time]\n"
    "  File \"/app/w.py\", line 9, in k\n"
    "    k()\n"
    "  File \"/app/w.py\", line 9, in k\n"
    "    k()\n"
    "  File \"/app/w.py\", line 9, in k\n"
    "    k()\n"
    "  File \"<string>\", line 1, in h\\udcff\n"
    "  File \"/app/ff.py\", line 2, in ff\n"
    "    a = 1;\x0c""    b()  # x\x1c""    y\xe2""\x80""\xa8""    z\x0c""\x0c""    w\n"
    "  File \"<stdin>\", line 4, in s\n"
    "    s()\n";

TEST(Traceback, MatchesCPython27) {
  Case c = make_case(version(2, 7, 18), Frames(true));
  EXPECT_EQ(format_traceback(c.snapshot, c.sources, false), kHeader + std::string(kExpected27));
}

TEST(Traceback, MatchesCPython36To312) {
  for (int minor : {6, 7, 8, 9, 10, 11, 12}) {
    Case c = make_case(version(3, minor), Frames(false));
    EXPECT_EQ(format_traceback(c.snapshot, c.sources, false), kHeader + std::string(kExpected36))
        << "3." << minor;
  }
}

TEST(Traceback, MatchesCPython313) {
  Case c = make_case(version(3, 13), Frames(false));
  EXPECT_EQ(format_traceback(c.snapshot, c.sources, false), kHeader + std::string(kExpected313));
}

TEST(Traceback, RepeatAtTheEndOfTheStack) {
  // [Previous line ...] is also written after the loop (the innermost frames repeat).
  std::vector<FrameSpec> frames(5, {U"/r.py", 1, U"r", U""});
  Case c = make_case(version(3, 11), frames);
  EXPECT_EQ(format_traceback(c.snapshot, c.sources, false),
            std::string(kHeader) +
                "  File \"/r.py\", line 1, in r\n"
                "  File \"/r.py\", line 1, in r\n"
                "  File \"/r.py\", line 1, in r\n"
                "  [Previous line repeated 2 more times]\n");
}

TEST(Traceback, UnknownLineIsNoneAndNeverRepeats) {
  // f_lineno is None for a frame without a line (3.x); "None != None" is false, but the rule
  // tests "last_line is None" first, so such frames never fold.
  std::vector<FrameSpec> frames(5, {U"/r.py", -1, U"r", U""});
  Case c = make_case(version(3, 12), frames);
  std::string expected = kHeader;
  for (int i = 0; i < 5; ++i) expected += "  File \"/r.py\", line None, in r\n";
  EXPECT_EQ(format_traceback(c.snapshot, c.sources, false), expected);
}

TEST(Traceback, HeaderFactsAndThreadsSeparatedByBlankLines) {
  Snapshot s;
  s.version = version(3, 12);
  s.interpreters.resize(2);
  Thread a;
  a.thread_id = 0x1a;
  a.is_current = true;
  a.holds_gil = true;
  a.gc_collecting = true;
  a.native_thread_id = 4242;
  a.name = "Main\"Thread\\\n";
  a.os_name = "ignored: the Python name wins";
  Thread b;
  b.thread_id = 0x2b;
  b.os_name = "worker-\xc3\xa9";
  b.walk_error = "frame at 0x10: unreadable";
  Frame frame;
  frame.filename = text(U"/x.py");
  frame.name = text(U"w");
  frame.lineno = 2;
  b.frames.push_back(frame);
  s.interpreters[0].threads = {a, b};
  s.interpreters[1].walk_error = "thread list unreadable";
  EXPECT_EQ(format_traceback(s, SourceLines(), false),
            "Current thread 0x000000000000001a (tid 4242, \"Main\\\"Thread\\\\\\x0a\", holds the GIL, "
            "garbage-collecting) (most recent call last):\n"
            "\n"
            "Thread 0x000000000000002b (\"worker-\xc3\xa9\") (most recent call last):\n"
            "  <pystack-dump: frame at 0x10: unreadable>\n"
            "  File \"/x.py\", line 2, in w\n"
            "\n"
            "<pystack-dump: thread list unreadable>\n");
}

TEST(Traceback, LocalsSortedUnderTheSourceLine) {
  Case c = make_case(version(3, 12), {{U"/l.py", 3, U"f", U"  g(x)\n"}});
  Frame& frame = c.snapshot.interpreters[0].threads[0].frames[0];
  frame.locals = {{"zeta", "1"}, {"b", "'two'"}, {"\xc3\xa9t\xc3\xa9", "[3]"}, {"a", "None"}};
  EXPECT_EQ(format_traceback(c.snapshot, c.sources, true),
            std::string(kHeader) +
                "  File \"/l.py\", line 3, in f\n"
                "    g(x)\n"
                "    a = None\n"
                "    b = 'two'\n"
                "    zeta = 1\n"
                "    \xc3\xa9t\xc3\xa9 = [3]\n");
  // Without --locals, none.
  EXPECT_EQ(format_traceback(c.snapshot, c.sources, false),
            std::string(kHeader) + "  File \"/l.py\", line 3, in f\n    g(x)\n");
}

TEST(Traceback, UnknownStringsAndCutStrings) {
  Snapshot s;
  s.version = version(3, 11);
  s.interpreters.resize(1);
  Thread t;
  t.thread_id = 1;
  Frame unknown;  // filename and name not str (corrupt memory)
  unknown.lineno = 1;
  Frame cut;
  cut.filename = text(U"/long");
  cut.filename->length = 100000;  // the reader stopped early
  cut.name = text(U"n");
  cut.lineno = 1;
  t.frames = {cut, unknown};
  s.interpreters[0].threads.push_back(t);
  EXPECT_EQ(format_traceback(s, SourceLines(), false),
            "Thread 0x0000000000000001 (most recent call last):\n"
            "  File \"???\", line 1, in ???\n"
            "  File \"/long...\", line 1, in n\n");
}

TEST(Traceback, FatalErrorFirst) {
  Snapshot s;
  s.version = version(3, 12);
  s.fatal_error = "Segmentation fault";
  EXPECT_EQ(format_traceback(s, SourceLines(), false), "Fatal Python error: Segmentation fault\n\n");
}

// ---- linecache emulation ----

std::optional<std::vector<std::u32string>> lines3(const std::string& bytes,
                                                  PythonVersion v = version(3, 12)) {
  return linecache_lines(bytes, v, nullptr, nullptr);
}

TEST(Linecache, SkipsNamesInAngleBrackets) {
  EXPECT_TRUE(linecache_skips(U""));
  EXPECT_TRUE(linecache_skips(U"<string>"));
  EXPECT_TRUE(linecache_skips(U"<>"));
  EXPECT_FALSE(linecache_skips(U"<stdin>-1"));
  EXPECT_FALSE(linecache_skips(U"/a.py"));
}

TEST(Linecache, Utf8ByDefaultAndUniversalNewlines) {
  auto lines = lines3("a\r\nb\rc\n\xc3\xa9");
  ASSERT_TRUE(lines);
  EXPECT_EQ(*lines, (std::vector<std::u32string>{U"a\n", U"b\n", U"c\n", U"\u00e9\n"}));
  EXPECT_FALSE(lines3("ok\n\xff\n"));  // strict UTF-8: the whole file is unreadable
  EXPECT_FALSE(lines3("\xed\xa0\x80\n"));  // an encoded surrogate is not UTF-8
  EXPECT_FALSE(lines3("\xc0\xaf\n"));      // nor an overlong form
}

TEST(Linecache, CodingCookies) {
  // Line 1, or line 2 after a comment or blank line 1.
  EXPECT_EQ((*lines3("# -*- coding: latin-1 -*-\nx = '\xe9'\n"))[1], U"x = '\u00e9'\n");
  EXPECT_EQ((*lines3("#!/usr/bin/python\n# vim: set fileencoding=iso8859_1 :\n\xe9\n"))[2],
            U"\u00e9\n");
  // Not after a line of code: UTF-8, and this file is not.
  EXPECT_FALSE(lines3("x = 1\n# coding: latin-1\n\xe9\n"));
  // ascii is strict.
  EXPECT_FALSE(lines3("# coding: us-ascii\n\xe9\n"));
  EXPECT_TRUE(lines3("# coding: ascii\nabc\n"));
  // The cookie line must be UTF-8 itself (find_cookie decodes it first).
  EXPECT_FALSE(lines3("# coding: latin-1 \xe9\n"));
  // An unknown codec is a SyntaxError (no lines); `known` is asked about names not native.
  EXPECT_FALSE(lines3("# coding: no-such-codec\nabc\n"));
  auto known = [](const std::string& name) { return name == "cp1252"; };
  auto decode = [](std::string_view, const std::string&) {
    return std::optional<std::u32string>(U"decoded\n");
  };
  EXPECT_EQ(*linecache_lines("# coding: cp1252\n\x80\n", version(3, 12), known, decode),
            std::vector<std::u32string>{U"decoded\n"});
  // "utf-8-foo" is utf-8 (tokenize keeps 12 characters and the prefix), "utf8" too.
  EXPECT_TRUE(lines3("# coding: utf-8-foo\n\xc3\xa9\n"));
  EXPECT_TRUE(lines3("# coding: UTF8\n\xc3\xa9\n"));
  // cp65001 is utf-8 from 3.8 on only.
  EXPECT_TRUE(lines3("# coding: cp65001\nabc\n", version(3, 8)));
  EXPECT_FALSE(lines3("# coding: cp65001\nabc\n", version(3, 7)));
}

TEST(Linecache, ByteOrderMark) {
  EXPECT_EQ((*lines3("\xef\xbb\xbf" "a\n"))[0], U"a\n");
  EXPECT_EQ((*lines3("\xef\xbb\xbf# coding: utf-8\na\n"))[1], U"a\n");
  // A BOM with any other cookie, even "utf8", is a SyntaxError.
  EXPECT_FALSE(lines3("\xef\xbb\xbf# coding: latin-1\na\n"));
  EXPECT_FALSE(lines3("\xef\xbb\xbf# coding: utf8\na\n"));
}

TEST(Linecache, Python2ReadsRawBytes) {
  auto lines = linecache_lines("# coding: latin-1\n\xe9\r\n\xff", version(2, 7), nullptr, nullptr);
  ASSERT_TRUE(lines);
  EXPECT_EQ(*lines, (std::vector<std::u32string>{U"# coding: latin-1\n", U"\xe9\n", U"\xff\n"}));
}

TEST(PythonText, SurrogateEscapeRoundTrip) {
  const std::u32string decoded = decode_utf8_surrogateescape("a\xc3\xa9\xff\xe2\x82");
  EXPECT_EQ(decoded, U"a\u00e9\xdcff\xdce2\xdc82");
  std::string bytes;
  ASSERT_TRUE(encode_utf8_surrogateescape(decoded, bytes));
  EXPECT_EQ(bytes, "a\xc3\xa9\xff\xe2\x82");
  EXPECT_FALSE(encode_utf8_surrogateescape(U"\xd800", bytes));
}

TEST(PythonText, StripPerVersion) {
  EXPECT_EQ(strip_python(U"\u3000\x1c x \x85\u00a0", false), U"x");
  EXPECT_EQ(strip_python(U"\xa0 x \x1c", true), U"\xa0 x \x1c");
  EXPECT_EQ(strip_python(U"\v\f x \t\r\n", true), U"x");
}

}  // namespace
}  // namespace pystack
