// --exceptions: the exception a thread is handling (what sys.exc_info()[1] gives in that thread),
// with everything traceback.TracebackException reads of it: its type's module and qualname, its
// str() where CPython's own __str__ computes it, __traceback__ with each entry's line and (3.11+)
// position, __cause__, __context__, __suppress_context__, __notes__, an exception group's members
// and a SyntaxError's fields. Read while the target is stopped.
//
// Where the handled exception is kept:
//   3.6          tstate->exc_value
//   3.7-3.10     tstate->exc_info, a stack of _PyErr_StackItem: the topmost item whose exc_type
//                is neither NULL nor None (_PyErr_GetTopmostException)
//   3.11+        the same, by exc_value
// 2.7 keeps an exception without __traceback__ or chains: not read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "cpython/code_object.h"
#include "cpython/dict.h"
#include "cpython/object_repr.h"
#include "cpython/objects.h"
#include "cpython/py_types.h"
#include "snapshot/snapshot.h"

namespace pystack {

// Bounds of one thread's exception: values reached through chains and groups, traceback
// entries over all of them, items of one args tuple or notes list.
inline constexpr size_t kMaxExceptionValues = 1024;
inline constexpr size_t kMaxTracebackEntries = size_t{1} << 16;
inline constexpr size_t kMaxExceptionItems = 4096;

class ExceptionReader {
 public:
  // All references must outlive this object.
  ExceptionReader(const ObjectReader& objects, TypeCache& types, const DictReader& dicts,
                  ObjectRepr& reprs, CodeCache& codes)
      : objects_(objects), types_(types), dicts_(dicts), reprs_(reprs), codes_(codes) {}

  // Whether this release keeps what the reader needs (3.6+).
  bool supported() const;

  // The exception the thread at `tstate` handles; nullopt when it handles none.
  std::optional<HandledException> read(uint64_t tstate);

 private:
  // The handled exception object, 0 when none.
  uint64_t handled_object(uint64_t tstate);
  bool is_none(uint64_t object);
  bool is_exception(uint64_t object);
  // `object`'s index in `out`, added (and queued to be read) when new; -1 for NULL, None, a
  // non-exception, or past the bound.
  int index_of(uint64_t object, HandledException& out);
  void read_value(uint64_t object, ExceptionValue& value, HandledException& out);
  void read_type_names(const TypeInfo& type, ExceptionValue& value);
  void read_traceback(uint64_t traceback, ExceptionValue& value, HandledException& out);
  TracebackEntry read_entry(uint64_t traceback);
  uint64_t code_of_frame(uint64_t frame);
  void read_notes(uint64_t object, ExceptionValue& value);
  void read_members(uint64_t group, ExceptionValue& value, HandledException& out);
  void read_syntax_error(uint64_t object, ExceptionValue& value);
  // The message: str(exc) by the rule of the nearest built-in class, `str_overridden` where a
  // class between defines __str__ (or the built-in rule is one this reader does not know).
  void read_str(uint64_t object, const TypeInfo& type, ExceptionValue& value);
  std::optional<std::string> builtin_str(uint64_t object, const std::string& builtin);
  std::optional<std::string> base_exception_str(uint64_t object);
  std::optional<std::string> os_error_str(uint64_t object);
  std::optional<std::string> syntax_error_str(uint64_t object);
  std::optional<std::string> group_str(uint64_t object);
  // str() of an object: a str's text, else its repr (what object.__str__ gives).
  std::optional<std::string> str_of(uint64_t object);
  std::optional<std::string> text_of(uint64_t object);
  std::optional<int64_t> int_of(uint64_t object);
  // The items of a tuple or list (at most kMaxExceptionItems), nullopt when it is neither.
  std::optional<std::vector<uint64_t>> items_of(uint64_t sequence);
  uint64_t field(uint64_t object, int64_t offset);
  // The built-in (static) class at or above `type`, and whether a class below it defines
  // __str__ in its dict.
  const TypeInfo* builtin_base(const TypeInfo& type, bool& str_defined);
  bool derives_from(const TypeInfo& type, const char* builtin_name);

  const ObjectReader& objects_;
  TypeCache& types_;
  const DictReader& dicts_;
  ObjectRepr& reprs_;
  CodeCache& codes_;
  // One read: exception object -> index in the HandledException, and the objects left to read.
  absl::flat_hash_map<uint64_t, int> indexes_;
  std::vector<uint64_t> pending_;
  size_t entries_ = 0;
};

}  // namespace pystack
