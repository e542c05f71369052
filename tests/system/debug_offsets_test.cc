// _Py_DebugOffsets: the offsets a 3.13 runtime publishes must agree with the table generated
// from the same interpreter's headers, and damaged offsets must be refused.
#include "cpython/debug_offsets.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "cpython/layout.h"
#include "gtest/gtest.h"
#include "symbols/elf_file.h"

namespace pystack {
namespace {

namespace fs = std::filesystem;

std::string pyenv_root() {
  if (const char* root = std::getenv("PYENV_ROOT")) return root;
  return std::string(std::getenv("HOME") ? std::getenv("HOME") : "/root") + "/.pyenv";
}

// Every libpython3.13 shared library under pyenv.
std::vector<std::string> libpython313() {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& version : fs::directory_iterator(pyenv_root() + "/versions", ec)) {
    if (version.path().filename().string().rfind("3.13.", 0) != 0) continue;
    fs::path lib = version.path() / "lib/libpython3.13.so.1.0";
    if (fs::exists(lib)) found.push_back(lib.string());
  }
  return found;
}

// The initial bytes of _PyRuntime as stored in the file (the .PyRuntime section).
std::string runtime_image(const std::string& path) {
  absl::StatusOr<ElfFile> elf = ElfFile::open(path);
  if (!elf.ok()) return "";
  std::optional<ElfSection> section = elf->find_section(".PyRuntime");
  if (!section) return "";
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(section->file_offset));
  std::string image(kDebugOffsetsSize313, '\0');
  in.read(image.data(), static_cast<std::streamsize>(image.size()));
  return in ? image : "";
}

TEST(DebugOffsets, AgreeWithTheHeadersOfEvery313OnTheMachine) {
  const std::vector<std::string> libraries = libpython313();
  if (libraries.empty()) GTEST_SKIP() << "needs pyenv's CPython 3.13 (" << pyenv_root() << ")";
  const Layout* generated = find_layout(3, 13);
  ASSERT_NE(generated, nullptr);
  for (const std::string& library : libraries) {
    SCOPED_TRACE(library);
    const std::string image = runtime_image(library);
    ASSERT_TRUE(has_debug_offsets(image));
    EXPECT_EQ(debug_offsets_version(image) >> 16, 0x030du);
    absl::StatusOr<Layout> layout = layout_from_debug_offsets_313(image, Layout{});
    ASSERT_TRUE(layout.ok()) << layout.status();
    EXPECT_EQ(layout->runtime.interpreters_head, generated->runtime.interpreters_head);
    EXPECT_EQ(layout->interp.next, generated->interp.next);
    EXPECT_EQ(layout->interp.threads_head, generated->interp.threads_head);
    EXPECT_EQ(layout->interp.id, generated->interp.id);
    EXPECT_EQ(layout->interp.gc_collecting, generated->interp.gc_collecting);
    EXPECT_EQ(layout->interp.ceval_gil, generated->interp.ceval_gil);
    EXPECT_EQ(layout->gil.locked, generated->gil.locked);
    EXPECT_EQ(layout->gil.last_holder, generated->gil.last_holder);
    EXPECT_EQ(layout->tstate.prev, generated->tstate.prev);
    EXPECT_EQ(layout->tstate.next, generated->tstate.next);
    EXPECT_EQ(layout->tstate.interp, generated->tstate.interp);
    EXPECT_EQ(layout->tstate.frame, generated->tstate.frame);
    EXPECT_EQ(layout->tstate.thread_id, generated->tstate.thread_id);
    EXPECT_EQ(layout->tstate.native_thread_id, generated->tstate.native_thread_id);
    EXPECT_EQ(layout->tstate.datastack_chunk, generated->tstate.datastack_chunk);
    EXPECT_EQ(layout->iframe.size, generated->iframe.size);
    EXPECT_EQ(layout->iframe.code, generated->iframe.code);
    EXPECT_EQ(layout->iframe.instr, generated->iframe.instr);
    EXPECT_EQ(layout->iframe.previous, generated->iframe.previous);
    EXPECT_EQ(layout->iframe.owner, generated->iframe.owner);
    EXPECT_EQ(layout->code.filename, generated->code.filename);
    EXPECT_EQ(layout->code.name, generated->code.name);
    EXPECT_EQ(layout->code.qualname, generated->code.qualname);
    EXPECT_EQ(layout->code.linetable, generated->code.linetable);
    EXPECT_EQ(layout->code.firstlineno, generated->code.firstlineno);
    EXPECT_EQ(layout->code.adaptive, generated->code.adaptive);
    EXPECT_EQ(layout->object.type, generated->object.type);
    EXPECT_EQ(layout->type.flags, generated->type.flags);
    EXPECT_EQ(layout->object.var_size, generated->object.var_size);
    EXPECT_EQ(layout->bytes.sval, generated->bytes.sval);
    EXPECT_EQ(layout->unicode.length, generated->unicode.length);
    EXPECT_EQ(layout->unicode.state, generated->unicode.state);
    EXPECT_EQ(layout->unicode.ascii_size, generated->unicode.ascii_size);
    EXPECT_EQ(layout->unicode.compact_size, generated->unicode.compact_size);
    // For --locals and thread names.
    EXPECT_EQ(layout->interp.modules, generated->interp.modules);
    EXPECT_EQ(layout->iframe.localsplus, generated->iframe.localsplus);
    EXPECT_EQ(layout->code.localsplusnames, generated->code.localsplusnames);
    EXPECT_EQ(layout->code.localspluskinds, generated->code.localspluskinds);
    EXPECT_EQ(layout->type.name, generated->type.name);
    EXPECT_EQ(layout->type.repr, generated->type.repr);
    EXPECT_EQ(layout->tuple.items, generated->tuple.items);
    EXPECT_EQ(layout->list.items, generated->list.items);
    EXPECT_EQ(layout->dict.keys, generated->dict.keys);
    EXPECT_EQ(layout->dict.values, generated->dict.values);
    EXPECT_EQ(layout->float_object.value, generated->float_object.value);
    EXPECT_EQ(layout->long_object.tag, generated->long_object.tag);
    EXPECT_EQ(layout->long_object.digits, generated->long_object.digits);
  }
}

// A copy of a real image with one word replaced.
std::string with_word(std::string image, int index, uint64_t value) {
  std::memcpy(image.data() + index * 8, &value, sizeof value);
  return image;
}

TEST(DebugOffsets, RefusesOffsetsOutsideTheirStruct) {
  const std::vector<std::string> libraries = libpython313();
  if (libraries.empty()) GTEST_SKIP() << "needs pyenv's CPython 3.13 (" << pyenv_root() << ")";
  const std::string image = runtime_image(libraries.front());
  ASSERT_TRUE(has_debug_offsets(image));
  // Word 21 is thread_state.next, word 19 sizeof(PyThreadState).
  EXPECT_FALSE(layout_from_debug_offsets_313(with_word(image, 21, 1 << 20), Layout{}).ok());
  EXPECT_FALSE(layout_from_debug_offsets_313(with_word(image, 19, 0), Layout{}).ok());
  EXPECT_FALSE(layout_from_debug_offsets_313(with_word(image, 35, ~uint64_t{0}), Layout{}).ok());
}

TEST(DebugOffsets, RefusesTruncatedOrForeignImages) {
  EXPECT_FALSE(has_debug_offsets(""));
  EXPECT_FALSE(has_debug_offsets(std::string(64, 'x')));
  std::string short_image = std::string(kDebugOffsetsCookie) + std::string(40, '\0');
  EXPECT_TRUE(has_debug_offsets(short_image));
  EXPECT_FALSE(layout_from_debug_offsets_313(short_image, Layout{}).ok());
}

}  // namespace
}  // namespace pystack
