// layout_from_debug_offsets (3.14+) on synthetic _Py_DebugOffsets images built from the C
// declarations in debug_offsets_314_test.h (CPython 3.14 and two 3.15 states; no such
// interpreter runs here): every field of the Layout, the choice between the layouts of one
// version, and the refusal of damaged or unknown images.
#include "debug_offsets_314_test.h"

#include <gtest/gtest.h>

#include <cstddef>

#include "cpython/debug_offsets.h"
#include "cpython/debug_offsets_format.h"
#include "cpython/releases.h"

namespace pystack {
namespace {

using namespace test314;  // NOLINT: test-only names
using S = Sizes;

// The Layout every example image must give, field by field.
void expect_example_layout(const Layout& l, int minor) {
  EXPECT_EQ(l.major, 3);
  EXPECT_EQ(l.minor, minor);
  EXPECT_EQ(l.pointer_size, 8);
  EXPECT_EQ(l.runtime.interpreters_head, S::kInterpretersHead);
  EXPECT_EQ(l.runtime.gil_locked, -1);
  EXPECT_EQ(l.runtime.gil_last_holder, -1);
  EXPECT_EQ(l.runtime.tstate_current, -1);
  EXPECT_EQ(l.runtime.gc_collecting, -1);
  EXPECT_EQ(l.interp.size, S::kInterpSize);
  EXPECT_EQ(l.interp.next, S::kInterpNext);
  EXPECT_EQ(l.interp.threads_head, S::kThreadsHead);
  EXPECT_EQ(l.interp.id, S::kInterpId);
  EXPECT_EQ(l.interp.gc_collecting, S::kInterpGc + S::kGcCollecting);
  EXPECT_EQ(l.interp.ceval_gil, S::kCevalGil);
  EXPECT_EQ(l.interp.modules, S::kModules);
  EXPECT_EQ(l.gil.locked, S::kGilLocked - S::kGil);
  EXPECT_EQ(l.gil.last_holder, S::kGilHolder - S::kGil);
  EXPECT_EQ(l.tstate.size, S::kTstateSize);
  EXPECT_EQ(l.tstate.prev, 0);
  EXPECT_EQ(l.tstate.next, 8);
  EXPECT_EQ(l.tstate.interp, 16);
  EXPECT_EQ(l.tstate.frame, S::kCurrentFrame);
  EXPECT_EQ(l.cframe.current_frame, -1);
  EXPECT_EQ(l.tstate.thread_id, S::kThreadId);
  EXPECT_EQ(l.tstate.native_thread_id, S::kNativeThreadId);
  EXPECT_EQ(l.tstate.datastack_chunk, S::kDatastack);
  EXPECT_EQ(l.iframe.size, S::kFrameSize);
  EXPECT_EQ(l.iframe.code, 0);
  EXPECT_EQ(l.iframe.instr, S::kInstrPtr);
  EXPECT_EQ(l.iframe.previous, 8);
  EXPECT_EQ(l.iframe.owner, S::kOwner);
  EXPECT_EQ(l.iframe.localsplus, S::kLocalsplus);
  EXPECT_EQ(l.frame.back, -1);
  EXPECT_EQ(l.frame.code, -1);
  EXPECT_EQ(l.frame.lasti, -1);
  EXPECT_EQ(l.code.filename, S::kFilename);
  EXPECT_EQ(l.code.name, S::kName);
  EXPECT_EQ(l.code.qualname, S::kQualname);
  EXPECT_EQ(l.code.linetable, S::kLinetable);
  EXPECT_EQ(l.code.firstlineno, S::kFirstLineno);
  EXPECT_EQ(l.code.adaptive, S::kCodeAdaptive);
  EXPECT_EQ(l.code.localsplusnames, S::kLocalsplusNames);
  EXPECT_EQ(l.code.localspluskinds, S::kLocalsplusKinds);
  EXPECT_EQ(l.object.type, 8);
  EXPECT_EQ(l.type.flags, S::kTpFlags);
  EXPECT_EQ(l.type.name, S::kTpName);
  EXPECT_EQ(l.type.repr, S::kTpRepr);
  EXPECT_EQ(l.object.var_size, 16);
  EXPECT_EQ(l.bytes.sval, S::kObSval);
  EXPECT_EQ(l.tuple.items, 24);
  EXPECT_EQ(l.list.items, 24);
  EXPECT_EQ(l.dict.keys, 32);
  EXPECT_EQ(l.dict.values, 40);
  EXPECT_EQ(l.float_object.value, 16);
  EXPECT_EQ(l.long_object.tag, 16);
  EXPECT_EQ(l.long_object.digits, 24);
  EXPECT_EQ(l.set.used, 24);
  EXPECT_EQ(l.set.table, 40);
  EXPECT_EQ(l.set.mask, 32);
  EXPECT_EQ(l.unicode.length, S::kLength);
  EXPECT_EQ(l.unicode.state, S::kState);
  EXPECT_EQ(l.unicode.ascii_size, S::kAsciiSize);
  EXPECT_EQ(l.unicode.compact_size, S::kCompactSize);
  EXPECT_EQ(l.unicode.data_any, S::kCompactSize);
  // Include/cpython/unicodeobject.h (GIL build): interned:2, kind:3, compact:1, ascii:1.
  EXPECT_EQ(l.unicode.kind_shift, 2);
  EXPECT_EQ(l.unicode.compact_bit, 5);
  EXPECT_EQ(l.unicode.ascii_bit, 6);
  EXPECT_EQ(l.unicode.char_size, -1);
}

TEST(DebugOffsets314, ParsesThe314ReleaseLayout) {
  absl::StatusOr<Layout> layout =
      layout_from_debug_offsets(image_of(example_offsets<DebugOffsets314>(kVersion3141)));
  ASSERT_TRUE(layout.ok()) << layout.status();
  expect_example_layout(*layout, 14);
}

TEST(DebugOffsets314, ParsesThe315Layouts) {
  absl::StatusOr<Layout> main = layout_from_debug_offsets(image_of(example_315()));
  ASSERT_TRUE(main.ok()) << main.status();
  expect_example_layout(*main, 15);
  absl::StatusOr<Layout> pre = layout_from_debug_offsets(image_of(example_315_pre()));
  ASSERT_TRUE(pre.ok()) << pre.status();
  expect_example_layout(*pre, 15);
}

// 3.15 publishes sizeof(PyCompactUnicodeObject); it is taken, not derived.
TEST(DebugOffsets314, TakesThePublishedCompactStrSize) {
  DebugOffsets315 d = example_315();
  d.unicode_object.compactunicodeobject_size = 48;
  absl::StatusOr<Layout> layout = layout_from_debug_offsets(image_of(d));
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->unicode.compact_size, 48);
  EXPECT_EQ(layout->unicode.data_any, 48);
}

// The two 3.15 layouts differ by one word in thread_state: each image is read with its own,
// whichever is tried first.
TEST(DebugOffsets314, TellsThe315LayoutsApart) {
  DebugOffsets315 main = example_315();
  main.thread_state.thread_id = 176;
  DebugOffsets315Pre pre = example_315_pre();
  pre.thread_state.thread_id = 168;
  absl::StatusOr<Layout> from_main = layout_from_debug_offsets(image_of(main));
  absl::StatusOr<Layout> from_pre = layout_from_debug_offsets(image_of(pre));
  ASSERT_TRUE(from_main.ok()) << from_main.status();
  ASSERT_TRUE(from_pre.ok()) << from_pre.status();
  EXPECT_EQ(from_main->tstate.thread_id, 176);
  EXPECT_EQ(from_pre->tstate.thread_id, 168);
}

TEST(DebugOffsets314, ReadSizeCoversEveryKnownLayout) {
  EXPECT_GE(debug_offsets_read_size(), sizeof(DebugOffsets315));
  EXPECT_GE(debug_offsets_read_size(), sizeof(DebugOffsets314));
  EXPECT_GE(debug_offsets_read_size(), kDebugOffsetsSize313);
}

// 3.13's layout is read by the same reader: its table must have the struct's 73 words.
TEST(DebugOffsets314, The313TableHasThe313Size) {
  EXPECT_EQ(static_cast<size_t>(debug_offsets_word_count(debug_offsets_format_313())) * 8,
            kDebugOffsetsSize313);
}

// ---- damaged and unknown images ----

absl::StatusCode parse_code(const std::string& image) {
  return layout_from_debug_offsets(image).status().code();
}

std::string parse_message(const std::string& image) {
  return std::string(layout_from_debug_offsets(image).status().message());
}

TEST(DebugOffsets314, RefusesAnOffsetOutsideItsStruct) {
  DebugOffsets314 d = example_offsets<DebugOffsets314>(kVersion3141);
  d.thread_state.current_frame = d.thread_state.size - 4;  // an 8-byte pointer past the end
  EXPECT_EQ(parse_code(image_of(d)), absl::StatusCode::kDataLoss);
  EXPECT_NE(parse_message(image_of(d)).find("thread_state.current_frame"), std::string::npos);

  d = example_offsets<DebugOffsets314>(kVersion3141);
  d.code_object.filename = ~uint64_t{0};  // must not wrap around the size check
  EXPECT_EQ(parse_code(image_of(d)), absl::StatusCode::kDataLoss);

  d = example_offsets<DebugOffsets314>(kVersion3141);
  d.interpreter_frame.owner = d.interpreter_frame.size;  // a 1-byte field at the very end
  EXPECT_EQ(parse_code(image_of(d)), absl::StatusCode::kDataLoss);

  d = example_offsets<DebugOffsets314>(kVersion3141);
  d.gc.collecting = d.gc.size - 2;  // an int must fit
  EXPECT_EQ(parse_code(image_of(d)), absl::StatusCode::kDataLoss);

  d = example_offsets<DebugOffsets314>(kVersion3141);
  d.interpreter_state.gc = d.interpreter_state.size - 8;  // the whole GC state must fit
  EXPECT_EQ(parse_code(image_of(d)), absl::StatusCode::kDataLoss);

  d = example_offsets<DebugOffsets314>(kVersion3141);
  d.interpreter_state.gil_runtime_state_locked = d.interpreter_state.gil_runtime_state - 8;
  EXPECT_EQ(parse_code(image_of(d)), absl::StatusCode::kDataLoss);

  DebugOffsets315 e = example_315();
  e.unicode_object.compactunicodeobject_size = 24;  // smaller than PyASCIIObject
  EXPECT_EQ(parse_code(image_of(e)), absl::StatusCode::kDataLoss);
}

TEST(DebugOffsets314, RefusesImplausibleSizes) {
  DebugOffsets314 d = example_offsets<DebugOffsets314>(kVersion3141);
  d.interpreter_state.size = 0;
  EXPECT_EQ(parse_code(image_of(d)), absl::StatusCode::kDataLoss);

  d = example_offsets<DebugOffsets314>(kVersion3141);
  d.runtime_state.size = uint64_t{1} << 40;
  EXPECT_EQ(parse_code(image_of(d)), absl::StatusCode::kDataLoss);

  d = example_offsets<DebugOffsets314>(kVersion3141);
  d.code_object.size = ~uint64_t{0};
  EXPECT_EQ(parse_code(image_of(d)), absl::StatusCode::kDataLoss);

  d = example_offsets<DebugOffsets314>(kVersion3141);
  d.unicode_object.size = 4096;  // would not fit the reader's str header buffer
  EXPECT_EQ(parse_code(image_of(d)), absl::StatusCode::kDataLoss);
}

TEST(DebugOffsets314, RefusesTruncatedImagesAndWrongCookies) {
  const std::string whole = image_of(example_offsets<DebugOffsets314>(kVersion3141));
  EXPECT_EQ(parse_code(whole.substr(0, whole.size() - 8)), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(parse_code(whole.substr(0, 20)), absl::StatusCode::kDataLoss);
  EXPECT_EQ(parse_code(whole.substr(0, 7)), absl::StatusCode::kDataLoss);
  EXPECT_EQ(parse_code(""), absl::StatusCode::kDataLoss);
  std::string wrong = whole;
  wrong[7] = 'x';  // "xdebugpx"
  EXPECT_EQ(parse_code(wrong), absl::StatusCode::kDataLoss);
}

TEST(DebugOffsets314, RefusesLayoutsItDoesNotKnow) {
  // A 3.14 image labelled 3.15, and the reverse: the anchors do not hold.
  EXPECT_EQ(parse_code(image_of(example_offsets<DebugOffsets314>(kVersion315b1))),
            absl::StatusCode::kUnimplemented);
  EXPECT_EQ(parse_code(image_of(example_315(kVersion3141))), absl::StatusCode::kUnimplemented);
  // A version with no known layout at all.
  EXPECT_EQ(parse_code(image_of(example_315(0x031000A1))), absl::StatusCode::kUnimplemented);
  // One field too many in thread_state (as a future pre-release might add): every later word
  // moves, and no known layout matches.
  struct Shifted {
    DebugOffsets314 base;
    uint64_t extra;
  } shifted{example_offsets<DebugOffsets314>(kVersion3141), 0};
  std::string image = image_of(shifted);
  const size_t status_word = offsetof(DebugOffsets314, thread_state.status);
  image.insert(status_word, std::string(8, '\0'));
  image.resize(sizeof(Shifted));
  EXPECT_EQ(parse_code(image), absl::StatusCode::kUnimplemented);
  EXPECT_NE(parse_message(image).find("does not know"), std::string::npos);
}

TEST(DebugOffsets314, RefusesFreeThreadedBuildsWithoutTheirTable) {
  DebugOffsets314 d = example_offsets<DebugOffsets314>(kVersion3141);
  d.free_threaded = 1;
  EXPECT_EQ(parse_code(image_of(d)), absl::StatusCode::kUnimplemented);
  EXPECT_NE(parse_message(image_of(d)).find("free-threaded"), std::string::npos);
}

// A 3.14t image: the object header 16 bytes longer, thread-local bytecode published.
DebugOffsets314 free_threaded_example() {
  DebugOffsets314 d = example_offsets<DebugOffsets314>(kVersion3141);
  d.free_threaded = 1;
  d.pyobject = {32, 24};
  d.tuple_object = {48, 40, 32};
  d.list_object = {56, 40, 32};
  d.bytes_object.ob_size = 32;
  d.bytes_object.ob_sval = 48;
  d.bytes_object.size = 56;
  d.interpreter_frame.tlbc_index = 72;
  d.code_object.size = 232;  // sizeof(PyCodeObject) of 3.14t, co_code_adaptive at its end
  d.code_object.co_code_adaptive = 232;
  d.code_object.co_tlbc = 224;
  d.interpreter_state.gil_runtime_state_enabled = 8;  // offsetof(struct _gil_runtime_state, enabled)
  return d;
}

TEST(DebugOffsets314, ReadsAFreeThreadedBuildWithItsTable) {
  const Release* row = find_release(PythonVersion{3, 14, 1, 0});
  ASSERT_NE(row, nullptr);
  ASSERT_NE(row->free_threaded_layout, nullptr);
  EXPECT_FALSE(row->free_threaded_verified);
  const Layout& table = *row->free_threaded_layout;
  EXPECT_EQ(table.free_threaded, 1);
  absl::StatusOr<Layout> layout = layout_from_debug_offsets(image_of(free_threaded_example()), &table);
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->free_threaded, 1);
  EXPECT_EQ(layout->object.type, 24);
  EXPECT_EQ(layout->object.var_size, 32);
  EXPECT_EQ(layout->iframe.tlbc_index, 72);
  EXPECT_EQ(layout->code.tlbc, 224);
  EXPECT_EQ(layout->gil.enabled, 8);
  // The str state's bits are the table's: `interned` is a whole byte in a free-threaded build.
  EXPECT_EQ(layout->unicode.kind_shift, table.unicode.kind_shift);
  EXPECT_EQ(layout->unicode.kind_shift, 8);
  // What no _Py_DebugOffsets publishes is the free-threaded table's.
  EXPECT_EQ(layout->object.managed_dict, -8);
  // A default build's image is not read with the free-threaded table, nor the reverse.
  const std::string default_image = image_of(example_offsets<DebugOffsets314>(kVersion3141));
  EXPECT_FALSE(layout_from_debug_offsets(default_image, &table).ok());
  EXPECT_FALSE(layout_from_debug_offsets(image_of(free_threaded_example()), row->layout).ok());
}

}  // namespace
}  // namespace pystack
