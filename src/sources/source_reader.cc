#include "sources/source_reader.h"

#include <algorithm>

#include <fcntl.h>
#include <iconv.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <map>
#include <optional>
#include <set>

#include "cpython/releases.h"
#include "sources/linecache.h"
#include "common/utf8.h"
#include "memory/unique_fd.h"

namespace pystack {
namespace {

// The bytes the target passes to stat() for a filename: Python 2 str bytes as they are,
// Python 3 str through os.fsencode (UTF-8, surrogateescape). nullopt where the target's own
// linecache cannot get that far (other lone surrogates, an embedded NUL: ValueError).
std::optional<std::string> filename_bytes(const std::u32string& filename, bool python2) {
  std::string bytes;
  if (python2) {
    for (char32_t c : filename) {
      if (c > 0xff) return std::nullopt;  // a Python 2 unicode filename: not from the compiler
      bytes.push_back(static_cast<char>(c));
    }
  } else if (!encode_utf8_surrogateescape(filename, bytes)) {
    return std::nullopt;
  }
  if (bytes.find('\0') != std::string::npos) return std::nullopt;
  return bytes;
}

// The whole of a regular file of at most kMaxSourceFileBytes. Not regular (a directory, a FIFO
// that would block): nullopt, as the target's open() or read() fails or never returns.
std::optional<std::string> read_regular_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) return std::nullopt;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) > kMaxSourceFileBytes) {
    return std::nullopt;
  }
  std::string data;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    data.append(buffer, static_cast<size_t>(n));
    if (data.size() > kMaxSourceFileBytes) return std::nullopt;  // grew while being read
  }
  return data;
}

// ---- codecs that format/linecache does not decode itself: glibc's iconv ----

class Iconv {
 public:
  explicit Iconv(const std::string& from) : cd_(::iconv_open("UTF-32LE", from.c_str())) {}
  ~Iconv() {
    if (valid()) ::iconv_close(cd_);
  }
  Iconv(const Iconv&) = delete;
  Iconv& operator=(const Iconv&) = delete;
  bool valid() const { return cd_ != reinterpret_cast<iconv_t>(-1); }
  iconv_t get() const { return cd_; }

 private:
  iconv_t cd_;
};

// Python's codec names as glibc spells them: "euc_jp" is "EUC-JP" there.
std::string iconv_name(const std::string& python_name) {
  std::string name = python_name;
  for (char& c : name) {
    c = c == '_' ? '-' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

bool iconv_knows(const std::string& codec) { return Iconv(iconv_name(codec)).valid(); }

// Strict: an invalid or incomplete sequence fails the whole file (UnicodeDecodeError).
std::optional<std::u32string> iconv_decode(std::string_view bytes, const std::string& codec) {
  Iconv cd(iconv_name(codec));
  if (!cd.valid()) return std::nullopt;
  std::string input(bytes);
  std::string output(input.size() * 4 + 16, '\0');
  char* in = input.data();
  size_t in_left = input.size();
  char* out = output.data();
  size_t out_left = output.size();
  while (in_left > 0) {
    if (::iconv(cd.get(), &in, &in_left, &out, &out_left) == static_cast<size_t>(-1)) {
      if (errno != E2BIG) return std::nullopt;
      const size_t used = output.size() - out_left;
      output.resize(output.size() * 2);
      out = output.data() + used;
      out_left = output.size() - used;
    }
  }
  const size_t used = output.size() - out_left;
  std::u32string text;
  text.reserve(used / 4);
  for (size_t i = 0; i + 4 <= used; i += 4) {
    const auto b = [&](size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(output[i + k])); };
    text.push_back(b(0) | b(1) << 8 | b(2) << 16 | b(3) << 24);
  }
  return text;
}

// Line numbers wanted per filename.
void want_lines_of(const std::vector<Frame>& frames,
                   std::map<std::u32string, std::set<int>>& wanted) {
  for (const Frame& frame : frames) {
    // A name the reader had to cut is not the file's name.
    if (!frame.filename || !frame.filename->complete() || frame.lineno < 1) continue;
    if (linecache_skips(frame.filename->code_points)) continue;
    wanted[frame.filename->code_points].insert(frame.lineno);
  }
}

// --exceptions: the lines of each traceback entry, from its line to its end line (3.13+ show a
// position over several lines; at most kMaxLinesPerEntry of them).
constexpr int kMaxLinesPerEntry = 64;

void want_lines_of(const HandledException& exception,
                   std::map<std::u32string, std::set<int>>& wanted) {
  for (const ExceptionValue& value : exception.values) {
    for (const TracebackEntry& entry : value.traceback) {
      if (!entry.filename || !entry.filename->complete() || entry.lineno < 1) continue;
      if (linecache_skips(entry.filename->code_points)) continue;
      std::set<int>& lines = wanted[entry.filename->code_points];
      const int last = entry.end_lineno >= entry.lineno
                           ? std::min(entry.end_lineno, entry.lineno + kMaxLinesPerEntry - 1)
                           : entry.lineno;
      for (int line = entry.lineno; line <= last; ++line) lines.insert(line);
    }
  }
}

// The threads' frames, the exceptions they handle (--exceptions), and the coroutine frames of
// asyncio's tasks (--tasks).
std::map<std::u32string, std::set<int>> wanted_lines(const Snapshot& snapshot) {
  std::map<std::u32string, std::set<int>> wanted;
  for (const Interpreter& interp : snapshot.interpreters) {
    for (const Thread& thread : interp.threads) {
      want_lines_of(thread.frames, wanted);
      if (thread.exception) want_lines_of(*thread.exception, wanted);
    }
    if (!interp.tasks) continue;
    for (const AsyncioTaskList& list : interp.tasks->lists) {
      for (const AsyncioTask& task : list.tasks) want_lines_of(task.coroutine_stack, wanted);
    }
  }
  return wanted;
}

}  // namespace

SourcePathResolver target_source_resolver(const Target& target) {
  return [&target](const std::string& target_path) { return target.source_file(target_path); };
}

SourcePathResolver plain_source_resolver(const std::string& cwd) {
  return [cwd](const std::string& target_path) -> std::string {
    if (target_path.empty() || target_path[0] == '/' || cwd.empty()) return target_path;
    return cwd + "/" + target_path;
  };
}

SourceLines read_source_lines(const Snapshot& snapshot, const SourcePathResolver& resolve) {
  const bool python2 = release_shown(snapshot).strings == StringModel::kPython2;
  SourceLines sources;
  size_t files_read = 0, bytes_read = 0;
  for (const auto& [filename, linenos] : wanted_lines(snapshot)) {
    if (files_read >= kMaxSourceFiles || bytes_read >= kMaxSourceBytes) break;
    std::optional<std::string> target_path = filename_bytes(filename, python2);
    if (!target_path) continue;
    const std::string path = resolve(*target_path);
    if (path.empty()) continue;
    std::optional<std::string> data = read_regular_file(path);
    if (!data) continue;
    ++files_read;
    bytes_read += data->size();
    std::optional<std::vector<std::u32string>> lines =
        linecache_lines(*data, snapshot.version, iconv_knows, iconv_decode);
    if (!lines) continue;
    for (int lineno : linenos) {
      if (static_cast<size_t>(lineno) <= lines->size()) {
        sources.set_line(filename, lineno, std::move((*lines)[lineno - 1]));
      }
    }
  }
  return sources;
}

}  // namespace pystack
