#include "cpython/os_thread_names.h"

#include "cpython/releases.h"

namespace pystack {
namespace {

constexpr std::string_view kMainThreadName = "MainThread";  // threading._MainThread's name

// A lone surrogate as to_utf8 writes it: "\\udXXX" with X in 8..f for the first digit.
constexpr size_t kSurrogateLength = 6;
bool starts_surrogate(std::string_view text, size_t i) {
  if (text.substr(i, 3) != "\\ud" || i + kSurrogateLength > text.size()) return false;
  const std::string_view digits = text.substr(i + 3, 3);
  return std::string_view("89abcdef").find(digits[0]) != std::string_view::npos &&
         digits.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

std::string os_thread_name_from_python_name(std::string_view python_name) {
  std::string encoded;
  for (size_t i = 0; i < python_name.size() && encoded.size() < kOsThreadNameMaxBytes;) {
    if (starts_surrogate(python_name, i)) {
      encoded += '?';
      i += kSurrogateLength;
    } else {
      encoded += python_name[i++];
    }
  }
  return encoded;
}

bool python_names_os_threads(const PythonVersion& version) {
  return release_at_or_before(version).names_os_threads;
}

void infer_os_thread_names(Snapshot& snapshot, uint64_t main_tid, std::string_view process_name) {
  for (Interpreter& interp : snapshot.interpreters) {
    for (Thread& thread : interp.threads) {
      if (thread.os_name) continue;
      const bool is_main = thread.native_thread_id == main_tid;
      // The main thread calls set_name only when it renames itself.
      if (thread.name && !thread.name->empty() && !(is_main && *thread.name == kMainThreadName)) {
        thread.os_name = os_thread_name_from_python_name(*thread.name);
      } else {
        thread.os_name = std::string(process_name);
      }
    }
  }
}

}  // namespace pystack
