// format_faulthandler against what the real interpreters printed (tests/unit/data/
// faulthandler_<version>.txt, recorded by scripts/gen-faulthandler-fixtures), plus synthetic
// snapshots for what a live interpreter cannot be made to show (non-str names, several
// interpreters, our own walk-error markers, bounded string reads).
#include "format/faulthandler.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

namespace pystack {
namespace {

// ---- fixture parsing ----

PyText text_of(std::u32string s) {
  PyText t;
  t.length = s.size();
  t.code_points = std::move(s);
  return t;
}

PyText ascii(const std::string& s) { return text_of(std::u32string(s.begin(), s.end())); }

// Hex code points joined by '.'.
PyText parse_code_points(const std::string& hex_list) {
  std::u32string code_points;
  std::stringstream in(hex_list);
  std::string hex;
  while (std::getline(in, hex, '.')) code_points.push_back(std::stoul(hex, nullptr, 16));
  return text_of(std::move(code_points));
}

struct FixtureCase {
  std::string name;
  Snapshot snapshot;
  std::string expected;
};

struct FixtureFile {
  std::string header;
  PythonVersion version;
  std::vector<FixtureCase> cases;
  std::map<std::string, PyText> texts;  // "#N" -> string N

  // '#N' (a string defined earlier) or '-' (not a str).
  std::optional<PyText> text(const std::string& token) const {
    if (token == "-") return std::nullopt;
    auto it = texts.find(token);
    if (it == texts.end()) throw std::runtime_error("undefined string " + token);
    return it->second;
  }
};

void parse_record(std::istream& in, const std::string& line, FixtureFile& file) {
  std::istringstream words(line);
  std::string kind;
  words >> kind;
  if (kind == "text") {
    std::string number, hex_list;
    words >> number >> hex_list;
    file.texts["#" + number] = parse_code_points(hex_list);
  } else if (kind == "version") {
    words >> file.version.major >> file.version.minor >> file.version.micro;
  } else if (kind == "case") {
    file.cases.emplace_back();
    words >> file.cases.back().name;
    file.cases.back().snapshot.interpreters.emplace_back();
  } else if (kind == "thread") {
    Thread thread;
    int current = 0, gc = 0;
    std::string os_name;  // 3.14+: pthread_getname_np's bytes in hex, "-" when empty
    words >> std::hex >> thread.thread_id >> std::dec >> current >> gc >> os_name;
    thread.is_current = current;
    thread.gc_collecting = gc;
    if (!os_name.empty()) thread.os_name = os_name == "-" ? "" : absl::HexStringToBytes(os_name);
    file.cases.back().snapshot.interpreters.back().threads.push_back(thread);
  } else if (kind == "frame") {
    Frame frame;
    std::string filename, name;
    words >> frame.lineno >> filename >> name;
    frame.filename = file.text(filename);
    frame.name = file.text(name);
    file.cases.back().snapshot.interpreters.back().threads.back().frames.push_back(frame);
  } else if (kind == "expected") {
    size_t size = 0;
    words >> size;
    std::string bytes(size, '\0');
    in.read(bytes.data(), size);
    file.cases.back().expected = bytes;
  } else if (kind != "end" && !kind.empty()) {
    throw std::runtime_error("unknown record: " + line);
  }
}

FixtureFile read_fixture(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("missing fixture " + path + " (run from the repo root)");
  FixtureFile file;
  std::getline(in, file.header);
  for (std::string line; std::getline(in, line);) parse_record(in, line, file);
  for (FixtureCase& c : file.cases) {
    c.snapshot.version = file.version;
    // 3.15's thread states start every frame chain with their base frame (owned by the
    // interpreter), which the walk counts as skipped and sys._current_frames() does not show.
    if (!file.version.at_least(3, 15)) continue;
    for (Interpreter& interp : c.snapshot.interpreters) {
      for (Thread& thread : interp.threads) thread.skipped_frames = 1;
    }
  }
  return file;
}

// ---- recorded by the real interpreters ----

class RecordedFaulthandler : public ::testing::TestWithParam<std::string> {};

TEST_P(RecordedFaulthandler, MatchesInterpreterByteForByte) {
  const std::string version = GetParam();
  FixtureFile file = read_fixture("tests/unit/data/faulthandler_" + version + ".txt");
  ASSERT_NE(file.header.find("produced by CPython " + version), std::string::npos)
      << file.header;
  std::set<std::string> seen;
  for (const FixtureCase& c : file.cases) {
    seen.insert(c.name);
    ASSERT_FALSE(c.expected.empty()) << c.name;
    EXPECT_EQ(format_faulthandler(c.snapshot), c.expected) << version << " case " << c.name;
  }
  const std::set<std::string> all = {"threads", "current_in_worker", "frames_99", "frames_100",
                                     "frames_101", "frames_150", "gc_collecting",
                                     "many_threads", "ascii_long_name", "escapes",
                                     "long_non_ascii", "exactly_500", "no_line"};
  EXPECT_EQ(seen, all) << "fixture incomplete: rerun scripts/gen-faulthandler-fixtures";
}

INSTANTIATE_TEST_SUITE_P(Versions, RecordedFaulthandler,
                         ::testing::Values("3.6.15", "3.7.16", "3.8.18", "3.9.18", "3.10.13",
                                           "3.11.7", "3.12.1", "3.13.0", "3.13.18", "3.14.10",
                                           "3.15.2"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) c = c == '.' ? '_' : c;
                           return name;
                         });

// ---- synthetic ----

PythonVersion version(int major, int minor, int micro = 0) { return {major, minor, micro, 0}; }

Frame frame(const std::string& file, int line, const std::string& name) {
  Frame f;
  f.filename = ascii(file);
  f.lineno = line;
  f.name = ascii(name);
  return f;
}

Thread thread(uint64_t id, bool current, std::vector<Frame> frames) {
  Thread t;
  t.thread_id = id;
  t.is_current = current;
  t.frames = std::move(frames);
  return t;
}

Snapshot snapshot(PythonVersion v, std::vector<Thread> threads) {
  Snapshot s;
  s.version = v;
  s.interpreters.emplace_back();
  s.interpreters.back().threads = std::move(threads);
  return s;
}

TEST(Faulthandler, UnknownFilenameLineAndName) {
  Frame f;  // filename and name not a str, line unknown
  Snapshot s = snapshot(version(3, 12), {thread(0x1a, true, {f})});
  EXPECT_EQ(format_faulthandler(s),
            "Current thread 0x000000000000001a (most recent call first):\n"
            "  File ???, line ??? in ???\n");
}

TEST(Faulthandler, Python27UsesThe36Format) {
  Snapshot s = snapshot(version(2, 7, 18), {thread(2, false, {}),
                                             thread(1, true, {frame("a.py", 3, "f")})});
  s.interpreters[0].threads[1].gc_collecting = true;  // 3.6 never says so
  EXPECT_EQ(format_faulthandler(s),
            "Thread 0x0000000000000002 (most recent call first):\n"
            "\n"
            "Current thread 0x0000000000000001 (most recent call first):\n"
            "  File \"a.py\", line 3 in f\n");
}

TEST(Faulthandler, NoFrameMarkerPerVersion) {
  const std::vector<std::pair<PythonVersion, std::string>> cases = {
      {version(3, 7), ""},
      {version(3, 8), "<no Python frame>\n"},
      {version(3, 9), "<no Python frame>\n"},
      {version(3, 10), "  <no Python frame>\n"},
      {version(3, 13), "  <no Python frame>\n"}};
  for (const auto& [v, marker] : cases) {
    EXPECT_EQ(format_faulthandler(snapshot(v, {thread(0xff, false, {})})),
              "Thread 0x00000000000000ff (most recent call first):\n" + marker)
        << v.minor;
  }
}

TEST(Faulthandler, GarbageCollectingOnlyUnderTheCurrentThread) {
  Snapshot s = snapshot(version(3, 11), {thread(2, false, {}), thread(1, true, {})});
  for (Thread& t : s.interpreters[0].threads) t.gc_collecting = true;
  EXPECT_EQ(format_faulthandler(s),
            "Thread 0x0000000000000002 (most recent call first):\n"
            "  <no Python frame>\n"
            "\n"
            "Current thread 0x0000000000000001 (most recent call first):\n"
            "  Garbage-collecting\n"
            "  <no Python frame>\n");
}

std::vector<Frame> frames(int n) {
  std::vector<Frame> out;
  for (int i = 0; i < n; ++i) out.push_back(frame("x.py", i, "f"));
  return out;
}

TEST(Faulthandler, FrameCutMarkerPerVersion) {
  for (PythonVersion v : {version(3, 6), version(3, 12), version(3, 13)}) {
    std::string out = format_faulthandler(snapshot(v, {thread(1, true, frames(101))}));
    EXPECT_NE(out.find("line 99 in f\n"), std::string::npos);
    EXPECT_EQ(out.find("line 100 in f\n"), std::string::npos);
    const bool marker = out.size() >= 6 && out.compare(out.size() - 6, 6, "  ...\n") == 0;
    EXPECT_EQ(marker, !v.at_least(3, 13)) << v.minor;
  }
  // Exactly 100 frames: nothing is cut, no marker in any version.
  std::string out = format_faulthandler(snapshot(version(3, 6), {thread(1, true, frames(100))}));
  const std::string last = "  File \"x.py\", line 99 in f\n";
  EXPECT_EQ(out.substr(out.size() - last.size()), last);
}

TEST(Faulthandler, WalkErrorMarkerAfterTheFramesRead) {
  Thread t = thread(1, true, {frame("a.py", 1, "f")});
  t.walk_error = "unreadable frame at 0x10";
  Thread empty = thread(2, false, {});
  empty.walk_error = "cycle";
  EXPECT_EQ(format_faulthandler(snapshot(version(3, 9), {empty, t})),
            "Thread 0x0000000000000002 (most recent call first):\n"
            "  <pystack-dump: cycle>\n"
            "\n"
            "Current thread 0x0000000000000001 (most recent call first):\n"
            "  File \"a.py\", line 1 in f\n"
            "  <pystack-dump: unreadable frame at 0x10>\n");
}

TEST(Faulthandler, WalkErrorPastTheFrameCutIsNotShown) {
  Thread t = thread(1, true, frames(150));
  t.walk_error = "depth bound";
  std::string out = format_faulthandler(snapshot(version(3, 10), {t}));
  EXPECT_EQ(out.substr(out.size() - 6), "  ...\n");
  EXPECT_EQ(out.find("pystack-dump"), std::string::npos);
}

TEST(Faulthandler, HundredThreadsPerInterpreterThenDots) {
  std::vector<Thread> threads;
  for (int i = 0; i < 102; ++i) threads.push_back(thread(i, false, {}));
  Snapshot s = snapshot(version(3, 6), threads);
  s.interpreters.push_back(s.interpreters[0]);
  s.interpreters[1].threads.resize(1);
  std::string out = format_faulthandler(s);
  std::string first_interp_end = "Thread 0x0000000000000063 (most recent call first):\n\n...\n";
  EXPECT_NE(out.find(first_interp_end + "\nThread 0x0000000000000000 (most recent"),
            std::string::npos);
  EXPECT_EQ(out.find("0x0000000000000064"), std::string::npos);
}

TEST(Faulthandler, InterpretersSeparatedByABlankLine) {
  Snapshot s = snapshot(version(3, 12), {thread(1, true, {frame("a.py", 1, "f")})});
  s.interpreters.emplace_back();  // no threads: CPython prints nothing for it
  s.interpreters.push_back(s.interpreters[0]);
  s.interpreters[2].threads[0].is_current = false;
  EXPECT_EQ(format_faulthandler(s),
            "Current thread 0x0000000000000001 (most recent call first):\n"
            "  File \"a.py\", line 1 in f\n"
            "\n"
            "Thread 0x0000000000000001 (most recent call first):\n"
            "  File \"a.py\", line 1 in f\n");
}

TEST(Faulthandler, InterpreterWalkError) {
  Snapshot s = snapshot(version(3, 12), {thread(1, true, {})});
  s.interpreters[0].walk_error = "thread list cut";
  EXPECT_EQ(format_faulthandler(s),
            "Current thread 0x0000000000000001 (most recent call first):\n"
            "  <no Python frame>\n"
            "\n"
            "<pystack-dump: thread list cut>\n");
}

TEST(Faulthandler, EmptySnapshotPrintsNothing) {
  EXPECT_EQ(format_faulthandler(Snapshot{}), "");
}

TEST(Faulthandler, BoundedReadOfALongNameStillEndsInDots) {
  Frame f = frame("a.py", 7, "abc");
  f.name->length = 100000;  // the target's string is longer than what was read
  EXPECT_EQ(format_faulthandler(snapshot(version(3, 11), {thread(1, true, {f})})),
            "Current thread 0x0000000000000001 (most recent call first):\n"
            "  File \"a.py\", line 7 in abc...\n");
}

}  // namespace
}  // namespace pystack

namespace pystack {
namespace {

// faulthandler_fatal_error (Modules/faulthandler.c) writes "Fatal Python error: NAME\n\n" first.
TEST(FaulthandlerFormat, FatalErrorHeaderComesFirst) {
  Snapshot snapshot;
  snapshot.version = PythonVersion{3, 12, 1, 0x030c01f0};
  snapshot.fatal_error = "Segmentation fault";
  Thread thread;
  thread.thread_id = 0x1234;
  thread.is_current = true;
  Frame frame;
  frame.filename = PyText{U"x.py", 4};
  frame.name = PyText{U"f", 1};
  frame.lineno = 3;
  thread.frames.push_back(frame);
  snapshot.interpreters.push_back(Interpreter{});
  snapshot.interpreters[0].threads.push_back(thread);
  EXPECT_EQ(format_faulthandler(snapshot),
            "Fatal Python error: Segmentation fault\n\n"
            "Current thread 0x0000000000001234 (most recent call first):\n"
            "  File \"x.py\", line 3 in f\n");
}

}  // namespace
}  // namespace pystack

namespace pystack {
namespace {

// --locals: the frame line as faulthandler prints it, then traceback's "    name = repr" lines,
// sorted by name (CPython has no such view; the locals lines follow traceback's capture_locals).
TEST(FaulthandlerFormat, LocalsFollowTheirFrameSortedByName) {
  Snapshot snapshot;
  snapshot.version = PythonVersion{3, 11, 7, 0x030b07f0};
  Thread thread;
  thread.thread_id = 0xabc;
  Frame frame;
  frame.filename = PyText{U"w.py", 4};
  frame.name = PyText{U"g", 1};
  frame.lineno = 9;
  frame.locals = {Local{"zeta", "None"}, Local{"alpha", "[1, 2]"}};
  thread.frames.push_back(frame);
  snapshot.interpreters.push_back(Interpreter{});
  snapshot.interpreters[0].threads.push_back(thread);
  EXPECT_EQ(format_faulthandler(snapshot),
            "Thread 0x0000000000000abc (most recent call first):\n"
            "  File \"w.py\", line 9 in g\n"
            "    alpha = [1, 2]\n"
            "    zeta = None\n");
}

}  // namespace
}  // namespace pystack
