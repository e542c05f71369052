#include "cpython/exception_reader.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "cpython/line_table.h"
#include "cpython/stack_ref.h"
#include "memory/remote_memory.h"

namespace pystack {
namespace {

constexpr uint64_t kTpFlagsBaseExcSubclass = 1ULL << 30;
constexpr uint64_t kTpFlagsUnicodeSubclass3 = 1ULL << 28;
constexpr uint64_t kTpFlagsTupleSubclass = 1ULL << 26;
constexpr uint64_t kTpFlagsListSubclass = 1ULL << 25;
constexpr uint64_t kTpFlagsLongSubclass = 1ULL << 24;
constexpr int kMaxStackItems = 4096;  // _PyErr_StackItem levels: one per running generator

PyText to_text(const std::string& utf8) {
  PyText text;
  text.code_points = decode_utf8_surrogateescape(utf8);
  text.length = text.code_points.size();
  return text;
}

// os.path.basename as SyntaxError.__str__ takes it (my_basename: after the last '/').
std::string basename_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

bool ExceptionReader::supported() const {
  const Layout& layout = objects_.layout();
  return layout.major == 3 && layout.base_exception.traceback >= 0 &&
         (layout.tstate.exc_info >= 0 || layout.tstate.exc_value >= 0);
}

uint64_t ExceptionReader::field(uint64_t object, int64_t offset) {
  if (object == 0 || offset < 0) return 0;
  absl::StatusOr<uint64_t> value = objects_.read_pointer(object + offset);
  return value.ok() ? *value : 0;
}

bool ExceptionReader::is_none(uint64_t object) {
  absl::StatusOr<const TypeInfo*> type = types_.of(object);
  return type.ok() && (*type)->kind == ReprKind::kNone;
}

bool ExceptionReader::is_exception(uint64_t object) {
  absl::StatusOr<const TypeInfo*> type = types_.of(object);
  return type.ok() && ((*type)->flags & kTpFlagsBaseExcSubclass);
}

uint64_t ExceptionReader::handled_object(uint64_t tstate) {
  const Layout& layout = objects_.layout();
  if (layout.tstate.exc_info < 0) {  // 3.6
    const uint64_t value = field(tstate, layout.tstate.exc_value);
    return value == 0 || is_none(value) ? 0 : value;
  }
  // _PyErr_GetTopmostException: levels whose exception is unset belong to generators that
  // handle none; the first one set (or the last level) is what sys.exc_info() gives.
  const int64_t marker_offset = layout.err_stackitem.exc_type >= 0 ? layout.err_stackitem.exc_type
                                                                   : layout.err_stackitem.exc_value;
  absl::flat_hash_set<uint64_t> seen;
  uint64_t item = field(tstate, layout.tstate.exc_info);
  for (int level = 0; item != 0 && level < kMaxStackItems; ++level) {
    if (!seen.insert(item).second) return 0;  // a cycle: corrupt memory
    const uint64_t marker = field(item, marker_offset);
    const uint64_t previous = field(item, layout.err_stackitem.previous_item);
    if ((marker == 0 || is_none(marker)) && previous != 0) {
      item = previous;
      continue;
    }
    const uint64_t value = field(item, layout.err_stackitem.exc_value);
    return value == 0 || is_none(value) ? 0 : value;
  }
  return 0;
}

int ExceptionReader::index_of(uint64_t object, HandledException& out) {
  if (object == 0 || !is_exception(object)) return -1;
  auto it = indexes_.find(object);
  if (it != indexes_.end()) return it->second;
  if (out.values.size() >= kMaxExceptionValues) {
    if (!out.walk_error) {
      out.walk_error = absl::StrCat("more than ", kMaxExceptionValues, " exceptions in chains");
    }
    return -1;
  }
  const int index = static_cast<int>(out.values.size());
  out.values.emplace_back();
  out.values.back().address = object;
  indexes_.emplace(object, index);
  pending_.push_back(object);
  return index;
}

std::optional<HandledException> ExceptionReader::read(uint64_t tstate) {
  if (!supported()) return std::nullopt;
  indexes_.clear();
  pending_.clear();
  entries_ = 0;
  const uint64_t handled = handled_object(tstate);
  if (handled == 0) return std::nullopt;
  HandledException out;
  if (index_of(handled, out) < 0) return std::nullopt;
  // Breadth first over chains and groups: each exception read once, whatever refers to it.
  for (size_t i = 0; i < pending_.size(); ++i) {
    ExceptionValue value;
    read_value(pending_[i], value, out);
    value.address = pending_[i];
    out.values[i] = std::move(value);
  }
  return out;
}

void ExceptionReader::read_value(uint64_t object, ExceptionValue& value, HandledException& out) {
  absl::StatusOr<const TypeInfo*> type = types_.of(object);
  if (!type.ok()) {
    if (!out.walk_error) out.walk_error = "an exception's type is unreadable";
    return;
  }
  const Layout& layout = objects_.layout();
  read_type_names(**type, value);
  read_traceback(field(object, layout.base_exception.traceback), value, out);
  value.cause = index_of(field(object, layout.base_exception.cause), out);
  value.context = index_of(field(object, layout.base_exception.context), out);
  uint8_t suppress = 0;
  if (objects_.memory()
          .read(object + layout.base_exception.suppress_context, &suppress, 1)
          .ok()) {
    value.suppress_context = suppress != 0;
  }
  read_notes(object, value);
  if (derives_from(**type, "BaseExceptionGroup")) read_members(object, value, out);
  if (derives_from(**type, "SyntaxError")) read_syntax_error(object, value);
  read_str(object, **type, value);
  // TracebackException._compute_suggestion_error (3.12+) looks for a name close to the missing
  // one in dir() of objects and frames: not something read from outside.
  if (layout.major == 3 && layout.minor >= 12 &&
      (derives_from(**type, "NameError") || derives_from(**type, "AttributeError") ||
       derives_from(**type, "ImportError"))) {
    value.suggestion_not_computed = true;
  }
}

void ExceptionReader::read_type_names(const TypeInfo& type, ExceptionValue& value) {
  const ObjectRepr::TypeNames& names = reprs_.type_names(type);
  if (names.module) value.type_module = to_text(*names.module);
  value.type_qualname = to_text(names.qualname);
}

void ExceptionReader::read_traceback(uint64_t traceback, ExceptionValue& value,
                                     HandledException& out) {
  absl::flat_hash_set<uint64_t> seen;
  for (uint64_t tb = traceback; tb != 0 && !is_none(tb); tb = field(tb, objects_.layout().traceback.next)) {
    absl::StatusOr<const TypeInfo*> type = types_.of(tb);
    if (!type.ok() || (*type)->name != "traceback" || !seen.insert(tb).second) {
      if (!out.walk_error) out.walk_error = "a traceback is unreadable or loops";
      return;
    }
    if (entries_ >= kMaxTracebackEntries) {
      if (!out.walk_error) out.walk_error = absl::StrCat("more than ", kMaxTracebackEntries, " traceback entries");
      return;
    }
    ++entries_;
    value.traceback.push_back(read_entry(tb));
  }
}

uint64_t ExceptionReader::code_of_frame(uint64_t frame) {
  const Layout& layout = objects_.layout();
  if (layout.frame.iframe < 0) return field(frame, layout.frame.code);
  // 3.11+: the frame object's _PyInterpreterFrame (its own copy once the call returned).
  const uint64_t iframe = field(frame, layout.frame.iframe);
  return decode_stack_ref(objects_.release(), field(iframe, layout.iframe.code)).object;
}

TracebackEntry ExceptionReader::read_entry(uint64_t traceback) {
  const Layout& layout = objects_.layout();
  TracebackEntry entry;
  absl::StatusOr<int32_t> lasti = pystack::read_value<int32_t>(objects_.memory(), traceback + layout.traceback.lasti);
  absl::StatusOr<int32_t> tb_lineno = pystack::read_value<int32_t>(objects_.memory(), traceback + layout.traceback.lineno);
  absl::StatusOr<const CodeObject*> code = codes_.get(code_of_frame(field(traceback, layout.traceback.frame)));
  if (!code.ok()) {
    entry.lineno = tb_lineno.ok() ? *tb_lineno : -1;
    return entry;
  }
  entry.filename = (*code)->filename;
  entry.name = (*code)->name;
  const int offset = lasti.ok() ? *lasti : -1;
  if (layout.frame.iframe < 0) {  // up to 3.10: tb_lineno is set when the entry is made
    entry.lineno = tb_lineno.ok() ? *tb_lineno : -1;
    return entry;
  }
  // _walk_tb_with_full_positions: co_positions() at tb_lasti, its line replaced by tb_lineno
  // (3.12+: computed when asked) where the position has none.
  const SourcePosition position =
      position_from_location_table((*code)->line_table, (*code)->first_line, offset);
  entry.lineno = position.line;
  if (entry.lineno < 0) {
    entry.lineno = tb_lineno.ok() && *tb_lineno >= 0
                       ? *tb_lineno
                       : code_line_at(**code, objects_.release(), offset);
  }
  entry.end_lineno = position.end_line;
  entry.colno = position.column;
  entry.end_colno = position.end_column;
  return entry;
}

void ExceptionReader::read_notes(uint64_t object, ExceptionValue& value) {
  const uint64_t dict = field(object, objects_.layout().base_exception.dict);
  if (dict == 0) return;
  absl::StatusOr<std::optional<uint64_t>> notes = dicts_.find(dict, "__notes__");
  if (!notes.ok() || !notes->has_value() || is_none(**notes)) return;
  std::optional<std::vector<uint64_t>> items = items_of(**notes);
  if (!items) {
    value.notes_repr = to_text(reprs_.repr(**notes));
    return;
  }
  std::vector<std::optional<PyText>> texts;
  for (uint64_t note : *items) {
    std::optional<std::string> text = str_of(note);
    texts.push_back(text ? std::optional<PyText>(to_text(*text)) : std::nullopt);
  }
  value.notes = std::move(texts);
}

void ExceptionReader::read_members(uint64_t group, ExceptionValue& value, HandledException& out) {
  value.is_group = true;
  std::optional<std::vector<uint64_t>> members =
      items_of(field(group, objects_.layout().exception_group.excs));
  if (!members) return;
  for (uint64_t member : *members) value.members.push_back(index_of(member, out));
}

void ExceptionReader::read_syntax_error(uint64_t object, ExceptionValue& value) {
  const SyntaxErrorOffsets& offsets = objects_.layout().syntax_error;
  ExceptionValue::SyntaxErrorFields fields;
  auto text_field = [&](int64_t offset) -> std::optional<PyText> {
    const uint64_t member = field(object, offset);
    if (member == 0 || is_none(member)) return std::nullopt;
    std::optional<std::string> text = str_of(member);
    return text ? std::optional<PyText>(to_text(*text)) : std::nullopt;
  };
  auto int_field = [&](int64_t offset) { return int_of(field(object, offset)); };
  fields.msg = text_field(offsets.msg);
  fields.filename = text_field(offsets.filename);
  fields.lineno = int_field(offsets.lineno);
  fields.offset = int_field(offsets.offset);
  fields.text = text_field(offsets.text);
  fields.end_lineno = int_field(offsets.end_lineno);
  fields.end_offset = int_field(offsets.end_offset);
  value.syntax_error = std::move(fields);
}

const TypeInfo* ExceptionReader::builtin_base(const TypeInfo& type, bool& str_defined) {
  const TypeInfo* current = &type;
  for (int depth = 0; current != nullptr && depth < kMaxTypeDepth; ++depth) {
    if (!current->heap()) return current;
    const uint64_t dict = field(current->address, objects_.layout().type.dict);
    if (dict != 0) {
      absl::StatusOr<std::optional<uint64_t>> str = dicts_.find(dict, "__str__");
      if (str.ok() && str->has_value()) str_defined = true;
    }
    if (current->base == 0) return nullptr;
    absl::StatusOr<const TypeInfo*> base = types_.get(current->base);
    current = base.ok() ? *base : nullptr;
  }
  return nullptr;
}

bool ExceptionReader::derives_from(const TypeInfo& type, const char* builtin_name) {
  const TypeInfo* current = &type;
  for (int depth = 0; current != nullptr && depth < kMaxTypeDepth; ++depth) {
    if (!current->heap() && current->name == builtin_name) return true;
    if (current->base == 0) return false;
    absl::StatusOr<const TypeInfo*> base = types_.get(current->base);
    current = base.ok() ? *base : nullptr;
  }
  return false;
}

void ExceptionReader::read_str(uint64_t object, const TypeInfo& type, ExceptionValue& value) {
  bool str_defined = false;
  const TypeInfo* builtin = builtin_base(type, str_defined);
  std::optional<std::string> text;
  if (builtin != nullptr && !str_defined) {
    bool known = true;
    if (derives_from(*builtin, "KeyError")) {
      std::optional<std::vector<uint64_t>> args = items_of(field(object, objects_.layout().base_exception.args));
      text = args && args->size() == 1 ? std::optional<std::string>(reprs_.repr((*args)[0]))
                                       : base_exception_str(object);
    } else if (derives_from(*builtin, "OSError")) {
      text = os_error_str(object);
    } else if (derives_from(*builtin, "SyntaxError")) {
      text = syntax_error_str(object);
    } else if (derives_from(*builtin, "ImportError")) {
      const uint64_t msg = field(object, objects_.layout().import_error.msg);
      std::optional<std::string> msg_text = msg != 0 ? text_of(msg) : std::nullopt;
      text = msg_text ? msg_text : base_exception_str(object);
    } else if (derives_from(*builtin, "BaseExceptionGroup")) {
      text = group_str(object);
    } else if (derives_from(*builtin, "UnicodeError")) {
      known = false;  // its __str__ (encoding, position, reason) is not emulated
    } else {
      text = base_exception_str(object);
    }
    if (known) {
      if (text) value.str = to_text(*text);
      return;
    }
  }
  // Python code (or a C __str__ not emulated) makes this message: BaseException's is shown,
  // and said to be so.
  value.str_overridden = true;
  text = base_exception_str(object);
  if (text) value.str = to_text(*text);
}

std::optional<std::string> ExceptionReader::base_exception_str(uint64_t object) {
  const uint64_t args = field(object, objects_.layout().base_exception.args);
  std::optional<std::vector<uint64_t>> items = items_of(args);
  if (!items) return std::nullopt;
  if (items->empty()) return std::string();
  if (items->size() == 1) return str_of((*items)[0]);
  return reprs_.repr(args);
}

std::optional<std::string> ExceptionReader::os_error_str(uint64_t object) {
  const OSErrorOffsets& offsets = objects_.layout().os_error;
  const uint64_t error_number = field(object, offsets.myerrno);
  const uint64_t strerror = field(object, offsets.strerror);
  const uint64_t filename = field(object, offsets.filename);
  const uint64_t filename2 = field(object, offsets.filename2);
  if (filename != 0 || (error_number != 0 && strerror != 0)) {
    std::optional<std::string> number = str_of(error_number);
    std::optional<std::string> reason = str_of(strerror);
    if (!number || !reason) return std::nullopt;
    std::string text = absl::StrCat("[Errno ", *number, "] ", *reason);
    if (filename != 0) {
      absl::StrAppend(&text, ": ", reprs_.repr(filename));
      if (filename2 != 0) absl::StrAppend(&text, " -> ", reprs_.repr(filename2));
    }
    return text;
  }
  return base_exception_str(object);
}

std::optional<std::string> ExceptionReader::syntax_error_str(uint64_t object) {
  const SyntaxErrorOffsets& offsets = objects_.layout().syntax_error;
  const uint64_t msg = field(object, offsets.msg);
  std::optional<std::string> msg_text = msg != 0 ? str_of(msg) : std::optional<std::string>("None");
  if (!msg_text) return std::nullopt;
  std::optional<std::string> filename = text_of(field(object, offsets.filename));
  const uint64_t lineno_object = field(object, offsets.lineno);
  std::optional<int64_t> lineno;
  absl::StatusOr<const TypeInfo*> lineno_type = types_.of(lineno_object);
  if (lineno_object != 0 && lineno_type.ok() && (*lineno_type)->kind == ReprKind::kInt &&
      (*lineno_type)->exact) {
    lineno = int_of(lineno_object);
  }
  if (filename && lineno) {
    return absl::StrCat(*msg_text, " (", basename_of(*filename), ", line ", *lineno, ")");
  }
  if (filename) return absl::StrCat(*msg_text, " (", basename_of(*filename), ")");
  if (lineno) return absl::StrCat(*msg_text, " (line ", *lineno, ")");
  return msg_text;
}

std::optional<std::string> ExceptionReader::group_str(uint64_t object) {
  const ExceptionGroupOffsets& offsets = objects_.layout().exception_group;
  const uint64_t msg = field(object, offsets.msg);
  std::optional<std::string> msg_text = msg != 0 ? str_of(msg) : std::optional<std::string>("None");
  std::optional<std::vector<uint64_t>> excs = items_of(field(object, offsets.excs));
  if (!msg_text || !excs) return std::nullopt;
  return absl::StrCat(*msg_text, " (", excs->size(), " sub-exception",
                      excs->size() > 1 ? "s" : "", ")");
}

std::optional<std::string> ExceptionReader::text_of(uint64_t object) {
  if (object == 0) return std::nullopt;
  absl::StatusOr<uint64_t> flags = objects_.type_flags(object);
  if (!flags.ok() || !(*flags & kTpFlagsUnicodeSubclass3)) return std::nullopt;
  absl::StatusOr<std::optional<PyText>> text = objects_.read_text(object);
  if (!text.ok() || !text->has_value() || !(*text)->complete()) return std::nullopt;
  std::string utf8;
  append_utf8_backslashreplace(utf8, (*text)->code_points);
  return utf8;
}

std::optional<std::string> ExceptionReader::str_of(uint64_t object) {
  if (object == 0) return std::nullopt;
  if (std::optional<std::string> text = text_of(object)) return text;
  return reprs_.repr(object);
}

std::optional<int64_t> ExceptionReader::int_of(uint64_t object) {
  if (object == 0) return std::nullopt;
  absl::StatusOr<uint64_t> flags = objects_.type_flags(object);
  if (!flags.ok() || !(*flags & kTpFlagsLongSubclass)) return std::nullopt;
  const std::string digits = reprs_.repr(object);
  int64_t value = 0;
  if (digits.empty() || digits.size() > 18) return std::nullopt;
  size_t i = digits[0] == '-' ? 1 : 0;
  if (i == digits.size()) return std::nullopt;
  for (; i < digits.size(); ++i) {
    if (digits[i] < '0' || digits[i] > '9') return std::nullopt;
    value = value * 10 + (digits[i] - '0');
  }
  return digits[0] == '-' ? -value : value;
}

std::optional<std::vector<uint64_t>> ExceptionReader::items_of(uint64_t sequence) {
  if (sequence == 0) return std::nullopt;
  absl::StatusOr<uint64_t> flags = objects_.type_flags(sequence);
  if (!flags.ok()) return std::nullopt;
  const Layout& layout = objects_.layout();
  uint64_t items = 0;
  if (*flags & kTpFlagsTupleSubclass) {
    items = sequence + layout.tuple.items;
  } else if (*flags & kTpFlagsListSubclass) {
    items = field(sequence, layout.list.items);
  } else {
    return std::nullopt;
  }
  absl::StatusOr<int64_t> size = pystack::read_value<int64_t>(objects_.memory(), sequence + layout.object.var_size);
  if (!size.ok() || *size < 0) return std::nullopt;
  const size_t count = std::min<size_t>(static_cast<size_t>(*size), kMaxExceptionItems);
  std::vector<uint64_t> pointers(count);
  if (count > 0 && !objects_.memory().read(items, pointers.data(), count * 8).ok()) {
    return std::nullopt;
  }
  return pointers;
}

}  // namespace pystack
