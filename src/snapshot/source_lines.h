// The source lines that the traceback module would show for a snapshot's frames: what
// linecache.getline(filename, lineno) returns in the target, read beforehand (sources/source_reader)
// so that the formatters stay pure functions with no file access.
//
// Keys are the frames' filenames as the target holds them (co_filename's code points); values
// are the lines exactly as linecache returns them: decoded (Python 3) or raw bytes as code points
// 0..255 (Python 2), universal newlines translated, each ending in "\n", not stripped. Only the
// lines some frame needs are kept.
#pragma once

#include <map>
#include <string>
#include <utility>

namespace pystack {

class SourceLines {
 public:
  // Records linecache.getline(filename, lineno) == line (a non-empty line ending in "\n").
  void set_line(const std::u32string& filename, int lineno, std::u32string line) {
    lines_[{filename, lineno}] = std::move(line);
  }

  // The line, or nullptr where linecache finds none (no file, not decodable, out of range).
  const std::u32string* line(const std::u32string& filename, int lineno) const {
    auto it = lines_.find({filename, lineno});
    return it == lines_.end() ? nullptr : &it->second;
  }

  bool empty() const { return lines_.empty(); }
  size_t size() const { return lines_.size(); }

 private:
  std::map<std::pair<std::u32string, int>, std::u32string> lines_;
};

}  // namespace pystack
