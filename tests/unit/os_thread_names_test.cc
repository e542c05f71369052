// The OS thread names a 3.14+ core does not hold, inferred as CPython sets them. The expected
// bytes are what CPython 3.14.10 (Debian unstable) left in /proc/self/task/TID/comm for threads
// started with each name (threading.Thread(name=...), read back by the interpreter itself).
#include "cpython/os_thread_names.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "cpython/repr.h"

namespace pystack {
namespace {

std::string utf8(std::u32string_view text) { return to_utf8(text); }

TEST(OsThreadNames, AsSetNameCutsThem) {
  struct Case {
    std::u32string python_name;
    std::string comm_hex;  // recorded from CPython 3.14.10
  };
  const Case cases[] = {
      {U"a-very-long-thread-name-\u00e9\u00e9", "612d766572792d6c6f6e672d746872"},
      {U"Thread-2 (waiter)", "5468726561642d3220287761697465"},
      {U"\u03b1\u03b1\u03b1\u03b1\u03b1\u03b1\u03b1\u03b1\u03b1", "ceb1ceb1ceb1ceb1ceb1ceb1ceb1ce"},
      {std::u32string{U'a', char32_t{0xDC80}, U'b'}, "613f62"},  // a lone surrogate: "replace"
      {U"xxxxxxxxxxxxxxx", "787878787878787878787878787878"},
      {U"\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac", "e282ace282ace282ace282ace282ac"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(absl::BytesToHexString(os_thread_name_from_python_name(utf8(c.python_name))),
              c.comm_hex);
  }
}

TEST(OsThreadNames, MainAndUnnamedThreadsKeepTheProcessName) {
  Snapshot snapshot;
  snapshot.version = {3, 14, 10, 0};
  Interpreter& interp = snapshot.interpreters.emplace_back();
  Thread worker, c_thread, main, renamed_main;
  worker.native_thread_id = 101;
  worker.name = "Thread-1 (worker)";
  c_thread.native_thread_id = 102;  // started from C: no threading name
  main.native_thread_id = 100;
  main.name = "MainThread";
  interp.threads = {worker, c_thread, main};
  infer_os_thread_names(snapshot, 100, "python3.14");
  EXPECT_EQ(interp.threads[0].os_name, "Thread-1 (worke");
  EXPECT_EQ(interp.threads[1].os_name, "python3.14");
  EXPECT_EQ(interp.threads[2].os_name, "python3.14");

  renamed_main.native_thread_id = 100;
  renamed_main.name = "service";  // renamed by itself: _thread.set_name ran in it
  interp.threads = {renamed_main};
  infer_os_thread_names(snapshot, 100, "python3.14");
  EXPECT_EQ(interp.threads[0].os_name, "service");
  EXPECT_TRUE(python_names_os_threads(snapshot.version));
  EXPECT_FALSE(python_names_os_threads({3, 13, 18, 0}));
}

}  // namespace
}  // namespace pystack
