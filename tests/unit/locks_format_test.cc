// find_deadlocks (the wait-for graph's cycles) and format_locks (the --locks section), on
// hand-made reports: the expected texts are the format's specification (README, "Locks").

#include <string>
#include <vector>

#include "format/locks_text.h"
#include "gtest/gtest.h"
#include "snapshot/deadlocks.h"

namespace pystack {
namespace {

LockWait Wait(uint64_t thread, uint64_t holder, LockHolder kind = LockHolder::kRecorded) {
  LockWait wait;
  wait.thread_id = thread;
  wait.object = {0x1000 + thread, "RLock", std::nullopt};
  wait.holder = kind;
  if (kind == LockHolder::kRecorded || kind == LockHolder::kInferred) {
    wait.holder_thread_id = holder;
  }
  wait.how = "the RLock's owner";
  return wait;
}

using Cycles = std::vector<std::vector<uint64_t>>;

TEST(Deadlocks, TwoThreadsOnEachOthersLocks) {
  EXPECT_EQ(find_deadlocks({Wait(20, 10), Wait(10, 20)}), (Cycles{{10, 20}}));
}

TEST(Deadlocks, ThreeInACycleStartFromTheSmallest) {
  EXPECT_EQ(find_deadlocks({Wait(30, 10), Wait(20, 30), Wait(10, 20)}), (Cycles{{10, 20, 30}}));
}

TEST(Deadlocks, AThreadOnALockItHolds) {
  EXPECT_EQ(find_deadlocks({Wait(7, 7, LockHolder::kInferred)}), (Cycles{{7}}));
}

TEST(Deadlocks, WaitersOutsideTheCycleAndTwoCycles) {
  // 5 waits on the cycle 10 <-> 20 (but is not in it); 40 <-> 50 is another cycle; 60 waits
  // on a thread that waits for nothing.
  const Cycles cycles = find_deadlocks(
      {Wait(5, 10), Wait(10, 20), Wait(20, 10), Wait(50, 40), Wait(40, 50), Wait(60, 70)});
  EXPECT_EQ(cycles, (Cycles{{10, 20}, {40, 50}}));
}

TEST(Deadlocks, NoHolderOrUnknownHolderMakesNoEdge) {
  EXPECT_EQ(find_deadlocks({Wait(10, 20, LockHolder::kUnknown), Wait(20, 10, LockHolder::kNone)}),
            Cycles{});
  EXPECT_EQ(find_deadlocks({}), Cycles{});
}

Snapshot TwoThreads(LockReport report) {
  Snapshot snapshot;
  Interpreter interpreter;
  Thread a;
  a.thread_id = 0x7f0000000a00;
  a.name = "worker-a";
  Thread b;
  b.thread_id = 0x7f0000000b00;
  b.os_name = "b\"x";
  interpreter.threads = {a, b};
  interpreter.locks = std::move(report);
  snapshot.interpreters.push_back(std::move(interpreter));
  return snapshot;
}

TEST(LocksText, WaitsAndADeadlock) {
  LockReport report;
  LockWait a = Wait(0x7f0000000a00, 0x7f0000000b00);
  a.object = {0x7f1234, "RLock", "app.LOCK_B"};
  LockWait b = Wait(0x7f0000000b00, 0x7f0000000a00, LockHolder::kInferred);
  b.object = {0x7f5678, "lock", std::nullopt};
  b.how = "a with block in take_both";
  report.waits = {a, b};
  report.deadlocks = find_deadlocks(report.waits);
  EXPECT_EQ(format_locks(TwoThreads(report)),
            "\n"
            "Locks (pystack-dump --locks):\n"
            "  Thread 0x00007f0000000a00 \"worker-a\" waits for RLock at 0x7f1234 "
            "(app.LOCK_B): held by thread 0x00007f0000000b00 \"b\\\"x\" (recorded by CPython: "
            "the RLock's owner)\n"
            "  Thread 0x00007f0000000b00 \"b\\\"x\" waits for lock at 0x7f5678: held by "
            "thread 0x00007f0000000a00 \"worker-a\" (inferred: a with block in take_both)\n"
            "Deadlock: thread 0x00007f0000000a00 \"worker-a\" -> thread 0x00007f0000000b00 "
            "\"b\\\"x\" -> thread 0x00007f0000000a00 \"worker-a\"\n");
}

TEST(LocksText, NoHolderUnknownHolderAndNoDeadlock) {
  LockReport report;
  LockWait a = Wait(0x7f0000000a00, 0, LockHolder::kNone);
  a.object = {0x10, "Condition", "app.ready"};
  a.how = "a Condition nobody notifies";
  LockWait b = Wait(0x7f0000000b00, 0, LockHolder::kUnknown);
  b.object = {0x20, "lock", std::nullopt};
  b.how = "a Lock records no owner";
  report.waits = {a, b};
  EXPECT_EQ(format_locks(TwoThreads(report)),
            "\n"
            "Locks (pystack-dump --locks):\n"
            "  Thread 0x00007f0000000a00 \"worker-a\" waits for Condition at 0x10 (app.ready): "
            "no holder (a Condition nobody notifies)\n"
            "  Thread 0x00007f0000000b00 \"b\\\"x\" waits for lock at 0x20: holder "
            "unknown (a Lock records no owner)\n"
            "No deadlock found.\n");
}

TEST(LocksText, TheGilHasNoAddress) {
  LockReport report;
  LockWait a = Wait(0x7f0000000a00, 0x7f0000000b00);
  a.object = {0, "GIL", std::nullopt};
  a.how = "the GIL's holder";
  report.waits = {a};
  EXPECT_EQ(format_locks(TwoThreads(report)),
            "\n"
            "Locks (pystack-dump --locks):\n"
            "  Thread 0x00007f0000000a00 \"worker-a\" waits for GIL: held by thread "
            "0x00007f0000000b00 \"b\\\"x\" (recorded by CPython: the GIL's holder)\n"
            "No deadlock found.\n");
}

TEST(LocksText, NothingWaitsAndNoReport) {
  EXPECT_EQ(format_locks(TwoThreads(LockReport{})),
            "\nLocks (pystack-dump --locks):\n  No thread waits for a lock.\nNo deadlock found.\n");
  EXPECT_EQ(format_locks(Snapshot{}), "");
}

}  // namespace
}  // namespace pystack
