// Helpers shared by the symbols/ unit tests: finding the interpreters installed on this machine and
// asking binutils (an independent ELF reader) what they contain.
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace pystack::symbols_test {

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `command` through the shell and returns its standard output.
inline std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[65536];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  pclose(pipe);
  return out;
}

inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// These tests read the interpreters' real files, which a machine may not have: without what a
// test needs it is skipped, saying so (a test that checked nothing must not pass).
#define SKIP_UNLESS(condition, needed) \
  if (!(condition)) GTEST_SKIP() << "needs " << (needed) << ", which this machine lacks"

inline std::filesystem::path pyenv_root() {
  std::string root = trim(run("pyenv root 2>/dev/null"));
  if (root.empty() && getenv("PYENV_ROOT") != nullptr) root = getenv("PYENV_ROOT");
  if (root.empty() && getenv("HOME") != nullptr) root = std::string(getenv("HOME")) + "/.pyenv";
  return root;
}

// One pyenv installation: "3.12.1", its shared library and its executable.
struct Interpreter {
  std::string version;  // "3.12.1"
  int major = 0, minor = 0;
  std::filesystem::path library;     // .../lib/libpython3.12.so.1.0 (the real file)
  std::filesystem::path executable;  // .../bin/python3.12
};

inline std::vector<Interpreter> pyenv_interpreters() {
  std::vector<Interpreter> found;
  std::error_code ec;
  for (const auto& dir : std::filesystem::directory_iterator(pyenv_root() / "versions", ec)) {
    Interpreter interp;
    interp.version = dir.path().filename().string();
    if (sscanf(interp.version.c_str(), "%d.%d", &interp.major, &interp.minor) != 2) continue;
    std::string mm = std::to_string(interp.major) + "." + std::to_string(interp.minor);
    for (const char* suffix : {"", "m"}) {
      auto lib = dir.path() / "lib" / ("libpython" + mm + suffix + ".so.1.0");
      if (std::filesystem::is_regular_file(lib)) interp.library = lib;
    }
    interp.executable = dir.path() / "bin" / ("python" + mm);
    if (!interp.library.empty() && std::filesystem::exists(interp.executable)) {
      found.push_back(interp);
    }
  }
  std::sort(found.begin(), found.end(), [](const Interpreter& a, const Interpreter& b) {
    return std::pair(a.major, a.minor) < std::pair(b.major, b.minor);
  });
  return found;
}

inline std::optional<Interpreter> pyenv_interpreter(int major, int minor) {
  for (const Interpreter& i : pyenv_interpreters()) {
    if (i.major == major && i.minor == minor) return i;
  }
  return std::nullopt;
}

// Every $(pyenv root)/versions/*/lib/libpython*.so* file (symlinks resolved, each file once),
// including the small stable-ABI libpython3.so.
inline std::vector<std::filesystem::path> pyenv_libpython_files() {
  std::set<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& dir : std::filesystem::directory_iterator(pyenv_root() / "versions", ec)) {
    std::error_code ec2;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path() / "lib", ec2)) {
      std::string name = entry.path().filename().string();
      if (name.starts_with("libpython") && name.find(".so") != std::string::npos &&
          std::filesystem::is_regular_file(entry.path())) {
        files.insert(std::filesystem::canonical(entry.path()));
      }
    }
  }
  return {files.begin(), files.end()};
}

inline const char* kDebianPython = "/usr/bin/python3.11";

// name -> value of the symbols `nm` prints (nm_flags: "-D --defined-only" or "--defined-only").
// Names defined more than once (versions, or locals of several files) are dropped: they have no
// single expected value.
inline std::map<std::string, uint64_t> nm_symbols(const std::filesystem::path& file,
                                                  const std::string& nm_flags) {
  std::istringstream lines(run("nm " + nm_flags + " " + shell_quote(file) + " 2>/dev/null"));
  std::map<std::string, uint64_t> symbols;
  std::set<std::string> duplicates;
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string value, type, name;
    if (!(fields >> value >> type >> name) || name.find('@') != std::string::npos) continue;
    if (!symbols.emplace(name, std::stoull(value, nullptr, 16)).second) duplicates.insert(name);
  }
  for (const std::string& name : duplicates) symbols.erase(name);
  return symbols;
}

// A temporary directory, removed with its contents at the end of the scope.
class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/symbols-test-XXXXXX";
    path_ = mkdtemp(name);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace pystack::symbols_test
