#include "format/profile_svg.h"

#include <algorithm>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/utf8.h"
#include "format/profile_labels.h"

namespace pystack {
namespace {

constexpr double kWidth = 1200;
constexpr double kPad = 10;           // left and right margins
constexpr double kRow = 16;           // one stack level
constexpr double kTop = 40;           // room for the title and the controls
constexpr double kBottom = 30;        // room for the details line and the match share
constexpr double kMinBoxWidth = 0.1;  // narrower boxes are not drawn
constexpr double kFontSize = 12;
constexpr double kFontWidth = 0.59;   // average glyph width / font size (flamegraph.pl's)

// XML 1.0's Char production: everything else cannot appear in the document, even escaped.
bool is_xml_char(char32_t c) {
  return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
         (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

// `text` (code points) for an attribute value or element content. Tabs and line ends are
// character references, so that attribute value normalisation keeps them.
void append_xml(std::string& out, std::u32string_view text) {
  for (char32_t c : text) {
    switch (c) {
      case U'&': out += "&amp;"; break;
      case U'<': out += "&lt;"; break;
      case U'>': out += "&gt;"; break;
      case U'"': out += "&quot;"; break;
      case U'\'': out += "&#39;"; break;
      case U'\t': out += "&#9;"; break;
      case U'\n': out += "&#10;"; break;
      case U'\r': out += "&#13;"; break;
      default: append_utf8_code_point(out, is_xml_char(c) ? c : char32_t{0xfffd});
    }
  }
}

// UTF-8 from the profile; invalid bytes decode to lone surrogates, which become U+FFFD.
std::u32string decode(std::string_view utf8) { return decode_utf8_surrogateescape(utf8); }

struct Node {
  std::string label;
  std::string text;  // what the box shows: the function's name, or the root's whole label
  bool root = false;  // "all", a process or a thread: not a Python frame
  int64_t samples = 0;
  std::map<std::string, size_t> children;  // by label: drawn in label order, as flamegraph.pl
};

class CallTree {
 public:
  CallTree() { nodes_.push_back({"all", "all", true, 0, {}}); }

  void add(const Profile& profile, const ProfileStack& stack) {
    size_t node = 0;
    nodes_[0].samples += stack.count;
    for (std::string& root : thread_root_labels(profile, stack.thread)) {
      std::string text = root;
      node = child(node, std::move(root), std::move(text), true);
      nodes_[node].samples += stack.count;
    }
    for (uint32_t f : stack.frames) {
      const bool known = f < profile.frames.size();
      node = child(node, known ? frame_label(profile.frames[f]) : "?",
                   known ? profile.frames[f].function : "?", false);
      nodes_[node].samples += stack.count;
    }
  }

  const std::vector<Node>& nodes() const { return nodes_; }

 private:
  size_t child(size_t parent, std::string label, std::string text, bool root) {
    auto it = nodes_[parent].children.find(label);
    if (it != nodes_[parent].children.end()) return it->second;
    const size_t index = nodes_.size();
    nodes_[parent].children.emplace(label, index);
    nodes_.push_back({std::move(label), std::move(text), root, 0, {}});
    return index;
  }

  std::vector<Node> nodes_;
};

struct Box {
  size_t node;
  double x, width;
  int depth;
};

// Every box wide enough to draw, parents before children.
void lay_out(const std::vector<Node>& nodes, size_t node, double x, int depth, double scale,
             std::vector<Box>& boxes) {
  const double width = nodes[node].samples * scale;
  if (width < kMinBoxWidth && node != 0) return;
  boxes.push_back({node, x, width, depth});
  for (const auto& [label, child] : nodes[node].children) {
    lay_out(nodes, child, x, depth + 1, scale, boxes);
    x += nodes[child].samples * scale;
  }
}

uint32_t fnv1a(std::string_view text) {
  uint32_t hash = 2166136261u;
  for (char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 16777619u;
  return hash;
}

// flamegraph.pl's "hot" palette (reds, oranges, yellows), picked by the hash of the name.
std::string fill(const Node& node) {
  if (node.root) return "rgb(200,200,200)";
  const uint32_t hash = fnv1a(node.text);
  const double v1 = (hash & 0xff) / 255.0, v2 = ((hash >> 8) & 0xff) / 255.0,
               v3 = ((hash >> 16) & 0xff) / 255.0;
  return absl::StrFormat("rgb(%d,%d,%d)", 205 + static_cast<int>(50 * v3),
                         static_cast<int>(230 * v1), static_cast<int>(55 * v2));
}

// The name cut to what fits in `width` px ("" below 3 characters), as the script does on zoom.
std::u32string fitted_text(std::u32string text, double width) {
  const auto chars = static_cast<size_t>(std::max(0.0, width / (kFontSize * kFontWidth)));
  if (chars < 3) return U"";
  if (text.size() <= chars) return text;
  text.resize(chars - 2);
  return text + U"..";
}

std::string percent(int64_t part, int64_t total) {
  return absl::StrFormat("%.2f", total > 0 ? 100.0 * part / total : 0.0);
}

void append_box(std::string& out, const Node& node, const Box& box, double height,
                int64_t total) {
  const double y = height - kBottom - (box.depth + 1) * kRow;
  const std::u32string label = decode(node.label);
  out += "<g class=\"frame\" data-name=\"";
  append_xml(out, label);
  absl::StrAppend(&out, "\" data-samples=\"", node.samples, "\"");
  if (!node.root) {
    out += " data-fn=\"";
    append_xml(out, decode(node.text));
    out += '"';
  }
  out += "><title>";
  append_xml(out, label);
  absl::StrAppend(&out, " (", node.samples, node.samples == 1 ? " sample, " : " samples, ",
                  percent(node.samples, total), "%)</title>");
  absl::StrAppendFormat(&out,
                        "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" rx=\"2\" "
                        "ry=\"2\" fill=\"%s\"/><text x=\"%.2f\" y=\"%.1f\">",
                        box.x, y, box.width, kRow - 1, fill(node), box.x + 3, y + 11.5);
  append_xml(out, fitted_text(decode(node.text), box.width));
  out += "</text></g>\n";
}

std::string title(const Profile& profile) {
  return absl::StrFormat("pystack-dump record: %d samples, %.1f s at %g Hz, %d torn, %d dropped",
                         profile.samples, profile.duration_nanos / 1e9, profile.rate_hz,
                         profile.torn, profile.dropped);
}

// flamegraph.pl's interactions, rewritten: zoom, search, details. Each box's own geometry is
// read once from its rect; zooming recomputes x, width and text from it.
constexpr absl::string_view kScript = R"JS(
"use strict";
var W = 1200, PAD = 10, FONT = 12, FONTW = 0.59;
var boxes = [], total = 0, searching = false;
var details, unzoombtn, searchbtn, matchedtxt;

function init() {
  details = document.getElementById("details");
  unzoombtn = document.getElementById("unzoom");
  searchbtn = document.getElementById("search");
  matchedtxt = document.getElementById("matched");
  var gs = document.querySelectorAll("g.frame");
  for (var i = 0; i < gs.length; i++) {
    var g = gs[i], r = g.querySelector("rect");
    g._x = +r.getAttribute("x");
    g._w = +r.getAttribute("width");
    g._y = +r.getAttribute("y");
    g._fill = r.getAttribute("fill");
    g._samples = +g.getAttribute("data-samples");
    g.addEventListener("click", function () { zoom(this); });
    g.addEventListener("mouseover", function () { show_details(this); });
    g.addEventListener("mouseout", function () { details.textContent = " "; });
    boxes.push(g);
  }
  if (boxes.length) total = boxes[0]._samples;  // "all" comes first
  unzoombtn.addEventListener("click", unzoom);
  searchbtn.addEventListener("click", search_prompt);
}
window.addEventListener("load", init);

function pct(samples) { return (total > 0 ? 100 * samples / total : 0).toFixed(2); }

function show_details(g) {
  details.textContent = "Function: " + g.getAttribute("data-name") + " (" + g._samples +
    (g._samples == 1 ? " sample, " : " samples, ") + pct(g._samples) + "%)";
}

// The box's name cut to `w` px, as format_flamegraph_svg cuts it.
function fit(g, w) {
  var s = Array.from(g.getAttribute("data-fn") || g.getAttribute("data-name"));
  var n = Math.floor(w / (FONT * FONTW));
  if (n < 3) return "";
  if (s.length <= n) return s.join("");
  return s.slice(0, n - 2).join("") + "..";
}

function place(g, x, w) {
  var r = g.querySelector("rect"), t = g.querySelector("text");
  r.setAttribute("x", x.toFixed(2));
  r.setAttribute("width", w.toFixed(2));
  t.setAttribute("x", (x + 3).toFixed(2));
  t.textContent = fit(g, w);
}

// A box's ancestors are the boxes below it that span its middle; its descendants, the boxes
// above it whose middle it spans. (Boxes of one row never overlap.)
function spans(outer, inner) {
  var mid = inner._x + inner._w / 2;
  return outer._x <= mid && mid <= outer._x + outer._w;
}

function zoom(target) {
  var ratio = (W - 2 * PAD) / target._w;
  unzoombtn.classList.remove("hide");
  boxes.forEach(function (g) {
    g.classList.remove("parent", "hide");
    if (g._y > target._y && spans(g, target)) {
      g.classList.add("parent");
      place(g, PAD, W - 2 * PAD);
    } else if (g._y <= target._y && spans(target, g)) {
      place(g, PAD + (g._x - target._x) * ratio, g._w * ratio);
    } else {
      g.classList.add("hide");
    }
  });
}

function unzoom() {
  unzoombtn.classList.add("hide");
  boxes.forEach(function (g) {
    g.classList.remove("parent", "hide");
    place(g, g._x, g._w);
  });
}

function reset_search() {
  searching = false;
  boxes.forEach(function (g) { g.querySelector("rect").setAttribute("fill", g._fill); });
  searchbtn.classList.remove("show");
  searchbtn.textContent = "Search";
  matchedtxt.textContent = " ";
}

function search_prompt() {
  if (searching) {
    reset_search();
    return;
  }
  var term = window.prompt("Search for (a regular expression):", "");
  if (term) search(term);
}

// Colours the boxes whose label matches `term` and shows the share of the samples they cover,
// each sample once: a match inside another match adds nothing.
function search(term) {
  var re;
  try {
    re = new RegExp(term);
  } catch (e) {
    re = new RegExp(term.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  }
  reset_search();
  var matched = boxes.filter(function (g) { return re.test(g.getAttribute("data-name")); });
  var covered = 0;
  matched.forEach(function (g) {
    g.querySelector("rect").setAttribute("fill", "rgb(230,0,230)");
    var nested = matched.some(function (a) { return a._y > g._y && spans(a, g); });
    if (!nested) covered += g._samples;
  });
  searching = true;
  searchbtn.classList.add("show");
  searchbtn.textContent = "Reset Search";
  matchedtxt.textContent = "Matched: " + pct(covered) + "%";
  return covered;
}
)JS";

constexpr absl::string_view kStyle = R"CSS(
text { font-family: Verdana, sans-serif; font-size: 12px; fill: rgb(0,0,0); }
#title { text-anchor: middle; font-size: 17px; }
#search, #matched { text-anchor: end; }
#search, #unzoom { cursor: pointer; }
#search { opacity: 0.3; }
#search:hover, #search.show { opacity: 1; }
.hide { display: none; }
g.frame { cursor: pointer; }
g.frame text { pointer-events: none; }
g.frame:hover rect { stroke: black; stroke-width: 0.5; }
g.frame.parent { opacity: 0.5; }
)CSS";

}  // namespace

std::string format_flamegraph_svg(const Profile& profile) {
  CallTree tree;
  for (const ProfileStack& stack : profile.stacks) {
    if (stack.count > 0) tree.add(profile, stack);
  }
  const std::vector<Node>& nodes = tree.nodes();
  const int64_t total = nodes[0].samples;
  const double scale = total > 0 ? (kWidth - 2 * kPad) / total : 0;
  std::vector<Box> boxes;
  lay_out(nodes, 0, kPad, 0, scale, boxes);
  if (total == 0) boxes[0].width = kWidth - 2 * kPad;  // an empty profile: "all" alone
  int depth = 0;
  for (const Box& box : boxes) depth = std::max(depth, box.depth);
  const double height = kTop + (depth + 1) * kRow + kBottom;

  std::string out;
  absl::StrAppendFormat(&out,
                        "<?xml version=\"1.0\" standalone=\"no\"?>\n"
                        "<svg version=\"1.1\" width=\"%.0f\" height=\"%.0f\" "
                        "viewBox=\"0 0 %.0f %.0f\" xmlns=\"http://www.w3.org/2000/svg\">\n",
                        kWidth, height, kWidth, height);
  absl::StrAppend(&out, "<style type=\"text/css\"><![CDATA[", kStyle, "]]></style>\n");
  absl::StrAppend(&out, "<script type=\"text/ecmascript\"><![CDATA[", kScript, "]]></script>\n");
  absl::StrAppendFormat(&out, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" "
                              "fill=\"rgb(250,250,238)\"/>\n", kWidth, height);
  out += "<text id=\"title\" x=\"600\" y=\"24\">";
  append_xml(out, decode(title(profile)));
  out += "</text>\n";
  absl::StrAppendFormat(&out, "<text id=\"unzoom\" class=\"hide\" x=\"%.0f\" y=\"24\">Reset Zoom"
                              "</text>\n", kPad);
  absl::StrAppendFormat(&out, "<text id=\"search\" x=\"%.0f\" y=\"24\">Search</text>\n",
                        kWidth - kPad);
  absl::StrAppendFormat(&out, "<text id=\"details\" x=\"%.0f\" y=\"%.0f\"> </text>\n", kPad,
                        height - 10);
  absl::StrAppendFormat(&out, "<text id=\"matched\" x=\"%.0f\" y=\"%.0f\"> </text>\n",
                        kWidth - kPad, height - 10);
  out += "<g id=\"frames\">\n";
  for (const Box& box : boxes) append_box(out, nodes[box.node], box, height, total);
  out += "</g>\n</svg>\n";
  return out;
}

}  // namespace pystack
