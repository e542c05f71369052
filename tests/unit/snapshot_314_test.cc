// A whole dump of a CPython 3.14/3.15 process that exists only in memory: a fake address space
// holding a runtime (its _Py_DebugOffsets built from the C declarations in
// debug_offsets_314_test.h), an interpreter, two thread states, a frame chain with the
// interpreter's own entry frames among Python frames, code objects with 3.14 location tables,
// str and bytes objects. identify_runtime and SnapshotReader walk it, format_faulthandler
// prints it.
//
// No 3.14 or 3.15 interpreter runs on this machine, so the expected texts are NOT recorded: they
// are derived by hand from Python/traceback.c of 3.14.0 (a fork of the release, typthon commit
// 71cf7bf1) and of 3.14.1+/3.15 (python/cpython after gh-140815), as the comments show.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <map>

#include <signal.h>

#include "cli/exit_codes.h"
#include "common/errors.h"
#include "cpython/runtime.h"
#include "common/utf8.h"
#include "cpython/snapshot_reader.h"
#include "cpython/stack_sampler.h"
#include "cpython/take_snapshot.h"
#include "memory/page_cache.h"
#include "memory/pthread_tid.h"
#include "memory/target.h"
#include "sampling/profile_builder.h"
#include "debug_offsets_314_test.h"
#include "format/faulthandler.h"

namespace pystack {
namespace {

using namespace test314;  // NOLINT: test-only names
using S = Sizes;

// A sparse address space of zero-filled 4 KiB pages; reads of pages never written fail.
class FakeProcess final : public RemoteMemory {
 public:
  static constexpr uint64_t kPage = 4096;

  void write(uint64_t address, const void* data, size_t size) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < size; ++i) {
      const uint64_t at = address + i;
      pages_[at / kPage][at % kPage] = bytes[i];  // operator[] makes a zeroed page
    }
  }
  template <typename T>
  void put(uint64_t address, T value) {
    write(address, &value, sizeof value);
  }
  absl::Status read(uint64_t address, void* out, size_t size) const override {
    auto* bytes = static_cast<uint8_t*>(out);
    for (size_t i = 0; i < size; ++i) {
      const uint64_t at = address + i;
      auto page = pages_.find(at / kPage);
      if (page == pages_.end()) return absl::DataLossError("unmapped");
      bytes[i] = page->second[at % kPage];
    }
    return absl::OkStatus();
  }

 private:
  std::map<uint64_t, std::array<uint8_t, kPage>> pages_;
};

// Addresses in the fake process.
constexpr uint64_t kRuntime = 0x10000;
constexpr uint64_t kInterp = 0x100000;
constexpr uint64_t kThreadA = 0x200000;  // newest thread, no Python frame
constexpr uint64_t kGlobalsDict = 0x7f0000000040;  // f_globals, f_builtins: any non-NULL value
constexpr uint64_t kCodeType = 0x7f0000000080;     // PyCode_Type
constexpr uint64_t kThreadB = 0x210000;  // the main thread, holds the GIL
constexpr uint64_t kFrameTop = 0x300100;
constexpr uint64_t kEntryFrame = 0x300200;     // FRAME_OWNED_BY_INTERPRETER, between the two
constexpr uint64_t kFrameModule = 0x300300;
constexpr uint64_t kBottomEntryFrame = 0x300400;
constexpr uint64_t kStrType = 0x400000;
constexpr uint64_t kBytesType = 0x401000;
constexpr uint64_t kNone = 0x402000;
constexpr uint64_t kCodeInner = 0x600000;
constexpr uint64_t kCodeModule = 0x610000;
constexpr uint64_t kObjects = 0x700000;  // str and bytes objects, one page each
constexpr uint64_t kThreadIdA = 0x00007f3a2b1ff6c0;
constexpr uint64_t kThreadIdB = 0x00007f3a2c8e1740;

constexpr uint64_t kTpFlagsUnicode = 1ULL << 28;  // Py_TPFLAGS_UNICODE_SUBCLASS
constexpr uint64_t kTpFlagsBytes = 1ULL << 27;    // Py_TPFLAGS_BYTES_SUBCLASS
constexpr uint8_t kOwnedByThread = 0;             // FRAME_OWNED_BY_THREAD
constexpr uint8_t kOwnedByInterpreter = 3;        // FRAME_OWNED_BY_INTERPRETER (3.14, 3.15)

class ProcessBuilder {
 public:
  // Objects go to pages from kObjects + first_object pages on.
  explicit ProcessBuilder(FakeProcess& memory, int first_object = 0)
      : memory_(memory), objects_(first_object) {}

  // A compact str: PyASCIIObject (ob_refcnt, ob_type, length, hash, state), then for
  // non-ASCII text the rest of PyCompactUnicodeObject (utf8_length, utf8), then the data.
  // state: kind in bits 2-4, compact bit 5, ascii bit 6.
  uint64_t str(const std::u32string& text) {
    const uint64_t address = next_object();
    const bool ascii = std::all_of(text.begin(), text.end(), [](char32_t c) { return c < 128; });
    const char32_t widest = text.empty() ? 0 : *std::max_element(text.begin(), text.end());
    const int kind = widest < 256 ? 1 : widest < 65536 ? 2 : 4;
    memory_.put<uint64_t>(address, 1);  // ob_refcnt
    memory_.put<uint64_t>(address + 8, kStrType);
    memory_.put<int64_t>(address + S::kLength, static_cast<int64_t>(text.size()));
    memory_.put<int64_t>(address + 24, -1);  // hash
    memory_.put<uint32_t>(address + S::kState, (kind << 2) | (1 << 5) | (ascii ? 1 << 6 : 0));
    uint64_t data = address + (ascii ? S::kAsciiSize : S::kCompactSize);
    for (char32_t c : text) {
      memory_.write(data, &c, kind);  // little endian: the low `kind` bytes
      data += kind;
    }
    return address;
  }

  uint64_t bytes(const std::string& contents) {
    const uint64_t address = next_object();
    memory_.put<uint64_t>(address, 1);
    memory_.put<uint64_t>(address + 8, kBytesType);
    memory_.put<int64_t>(address + 16, static_cast<int64_t>(contents.size()));  // ob_size
    memory_.write(address + S::kObSval, contents.data(), contents.size());
    return address;
  }

  void code(uint64_t address, const std::u32string& filename, const std::u32string& name,
            const std::u32string& qualname, int first_line, const std::string& line_table) {
    memory_.put<uint64_t>(address + 8, kCodeType);  // ob_type
    memory_.put<uint64_t>(address + S::kFilename, str(filename));
    memory_.put<uint64_t>(address + S::kName, str(name));
    memory_.put<uint64_t>(address + S::kQualname, str(qualname));
    memory_.put<uint64_t>(address + S::kLinetable, bytes(line_table));
    memory_.put<int32_t>(address + S::kFirstLineno, first_line);
  }

  // _PyInterpreterFrame: f_executable (a _PyStackRef), previous, f_globals and f_builtins (at
  // their offsets of the 3.14/3.15 headers, which faulthandler checks are set), instr_ptr, owner.
  void frame(uint64_t address, uint64_t executable, uint64_t previous, uint64_t instr_ptr,
             uint8_t owner) {
    memory_.put<uint64_t>(address, executable);
    memory_.put<uint64_t>(address + 8, previous);
    memory_.put<uint64_t>(address + 24, kGlobalsDict);
    memory_.put<uint64_t>(address + 32, kGlobalsDict);
    memory_.put<uint64_t>(address + S::kInstrPtr, instr_ptr);
    memory_.put<uint8_t>(address + S::kOwner, owner);
  }

  void thread(uint64_t address, uint64_t prev, uint64_t next, uint64_t current_frame,
              uint64_t thread_id, uint64_t native_id) {
    memory_.put<uint64_t>(address + 0, prev);
    memory_.put<uint64_t>(address + 8, next);
    memory_.put<uint64_t>(address + 16, kInterp);
    memory_.put<uint64_t>(address + S::kCurrentFrame, current_frame);
    memory_.put<uint64_t>(address + S::kThreadId, thread_id);
    memory_.put<uint64_t>(address + S::kNativeThreadId, native_id);
  }

 private:
  uint64_t next_object() {
    const uint64_t address = kObjects + objects_ * FakeProcess::kPage;
    ++objects_;
    return address;
  }

  FakeProcess& memory_;
  int objects_;
};

// Location tables in the 3.11+ format, which 3.14 keeps (InternalDocs/code_objects.md):
// an entry starts with 0x80 | code << 3 | (length - 1); code 13 = no columns (a signed
// varint line delta follows), 10-12 = line delta code - 10 and two column bytes, 14 = long
// form (signed varint line delta, varint end-line delta, varint column + 1, varint end column
// + 1), 15 = no location. Signed varints hold the sign in bit 0.
//
// inner, first line 3: 1 code unit on line 3 (RESUME), 3 on line 4, 4 on line 6, 2 without a
// location. The frame executes code unit 5, so faulthandler prints line 6.
const std::string kInnerLineTable = {
    '\xe8', '\x00',                          // code 13, 1 unit, line += 0 -> 3
    '\xda', '\x04', '\x14',                  // code 11, 3 units, line += 1 -> 4, cols 4..20
    '\xf3', '\x04', '\x00', '\x09', '\x15',  // code 14, 4 units, line += 2 -> 6
    '\xf9',                                  // code 15, 2 units, no location
};
constexpr int kInnerUnit = 5;
// <module>, first line 1: 1 unit on line 1, then 2 units 7 lines further (signed varint 14 =
// +7): the frame executes code unit 2, line 8.
const std::string kModuleLineTable = {'\xe8', '\x00', '\xe9', '\x0e'};
constexpr int kModuleUnit = 2;

// Writes the whole process for one _Py_DebugOffsets image.
template <typename D>
void build_process(FakeProcess& memory, const D& offsets) {
  ProcessBuilder b(memory);
  memory.write(kRuntime, &offsets, sizeof offsets);
  memory.put<uint64_t>(kRuntime + S::kInterpretersHead, kInterp);
  memory.put<uint64_t>(kStrType + S::kTpFlags, kTpFlagsUnicode | (1ULL << 9));
  memory.put<uint64_t>(kBytesType + S::kTpFlags, kTpFlagsBytes | (1ULL << 9));
  memory.put<uint64_t>(kNone, 1);

  // The interpreter: its own GIL, locked by thread B; the collector is running.
  memory.put<int64_t>(kInterp + S::kInterpId, 0);
  memory.put<uint64_t>(kInterp + S::kInterpNext, 0);
  memory.put<uint64_t>(kInterp + S::kThreadsHead, kThreadA);
  memory.put<int32_t>(kInterp + S::kInterpGc + S::kGcCollecting, 1);
  memory.put<uint64_t>(kInterp + S::kCevalGil, kInterp + S::kGil);
  memory.put<int32_t>(kInterp + S::kGilLocked, 1);
  memory.put<uint64_t>(kInterp + S::kGilHolder, kThreadB);

  b.thread(kThreadA, 0, kThreadB, 0, kThreadIdA, 4243);
  b.thread(kThreadB, kThreadA, 0, kFrameTop, kThreadIdB, 4242);

  // Thread B's chain: inner -> entry frame -> <module> -> the bottom entry frame. inner's
  // f_executable carries the Py_TAG_REFCNT bit (a borrowed reference).
  b.frame(kFrameTop, kCodeInner | 1, kEntryFrame, kCodeInner + S::kCodeAdaptive + 2 * kInnerUnit,
          kOwnedByThread);
  b.frame(kEntryFrame, kNone, kFrameModule, 0x1234, kOwnedByInterpreter);
  b.frame(kFrameModule, kCodeModule, kBottomEntryFrame,
          kCodeModule + S::kCodeAdaptive + 2 * kModuleUnit, kOwnedByThread);
  b.frame(kBottomEntryFrame, kNone, 0, 0x1234, kOwnedByInterpreter);
  b.code(kCodeInner, U"/srv/app/work.py", U"caf\u00e9", U"Worker.caf\u00e9", 3, kInnerLineTable);
  b.code(kCodeModule, U"/srv/app/main.py", U"<module>", U"<module>", 1, kModuleLineTable);
}

PythonBinary binary_at_runtime() {
  PythonBinary binary;
  binary.path = "/usr/lib/libpython3.14.so.1.0";
  binary.runtime = kRuntime;
  return binary;
}

absl::StatusOr<Snapshot> walk(const FakeProcess& memory) {
  absl::StatusOr<PythonRuntime> runtime = identify_runtime(memory, binary_at_runtime());
  if (!runtime.ok()) return runtime.status();
  SnapshotReader reader(memory, *std::move(runtime));
  return reader.read();
}

// The OS thread names, as another part of the tool reads them from /proc/PID/task/TID/comm.
void name_threads(Snapshot& snapshot) {
  snapshot.interpreters.at(0).threads.at(0).os_name = "worker-1";
  snapshot.interpreters.at(0).threads.at(1).os_name = "python3.14";
}

// What faulthandler.dump_traceback(all_threads=True) prints for this state, derived from
// _Py_DumpTracebackThreads (3.14.0, 3.14.1+ and 3.15 agree here):
//  - threads from the head of the list (thread A, newest) with a blank line between them;
//  - write_thread_id: "Thread 0x" or "Current thread 0x", the thread id in 16 hex digits,
//    write_thread_name's " [" + pthread_getname_np + "]", " (most recent call first):";
//  - "  Garbage-collecting" under the current thread's header while interp->gc.collecting;
//  - dump_traceback: "  <no Python frame>" when current_frame is NULL; otherwise the frames,
//    skipping owner == FRAME_OWNED_BY_INTERPRETER, as `  File "F", line N in NAME` with
//    _Py_DumpASCII's escapes (U+00E9 -> \xe9) and the line of the executed code unit.
const char kExpected[] =
    "Thread 0x00007f3a2b1ff6c0 [worker-1] (most recent call first):\n"
    "  <no Python frame>\n"
    "\n"
    "Current thread 0x00007f3a2c8e1740 [python3.14] (most recent call first):\n"
    "  Garbage-collecting\n"
    "  File \"/srv/app/work.py\", line 6 in caf\\xe9\n"
    "  File \"/srv/app/main.py\", line 8 in <module>\n";

template <typename D>
void expect_dump(const D& offsets, int minor, int micro) {
  FakeProcess memory;
  build_process(memory, offsets);
  absl::StatusOr<Snapshot> snapshot = walk(memory);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->version.minor, minor);
  EXPECT_EQ(snapshot->version.micro, micro);
  ASSERT_EQ(snapshot->interpreters.size(), 1u);
  const Interpreter& interp = snapshot->interpreters[0];
  ASSERT_EQ(interp.threads.size(), 2u);
  EXPECT_FALSE(interp.walk_error);

  const Thread& a = interp.threads[0];
  EXPECT_EQ(a.thread_id, kThreadIdA);
  EXPECT_EQ(a.native_thread_id, 4243u);
  EXPECT_FALSE(a.holds_gil);
  EXPECT_TRUE(a.frames.empty());
  EXPECT_EQ(a.skipped_frames, 0);

  const Thread& b = interp.threads[1];
  EXPECT_EQ(b.thread_id, kThreadIdB);
  EXPECT_TRUE(b.holds_gil);
  EXPECT_TRUE(b.is_current);
  EXPECT_TRUE(b.gc_collecting);
  EXPECT_FALSE(b.walk_error);
  ASSERT_EQ(b.frames.size(), 2u);
  EXPECT_EQ(b.skipped_frames, 2);
  EXPECT_EQ(b.frames[0].code_address, kCodeInner);  // the tag bit cleared
  EXPECT_EQ(b.frames[0].skipped_above, 0);
  EXPECT_EQ(b.frames[0].lineno, 6);
  ASSERT_TRUE(b.frames[0].qualname);
  EXPECT_EQ(b.frames[0].qualname->code_points, U"Worker.caf\u00e9");
  EXPECT_EQ(b.frames[1].code_address, kCodeModule);
  EXPECT_EQ(b.frames[1].skipped_above, 1);
  EXPECT_EQ(b.frames[1].lineno, 8);

  Snapshot named = *snapshot;
  name_threads(named);
  EXPECT_EQ(format_faulthandler(named), kExpected);
}

TEST(Snapshot314, Walks314_0) {
  expect_dump(example_offsets<DebugOffsets314>(kVersion3140), 14, 0);
}

TEST(Snapshot314, Walks314_1) {
  expect_dump(example_offsets<DebugOffsets314>(kVersion3141), 14, 1);
}

TEST(Snapshot314, Walks315) {
  expect_dump(example_315(), 15, 0);
  expect_dump(example_315_pre(), 15, 0);
}

// ---- identify_runtime's errors for 3.14+ ----

template <typename D>
ErrorKind identify_error(const D& offsets) {
  FakeProcess memory;
  build_process(memory, offsets);
  absl::StatusOr<PythonRuntime> runtime = identify_runtime(memory, binary_at_runtime());
  return runtime.ok() ? ErrorKind::kInternal : error_kind(runtime.status());
}

// A free-threaded flag on a default build's offsets (an object header of 16 bytes): no known
// free-threaded layout fits, and the build is refused rather than misread.
TEST(Snapshot314, AFreeThreadedFlagOnADefaultLayoutIsUnsupported) {
  DebugOffsets314 d = example_offsets<DebugOffsets314>(kVersion3141);
  d.free_threaded = 1;
  EXPECT_EQ(identify_error(d), ErrorKind::kUnsupportedVersion);
}

TEST(Snapshot314, UnknownLayoutsAreUnsupported) {
  EXPECT_EQ(identify_error(example_315(kVersion3141)), ErrorKind::kUnsupportedVersion);
  // 3.16 with another layout than any 3.15 had.
  EXPECT_EQ(identify_error(example_offsets<DebugOffsets314>(0x031000A1)),
            ErrorKind::kUnsupportedVersion);
}

// A newer release whose _Py_DebugOffsets has 3.15's layout is read as 3.15 (the CLI warns).
TEST(Snapshot314, NewerReleaseWithTheNewestLayoutIsReadAsIt) {
  FakeProcess memory;
  build_process(memory, example_315(0x031000A1));  // 3.16.0a1
  absl::StatusOr<PythonRuntime> runtime = identify_runtime(memory, binary_at_runtime());
  ASSERT_TRUE(runtime.ok()) << runtime.status();
  EXPECT_EQ(runtime->version.minor, 16);
  ASSERT_TRUE(runtime->read_as.has_value());
  EXPECT_EQ(runtime->read_as->minor, 15);
}

TEST(Snapshot314, CorruptOffsetsAreNotPython) {
  DebugOffsets314 d = example_offsets<DebugOffsets314>(kVersion3141);
  d.thread_state.thread_id = 1 << 20;
  EXPECT_EQ(identify_error(d), ErrorKind::kRuntimeUnreadable);
}

// ---- the 3.14 dialects of faulthandler, on synthetic snapshots ----

PyText ascii_text(const std::string& s) {
  PyText t;
  t.code_points.assign(s.begin(), s.end());
  t.length = s.size();
  return t;
}

Frame python_frame(const std::string& name, int lineno, int skipped_above = 0) {
  Frame f;
  f.filename = ascii_text("/srv/app/deep.py");
  f.name = ascii_text(name);
  f.lineno = lineno;
  f.skipped_above = skipped_above;
  return f;
}

Snapshot one_thread(int major, int minor, int micro, Thread thread) {
  Snapshot snapshot;
  snapshot.version = PythonVersion{major, minor, micro, 0};
  snapshot.interpreters.emplace_back();
  snapshot.interpreters[0].threads.push_back(std::move(thread));
  return snapshot;
}

std::string frame_line(const std::string& name, int lineno) {
  return "  File \"/srv/app/deep.py\", line " + std::to_string(lineno) + " in " + name + "\n";
}

// 3.14.0's dump_traceback steps over an interpreter frame without counting it, so up to
// MAX_FRAME_DEPTH (100) Python frames print; 3.14.1+ (gh-140815) counts every frame of the
// chain, interpreter frames included, before dump_frame skips them. Neither prints anything
// past the limit ("plus N frames" needs depth > MAX_FRAME_DEPTH, which the loop never
// reaches).
TEST(Faulthandler314, InterpreterFramesCountTowardTheLimitFrom3141) {
  Thread thread;
  thread.thread_id = 0x1000;
  std::string first_50, all_60;
  for (int i = 0; i < 60; ++i) {
    thread.frames.push_back(python_frame("f" + std::to_string(i), 10 + i, /*skipped_above=*/1));
    thread.skipped_frames += 1;
    (i < 50 ? first_50 : all_60) += frame_line("f" + std::to_string(i), 10 + i);
  }
  all_60 = first_50 + all_60;
  const std::string header = "Thread 0x0000000000001000 (most recent call first):\n";
  // Chain: entry, f0, entry, f1, ...: f_i is chain entry 2i + 1, printed while below 100.
  EXPECT_EQ(format_faulthandler(one_thread(3, 14, 1, thread)), header + first_50);
  EXPECT_EQ(format_faulthandler(one_thread(3, 15, 0, thread)), header + first_50);
  EXPECT_EQ(format_faulthandler(one_thread(3, 14, 0, thread)), header + all_60);
}

TEST(Faulthandler314, NothingPastOneHundredFrames) {
  Thread thread;
  thread.thread_id = 0x1000;
  std::string expected = "Thread 0x0000000000001000 (most recent call first):\n";
  for (int i = 0; i < 130; ++i) {
    thread.frames.push_back(python_frame("g", i + 1));
    if (i < 100) expected += frame_line("g", i + 1);
  }
  EXPECT_EQ(format_faulthandler(one_thread(3, 14, 0, thread)), expected);
  EXPECT_EQ(format_faulthandler(one_thread(3, 14, 2, thread)), expected);
}

// 3.14.1+ dump_frame returns -1 after printing a ??? (no line for the instruction, a filename
// or name that is not a str), and dump_traceback then writes "  <invalid frame>" and stops.
// 3.14.0 prints "line ???" and goes on.
TEST(Faulthandler314, InvalidFrameEndsTheThreadFrom3141) {
  Thread thread;
  thread.thread_id = 0x1000;
  thread.frames = {python_frame("a", 5), python_frame("b", -1), python_frame("c", 7)};
  const std::string header = "Thread 0x0000000000001000 (most recent call first):\n";
  const std::string a = frame_line("a", 5);
  const std::string b = "  File \"/srv/app/deep.py\", line ??? in b\n";
  const std::string c = frame_line("c", 7);
  EXPECT_EQ(format_faulthandler(one_thread(3, 14, 0, thread)), header + a + b + c);
  EXPECT_EQ(format_faulthandler(one_thread(3, 14, 1, thread)),
            header + a + b + "  <invalid frame>\n");
  thread.frames[1] = python_frame("b", 6);
  thread.frames[1].filename.reset();
  EXPECT_EQ(format_faulthandler(one_thread(3, 15, 0, thread)),
            header + a + "  File ???, line 6 in b\n  <invalid frame>\n");
}

// "<no Python frame>" is printed when tstate->current_frame is NULL; a chain holding only the
// interpreter's own frames prints nothing under the header (3.14.0: the skip reaches NULL and
// breaks; 3.14.1+: dump_frame prints nothing for them).
TEST(Faulthandler314, OnlyInterpreterFramesPrintNothing) {
  Thread thread;
  thread.thread_id = 0x1000;
  thread.skipped_frames = 1;
  const std::string header = "Thread 0x0000000000001000 (most recent call first):\n";
  EXPECT_EQ(format_faulthandler(one_thread(3, 14, 0, thread)), header);
  EXPECT_EQ(format_faulthandler(one_thread(3, 14, 1, thread)), header);
  thread.skipped_frames = 0;
  EXPECT_EQ(format_faulthandler(one_thread(3, 14, 0, thread)), header + "  <no Python frame>\n");
}

// write_thread_name: pthread_getname_np into char[100], written with strlen() as raw bytes,
// and nothing at all for an empty name or when the name cannot be had. 3.13 has no name.
TEST(Faulthandler314, ThreadNames) {
  Thread thread;
  thread.thread_id = 0x1000;
  thread.is_current = true;
  thread.frames = {python_frame("a", 5)};
  const std::string tail = " (most recent call first):\n" + frame_line("a", 5);
  EXPECT_EQ(format_faulthandler(one_thread(3, 14, 0, thread)),
            "Current thread 0x0000000000001000" + tail);
  thread.os_name = "";
  EXPECT_EQ(format_faulthandler(one_thread(3, 14, 0, thread)),
            "Current thread 0x0000000000001000" + tail);
  thread.os_name = "w\xc3\xa9rker";  // UTF-8 bytes, not escaped
  EXPECT_EQ(format_faulthandler(one_thread(3, 14, 0, thread)),
            "Current thread 0x0000000000001000 [w\xc3\xa9rker]" + tail);
  thread.os_name = std::string("ab\0cd", 5);
  EXPECT_EQ(format_faulthandler(one_thread(3, 15, 0, thread)),
            "Current thread 0x0000000000001000 [ab]" + tail);
  thread.os_name = "worker";
  EXPECT_EQ(format_faulthandler(one_thread(3, 13, 0, thread)),
            "Current thread 0x0000000000001000" + tail);
}

// ---- take_snapshot over a Target that exists only in memory ----

// The fake process as a Target: pid 4242 (thread B, the main thread) and 4243 (thread A), their
// fs_base registers (glibc's pthread_self(), the thread ids CPython keeps), the OS names a
// /proc would give. It records how it was held, and the reads made while it ran.
class FakeTarget final : public Target {
 public:
  explicit FakeTarget(const FakeProcess& process) : memory_(process, stopped_) {}

  pid_t pid() const override { return 4242; }
  std::string description() const override { return "process 4242"; }
  const RemoteMemory& memory() const override { return memory_; }
  const std::vector<MemoryMapping>& mappings() const override { return mappings_; }
  std::string file_of(const MemoryMapping& mapping) const override { return mapping.path; }
  std::string executable() const override { return "/usr/bin/python3.14"; }
  std::string process_name() const override { return "python3.14"; }
  std::string source_file(const std::string& path) const override { return path; }

  absl::Status stop(absl::Duration) override {
    events.push_back("stop");
    if (!stop_error.ok()) return stop_error;
    stopped_ = true;
    return absl::OkStatus();
  }
  void resume() override {
    events.push_back("resume");
    stopped_ = false;
  }
  std::vector<pid_t> threads() const override {
    return stopped_ || fatal != 0 ? std::vector<pid_t>{4242, 4243} : std::vector<pid_t>{};
  }
  std::optional<DwarfRegisters> registers(pid_t) const override { return std::nullopt; }
  std::optional<BlockedSyscall> blocked_syscall(pid_t) const override { return std::nullopt; }
  std::optional<uint64_t> fs_base(pid_t tid) const override {
    if (tid == 4242) return kThreadIdB;
    if (tid == 4243) return kThreadIdA;
    return std::nullopt;
  }
  std::optional<std::string> os_thread_name(pid_t tid) const override {
    if (!knows_names) return std::nullopt;
    if (tid == 4242) return "python3.14";
    if (tid == 4243) return "worker-1";
    return std::nullopt;
  }
  bool knows_os_thread_names() const override { return knows_names; }
  int fatal_signal() const override { return fatal; }
  std::optional<pid_t> signalled_thread() const override {
    return fatal != 0 ? std::optional<pid_t>(4243) : std::nullopt;
  }
  bool gone() const override { return false; }
  absl::Status no_runtime_error(const absl::Status& cause) const override { return cause; }
  absl::Status unreadable_runtime_error(const absl::Status& cause) const override {
    return make_error(ErrorKind::kRuntimeUnreadable, std::string(cause.message()));
  }
  absl::Status no_interpreter_error() const override {
    return make_error(ErrorKind::kNoInterpreter, "no interpreter");
  }
  absl::Status incomplete_error() const override {
    return make_error(ErrorKind::kIncomplete, "incomplete");
  }

  size_t reads_while_running() const { return memory_.reads_while_running; }
  void forget_reads() { memory_.reads_while_running = 0; }

  std::vector<std::string> events;
  absl::Status stop_error;
  bool knows_names = true;
  int fatal = 0;

 private:
  // The process's memory, counting the reads made while it is not held.
  class HeldMemory final : public RemoteMemory {
   public:
    HeldMemory(const FakeProcess& process, const bool& stopped)
        : process_(process), stopped_(stopped) {}
    absl::Status read(uint64_t address, void* out, size_t size) const override {
      if (!stopped_) ++reads_while_running;
      return process_.read(address, out, size);
    }
    mutable size_t reads_while_running = 0;

   private:
    const FakeProcess& process_;
    const bool& stopped_;
  };

  bool stopped_ = false;
  HeldMemory memory_;
  std::vector<MemoryMapping> mappings_;
};

// The runtime as find_runtime would give it (the fake process has no ELF file to find it in).
SnapshotReader reader_for(const FakeTarget& target) {
  absl::StatusOr<PythonRuntime> runtime = identify_runtime(target.memory(), binary_at_runtime());
  EXPECT_TRUE(runtime.ok()) << runtime.status();
  return SnapshotReader(target.memory(), *std::move(runtime));
}

FakeProcess process_3141() {
  FakeProcess memory;
  build_process(memory, example_offsets<DebugOffsets314>(kVersion3141));
  return memory;
}

TEST(TakeSnapshot, ReadsOnlyWhileTheTargetIsStoppedAndLetsItGo) {
  const FakeProcess process = process_3141();
  FakeTarget target(process);
  SnapshotReader reader = reader_for(target);
  target.forget_reads();
  SnapshotStats stats;
  absl::StatusOr<Snapshot> snapshot =
      take_snapshot(target, reader, faulthandler_needs(), absl::Seconds(1), {}, &stats);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(target.events, (std::vector<std::string>{"stop", "resume"}));
  EXPECT_EQ(target.reads_while_running(), 0u);
  EXPECT_EQ(stats.threads_stopped, 2u);
  EXPECT_EQ(snapshot->pid, 4242);
  EXPECT_EQ(snapshot->executable, "/usr/bin/python3.14");
  EXPECT_FALSE(snapshot->fatal_error);
  // faulthandler of 3.14 shows the OS thread names: asked of the target by the threads' ids.
  EXPECT_EQ(format_faulthandler(*snapshot), kExpected);
}

TEST(TakeSnapshot, TheThreadAFatalSignalHitIsCurrent) {
  const FakeProcess process = process_3141();
  FakeTarget target(process);
  target.fatal = SIGSEGV;  // on 4243, whose fs_base is thread A's id
  SnapshotReader reader = reader_for(target);
  absl::StatusOr<Snapshot> snapshot =
      take_snapshot(target, reader, faulthandler_needs(), absl::Seconds(1));
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->fatal_error, "Segmentation fault");
  const Interpreter& interp = snapshot->interpreters.at(0);
  EXPECT_TRUE(interp.threads.at(0).is_current);
  EXPECT_FALSE(interp.threads.at(1).is_current);  // although it holds the GIL
}

TEST(TakeSnapshot, ATargetWithoutOsNamesHasThemInferredFrom314) {
  const FakeProcess process = process_3141();
  FakeTarget target(process);
  target.knows_names = false;  // a core
  SnapshotReader reader = reader_for(target);
  absl::StatusOr<Snapshot> snapshot =
      take_snapshot(target, reader, faulthandler_needs(), absl::Seconds(1));
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  // No threading module in this process: both threads keep the process's name, as threads
  // CPython did not name do (cpython/os_thread_names.h).
  for (const Thread& thread : snapshot->interpreters.at(0).threads) {
    EXPECT_EQ(thread.os_name, "python3.14") << thread.thread_id;
  }
}

TEST(TakeSnapshot, ATargetThatCannotBeStoppedIsNotRead) {
  const FakeProcess process = process_3141();
  FakeTarget target(process);
  target.stop_error = make_error(ErrorKind::kAlreadyTraced, "traced by 99");
  SnapshotReader reader = reader_for(target);
  target.forget_reads();
  absl::StatusOr<Snapshot> snapshot =
      take_snapshot(target, reader, faulthandler_needs(), absl::Seconds(1));
  ASSERT_FALSE(snapshot.ok());
  EXPECT_EQ(error_kind(snapshot.status()), ErrorKind::kAlreadyTraced);
  EXPECT_EQ(target.reads_while_running(), 0u);
}

TEST(TakeSnapshot, ATargetWhoseRuntimeCannotBeReadIsLetGo) {
  FakeProcess process = process_3141();
  FakeTarget target(process);
  SnapshotReader reader = reader_for(target);
  // The interpreter list's head now points at unmapped memory.
  process.put<uint64_t>(kRuntime + S::kInterpretersHead, 0xdead0000);
  absl::StatusOr<Snapshot> snapshot =
      take_snapshot(target, reader, faulthandler_needs(), absl::Seconds(1));
  ASSERT_FALSE(snapshot.ok());
  EXPECT_EQ(error_kind(snapshot.status()), ErrorKind::kRuntimeUnreadable);
  EXPECT_EQ(target.events, (std::vector<std::string>{"stop", "resume"}));
}

// ---- the code-object cache across snapshots ----

TEST(CodeCache, AnAddressReusedByAnotherCodeObjectGivesTheNewName) {
  FakeProcess process = process_3141();
  absl::StatusOr<PythonRuntime> runtime = identify_runtime(process, binary_at_runtime());
  ASSERT_TRUE(runtime.ok()) << runtime.status();
  SnapshotReader reader(process, *std::move(runtime));
  auto top_frame = [&reader]() -> Frame {
    absl::StatusOr<Snapshot> snapshot = reader.read();
    EXPECT_TRUE(snapshot.ok()) << snapshot.status();
    if (!snapshot.ok()) return {};
    return snapshot->interpreters.at(0).threads.at(1).frames.at(0);
  };
  EXPECT_EQ(top_frame().name->code_points, U"caf\u00e9");
  EXPECT_EQ(top_frame().name->code_points, U"caf\u00e9");  // from the cache: the same
  // The code object is freed and another is allocated at its address, between two snapshots;
  // its names are new objects, past the process's.
  ProcessBuilder(process, 100).code(kCodeInner, U"/srv/app/other.py", U"replaced", U"Other.replaced",
                               3, kInnerLineTable);
  const Frame frame = top_frame();
  EXPECT_EQ(frame.code_address, kCodeInner);
  EXPECT_EQ(frame.name->code_points, U"replaced");
  EXPECT_EQ(frame.filename->code_points, U"/srv/app/other.py");
  EXPECT_EQ(frame.lineno, 6);
}

// ---- the per-snapshot budget ----

Snapshot read_with(const FakeProcess& process, const SnapshotBudget& budget,
                   absl::Time stopped_at = absl::Now()) {
  absl::StatusOr<PythonRuntime> runtime = identify_runtime(process, binary_at_runtime());
  EXPECT_TRUE(runtime.ok()) << runtime.status();
  SnapshotReader reader(process, *std::move(runtime));
  absl::StatusOr<Snapshot> snapshot = reader.read({}, budget, stopped_at);
  EXPECT_TRUE(snapshot.ok()) << snapshot.status();
  return snapshot.ok() ? *std::move(snapshot) : Snapshot{};
}

TEST(SnapshotBudget, AWalkOverItsFramesStopsMarkedWithExitCode9) {
  const FakeProcess process = process_3141();
  SnapshotBudget budget;
  budget.max_frames = 1;  // thread B has four: inner, an entry frame, <module>, an entry frame
  const Snapshot snapshot = read_with(process, budget);
  const Thread& b = snapshot.interpreters.at(0).threads.at(1);
  ASSERT_EQ(b.frames.size(), 1u);
  EXPECT_EQ(b.frames[0].code_address, kCodeInner);
  EXPECT_EQ(b.walk_error, "the snapshot's budget of 1 frames is spent");
  EXPECT_TRUE(snapshot_is_partial(snapshot));
  FakeTarget target(process);
  EXPECT_EQ(exit_code_for(error_kind(target.incomplete_error())), 9);
  // faulthandler's text marks where the walk stopped.
  EXPECT_NE(format_faulthandler(snapshot).find("budget of 1 frames is spent"), std::string::npos)
      << format_faulthandler(snapshot);
}

TEST(SnapshotBudget, AWalkOverItsStoppedTimeStops) {
  const FakeProcess process = process_3141();
  SnapshotBudget budget;
  budget.max_stopped = absl::Milliseconds(500);
  const Snapshot snapshot = read_with(process, budget, absl::Now() - absl::Seconds(1));
  const Interpreter& interp = snapshot.interpreters.at(0);
  EXPECT_TRUE(interp.threads.empty());
  EXPECT_EQ(interp.walk_error, "the snapshot's budget of 500ms with the target stopped is spent");
  EXPECT_TRUE(snapshot_is_partial(snapshot));
}

TEST(SnapshotBudget, AWalkOverItsBytesStops) {
  const FakeProcess process = process_3141();
  SnapshotBudget budget;
  budget.max_bytes_read = 4096;  // the runtime's page and the interpreter's are more
  const Snapshot snapshot = read_with(process, budget);
  const Interpreter& interp = snapshot.interpreters.at(0);
  EXPECT_TRUE(interp.threads.empty());
  EXPECT_EQ(interp.walk_error, "the snapshot's budget of 4096 bytes read is spent");
}

TEST(SnapshotBudget, TheDefaultBudgetReadsTheWholeProcess) {
  const FakeProcess process = process_3141();
  const Snapshot snapshot = read_with(process, SnapshotBudget{});
  EXPECT_FALSE(snapshot_is_partial(snapshot));
  EXPECT_EQ(snapshot.interpreters.at(0).threads.at(1).frames.size(), 2u);
}

// ---------------------------------------------------------------------------------------------
// The sampler's walk over the same process (cpython/stack_sampler.h), and what it folds into a
// profile (sampling/profile_builder.h).

std::string utf8(const std::optional<PyText>& text) {
  std::string out;
  if (text) append_utf8_backslashreplace(out, text->code_points);
  return out;
}

StackSampler sampler_for(const RemoteMemory& memory, bool check_torn) {
  absl::StatusOr<PythonRuntime> runtime = identify_runtime(memory, binary_at_runtime());
  EXPECT_TRUE(runtime.ok()) << runtime.status();
  return StackSampler(memory, *std::move(runtime), check_torn);
}

TEST(StackSampler, ReadsEveryThreadsFramesAndLines) {
  const FakeProcess process = process_3141();
  StackSampler sampler = sampler_for(process, /*check_torn=*/true);
  Sample sample;
  for (int round = 0; round < 3; ++round) {  // the first reads one by one, the next prefetch
    SCOPED_TRACE(round);
    ASSERT_TRUE(sampler.sample(sample).ok());
    ASSERT_EQ(sample.threads.size(), 2u);
    const SampledThread& a = sample.threads[0];
    const SampledThread& b = sample.threads[1];
    EXPECT_EQ(a.thread_id, kThreadIdA);
    EXPECT_EQ(a.native_id, 4243u);
    EXPECT_EQ(a.frame_count, 0u);
    EXPECT_FALSE(a.holds_gil);
    EXPECT_EQ(b.native_id, 4242u);
    EXPECT_TRUE(b.holds_gil);
    EXPECT_EQ(b.outcome, SampledThread::Outcome::kComplete);
    // The two Python frames, most recent first; the interpreter's entry frames are left out.
    ASSERT_EQ(b.frame_count, 2u);
    const SampledFrame& inner = sample.frames[b.first_frame];
    const SampledFrame& module = sample.frames[b.first_frame + 1];
    ASSERT_NE(inner.code, nullptr);
    ASSERT_NE(module.code, nullptr);
    EXPECT_EQ(utf8(inner.code->qualname), "Worker.caf\u00e9");
    EXPECT_EQ(utf8(inner.code->filename), "/srv/app/work.py");
    EXPECT_EQ(inner.line, 6);
    EXPECT_EQ(utf8(module.code->name), "<module>");
    EXPECT_EQ(module.line, 8);
  }
  EXPECT_EQ(sampler.frames_read(), 3u * 4u);  // two Python and two entry frames per round
}

// Reads as `before`; the sampler's check after the walk (its vectored read) sees `after`.
class MovingProcess final : public RemoteMemory {
 public:
  MovingProcess(const FakeProcess& before, const FakeProcess& after)
      : before_(before), after_(after) {}
  absl::Status read(uint64_t address, void* out, size_t size) const override {
    return before_.read(address, out, size);
  }
  void read_many(ReadRequest* requests, size_t count) const override {
    for (size_t i = 0; i < count; ++i) {
      requests[i].ok = after_.read(requests[i].address, requests[i].out, requests[i].size).ok();
    }
  }

 private:
  const FakeProcess& before_;
  const FakeProcess& after_;
};

TEST(StackSampler, AThreadThatLeftItsFirstFrameDuringTheReadIsTorn) {
  const FakeProcess before = process_3141();
  // Thread B returned from inner (to <module>) while its stack was read.
  FakeProcess returned = process_3141();
  returned.put<uint64_t>(kThreadB + S::kCurrentFrame, kFrameModule);
  // Thread B's first frame was reused by another call: same address, another code object.
  FakeProcess reused = process_3141();
  reused.put<uint64_t>(kFrameTop, kCodeModule);
  for (const FakeProcess* after : {&returned, &reused}) {
    const MovingProcess moving(before, *after);
    StackSampler sampler = sampler_for(moving, /*check_torn=*/true);
    Sample sample;
    ASSERT_TRUE(sampler.sample(sample).ok());
    ASSERT_EQ(sample.threads.size(), 2u);
    EXPECT_EQ(sample.threads[0].outcome, SampledThread::Outcome::kComplete);  // no frame: same
    EXPECT_EQ(sample.threads[1].outcome, SampledThread::Outcome::kTorn);
  }
  // Moving on within the frame (its instruction pointer) is not a change of the stack.
  FakeProcess stepped = process_3141();
  stepped.put<uint64_t>(kFrameTop + S::kInstrPtr, kCodeInner + S::kCodeAdaptive + 2);
  const MovingProcess moving(before, stepped);
  StackSampler sampler = sampler_for(moving, /*check_torn=*/true);
  Sample sample;
  ASSERT_TRUE(sampler.sample(sample).ok());
  EXPECT_EQ(sample.threads.at(1).outcome, SampledThread::Outcome::kComplete);
  // --blocking: the target is held still, nothing is read twice (the change is not seen).
  const MovingProcess held_moving(before, returned);
  StackSampler held = sampler_for(held_moving, /*check_torn=*/false);
  ASSERT_TRUE(held.sample(sample).ok());
  EXPECT_EQ(sample.threads.at(1).outcome, SampledThread::Outcome::kComplete);
  EXPECT_EQ(sample.threads.at(1).frame_count, 2u);
}

TEST(StackSampler, AFrameChainThatLoopsIsBrokenNotEndless) {
  FakeProcess process = process_3141();
  process.put<uint64_t>(kFrameModule + 8, kFrameTop);  // <module>'s previous: back to inner
  StackSampler sampler = sampler_for(process, /*check_torn=*/false);
  Sample sample;
  ASSERT_TRUE(sampler.sample(sample).ok());
  EXPECT_EQ(sample.threads.at(1).outcome, SampledThread::Outcome::kBroken);
}

TEST(StackSampler, AReplacedCodeObjectIsReadAgainUnderANewId) {
  FakeProcess process = process_3141();
  StackSampler sampler = sampler_for(process, /*check_torn=*/false);
  Sample sample;
  ASSERT_TRUE(sampler.sample(sample).ok());
  const uint32_t first_id = sample.frames.at(0).code->id;
  // inner freed, another function's code object allocated at its address.
  ProcessBuilder builder(process, /*first_object=*/64);
  builder.code(kCodeInner, U"/srv/app/other.py", U"other", U"Other.other", 3, kInnerLineTable);
  ASSERT_TRUE(sampler.sample(sample).ok());
  EXPECT_NE(sample.frames.at(0).code->id, first_id);
  EXPECT_EQ(utf8(sample.frames.at(0).code->qualname), "Other.other");
}

TEST(ProfileBuilder, CountsDistinctStacksRootFirst) {
  const FakeProcess process = process_3141();
  StackSampler sampler = sampler_for(process, /*check_torn=*/false);
  Sample sample;
  ASSERT_TRUE(sampler.sample(sample).ok());
  const SampledThread& b = sample.threads.at(1);
  for (bool lines : {true, false}) {
    SCOPED_TRACE(lines);
    ProfileBuilder builder(lines);
    const uint32_t process_index = builder.add_process(4242, "python3.14 main.py");
    const uint32_t main = builder.thread(process_index, kThreadIdB, 4242, "MainThread");
    EXPECT_EQ(builder.thread(process_index, kThreadIdB, 4242, "MainThread"), main);
    const uint32_t renamed = builder.thread(process_index, kThreadIdB, 4242, "Renamed");
    EXPECT_NE(renamed, main);
    for (int i = 0; i < 3; ++i) builder.add(main, sample, b);
    builder.add(renamed, sample, b);
    const Profile& profile = builder.profile();
    EXPECT_EQ(profile.thread_samples, 4);
    ASSERT_EQ(profile.stacks.size(), 2u);
    EXPECT_EQ(profile.stacks[0].count, 3);
    EXPECT_EQ(profile.stacks[1].count, 1);
    ASSERT_EQ(profile.frames.size(), 2u);  // interned once for both stacks
    const std::vector<uint32_t>& frames = profile.stacks[0].frames;
    ASSERT_EQ(frames.size(), 2u);
    const ProfileFrame& root = profile.frames[frames[0]];
    const ProfileFrame& leaf = profile.frames[frames[1]];
    EXPECT_EQ(root.function, "<module>");
    EXPECT_EQ(leaf.function, "Worker.caf\u00e9");
    EXPECT_EQ(leaf.filename, "/srv/app/work.py");
    EXPECT_EQ(leaf.first_line, 3);
    EXPECT_EQ(leaf.line, lines ? 6 : -1);
    EXPECT_EQ(root.line, lines ? 8 : -1);
    EXPECT_EQ(profile.threads.at(renamed).name, "Renamed");
    EXPECT_EQ(profile.processes.at(0).command, "python3.14 main.py");
  }
}

// Counts the reads that reach the process.
class CountingMemory final : public RemoteMemory {
 public:
  explicit CountingMemory(const RemoteMemory& inner) : inner_(inner) {}
  absl::Status read(uint64_t address, void* out, size_t size) const override {
    ++reads;
    return inner_.read(address, out, size);
  }
  void read_many(ReadRequest* requests, size_t count) const override {
    ++vectored;
    ranges += count;
    for (size_t i = 0; i < count; ++i) {
      requests[i].ok = inner_.read(requests[i].address, requests[i].out, requests[i].size).ok();
    }
  }
  mutable int reads = 0, vectored = 0;
  mutable size_t ranges = 0;

 private:
  const RemoteMemory& inner_;
};

TEST(PageCache, PrefetchReadsTheLastBlocksAsRangesInOneCall) {
  FakeProcess process;
  for (uint64_t i = 0; i < 1024; ++i) process.put<uint8_t>(0x10000 + i, static_cast<uint8_t>(i));
  CountingMemory counting(process);
  PageCache cache(counting, 64, 256);
  uint8_t out[8];
  ASSERT_TRUE(cache.read(0x10000 + 10, out, 8).ok());   // block 0x10000
  ASSERT_TRUE(cache.read(0x10000 + 300, out, 8).ok());  // block 0x10100
  ASSERT_TRUE(cache.read(0x10000 + 900, out, 8).ok());  // block 0x10300
  EXPECT_EQ(counting.reads, 3);
  EXPECT_EQ(cache.misses(), 3u);
  std::vector<uint64_t> blocks;
  cache.cached_blocks(blocks);
  EXPECT_EQ(blocks, (std::vector<uint64_t>{0x10000, 0x10100, 0x10300}));

  cache.clear();
  cache.prefetch(blocks);
  EXPECT_EQ(counting.vectored, 1);
  EXPECT_EQ(counting.ranges, 2u);  // 0x10000-0x101ff as one range, 0x10300 alone
  ASSERT_TRUE(cache.read(0x10000 + 300, out, 8).ok());
  EXPECT_EQ(out[0], static_cast<uint8_t>(300));
  ASSERT_TRUE(cache.read(0x10000 + 250, out, 8).ok());  // across two prefetched blocks
  EXPECT_EQ(out[7], static_cast<uint8_t>(257));
  EXPECT_EQ(counting.reads, 3);  // nothing more asked of the process
  EXPECT_EQ(cache.misses(), 0u);
  // An unreadable range is not kept, and a read of it asks (and fails) on its own.
  cache.clear();
  cache.prefetch({0x90000});
  EXPECT_FALSE(cache.read(0x90000, out, 8).ok());
}

TEST(PageCache, TheWorkingSetKeepsRecentBlocksAndDropsIdleOnes) {
  FakeProcess process;
  for (uint64_t i = 0; i < 2048; ++i) process.put<uint8_t>(0x20000 + i, 1);
  CountingMemory counting(process);
  PageCache cache(counting, 64, 256);
  uint8_t out[4];
  auto round = [&](std::initializer_list<uint64_t> reads) {
    cache.clear();
    cache.prefetch_working_set();
    for (uint64_t address : reads) ASSERT_TRUE(cache.read(address, out, 4).ok());
    cache.update_working_set(/*max_idle_rounds=*/2);
  };
  round({0x20000, 0x20200});
  EXPECT_EQ(cache.working_set(), (std::vector<uint64_t>{0x20000, 0x20200}));
  round({0x20000});  // 0x20200 unused once, twice: kept; a third time: dropped
  round({0x20000, 0x20400});
  EXPECT_EQ(cache.working_set(), (std::vector<uint64_t>{0x20000, 0x20200, 0x20400}));
  round({0x20000});
  EXPECT_EQ(cache.working_set(), (std::vector<uint64_t>{0x20000, 0x20400}));
  const int reads = counting.reads;
  round({0x20000, 0x20400});
  EXPECT_EQ(counting.reads, reads);  // all from the prefetch
  EXPECT_EQ(cache.misses(), 0u);
}

TEST(StackSampler, AThreadTheFilterLeavesOutIsNotWalked) {
  const FakeProcess process = process_3141();
  StackSampler sampler = sampler_for(process, /*check_torn=*/true);
  Sample sample;
  ASSERT_TRUE(sampler
                  .sample(sample, [](const SampledThread& thread) { return !thread.holds_gil; })
                  .ok());
  ASSERT_EQ(sample.threads.size(), 2u);
  EXPECT_EQ(sample.threads[1].outcome, SampledThread::Outcome::kSkipped);
  EXPECT_EQ(sample.threads[1].native_id, 4242u);  // known before the filter is asked
  EXPECT_EQ(sample.threads[1].frame_count, 0u);
  EXPECT_EQ(sampler.frames_read(), 0u);
}

TEST(PthreadTid, ReadFromGlibcsStructPthreadWhenItIsAThreadOfTheProcess) {
  FakeProcess process;
  process.put<int32_t>(0x50000 + 0x2d0, 4243);  // struct pthread's tid, x86-64 glibc
  process.put<int32_t>(0x60000 + 0x2d0, 77);     // not a thread of the process
  EXPECT_EQ(tid_of_pthread(process, 0x50000, {4242, 4243}), 4243);
  EXPECT_EQ(tid_of_pthread(process, 0x60000, {4242, 4243}), std::nullopt);
  EXPECT_EQ(tid_of_pthread(process, 0x70000, {4242, 4243}), std::nullopt);  // unmapped
  EXPECT_EQ(tid_of_pthread(process, 0, {4242, 4243}), std::nullopt);
}

}  // namespace
}  // namespace pystack
