#include "cpython/releases.h"

#include <string>

#include "absl/strings/str_format.h"

namespace pystack {
namespace {

// ---- The tables generated from each minor version's headers (scripts/gen-layouts). ----
const Layout kLayout_2_7 = Layout
#include "cpython/layout_2_7.inc"
    ;
const Layout kLayout_3_6 = Layout
#include "cpython/layout_3_6.inc"
    ;
const Layout kLayout_3_7 = Layout
#include "cpython/layout_3_7.inc"
    ;
const Layout kLayout_3_8 = Layout
#include "cpython/layout_3_8.inc"
    ;
const Layout kLayout_3_9 = Layout
#include "cpython/layout_3_9.inc"
    ;
const Layout kLayout_3_10 = Layout
#include "cpython/layout_3_10.inc"
    ;
const Layout kLayout_3_11 = Layout
#include "cpython/layout_3_11.inc"
    ;
const Layout kLayout_3_12 = Layout
#include "cpython/layout_3_12.inc"
    ;
const Layout kLayout_3_13 = Layout
#include "cpython/layout_3_13.inc"
    ;
const Layout kLayout_3_13t = Layout
#include "cpython/layout_3_13t.inc"
    ;
const Layout kLayout_3_14t = Layout
#include "cpython/layout_3_14t.inc"
    ;
const Layout kLayout_3_14 = Layout
#include "cpython/layout_3_14.inc"
    ;
const Layout kLayout_3_15 = Layout
#include "cpython/layout_3_15.inc"
    ;
const Layout kLayout_3_15t = Layout
#include "cpython/layout_3_15t.inc"
    ;

// ---- faulthandler's dump, each checked against the real interpreters: 3.6 to 3.13.0 (pyenv),
// 3.13.18, 3.14.10 and 3.15.2 (Debian unstable); 3.14.0 from its sources. 2.7 has no
// all-threads dump of its own: it is shown as 3.6 shows it. ----
constexpr FaulthandlerDialect kFaulthandler36{.no_frame = nullptr, .frames_cut = "  ...\n"};
constexpr FaulthandlerDialect kFaulthandler38{.no_frame = "<no Python frame>\n",  // unindented
                                              .frames_cut = "  ...\n"};
constexpr FaulthandlerDialect kFaulthandler310{
    .no_frame = "  <no Python frame>\n", .frames_cut = "  ...\n", .shows_gc = true};
constexpr FaulthandlerDialect kFaulthandler313{
    .no_frame = "  <no Python frame>\n", .frames_cut = nullptr, .shows_gc = true};
// 3.13.10+: gh-140815's "<invalid frame>", backported (checked against 3.13.18).
constexpr FaulthandlerDialect kFaulthandler31310{.no_frame = "  <no Python frame>\n",
                                                 .frames_cut = nullptr,
                                                 .shows_gc = true,
                                                 .invalid_frame = "  <invalid frame>\n"};
constexpr FaulthandlerDialect kFaulthandler314{.no_frame = "  <no Python frame>\n",
                                               .frames_cut = nullptr,
                                               .shows_gc = true,
                                               .shows_os_thread_name = true,
                                               .no_frame_needs_empty_chain = true};
constexpr FaulthandlerDialect kFaulthandler3141{.no_frame = "  <no Python frame>\n",
                                                .frames_cut = nullptr,
                                                .shows_gc = true,
                                                .shows_os_thread_name = true,
                                                .no_frame_needs_empty_chain = true,
                                                .counts_skipped_frames = true,
                                                .invalid_frame = "  <invalid frame>\n"};

// ---- repr(), each checked against the real interpreters' (tests/unit/data/reprs_*). ----
constexpr ReprDialect kRepr27{.python2 = true};
constexpr ReprDialect kRepr36{.module_repr_from_loader = true};
constexpr ReprDialect kRepr312{};

// ---- traceback.format_stack, each checked against the real interpreters. ----
constexpr TracebackDialect kTraceback27{
    .python2 = true, .folds_repeats = false, .unknown_lineno = "???"};
constexpr TracebackDialect kTraceback36{};
constexpr TracebackDialect kTraceback313{.indents_with_textwrap = true, .shows_stdin_alias = true};

// ---- The rows. Each minor version's first row spells out its models; a patch row repeats it
// with what changed (patch_row). ----
constexpr Release kPython27{
    .major = 2, .minor = 7, .layout = &kLayout_2_7,
    .interpreter_list = InterpreterListHead::kStaticInterpHead,
    .gil = GilLocation::kThreadStateCurrent, .gc_flag = GcFlagLocation::kNone,
    .frames = FrameChain::kFrameObjects,
    .instruction_position = InstructionPosition::kLastiBytes,
    .line_table = LineTable::kLnotabUnsigned, .strings = StringModel::kPython2,
    .dicts = DictModel::kPython2Table, .builtin_types = BuiltinTypes::kPython2,
    .builtins_module = "__builtin__", .thread_name_attribute = "_Thread__name",
    .repr = kRepr27, .faulthandler = kFaulthandler36, .traceback = kTraceback27};
// --tasks, from each release's Include/internal/pycore_frame.h (PyFrameState) and
// Lib/asyncio/tools.py with its _remote_debugging; checked against `python -m asyncio ps` of
// 3.14.10 and 3.15.2.
// 3.7-3.13: asyncio.tasks' registries (_all_tasks; 3.12+: _scheduled_tasks and _eager_tasks),
// TaskObj from each release's DWARF, opcodes from its dis.opmap and _PyOpcode_Deopt.
constexpr AsyncioModel kAsyncio37{.registry = TaskRegistry::kModuleGlobals,
                                  .registry_globals = {"_all_tasks", nullptr},
                                  .task = {.loop = 16, .callback0 = 24, .state = 72,
                                           .fut_waiter = 104, .coro = 112},
                                  .awaited = AwaitedObject::kYieldFromOpcode,
                                  .yield_from_opcode = 72};
constexpr AsyncioModel with_task(AsyncioModel model, TaskObjectOffsets task) {
  model.task = task;
  return model;
}
constexpr AsyncioModel kAsyncio38 = with_task(
    kAsyncio37,
    {.loop = 16, .callback0 = 24, .state = 72, .fut_waiter = 104, .coro = 112, .name = 120});
constexpr AsyncioModel kAsyncio39 = with_task(
    kAsyncio37,
    {.loop = 16, .callback0 = 24, .state = 80, .fut_waiter = 144, .coro = 152, .name = 160});
constexpr AsyncioModel kAsyncio310 = with_task(
    kAsyncio37,
    {.loop = 16, .callback0 = 24, .state = 88, .fut_waiter = 152, .coro = 160, .name = 168});
constexpr AsyncioModel kAsyncio311{
    .registry = TaskRegistry::kModuleGlobals,
    .registry_globals = {"_all_tasks", nullptr},
    .task = {.loop = 16, .callback0 = 24, .state = 88, .fut_waiter = 128, .coro = 136, .name = 144},
    .awaited = AwaitedObject::kResumeOparg,
    .resume_opcodes = {151, 150},  // RESUME, RESUME_QUICK
    .frame_cleared = 4,
    .suspended_yield_from = -1};  // FRAME_SUSPENDED
constexpr AsyncioModel kAsyncio312{
    .registry = TaskRegistry::kModuleGlobals,
    .registry_globals = {"_scheduled_tasks", "_eager_tasks"},
    .task = {.loop = 16, .callback0 = 24, .state = 88, .fut_waiter = 128, .coro = 136, .name = 144},
    .awaited = AwaitedObject::kResumeOparg,
    .resume_opcodes = {151, 240},  // RESUME, INSTRUMENTED_RESUME
    .frame_cleared = 4,
    .suspended_yield_from = -1};  // FRAME_SUSPENDED
constexpr AsyncioModel kAsyncio313{
    .registry = TaskRegistry::kModuleGlobals,
    .registry_globals = {"_scheduled_tasks", "_eager_tasks"},
    .task = {.loop = 16, .callback0 = 24, .state = 96, .fut_waiter = 112, .coro = 120, .name = 128},
    .awaited = AwaitedObject::kFrameState,
    .frame_cleared = 4,
    .suspended_yield_from = -1};
constexpr AsyncioModel kAsyncio314{.registry = TaskRegistry::kAsyncioDebug,
                                   .frame_cleared = 4,
                                   .suspended_yield_from = -1,
                                   .ps_main_thread_only = true};
constexpr AsyncioModel kAsyncio315{.registry = TaskRegistry::kAsyncioDebug,
                                   .frame_cleared = 5,
                                   .suspended_yield_from = 2,
                                   .suspended_yield_from_locked = 3,
                                   .awaited_slot = 2};

constexpr Release kPython36{
    .major = 3, .minor = 6, .layout = &kLayout_3_6,
    .interpreter_list = InterpreterListHead::kStaticInterpHead,
    .gil = GilLocation::kThreadStateCurrent, .gc_flag = GcFlagLocation::kNone,
    .repr = kRepr36, .faulthandler = kFaulthandler36, .traceback = kTraceback36};
constexpr Release kPython37{.major = 3, .minor = 7, .layout = &kLayout_3_7,
                            .gc_flag = GcFlagLocation::kRuntime,
                            .asyncio = kAsyncio37,
                             .repr = kRepr36, .faulthandler = kFaulthandler36, .traceback = kTraceback36};
constexpr Release kPython38{.major = 3, .minor = 8, .layout = &kLayout_3_8,
                            .gc_flag = GcFlagLocation::kRuntime,
                            .asyncio = kAsyncio38,
                             .repr = kRepr36, .faulthandler = kFaulthandler38, .traceback = kTraceback36};
constexpr Release kPython39{.major = 3, .minor = 9, .layout = &kLayout_3_9,
                            .asyncio = kAsyncio39,
                             .repr = kRepr36, .faulthandler = kFaulthandler38, .traceback = kTraceback36};
constexpr Release kPython310{.major = 3, .minor = 10, .layout = &kLayout_3_10,
                             .instruction_position = InstructionPosition::kLastiCodeUnits,
                             .line_table = LineTable::kLineTable310,
                             .asyncio = kAsyncio310,
                             .repr = kRepr36, .faulthandler = kFaulthandler310, .traceback = kTraceback36};
constexpr Release kPython311{.major = 3, .minor = 11, .layout = &kLayout_3_11,
                             .version_source = VersionSource::kPyVersion,
                             .frames = FrameChain::kInterpreterFramesViaCFrame,
                             .entry_frames = EntryFrames::kIsEntryField,
                             .instruction_position = InstructionPosition::kInstructionPointer,
                             .line_table = LineTable::kLocationTable,
                             .dicts = DictModel::kKeysWithKind,
                             .managed_dict = ManagedDict::kPointers311,
                             .asyncio = kAsyncio311,
                             .repr = kRepr36, .faulthandler = kFaulthandler310, .traceback = kTraceback36};
constexpr Release kPython312{.major = 3, .minor = 12, .layout = &kLayout_3_12,
                             .version_source = VersionSource::kPyVersion,
                             .gil = GilLocation::kInterpreter,
                             .frames = FrameChain::kInterpreterFramesViaCFrame,
                             .first_skipped_frame_owner = 3,  // FRAME_OWNED_BY_CSTACK: shims
                             .entry_frames = EntryFrames::kShimBelow,
                             .instruction_position = InstructionPosition::kInstructionPointer,
                             .line_table = LineTable::kLocationTable,
                             .long_size = LongSize::kLvTag,
                             .dicts = DictModel::kKeysWithKind,
                             .managed_dict = ManagedDict::kTaggedValues312,
                             .asyncio = kAsyncio312,
                             .repr = kRepr312, .faulthandler = kFaulthandler310, .traceback = kTraceback36};
constexpr Release kPython313{.major = 3, .minor = 13, .layout = &kLayout_3_13,
                             .free_threaded_layout = &kLayout_3_13t,
                             .free_threaded_verified = true,
                             .version_source = VersionSource::kDebugOffsets,
                             .layout_source = LayoutSource::kDebugOffsets313,
                             .gil = GilLocation::kInterpreter,
                             .frames = FrameChain::kInterpreterFrames,
                             .first_skipped_frame_owner = 3,  // FRAME_OWNED_BY_CSTACK: shims
                             .entry_frames = EntryFrames::kShimBelow,
                             .instruction_position = InstructionPosition::kInstructionPointer,
                             .line_table = LineTable::kLocationTable,
                             .long_size = LongSize::kLvTag,
                             .dicts = DictModel::kKeysWithKind,
                             .managed_dict = ManagedDict::kInlineValues313,
                             .unoptimized_fast_locals = UnoptimizedFastLocals::kHiddenOnly,
                             .asyncio = kAsyncio313,
                             .repr = kRepr312, .faulthandler = kFaulthandler313, .traceback = kTraceback313};
// 3.14: FRAME_OWNED_BY_INTERPRETER = 3 (entry frames) and FRAME_OWNED_BY_CSTACK = 4
// (pycore_interpframe_structs.h); 3.15: FRAME_OWNED_BY_INTERPRETER = 3, also the thread state's
// base-frame sentinel. f_executable is a _PyStackRef.
constexpr Release kPython314{.major = 3, .minor = 14, .layout = &kLayout_3_14,
                             .free_threaded_layout = &kLayout_3_14t,
                             .version_source = VersionSource::kDebugOffsets,
                             .layout_source = LayoutSource::kDebugOffsets314,
                             .gil = GilLocation::kInterpreter,
                             .frames = FrameChain::kInterpreterFrames,
                             .code_reference = CodeReference::kStackRef,
                             .first_skipped_frame_owner = 3,
                             .entry_frames = EntryFrames::kShimBelow,
                             .instruction_position = InstructionPosition::kInstructionPointer,
                             .line_table = LineTable::kLocationTable,
                             .long_size = LongSize::kLvTag,
                             .dicts = DictModel::kKeysWithKind,
                             .managed_dict = ManagedDict::kInlineValues313,
                             .unoptimized_fast_locals = UnoptimizedFastLocals::kHiddenOnly,
                             .names_os_threads = true,
                             .asyncio = kAsyncio314,
                             .rlock_recursive_mutex = true,
                             .repr = kRepr312, .faulthandler = kFaulthandler314, .traceback = kTraceback313};

constexpr Release with_asyncio(Release row, AsyncioModel asyncio) {
  row.asyncio = asyncio;
  return row;
}

constexpr Release patch_row(Release row, int first_micro, FaulthandlerDialect faulthandler) {
  row.first_micro = first_micro;
  row.faulthandler = faulthandler;
  return row;
}

constexpr Release with_layout(Release row, int minor, const Layout* layout,
                              const Layout* free_threaded_layout) {
  row.minor = minor;
  row.layout = layout;
  row.free_threaded_layout = free_threaded_layout;
  return row;
}

const Release kReleases[] = {
    kPython27,
    kPython36,
    kPython37,
    kPython38,
    kPython39,
    kPython310,
    kPython311,
    kPython312,
    kPython313,
    patch_row(kPython313, 10, kFaulthandler31310),
    kPython314,
    patch_row(kPython314, 1, kFaulthandler3141),
    // 3.15: 3.14.1's models and formats.
    with_asyncio(with_layout(patch_row(kPython314, 0, kFaulthandler3141), 15, &kLayout_3_15,
                             &kLayout_3_15t),
                 kAsyncio315),
};

bool at_or_after(const PythonVersion& v, const Release& row) {
  return v.at_least(row.major, row.minor, row.first_micro);
}

}  // namespace

std::span<const Release> all_releases() { return kReleases; }

const Layout* find_layout(int major, int minor) {
  const Release* row = find_release(PythonVersion{major, minor, 0, 0});
  return row != nullptr ? row->layout : nullptr;
}

const std::vector<Layout>& all_layouts() {
  static const std::vector<Layout>* layouts = [] {
    auto* out = new std::vector<Layout>;
    for (const Release& row : kReleases) {
      if (row.first_micro == 0) out->push_back(*row.layout);
    }
    return out;
  }();
  return *layouts;
}

const Release* find_release(const PythonVersion& version) {
  const Release* found = nullptr;
  for (const Release& row : kReleases) {
    if (row.major == version.major && row.minor == version.minor && at_or_after(version, row)) {
      found = &row;
    }
  }
  if (found == nullptr) {
    // A micro below every row's (an unknown micro, -1) is the minor's first row.
    for (const Release& row : kReleases) {
      if (row.major == version.major && row.minor == version.minor) return &row;
    }
  }
  return found;
}

const Release& release_of(const Layout& layout) {
  for (const Release& row : kReleases) {
    if (row.major == layout.major && row.minor == layout.minor) return row;
  }
  return newest_release();  // not reached: every Layout is made from a row's
}

const Release& release_at_or_before(const PythonVersion& version) {
  if (const Release* row = find_release(version)) return *row;
  const Release* older = &kReleases[0];
  for (const Release& row : kReleases) {
    if (at_or_after(version, row)) older = &row;
  }
  return *older;
}

const Release& release_shown(const Snapshot& snapshot) {
  return release_at_or_before(snapshot.read_as ? *snapshot.read_as : snapshot.version);
}

const Release& newest_release() { return kReleases[std::size(kReleases) - 1]; }

std::string supported_versions() {
  std::string out;
  for (const Release& row : kReleases) {
    if (row.first_micro != 0) continue;
    if (!out.empty()) out += ", ";
    out += absl::StrFormat("%d.%d", row.major, row.minor);
  }
  return out;
}

}  // namespace pystack
