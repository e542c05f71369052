// traceback.format_exception() (Lib/traceback.py: TracebackException.__init__ with compact=True,
// format(), format_exception_only(), _format_syntax_error(), _ExceptionPrintContext) as a pure
// function. What differs between releases lives in one ExceptionDialect table; the frames' source
// and caret lines are format/traceback_carets.h's.
#include "format/exception_text.h"

#include <algorithm>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "cpython/releases.h"
#include "format/python_text.h"
#include "format/traceback_carets.h"

namespace pystack {
namespace {

constexpr int kRecursiveCutoff = 3;    // _RECURSIVE_CUTOFF
constexpr int kMaxGroupWidth = 15;     // TracebackException(max_group_width=15)
constexpr int kMaxGroupDepth = 10;     // TracebackException(max_group_depth=10)
// Bounds of ours: TracebackException objects built (a group may list one value many times, each
// a new object; Python would build them all), and source lines asked for one frame.
constexpr size_t kMaxNodes = 10000;
constexpr int kMaxFrameLines = 1000;

// _format_syntax_error, as it changed.
enum class SyntaxStyle {
  k27,   // 2.7: from args (msg, (filename, lineno, offset, text)); else the plain line; no
         // "<no detail available>"
  k36,   // 3.6, 3.7: File line always (lineno "None"), text.strip(), caret from min(len, offset)
  k38,   // 3.8: no File line without a lineno, " (filename)" after the message instead
  k39,   // 3.9: text.lstrip(' \n\f'), one caret at offset - 1 - leading spaces
  k310,  // 3.10-3.12: carets up to end_offset
  k313,  // 3.13, 3.14: end_offset only on one line; offsets past the text clipped; no caret line
         // when the column is before the text
  k315,  // 3.15: the caret line in display width (wide characters 2, combining 0)
};

// How a __notes__ that is no list or tuple is printed (3.11+).
enum class NotesReprStyle {
  kBare,   // 3.11: repr(__notes__) with no newline after it
  kLine,   // 3.12-3.14: repr + "\n"
  kLines,  // 3.15: split on "\n" like a note
};

struct ExceptionDialect {
  bool python2 = false;         // 2.7: no chains; text is bytes
  bool queue_order = false;     // 3.10+: chains built from a LIFO queue (before: recursion, cause first)
  bool compact = false;         // 3.10+: format_exception's compact=True: a context only when shown
  bool groups = false;          // 3.11+: BaseExceptionGroup's boxes
  bool notes = false;           // 3.11+: __notes__
  NotesReprStyle notes_repr = NotesReprStyle::kLine;
  bool unprintable_name = true;  // up to 3.10: "<unprintable NAME object>" for a failing str()
  SyntaxStyle syntax = SyntaxStyle::k36;
};

struct DialectRow {
  int major, minor;
  ExceptionDialect dialect;
};

// From each row's release on, until the next row.
constexpr DialectRow kDialects[] = {
    {2, 7, {.python2 = true, .syntax = SyntaxStyle::k27}},
    {3, 6, {.syntax = SyntaxStyle::k36}},
    {3, 8, {.syntax = SyntaxStyle::k38}},
    {3, 9, {.syntax = SyntaxStyle::k39}},
    {3, 10, {.queue_order = true, .compact = true, .syntax = SyntaxStyle::k310}},
    {3, 11, {.queue_order = true, .compact = true, .groups = true, .notes = true,
             .notes_repr = NotesReprStyle::kBare, .unprintable_name = false,
             .syntax = SyntaxStyle::k310}},
    {3, 12, {.queue_order = true, .compact = true, .groups = true, .notes = true,
             .notes_repr = NotesReprStyle::kLine, .unprintable_name = false,
             .syntax = SyntaxStyle::k310}},
    {3, 13, {.queue_order = true, .compact = true, .groups = true, .notes = true,
             .notes_repr = NotesReprStyle::kLine, .unprintable_name = false,
             .syntax = SyntaxStyle::k313}},
    {3, 15, {.queue_order = true, .compact = true, .groups = true, .notes = true,
             .notes_repr = NotesReprStyle::kLines, .unprintable_name = false,
             .syntax = SyntaxStyle::k315}},
};

const ExceptionDialect& dialect_of(const PythonVersion& version) {
  const ExceptionDialect* found = &kDialects[0].dialect;
  for (const DialectRow& row : kDialects) {
    if (version.at_least(row.major, row.minor)) found = &row.dialect;
  }
  return *found;
}

constexpr std::u32string_view kCauseMessage =
    U"\nThe above exception was the direct cause of the following exception:\n\n";
constexpr std::u32string_view kContextMessage =
    U"\nDuring handling of the above exception, another exception occurred:\n\n";

// ---- text helpers (Python's str methods) ----

std::u32string ascii(std::string_view s) { return std::u32string(s.begin(), s.end()); }

// A target str; a string the reader had to cut is marked with "..." (as traceback.cc does).
std::u32string py_text(const std::optional<PyText>& text) {
  if (!text) return U"???";
  std::u32string out = text->code_points;
  if (!text->complete()) out += U"...";
  return out;
}

// s[:end] with Python's slice rules.
std::u32string_view py_head(std::u32string_view s, int64_t end) {
  const int64_t n = static_cast<int64_t>(s.size());
  if (end < 0) end = std::max<int64_t>(0, end + n);
  return s.substr(0, static_cast<size_t>(std::min(end, n)));
}

// s[begin:end] with Python's slice rules.
std::u32string_view py_slice(std::u32string_view s, int64_t begin, int64_t end) {
  const int64_t n = static_cast<int64_t>(s.size());
  auto clip = [n](int64_t i) { return i < 0 ? std::max<int64_t>(0, i + n) : std::min(i, n); };
  begin = clip(begin);
  end = clip(end);
  return end <= begin ? std::u32string_view() : s.substr(begin, end - begin);
}

std::u32string_view rstrip_chars(std::u32string_view s, std::u32string_view chars) {
  while (!s.empty() && chars.find(s.back()) != std::u32string_view::npos) s.remove_suffix(1);
  return s;
}

std::u32string_view lstrip_chars(std::u32string_view s, std::u32string_view chars) {
  while (!s.empty() && chars.find(s.front()) != std::u32string_view::npos) s.remove_prefix(1);
  return s;
}

// str.isspace() of one character: Python 2's str is bytes.
bool is_space(char32_t c, bool python2) {
  return python2 ? is_python2_space(c) : is_python3_space(c);
}

std::u32string_view lstrip_space(std::u32string_view s, bool python2 = false) {
  while (!s.empty() && is_space(s.front(), python2)) s.remove_prefix(1);
  return s;
}

// (c if c.isspace() else ' ') for c in s: tabs kept so that the caret lines up.
std::u32string caret_space(std::u32string_view s, bool python2 = false) {
  std::u32string out;
  for (char32_t c : s) out += is_space(c, python2) ? c : U' ';
  return out;
}

std::u32string repeated(char32_t c, int64_t n) {
  return n > 0 ? std::u32string(static_cast<size_t>(n), c) : std::u32string();
}

// 3.15's _str_width (from _pyrepl.utils): 0 for combining marks and format characters but the
// soft hyphen, 2 for East Asian Wide and Fullwidth, else 1. The ranges cover the common blocks;
// unicodedata's full tables are not carried here.
int display_width(char32_t c) {
  if (c < 128) return 1;
  struct Range { char32_t first, last; };
  static constexpr Range kZero[] = {
      {0x0300, 0x036f}, {0x0483, 0x0489}, {0x0591, 0x05bd}, {0x0610, 0x061a}, {0x064b, 0x065f},
      {0x0600, 0x0605}, {0x061c, 0x061c}, {0x06dd, 0x06dd}, {0x0e31, 0x0e31}, {0x0e34, 0x0e3a},
      {0x1ab0, 0x1aff}, {0x1dc0, 0x1dff}, {0x200b, 0x200f}, {0x202a, 0x202e}, {0x2060, 0x2064},
      {0x2066, 0x206f}, {0x20d0, 0x20ff}, {0xfe00, 0xfe0f}, {0xfe20, 0xfe2f}, {0xfeff, 0xfeff},
      {0xfff9, 0xfffb}, {0xe0001, 0xe007f}, {0xe0100, 0xe01ef}};
  static constexpr Range kWide[] = {
      {0x1100, 0x115f}, {0x231a, 0x231b}, {0x2329, 0x232a}, {0x23e9, 0x23ec}, {0x23f0, 0x23f0},
      {0x23f3, 0x23f3}, {0x25fd, 0x25fe}, {0x2614, 0x2615}, {0x2648, 0x2653}, {0x267f, 0x267f},
      {0x2693, 0x2693}, {0x26a1, 0x26a1}, {0x26aa, 0x26ab}, {0x26bd, 0x26be}, {0x26c4, 0x26c5},
      {0x26ce, 0x26ce}, {0x26d4, 0x26d4}, {0x26ea, 0x26ea}, {0x26f2, 0x26f3}, {0x26f5, 0x26f5},
      {0x26fa, 0x26fa}, {0x26fd, 0x26fd}, {0x2705, 0x2705}, {0x270a, 0x270b}, {0x2728, 0x2728},
      {0x274c, 0x274c}, {0x274e, 0x274e}, {0x2753, 0x2755}, {0x2757, 0x2757}, {0x2795, 0x2797},
      {0x27b0, 0x27b0}, {0x27bf, 0x27bf}, {0x2b1b, 0x2b1c}, {0x2b50, 0x2b50}, {0x2b55, 0x2b55},
      {0x2e80, 0x303e}, {0x3041, 0x33ff}, {0x3400, 0x4dbf}, {0x4e00, 0x9fff}, {0xa000, 0xa4cf},
      {0xa960, 0xa97f}, {0xac00, 0xd7a3}, {0xf900, 0xfaff}, {0xfe10, 0xfe19}, {0xfe30, 0xfe6f},
      {0xff00, 0xff60}, {0xffe0, 0xffe6}, {0x16fe0, 0x16fe4}, {0x17000, 0x18cff},
      {0x1b000, 0x1b2ff}, {0x1f004, 0x1f004}, {0x1f0cf, 0x1f0cf}, {0x1f18e, 0x1f18e},
      {0x1f191, 0x1f19a}, {0x1f200, 0x1f251}, {0x1f300, 0x1f64f}, {0x1f680, 0x1f6ff},
      {0x1f7e0, 0x1f7eb}, {0x1f90c, 0x1f9ff}, {0x1fa70, 0x1faff}, {0x20000, 0x2fffd},
      {0x30000, 0x3fffd}};
  auto in = [c](std::span<const Range> ranges) {
    return std::any_of(ranges.begin(), ranges.end(),
                       [c](const Range& r) { return c >= r.first && c <= r.last; });
  };
  if (in(kZero)) return 0;
  return in(kWide) ? 2 : 1;
}

// 3.15's _wlen: a lone character is its width; otherwise \x1a counts one more (the ANSI escape
// sequences it also discounts do not occur in the text it is given here).
int64_t display_width(std::u32string_view s) {
  if (s.size() == 1 && s[0] != U'\x1a') return display_width(s[0]);
  int64_t width = 0;
  for (char32_t c : s) width += display_width(c) + (c == U'\x1a' ? 1 : 0);
  return width;
}

// `x or default` for a str that may be None.
std::u32string text_or(const std::optional<PyText>& text, std::u32string_view fallback) {
  if (!text || text->code_points.empty()) return std::u32string(fallback);
  return py_text(text);
}

// ---- TracebackException objects: which values are shown, as _seen decides ----

struct Node {
  int value = -1;           // index into HandledException::values
  int cause = -1;           // Node index, -1: None
  int context = -1;
  bool has_members = false;  // exceptions is not None (a group, 3.11+)
  std::vector<int> members;  // Node indexes
};

class NodeBuilder {
 public:
  NodeBuilder(const std::vector<ExceptionValue>& values, const ExceptionDialect& dialect)
      : values_(values), dialect_(dialect), seen_(values.size(), false) {}

  std::vector<Node> build() {
    if (values_.empty()) return {};
    const int root = make(0);
    if (dialect_.python2) return std::move(nodes_);
    if (dialect_.queue_order) {
      build_from_queue(root);
    } else {
      build_recursively(root);
    }
    return std::move(nodes_);
  }

  bool cut() const { return cut_; }

 private:
  bool valid(int index) const { return index >= 0 && static_cast<size_t>(index) < values_.size(); }

  // TracebackException(type(v), v, ...): _seen.add(id(v)).
  int make(int value) {
    if (nodes_.size() >= kMaxNodes) {
      cut_ = true;
      return -1;
    }
    seen_[value] = true;
    nodes_.push_back(Node{.value = value});
    return static_cast<int>(nodes_.size() - 1);
  }

  int make_unseen(int value) { return valid(value) && !seen_[value] ? make(value) : -1; }

  // 3.6-3.9: __init__ recurses into the cause (and its whole chain) before the context, both
  // always (no compact); an explicit stack stands for Python's recursion.
  void build_recursively(int root) {
    struct Step { int node; int stage; };
    std::vector<Step> stack{{root, 0}};
    while (!stack.empty()) {
      Step& step = stack.back();
      const ExceptionValue& e = values_[nodes_[step.node].value];
      const int node = step.node;
      if (step.stage == 0) {
        step.stage = 1;
        const int cause = make_unseen(e.cause);
        nodes_[node].cause = cause;
        if (cause >= 0) stack.push_back({cause, 0});
      } else if (step.stage == 1) {
        step.stage = 2;
        const int context = make_unseen(e.context);
        nodes_[node].context = context;
        if (context >= 0) stack.push_back({context, 0});
      } else {
        stack.pop_back();
      }
    }
  }

  // 3.10+: the queue of __init__ (popped from its end); group members are built without asking
  // _seen (Python would loop on a group that lists itself: kMaxNodes ends it here).
  void build_from_queue(int root) {
    std::vector<int> queue{root};
    while (!queue.empty()) {
      const int node = queue.back();
      queue.pop_back();
      const ExceptionValue& e = values_[nodes_[node].value];
      const int cause = make_unseen(e.cause);
      const bool need_context = !dialect_.compact || (cause < 0 && !e.suppress_context);
      const int context = need_context ? make_unseen(e.context) : -1;
      std::vector<int> members;
      const bool group = dialect_.groups && e.is_group;
      if (group) {
        for (int member : e.members) {
          if (!valid(member)) continue;  // None cannot be a member; a bad index is left out
          const int made = make(member);
          if (made >= 0) members.push_back(made);
        }
      }
      nodes_[node].cause = cause;
      nodes_[node].context = context;
      nodes_[node].has_members = group;
      nodes_[node].members = members;
      if (cause >= 0) queue.push_back(cause);
      if (context >= 0) queue.push_back(context);
      queue.insert(queue.end(), members.begin(), members.end());
    }
  }

  const std::vector<ExceptionValue>& values_;
  const ExceptionDialect& dialect_;
  std::vector<bool> seen_;
  std::vector<Node> nodes_;
  bool cut_ = false;
};

// ---- the printer: TracebackException.format with its _ExceptionPrintContext ----

class ExceptionPrinter {
 public:
  ExceptionPrinter(const PythonVersion& version, const ExceptionDialect& dialect,
                   const std::vector<ExceptionValue>& values, const std::vector<Node>& nodes,
                   const SourceLines& sources)
      : version_(version),
        dialect_(dialect),
        frames_(release_at_or_before(version).traceback),
        values_(values),
        nodes_(nodes),
        sources_(sources) {}

  void format(int node) { format_chain(node); }
  std::u32string& text() { return out_; }

 private:
  using Chunks = std::vector<std::u32string>;

  // _ExceptionPrintContext.indent
  std::u32string indent() const { return repeated(U' ', 2 * depth_); }

  // _ExceptionPrintContext.emit: textwrap.indent(text, prefix, lambda line: True) for each
  // string, every piece of its splitlines(True) prefixed.
  void emit(std::u32string_view text, char32_t margin = U'|') {
    std::u32string prefix = indent();
    if (depth_ > 0) {
      prefix += margin;
      prefix += U' ';
    }
    if (prefix.empty()) {
      out_ += text;
      return;
    }
    size_t begin = 0;
    while (begin < text.size()) {
      size_t end = begin;
      while (end < text.size() && !is_line_boundary(text[end])) ++end;
      if (end < text.size()) {
        if (text[end] == U'\r' && end + 1 < text.size() && text[end + 1] == U'\n') ++end;
        ++end;
      }
      out_ += prefix;
      out_ += text.substr(begin, end - begin);
      begin = end;
    }
  }

  void emit(const Chunks& chunks) {
    for (const std::u32string& chunk : chunks) emit(chunk);
  }

  // TracebackException.format: the chain oldest first, then each exception.
  void format_chain(int node) {
    std::vector<std::pair<std::u32string_view, int>> output;
    for (int exc = node; exc >= 0;) {
      const Node& n = nodes_[exc];
      std::u32string_view message;
      int next = -1;
      if (n.cause >= 0) {
        message = kCauseMessage;
        next = n.cause;
      } else if (n.context >= 0 && !values_[n.value].suppress_context) {
        message = kContextMessage;
        next = n.context;
      }
      output.emplace_back(message, exc);
      exc = next;  // the nodes form a tree (_seen): this ends
    }
    for (auto it = output.rbegin(); it != output.rend(); ++it) {
      if (!it->first.empty()) emit(it->first);
      format_one(it->second);
    }
  }

  void format_one(int node) {
    const Node& n = nodes_[node];
    const ExceptionValue& value = values_[n.value];
    if (!n.has_members) {
      if (!value.traceback.empty()) {
        emit(U"Traceback (most recent call last):\n");
        emit(stack_text(value.traceback));
      }
      emit(exception_only(value));
    } else if (depth_ > kMaxGroupDepth) {
      emit(ascii("... (max_group_depth is " + std::to_string(kMaxGroupDepth) + ")\n"));
    } else {
      format_group(n, value);
    }
  }

  void format_group(const Node& n, const ExceptionValue& value) {
    const bool is_toplevel = depth_ == 0;
    if (is_toplevel) ++depth_;
    if (!value.traceback.empty()) {
      emit(U"Exception Group Traceback (most recent call last):\n", is_toplevel ? U'+' : U'|');
      emit(stack_text(value.traceback));
    }
    emit(exception_only(value));
    const int count = static_cast<int>(n.members.size());
    const int shown = count <= kMaxGroupWidth ? count : kMaxGroupWidth + 1;
    need_close_ = false;
    for (int i = 0; i < shown; ++i) {
      const bool last = i == shown - 1;
      if (last) need_close_ = true;  // a nested group may close the box for us
      const bool truncated = i >= kMaxGroupWidth;
      const std::string title = truncated ? "..." : std::to_string(i + 1);
      out_ += indent() + (i == 0 ? U"+-" : U"  ") + ascii("+---------------- " + title +
                                                          " ----------------\n");
      ++depth_;
      if (!truncated) {
        format_chain(n.members[i]);
      } else {
        const int remaining = count - kMaxGroupWidth;
        emit(ascii("and " + std::to_string(remaining) + " more exception" +
                   (remaining > 1 ? "s" : "") + "\n"));
      }
      if (last && need_close_) {
        out_ += indent() + U"+------------------------------------\n";
        need_close_ = false;
      }
      --depth_;
    }
    if (is_toplevel) depth_ = 0;
  }

  // ---- StackSummary.format ----

  Chunks stack_text(const std::vector<TracebackEntry>& entries) const {
    Chunks chunks;
    const TracebackEntry* last = nullptr;
    int count = 0;
    for (const TracebackEntry& entry : entries) {
      if (!dialect_.python2) {
        if (last == nullptr || !same_place(*last, entry)) {
          if (count > kRecursiveCutoff) chunks.push_back(repeat_note(count));
          last = &entry;
          count = 0;
        }
        ++count;
        if (count > kRecursiveCutoff) continue;
      }
      chunks.push_back(frame_text(entry));
    }
    if (!dialect_.python2 && count > kRecursiveCutoff) chunks.push_back(repeat_note(count));
    return chunks;
  }

  // The repeat rule's (filename, lineno, name); a None part never equals anything.
  static bool same_place(const TracebackEntry& a, const TracebackEntry& b) {
    return a.filename && b.filename && a.name && b.name && a.lineno >= 0 && b.lineno >= 0 &&
           a.filename->code_points == b.filename->code_points && a.lineno == b.lineno &&
           a.name->code_points == b.name->code_points;
  }

  static std::u32string repeat_note(int count) {
    count -= kRecursiveCutoff;
    return ascii("  [Previous line repeated " + std::to_string(count) + " more time" +
                 (count > 1 ? "s" : "") + "]\n");
  }

  // format_frame_summary: the File line, then the source and carets.
  std::u32string frame_text(const TracebackEntry& entry) const {
    std::u32string text = U"  File \"";
    static const std::u32string kStdinPrefix = U"<stdin>-";
    if (frames_.shows_stdin_alias && entry.filename &&
        entry.filename->code_points.starts_with(kStdinPrefix)) {
      text += U"<stdin>";
    } else {
      text += py_text(entry.filename);
    }
    text += U"\", line ";
    text += entry.lineno >= 0 ? ascii(std::to_string(entry.lineno)) : U"None";
    text += U", in ";
    text += py_text(entry.name);
    text += U'\n';
    text += frame_source(entry);
    return text;
  }

  std::u32string frame_source(const TracebackEntry& entry) const {
    std::vector<std::u32string> lines;
    if (entry.filename && entry.lineno >= 1) {
      const int last = std::clamp(entry.end_lineno, entry.lineno, entry.lineno + kMaxFrameLines);
      for (int lineno = entry.lineno; lineno <= last; ++lineno) {
        const std::u32string* line = sources_.line(entry.filename->code_points, lineno);
        lines.push_back(line != nullptr ? *line : std::u32string());
      }
    }
    return format_frame_source(version_, lines, entry.lineno, entry.end_lineno, entry.colno,
                               entry.end_colno);
  }

  // ---- format_exception_only ----

  // stype: __qualname__, after "__module__." unless the module is __main__ or builtins; a
  // __module__ that is no str is "<unknown>" (3.9+; 3.6-3.8 raise TypeError there, and this
  // prints what 3.9 prints). 2.7: __name__ alone (the last part, should a reader give more).
  std::u32string type_name(const ExceptionValue& value) const {
    std::u32string qualname = py_text(value.type_qualname);
    if (dialect_.python2) return last_part(qualname);
    if (!value.type_module) return U"<unknown>." + qualname;
    const std::u32string& module = value.type_module->code_points;
    if (value.type_module->complete() && (module == U"__main__" || module == U"builtins")) {
      return qualname;
    }
    return py_text(value.type_module) + U"." + qualname;
  }

  // _some_str / _safe_string(value, 'exception').
  std::u32string str_of(const ExceptionValue& value) const {
    if (value.str) return py_text(value.str);
    if (!dialect_.unprintable_name) return U"<exception str() failed>";
    // type(value).__name__: the qualname's last part.
    return U"<unprintable " + last_part(py_text(value.type_qualname)) + U" object>";
  }

  static std::u32string last_part(std::u32string name) {
    const size_t dot = name.rfind(U'.');
    if (dot != std::u32string::npos) name.erase(0, dot + 1);
    return name;
  }

  // _format_final_exc_line
  std::u32string final_line(const std::u32string& stype, const ExceptionValue& value) const {
    const std::u32string str = str_of(value);
    return str.empty() ? stype + U"\n" : stype + U": " + str + U"\n";
  }

  Chunks exception_only(const ExceptionValue& value) const {
    Chunks chunks;
    const std::u32string stype = type_name(value);
    if (value.syntax_error) {
      syntax_error_lines(chunks, stype, value);
    } else {
      chunks.push_back(final_line(stype, value));
    }
    if (value.str_overridden) chunks.push_back(ascii(kStrOverriddenMarker) + U"\n");
    if (value.suggestion_not_computed) chunks.push_back(ascii(kSuggestionMarker) + U"\n");
    if (dialect_.notes) notes_lines(chunks, value);
    return chunks;
  }

  static void note_lines(Chunks& chunks, std::u32string_view note) {
    size_t begin = 0;
    while (true) {
      const size_t end = note.find(U'\n', begin);
      chunks.push_back(std::u32string(note.substr(begin, end - begin)) + U"\n");
      if (end == std::u32string_view::npos) break;
      begin = end + 1;
    }
  }

  void notes_lines(Chunks& chunks, const ExceptionValue& value) const {
    if (value.notes) {
      for (const std::optional<PyText>& note : *value.notes) {
        note_lines(chunks, note ? py_text(note) : U"<note str() failed>");
      }
    } else if (value.notes_repr) {
      switch (dialect_.notes_repr) {
        case NotesReprStyle::kBare: chunks.push_back(py_text(value.notes_repr)); break;
        case NotesReprStyle::kLine: chunks.push_back(py_text(value.notes_repr) + U"\n"); break;
        case NotesReprStyle::kLines: note_lines(chunks, py_text(value.notes_repr)); break;
      }
    }
  }

  // ---- _format_syntax_error ----

  void syntax_error_lines(Chunks& chunks, const std::u32string& stype,
                          const ExceptionValue& value) const {
    const ExceptionValue::SyntaxErrorFields& f = *value.syntax_error;
    if (dialect_.syntax == SyntaxStyle::k27) return syntax_error_lines_27(chunks, stype, value);
    std::u32string filename_suffix;
    if (dialect_.syntax == SyntaxStyle::k36) {
      chunks.push_back(U"  File \"" + text_or(f.filename, U"<string>") + U"\", line " +
                       (f.lineno ? ascii(std::to_string(*f.lineno)) : U"None") + U"\n");
    } else if (f.lineno) {
      chunks.push_back(U"  File \"" + text_or(f.filename, U"<string>") + U"\", line " +
                       ascii(std::to_string(*f.lineno)) + U"\n");
    } else if (f.filename) {
      filename_suffix = U" (" + py_text(f.filename) + U")";
    }
    if (f.text) {
      const std::u32string text = py_text(f.text);
      switch (dialect_.syntax) {
        case SyntaxStyle::k27:
        case SyntaxStyle::k36:
        case SyntaxStyle::k38: syntax_text_36(chunks, text, f); break;
        case SyntaxStyle::k39: syntax_text_39(chunks, text, f); break;
        case SyntaxStyle::k310: syntax_text_310(chunks, text, f); break;
        case SyntaxStyle::k313:
        case SyntaxStyle::k315: syntax_text_313(chunks, text, f); break;
      }
    }
    chunks.push_back(stype + U": " + text_or(f.msg, U"<no detail available>") +
                     filename_suffix + U"\n");
  }

  // 2.7: the lines only when the args unpack to (msg, (filename, lineno, offset, text)) (a
  // lineno is taken for that), then msg as the value ("SyntaxError" alone when it is empty).
  void syntax_error_lines_27(Chunks& chunks, const std::u32string& stype,
                             const ExceptionValue& value) const {
    const ExceptionValue::SyntaxErrorFields& f = *value.syntax_error;
    if (!f.lineno) {
      chunks.push_back(final_line(stype, value));
      return;
    }
    chunks.push_back(U"  File \"" + text_or(f.filename, U"<string>") + U"\", line " +
                     ascii(std::to_string(*f.lineno)) + U"\n");
    if (f.text) syntax_text_36(chunks, py_text(f.text), f);
    const std::u32string msg = f.msg ? py_text(f.msg) : U"";
    chunks.push_back(msg.empty() ? stype + U"\n" : stype + U": " + msg + U"\n");
  }

  // 3.6-3.8: the stripped line, and one caret under min(len, offset) - 1 of the unstripped one.
  void syntax_text_36(Chunks& chunks, std::u32string_view text,
                      const ExceptionValue::SyntaxErrorFields& f) const {
    const bool python2 = dialect_.python2;
    chunks.push_back(U"    " + std::u32string(strip_python(text, python2)) + U"\n");
    if (!f.offset) return;
    std::u32string_view line = rstrip_chars(text, U"\n");
    const int64_t offset = std::min<int64_t>(static_cast<int64_t>(line.size()), *f.offset) - 1;
    chunks.push_back(U"    " + caret_space(lstrip_space(py_head(line, offset), python2), python2) +
                     U"^\n");
  }

  // 3.9: one caret at offset - 1 - the leading spaces.
  static void syntax_text_39(Chunks& chunks, std::u32string_view text,
                             const ExceptionValue::SyntaxErrorFields& f) {
    std::u32string_view rtext = rstrip_chars(text, U"\n");
    std::u32string_view ltext = lstrip_chars(rtext, U" \n\f");
    const int64_t spaces = static_cast<int64_t>(rtext.size() - ltext.size());
    chunks.push_back(U"    " + std::u32string(ltext) + U"\n");
    const int64_t caret = f.offset.value_or(0) - 1 - spaces;
    if (caret >= 0) chunks.push_back(U"    " + caret_space(py_head(ltext, caret)) + U"^\n");
  }

  // 3.10-3.12: carets from offset to end_offset.
  static void syntax_text_310(Chunks& chunks, std::u32string_view text,
                              const ExceptionValue::SyntaxErrorFields& f) {
    std::u32string_view rtext = rstrip_chars(text, U"\n");
    std::u32string_view ltext = lstrip_chars(rtext, U" \n\f");
    const int64_t spaces = static_cast<int64_t>(rtext.size() - ltext.size());
    chunks.push_back(U"    " + std::u32string(ltext) + U"\n");
    if (!f.offset) return;
    const int64_t offset = *f.offset;
    int64_t end_offset = f.end_offset && *f.end_offset != 0 ? *f.end_offset : offset;
    if (offset == end_offset || end_offset == -1) end_offset = offset + 1;
    const int64_t colno = offset - 1 - spaces;
    const int64_t end_colno = end_offset - 1 - spaces;
    if (colno >= 0) {
      chunks.push_back(U"    " + caret_space(py_head(ltext, colno)) +
                       repeated(U'^', end_colno - colno) + U"\n");
    }
  }

  // 3.13+: end_offset counts only when the error is on one line; offsets past the text are
  // clipped; 3.15 measures the caret line in display width.
  void syntax_text_313(Chunks& chunks, std::u32string_view text,
                       const ExceptionValue::SyntaxErrorFields& f) const {
    std::u32string_view rtext = rstrip_chars(text, U"\n");
    std::u32string_view ltext = lstrip_chars(rtext, U" \n\f");
    const int64_t spaces = static_cast<int64_t>(rtext.size() - ltext.size());
    const std::u32string line = U"    " + std::u32string(ltext) + U"\n";
    if (!f.offset) {
      chunks.push_back(line);
      return;
    }
    int64_t offset = *f.offset;
    int64_t end_offset;
    if (f.lineno == f.end_lineno) {  // compared as str(lineno) or None
      end_offset = f.end_offset && *f.end_offset != 0 ? *f.end_offset : offset;
    } else {
      end_offset = static_cast<int64_t>(rtext.size()) + 1;
    }
    const int64_t length = static_cast<int64_t>(text.size());
    if (length > 0 && offset > length) offset = static_cast<int64_t>(rtext.size()) + 1;
    if (length > 0 && end_offset > length) end_offset = static_cast<int64_t>(rtext.size()) + 1;
    if (offset >= end_offset || end_offset < 0) end_offset = offset + 1;
    const int64_t colno = offset - 1 - spaces;
    const int64_t end_colno = end_offset - 1 - spaces;
    chunks.push_back(line);
    if (colno < 0) return;
    if (dialect_.syntax == SyntaxStyle::k315) {
      std::u32string_view highlighted = py_slice(ltext, colno, end_colno);
      const int64_t carets =
          highlighted.empty() ? end_colno - colno : display_width(highlighted);
      chunks.push_back(U"    " + repeated(U' ', display_width(py_head(ltext, colno))) +
                       repeated(U'^', carets) + U"\n");
    } else {
      chunks.push_back(U"    " + caret_space(py_head(ltext, colno)) +
                       repeated(U'^', end_colno - colno) + U"\n");
    }
  }

  const PythonVersion version_;
  const ExceptionDialect& dialect_;
  const TracebackDialect& frames_;
  const std::vector<ExceptionValue>& values_;
  const std::vector<Node>& nodes_;
  const SourceLines& sources_;
  std::u32string out_;
  int depth_ = 0;           // _ExceptionPrintContext.exception_group_depth
  bool need_close_ = false;  // _ExceptionPrintContext.need_close
};

}  // namespace

std::string format_exception_text(const PythonVersion& version, const HandledException& exception,
                                  const SourceLines& sources) {
  const ExceptionDialect& dialect = dialect_of(version);
  NodeBuilder builder(exception.values, dialect);
  const std::vector<Node> nodes = builder.build();
  std::string out;
  if (nodes.empty()) return out;
  ExceptionPrinter printer(version, dialect, exception.values, nodes, sources);
  printer.format(0);
  if (dialect.python2) {
    append_python2_bytes(out, printer.text());
  } else {
    append_utf8_backslashreplace(out, printer.text());
  }
  if (builder.cut()) {
    out += "<pystack-dump: more than " + std::to_string(kMaxNodes) +
           " exceptions to show; the rest are left out>\n";
  }
  return out;
}

}  // namespace pystack
