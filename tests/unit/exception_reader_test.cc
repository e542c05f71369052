// ExceptionReader on fake memory of 3.12 (and 3.9, whose stack items also hold exc_type): the
// handled exception found through the stack of _PyErr_StackItem, chains read once each (a
// cause/context cycle ends), a chain longer than the bound cut and marked, a traceback that
// loops marked, a Python __str__ flagged with BaseException's message; then corrupted words of
// such an image must never crash or hang the reader.
#include "cpython/exception_reader.h"

#include <gtest/gtest.h>

#include <random>

#include "fake_python_memory.h"

namespace pystack {
namespace {

using namespace pystack::testing;  // the fake address space and object writer

constexpr uint64_t kTpFlagsTuple = 1ULL << 26;
constexpr uint64_t kTpFlagsBaseExc = 1ULL << 30;
constexpr ImageStyle kStyle{.type_name_at = 2048};

class ExceptionImage : public ObjectWriter {
 public:
  ExceptionImage(FakeProcessMemory& memory, const Layout& layout)
      : ObjectWriter(memory, layout, kStyle) {
    type_type_ = type("type", kTpFlagsType, 0);
    m_.put<uint64_t>(type_type_ + l_.object.type, type_type_);
    object_type_ = type("object", 0, 0);
    m_.put<uint64_t>(type_type_ + l_.type.base, object_type_);
    str_type_ = type("str", kTpFlagsUnicode);
    int_type_ = type("int", kTpFlagsLong);
    dict_type_ = type("dict", kTpFlagsDict);
    list_type_ = type("list", kTpFlagsList);
    tuple_type_ = type("tuple", kTpFlagsTuple);
    none_type_ = type("NoneType", 0);
    traceback_type_ = type("traceback", 0);
    base_exception_ = type("BaseException", kTpFlagsBaseExc);
    exception_ = type("Exception", kTpFlagsBaseExc, base_exception_);
    value_error_ = type("ValueError", kTpFlagsBaseExc, exception_);
    none_ = object(none_type_, 16);
  }

  uint64_t tuple(const std::vector<uint64_t>& items) {
    const uint64_t o = object(tuple_type_, l_.tuple.items + 8 * items.size() + 8);
    word(o + l_.object.var_size, items.size());
    for (size_t i = 0; i < items.size(); ++i) word(o + l_.tuple.items + 8 * i, items[i]);
    return o;
  }

  // An exception of `type` with args (message,), no traceback, chains unset.
  uint64_t exception(uint64_t type, const std::string& message) {
    const uint64_t e = object(type, 128);
    word(e + l_.base_exception.args, tuple({str(message)}));
    word(e + l_.base_exception.traceback, none_);
    return e;
  }

  // A class defined in Python (a heap type) under `base`, with `__str__` in its dict or not.
  uint64_t python_class(const std::string& name, uint64_t base, bool defines_str) {
    const uint64_t t = type(name, kTpFlagsBaseExc | kTpFlagsHeapType, base);
    std::vector<std::pair<std::string, uint64_t>> items = {{"__module__", str("app.errors")}};
    if (defines_str) items.push_back({"__str__", none_});
    word(t + l_.type.dict, dict(items));
    word(t + l_.heaptype.qualname, str(name));
    return t;
  }

  // A thread state whose exception stack holds `handled` (3.7+: an item, under an empty one).
  uint64_t tstate(uint64_t handled) {
    const uint64_t ts = raw(4096);
    const uint64_t outer = raw(64), inner = raw(64);
    const int64_t marker = l_.err_stackitem.exc_type >= 0 ? l_.err_stackitem.exc_type
                                                          : l_.err_stackitem.exc_value;
    word(outer + l_.err_stackitem.exc_value, handled);
    if (l_.err_stackitem.exc_type >= 0) word(outer + l_.err_stackitem.exc_type, value_error_);
    word(inner + marker, none_);  // a generator's level that handles nothing
    word(inner + l_.err_stackitem.previous_item, outer);
    word(ts + l_.tstate.exc_info, inner);
    return ts;
  }

  uint64_t traceback_loop() {
    const uint64_t tb = object(traceback_type_, 64);
    word(tb + l_.traceback.next, tb);
    return tb;
  }

  uint64_t none() const { return none_; }
  uint64_t value_error() const { return value_error_; }

 private:
  uint64_t tuple_type_ = 0, none_type_ = 0, traceback_type_ = 0, base_exception_ = 0,
           exception_ = 0, value_error_ = 0, none_ = 0;
};

struct Readers {
  explicit Readers(const RemoteMemory& memory, const Layout& layout)
      : objects(memory, layout),
        types(objects),
        dicts(objects),
        reprs(objects, types, dicts, PythonVersion{3, static_cast<int>(layout.minor), 0}),
        codes(objects),
        reader(objects, types, dicts, reprs, codes) {}
  ObjectReader objects;
  TypeCache types;
  DictReader dicts;
  ObjectRepr reprs;
  CodeCache codes;
  ExceptionReader reader;
};

std::string utf8(const std::optional<PyText>& text) {
  return text ? std::string(text->code_points.begin(), text->code_points.end()) : "<none>";
}

class ExceptionReaderTest : public ::testing::TestWithParam<int> {
 protected:
  const Layout& layout() const { return *find_layout(3, GetParam()); }
};

TEST_P(ExceptionReaderTest, CauseContextCycleIsReadOnce) {
  FakeProcessMemory memory;
  ExceptionImage image(memory, layout());
  const uint64_t a = image.exception(image.value_error(), "outer");
  const uint64_t b = image.exception(image.value_error(), "inner");
  image.word(a + layout().base_exception.cause, b);
  image.word(b + layout().base_exception.context, a);
  Readers readers(memory, layout());
  std::optional<HandledException> handled = readers.reader.read(image.tstate(a));
  ASSERT_TRUE(handled.has_value());
  ASSERT_EQ(handled->values.size(), 2u);
  EXPECT_EQ(handled->values[0].cause, 1);
  EXPECT_EQ(handled->values[1].context, 0);
  EXPECT_EQ(utf8(handled->values[0].str), "outer");
  EXPECT_EQ(utf8(handled->values[0].type_module), "builtins");
  EXPECT_EQ(utf8(handled->values[0].type_qualname), "ValueError");
  EXPECT_FALSE(handled->walk_error.has_value());
}

TEST_P(ExceptionReaderTest, LongChainIsCutAndMarked) {
  FakeProcessMemory memory;
  ExceptionImage image(memory, layout());
  uint64_t first = image.exception(image.value_error(), "0");
  uint64_t last = first;
  for (int i = 1; i < 3000; ++i) {
    const uint64_t next = image.exception(image.value_error(), std::to_string(i));
    image.word(last + layout().base_exception.context, next);
    last = next;
  }
  Readers readers(memory, layout());
  std::optional<HandledException> handled = readers.reader.read(image.tstate(first));
  ASSERT_TRUE(handled.has_value());
  EXPECT_EQ(handled->values.size(), kMaxExceptionValues);
  EXPECT_TRUE(handled->walk_error.has_value());
}

TEST_P(ExceptionReaderTest, TracebackLoopIsMarked) {
  FakeProcessMemory memory;
  ExceptionImage image(memory, layout());
  const uint64_t e = image.exception(image.value_error(), "x");
  image.word(e + layout().base_exception.traceback, image.traceback_loop());
  Readers readers(memory, layout());
  std::optional<HandledException> handled = readers.reader.read(image.tstate(e));
  ASSERT_TRUE(handled.has_value());
  EXPECT_EQ(handled->values[0].traceback.size(), 1u);
  EXPECT_TRUE(handled->walk_error.has_value());
}

TEST_P(ExceptionReaderTest, PythonStrIsFlaggedWithBaseExceptionsMessage) {
  FakeProcessMemory memory;
  ExceptionImage image(memory, layout());
  const uint64_t own = image.python_class("OwnStr", image.value_error(), true);
  const uint64_t plain = image.python_class("Plain", own, false);
  const uint64_t e = image.exception(plain, "args message");
  Readers readers(memory, layout());
  std::optional<HandledException> handled = readers.reader.read(image.tstate(e));
  ASSERT_TRUE(handled.has_value());
  EXPECT_TRUE(handled->values[0].str_overridden);
  EXPECT_EQ(utf8(handled->values[0].str), "args message");
  EXPECT_EQ(utf8(handled->values[0].type_module), "app.errors");
  EXPECT_EQ(utf8(handled->values[0].type_qualname), "Plain");
}

TEST_P(ExceptionReaderTest, NoneHandledGivesNothing) {
  FakeProcessMemory memory;
  ExceptionImage image(memory, layout());
  Readers readers(memory, layout());
  EXPECT_FALSE(readers.reader.read(image.tstate(image.none())).has_value());
}

// Each seed overwrites a few of the words the image was built from with small numbers,
// addresses of other objects, or garbage; the reader must end, within its bounds.
TEST_P(ExceptionReaderTest, CorruptedWordsNeverCrash) {
  for (int seed = 0; seed < 300; ++seed) {
    FakeProcessMemory memory;
    ExceptionImage image(memory, layout());
    const uint64_t a = image.exception(image.value_error(), "a");
    const uint64_t b = image.exception(image.value_error(), "b");
    image.word(a + layout().base_exception.cause, b);
    image.word(b + layout().base_exception.traceback, image.traceback_loop());
    const uint64_t ts = image.tstate(a);
    std::mt19937_64 rng(seed);
    const std::vector<uint64_t>& words = image.words();
    const std::vector<uint64_t>& objects = image.objects();
    for (int k = 0; k < 4; ++k) {
      const uint64_t at = words[rng() % words.size()];
      const uint64_t choice = rng() % 3;
      const uint64_t value = choice == 0   ? rng() % 64
                             : choice == 1 ? objects[rng() % objects.size()]
                                           : rng();
      memory.put<uint64_t>(at, value);
    }
    Readers readers(memory, layout());
    std::optional<HandledException> handled = readers.reader.read(ts);
    if (handled) {
      EXPECT_LE(handled->values.size(), kMaxExceptionValues) << "seed " << seed;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Versions, ExceptionReaderTest, ::testing::Values(9, 12),
                         [](const auto& info) { return "3_" + std::to_string(info.param); });

}  // namespace
}  // namespace pystack
