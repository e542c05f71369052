// What the --tasks tests share (asyncio_tasks_reader_test.cc for 3.14's task lists,
// asyncio_task_registry_test.cc for 3.7-3.13's registries): a fake address space to build
// CPython objects in, a writer of those objects that records the fields a fuzz may corrupt, the
// helpers that describe and bound what AsyncioTaskReader returns, and the seeded fuzz loop.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../fuzz/fake_memory.h"
#include "absl/strings/str_format.h"
#include "cpython/asyncio_tasks.h"
#include "cpython/dict.h"
#include "cpython/layout.h"
#include "cpython/objects.h"
#include "cpython/py_types.h"
#include "memory/remote_memory.h"

namespace pystack::testing {

inline constexpr uint64_t kPage = 4096;
inline constexpr uint64_t kUnmapped = 0x5ead0000;  // below every block
inline constexpr uint64_t kTpFlagsLong = 1ULL << 24;
inline constexpr uint64_t kTpFlagsList = 1ULL << 25;
inline constexpr uint64_t kTpFlagsBytes = 1ULL << 27;
inline constexpr uint64_t kTpFlagsUnicode = 1ULL << 28;
inline constexpr uint64_t kTpFlagsDict = 1ULL << 29;
inline constexpr uint64_t kTpFlagsType = 1ULL << 31;
inline constexpr uint64_t kNativeIdA = 1001, kNativeIdB = 1002;
inline constexpr uint64_t kIdentA = 0x7f3a2b1ff6c0, kIdentB = 0x7f3a2c8e1740;  // pthread_t values

// The fuzz targets' address space, with room handed out as a process's allocator would: blocks
// of whole pages with an unmapped page after each, so that a read past a block fails.
class FakeProcessMemory final : public fuzz::FakeMemory {
 public:
  uint64_t allocate(size_t size) {
    const uint64_t address = next_;
    const size_t pages = std::max<size_t>((size + kPage - 1) / kPage, 1);
    next_ += (pages + 1) * kPage;
    map(address, std::string(pages * kPage, '\0'));
    return address;
  }
  bool write(uint64_t address, const void* data, size_t size) { return poke(address, data, size); }
  // A test writes only where it built something: anything else is a bug of the test.
  template <typename T>
  void put(uint64_t address, T value) {
    ASSERT_TRUE(write(address, &value, sizeof value)) << std::hex << address;
  }
  template <typename T>
  T get(uint64_t address) const {
    T value{};
    EXPECT_TRUE(read(address, &value, sizeof value).ok()) << std::hex << address;
    return value;
  }
  bool mapped(uint64_t address) const {
    uint8_t byte;
    return read(address, &byte, 1).ok();
  }

 private:
  uint64_t next_ = 0x7f1000000000;
};

// How a test's images were first laid out. Each fuzz's fixed seeds are tied to its image (which
// words it corrupts, where names lie), so each test keeps its own.
struct ImageStyle {
  bool packed = false;          // objects share 1 MiB chunks, 32 free bytes before each (room for
                                // a managed __dict__); else each object has pages of its own
  uint64_t type_name_at = 800;  // where in a type's page its tp_name text lies
  int64_t type_basicsize = 0;   // tp_basicsize written, when not 0
  bool fuzz_type_flags = true;  // tp_flags among the words a fuzz corrupts
  bool fuzz_str_length = true;  // a str's length among them
};

// Writes CPython objects of one Layout into a FakeProcessMemory and records the words, bytes and
// objects a fuzz may corrupt. A test's builder derives from it, makes the types in the order its
// image always had them (addresses follow from it), and adds the objects of its own model.
class ObjectWriter {
 public:
  ObjectWriter(FakeProcessMemory& memory, const Layout& layout, ImageStyle style)
      : m_(memory), l_(layout), style_(style) {}

  // Space for an object (see ImageStyle::packed).
  uint64_t raw(size_t size) {
    if (!style_.packed) return m_.allocate(size);
    size = (size + 15) & ~size_t{15};
    constexpr size_t kChunk = 1 << 20;
    if (size + 32 > kChunk / 8) return m_.allocate(size + 32) + 32;
    if (left_ < size + 32) {
      chunk_ = m_.allocate(kChunk);
      left_ = kChunk;
    }
    const uint64_t o = chunk_ + 32;
    chunk_ += size + 32;
    left_ -= size + 32;
    return o;
  }
  uint64_t object(uint64_t type, size_t size) {
    const uint64_t o = raw(std::max<size_t>(size, 32));
    m_.put<uint64_t>(o, 1);  // ob_refcnt
    word(o + l_.object.type, type);
    objects_.push_back(o);
    return o;
  }
  // A field a fuzz may corrupt, as a whole word or (field_byte) one byte.
  void word(uint64_t address, uint64_t value) {
    m_.put<uint64_t>(address, value);
    words_.push_back(address);
  }
  void field_byte(uint64_t address) { bytes_.push_back(address); }

  // A type of base `base` (object's, unless given; 0 for none).
  uint64_t type(const std::string& name, uint64_t flags, uint64_t base = ~uint64_t{0}) {
    const uint64_t t = m_.allocate(std::max<uint64_t>(style_.type_name_at + 256, 1024));
    const uint64_t text = t + style_.type_name_at;
    m_.write(text, name.c_str(), name.size() + 1);
    m_.put<uint64_t>(t, 1);
    word(t + l_.object.type, type_type_);
    word(t + l_.type.name, text);
    if (style_.fuzz_type_flags) {
      word(t + l_.type.flags, flags);
    } else {
      m_.put<uint64_t>(t + l_.type.flags, flags);
    }
    word(t + l_.type.base, base == ~uint64_t{0} ? object_type_ : base);
    if (style_.type_basicsize != 0) m_.put<int64_t>(t + l_.type.basicsize, style_.type_basicsize);
    return t;
  }

  // A compact str: ASCII data after PyASCIIObject, Latin-1 after PyCompactUnicodeObject.
  uint64_t str(const std::u32string& text) {
    const bool ascii = std::all_of(text.begin(), text.end(), [](char32_t c) { return c < 128; });
    for (char32_t c : text) EXPECT_LT(c, 256u) << "Latin-1 only";
    const uint64_t o =
        object(str_type_, std::max<size_t>(128, l_.unicode.compact_size + text.size() + 1));
    if (style_.fuzz_str_length) {
      word(o + l_.unicode.length, text.size());
    } else {
      m_.put<int64_t>(o + l_.unicode.length, static_cast<int64_t>(text.size()));
    }
    const uint32_t state = (1u << l_.unicode.kind_shift) | (1u << l_.unicode.compact_bit) |
                           (ascii ? 1u << l_.unicode.ascii_bit : 0);
    m_.put<uint32_t>(o + l_.unicode.state, state);
    field_byte(o + l_.unicode.state);
    uint64_t data = o + (ascii ? l_.unicode.ascii_size : l_.unicode.compact_size);
    for (char32_t c : text) m_.put<uint8_t>(data++, static_cast<uint8_t>(c));
    return o;
  }
  uint64_t str(const std::string& ascii) { return str(std::u32string(ascii.begin(), ascii.end())); }

  // An int of up to three 30-bit digits (every uint64_t), negative with `negative`.
  uint64_t integer(uint64_t value, bool negative = false) {
    const uint64_t o = object(int_type_, 64);
    const int shift = static_cast<int>(l_.long_object.shift);
    const uint32_t mask = (1u << shift) - 1;
    const uint32_t digits[3] = {static_cast<uint32_t>(value & mask),
                                static_cast<uint32_t>((value >> shift) & mask),
                                static_cast<uint32_t>(value >> (2 * shift))};
    const int64_t ndigits = digits[2] ? 3 : digits[1] ? 2 : digits[0] ? 1 : 0;
    set_int_size(o, ndigits, negative);
    for (int i = 0; i < 3; ++i) m_.put<uint32_t>(o + l_.long_object.digits + 4 * i, digits[i]);
    return o;
  }
  // 3.12+: lv_tag = ndigits << 3 | sign; before: ob_size, negative for a negative int.
  void set_int_size(uint64_t o, int64_t ndigits, bool negative) {
    if (l_.long_object.tag >= 0) {
      word(o + l_.long_object.tag, (static_cast<uint64_t>(ndigits) << 3) | (negative ? 2 : 0));
    } else {
      word(o + l_.object.var_size, static_cast<uint64_t>(negative ? -ndigits : ndigits));
    }
  }

  // A combined dict with general (hash, key, value) entries, keys str.
  uint64_t dict(const std::vector<std::pair<std::string, uint64_t>>& items) {
    std::vector<std::pair<uint64_t, uint64_t>> pairs;
    for (const auto& [key, value] : items) pairs.push_back({str(key), value});
    return dict_of(pairs);
  }
  uint64_t dict_of(const std::vector<std::pair<uint64_t, uint64_t>>& items) {
    uint64_t size = 8;
    while (size * 2 < items.size() * 3 + 2) size *= 2;
    const uint64_t width = size <= 0xff ? 1 : size <= 0xffff ? 2 : 4;
    const uint64_t d = object(dict_type_, 128);
    word(d + l_.dict.used, items.size());
    const uint64_t keys =
        m_.allocate(l_.dictkeys.indices + size * width + size * l_.dict_entry.size);
    if (l_.dictkeys.log2_size >= 0) {
      int log2 = 0;
      while ((uint64_t{1} << log2) < size) ++log2;
      int log2_width = width == 1 ? 0 : width == 2 ? 1 : 2;
      m_.put<uint8_t>(keys + l_.dictkeys.log2_size, static_cast<uint8_t>(log2));
      m_.put<uint8_t>(keys + l_.dictkeys.log2_index_bytes, static_cast<uint8_t>(log2 + log2_width));
      m_.put<uint8_t>(keys + l_.dictkeys.kind, 0);  // DICT_KEYS_GENERAL
      field_byte(keys + l_.dictkeys.log2_size);
    } else {
      word(keys + l_.dictkeys.size, size);
    }
    word(keys + l_.dictkeys.nentries, items.size());
    word(d + l_.dict.keys, keys);
    word(d + l_.dict.values, 0);
    const uint64_t entries = keys + l_.dictkeys.indices + size * width;
    for (size_t i = 0; i < items.size(); ++i) {
      const uint64_t entry = entries + i * l_.dict_entry.size;
      word(entry + l_.dict_entry.key, items[i].first);
      word(entry + l_.dict_entry.value, items[i].second);
    }
    return d;
  }

  uint64_t list(const std::vector<uint64_t>& items) {
    const uint64_t o = object(list_type_, 64);
    const uint64_t array = items.size() > 64 ? m_.allocate(8 * items.size()) : raw(8 * 64);
    word(o + l_.object.var_size, items.size());
    word(o + l_.list.items, array);
    for (size_t i = 0; i < items.size(); ++i) word(array + 8 * i, items[i]);
    return o;
  }

  const std::vector<uint64_t>& words() const { return words_; }
  const std::vector<uint64_t>& bytes() const { return bytes_; }
  const std::vector<uint64_t>& objects() const { return objects_; }
  const Layout& layout() const { return l_; }

 protected:
  FakeProcessMemory& m_;
  const Layout& l_;
  // Set by the test's builder, in its order; 0 until made.
  uint64_t type_type_ = 0, object_type_ = 0, str_type_ = 0, int_type_ = 0, dict_type_ = 0,
           list_type_ = 0;
  std::vector<uint64_t> words_, bytes_, objects_;

 private:
  ImageStyle style_;
  uint64_t chunk_ = 0;
  size_t left_ = 0;
};

// --- Reading and describing tasks --------------------------------------------------------------

struct ReadStats {
  size_t frame_reads = 0;
};

// AsyncioTaskReader over `memory`, with `frame_of` (uint64_t coroutine -> optional<Frame>)
// standing in for the snapshot's frame reader.
template <typename FrameOf>
AsyncioTasks ReadTasks(const RemoteMemory& memory, const Layout& layout, uint64_t interp,
                       const std::vector<Thread>& threads,
                       std::optional<AsyncioDebugOffsets> offsets, FrameOf frame_of,
                       ReadStats* stats) {
  ObjectReader objects(memory, layout);
  TypeCache types(objects);
  DictReader dicts(objects);
  size_t frame_reads = 0;
  AsyncioTaskReader reader(objects, types, dicts,
                           [&](uint64_t coroutine) -> std::optional<Frame> {
                             ++frame_reads;
                             return frame_of(coroutine);
                           });
  reader.set_debug_offsets(offsets);
  AsyncioTasks tasks = reader.read(interp, threads);
  if (stats != nullptr) stats->frame_reads = frame_reads;
  return tasks;
}

inline std::vector<Frame> FramesAt(const std::vector<uint64_t>& code_addresses) {
  std::vector<Frame> frames;
  for (uint64_t address : code_addresses) {
    Frame f;
    f.code_address = address;
    frames.push_back(f);
  }
  return frames;
}

inline std::string DescribeStack(const std::vector<Frame>& frames) {
  std::string out = "[";
  for (size_t i = 0; i < frames.size(); ++i) {
    absl::StrAppendFormat(&out, "%s0x%x", i ? " " : "", frames[i].code_address);
  }
  return out + "]";
}

// All of `tasks` as text, so that a mismatch shows where.
inline std::string Describe(const AsyncioTasks& tasks) {
  std::string out;
  if (tasks.unavailable) absl::StrAppendFormat(&out, "unavailable: %s\n", *tasks.unavailable);
  if (tasks.walk_error) absl::StrAppendFormat(&out, "walk_error: %s\n", *tasks.walk_error);
  for (const AsyncioTaskList& list : tasks.lists) {
    absl::StrAppendFormat(&out, "list thread=%d ident=0x%x main=%d\n", list.thread_id,
                          list.thread_ident, list.main_thread);
    for (const AsyncioTask& t : list.tasks) {
      absl::StrAppendFormat(&out, "  task 0x%x name='%s' known=%d stack=%s\n", t.id, t.name,
                            t.awaited_by_known, DescribeStack(t.coroutine_stack));
      for (const TaskAwaiter& a : t.awaited_by) {
        absl::StrAppendFormat(&out, "    awaited_by 0x%x stack=%s\n", a.task_id,
                              DescribeStack(a.coroutine_stack));
      }
    }
  }
  return out;
}

inline AsyncioTask Task(uint64_t id, std::string name, std::vector<Frame> stack,
                        std::vector<TaskAwaiter> awaited_by = {}) {
  AsyncioTask t;
  t.id = id;
  t.name = std::move(name);
  t.coroutine_stack = std::move(stack);
  t.awaited_by = std::move(awaited_by);
  return t;
}

inline AsyncioTaskList List(uint64_t thread_id, uint64_t ident, bool main,
                            std::vector<AsyncioTask> tasks) {
  AsyncioTaskList list;
  list.thread_id = thread_id;
  list.thread_ident = ident;
  list.main_thread = main;
  list.tasks = std::move(tasks);
  return list;
}

// The reader's bounds hold everywhere in `tasks`: at most `max_lists` lists of
// `max_tasks_per_list` tasks, each chain and awaiter set within its bound, and with `max_frames`,
// at most that many frames in all.
inline void ExpectBounded(const AsyncioTasks& tasks, size_t max_lists, size_t max_tasks_per_list,
                          std::optional<size_t> max_frames) {
  EXPECT_LE(tasks.lists.size(), max_lists);
  size_t frames = 0;
  for (const AsyncioTaskList& list : tasks.lists) {
    ASSERT_LE(list.tasks.size(), max_tasks_per_list);
    for (const AsyncioTask& t : list.tasks) {
      ASSERT_LE(t.coroutine_stack.size(), kMaxCoroutineChain);
      ASSERT_LE(t.awaited_by.size(), kMaxAwaiters);
      frames += t.coroutine_stack.size();
      for (const TaskAwaiter& a : t.awaited_by) {
        ASSERT_LE(a.coroutine_stack.size(), kMaxCoroutineChain);
        frames += a.coroutine_stack.size();
      }
    }
  }
  if (max_frames) {
    ASSERT_LE(frames, *max_frames);
  }
}

inline const AsyncioTask* FindTask(const AsyncioTasks& tasks, uint64_t id) {
  for (const AsyncioTaskList& list : tasks.lists) {
    for (const AsyncioTask& t : list.tasks) {
      if (t.id == id) return &t;
    }
  }
  return nullptr;
}

inline double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// --- Fuzz --------------------------------------------------------------------------------------

// Turns a read that never returns into an abort naming it (the time check after a read cannot
// see a read that never returns).
class Watchdog {
 public:
  static constexpr auto kHangTime = std::chrono::seconds(60);  // generous: valgrind
  explicit Watchdog(std::string name) : name_(std::move(name)), thread_([this] { run(); }) {}
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
    armed_at_ = std::chrono::steady_clock::now();
    armed_ = true;
  }
  void disarm() {
    std::lock_guard<std::mutex> lock(mutex_);
    armed_ = false;
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      if (armed_ && std::chrono::steady_clock::now() - armed_at_ > kHangTime) {
        std::cerr << name_ << ": " << what_ << " never returned\n";
        std::abort();
      }
      wake_.wait_for(lock, std::chrono::milliseconds(200));
    }
  }
  const std::string name_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false, armed_ = false;
  std::string what_;
  std::chrono::steady_clock::time_point armed_at_;
  std::thread thread_;  // last: starts once the members it uses exist
};

// Writes to the image that are undone when it goes, so that every seed starts from the intact
// image without building it again.
class Mutator {
 public:
  explicit Mutator(FakeProcessMemory& memory) : memory_(memory) {}
  ~Mutator() { undo(); }
  void write(uint64_t address, const void* data, size_t size) {
    std::vector<uint8_t> old(size);
    if (!memory_.read(address, old.data(), size).ok()) return;
    log_.push_back({address, std::move(old)});
    memory_.write(address, data, size);
  }
  template <typename T>
  void put(uint64_t address, T value) {
    write(address, &value, sizeof value);
  }
  void undo() {
    for (auto it = log_.rbegin(); it != log_.rend(); ++it) {
      memory_.write(it->first, it->second.data(), it->second.size());
    }
    log_.clear();
  }

 private:
  FakeProcessMemory& memory_;
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> log_;
};

// One fuzz of an intact image: what it corrupts and how far.
struct FuzzPlan {
  std::string name;  // for the watchdog
  uint32_t seeds = 0;
  uint64_t seed_scale = 1, seed_offset = 0;  // seed n draws from mt19937_64(n * scale + offset)
  const ObjectWriter* fields = nullptr;      // its words, bytes and objects
  uint64_t pointer_words = 32;               // kind 2: a pointer up to this many words in
  uint64_t object_bytes = 1024;              // kind 9: a byte up to this far into an object
};

struct FuzzCounts {
  size_t walk_errors = 0, tasks_read = 0;
};

// Per seed: `begin()` (the seed's own state from the intact one), 1 to 6 corruptions of a
// recorded word by kind rng() % 12: flipped bits of one byte, a random value, a pointer into an
// object, `own(kind, field, rng, mutator)` for kinds 3, 4, 10 and 11, the field itself, NULL, a
// huge or odd size, a random recorded byte or object byte; then `read()` under the watchdog,
// which must check its bounds. Stops at the first seed that fails, naming it.
template <typename Begin, typename Own, typename Read>
FuzzCounts FuzzImage(FakeProcessMemory& memory, const FuzzPlan& plan, Begin begin, Own own,
                     Read read) {
  const std::vector<uint64_t>& words = plan.fields->words();
  const std::vector<uint64_t>& bytes = plan.fields->bytes();
  const std::vector<uint64_t>& objects = plan.fields->objects();
  Watchdog watchdog(plan.name);
  FuzzCounts counts;
  for (uint32_t seed = 1; seed <= plan.seeds; ++seed) {
    std::mt19937_64 rng(seed * plan.seed_scale + plan.seed_offset);
    auto pick = [&](const std::vector<uint64_t>& from) { return from[rng() % from.size()]; };
    Mutator mutator(memory);
    begin();
    const int mutations = 1 + static_cast<int>(rng() % 6);
    for (int i = 0; i < mutations; ++i) {
      const uint64_t field = pick(words);
      switch (const int kind = static_cast<int>(rng() % 12)) {
        case 0: {
          const uint64_t at = field + rng() % 8;
          uint8_t byte = memory.get<uint8_t>(at) ^ static_cast<uint8_t>(1 + rng() % 255);
          mutator.put(at, byte);
          break;
        }
        case 1: mutator.put<uint64_t>(field, rng()); break;
        case 2: mutator.put<uint64_t>(field, pick(objects) + 8 * (rng() % plan.pointer_words)); break;
        case 5: mutator.put<uint64_t>(field, field); break;
        case 6: mutator.put<uint64_t>(field, 0); break;
        case 7: {
          const uint64_t sizes[] = {uint64_t{1} << 40, ~uint64_t{0}, uint64_t{1} << 63,
                                    (uint64_t{1} << (rng() % 25)) - 1, rng() % 300};
          mutator.put<uint64_t>(field, sizes[rng() % 5]);
          break;
        }
        case 8: mutator.put<uint8_t>(pick(bytes), static_cast<uint8_t>(rng())); break;
        case 9:
          mutator.put<uint8_t>(pick(objects) + rng() % plan.object_bytes,
                               static_cast<uint8_t>(rng()));
          break;
        default: own(kind, field, rng, mutator); break;
      }
    }
    watchdog.arm("seed " + std::to_string(seed));
    const AsyncioTasks tasks = read();
    watchdog.disarm();
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "seed " << seed;
      return counts;
    }
    if (tasks.walk_error) ++counts.walk_errors;
    for (const AsyncioTaskList& list : tasks.lists) counts.tasks_read += list.tasks.size();
  }
  return counts;
}

}  // namespace pystack::testing
