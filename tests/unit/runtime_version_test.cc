// identify_runtime for binaries whose file name does not tell the version (3.7-3.10 have no
// Py_Version): the PY_VERSION strings found in .rodata, checked against memory when several fit.
#include <cstring>
#include <map>
#include <string>

#include "common/errors.h"
#include "cpython/runtime.h"
#include "gtest/gtest.h"

namespace pystack {
namespace {

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

// A _PyRuntime of `layout` whose interpreter list holds one interpreter with one thread.
uint64_t make_runtime(FakeMemory& memory, const Layout& layout) {
  const uint64_t runtime = memory.allocate(0x2000);
  const uint64_t interp = memory.allocate(layout.interp.size);
  const uint64_t tstate = memory.allocate(layout.tstate.size);
  memory.put(runtime + layout.runtime.interpreters_head, interp);
  memory.put(interp + layout.interp.threads_head, tstate);
  memory.put(tstate + layout.tstate.interp, interp);
  return runtime;
}

PythonBinary unnamed_binary(uint64_t runtime, std::vector<VersionString> strings) {
  PythonBinary binary;
  binary.path = "/opt/app/python";
  binary.runtime = runtime;
  binary.rodata_versions = std::move(strings);
  return binary;
}

TEST(RuntimeVersion, OneVersionStringDecides) {
  FakeMemory memory;
  const uint64_t runtime = memory.allocate(0x2000);  // not even initialised
  absl::StatusOr<PythonRuntime> found = identify_runtime(
      memory, unnamed_binary(runtime, {{2, 2, 5}, {3, 9, 18}, {1, 2, 13}}));
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->version.major, 3);
  EXPECT_EQ(found->version.minor, 9);
  EXPECT_EQ(found->version.micro, 18);
  EXPECT_EQ(found->layout.minor, 9);
}

TEST(RuntimeVersion, MemoryChoosesAmongSeveral) {
  // 3.7 keeps interpreters.head at another offset than 3.9: only 3.9's layout finds the list.
  FakeMemory memory;
  const uint64_t runtime = make_runtime(memory, *find_layout(3, 9));
  absl::StatusOr<PythonRuntime> found =
      identify_runtime(memory, unnamed_binary(runtime, {{3, 7, 16}, {3, 9, 18}}));
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->version.minor, 9);
}

TEST(RuntimeVersion, NoVersionIsAnError) {
  FakeMemory memory;
  const uint64_t runtime = memory.allocate(0x2000);
  absl::StatusOr<PythonRuntime> found =
      identify_runtime(memory, unnamed_binary(runtime, {{2, 2, 5}}));
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(error_kind(found.status()), ErrorKind::kUnsupportedVersion);
  EXPECT_NE(found.status().message().find("cannot tell the Python version of /opt/app/python"),
            std::string::npos)
      << found.status();
}

TEST(RuntimeVersion, AmbiguousWhenMemoryCannotTell) {
  // 3.8 and 3.9 lay out the interpreter list alike, and nothing is initialised.
  FakeMemory memory;
  const uint64_t runtime = memory.allocate(0x2000);
  absl::StatusOr<PythonRuntime> found =
      identify_runtime(memory, unnamed_binary(runtime, {{3, 8, 18}, {3, 9, 18}}));
  ASSERT_FALSE(found.ok());
  EXPECT_NE(found.status().message().find("3.8.18, 3.9.18"), std::string::npos) << found.status();
}

}  // namespace
}  // namespace pystack
