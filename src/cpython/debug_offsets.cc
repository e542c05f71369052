#include "cpython/debug_offsets.h"

#include <cstring>

#include "absl/strings/str_format.h"

namespace pystack {
namespace {

// Word indexes of the 3.13 _Py_DebugOffsets (Include/internal/pycore_runtime.h of 3.13).
enum Word313 : int {
  kVersion = 1,
  kRuntimeSize = 3, kRuntimeInterpretersHead = 5,
  kInterpSize = 6, kInterpId = 7, kInterpNext = 8, kInterpThreadsHead = 9, kInterpGc = 10,
  kInterpModules = 11, kInterpCevalGil = 14, kInterpGilState = 15, kInterpGilLocked = 17, kInterpGilHolder = 18,
  kTstateSize = 19, kTstatePrev = 20, kTstateNext = 21, kTstateInterp = 22, kTstateFrame = 23,
  kTstateThreadId = 24, kTstateNativeId = 25, kTstateDatastack = 26,
  kFrameSize = 28, kFramePrevious = 29, kFrameExecutable = 30, kFrameInstr = 31,
  kFrameLocalsplus = 32, kFrameOwner = 33,
  kCodeSize = 34, kCodeFilename = 35, kCodeName = 36, kCodeQualname = 37, kCodeLinetable = 38,
  kCodeFirstLine = 39, kCodeLocalsplusNames = 41, kCodeLocalsplusKinds = 42, kCodeAdaptive = 43,
  kObjectSize = 44, kObjectType = 45,
  kTypeSize = 46, kTypeName = 47, kTypeRepr = 48, kTypeFlags = 49,
  kTupleSize = 50, kTupleItems = 51, kListSize = 53, kListItems = 54,
  kDictSize = 56, kDictKeys = 57, kDictValues = 58, kFloatSize = 59, kFloatValue = 60,
  kLongSize = 61, kLongTag = 62, kLongDigits = 63,
  kBytesSize = 64, kBytesObSize = 65, kBytesSval = 66,
  kUnicodeSize = 67, kUnicodeState = 68, kUnicodeLength = 69, kUnicodeAsciiSize = 70,
  kGcSize = 71, kGcCollecting = 72,
};

uint64_t word(std::string_view image, int index) {
  uint64_t v;
  std::memcpy(&v, image.data() + index * 8, sizeof v);
  return v;
}

}  // namespace

bool has_debug_offsets(std::string_view image) {
  return image.size() >= 16 && image.substr(0, kDebugOffsetsCookie.size()) == kDebugOffsetsCookie;
}

uint64_t debug_offsets_version(std::string_view image) { return word(image, kVersion); }

absl::StatusOr<Layout> layout_from_debug_offsets_313(std::string_view image, const Layout& base) {
  if (image.size() < kDebugOffsetsSize313 || !has_debug_offsets(image)) {
    return absl::DataLossError("_Py_DebugOffsets is truncated");
  }
  std::string problem;
  // An offset of a field of `size` bytes inside a struct of word(size_index) bytes.
  auto field = [&](int index, int size_index, const char* name, int width = 8) -> int64_t {
    const uint64_t value = word(image, index);
    const uint64_t limit = word(image, size_index);
    // Written so that a huge value cannot wrap around.
    if (limit > (1u << 24) || value > limit || static_cast<uint64_t>(width) > limit - value) {
      if (problem.empty()) {
        problem = absl::StrFormat("offset of %s (%d) outside its struct (%d bytes)", name, value,
                                  limit);
      }
      return -1;
    }
    return static_cast<int64_t>(value);
  };
  Layout layout = base;
  layout.runtime_interpreters_head = field(kRuntimeInterpretersHead, kRuntimeSize, "interpreters.head");
  layout.interp_size = word(image, kInterpSize);
  layout.interp_id = field(kInterpId, kInterpSize, "interp.id");
  layout.interp_next = field(kInterpNext, kInterpSize, "interp.next");
  layout.interp_threads_head = field(kInterpThreadsHead, kInterpSize, "interp.threads.head");
  layout.interp_gc_collecting =
      field(kInterpGc, kInterpSize, "interp.gc") + field(kGcCollecting, kGcSize, "gc.collecting", 4);
  layout.interp_ceval_gil = field(kInterpCevalGil, kInterpSize, "interp.ceval.gil");
  const int64_t gil = field(kInterpGilState, kInterpSize, "interp._gil", 1);
  layout.gil_locked = field(kInterpGilLocked, kInterpSize, "interp._gil.locked", 4) - gil;
  layout.gil_last_holder = field(kInterpGilHolder, kInterpSize, "interp._gil.last_holder") - gil;
  layout.tstate_size = word(image, kTstateSize);
  layout.tstate_prev = field(kTstatePrev, kTstateSize, "tstate.prev");
  layout.tstate_next = field(kTstateNext, kTstateSize, "tstate.next");
  layout.tstate_interp = field(kTstateInterp, kTstateSize, "tstate.interp");
  layout.tstate_frame = field(kTstateFrame, kTstateSize, "tstate.current_frame");
  layout.tstate_thread_id = field(kTstateThreadId, kTstateSize, "tstate.thread_id");
  layout.tstate_native_thread_id = field(kTstateNativeId, kTstateSize, "tstate.native_thread_id");
  layout.tstate_datastack_chunk = field(kTstateDatastack, kTstateSize, "tstate.datastack_chunk");
  layout.iframe_size = word(image, kFrameSize);
  layout.iframe_previous = field(kFramePrevious, kFrameSize, "frame.previous");
  layout.iframe_code = field(kFrameExecutable, kFrameSize, "frame.f_executable");
  layout.iframe_instr = field(kFrameInstr, kFrameSize, "frame.instr_ptr");
  layout.iframe_owner = field(kFrameOwner, kFrameSize, "frame.owner", 1);
  layout.code_filename = field(kCodeFilename, kCodeSize, "code.co_filename");
  layout.code_name = field(kCodeName, kCodeSize, "code.co_name");
  layout.code_qualname = field(kCodeQualname, kCodeSize, "code.co_qualname");
  layout.code_linetable = field(kCodeLinetable, kCodeSize, "code.co_linetable");
  layout.code_firstlineno = field(kCodeFirstLine, kCodeSize, "code.co_firstlineno", 4);
  layout.code_adaptive = field(kCodeAdaptive, kCodeSize, "code.co_code_adaptive", 0);
  layout.object_type = field(kObjectType, kObjectSize, "ob_type");
  layout.type_flags = field(kTypeFlags, kTypeSize, "tp_flags");
  layout.var_size = field(kBytesObSize, kBytesSize, "ob_size");
  layout.bytes_sval = field(kBytesSval, kBytesSize, "ob_sval", 1);
  layout.unicode_state = field(kUnicodeState, kUnicodeSize, "str.state", 4);
  layout.unicode_length = field(kUnicodeLength, kUnicodeSize, "str.length");
  layout.unicode_ascii_size = field(kUnicodeAsciiSize, kUnicodeSize, "sizeof(PyASCIIObject)", 0);
  // For --locals and thread names; the rest of what they need comes from the generated table.
  layout.interp_modules = field(kInterpModules, kInterpSize, "interp.imports.modules");
  layout.iframe_localsplus = field(kFrameLocalsplus, kFrameSize, "frame.localsplus", 0);
  layout.code_localsplusnames = field(kCodeLocalsplusNames, kCodeSize, "code.co_localsplusnames");
  layout.code_localspluskinds = field(kCodeLocalsplusKinds, kCodeSize, "code.co_localspluskinds");
  layout.type_name = field(kTypeName, kTypeSize, "tp_name");
  layout.type_repr = field(kTypeRepr, kTypeSize, "tp_repr");
  layout.tuple_items = field(kTupleItems, kTupleSize, "tuple.ob_item", 0);
  layout.list_items = field(kListItems, kListSize, "list.ob_item");
  layout.dict_keys = field(kDictKeys, kDictSize, "dict.ma_keys");
  layout.dict_values = field(kDictValues, kDictSize, "dict.ma_values");
  layout.float_value = field(kFloatValue, kFloatSize, "float.ob_fval");
  layout.long_tag = field(kLongTag, kLongSize, "long.lv_tag");
  layout.long_digits = field(kLongDigits, kLongSize, "long.ob_digit", 0);
  if (!problem.empty()) {
    return absl::DataLossError("the target's _Py_DebugOffsets cannot be trusted: " + problem);
  }
  // sizeof(PyASCIIObject) is published; the compact header adds utf8_length and utf8.
  layout.unicode_compact_size = layout.unicode_ascii_size + 16;
  layout.unicode_data_any = layout.unicode_compact_size;
  return layout;
}

}  // namespace pystack
