// frame_first_instruction: which copy of a code's bytecode a frame runs (free-threaded 3.14+
// thread-local bytecode), read from a made-up process.
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "cpython/code_object.h"
#include "cpython/layout.h"
#include "memory/remote_memory.h"

namespace pystack {
namespace {

// Words at addresses; anything else is unmapped.
class Words final : public RemoteMemory {
 public:
  void set(uint64_t address, uint64_t value) { words_[address] = value; }
  absl::Status read(uint64_t address, void* out, size_t size) const override {
    for (size_t done = 0; done < size; done += 8) {
      auto it = words_.find(address + done);
      if (it == words_.end() || size - done < 8) return absl::NotFoundError("unmapped");
      std::memcpy(static_cast<char*>(out) + done, &it->second, 8);
    }
    return absl::OkStatus();
  }

 private:
  std::map<uint64_t, uint64_t> words_;
};

constexpr uint64_t kCode = 0x1000, kArray = 0x2000;

Layout free_threaded_layout() {
  Layout layout;
  layout.free_threaded = 1;
  layout.code.tlbc = 224;
  layout.iframe.tlbc_index = 72;
  return layout;
}

TEST(FrameFirstInstruction, PicksTheThreadsCopyOfTheBytecode) {
  Words memory;
  memory.set(kCode + 224, kArray);  // co_tlbc
  memory.set(kArray, 3);            // _PyCodeArray.size
  memory.set(kArray + 8, kCode + 232);
  memory.set(kArray + 16, 0x5000);
  memory.set(kArray + 24, 0x6000);
  CodeObject code;
  code.first_instruction = kCode + 232;
  const Layout layout = free_threaded_layout();
  EXPECT_EQ(frame_first_instruction(memory, layout, code, kCode, 0), kCode + 232);
  EXPECT_EQ(frame_first_instruction(memory, layout, code, kCode, 1), 0x5000u);
  EXPECT_EQ(frame_first_instruction(memory, layout, code, kCode, 2), 0x6000u);
  // Past the array, negative, or an unreadable array: no first instruction (no line).
  EXPECT_EQ(frame_first_instruction(memory, layout, code, kCode, 3), 0u);
  EXPECT_EQ(frame_first_instruction(memory, layout, code, kCode, -1), 0u);
  memory.set(kCode + 224, 0x9000);
  EXPECT_EQ(frame_first_instruction(memory, layout, code, kCode, 1), 0u);
}

TEST(FrameFirstInstruction, ADefaultBuildRunsCoCodeAdaptive) {
  Words memory;  // nothing is read
  CodeObject code;
  code.first_instruction = kCode + 208;
  Layout layout;  // code.tlbc = -1
  EXPECT_EQ(frame_first_instruction(memory, layout, code, kCode, 0), kCode + 208);
  EXPECT_EQ(frame_first_instruction(memory, layout, code, kCode, 5), kCode + 208);
}

}  // namespace
}  // namespace pystack
