// format_task_table / format_task_tree against what CPython's own asyncio.tools printed
// (tests/unit/data/asyncio_tasks/tools_<version>.txt, recorded by scripts/gen-asyncio-fixtures
// from hand-made task graphs), plus what the tools cannot be made to show (cut strings, frames
// with no name) and the real `python -m asyncio ps` output of a TaskGroup program.
#include "format/asyncio_tasks_text.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "common/utf8.h"

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

struct Expected {
  std::string ps, pstree, pstree_err;
};

struct FixtureCase {
  std::string name;
  Snapshot snapshot;
  std::map<bool, Expected> expected;  // by main_thread_only
};

struct FixtureFile {
  std::string header;
  std::vector<FixtureCase> cases;
  std::map<std::string, PyText> texts;  // "#N" -> string N

  // '#N' (a string defined earlier) or '-' (nullopt).
  std::optional<PyText> text(const std::string& token) const {
    if (token == "-") return std::nullopt;
    auto it = texts.find(token);
    if (it == texts.end()) throw std::runtime_error("undefined string " + token);
    return it->second;
  }

  Snapshot& snapshot() { return cases.back().snapshot; }
  AsyncioTaskList& list() { return snapshot().interpreters.back().tasks->lists.back(); }
  AsyncioTask& task() { return list().tasks.back(); }
};

Frame parse_frame(std::istream& words, const FixtureFile& file) {
  Frame frame;
  std::string filename, qualname, name;
  words >> frame.lineno >> filename >> qualname >> name;
  frame.filename = file.text(filename);
  frame.qualname = file.text(qualname);
  frame.name = file.text(name);
  return frame;
}

void parse_record(std::istream& in, const std::string& line, FixtureFile& file) {
  std::istringstream words(line);
  std::string kind;
  words >> kind;
  if (kind == "text") {
    std::string number, hex_list;
    words >> number >> hex_list;
    file.texts["#" + number] = parse_code_points(hex_list);
  } else if (kind == "case") {
    file.cases.emplace_back();
    words >> file.cases.back().name;
  } else if (kind == "interpreter") {
    file.snapshot().interpreters.emplace_back().tasks.emplace();
  } else if (kind == "list") {
    AsyncioTaskList list;
    int main = 0;
    words >> list.thread_id >> main;
    list.main_thread = main;
    file.snapshot().interpreters.back().tasks->lists.push_back(list);
  } else if (kind == "task") {
    AsyncioTask task;
    int known = 0;
    std::string name;
    words >> std::hex >> task.id >> std::dec >> known >> name;
    task.awaited_by_known = known;
    const PyText text = *file.text(name);
    for (char32_t c : text.code_points) append_utf8_code_point(task.name, c);
    file.list().tasks.push_back(task);
  } else if (kind == "frame") {
    file.task().coroutine_stack.push_back(parse_frame(words, file));
  } else if (kind == "awaiter") {
    TaskAwaiter awaiter;
    words >> std::hex >> awaiter.task_id;
    file.task().awaited_by.push_back(awaiter);
  } else if (kind == "aframe") {
    file.task().awaited_by.back().coroutine_stack.push_back(parse_frame(words, file));
  } else if (kind == "expected") {
    std::string what;
    int main_only = 0;
    size_t size = 0;
    words >> what >> main_only >> size;
    std::string bytes(size, '\0');
    in.read(bytes.data(), size);
    Expected& expected = file.cases.back().expected[main_only != 0];
    if (what == "ps") {
      expected.ps = bytes;
    } else if (what == "pstree") {
      expected.pstree = bytes;
    } else if (what == "pstree_err") {
      expected.pstree_err = bytes;
    } else {
      throw std::runtime_error("unknown expectation: " + line);
    }
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
  return file;
}

// ---- recorded by the real tools ----

class RecordedAsyncioTaskTools : public ::testing::TestWithParam<std::string> {};

TEST_P(RecordedAsyncioTaskTools, MatchByteForByte) {
  const std::string version = GetParam();
  const FixtureFile file = read_fixture("tests/unit/data/asyncio_tasks/tools_" + version + ".txt");
  ASSERT_NE(file.header.find("Python " + version), std::string::npos) << file.header;
  std::set<std::string> seen;
  for (const FixtureCase& c : file.cases) {
    seen.insert(c.name);
    ASSERT_EQ(c.expected.size(), 2u) << c.name;
    for (const auto& [main_only, expected] : c.expected) {
      const std::string where = version + " case " + c.name + (main_only ? " (main only)" : "");
      EXPECT_EQ(format_task_table(c.snapshot, main_only), expected.ps) << where;
      const TaskTree tree = format_task_tree(c.snapshot, main_only);
      EXPECT_EQ(tree.text, expected.pstree) << where;
      EXPECT_EQ(tree.cycle_error, expected.pstree_err) << where;
    }
  }
  const std::set<std::string> all = {
      "taskgroup", "empty", "no_lists", "gather_nested", "long_names", "odd_frames", "threads",
      "interpreters", "non_task_awaiters", "awaiters_unknown", "cycle_1", "cycle_2", "cycle_3",
      "two_cycles", "cycle_set_order_random", "cycle_set_order_steps",
      "cycle_set_order_collide"};
  EXPECT_EQ(seen, all) << "fixture incomplete: rerun scripts/gen-asyncio-fixtures";
}

INSTANTIATE_TEST_SUITE_P(Versions, RecordedAsyncioTaskTools, ::testing::Values("3.14.10", "3.15.2"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) c = c == '.' ? '_' : c;
                           return name;
                         });

// The star fixtures do what they are for: every child closes a cycle with the hub, and the
// cycles come out neither in insertion nor in sorted order (the set's own order decides).
TEST(AsyncioTaskFixtures, SetOrderCasesAreNotInInsertionOrder) {
  const FixtureFile file = read_fixture("tests/unit/data/asyncio_tasks/tools_3.14.10.txt");
  int stars = 0;
  for (const FixtureCase& c : file.cases) {
    if (c.name.rfind("cycle_set_order_", 0) != 0) continue;
    ++stars;
    const std::string& err = c.expected.at(false).pstree_err;
    // Children are named c0, c1, ... in insertion order (and in the order of their ids).
    std::vector<int> order;
    const std::string prefix = "cycle: hub \u2192 c";
    for (size_t at = err.find(prefix); at != std::string::npos; at = err.find(prefix, at + 1)) {
      order.push_back(std::stoi(err.substr(at + prefix.size())));
    }
    EXPECT_EQ(order.size(), c.snapshot.interpreters[0].tasks->lists[0].tasks.size() - 1) << c.name;
    EXPECT_FALSE(std::is_sorted(order.begin(), order.end())) << c.name << ":\n" << err;
  }
  EXPECT_EQ(stars, 3);
}

// ---- what the tools cannot be given ----

Frame frame(const std::string& qualname, const std::string& filename, int lineno) {
  Frame f;
  f.qualname = ascii(qualname);
  f.name = ascii(qualname.substr(qualname.rfind('.') + 1));
  f.filename = ascii(filename);
  f.lineno = lineno;
  return f;
}

Snapshot snapshot_of(std::vector<AsyncioTaskList> lists) {
  Snapshot snapshot;
  snapshot.interpreters.emplace_back().tasks.emplace().lists = std::move(lists);
  return snapshot;
}

constexpr std::string_view kHeader =
    "tid        task id              task name            coroutine stack                      "
    "              awaiter chain                                      awaiter name    awaiter id     \n"
    "------------------------------------------------------------------------------------------"
    "------------------------------------------------------------------------------------------\n";

// `python -m asyncio ps 16594` of CPython 3.14 on a TaskGroup program (its first two rows).
TEST(AsyncioTaskTable, RealTaskGroupOutput) {
  AsyncioTask main_task;
  main_task.id = 0x7fa77abfc9b0;
  main_task.name = "Task-1";
  main_task.coroutine_stack = {frame("main", "/tmp/at/t.py", 37)};
  AsyncioTask group;
  group.id = 0x7fa77abfcb90;
  group.name = "group";
  group.coroutine_stack = {frame("TaskGroup._aexit", "/usr/lib/python3.14/asyncio/taskgroups.py", 121),
                           frame("TaskGroup.__aexit__", "/usr/lib/python3.14/asyncio/taskgroups.py", 72),
                           frame("group_body", "/tmp/at/t.py", 13)};
  group.awaited_by = {{main_task.id, {frame("main", "/tmp/at/t.py", 37)}}};
  AsyncioTaskList list{.thread_id = 16594, .main_thread = true, .tasks = {main_task, group}};
  EXPECT_EQ(format_task_table(snapshot_of({list}), true),
            std::string(kHeader) +
                "16594      0x7fa77abfc9b0       Task-1               main                                 "
                "                                                                                 0x0            \n"
                "16594      0x7fa77abfcb90       group                TaskGroup._aexit -> TaskGroup.__aexit"
                "__ -> group_body main                                               Task-1          0x7fa77abfc9b0 \n");
}

TEST(AsyncioTaskTable, NoTasksReadIsTheHeaderAlone) {
  Snapshot snapshot;
  snapshot.interpreters.emplace_back();  // --tasks could not read this interpreter's lists
  EXPECT_EQ(format_task_table(snapshot, false), kHeader);
  EXPECT_EQ(format_task_tree(snapshot, false).text, "");
}

// A string the reader had to cut ends in "..." (as in the traceback format); a frame with
// neither qualname nor name (corrupt memory) shows ???.
TEST(AsyncioTaskTree, CutStringsAndMissingNames) {
  AsyncioTask task;
  task.id = 0x10;
  task.name = "t";
  Frame cut = frame("long_function_name", "/srv/a.py", 3);
  cut.qualname->code_points.resize(4);
  Frame nameless = frame("x", "/srv/b.py", 4);
  nameless.qualname.reset();
  nameless.name.reset();
  task.coroutine_stack = {cut, nameless};
  const Snapshot snapshot =
      snapshot_of({AsyncioTaskList{.thread_id = 1, .main_thread = true, .tasks = {task}}});
  EXPECT_EQ(format_task_tree(snapshot, false).text,
            "\u2514\u2500\u2500 (T) t\n"
            "    \u2514\u2500\u2500  ??? /srv/b.py:4\n"
            "        \u2514\u2500\u2500  long... /srv/a.py:3\n");
}

// _find_cycles recurses; ours must not run out of stack on a long chain closing a cycle.
TEST(AsyncioTaskTree, LongCycleIsFoundWithoutDeepRecursion) {
  constexpr uint64_t kTasks = 200000;
  AsyncioTaskList list{.thread_id = 1, .main_thread = true};
  for (uint64_t i = 0; i < kTasks; ++i) {
    AsyncioTask task;
    task.id = 0x1000 + i;
    task.name = "t" + std::to_string(i);
    task.awaited_by = {{0x1000 + (i + 1) % kTasks, {}}};
    list.tasks.push_back(std::move(task));
  }
  const TaskTree tree = format_task_tree(snapshot_of({list}), false);
  EXPECT_EQ(tree.text, "");
  ASSERT_NE(tree.cycle_error.find("cycle: t1 \u2192 t0 \u2192 t199999 \u2192"),
            std::string::npos);
  EXPECT_TRUE(tree.cycle_error.ends_with(" \u2192 t2 \u2192 t1\n"));
}

}  // namespace
}  // namespace pystack
