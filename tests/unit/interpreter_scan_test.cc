// The search for the interpreter list of a stripped 2.7/3.6 (cpython/interpreter_scan.h) on
// made-up memory laid out with the real 2.7 and 3.6 layouts.
#include "cpython/interpreter_scan.h"

#include <cstring>
#include <map>
#include <string>

#include "gtest/gtest.h"

namespace pystack {
namespace {

// Memory made of separately allocated zeroed blocks; anything else is unreadable.
class FakeMemory final : public RemoteMemory {
 public:
  absl::Status read(uint64_t address, void* out, size_t size) const override {
    auto it = blocks_.upper_bound(address);
    if (it == blocks_.begin()) return absl::DataLossError("unmapped");
    --it;
    const uint64_t offset = address - it->first;
    if (offset > it->second.size() || size > it->second.size() - offset) {
      return absl::DataLossError("unmapped");
    }
    std::memcpy(out, it->second.data() + offset, size);
    return absl::OkStatus();
  }
  uint64_t allocate(size_t size) {
    const uint64_t address = next_;
    next_ += 0x100000;
    blocks_[address] = std::string((size + 4095) / 4096 * 4096, '\0');
    return address;
  }
  void put(uint64_t address, uint64_t value) {
    auto it = std::prev(blocks_.upper_bound(address));
    std::memcpy(it->second.data() + (address - it->first), &value, sizeof value);
  }

 private:
  std::map<uint64_t, std::string> blocks_;
  uint64_t next_ = 0x7f0000000000;
};

// An interpreter with one thread, in memory: interp->tstate_head = tstate, tstate->interp = interp.
uint64_t make_interpreter(FakeMemory& memory, const Layout& layout, uint64_t next = 0) {
  const uint64_t interp = memory.allocate(layout.interp.size);
  const uint64_t tstate = memory.allocate(layout.tstate.size);
  memory.put(interp + layout.interp.threads_head, tstate);
  memory.put(interp + layout.interp.next, next);
  memory.put(tstate + layout.tstate.interp, interp);
  return interp;
}

class InterpreterScan : public ::testing::TestWithParam<std::pair<int, int>> {
 protected:
  const Layout& layout() const { return *find_layout(GetParam().first, GetParam().second); }
};

TEST_P(InterpreterScan, FindsTheSlotHoldingTheInterpreter) {
  FakeMemory memory;
  const uint64_t data = memory.allocate(0x3000);
  const uint64_t interp = make_interpreter(memory, layout());
  const uint64_t decoy = memory.allocate(0x1000);  // a heap object that is no interpreter
  memory.put(data + 0x10, decoy);
  memory.put(data + 0x18, data + 0x100);  // points into the data itself: not a candidate
  memory.put(data + 0x2008, interp);
  absl::StatusOr<uint64_t> slot =
      find_interpreter_head_slot(memory, layout(), {{data, 0x3000}}, std::nullopt);
  ASSERT_TRUE(slot.ok()) << slot.status();
  EXPECT_EQ(*slot, data + 0x2008);
  EXPECT_TRUE(is_interpreter(memory, layout(), interp));
  EXPECT_FALSE(is_interpreter(memory, layout(), decoy));
}

TEST_P(InterpreterScan, PrefersTheHeadOfTheList) {
  FakeMemory memory;
  const uint64_t data = memory.allocate(0x1000);
  const uint64_t main_interp = make_interpreter(memory, layout());
  const uint64_t sub_interp = make_interpreter(memory, layout(), /*next=*/main_interp);
  memory.put(data + 0x20, main_interp);  // e.g. autoInterpreterState
  memory.put(data + 0x40, sub_interp);   // interp_head: the newest
  absl::StatusOr<uint64_t> slot =
      find_interpreter_head_slot(memory, layout(), {{data, 0x1000}}, std::nullopt);
  ASSERT_TRUE(slot.ok()) << slot.status();
  EXPECT_EQ(*slot, data + 0x40);
}

TEST_P(InterpreterScan, UsesTheCurrentThreadState) {
  FakeMemory memory;
  const uint64_t data = memory.allocate(0x1000);
  const uint64_t interp = make_interpreter(memory, layout());
  uint64_t tstate = 0;
  ASSERT_TRUE(memory.read(interp + layout().interp.threads_head, &tstate, 8).ok());
  const uint64_t current = data + 0x100;  // _PyThreadState_Current
  memory.put(current, tstate);
  memory.put(data + 0x300, interp);
  absl::StatusOr<uint64_t> slot =
      find_interpreter_head_slot(memory, layout(), {{data, 0x1000}}, current);
  ASSERT_TRUE(slot.ok()) << slot.status();
  EXPECT_EQ(*slot, data + 0x300);
}

// A worker thread, the newest (the head of the thread list), holds the GIL: in 2.7 its thread
// state, which _PyThreadState_Current holds, looks like an interpreter too (tstate->interp and
// interp->tstate_head are both at offset 8).
TEST_P(InterpreterScan, IgnoresTheCurrentThreadStateAtTheHeadOfTheThreadList) {
  FakeMemory memory;
  const uint64_t data = memory.allocate(0x1000);
  const uint64_t interp = make_interpreter(memory, layout());
  uint64_t main_tstate = 0;
  ASSERT_TRUE(memory.read(interp + layout().interp.threads_head, &main_tstate, 8).ok());
  const uint64_t worker = memory.allocate(layout().tstate.size);
  memory.put(worker + layout().tstate.interp, interp);
  memory.put(worker + layout().tstate.next, main_tstate);
  if (layout().tstate.prev >= 0) memory.put(main_tstate + layout().tstate.prev, worker);
  memory.put(interp + layout().interp.threads_head, worker);
  memory.put(data + 0x100, worker);  // _PyThreadState_Current
  memory.put(data + 0x300, interp);  // interp_head
  absl::StatusOr<uint64_t> slot =
      find_interpreter_head_slot(memory, layout(), {{data, 0x1000}}, data + 0x100);
  ASSERT_TRUE(slot.ok()) << slot.status();
  EXPECT_EQ(*slot, data + 0x300);
}

// The same with the only thread, its state allocated below the interpreter (no tie-break by
// address can save the scan).
TEST_P(InterpreterScan, IgnoresTheCurrentThreadStateOfTheOnlyThread) {
  FakeMemory memory;
  const uint64_t data = memory.allocate(0x1000);
  const uint64_t tstate = memory.allocate(layout().tstate.size);
  const uint64_t interp = memory.allocate(layout().interp.size);
  memory.put(interp + layout().interp.threads_head, tstate);
  memory.put(tstate + layout().tstate.interp, interp);
  memory.put(data + 0x100, tstate);  // _PyThreadState_Current
  memory.put(data + 0x300, interp);  // interp_head
  absl::StatusOr<uint64_t> slot =
      find_interpreter_head_slot(memory, layout(), {{data, 0x1000}}, data + 0x100);
  ASSERT_TRUE(slot.ok()) << slot.status();
  EXPECT_EQ(*slot, data + 0x300);
}

TEST_P(InterpreterScan, FailsWithoutAnInterpreterAndSurvivesHoles) {
  FakeMemory memory;
  const uint64_t data = memory.allocate(0x1000);
  memory.put(data, 0x1234567800);  // unmapped
  // A range partly unmapped, one absurdly large, one that wraps: skipped or read where possible.
  absl::StatusOr<uint64_t> slot = find_interpreter_head_slot(
      memory, layout(), {{data, 0x5000}, {0x1000, uint64_t{1} << 60}, {~uint64_t{0} - 8, 64}},
      std::nullopt);
  EXPECT_FALSE(slot.ok());
}

INSTANTIATE_TEST_SUITE_P(Layouts, InterpreterScan,
                         ::testing::Values(std::make_pair(2, 7), std::make_pair(3, 6)),
                         [](const auto& info) {
                           return "py" + std::to_string(info.param.first) + "_" +
                                  std::to_string(info.param.second);
                         });

}  // namespace
}  // namespace pystack
