#include "cpython/asyncio_debug_offsets.h"

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace pystack {
namespace {

// Far above any real TaskObj or thread state, far below what a wild value gives.
constexpr uint64_t kMaxStructSize = 1 << 20;

uint64_t word_at(std::span<const uint8_t> bytes, size_t index) {
  uint64_t value = 0;
  std::memcpy(&value, bytes.data() + index * 8, 8);
  return value;
}

// Each offset plus the bytes read there (a pointer, or a two-pointer list node) fits the size.
bool fits(uint64_t size, uint64_t offset, uint64_t width) {
  return size <= kMaxStructSize && offset <= size && width <= size - offset;
}

}  // namespace

absl::StatusOr<AsyncioDebugOffsets> parse_asyncio_debug_offsets(std::span<const uint8_t> bytes) {
  if (bytes.size() < kAsyncioDebugOffsetsSize) {
    return absl::DataLossError(
        absl::StrFormat("AsyncioDebug offsets too short (%d bytes)", bytes.size()));
  }
  AsyncioDebugOffsets o;
  o.task = {word_at(bytes, 0), word_at(bytes, 1), word_at(bytes, 2), word_at(bytes, 3),
            word_at(bytes, 4), word_at(bytes, 5), word_at(bytes, 6)};
  o.interpreter = {word_at(bytes, 7), word_at(bytes, 8)};
  o.thread_state = {word_at(bytes, 9), word_at(bytes, 10), word_at(bytes, 11), word_at(bytes, 12)};
  const bool valid = fits(o.task.size, o.task.name, 8) && fits(o.task.size, o.task.awaited_by, 8) &&
                     fits(o.task.size, o.task.is_task, 1) &&
                     fits(o.task.size, o.task.awaited_by_is_set, 1) &&
                     fits(o.task.size, o.task.coro, 8) && fits(o.task.size, o.task.node, 16) &&
                     fits(o.interpreter.size, o.interpreter.tasks_head, 16) &&
                     fits(o.thread_state.size, o.thread_state.running_loop, 8) &&
                     fits(o.thread_state.size, o.thread_state.running_task, 8) &&
                     fits(o.thread_state.size, o.thread_state.tasks_head, 16);
  if (!valid) return absl::DataLossError("AsyncioDebug offsets out of their structs' bounds");
  return o;
}

}  // namespace pystack
