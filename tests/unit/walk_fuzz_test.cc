// Remote memory is hostile input: a corrupt image must give a partial, marked Snapshot, never a
// crash, never a hang. For every generated layout (2.7, 3.6-3.13), and for 3.14/3.15 through
// their _Py_DebugOffsets (debug_offsets_314_test.h), this builds a small, valid process image in
// a fake address space (runtime -> interpreter -> three thread states -> frames, 3.12+ shims
// among them -> code objects with str names, a line table of the version's format, locals;
// sys.modules['threading']._active for thread names), checks the walk on the intact image, then
// corrupts copies of it with many deterministic seeds (flipped bytes; pointers replaced by random
// values, pointers into the image and self-pointers (cycles); huge str/bytes/tuple/dict sizes;
// str kinds changed; truncated and unmapped regions; 3.14+: the debug offsets themselves) and
// requires every read, and every formatter over its result, to return in bounded time. A
// watchdog turns a read that never returns into a failure naming the seed.
//
// The expected frames of the intact image follow from the image itself (each version's line
// table format as its Objects/lnotab_notes.txt or locations.md defines it), not from our tool.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cpython/layout.h"
#include "cpython/py_types.h"
#include "cpython/runtime.h"
#include "cpython/snapshot_reader.h"
#include "debug_offsets_314_test.h"
#include "format/faulthandler.h"
#include "format/json.h"
#include "format/traceback.h"
#include "symbols/python_binary.h"

namespace pystack {
namespace {

constexpr uint64_t kPage = 4096;

// Page-aligned blocks of whole pages; everything else is unreadable, as in a process.
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
    if (size > 0) std::memcpy(out, it->second.data() + offset, size);
    return absl::OkStatus();
  }

  uint64_t allocate(size_t size) {
    const uint64_t address = next_;
    const size_t pages = std::max<size_t>((size + kPage - 1) / kPage, 1);
    next_ += (pages + 1) * kPage;  // a hole after every block
    blocks_[address] = std::vector<uint8_t>(pages * kPage, 0);
    return address;
  }
  // Writes where the image is mapped; a write into a truncated or removed region is dropped.
  void write(uint64_t address, const void* data, size_t size) {
    auto it = blocks_.upper_bound(address);
    if (it == blocks_.begin()) return;
    --it;
    const uint64_t offset = address - it->first;
    if (offset > it->second.size() || size > it->second.size() - offset) return;
    std::memcpy(it->second.data() + offset, data, size);
  }
  template <typename T>
  void put(uint64_t address, T value) {
    write(address, &value, sizeof value);
  }

  std::map<uint64_t, std::vector<uint8_t>>& blocks() { return blocks_; }

 private:
  std::map<uint64_t, std::vector<uint8_t>> blocks_;
  uint64_t next_ = 0x7f1000000000;
};

// Fields of the image that corruption aims at.
struct Target {
  uint64_t address;  // the field
  uint64_t object;   // the object holding it (for self-pointers)
};

constexpr uint64_t kTpFlagsBytes3 = 1ULL << 27, kTpFlagsString2 = 1ULL << 27;
constexpr uint64_t kTpFlagsUnicode3 = 1ULL << 28, kTpFlagsTuple = 1ULL << 26;
constexpr uint64_t kTpFlagsDict = 1ULL << 29;
constexpr uint8_t kFastLocal = 0x20;
constexpr int32_t kCoOptimizedNewLocals = 0x3;
constexpr uint64_t kThreadIds[3] = {0x7f3a2b1ff6c0, 0x7f3a2b9ff6c0, 0x7f3a2c8e1740};
const char* const kThreadNames[3] = {"worker-0", nullptr, "MainThread"};

// Writes a valid image of one version's process and records where its pointers and sizes are.
class ImageBuilder {
 public:
  ImageBuilder(FakeMemory& memory, const Layout& layout) : m_(memory), l_(layout) {}

  // `identified`: a runtime identify_runtime found (3.14+: from _Py_DebugOffsets already in the
  // image), to complete; without it one is made from the layout alone.
  PythonRuntime build(std::optional<PythonRuntime> identified = std::nullopt) {
    PythonRuntime runtime;
    runtime.version = PythonVersion{static_cast<int>(l_.major), static_cast<int>(l_.minor), 0, 0};
    runtime.layout = l_;
    if (identified) runtime = *identified;
    make_types();
    if (l_.code.adaptive >= 0 && l_.minor >= 13) runtime.code_type = code_type_;

    const uint64_t interp = m_.allocate(std::max<int64_t>(l_.interp.size, 4096) + 64);
    auto& threads = threads_;
    for (uint64_t& t : threads) t = m_.allocate(std::max<int64_t>(l_.tstate.size, 1024) + 64);

    if (runtime.runtime_address != 0) {
      pointer(runtime.runtime_address + l_.runtime.interpreters_head, interp,
              runtime.runtime_address);
    } else if (l_.runtime.interpreters_head >= 0 && !(l_.major == 3 && l_.minor == 6)) {
      const int64_t last_field =
          std::max({l_.runtime.interpreters_head, l_.runtime.gil_locked, l_.runtime.gil_last_holder,
                    l_.runtime.gc_collecting, l_.runtime.tstate_current});
      runtime.runtime_address = m_.allocate(last_field + 16);
      pointer(runtime.runtime_address + l_.runtime.interpreters_head, interp,
              runtime.runtime_address);
      if (l_.runtime.gil_locked >= 0) {
        m_.put<int32_t>(runtime.runtime_address + l_.runtime.gil_locked, 1);
        pointer(runtime.runtime_address + l_.runtime.gil_last_holder, threads[2],
                runtime.runtime_address);
      }
    } else {  // 2.7, 3.6: static interp_head and _PyThreadState_Current
      const uint64_t statics = m_.allocate(64);
      runtime.interp_head_address = statics;
      runtime.thread_state_current_address = statics + 8;
      pointer(statics, interp, statics);
      pointer(statics + 8, threads[2], statics);
    }

    if (l_.interp.id >= 0) m_.put<int64_t>(interp + l_.interp.id, 0);
    pointer(interp + l_.interp.next, 0, interp);
    pointer(interp + l_.interp.threads_head, threads[0], interp);
    if (l_.interp.modules >= 0) {
      pointer(interp + l_.interp.modules, has_object_layout(l_) ? sys_modules() : 0, interp);
    }
    if (l_.interp.ceval_gil >= 0) {
      const uint64_t gil = m_.allocate(std::max(l_.gil.locked, l_.gil.last_holder) + 16);
      pointer(interp + l_.interp.ceval_gil, gil, interp);
      m_.put<int32_t>(gil + l_.gil.locked, 1);
      pointer(gil + l_.gil.last_holder, threads[2], gil);
    }

    const uint64_t work = code(U"/srv/app/work.py", "inner", true);
    work_ = work;
    const uint64_t main = code(U"/srv/app/main.py", "<module>", false);
    // Thread 0: inner -> <module>; thread 1: no Python frame; thread 2: <module>.
    const uint64_t top = frame(work, true);
    const uint64_t bottom = frame(main, false);
    link(top, bottom);
    const uint64_t lone = frame(main, false);
    for (int i = 0; i < 3; ++i) {
      const uint64_t t = threads[i];
      pointer(t + l_.tstate.prev, i > 0 ? threads[i - 1] : 0, t);
      pointer(t + l_.tstate.next, i < 2 ? threads[i + 1] : 0, t);
      pointer(t + l_.tstate.interp, interp, t);
      m_.put<uint64_t>(t + l_.tstate.thread_id, kThreadIds[i]);
      if (l_.tstate.native_thread_id >= 0)
        m_.put<uint64_t>(t + l_.tstate.native_thread_id, 100 + i);
      set_current_frame(t, i == 0 ? top : i == 1 ? 0 : lone);
    }
    return runtime;
  }

  // Gives thread 1 a chain of `count` distinct frames running `inner`: no cycle, so only the
  // depth bound stops the walk.
  void give_long_chain(int count) {
    const bool iframe = l_.iframe.code >= 0;
    const int64_t header = iframe ? l_.iframe.size : l_.frame.localsplus;
    const uint64_t stride = (std::max<int64_t>(header, 64) + 16 + 15) & ~uint64_t{15};
    const uint64_t block = m_.allocate(stride * count);
    for (int i = 0; i < count; ++i) {
      const uint64_t f = block + i * stride;
      const uint64_t next = i + 1 < count ? f + stride : 0;
      if (iframe) {
        m_.put<uint64_t>(f + l_.iframe.code, work_);
        m_.put<uint64_t>(f + l_.iframe.previous, next);
        m_.put<uint64_t>(f + l_.iframe.instr, work_ + l_.code.adaptive + 8);
      } else {
        m_.put<uint64_t>(f, 1);
        m_.put<uint64_t>(f + l_.object.type, frame_type_);
        m_.put<uint64_t>(f + l_.frame.code, work_);
        m_.put<uint64_t>(f + l_.frame.back, next);
        m_.put<int32_t>(f + l_.frame.lasti, 8);
      }
    }
    set_current_frame(threads_[1], block);
  }

  std::vector<Target>& pointers() { return pointers_; }
  std::vector<Target>& sizes() { return sizes_; }
  std::vector<uint64_t>& objects() { return objects_; }
  const std::vector<uint64_t>& strs() const { return strs_; }
  const Layout& layout() const { return l_; }

 private:
  void pointer(uint64_t field, uint64_t value, uint64_t object) {
    m_.put<uint64_t>(field, value);
    pointers_.push_back({field, object});
  }
  void size_field(uint64_t field, int64_t value, uint64_t object) {
    m_.put<int64_t>(field, value);
    sizes_.push_back({field, object});
  }

  uint64_t type(const std::string& name, uint64_t flags) {
    const uint64_t t = m_.allocate(4096);
    const uint64_t text = m_.allocate(name.size() + 1);
    m_.write(text, name.c_str(), name.size() + 1);
    pointer(t + l_.object.type, type_type_, t);
    pointer(t + l_.type.name, text, t);
    m_.put<uint64_t>(t + l_.type.flags, flags);
    if (l_.type.base >= 0) pointer(t + l_.type.base, object_type_, t);
    objects_.push_back(t);
    return t;
  }
  void make_types() {
    type_type_ = 0;
    object_type_ = type("object", 0);
    type_type_ = type("type", 1ULL << 31);
    const bool py2 = l_.major == 2;
    str_type_ = py2 ? type("str", kTpFlagsString2) : type("str", kTpFlagsUnicode3);
    bytes_type_ = py2 ? str_type_ : type("bytes", kTpFlagsBytes3);
    tuple_type_ = type("tuple", kTpFlagsTuple);
    dict_type_ = type("dict", kTpFlagsDict);
    code_type_ = type("code", 0);
    frame_type_ = type("frame", 0);
    int_type_ = py2 ? type("int", 1ULL << 23) : type("int", 1ULL << 24);
    module_type_ = type("module", 0);
    // threading.Thread: a heap type whose instances keep __dict__ at tp_dictoffset.
    thread_type_ = type("Thread", kTpFlagsHeapType);
    if (l_.type.dictoffset >= 0) m_.put<int64_t>(thread_type_ + l_.type.dictoffset, 16);
    if (l_.type.basicsize >= 0) m_.put<int64_t>(thread_type_ + l_.type.basicsize, 24);
    if (has_object_layout(l_)) {
      pointer(thread_type_ + l_.heaptype.name, str("Thread"), thread_type_);
      if (l_.heaptype.qualname >= 0) {
        pointer(thread_type_ + l_.heaptype.qualname, str("Thread"), thread_type_);
      }
    }
  }

  // A combined dict of `items` in 8 slots: 2.7's table of entries; 3.x a keys object with
  // one-byte indices and general (hash, key, value) entries.
  uint64_t dict(const std::vector<std::pair<uint64_t, uint64_t>>& items) {
    const uint64_t d = object(dict_type_, 256);
    size_field(d + l_.dict.used, static_cast<int64_t>(items.size()), d);
    uint64_t entries = 0;
    if (l_.major == 2) {
      entries = m_.allocate(8 * l_.dict_entry.size);
      objects_.push_back(entries);
      size_field(d + l_.dict.mask, 7, d);
      pointer(d + l_.dict.keys, entries, d);
    } else {
      const uint64_t keys = m_.allocate(l_.dictkeys.indices + 8 + 8 * l_.dict_entry.size);
      objects_.push_back(keys);
      if (l_.dictkeys.log2_size >= 0) {
        m_.put<uint8_t>(keys + l_.dictkeys.log2_size, 3);
        m_.put<uint8_t>(keys + l_.dictkeys.log2_index_bytes, 3);
        m_.put<uint8_t>(keys + l_.dictkeys.kind, 0);  // DICT_KEYS_GENERAL
      } else {
        size_field(keys + l_.dictkeys.size, 8, keys);
      }
      size_field(keys + l_.dictkeys.nentries, static_cast<int64_t>(items.size()), keys);
      for (size_t i = 0; i < 8; ++i) {
        m_.put<int8_t>(keys + l_.dictkeys.indices + i, i < items.size() ? i : -1);
      }
      entries = keys + l_.dictkeys.indices + 8;
      pointer(d + l_.dict.keys, keys, d);
      pointer(d + l_.dict.values, 0, d);
    }
    for (size_t i = 0; i < items.size(); ++i) {
      const uint64_t entry = entries + i * l_.dict_entry.size;
      pointer(entry + l_.dict_entry.key, items[i].first, entry);
      pointer(entry + l_.dict_entry.value, items[i].second, entry);
    }
    return d;
  }

  // An int: 2.7 PyIntObject; 3.x up to three 30-bit digits.
  uint64_t integer(uint64_t value) {
    const uint64_t o = object(int_type_, 128);
    if (l_.major == 2) {
      m_.put<int64_t>(o + l_.int_object.value, static_cast<int64_t>(value));
      return o;
    }
    const uint32_t mask = (1u << l_.long_object.shift) - 1;
    const uint32_t digits[3] = {static_cast<uint32_t>(value & mask),
                                static_cast<uint32_t>((value >> l_.long_object.shift) & mask),
                                static_cast<uint32_t>(value >> (2 * l_.long_object.shift))};
    const int64_t ndigits = digits[2] ? 3 : digits[1] ? 2 : digits[0] ? 1 : 0;
    if (l_.long_object.tag >= 0) {
      size_field(o + l_.long_object.tag, ndigits << 3, o);
    } else {
      size_field(o + l_.object.var_size, ndigits, o);
    }
    for (int i = 0; i < 3; ++i) m_.put<uint32_t>(o + l_.long_object.digits + 4 * i, digits[i]);
    return o;
  }

  // sys.modules = {'threading': <module>}, whose _active maps thread 0 and 2's idents to
  // Thread objects named "worker-0" and "MainThread" (thread 1 is unknown to threading).
  uint64_t sys_modules() {
    const std::string attribute = l_.major == 2 ? "_Thread__name" : "_name";
    std::vector<std::pair<uint64_t, uint64_t>> active;
    for (int i : {0, 2}) {
      const uint64_t thread = object(thread_type_, 64);
      pointer(thread + 16, dict({{str(attribute), str(kThreadNames[i])}}), thread);
      active.push_back({integer(kThreadIds[i]), thread});
    }
    const uint64_t module = object(module_type_, 128);
    pointer(module + l_.module.dict,
            dict({{str("__name__"), str("threading")}, {str("_active"), dict(active)}}), module);
    return dict({{str("sys"), 0}, {str("threading"), module}});
  }

  uint64_t object(uint64_t type, size_t size) {
    const uint64_t o = m_.allocate(size);
    m_.put<uint64_t>(o, 1);  // ob_refcnt
    pointer(o + l_.object.type, type, o);
    objects_.push_back(o);
    return o;
  }

  uint64_t str(const std::string& text) {
    if (l_.major == 2) return bytes(text);
    const uint64_t o = object(str_type_, l_.unicode.ascii_size + text.size() + 1);
    size_field(o + l_.unicode.length, static_cast<int64_t>(text.size()), o);
    const uint32_t state = (1u << l_.unicode.kind_shift) | (1u << l_.unicode.compact_bit) |
                           (1u << l_.unicode.ascii_bit) | (1u << 7 /* ready, up to 3.11 */);
    m_.put<uint32_t>(o + l_.unicode.state, state);
    m_.write(o + l_.unicode.ascii_size, text.data(), text.size());
    strs_.push_back(o);
    return o;
  }
  uint64_t bytes(const std::string& contents) {
    const uint64_t o = object(bytes_type_, l_.bytes.sval + contents.size() + 1);
    size_field(o + l_.object.var_size, static_cast<int64_t>(contents.size()), o);
    m_.write(o + l_.bytes.sval, contents.data(), contents.size());
    return o;
  }
  uint64_t tuple(const std::vector<uint64_t>& items) {
    const uint64_t o = object(tuple_type_, l_.tuple.items + 8 * items.size() + 8);
    size_field(o + l_.object.var_size, static_cast<int64_t>(items.size()), o);
    for (size_t i = 0; i < items.size(); ++i) pointer(o + l_.tuple.items + 8 * i, items[i], o);
    return o;
  }

  // A line table placing byte offset 8 (the frames' instruction) on line first_line + 3:
  // bytes 0-5 on first_line + 1, 6-15 on first_line + 3.
  std::string line_table() const {
    if (l_.code.adaptive >= 0) {  // 3.11+: code 13 entries of 3 and 5 units, deltas +1, +2
      return {'\xea', '\x02', '\xec', '\x04'};
    }
    if (l_.major == 3 && l_.minor == 10) return {6, 1, 10, 2};  // (length, delta) pairs
    return {0, 1, 6, 2};  // co_lnotab: (address delta, line delta)
  }

  uint64_t code(const std::u32string& filename, const std::string& name, bool function) {
    const int64_t size = std::max({l_.code.adaptive + 64, l_.code.freevars + 8, int64_t{512}});
    const uint64_t c = object(code_type_, size);
    pointer(c + l_.code.filename, str(std::string(filename.begin(), filename.end())), c);
    pointer(c + l_.code.name, str(name), c);
    if (l_.code.qualname >= 0) pointer(c + l_.code.qualname, str(name), c);
    pointer(c + l_.code.linetable, bytes(line_table()), c);
    m_.put<int32_t>(c + l_.code.firstlineno, 10);
    if (l_.code.flags >= 0)
      m_.put<int32_t>(c + l_.code.flags, function ? kCoOptimizedNewLocals : 0);
    const std::vector<uint64_t> names =
        function ? std::vector<uint64_t>{str("x"), str("t"), str("d")} : std::vector<uint64_t>{};
    if (l_.code.localsplusnames >= 0) {
      pointer(c + l_.code.localsplusnames, tuple(names), c);
      pointer(c + l_.code.localspluskinds,
              bytes(std::string(names.size(), static_cast<char>(kFastLocal))), c);
      if (l_.code.nlocalsplus >= 0) m_.put<int32_t>(c + l_.code.nlocalsplus, names.size());
    } else if (l_.code.nlocals >= 0) {
      m_.put<int32_t>(c + l_.code.nlocals, static_cast<int32_t>(names.size()));
      pointer(c + l_.code.varnames, tuple(names), c);
      pointer(c + l_.code.cellvars, tuple({}), c);
      pointer(c + l_.code.freevars, tuple({}), c);
    }
    return c;
  }

  // A frame executing byte offset 8 of `code`, its locals x = 'hello', t = ('a', 'b'),
  // d = {'k': 'v'}.
  uint64_t frame(uint64_t code, bool with_locals) {
    const bool iframe = l_.iframe.code >= 0;
    const int64_t localsplus = iframe ? l_.iframe.localsplus : l_.frame.localsplus;
    const int64_t base = localsplus >= 0 ? localsplus : std::max<int64_t>(l_.iframe.size, 128);
    const uint64_t f = iframe ? m_.allocate(base + 64) : object(frame_type_, base + 64);
    if (iframe) {
      objects_.push_back(f);
      pointer(f + l_.iframe.code, code, f);
      pointer(f + l_.iframe.previous, 0, f);
      // prev_instr (3.11/3.12) is the last instruction started; instr_ptr (3.13) the current one.
      pointer(f + l_.iframe.instr, code + l_.code.adaptive + 8, f);
      m_.put<uint8_t>(f + l_.iframe.owner, 0);
      if (l_.iframe.locals >= 0) pointer(f + l_.iframe.locals, 0, f);
    } else {
      pointer(f + l_.frame.code, code, f);
      pointer(f + l_.frame.back, 0, f);
      m_.put<int32_t>(f + l_.frame.lasti, l_.major == 3 && l_.minor == 10 ? 4 : 8);
      if (l_.frame.lineno >= 0) m_.put<int32_t>(f + l_.frame.lineno, 13);
      if (l_.frame.locals >= 0) pointer(f + l_.frame.locals, 0, f);
    }
    if (with_locals) {
      pointer(f + base, str("hello"), f);
      pointer(f + base + 8, tuple({str("a"), str("b")}), f);
      pointer(f + base + 16, dict({{str("k"), str("v")}}), f);
    }
    return f;
  }

  // `newer`'s caller is `older`; 3.12+ puts a shim (an interpreter-owned frame) between them.
  void link(uint64_t newer, uint64_t older) {
    if (l_.iframe.code < 0) {
      pointer(newer + l_.frame.back, older, newer);
      return;
    }
    uint64_t previous = older;
    if (l_.minor >= 12) {
      const uint64_t shim = m_.allocate(l_.iframe.size + 64);
      objects_.push_back(shim);
      pointer(shim + l_.iframe.code, 0, shim);
      pointer(shim + l_.iframe.previous, older, shim);
      m_.put<uint8_t>(shim + l_.iframe.owner, 3);  // FRAME_OWNED_BY_CSTACK
      previous = shim;
    }
    pointer(newer + l_.iframe.previous, previous, newer);
  }

  void set_current_frame(uint64_t tstate, uint64_t frame) {
    if (l_.cframe.current_frame < 0) {
      pointer(tstate + l_.tstate.frame, frame, tstate);
      return;
    }
    const uint64_t cframe = m_.allocate(l_.cframe.current_frame + 16);
    pointer(tstate + l_.tstate.frame, cframe, tstate);
    pointer(cframe + l_.cframe.current_frame, frame, cframe);
  }

  FakeMemory& m_;
  const Layout l_;  // a copy: a 3.14+ layout lives in a runtime the caller may replace
  std::vector<Target> pointers_, sizes_;
  std::vector<uint64_t> objects_;
  std::vector<uint64_t> strs_;  // 3.x str objects
  uint64_t threads_[3] = {};
  uint64_t work_ = 0;
  uint64_t type_type_ = 0, object_type_ = 0, str_type_ = 0, bytes_type_ = 0, tuple_type_ = 0,
           dict_type_ = 0, code_type_ = 0, frame_type_ = 0, int_type_ = 0, module_type_ = 0,
           thread_type_ = 0;
};

std::string text(const std::optional<PyText>& t) {
  if (!t) return "<none>";
  return std::string(t->code_points.begin(), t->code_points.end());
}

std::string version_name(const Layout& l) {
  return std::to_string(l.major) + "." + std::to_string(l.minor);
}

// Every formatter over `snapshot`; returns the total length so the work is not optimized away.
size_t format_all(const Snapshot& snapshot) {
  const SourceLines no_sources;
  return format_faulthandler(snapshot).size() +
         format_traceback(snapshot, no_sources, false).size() +
         format_traceback(snapshot, no_sources, true).size() +
         format_json(snapshot, no_sources, true).size() +
         format_json(snapshot, no_sources, false).size();
}

void expect_intact(const FakeMemory& memory, const PythonRuntime& runtime,
                   const SnapshotNeeds& options) {
  SnapshotReader reader(memory, runtime);
  absl::StatusOr<Snapshot> snapshot = reader.read(options);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  ASSERT_EQ(snapshot->interpreters.size(), 1u);
  const Interpreter& interp = snapshot->interpreters[0];
  EXPECT_FALSE(interp.walk_error) << *interp.walk_error;
  ASSERT_EQ(interp.threads.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const Thread& t = interp.threads[i];
    EXPECT_EQ(t.thread_id, kThreadIds[i]);
    EXPECT_FALSE(t.walk_error) << *t.walk_error;
    EXPECT_EQ(t.holds_gil, i == 2);
    if (options.thread_names && has_object_layout(runtime.layout) && kThreadNames[i]) {
      EXPECT_EQ(t.name, std::optional<std::string>(kThreadNames[i]));
    } else {
      EXPECT_FALSE(t.name);
    }
  }
  const std::vector<Frame>& f0 = interp.threads[0].frames;
  ASSERT_EQ(f0.size(), 2u);
  EXPECT_EQ(text(f0[0].filename), "/srv/app/work.py");
  EXPECT_EQ(text(f0[0].name), "inner");
  EXPECT_EQ(f0[0].lineno, 13);
  EXPECT_EQ(text(f0[1].filename), "/srv/app/main.py");
  EXPECT_EQ(text(f0[1].name), "<module>");
  EXPECT_EQ(f0[1].lineno, 13);
  const bool shims = runtime.layout.major == 3 && runtime.layout.minor >= 12;
  EXPECT_EQ(interp.threads[0].skipped_frames, shims ? 1 : 0);
  EXPECT_TRUE(interp.threads[1].frames.empty());
  ASSERT_EQ(interp.threads[2].frames.size(), 1u);
  EXPECT_EQ(text(interp.threads[2].frames[0].name), "<module>");
  if (options.locals && has_object_layout(runtime.layout)) {
    ASSERT_EQ(f0[0].locals.size(), 3u);
    EXPECT_EQ(f0[0].locals[0].name, "d");
    EXPECT_EQ(f0[0].locals[0].repr, "{'k': 'v'}");
    EXPECT_EQ(f0[0].locals[1].name, "t");
    EXPECT_EQ(f0[0].locals[1].repr, "('a', 'b')");
    EXPECT_EQ(f0[0].locals[2].name, "x");
    EXPECT_EQ(f0[0].locals[2].repr, "'hello'");
    EXPECT_TRUE(f0[1].locals.empty());
  } else {
    EXPECT_TRUE(f0[0].locals.empty());
  }
  EXPECT_GT(format_all(*snapshot), 0u);
}

// ---- corruption ----

uint64_t huge_size(std::mt19937_64& rng) {
  static constexpr uint64_t kHuge[] = {
      ~0ULL,      1ULL << 63, (1ULL << 63) - 1, 1ULL << 40, (1ULL << 40) + 1,
      1ULL << 31, 1ULL << 22, (1ULL << 22) + 1, 1ULL << 16, (1ULL << 16) + 1,
      65535,      ~0ULL - 7};
  return rng() % 3 == 0 ? rng() : kHuge[rng() % std::size(kHuge)];
}

// A value to store in a pointer field.
uint64_t hostile_pointer(std::mt19937_64& rng, FakeMemory& memory, ImageBuilder& image,
                         const Target& field) {
  const std::vector<uint64_t>& objects = image.objects();
  switch (rng() % 6) {
    case 0:
      return rng();  // anywhere
    case 1:
      return field.object;  // itself: a cycle
    case 2:
      return objects[rng() % objects.size()];  // another object
    case 3:
      return objects[rng() % objects.size()] + rng() % 256;  // into another object
    case 4: {                                                // anywhere in the image
      auto it = memory.blocks().begin();
      std::advance(it, rng() % memory.blocks().size());
      return it->first + rng() % it->second.size();
    }
    default:
      return rng() % 2 ? 0 : 1;  // NULL, or a tagged NULL
  }
}

void corrupt_once(std::mt19937_64& rng, FakeMemory& memory, ImageBuilder& image) {
  std::vector<Target>& pointers = image.pointers();
  std::vector<Target>& sizes = image.sizes();
  switch (rng() % 7) {
    case 6: {  // a str of another kind (1, 2, 4 or invalid), its data random code units
      if (image.strs().empty()) break;
      const Layout& l = image.layout();
      const uint64_t str = image.strs()[rng() % image.strs().size()];
      memory.put<uint32_t>(str + l.unicode.state, static_cast<uint32_t>(rng()));
      for (int i = 0; i < 4; ++i) {
        memory.put<uint64_t>(str + l.unicode.ascii_size + 8 * i, rng());
      }
      break;
    }
    case 0: {  // flip bytes near a field
      const Target& t = pointers[rng() % pointers.size()];
      const uint64_t at = t.address - 16 + rng() % 40;
      uint8_t byte = 0;
      if (memory.read(at, &byte, 1).ok()) memory.put<uint8_t>(at, byte ^ (1u << (rng() % 8)));
      break;
    }
    case 1:
    case 2: {  // a pointer replaced
      const Target& t = pointers[rng() % pointers.size()];
      memory.put<uint64_t>(t.address, hostile_pointer(rng, memory, image, t));
      break;
    }
    case 3: {  // a huge (or negative) size in a str, bytes or tuple header
      const Target& t = sizes[rng() % sizes.size()];
      memory.put<uint64_t>(t.address, huge_size(rng));
      break;
    }
    case 4: {  // a region truncated: reads past its new end fail
      auto it = memory.blocks().begin();
      std::advance(it, rng() % memory.blocks().size());
      it->second.resize(rng() % (it->second.size() / kPage) * kPage);
      if (it->second.empty()) memory.blocks().erase(it);
      break;
    }
    default: {  // random bytes anywhere in an object's first page
      const std::vector<uint64_t>& objects = image.objects();
      const uint64_t at = objects[rng() % objects.size()] + rng() % 512;
      uint8_t byte = static_cast<uint8_t>(rng());
      if (memory.read(at, &byte, 1).ok()) memory.put<uint8_t>(at, static_cast<uint8_t>(rng()));
      break;
    }
  }
}

constexpr int kSeedsPerVersion = 1000;

// PYSTACK_WALK_FUZZ_SEEDS=N runs N seeds per version instead (a longer campaign by hand).
int seeds_per_version() {
  const char* env = std::getenv("PYSTACK_WALK_FUZZ_SEEDS");
  const int n = env != nullptr ? std::atoi(env) : 0;
  return n > 0 ? n : kSeedsPerVersion;
}
constexpr auto kMaxReadTime = std::chrono::seconds(2);
constexpr auto kMaxLongChainTime = std::chrono::seconds(15);

// A hang must fail the test rather than stall the suite: a read still running long after
// kMaxReadTime ends the process, naming the image (the time check after a read cannot see a
// read that never returns).
class Watchdog {
 public:
  static constexpr auto kHangTime = std::chrono::seconds(20);

  Watchdog() : thread_([this] { run(); }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void arm(std::string what) {
    std::lock_guard<std::mutex> lock(mutex_);
    what_ = std::move(what);
    deadline_ = std::chrono::steady_clock::now() + kHangTime;
    wake_.notify_all();
  }
  void disarm() {
    std::lock_guard<std::mutex> lock(mutex_);
    deadline_.reset();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      if (deadline_ && std::chrono::steady_clock::now() >= *deadline_) {
        std::fprintf(stderr, "walk_fuzz: %s: read still running after %llds: a hang\n",
                     what_.c_str(), static_cast<long long>(kHangTime.count()));
        std::abort();
      }
      if (deadline_) {
        wake_.wait_until(lock, *deadline_);
      } else {
        wake_.wait(lock);
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  std::string what_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the members it uses exist
};

struct FuzzCounts {
  int ok = 0, failed = 0, partial = 0;
};

// 3.14 and 3.15 describe themselves: the runtime starts with _Py_DebugOffsets (`offsets`, an
// image built from the C declarations in debug_offsets_314_test.h), which identify_runtime reads.
absl::StatusOr<PythonRuntime> identify_at(const FakeMemory& memory, uint64_t runtime) {
  PythonBinary binary;
  binary.path = "/usr/lib/libpython3.14.so.1.0";
  binary.runtime = runtime;
  return identify_runtime(memory, binary);
}

// A fresh image: of `layout`, or (offsets non-empty) of the 3.14+ runtime those offsets describe.
// Returns the runtime to read it with; `runtime_block` is where the offsets are (0: none).
absl::StatusOr<PythonRuntime> build_image(FakeMemory& memory, const Layout& layout,
                                          const std::string& offsets,
                                          std::unique_ptr<ImageBuilder>& image,
                                          uint64_t& runtime_block) {
  runtime_block = 0;
  if (offsets.empty()) {
    image = std::make_unique<ImageBuilder>(memory, layout);
    return image->build();
  }
  runtime_block = memory.allocate(test314::Sizes::kRuntimeSize);
  memory.write(runtime_block, offsets.data(), offsets.size());
  absl::StatusOr<PythonRuntime> identified = identify_at(memory, runtime_block);
  if (!identified.ok()) return identified.status();
  image = std::make_unique<ImageBuilder>(memory, identified->layout);
  return image->build(*identified);
}

// One corrupted image: each read and its formatting must return, well within kMaxReadTime.
void fuzz_one(const Layout& layout, const std::string& offsets, const std::string& name,
              uint32_t seed, Watchdog& watchdog, FuzzCounts& counts) {
  FakeMemory memory;
  std::unique_ptr<ImageBuilder> image;
  uint64_t runtime_block = 0;
  absl::StatusOr<PythonRuntime> runtime =
      build_image(memory, layout, offsets, image, runtime_block);
  ASSERT_TRUE(runtime.ok()) << runtime.status();
  std::mt19937_64 rng(seed);
  // Mostly a few faults, so that the walk gets far with each; every fifth image takes many.
  const int corruptions = seed % 5 == 0 ? 8 + rng() % 24 : 1 + rng() % 4;
  for (int i = 0; i < corruptions && !memory.blocks().empty(); ++i)
    corrupt_once(rng, memory, *image);
  if (runtime_block != 0 && rng() % 4 == 0) {
    // The debug offsets themselves corrupt: identify_runtime must refuse them or give a layout
    // that the walk survives.
    for (int i = 1 + rng() % 3; i > 0; --i) {
      memory.put<uint8_t>(runtime_block + rng() % offsets.size(), static_cast<uint8_t>(rng()));
    }
    runtime = identify_at(memory, runtime_block);
    if (!runtime.ok()) {
      ++counts.failed;
      return;
    }
  }

  SnapshotReader reader(memory, *runtime);
  for (const SnapshotNeeds options :
       {SnapshotNeeds{.locals = true, .thread_names = true, .exceptions = true},
        SnapshotNeeds{false, false}}) {
    watchdog.arm(name + " seed " + std::to_string(seed));
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<Snapshot> snapshot = reader.read(options);
    size_t formatted = 0;
    if (snapshot.ok()) formatted = format_all(*snapshot);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    watchdog.disarm();
    ASSERT_LT(elapsed, kMaxReadTime) << name << " seed " << seed;
    if (!snapshot.ok()) {
      ++counts.failed;
      continue;
    }
    ++counts.ok;
    EXPECT_GT(formatted, 0u);
    bool marked = false;
    for (const Interpreter& interp : snapshot->interpreters) {
      marked |= interp.walk_error.has_value();
      for (const Thread& t : interp.threads) marked |= t.walk_error.has_value();
    }
    counts.partial += marked;
  }
}

void fuzz_version(const Layout& layout, const std::string& offsets, const std::string& name,
                  int seeds) {
  FuzzCounts counts;
  Watchdog watchdog;
  for (uint32_t seed = 1; seed <= static_cast<uint32_t>(seeds); ++seed) {
    fuzz_one(layout, offsets, name, seed, watchdog, counts);
    if (::testing::Test::HasFatalFailure()) return;
  }
  std::cout << "[ fuzzed   ] " << name << ": " << seeds << " seeds, reads ok " << counts.ok
            << " (partial " << counts.partial << "), failed " << counts.failed << "\n";
}

struct Offsets314 {
  std::string name;
  std::string image;
};

std::vector<Offsets314> offsets_314() {
  using namespace test314;  // NOLINT: test-only names
  return {
      {"3.14.0", image_of(example_offsets<DebugOffsets314>(kVersion3140))},
      {"3.14.1", image_of(example_offsets<DebugOffsets314>(kVersion3141))},
      {"3.15", image_of(example_315())},
      {"3.15 (pre-b1)", image_of(example_315_pre())},
  };
}

std::vector<Layout> x86_64_layouts() {
  std::vector<Layout> out;
  for (const Layout& l : all_layouts()) {
    if (l.pointer_size == 8) out.push_back(l);
  }
  return out;
}

TEST(WalkFuzz, IntactImagesGiveEveryFrame) {
  const std::vector<Layout> layouts = x86_64_layouts();
  ASSERT_FALSE(layouts.empty());
  std::string covered;
  for (const Layout& layout : layouts) {
    SCOPED_TRACE(version_name(layout));
    covered += " " + version_name(layout);
    FakeMemory memory;
    ImageBuilder image(memory, layout);
    const PythonRuntime runtime = image.build();
    expect_intact(memory, runtime, SnapshotNeeds{false, false});
    expect_intact(memory, runtime, SnapshotNeeds{true, false});
    expect_intact(memory, runtime, SnapshotNeeds{true, true});
  }
  for (const Offsets314& offsets : offsets_314()) {
    SCOPED_TRACE(offsets.name);
    covered += " " + offsets.name;
    FakeMemory memory;
    std::unique_ptr<ImageBuilder> image;
    uint64_t runtime_block = 0;
    absl::StatusOr<PythonRuntime> runtime =
        build_image(memory, Layout{}, offsets.image, image, runtime_block);
    ASSERT_TRUE(runtime.ok()) << runtime.status();
    expect_intact(memory, *runtime, SnapshotNeeds{false, false});
    expect_intact(memory, *runtime, SnapshotNeeds{true, true});
  }
  std::cout << "[ covered  ]" << covered << "\n";
}

// The depth bound: a chain longer than kMaxFrames is cut there and marked, in bounded time, and
// every formatter copes with the longest stack a walk can give.
TEST(WalkFuzz, LongFrameChainsAreCut) {
  struct Case {
    std::string name;
    Layout layout;
    std::string offsets;
  };
  // One version of each way to the frames (static heads, frame objects, 3.10's line table,
  // cframe, shims, current_frame, debug offsets), to keep the run short.
  const std::vector<std::string> wanted = {"2.7",  "3.6",  "3.7",    "3.10", "3.11",
                                           "3.12", "3.13", "3.14.1", "3.15"};
  std::vector<Case> cases;
  for (const Layout& layout : x86_64_layouts()) cases.push_back({version_name(layout), layout, ""});
  for (const Offsets314& offsets : offsets_314())
    cases.push_back({offsets.name, Layout{}, offsets.image});
  // 3.14+ come both as generated tables and as debug offsets: the first of each name is kept.
  std::set<std::string> seen;
  std::erase_if(cases, [&](const Case& c) {
    return std::find(wanted.begin(), wanted.end(), c.name) == wanted.end() ||
           !seen.insert(c.name).second;
  });
  ASSERT_EQ(cases.size(), wanted.size());
  std::ostringstream times;  // read + format times, for the log
  for (const auto& [name, layout, offsets] : cases) {
    FakeMemory memory;
    std::unique_ptr<ImageBuilder> image;
    uint64_t runtime_block = 0;
    absl::StatusOr<PythonRuntime> runtime =
        build_image(memory, layout, offsets, image, runtime_block);
    ASSERT_TRUE(runtime.ok()) << runtime.status();
    image->give_long_chain(kMaxFrames + 10);
    SnapshotReader reader(memory, *runtime);
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<Snapshot> snapshot = reader.read(SnapshotNeeds{true, true});
    const auto read = std::chrono::steady_clock::now();
    ASSERT_TRUE(snapshot.ok()) << name << ": " << snapshot.status();
    EXPECT_GT(format_all(*snapshot), 0u);
    const auto formatted = std::chrono::steady_clock::now();
    // Loose bounds (about 0.1 s each here in a normal build): a sanitizer build on a busy
    // machine must not fail them, a walk or formatter gone quadratic must.
    EXPECT_LT(read - start, kMaxLongChainTime) << name;
    EXPECT_LT(formatted - read, kMaxLongChainTime) << name;
    times << " " << name << " "
          << std::chrono::duration_cast<std::chrono::milliseconds>(read - start).count() << "+"
          << std::chrono::duration_cast<std::chrono::milliseconds>(formatted - read).count()
          << "ms";
    const Thread& thread = snapshot->interpreters.at(0).threads.at(1);
    EXPECT_EQ(thread.frames.size(), static_cast<size_t>(kMaxFrames)) << name;
    EXPECT_EQ(thread.walk_error, std::optional<std::string>("more frames than pystack-dump reads"))
        << name;
  }
  std::cout << "[ times    ]" << times.str() << "\n";
}

TEST(WalkFuzz, CorruptImagesNeitherCrashNorHang) {
  const std::vector<Layout> layouts = x86_64_layouts();
  ASSERT_FALSE(layouts.empty());
  for (const Layout& layout : layouts) {
    fuzz_version(layout, "", version_name(layout), seeds_per_version());
    if (HasFatalFailure()) return;
  }
}

TEST(WalkFuzz, Corrupt314ImagesNeitherCrashNorHang) {
  for (const Offsets314& offsets : offsets_314()) {
    fuzz_version(Layout{}, offsets.image, offsets.name, seeds_per_version());
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace pystack
