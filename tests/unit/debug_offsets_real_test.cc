// _Py_DebugOffsets of real interpreters (tests/unit/data/debug_offsets_<version>.txt, each read
// by the interpreter from its own _PyRuntime: scripts/gen-debug-offsets-fixtures): every
// recording parses, the offsets it publishes agree with the tables generated from the same
// release's headers (third_party/cpython/), and a release newer than any known (3.16) is read as
// 3.15 when its offsets have 3.15's layout, refused (exit 7) when they do not.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "common/errors.h"
#include "cpython/debug_offsets.h"
#include "cpython/debug_offsets_format.h"
#include "cpython/releases.h"
#include "cpython/runtime.h"
#include "symbols/python_binary.h"
#include "memory/remote_memory.h"

namespace pystack {
namespace {

struct Recording {
  std::string file;
  int major = 0, minor = 0, micro = 0;
  bool debug = false;
  bool free_threaded = false;
  std::string image;
};

std::vector<Recording> recordings() {
  std::vector<Recording> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("tests/unit/data", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("debug_offsets_", 0) != 0) continue;
    std::ifstream in(entry.path());
    Recording r;
    r.file = name;
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream words(line);
      std::string key;
      words >> key;
      if (key == "version") {
        std::string version, hex;
        int debug = 0;
        words >> version >> hex >> debug;
        std::sscanf(version.c_str(), "%d.%d.%d", &r.major, &r.minor, &r.micro);
        r.debug = debug != 0;
      } else if (key == "image") {
        std::string hex;
        words >> hex;
        r.image = absl::HexStringToBytes(hex);
      } else if (key == "free_threaded") {
        int free_threaded = 0;
        words >> free_threaded;
        r.free_threaded = free_threaded != 0;
      }
    }
    out.push_back(r);
  }
  return out;
}

TEST(RealDebugOffsets, RecordingsArePresent) {
  // 3.14 and 3.15 at least: the releases whose layout comes mostly from _Py_DebugOffsets.
  bool has314 = false, has315 = false;
  for (const Recording& r : recordings()) {
    has314 = has314 || (r.minor == 14 && !r.debug);
    has315 = has315 || r.minor == 15;
  }
  EXPECT_TRUE(has314 && has315) << "run from the repository root, with tests/unit/data";
}

// The fields both _Py_DebugOffsets and the generated tables give (sizes aside: Debian's 3.15 is
// built with the JIT, which grows the thread and interpreter states by a word).
void expect_same_offsets(const Layout& from_target, const Layout& table) {
#define SAME(field) EXPECT_EQ(from_target.field, table.field) << #field
  SAME(runtime.interpreters_head);
  SAME(interp.next);
  SAME(interp.threads_head);
  SAME(interp.id);
  SAME(interp.gc_collecting);
  SAME(interp.ceval_gil);
  SAME(gil.locked);
  SAME(gil.last_holder);
  SAME(tstate.prev);
  SAME(tstate.next);
  SAME(tstate.interp);
  SAME(tstate.frame);
  SAME(tstate.thread_id);
  SAME(tstate.native_thread_id);
  SAME(tstate.datastack_chunk);
  SAME(iframe.code);
  SAME(iframe.instr);
  SAME(iframe.previous);
  SAME(iframe.owner);
  SAME(iframe.localsplus);
  SAME(code.filename);
  SAME(code.name);
  SAME(code.qualname);
  SAME(code.linetable);
  SAME(code.firstlineno);
  SAME(code.adaptive);
  SAME(object.type);
  SAME(type.flags);
  SAME(unicode.length);
  SAME(unicode.state);
  SAME(unicode.ascii_size);
  SAME(tuple.items);
  SAME(list.items);
  SAME(dict.keys);
  SAME(dict.values);
  SAME(float_object.value);
  SAME(long_object.tag);
  SAME(long_object.digits);
  SAME(bytes.sval);
  SAME(set.used);
  SAME(set.table);
  SAME(set.mask);
#undef SAME
}

TEST(RealDebugOffsets, EveryRecordingGivesALayout) {
  for (const Recording& r : recordings()) {
    SCOPED_TRACE(r.file);
    ASSERT_TRUE(has_debug_offsets(r.image));
    const uint64_t hex = debug_offsets_version(r.image);
    EXPECT_EQ(static_cast<int>((hex >> 24) & 0xff), r.major);
    EXPECT_EQ(static_cast<int>((hex >> 16) & 0xff), r.minor);
    // A free-threaded build says so in its image, and has a table of its own (3.13t).
    EXPECT_EQ(debug_offsets_word(r.image, kDebugOffsetsFreeThreadedWord) != 0, r.free_threaded);
    const Release* release = find_release(PythonVersion{r.major, r.minor, r.micro, 0});
    ASSERT_NE(release, nullptr);
    const Layout* table = r.free_threaded ? release->free_threaded_layout : release->layout;
    ASSERT_NE(table, nullptr) << "no generated table for " << r.file;
    absl::StatusOr<Layout> layout = r.minor >= 14
                                        ? layout_from_debug_offsets(r.image, table)
                                        : layout_from_debug_offsets_313(r.image, *table);
    ASSERT_TRUE(layout.ok()) << layout.status();
    EXPECT_EQ(layout->major, r.major);
    EXPECT_EQ(layout->minor, r.minor);
    // The object model no _Py_DebugOffsets publishes comes from the table.
    EXPECT_EQ(layout->dict_entry.size, table->dict_entry.size);
    EXPECT_EQ(layout->cell.ref, table->cell.ref);
    // A debug build lays its structs out differently from the release the table is from.
    if (!r.debug) expect_same_offsets(*layout, *table);
    EXPECT_EQ(layout->free_threaded, r.free_threaded ? 1 : 0);
    EXPECT_EQ(layout->gil.enabled, table->gil.enabled);
  }
}

// A process image holding one _PyRuntime at kRuntime.
class RuntimeImage final : public RemoteMemory {
 public:
  static constexpr uint64_t kRuntime = 0x10000;
  explicit RuntimeImage(std::string image) : image_(std::move(image)) {}
  absl::Status read(uint64_t address, void* out, size_t size) const override {
    if (address < kRuntime || address - kRuntime > image_.size() ||
        size > image_.size() - (address - kRuntime)) {
      return absl::NotFoundError("unmapped");
    }
    std::memcpy(out, image_.data() + (address - kRuntime), size);
    return absl::OkStatus();
  }

 private:
  std::string image_;
};

// 3.15.2's recording with its version word (after the 8-byte cookie) set to `hex`.
std::string recorded_315_as(uint64_t hex) {
  for (const Recording& r : recordings()) {
    if (r.minor != 15 || r.debug) continue;
    std::string image = r.image;
    std::memcpy(image.data() + 8, &hex, sizeof hex);
    return image;
  }
  return "";
}

PythonBinary binary_at_runtime() {
  PythonBinary binary;
  binary.path = "/usr/bin/python3.16";
  binary.runtime = RuntimeImage::kRuntime;
  return binary;
}

TEST(NewerRelease, ReadAsTheNewestKnownWhenItsOffsetsMatch) {
  const std::string image = recorded_315_as(0x031000a0);  // 3.16.0a0
  ASSERT_FALSE(image.empty());
  RuntimeImage memory(image);
  absl::StatusOr<PythonRuntime> runtime = identify_runtime(memory, binary_at_runtime());
  ASSERT_TRUE(runtime.ok()) << runtime.status();
  EXPECT_EQ(runtime->version.minor, 16);
  ASSERT_TRUE(runtime->read_as.has_value());
  EXPECT_EQ(runtime->read_as->minor, 15);
  EXPECT_EQ(runtime->layout.minor, 15);
}

TEST(NewerRelease, RefusedWhenItsOffsetsDoNotMatch) {
  std::string image = recorded_315_as(0x031000a0);
  ASSERT_FALSE(image.empty());
  image.resize(200);  // a _Py_DebugOffsets that no longer has 3.15's layout
  image.resize(2048, '\xff');
  RuntimeImage memory(image);
  absl::StatusOr<PythonRuntime> runtime = identify_runtime(memory, binary_at_runtime());
  ASSERT_FALSE(runtime.ok());
  EXPECT_EQ(error_kind(runtime.status()), ErrorKind::kUnsupportedVersion);
  EXPECT_NE(runtime.status().message().find("3.16.0"), std::string::npos)
      << runtime.status().message();
}

TEST(NewerRelease, FreeThreadedRefusedWithADefaultBuildsTable) {
  for (const Recording& r : recordings()) {
    if (r.minor != 14 || r.debug) continue;
    std::string image = r.image;
    const uint64_t free_threaded = 1;
    std::memcpy(image.data() + 16, &free_threaded, sizeof free_threaded);
    absl::StatusOr<Layout> layout = layout_from_debug_offsets(image, find_layout(3, 14));
    ASSERT_FALSE(layout.ok());
    EXPECT_NE(layout.status().message().find("free-threaded"), std::string::npos);
  }
}

}  // namespace
}  // namespace pystack
