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
    EXPECT_EQ(layout->runtime_interpreters_head, generated->runtime_interpreters_head);
    EXPECT_EQ(layout->interp_next, generated->interp_next);
    EXPECT_EQ(layout->interp_threads_head, generated->interp_threads_head);
    EXPECT_EQ(layout->interp_id, generated->interp_id);
    EXPECT_EQ(layout->interp_gc_collecting, generated->interp_gc_collecting);
    EXPECT_EQ(layout->interp_ceval_gil, generated->interp_ceval_gil);
    EXPECT_EQ(layout->gil_locked, generated->gil_locked);
    EXPECT_EQ(layout->gil_last_holder, generated->gil_last_holder);
    EXPECT_EQ(layout->tstate_prev, generated->tstate_prev);
    EXPECT_EQ(layout->tstate_next, generated->tstate_next);
    EXPECT_EQ(layout->tstate_interp, generated->tstate_interp);
    EXPECT_EQ(layout->tstate_frame, generated->tstate_frame);
    EXPECT_EQ(layout->tstate_thread_id, generated->tstate_thread_id);
    EXPECT_EQ(layout->tstate_native_thread_id, generated->tstate_native_thread_id);
    EXPECT_EQ(layout->tstate_datastack_chunk, generated->tstate_datastack_chunk);
    EXPECT_EQ(layout->iframe_size, generated->iframe_size);
    EXPECT_EQ(layout->iframe_code, generated->iframe_code);
    EXPECT_EQ(layout->iframe_instr, generated->iframe_instr);
    EXPECT_EQ(layout->iframe_previous, generated->iframe_previous);
    EXPECT_EQ(layout->iframe_owner, generated->iframe_owner);
    EXPECT_EQ(layout->code_filename, generated->code_filename);
    EXPECT_EQ(layout->code_name, generated->code_name);
    EXPECT_EQ(layout->code_qualname, generated->code_qualname);
    EXPECT_EQ(layout->code_linetable, generated->code_linetable);
    EXPECT_EQ(layout->code_firstlineno, generated->code_firstlineno);
    EXPECT_EQ(layout->code_adaptive, generated->code_adaptive);
    EXPECT_EQ(layout->object_type, generated->object_type);
    EXPECT_EQ(layout->type_flags, generated->type_flags);
    EXPECT_EQ(layout->var_size, generated->var_size);
    EXPECT_EQ(layout->bytes_sval, generated->bytes_sval);
    EXPECT_EQ(layout->unicode_length, generated->unicode_length);
    EXPECT_EQ(layout->unicode_state, generated->unicode_state);
    EXPECT_EQ(layout->unicode_ascii_size, generated->unicode_ascii_size);
    EXPECT_EQ(layout->unicode_compact_size, generated->unicode_compact_size);
    // For --locals and thread names.
    EXPECT_EQ(layout->interp_modules, generated->interp_modules);
    EXPECT_EQ(layout->iframe_localsplus, generated->iframe_localsplus);
    EXPECT_EQ(layout->code_localsplusnames, generated->code_localsplusnames);
    EXPECT_EQ(layout->code_localspluskinds, generated->code_localspluskinds);
    EXPECT_EQ(layout->type_name, generated->type_name);
    EXPECT_EQ(layout->type_repr, generated->type_repr);
    EXPECT_EQ(layout->tuple_items, generated->tuple_items);
    EXPECT_EQ(layout->list_items, generated->list_items);
    EXPECT_EQ(layout->dict_keys, generated->dict_keys);
    EXPECT_EQ(layout->dict_values, generated->dict_values);
    EXPECT_EQ(layout->float_value, generated->float_value);
    EXPECT_EQ(layout->long_tag, generated->long_tag);
    EXPECT_EQ(layout->long_digits, generated->long_digits);
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
