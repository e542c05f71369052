// The profile formats (src/format/profile_*.h) on small hand-built profiles: one process with a
// named and an unnamed thread, a recursive function, a label with ';' and '<&>"', an unknown
// line; and two processes. Every expected value is worked out by hand from the profile. That
// the real readers (speedscope, pprof-format, a browser) accept the files is the integration
// tests' part (tests/consumers/).
#include <zlib.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "format/profile_folded.h"
#include "format/profile_labels.h"
#include "format/profile_pprof.h"
#include "format/profile_speedscope.h"
#include "format/profile_svg.h"
#include "format/profile_top.h"

namespace pystack {
namespace {

// Frames: 0 <module>, 1 fib at line 5, 2 fib at line 4, 3 a;b<&> (no line), 4 wait.
// Thread 0 (MainThread, 101): [0 1 1 2] x3, [0 1] x2, [0 3] x1, [0 1 1 2] x1 again (the same
// labels: merged where formats merge). Thread 1 (no name, no id): [4] x4. 11 thread samples.
Profile one_process() {
  Profile p;
  p.rate_hz = 100;
  p.start_unix_nanos = 1'700'000'000'000'000'000;
  p.duration_nanos = 1'500'000'000;
  p.samples = 6;
  p.thread_samples = 11;
  p.torn = 2;
  p.dropped = 1;
  p.processes = {{100, "python app.py"}};
  p.threads = {{0, 101, "MainThread"}, {0, 0, ""}};
  p.frames = {{"<module>", "app.py", 10, 1},
              {"fib", "app.py", 5, 3},
              {"fib", "app.py", 4, 3},
              {"a;b<&>", "we\"ird.py", -1, 0},
              {"wait", "threading.py", 320, 300}};
  p.stacks = {{0, {0, 1, 1, 2}, 3}, {0, {0, 1}, 2}, {0, {0, 3}, 1}, {1, {4}, 4},
              {0, {0, 1, 1, 2}, 1}};
  return p;
}

// Two processes, one thread each: process roots appear.
Profile two_processes() {
  Profile p;
  p.rate_hz = 50;
  p.duration_nanos = 100'000'000;
  p.samples = 5;
  p.thread_samples = 5;
  p.processes = {{10, "python a.py"}, {20, "python b.py"}};
  p.threads = {{0, 11, "MainThread"}, {1, 21, "worker"}};
  p.frames = {{"main", "a.py", 1, 1}, {"run", "b.py", 7, 2}};
  p.stacks = {{0, {0}, 2}, {1, {1}, 3}};
  return p;
}

size_t occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// ---- labels ----

TEST(ProfileLabels, Frames) {
  EXPECT_EQ(frame_label({"fib", "app.py", 5, 3}), "fib (app.py:5)");
  EXPECT_EQ(frame_label({"f", "x.py", 0, 0}), "f (x.py:0)");
  EXPECT_EQ(frame_label({"f", "x.py", -1, 0}), "f (x.py)");
}

TEST(ProfileLabels, Threads) {
  EXPECT_EQ(thread_label({0, 101, "MainThread"}), "MainThread (tid 101)");
  EXPECT_EQ(thread_label({0, 102, ""}), "thread 102");
  EXPECT_EQ(thread_label({0, 0, ""}), "thread ?");
  EXPECT_EQ(thread_label({0, 0, "w"}), "w (tid ?)");
}

TEST(ProfileLabels, ProcessCommandCutAtCharacterBoundary) {
  EXPECT_EQ(process_label({7, "python x.py"}), "process 7: python x.py");
  // 79 bytes, then a 2-byte character across the 80-byte cut: it goes entirely.
  const std::string x79(79, 'x');
  EXPECT_EQ(process_label({7, x79 + "\xc3\xa9" + "tail"}), "process 7: " + x79);
  // Exactly 80 bytes ending with the character: kept.
  const std::string x78(78, 'x');
  EXPECT_EQ(process_label({7, x78 + "\xc3\xa9" + "tail"}), "process 7: " + x78 + "\xc3\xa9");
}

TEST(ProfileLabels, StackRootFirstProcessesOnlyWhenSeveral) {
  const Profile one = one_process();
  EXPECT_EQ(stack_labels(one, one.stacks[1]),
            (std::vector<std::string>{"MainThread (tid 101)", "<module> (app.py:10)",
                                      "fib (app.py:5)"}));
  const Profile two = two_processes();
  EXPECT_EQ(stack_labels(two, two.stacks[1]),
            (std::vector<std::string>{"process 20: python b.py", "worker (tid 21)",
                                      "run (b.py:7)"}));
}

TEST(ProfileLabels, ValidUtf8) {
  EXPECT_EQ(valid_utf8("a\xc3\xa9"), "a\xc3\xa9");
  EXPECT_EQ(valid_utf8("a\xff" "b"), "a\xef\xbf\xbd" "b");
  EXPECT_EQ(valid_utf8("\xed\xb2\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // a surrogate
}

// ---- folded ----

TEST(ProfileFolded, MergedSortedEscaped) {
  EXPECT_EQ(format_folded(one_process()),
            "MainThread (tid 101);<module> (app.py:10);a:b<&> (we\"ird.py) 1\n"
            "MainThread (tid 101);<module> (app.py:10);fib (app.py:5) 2\n"
            "MainThread (tid 101);<module> (app.py:10);fib (app.py:5);fib (app.py:5);"
            "fib (app.py:4) 4\n"
            "thread ?;wait (threading.py:320) 4\n");
}

TEST(ProfileFolded, ProcessRoots) {
  EXPECT_EQ(format_folded(two_processes()),
            "process 10: python a.py;MainThread (tid 11);main (a.py:1) 2\n"
            "process 20: python b.py;worker (tid 21);run (b.py:7) 3\n");
}

TEST(ProfileFolded, ControlCharactersAndEmptyStacks) {
  Profile p;
  p.threads = {{0, 5, "a\nb"}};
  p.frames = {{"f\x01g\x7f", "x.py", 1, 1}};
  p.stacks = {{0, {0}, 2}, {0, {}, 1}, {0, {0}, 0}};
  EXPECT_EQ(format_folded(p), "a?b (tid 5) 1\na?b (tid 5);f?g? (x.py:1) 2\n");
}

// ---- speedscope ----

// The sum of the numbers of every "weights" array, and the "endValue"s, in document order.
std::vector<int64_t> numbers_after(const std::string& json, const std::string& key) {
  std::vector<int64_t> sums;
  for (size_t at = json.find(key); at != std::string::npos; at = json.find(key, at + 1)) {
    size_t pos = at + key.size();
    int64_t sum = 0;
    const bool array = json.find('[', pos) < json.find_first_of("0123456789", pos);
    const size_t end = array ? json.find(']', pos) : json.find_first_of(",}", pos);
    std::string numbers = json.substr(pos, end - pos);
    std::replace_if(numbers.begin(), numbers.end(), [](char c) { return !isdigit(c); }, ' ');
    std::istringstream in(numbers);
    for (int64_t n; in >> n;) sum += n;
    sums.push_back(sum);
  }
  return sums;
}

// Brackets and braces balance outside strings, strings close: the document is one JSON value.
bool balanced_json(const std::string& json) {
  std::string open;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      else if (static_cast<unsigned char>(c) < 0x20) return false;
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '{' || c == '[') open += c;
    if (c == '}' || c == ']') {
      if (open.empty() || open.back() != (c == '}' ? '{' : '[')) return false;
      open.pop_back();
    }
  }
  return open.empty() && !in_string;
}

TEST(ProfileSpeedscope, OneProfilePerThread) {
  const std::string json = format_speedscope(one_process(), "1.2.3");
  EXPECT_TRUE(balanced_json(json)) << json;
  EXPECT_NE(json.find("\"$schema\": \"https://www.speedscope.app/file-format-schema.json\""),
            std::string::npos);
  EXPECT_NE(json.find("\"exporter\": \"pystack-dump 1.2.3\""), std::string::npos);
  EXPECT_NE(json.find("\"name\": \"pystack-dump record: process 100: python app.py\""),
            std::string::npos);
  EXPECT_NE(json.find("\"activeProfileIndex\": 0"), std::string::npos);  // MainThread: 7 of 11
  // Shared frames: one per ProfileFrame here (all distinct), names escaped, no line when unknown.
  EXPECT_NE(json.find("{\"name\": \"fib (app.py:5)\", \"file\": \"app.py\", \"line\": 5}"),
            std::string::npos);
  EXPECT_NE(json.find("{\"name\": \"a;b<&> (we\\\"ird.py)\", \"file\": \"we\\\"ird.py\"}"),
            std::string::npos);
  EXPECT_EQ(occurrences(json, "\"type\": \"sampled\""), 2u);
  EXPECT_NE(json.find("\"name\": \"MainThread (tid 101)\", \"unit\": \"nanoseconds\""),
            std::string::npos);
  EXPECT_NE(json.find("\"name\": \"thread ?\", \"unit\": \"nanoseconds\""), std::string::npos);
  // MainThread's distinct stacks in label order: a;b (1), fib (2), fib fib fib (3 + 1), at
  // 10 ms (1e9 / 100 Hz) each.
  EXPECT_NE(json.find("[0, 3],\n      [0, 1],\n      [0, 1, 1, 2]]"), std::string::npos);
  EXPECT_NE(json.find("\"weights\": [10000000, 20000000, 40000000]"), std::string::npos);
  EXPECT_EQ(numbers_after(json, "\"weights\": "),
            (std::vector<int64_t>{70'000'000, 40'000'000}));
  EXPECT_EQ(numbers_after(json, "\"endValue\": "),
            (std::vector<int64_t>{70'000'000, 40'000'000}));
  EXPECT_EQ(occurrences(json, "\"startValue\": 0,"), 2u);
}

TEST(ProfileSpeedscope, ProcessInProfileNamesCountsWithoutRate) {
  Profile p = two_processes();
  p.rate_hz = 0;
  const std::string json = format_speedscope(p, "0");
  EXPECT_TRUE(balanced_json(json)) << json;
  EXPECT_NE(json.find("\"name\": \"process 10: python a.py / MainThread (tid 11)\", "
                      "\"unit\": \"none\""),
            std::string::npos);
  EXPECT_NE(json.find("\"name\": \"process 20: python b.py / worker (tid 21)\""),
            std::string::npos);
  EXPECT_NE(json.find("\"activeProfileIndex\": 1"), std::string::npos);  // worker: 3 of 5
  EXPECT_NE(json.find("\"name\": \"pystack-dump record\","), std::string::npos);
  EXPECT_EQ(numbers_after(json, "\"weights\": "), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(numbers_after(json, "\"endValue\": "), (std::vector<int64_t>{2, 3}));
}

// ---- SVG ----

// The data-samples of the box named `name` (escaped as in the file), or -1 per box in order.
std::vector<int64_t> box_samples(const std::string& svg, const std::string& escaped_name) {
  std::vector<int64_t> samples;
  const std::string key = "<g class=\"frame\" data-name=\"" + escaped_name + "\" data-samples=\"";
  for (size_t at = svg.find(key); at != std::string::npos; at = svg.find(key, at + 1)) {
    samples.push_back(std::stoll(svg.substr(at + key.size())));
  }
  return samples;
}

TEST(ProfileSvg, BoxesOfTheMergedTree) {
  const std::string svg = format_flamegraph_svg(one_process());
  EXPECT_EQ(svg.rfind("<?xml version=\"1.0\"", 0), 0u);
  EXPECT_EQ(occurrences(svg, "<g"), occurrences(svg, "</g>"));
  EXPECT_EQ(occurrences(svg, "<title>"), occurrences(svg, "</title>"));
  EXPECT_EQ(occurrences(svg, "<text"), occurrences(svg, "</text>"));
  EXPECT_EQ(occurrences(svg, "<g class=\"frame\""), 9u);
  EXPECT_EQ(svg.find("http://", svg.find("<style")), std::string::npos);  // nothing fetched
  EXPECT_EQ(box_samples(svg, "all"), (std::vector<int64_t>{11}));  // thread_samples
  EXPECT_EQ(box_samples(svg, "MainThread (tid 101)"), (std::vector<int64_t>{7}));
  EXPECT_EQ(box_samples(svg, "thread ?"), (std::vector<int64_t>{4}));
  EXPECT_EQ(box_samples(svg, "&lt;module&gt; (app.py:10)"), (std::vector<int64_t>{7}));
  // fib at line 5 twice on one path (6 samples, then 4 above it), line 4 on top.
  EXPECT_EQ(box_samples(svg, "fib (app.py:5)"), (std::vector<int64_t>{6, 4}));
  EXPECT_EQ(box_samples(svg, "fib (app.py:4)"), (std::vector<int64_t>{4}));
  EXPECT_EQ(box_samples(svg, "a;b&lt;&amp;&gt; (we&quot;ird.py)"), (std::vector<int64_t>{1}));
  EXPECT_NE(svg.find("data-fn=\"a;b&lt;&amp;&gt;\""), std::string::npos);
  EXPECT_NE(svg.find("<title>a;b&lt;&amp;&gt; (we&quot;ird.py) (1 sample, 9.09%)</title>"),
            std::string::npos);
  EXPECT_NE(svg.find("<title>MainThread (tid 101) (7 samples, 63.64%)</title>"),
            std::string::npos);
  EXPECT_NE(svg.find(">pystack-dump record: 6 samples, 1.5 s at 100 Hz, 2 torn, 1 dropped<"),
            std::string::npos);
  // Six rows (all, thread, <module>, fib, fib, fib): 40 + 6 x 16 + 30 px high; "all" on the
  // bottom row, 1180 px wide; MainThread 7/11 of it, starting at the left margin.
  EXPECT_NE(svg.find("height=\"166\""), std::string::npos);
  EXPECT_NE(svg.find("<rect x=\"10.00\" y=\"120.0\" width=\"1180.00\""), std::string::npos);
  EXPECT_NE(svg.find("<rect x=\"10.00\" y=\"104.0\" width=\"750.91\""), std::string::npos);
  EXPECT_NE(svg.find("<rect x=\"760.91\" y=\"104.0\" width=\"429.09\""), std::string::npos);
  // fib at line 4 on the top row (y 40), after a;b<&> (1/11: 107.27 px) in label order.
  EXPECT_NE(svg.find("<rect x=\"117.27\" y=\"40.0\" width=\"429.09\""), std::string::npos);
  // The controls.
  EXPECT_NE(svg.find(">Search</text>"), std::string::npos);
  EXPECT_NE(svg.find(">Reset Zoom</text>"), std::string::npos);
  EXPECT_NE(svg.find("id=\"details\""), std::string::npos);
}

TEST(ProfileSvg, ProcessRootsNarrowBoxesInvalidCharacters) {
  Profile p = two_processes();
  p.frames.push_back({"bad\x01\xff", "c.py", 1, 1});
  p.stacks.push_back({0, {0, 2}, 1});      // 1 of 6: drawn
  p.stacks.push_back({1, {1, 1}, 10000});  // the bad frame: 1/10007 of 1180 px, 0.118: drawn
  p.stacks.push_back({1, {1, 0}, 1});
  const std::string svg = format_flamegraph_svg(p);
  EXPECT_EQ(occurrences(svg, "<g"), occurrences(svg, "</g>"));
  EXPECT_EQ(box_samples(svg, "all"), (std::vector<int64_t>{10007}));
  EXPECT_EQ(box_samples(svg, "process 10: python a.py"), (std::vector<int64_t>{3}));
  EXPECT_EQ(box_samples(svg, "worker (tid 21)"), (std::vector<int64_t>{10004}));
  EXPECT_NE(svg.find("data-fn=\"bad\xef\xbf\xbd\xef\xbf\xbd\""), std::string::npos);
  EXPECT_EQ(svg.find('\x01'), std::string::npos);

  p.stacks.push_back({1, {1, 1}, 10000});  // now 1/20007 of 1180 px, 0.059: not drawn
  const std::string wider = format_flamegraph_svg(p);
  EXPECT_EQ(box_samples(wider, "bad\xef\xbf\xbd\xef\xbf\xbd (c.py:1)"), std::vector<int64_t>{});
  EXPECT_EQ(box_samples(wider, "main (a.py:1)"), (std::vector<int64_t>{3}));  // its parent
}

TEST(ProfileSvg, TextCutToTheBox) {
  Profile p;
  p.threads = {{0, 1, ""}};
  const std::string long_name(300, 'n');
  p.frames = {{long_name, "x.py", 1, 1}, {"tiny", "x.py", 2, 1}};
  p.stacks = {{0, {0}, 999}, {0, {1}, 1}};
  const std::string svg = format_flamegraph_svg(p);
  // 1180 x 999/1000 = 1178.82 px, 12 x 0.59 px a character: 166 fit, 164 and "..".
  EXPECT_NE(svg.find(">" + std::string(164, 'n') + "..</text>"), std::string::npos);
  // 1.18 px: not even 3 characters.
  EXPECT_NE(svg.find("data-fn=\"tiny\"><title>tiny (x.py:2) (1 sample, 0.10%)</title>"),
            std::string::npos);
  EXPECT_NE(svg.find("width=\"1.18\" height=\"15.0\" rx=\"2\" ry=\"2\" fill=\""),
            std::string::npos);
  EXPECT_EQ(occurrences(svg, "></text>"), 1u);
}

// ---- pprof ----

std::string gunzip(const std::string& data) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = data.size();
  std::string out;
  char buffer[4096];
  int result;
  do {
    z.next_out = reinterpret_cast<Bytef*>(buffer);
    z.avail_out = sizeof buffer;
    result = inflate(&z, Z_NO_FLUSH);
    out.append(buffer, sizeof buffer - z.avail_out);
  } while (result == Z_OK);
  EXPECT_EQ(result, Z_STREAM_END);
  inflateEnd(&z);
  return out;
}

uint64_t varint(std::string_view data, size_t& pos) {
  uint64_t value = 0;
  for (int shift = 0; pos < data.size(); shift += 7) {
    const auto byte = static_cast<unsigned char>(data[pos++]);
    value |= uint64_t{byte & 0x7fu} << shift;
    if (!(byte & 0x80)) return value;
  }
  ADD_FAILURE() << "truncated varint";
  return value;
}

// A decoded message: each field number's values, varints as numbers, the others as bytes.
struct Message {
  std::map<uint32_t, std::vector<uint64_t>> ints;
  std::map<uint32_t, std::vector<std::string>> bytes;

  uint64_t one(uint32_t field) const {
    auto it = ints.find(field);
    return it == ints.end() || it->second.empty() ? 0 : it->second.at(0);
  }
  std::vector<uint64_t> packed(uint32_t field) const {
    std::vector<uint64_t> values;
    auto it = bytes.find(field);
    if (it == bytes.end()) return values;
    for (const std::string& chunk : it->second) {
      for (size_t pos = 0; pos < chunk.size();) values.push_back(varint(chunk, pos));
    }
    return values;
  }
  std::vector<std::string> all(uint32_t field) const {
    auto it = bytes.find(field);
    return it == bytes.end() ? std::vector<std::string>{} : it->second;
  }
};

Message decode(std::string_view data) {
  Message m;
  for (size_t pos = 0; pos < data.size();) {
    const uint64_t key = varint(data, pos);
    const auto field = static_cast<uint32_t>(key >> 3);
    if ((key & 7) == 0) {
      m.ints[field].push_back(varint(data, pos));
    } else if ((key & 7) == 2) {
      const uint64_t length = varint(data, pos);
      m.bytes[field].emplace_back(data.substr(pos, length));
      pos += length;
    } else {
      ADD_FAILURE() << "unexpected wire type " << (key & 7);
      break;
    }
  }
  return m;
}

struct DecodedPprof {
  Message profile;
  std::vector<std::string> strings;
  std::vector<Message> samples, locations, functions;
};

DecodedPprof decode_pprof(const Profile& p) {
  absl::StatusOr<std::string> gz = format_pprof(p);
  EXPECT_TRUE(gz.ok()) << gz.status();
  EXPECT_EQ(gz->substr(0, 2), "\x1f\x8b");  // the gzip magic
  DecodedPprof d;
  const std::string raw = gunzip(*gz);
  d.profile = decode(raw);
  d.strings = d.profile.all(6);
  for (const std::string& s : d.profile.all(2)) d.samples.push_back(decode(s));
  for (const std::string& s : d.profile.all(4)) d.locations.push_back(decode(s));
  for (const std::string& s : d.profile.all(5)) d.functions.push_back(decode(s));
  return d;
}

TEST(ProfilePprof, OneProcess) {
  const DecodedPprof d = decode_pprof(one_process());
  ASSERT_FALSE(d.strings.empty());
  EXPECT_EQ(d.strings[0], "");
  auto str = [&](uint64_t i) { return i < d.strings.size() ? d.strings[i] : "<out of range>"; };
  // sample_type: samples/count, wall/nanoseconds; period_type wall/nanoseconds, 10 ms.
  const std::vector<std::string> types = d.profile.all(1);
  ASSERT_EQ(types.size(), 2u);
  EXPECT_EQ(str(decode(types[0]).one(1)), "samples");
  EXPECT_EQ(str(decode(types[0]).one(2)), "count");
  EXPECT_EQ(str(decode(types[1]).one(1)), "wall");
  EXPECT_EQ(str(decode(types[1]).one(2)), "nanoseconds");
  ASSERT_EQ(d.profile.all(11).size(), 1u);
  EXPECT_EQ(str(decode(d.profile.all(11)[0]).one(1)), "wall");
  EXPECT_EQ(d.profile.one(12), 10'000'000u);
  EXPECT_EQ(d.profile.one(9), 1'700'000'000'000'000'000u);
  EXPECT_EQ(d.profile.one(10), 1'500'000'000u);

  // Functions: <module> 1, fib 2 (both lines, same first line), a;b<&> 3, wait 4, then the
  // thread roots 5 and 6.
  ASSERT_EQ(d.functions.size(), 6u);
  EXPECT_EQ(d.functions[1].one(1), 2u);
  EXPECT_EQ(str(d.functions[1].one(2)), "fib");
  EXPECT_EQ(str(d.functions[1].one(3)), "fib");
  EXPECT_EQ(str(d.functions[1].one(4)), "app.py");
  EXPECT_EQ(d.functions[1].one(5), 3u);
  EXPECT_EQ(str(d.functions[2].one(2)), "a;b<&>");
  EXPECT_EQ(str(d.functions[2].one(4)), "we\"ird.py");
  EXPECT_EQ(str(d.functions[4].one(2)), "MainThread (tid 101)");
  EXPECT_EQ(str(d.functions[4].one(4)), "");
  EXPECT_EQ(str(d.functions[5].one(2)), "thread ?");

  // Locations: one per frame (1-5), then the thread roots (6, 7).
  ASSERT_EQ(d.locations.size(), 7u);
  for (size_t i = 0; i < d.locations.size(); ++i) EXPECT_EQ(d.locations[i].one(1), i + 1);
  auto line = [&](size_t location) { return decode(d.locations[location].all(4).at(0)); };
  EXPECT_EQ(line(1).one(1), 2u);  // fib, line 5
  EXPECT_EQ(line(1).one(2), 5u);
  EXPECT_EQ(line(2).one(1), 2u);  // fib, line 4
  EXPECT_EQ(line(2).one(2), 4u);
  EXPECT_EQ(line(3).one(1), 3u);  // a;b<&>, no line
  EXPECT_EQ(line(3).one(2), 0u);
  EXPECT_EQ(line(5).one(1), 5u);  // MainThread's root

  // Samples: one per stack, leaf first down to the thread root.
  ASSERT_EQ(d.samples.size(), 5u);
  EXPECT_EQ(d.samples[0].packed(1), (std::vector<uint64_t>{3, 2, 2, 1, 6}));
  EXPECT_EQ(d.samples[0].packed(2), (std::vector<uint64_t>{3, 30'000'000}));
  EXPECT_EQ(d.samples[3].packed(1), (std::vector<uint64_t>{5, 7}));
  EXPECT_EQ(d.samples[3].packed(2), (std::vector<uint64_t>{4, 40'000'000}));
  uint64_t total = 0;
  for (const Message& s : d.samples) total += s.packed(2).at(0);
  EXPECT_EQ(total, 11u);
  // Labels: thread (str), thread_id and pid (num).
  std::map<std::string, std::string> labels;
  for (const std::string& l : d.samples[0].all(3)) {
    const Message label = decode(l);
    labels[str(label.one(1))] =
        label.ints.count(2) ? str(label.one(2)) : std::to_string(label.one(3));
  }
  EXPECT_EQ(labels, (std::map<std::string, std::string>{
                        {"thread", "MainThread (tid 101)"}, {"thread_id", "101"}, {"pid", "100"}}));
}

TEST(ProfilePprof, ProcessRootsBelowThreads) {
  const DecodedPprof d = decode_pprof(two_processes());
  auto str = [&](uint64_t i) { return i < d.strings.size() ? d.strings[i] : "<out of range>"; };
  // Locations: frames 1, 2; processes 3, 4; threads 5, 6.
  ASSERT_EQ(d.locations.size(), 6u);
  ASSERT_EQ(d.samples.size(), 2u);
  EXPECT_EQ(d.samples[1].packed(1), (std::vector<uint64_t>{2, 6, 4}));
  EXPECT_EQ(d.samples[1].packed(2), (std::vector<uint64_t>{3, 60'000'000}));  // 20 ms each
  const Message process = d.functions.at(decode(d.locations[3].all(4).at(0)).one(1) - 1);
  EXPECT_EQ(str(process.one(2)), "process 20: python b.py");
  EXPECT_EQ(d.profile.one(12), 20'000'000u);
}

// ---- top ----

TEST(ProfileTop, RecursionCountsOncePerStack) {
  const std::vector<TopRow> rows = top_rows(one_process(), TopSort::kOwn);
  ASSERT_EQ(rows.size(), 4u);
  // fib: own 3 + 2 + 1, total the same (each stack once, however deep the recursion).
  EXPECT_EQ(rows[0].function, "fib");
  EXPECT_EQ(rows[0].own, 6);
  EXPECT_EQ(rows[0].total, 6);
  EXPECT_EQ(rows[1].function, "wait");
  EXPECT_EQ(rows[1].own, 4);
  EXPECT_EQ(rows[2].function, "a;b<&>");
  EXPECT_EQ(rows[2].own, 1);
  EXPECT_EQ(rows[3].function, "<module>");
  EXPECT_EQ(rows[3].own, 0);
  EXPECT_EQ(rows[3].total, 7);

  const std::vector<TopRow> by_total = top_rows(one_process(), TopSort::kTotal);
  ASSERT_EQ(by_total.size(), 4u);
  EXPECT_EQ(by_total[0].function, "<module>");
  EXPECT_EQ(by_total[1].function, "fib");
  EXPECT_EQ(by_total[2].function, "wait");
  EXPECT_EQ(by_total[3].function, "a;b<&>");
}

TEST(ProfileTop, TieBreaks) {
  Profile p;
  p.threads = {{0, 1, ""}};
  p.frames = {{"b", "x.py", 1, 1}, {"a", "y.py", 1, 1}, {"a", "x.py", 1, 1}, {"c", "x.py", 1, 1}};
  // Own 1 each; c's total 2 (under b): c first, then a (x.py), a (y.py), b by name.
  p.stacks = {{0, {0}, 1}, {0, {1}, 1}, {0, {2}, 1}, {0, {0, 3}, 1}};
  const std::vector<TopRow> rows = top_rows(p, TopSort::kOwn);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].function + rows[0].filename, "bx.py");  // own 1, total 2
  EXPECT_EQ(rows[1].function + rows[1].filename, "ax.py");
  EXPECT_EQ(rows[2].function + rows[2].filename, "ay.py");
  EXPECT_EQ(rows[3].function + rows[3].filename, "cx.py");
}

TEST(ProfileTop, Table) {
  EXPECT_EQ(format_top(one_process(), TopSort::kTotal, 2, 0),
            (std::vector<std::string>{
                "  %Own  %Total  OwnSamples  TotalSamples  Function (file)",
                "   0.0    63.6           0             7  <module> (app.py)",
                "  54.5    54.5           6             6  fib (app.py)"}));
  EXPECT_EQ(format_top(one_process(), TopSort::kOwn, 100, 20),
            (std::vector<std::string>{"  %Own  %Total  OwnS", "  54.5    54.5      ",
                                      "  36.4    36.4      ", "   9.1     9.1      ",
                                      "   0.0    63.6      "}));
}

TEST(ProfileTop, WidthInCharacters) {
  Profile p;
  p.thread_samples = 1;
  p.threads = {{0, 1, ""}};
  p.frames = {{"\xc3\xa9t\xc3\xa9", "x.py", 1, 1}};
  p.stacks = {{0, {0}, 1}};
  // 42 columns before the name; 2 characters of it fit in 44.
  EXPECT_EQ(format_top(p, TopSort::kOwn, 10, 44).at(1),
            " 100.0   100.0           1             1  \xc3\xa9t");
}

}  // namespace
}  // namespace pystack
