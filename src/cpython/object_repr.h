// repr() of an object of the target, computed from its memory alone: what traceback's
// capture_locals prints for a local variable.
//
// Computed exactly for None, bool, int, float, str, bytes (2.7: int, long, str, unicode),
// tuple, list, dict, set, frozenset (and subclasses of these that did not override __repr__),
// functions, built-in functions, classes, modules, cells, generators, coroutines, async
// generators, bound methods of Python functions (3.x), and objects whose type uses
// object.__repr__ (<module.Name object at 0x...>). An object whose repr is Python code (a
// __repr__ method) or a C repr not listed here gets that same default form, which CPython would
// not print: the one approximation. Cuts and unreadable memory are marked (cpython/repr.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "cpython/dict.h"
#include "cpython/objects.h"
#include "cpython/py_types.h"
#include "snapshot/snapshot.h"

namespace pystack {

struct ReprLimits {
  size_t max_bytes = 16 * 1024;  // output of one repr; past it containers stop with "..."
  size_t max_items = 1000;       // items shown of one container
  int max_depth = 16;            // nesting of containers
  size_t max_objects = 4096;     // objects visited by one repr
  size_t max_int_digits = 4300;  // CPython's default int_max_str_digits (3.11+)
};

class ObjectRepr {
 public:
  // All references must outlive this object.
  ObjectRepr(const ObjectReader& objects, TypeCache& types, const DictReader& dicts,
             PythonVersion version, ReprLimits limits = {});

  // Never fails: what cannot be read is marked in the text.
  std::string repr(uint64_t object);
  void clear() { type_names_.clear(); }

  // __module__ and __qualname__ of a type as type_module()/type_qualname() give them.
  struct TypeNames {
    std::optional<std::string> module;  // nullopt: none (or not a str)
    std::string qualname;
  };
  const TypeNames& type_names(const TypeInfo& type);

 private:
  // 2.7's repr rules (ReprDialect::python2) rather than 3.x's.
  bool python2_rules() const { return objects_.release().repr.python2; }
  struct State {
    std::string out;
    size_t objects = 0;
    std::vector<uint64_t> active;  // containers being printed: CPython's Py_ReprEnter list
  };

  bool exhausted(const State& state) const;
  // Py_ReprEnter's case: `object` is already being printed (a cycle), or nesting reached the
  // depth bound; the container then prints "..." between its brackets.
  bool nested_too_deep(const State& state, uint64_t object, int depth) const;
  // The items of the container `object` between `open` and `close`, ", " apart, each written by
  // `append_item(i)`; "..." where the output budget ran out, ", ..." after them when `cut`.
  template <typename AppendItem>
  void append_items(State& state, uint64_t object, const std::string& open, size_t count, bool cut,
                    const std::string& close, AppendItem append_item);
  void append(State& state, uint64_t object, int depth);
  void append_kind(State& state, uint64_t object, const TypeInfo& type, int depth);
  void append_int(State& state, uint64_t object, bool python2_long);
  void append_bool(State& state, uint64_t object);
  void append_str(State& state, uint64_t object, ReprKind kind);
  void append_bytes(State& state, uint64_t object);
  void append_sequence(State& state, uint64_t object, const TypeInfo& type, int depth);
  void append_dict(State& state, uint64_t object, int depth);
  void append_set(State& state, uint64_t object, const TypeInfo& type, int depth);
  void append_function(State& state, uint64_t object);
  void append_builtin_function(State& state, uint64_t object);
  void append_type(State& state, uint64_t type_object);
  void append_module(State& state, uint64_t object, int depth);
  bool append_module_from_loader(State& state, uint64_t loader, uint64_t name, int depth);
  bool append_module_from_spec(State& state, uint64_t spec, int depth);
  void append_cell(State& state, uint64_t object);
  void append_generator(State& state, uint64_t object, const TypeInfo& type);
  void append_method(State& state, uint64_t object, const TypeInfo& type, int depth);
  void append_default(State& state, uint64_t object, const TypeInfo& type);

  // The text of a str (2.7: str or unicode) object as UTF-8, nullopt when not one.
  std::optional<std::string> text_of(uint64_t object, size_t max_code_points = 1024) const;
  bool is_none(uint64_t object);

  const ObjectReader& objects_;
  TypeCache& types_;
  const DictReader& dicts_;
  PythonVersion version_;
  ReprLimits limits_;
  absl::flat_hash_map<uint64_t, TypeNames> type_names_;
};

}  // namespace pystack
