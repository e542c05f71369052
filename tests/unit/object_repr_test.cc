// ObjectRepr over a synthetic 3.12 heap: the built-in reprs, subclasses, and above all the cases
// no live CPython shows: cuts by the bounds (items, depth, bytes), cycles, unreadable and
// corrupt memory, all marked and never fatal.
#include "cpython/object_repr.h"

#include <cstring>
#include <map>
#include <string>

#include "cpython/dict.h"
#include "cpython/layout.h"
#include "cpython/py_types.h"
#include "gtest/gtest.h"

namespace pystack {
namespace {

// Memory made of separately allocated blocks; anything else is unreadable.
class FakeMemory final : public RemoteMemory {
 public:
  absl::Status read(uint64_t address, void* out, size_t size) const override {
    auto it = blocks_.upper_bound(address);
    if (it == blocks_.begin()) return absl::DataLossError("unmapped");
    --it;
    const uint64_t offset = address - it->first;
    if (offset + size > it->second.size()) return absl::DataLossError("unmapped");
    std::memcpy(out, it->second.data() + offset, size);
    return absl::OkStatus();
  }

  // A zeroed block of at least `size` bytes, whole pages as in a process; 64 KiB apart.
  uint64_t allocate(size_t size) {
    const uint64_t address = next_;
    next_ += 0x10000;
    blocks_[address] = std::string((size + 4095) / 4096 * 4096, '\0');
    return address;
  }
  template <typename T>
  void put(uint64_t address, T value) {
    auto it = --blocks_.upper_bound(address);
    std::memcpy(it->second.data() + (address - it->first), &value, sizeof value);
  }
  void put_bytes(uint64_t address, const std::string& bytes) {
    auto it = --blocks_.upper_bound(address);
    std::memcpy(it->second.data() + (address - it->first), bytes.data(), bytes.size());
  }

 private:
  std::map<uint64_t, std::string> blocks_;
  uint64_t next_ = 0x7f0000000000;
};

constexpr uint64_t kLongSubclass = 1ULL << 24, kListSubclass = 1ULL << 25,
                   kTupleSubclass = 1ULL << 26, kUnicodeSubclass = 1ULL << 28,
                   kDictSubclass = 1ULL << 29;

class ObjectReprTest : public ::testing::Test {
 protected:
  ObjectReprTest()
      : layout_(*find_layout(3, 12)), objects_(memory_, layout_), types_(objects_),
        dicts_(objects_) {
    object_type_ = make_type("object", 0, 0, 0x1000);
    int_type_ = make_type("int", kLongSubclass, object_type_, 0x1001);
    list_type_ = make_type("list", kListSubclass, object_type_, 0x1002);
    tuple_type_ = make_type("tuple", kTupleSubclass, object_type_, 0x1003);
    str_type_ = make_type("str", kUnicodeSubclass, object_type_, 0x1004);
    dict_type_ = make_type("dict", kDictSubclass, object_type_, 0x1005);
  }

  std::string repr(uint64_t object, ReprLimits limits = {}) {
    ObjectRepr reprs(objects_, types_, dicts_, PythonVersion{3, 12, 1, 0}, limits);
    return reprs.repr(object);
  }

  uint64_t make_type(const std::string& name, uint64_t flags, uint64_t base, uint64_t tp_repr) {
    const uint64_t type = memory_.allocate(1024);
    const uint64_t text = memory_.allocate(name.size() + 1);
    memory_.put_bytes(text, name);
    memory_.put<uint64_t>(type + layout_.type.name, text);
    memory_.put<uint64_t>(type + layout_.type.flags, flags);
    memory_.put<uint64_t>(type + layout_.type.base, base);
    memory_.put<uint64_t>(type + layout_.type.repr, tp_repr);
    return type;
  }
  uint64_t make_object(uint64_t type, size_t size = 64) {
    const uint64_t object = memory_.allocate(size);
    memory_.put<uint64_t>(object, 1);  // refcount
    memory_.put<uint64_t>(object + layout_.object.type, type);
    return object;
  }
  // A small int: one 30-bit digit (3.12: lv_tag = ndigits << 3 | sign).
  uint64_t make_int(int64_t value) {
    const uint64_t object = make_object(int_type_);
    const uint64_t sign = value < 0 ? 2 : value == 0 ? 1 : 0;
    const uint64_t magnitude = value < 0 ? -value : value;
    const uint64_t ndigits = magnitude == 0 ? 0 : magnitude < (1u << 30) ? 1 : 2;
    memory_.put<uint64_t>(object + layout_.long_object.tag, ndigits << 3 | sign);
    memory_.put<uint32_t>(object + layout_.long_object.digits, magnitude & ((1u << 30) - 1));
    memory_.put<uint32_t>(object + layout_.long_object.digits + 4, static_cast<uint32_t>(magnitude >> 30));
    return object;
  }
  // A compact ASCII str.
  uint64_t make_str(const std::string& text) {
    const uint64_t object = make_object(str_type_, layout_.unicode.ascii_size + text.size() + 1);
    memory_.put<int64_t>(object + layout_.unicode.length, static_cast<int64_t>(text.size()));
    const uint32_t state = (1u << layout_.unicode.kind_shift) |
                           (1u << layout_.unicode.compact_bit) | (1u << layout_.unicode.ascii_bit);
    memory_.put<uint32_t>(object + layout_.unicode.state, state);
    memory_.put_bytes(object + layout_.unicode.ascii_size, text);
    return object;
  }
  uint64_t make_list(const std::vector<uint64_t>& items) {
    const uint64_t object = make_object(list_type_);
    const uint64_t array = memory_.allocate(std::max<size_t>(items.size(), 1) * 8);
    for (size_t i = 0; i < items.size(); ++i) memory_.put<uint64_t>(array + 8 * i, items[i]);
    memory_.put<int64_t>(object + layout_.object.var_size, static_cast<int64_t>(items.size()));
    memory_.put<uint64_t>(object + layout_.list.items, array);
    return object;
  }
  uint64_t make_tuple(const std::vector<uint64_t>& items) {
    const uint64_t object = make_object(tuple_type_, layout_.tuple.items + 8 * items.size() + 8);
    memory_.put<int64_t>(object + layout_.object.var_size, static_cast<int64_t>(items.size()));
    for (size_t i = 0; i < items.size(); ++i) {
      memory_.put<uint64_t>(object + layout_.tuple.items + 8 * i, items[i]);
    }
    return object;
  }
  // A combined dict with str keys (3.12 "unicode" keys: 8 one-byte indices, entries after).
  uint64_t make_dict(const std::vector<std::pair<uint64_t, uint64_t>>& items) {
    const uint64_t keys = memory_.allocate(layout_.dictkeys.indices + 8 + 16 * 8);
    memory_.put<uint8_t>(keys + layout_.dictkeys.log2_size, 3);
    memory_.put<uint8_t>(keys + layout_.dictkeys.log2_index_bytes, 3);
    memory_.put<uint8_t>(keys + layout_.dictkeys.kind, 1);
    memory_.put<int64_t>(keys + layout_.dictkeys.nentries, static_cast<int64_t>(items.size()));
    const uint64_t entries = keys + layout_.dictkeys.indices + 8;
    for (size_t i = 0; i < items.size(); ++i) {
      memory_.put<uint64_t>(entries + 16 * i + layout_.dict_unicode_entry.key, items[i].first);
      memory_.put<uint64_t>(entries + 16 * i + layout_.dict_unicode_entry.value, items[i].second);
    }
    const uint64_t dict = make_object(dict_type_);
    memory_.put<int64_t>(dict + layout_.dict.used, static_cast<int64_t>(items.size()));
    memory_.put<uint64_t>(dict + layout_.dict.keys, keys);
    return dict;
  }

  FakeMemory memory_;
  const Layout& layout_;
  ObjectReader objects_;
  TypeCache types_;
  DictReader dicts_;
  uint64_t object_type_, int_type_, list_type_, tuple_type_, str_type_, dict_type_;
};

TEST_F(ObjectReprTest, BuiltInReprs) {
  EXPECT_EQ(repr(make_int(0)), "0");
  EXPECT_EQ(repr(make_int(-7)), "-7");
  EXPECT_EQ(repr(make_int(int64_t{1} << 40)), "1099511627776");
  EXPECT_EQ(repr(make_str("it's")), "\"it's\"");
  EXPECT_EQ(repr(make_list({make_int(1), make_str("a")})), "[1, 'a']");
  EXPECT_EQ(repr(make_list({})), "[]");
  EXPECT_EQ(repr(make_tuple({make_int(1)})), "(1,)");
  EXPECT_EQ(repr(make_tuple({})), "()");
  EXPECT_EQ(repr(make_dict({{make_str("k"), make_int(1)}, {make_str("l"), make_list({})}})),
            "{'k': 1, 'l': []}");
}

TEST_F(ObjectReprTest, SubclassKeepsTheBuiltInReprUnlessItOverridesIt) {
  const uint64_t heap = 1ULL << 9;
  const uint64_t inherited = make_type("MyList", heap | kListSubclass, list_type_, 0x1002);
  const uint64_t list = make_list({make_int(2)});
  memory_.put<uint64_t>(list + layout_.object.type, inherited);
  EXPECT_EQ(repr(list), "[2]");

  // A Python-level __repr__ (slot_tp_repr): the default form, with __module__ and __qualname__.
  const uint64_t custom = make_type("Custom", heap, object_type_, 0x2000);
  memory_.put<uint64_t>(custom + layout_.heaptype.qualname, make_str("Outer.Custom"));
  memory_.put<uint64_t>(custom + layout_.type.dict,
                        make_dict({{make_str("__module__"), make_str("pkg.mod")}}));
  const uint64_t instance = make_object(custom);
  char expected[64];
  std::snprintf(expected, sizeof expected, "<pkg.mod.Outer.Custom object at 0x%lx>",
                static_cast<unsigned long>(instance));
  EXPECT_EQ(repr(instance), expected);
}

TEST_F(ObjectReprTest, SelfContainingListAsCPythonPrintsIt) {
  const uint64_t list = make_list({make_int(1), 0});
  uint64_t items = 0;
  ASSERT_TRUE(memory_.read(list + layout_.list.items, &items, 8).ok());
  memory_.put<uint64_t>(items + 8, list);
  EXPECT_EQ(repr(list), "[1, [...]]");
}

TEST_F(ObjectReprTest, CutsAreMarked) {
  ReprLimits limits;
  limits.max_items = 2;
  EXPECT_EQ(repr(make_list({make_int(1), make_int(2), make_int(3)}), limits), "[1, 2, ...]");

  limits = {};
  limits.max_depth = 2;
  const uint64_t deep = make_list({make_list({make_list({make_int(1)})})});
  EXPECT_EQ(repr(deep, limits), "[[[...]]]");

  limits = {};
  limits.max_bytes = 10;  // a str still shows its first 64 code points
  EXPECT_EQ(repr(make_str(std::string(100, 'a')), limits), "'" + std::string(64, 'a') + "'...");
  EXPECT_EQ(repr(make_list({make_str("0123456789ab"), make_int(1), make_int(2)}), limits),
            "['0123456789ab', ...]");
}

TEST_F(ObjectReprTest, UnreadableAndCorruptMemoryIsMarked) {
  EXPECT_EQ(repr(0xdead0000), "<unreadable 0xdead0000>");
  EXPECT_EQ(repr(make_list({0xdead0000, make_int(5)})), "[<unreadable 0xdead0000>, 5]");
  const uint64_t negative = make_list({make_int(1)});
  memory_.put<int64_t>(negative + layout_.object.var_size, -5);
  EXPECT_EQ(repr(negative).rfind("<unreadable 0x", 0), 0u);
  const uint64_t huge = make_list({make_int(1)});
  memory_.put<int64_t>(huge + layout_.object.var_size, int64_t{1} << 20);  // items array is 8 bytes
  EXPECT_EQ(repr(huge).rfind("[<unreadable 0x", 0), 0u) << repr(huge);
  // A type whose tp_base loops back to itself still gets a repr.
  const uint64_t looping = make_type("Loop", 0, 0, 0x3000);
  memory_.put<uint64_t>(looping + layout_.type.base, looping);
  EXPECT_EQ(repr(make_object(looping)).rfind("<Loop object at 0x", 0), 0u);
}

TEST_F(ObjectReprTest, HugeIntIsMarked) {
  const uint64_t object = make_object(int_type_, 8192);
  memory_.put<uint64_t>(object + layout_.long_object.tag, uint64_t{1000} << 3);
  EXPECT_EQ(repr(object), "<int with more than 4300 digits>");
}

}  // namespace
}  // namespace pystack
