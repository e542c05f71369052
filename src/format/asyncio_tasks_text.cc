// Lib/asyncio/tools.py of CPython 3.14 and 3.15 (identical in what they print) as pure functions
// of a Snapshot: _index, build_task_table, _task_graph, _find_cycles, _build_tree, _roots,
// build_async_tree and the two display functions, step by step, so that the orders come out
// the same: dict insertion order, and the iteration order of the set of ints in _task_graph,
// which decides the order of the cycles reported.
#include "format/asyncio_tasks_text.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_join.h"
#include "common/utf8.h"

namespace pystack {
namespace {

// ---- the tools' input ----

// One TaskInfo of get_all_awaited_by(), with the thread id of its AwaitedInfo.
struct ShownTask {
  uint64_t thread_id = 0;
  const AsyncioTask* task = nullptr;
};

// The lists _remote_debugging returns: 3.14's only the main thread's and the interpreter's.
std::vector<ShownTask> shown_tasks(const Snapshot& snapshot, bool main_thread_only) {
  std::vector<ShownTask> shown;
  for (const Interpreter& interp : snapshot.interpreters) {
    if (!interp.tasks) continue;
    for (const AsyncioTaskList& list : interp.tasks->lists) {
      if (main_thread_only && !list.main_thread && list.thread_id != 0) continue;
      for (const AsyncioTask& task : list.tasks) shown.push_back({list.thread_id, &task});
    }
  }
  return shown;
}

// Awaiters a release does not record are not guessed: the task is shown as awaited by nothing.
const std::vector<TaskAwaiter>& awaiters_of(const AsyncioTask& task) {
  static const std::vector<TaskAwaiter> kNone;
  return task.awaited_by_known ? task.awaited_by : kNone;
}

// A str as print() writes it (like format/traceback.cc); a string the reader cut ends in "...".
std::string text_utf8(const std::optional<PyText>& text, std::string_view missing) {
  if (!text) return std::string(missing);
  std::string out;
  append_utf8_backslashreplace(out, text->code_points);
  if (!text->complete()) out += "...";
  return out;
}

// FrameInfo.funcname: the qualname (the name before 3.11, which has none).
std::string funcname(const Frame& frame) {
  return frame.qualname ? text_utf8(frame.qualname, "") : text_utf8(frame.name, "???");
}

// _format_stack_entry: "funcname filename:lineno", shorter where the location is unknown.
std::string stack_entry(const Frame& frame) {
  const std::string func = funcname(frame);
  const std::string file = text_utf8(frame.filename, "");
  if (frame.lineno < 0) {
    if (file.empty() || file == "~") return func;
    return func + " " + file;
  }
  if (frame.lineno == 0 && file.empty()) return func;
  return func + " " + file + ":" + std::to_string(frame.lineno);
}

std::vector<std::string> stack_entries(const std::vector<Frame>& frames) {
  std::vector<std::string> entries;
  entries.reserve(frames.size());
  for (const Frame& frame : frames) entries.push_back(stack_entry(frame));
  return entries;
}

// " -> ".join of the funcnames.
std::string funcname_chain(const std::vector<Frame>& frames) {
  return absl::StrJoin(frames, " -> ",
                       [](std::string* out, const Frame& frame) { *out += funcname(frame); });
}

// hex(): lowercase, no padding, "0x0" for zero.
std::string python_hex(uint64_t value) {
  char buffer[19];
  std::snprintf(buffer, sizeof buffer, "0x%llx", static_cast<unsigned long long>(value));
  return buffer;
}

// len() of the str a UTF-8 string encodes: its bytes that start a code point.
size_t code_points(std::string_view utf8) {
  size_t count = 0;
  for (unsigned char c : utf8) count += (c & 0xc0) != 0x80;
  return count;
}

// The name as _remote_debugging reads it: at most 255 code points (read_py_str's limit).
std::string tool_name(const std::string& name) {
  constexpr size_t kMaxCodePoints = 255;
  size_t code_points = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    const bool starts_code_point = (static_cast<unsigned char>(name[i]) & 0xC0) != 0x80;
    if (starts_code_point && ++code_points > kMaxCodePoints) return name.substr(0, i);
  }
  return name;
}

// id2name of _index: first insertion decides the order, the last one the name.
class TaskNames {
 public:
  void set(uint64_t id, const std::string& name) {
    auto [it, inserted] = names_.try_emplace(id, name);
    if (inserted) {
      order_.push_back(id);
    } else {
      it->second = name;
    }
  }
  const std::string* find(uint64_t id) const {
    auto it = names_.find(id);
    return it == names_.end() ? nullptr : &it->second;
  }
  const std::vector<uint64_t>& ids() const { return order_; }

 private:
  absl::flat_hash_map<uint64_t, std::string> names_;
  std::vector<uint64_t> order_;
};

TaskNames task_names(const std::vector<ShownTask>& tasks) {
  TaskNames names;
  for (const ShownTask& shown : tasks) names.set(shown.task->id, tool_name(shown.task->name));
  return names;
}

// ---- ps ----

// f"{a:<10} {b:<20} {c:<20} {d:<50} {e:<50} {f:<15} {g:<15}": padded by code points, never cut.
void append_row(std::string& out, const std::array<std::string_view, 7>& cells) {
  static constexpr std::array<size_t, 7> kWidths = {10, 20, 20, 50, 50, 15, 15};
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i != 0) out += ' ';
    out += cells[i];
    const size_t length = code_points(cells[i]);
    if (length < kWidths[i]) out.append(kWidths[i] - length, ' ');
  }
  out += '\n';
}

}  // namespace

std::string format_task_table(const Snapshot& snapshot, bool main_thread_only) {
  const std::vector<ShownTask> tasks = shown_tasks(snapshot, main_thread_only);
  const TaskNames names = task_names(tasks);
  std::string out;
  append_row(out, {"tid", "task id", "task name", "coroutine stack", "awaiter chain",
                   "awaiter name", "awaiter id"});
  out.append(180, '-');
  out += '\n';
  for (const ShownTask& shown : tasks) {
    const AsyncioTask& task = *shown.task;
    const std::string thread_id = std::to_string(shown.thread_id);
    const std::string id = python_hex(task.id);
    const std::string coroutine_stack = funcname_chain(task.coroutine_stack);
    const std::vector<TaskAwaiter>& awaiters = awaiters_of(task);
    if (awaiters.empty()) {
      // "0x0" says "awaited by nothing"; unknown awaiters leave the column empty.
      append_row(out, {thread_id, id, tool_name(task.name), coroutine_stack, "", "",
                       task.awaited_by_known ? "0x0" : ""});
      continue;
    }
    for (const TaskAwaiter& awaiter : awaiters) {
      const std::string* awaiter_name = names.find(awaiter.task_id);
      append_row(out, {thread_id, id, tool_name(task.name), coroutine_stack,
                       funcname_chain(awaiter.coroutine_stack),
                       awaiter_name ? std::string_view(*awaiter_name) : "Unknown",
                       python_hex(awaiter.task_id)});
    }
  }
  return out;
}

namespace {

// ---- pstree: _index ----

struct Await {
  uint64_t parent = 0;
  std::vector<std::string> stack;  // _format_stack_entry of the awaiter's frames
  uint64_t child = 0;
};

struct Index {
  TaskNames names;
  std::vector<Await> awaits;
  absl::flat_hash_map<uint64_t, std::vector<std::string>> task_stacks;
};

Index index_tasks(const std::vector<ShownTask>& tasks) {
  Index index;
  index.names = task_names(tasks);
  for (const ShownTask& shown : tasks) {
    const AsyncioTask& task = *shown.task;
    index.task_stacks[task.id] = stack_entries(task.coroutine_stack);
    for (const TaskAwaiter& awaiter : awaiters_of(task)) {
      index.awaits.push_back({awaiter.task_id, stack_entries(awaiter.coroutine_stack), task.id});
    }
  }
  return index;
}

// ---- pstree: _task_graph and _find_cycles ----

// A CPython set of ints (Objects/setobject.c, 3.14/3.15: set_add_entry, set_table_resize,
// set_insert_clean), kept only for its iteration order: the table index order, which depends
// on hash(int) (the value mod 2**61-1), the probing and the resizes.
class PyIntSet {
 public:
  void add(uint64_t value) {
    if (!insert(table_, value)) return;
    ++fill_;
    const size_t mask = table_.size() - 1;
    if (fill_ * 5 >= mask * 3) resize(fill_ > 50000 ? fill_ * 2 : fill_ * 4);
  }

  std::vector<uint64_t> in_order() const {
    std::vector<uint64_t> values;
    for (const Slot& slot : table_) {
      if (slot.used) values.push_back(slot.value);
    }
    return values;
  }

 private:
  static constexpr size_t kMinSize = 8;        // PySet_MINSIZE
  static constexpr size_t kLinearProbes = 9;   // LINEAR_PROBES
  static constexpr int kPerturbShift = 5;      // PERTURB_SHIFT
  static constexpr uint64_t kModulus = (uint64_t{1} << 61) - 1;  // _PyHASH_MODULUS

  struct Slot {
    bool used = false;
    uint64_t value = 0;
  };

  // False when the value is there already.
  static bool insert(std::vector<Slot>& table, uint64_t value) {
    const uint64_t hash = value % kModulus;
    const size_t mask = table.size() - 1;
    size_t i = hash & mask;
    size_t perturb = hash;
    while (true) {
      const size_t probes = i + kLinearProbes <= mask ? kLinearProbes : 0;
      for (size_t j = i; j <= i + probes; ++j) {
        if (!table[j].used) {
          table[j] = {true, value};
          return true;
        }
        if (table[j].value == value) return false;
      }
      perturb >>= kPerturbShift;
      i = (i * 5 + 1 + perturb) & mask;
    }
  }

  void resize(size_t min_used) {
    size_t size = kMinSize;
    while (size <= min_used) size <<= 1;
    std::vector<Slot> table(size);
    for (const Slot& slot : table_) {
      if (slot.used) insert(table, slot.value);
    }
    table_ = std::move(table);
  }

  std::vector<Slot> table_ = std::vector<Slot>(kMinSize);
  size_t fill_ = 0;
};

// _task_graph: each awaiting task's children, in the dict's order of the awaiting tasks and
// the set's order of their children.
struct TaskGraph {
  std::vector<uint64_t> parents;
  absl::flat_hash_map<uint64_t, std::vector<uint64_t>> children;
};

TaskGraph task_graph(const std::vector<Await>& awaits) {
  std::vector<uint64_t> parents;
  absl::flat_hash_map<uint64_t, PyIntSet> sets;
  for (const Await& await : awaits) {
    auto [it, inserted] = sets.try_emplace(await.parent);
    if (inserted) parents.push_back(await.parent);
    it->second.add(await.child);
  }
  TaskGraph graph;
  graph.parents = parents;
  for (uint64_t parent : parents) graph.children[parent] = sets[parent].in_order();
  return graph;
}

// _find_cycles: its recursive DFS with an explicit stack (a chain of tasks may be long), each
// back edge giving path[i:] + [w].
std::vector<std::vector<uint64_t>> find_cycles(const TaskGraph& graph) {
  enum class Color { kWhite, kGrey, kBlack };
  absl::flat_hash_map<uint64_t, Color> color;  // absent: white
  struct Visit {
    uint64_t node;
    const std::vector<uint64_t>* children;
    size_t next = 0;
  };
  static const std::vector<uint64_t> kNoChildren;
  std::vector<Visit> path;
  std::vector<std::vector<uint64_t>> cycles;
  auto enter = [&](uint64_t node) {
    color[node] = Color::kGrey;
    auto it = graph.children.find(node);
    path.push_back({node, it == graph.children.end() ? &kNoChildren : &it->second});
  };
  for (uint64_t start : graph.parents) {
    if (color.contains(start)) continue;
    enter(start);
    while (!path.empty()) {
      Visit& top = path.back();
      if (top.next == top.children->size()) {
        color[top.node] = Color::kBlack;
        path.pop_back();
        continue;
      }
      const uint64_t next = (*top.children)[top.next++];
      auto it = color.find(next);
      if (it == color.end()) {
        enter(next);
      } else if (it->second == Color::kGrey) {
        size_t i = 0;
        while (path[i].node != next) ++i;
        std::vector<uint64_t> cycle;
        for (; i < path.size(); ++i) cycle.push_back(path[i].node);
        cycle.push_back(next);
        cycles.push_back(std::move(cycle));
      }
    }
  }
  return cycles;
}

// _print_cycle_exception.
std::string cycle_error(const std::vector<std::vector<uint64_t>>& cycles, const TaskNames& names) {
  std::string out = "ERROR: await-graph contains cycles - cannot print a tree!\n\n";
  for (const std::vector<uint64_t>& cycle : cycles) {
    out += "cycle: ";
    out += absl::StrJoin(cycle, " \u2192 ", [&](std::string* s, uint64_t id) {
      const std::string* name = names.find(id);
      *s += name ? *name : python_hex(id);
    });
    out += '\n';
  }
  return out;
}

// ---- pstree: _build_tree, _roots, render ----

// (NodeType, id): a task's id, or the number of a coroutine node ("c1", "c2", ...).
struct Node {
  bool task = false;
  uint64_t id = 0;

  bool operator==(const Node& other) const { return task == other.task && id == other.id; }
  template <typename H>
  friend H AbslHashValue(H h, const Node& node) {
    return H::combine(std::move(h), node.task, node.id);
  }
};

struct Tree {
  std::vector<Node> order;                        // id2label's insertion order
  absl::flat_hash_map<Node, std::string> labels;  // id2label
  absl::flat_hash_map<Node, std::vector<Node>> children;
  absl::flat_hash_map<Node, absl::flat_hash_map<std::string, Node>> coroutine_nodes;  // cor_nodes
  uint64_t coroutines = 0;                        // next_cor_id

  void add_label(const Node& node, const std::string& label) {
    auto [it, inserted] = labels.try_emplace(node, label);
    if (inserted) order.push_back(node);
  }

  // get_or_create_cor_node: one node per distinct frame text under a parent.
  Node coroutine_node(const Node& parent, const std::string& frame) {
    auto [it, inserted] = coroutine_nodes[parent].try_emplace(frame);
    if (!inserted) return it->second;
    const Node node{false, ++coroutines};
    it->second = node;
    add_label(node, frame);
    children[parent].push_back(node);
    return node;
  }

  // Follows a stack (most recent call first) from its oldest frame down from `parent`.
  Node coroutine_path(Node parent, const std::vector<std::string>& stack) {
    for (auto frame = stack.rbegin(); frame != stack.rend(); ++frame) {
      parent = coroutine_node(parent, *frame);
    }
    return parent;
  }
};

Tree build_tree(const Index& index) {
  Tree tree;
  for (uint64_t id : index.names.ids()) tree.add_label({true, id}, *index.names.find(id));
  for (const Await& await : index.awaits) {
    const Node awaiting = tree.coroutine_path({true, await.parent}, await.stack);
    std::vector<Node>& kids = tree.children[awaiting];
    const Node child{true, await.child};
    if (std::find(kids.begin(), kids.end(), child) == kids.end()) kids.push_back(child);
  }
  // Tasks that await no task show their own coroutine stack.
  absl::flat_hash_set<uint64_t> awaiting_tasks;
  for (const Await& await : index.awaits) awaiting_tasks.insert(await.parent);
  for (uint64_t id : index.names.ids()) {
    auto stack = index.task_stacks.find(id);
    if (awaiting_tasks.contains(id) || stack == index.task_stacks.end()) continue;
    tree.coroutine_path({true, id}, stack->second);
  }
  return tree;
}

// _roots: the labelled nodes that are nobody's child (a task awaited only by an unknown id
// hangs under that id's node, which has no label: neither is printed).
std::vector<Node> roots(const Tree& tree) {
  absl::flat_hash_set<Node> all_children;
  for (const auto& [parent, kids] : tree.children) all_children.insert(kids.begin(), kids.end());
  std::vector<Node> found;
  for (const Node& node : tree.order) {
    if (!all_children.contains(node)) found.push_back(node);
  }
  return found;
}

// render: "(T) name" for a task, " frame" (an empty flag, then the space) for a coroutine.
void render(std::string& out, const Tree& tree, const Node& node, const std::string& prefix,
            bool last) {
  out += prefix;
  out += last ? "\u2514\u2500\u2500 " : "\u251c\u2500\u2500 ";
  out += node.task ? "(T) " : " ";
  out += tree.labels.at(node);
  out += '\n';
  auto kids = tree.children.find(node);
  if (kids == tree.children.end()) return;
  const std::string child_prefix = prefix + (last ? "    " : "\u2502   ");
  for (size_t i = 0; i < kids->second.size(); ++i) {
    render(out, tree, kids->second[i], child_prefix, i + 1 == kids->second.size());
  }
}

}  // namespace

TaskTree format_task_tree(const Snapshot& snapshot, bool main_thread_only) {
  const Index index = index_tasks(shown_tasks(snapshot, main_thread_only));
  TaskTree result;
  const std::vector<std::vector<uint64_t>> cycles = find_cycles(task_graph(index.awaits));
  if (!cycles.empty()) {
    result.cycle_error = cycle_error(cycles, index.names);
    return result;
  }
  const Tree tree = build_tree(index);
  for (const Node& root : roots(tree)) render(result.text, tree, root, "", true);
  return result;
}

}  // namespace pystack
