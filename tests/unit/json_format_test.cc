// format_json: the schema of README.md ("JSON output") on a small snapshot, string escaping
// (control characters, quotes, lone surrogates, Python 2 bytes), locals and nulls. That the
// output parses and agrees with the traceback format is checked against real interpreters by
// tests/integration/traceback_test.cc.
#include "format/json.h"

#include <gtest/gtest.h>

#include "format/json_writer.h"

namespace pystack {
namespace {

PyText text(std::u32string s) {
  PyText t;
  t.length = s.size();
  t.code_points = std::move(s);
  return t;
}

std::string json_string(std::u32string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

TEST(JsonString, Escapes) {
  EXPECT_EQ(json_string(U"a\"b\\c/"), "\"a\\\"b\\\\c/\"");
  EXPECT_EQ(json_string(U"\b\f\n\r\t\x01\x1f\x7f"), "\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"");
  EXPECT_EQ(json_string(U"\u00e9\u4e2d\U0001F600"), "\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\"");
  // Lone surrogates cannot be UTF-8: \uXXXX escapes, as Python's json.dumps writes them.
  EXPECT_EQ(json_string(U"\xdcff\xd800"), "\"\\udcff\\ud800\"");
  EXPECT_EQ(json_string(std::u32string(1, char32_t{0x110000})), "\"\\ufffd\"");
}

Snapshot small_snapshot(PythonVersion v) {
  Snapshot s;
  s.pid = 42;
  s.version = v;
  s.executable = "/usr/bin/python3";
  s.interpreters.resize(1);
  Thread t;
  t.thread_id = 0x7f0000001000;
  t.native_thread_id = 43;
  t.name = "MainThread";
  t.is_current = true;
  t.holds_gil = true;
  Frame inner;
  inner.filename = text(U"/app/a.py");
  inner.name = text(U"f");
  inner.qualname = text(U"C.f");
  inner.lineno = 2;
  inner.locals = {{"y", "2"}, {"x", "'\xc3\xa9'"}};
  Frame outer;
  outer.filename = text(U"<string>");
  outer.name = text(U"<module>");
  outer.lineno = -1;
  t.frames = {inner, outer};
  s.interpreters[0].threads.push_back(t);
  return s;
}

TEST(Json, Schema) {
  Snapshot s = small_snapshot({3, 12, 1, 0x030c01f0});
  SourceLines sources;
  sources.set_line(U"/app/a.py", 2, U"    return x\n");
  EXPECT_EQ(format_json(s, sources, false),
            R"({
  "pid": 42,
  "python_version": "3.12.1",
  "executable": "/usr/bin/python3",
  "free_threaded": false,
  "fatal_error": null,
  "interpreters": [
    {
      "id": 0,
      "gil_enabled": true,
      "error": null,
      "threads": [
        {
          "thread_id": 139637976731648,
          "native_thread_id": 43,
          "name": "MainThread",
          "os_name": null,
          "is_current": true,
          "holds_gil": true,
          "gc_collecting": false,
          "error": null,
          "frames": [
            {
              "kind": "python",
              "filename": "/app/a.py",
              "name": "f",
              "qualname": "C.f",
              "line": 2,
              "source": "return x"
            },
            {
              "kind": "python",
              "filename": "<string>",
              "name": "<module>",
              "qualname": null,
              "line": null,
              "source": null
            }
          ]
        }
      ]
    }
  ]
}
)");
}

TEST(Json, LocalsSortedByName) {
  Snapshot s = small_snapshot({3, 13, 0, 0x030d00c1});  // 3.13.0rc1
  std::string out = format_json(s, SourceLines(), true);
  EXPECT_NE(out.find("\"python_version\": \"3.13.0rc1\""), std::string::npos) << out;
  EXPECT_NE(out.find(R"("locals": {
                "x": "'é'",
                "y": "2"
              })"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\"locals\": {}"), std::string::npos) << out;
}

TEST(Json, VersionWithoutMicroWhenUnknown) {
  Snapshot s;
  s.version = {3, 6, -1, 0};
  EXPECT_NE(format_json(s, SourceLines(), false).find("\"python_version\": \"3.6\","),
            std::string::npos);
}

TEST(Json, Python2StringsAreBytesShownAsFsdecodeWould) {
  Snapshot s;
  s.version = {2, 7, 18, 0};
  s.interpreters.resize(1);
  Thread t;
  Frame f;
  f.filename = text(U"/caf\xc3\xa9_\xff.py");  // the bytes of a Python 2 str
  f.name = text(U"f");
  f.lineno = 1;
  t.frames = {f};
  s.interpreters[0].threads.push_back(t);
  SourceLines sources;
  sources.set_line(f.filename->code_points, 1, U"  x = '\xe9'  \n");  // latin-1 bytes
  std::string out = format_json(s, sources, false);
  EXPECT_NE(out.find("\"filename\": \"/caf\xc3\xa9_\\udcff.py\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"source\": \"x = '\\udce9'\""), std::string::npos) << out;
}

TEST(Json, EmptySnapshotAndErrors) {
  Snapshot s;
  s.version = {3, 11, 7, 0};
  s.fatal_error = "Aborted";
  s.interpreters.resize(1);
  s.interpreters[0].walk_error = "bad \"list\"";
  s.free_threaded = true;  // python3.13t running without its GIL
  s.interpreters[0].gil_enabled = false;
  EXPECT_EQ(format_json(s, SourceLines(), false),
            R"({
  "pid": 0,
  "python_version": "3.11.7",
  "executable": "",
  "free_threaded": true,
  "fatal_error": "Aborted",
  "interpreters": [
    {
      "id": 0,
      "gil_enabled": false,
      "error": "bad \"list\"",
      "threads": []
    }
  ]
}
)");
}

// --all --format=json: JSON Lines. The line is the pretty document's content, with the label
// first and no newline but the last; a failure is a line of its own.
TEST(JsonLine, SameDocumentOnOneLineWithTheLabelFirst) {
  const Snapshot s = small_snapshot({3, 12, 1});
  const std::string pretty = format_json(s, {}, /*with_locals=*/true);
  const std::string line =
      format_json_line(s, {}, /*with_locals=*/true, /*all_native=*/false,
                       {.host = "web1", .pid = 42, .command_line = "python3 \"a\".py"});
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const std::string label =
      "{\"host\": \"web1\", \"pid\": 42, \"command_line\": \"python3 \\\"a\\\".py\", ";
  ASSERT_EQ(line.substr(0, label.size()), label);
  // The rest is the pretty document with its pid and its layout taken out.
  std::string flattened;
  bool in_string = false;
  for (size_t i = 0; i < pretty.size(); ++i) {
    const char c = pretty[i];
    if (c == '"' && (i == 0 || pretty[i - 1] != '\\')) in_string = !in_string;
    if (!in_string && c == '\n') {
      while (i + 1 < pretty.size() && pretty[i + 1] == ' ') ++i;
      if (!flattened.empty() && flattened.back() == ',') flattened += ' ';
      continue;
    }
    flattened += c;
  }
  const std::string pid_member = "\"pid\": 42, ";
  ASSERT_EQ(flattened.substr(0, 1 + pid_member.size()), "{" + pid_member);
  EXPECT_EQ(line.substr(label.size()), flattened.substr(1 + pid_member.size()) + "\n");
}

TEST(JsonLine, ErrorLine) {
  EXPECT_EQ(format_json_line_error({.host = "h", .pid = 7, .command_line = "python3 -c \"\t\""},
                                   "the process is traced by gdb (pid 9) (hint: detach it)"),
            "{\"host\": \"h\", \"pid\": 7, \"command_line\": \"python3 -c \\\"\\t\\\"\", "
            "\"error\": \"the process is traced by gdb (pid 9) (hint: detach it)\"}\n");
}

}  // namespace
}  // namespace pystack
