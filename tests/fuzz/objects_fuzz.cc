// str, bytes and int objects of every version decoded from hostile bytes: the object's own
// bytes, and the tp_flags of its type, from the input.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cpython/layout.h"
#include "cpython/long_object.h"
#include "cpython/objects.h"
#include "fake_memory.h"
#include "fuzz_input.h"

namespace {
constexpr uint64_t kObject = 0x10000;
constexpr uint64_t kType = 0x40000;
constexpr uint64_t kMaxDigits = 4096;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pystack;
  fuzz::FuzzInput in(data, size);
  const std::vector<Layout>& layouts = all_layouts();
  const Layout& layout = layouts[in.take<uint8_t>() % layouts.size()];
  const uint64_t flags = in.take<uint64_t>();
  fuzz::FakeMemory memory;
  memory.map(kObject, std::string(in.rest()) + std::string(64, '\0'));
  memory.map(kType, std::string(1024, '\0'));
  memory.poke(kObject + layout.object.type, &kType, sizeof kType);
  memory.poke(kType + layout.type.flags, &flags, sizeof flags);
  ObjectReader objects(memory, layout);
  (void)objects.read_text(kObject);
  (void)objects.read_text(kObject, 16);
  (void)objects.read_bytes(kObject);
  absl::StatusOr<LongHeader> header = read_long_header(memory, layout, kObject);
  if (header.ok() && header->ndigits <= kMaxDigits) {
    (void)read_long_digits(memory, layout, kObject, header->ndigits);
  }
  return 0;
}
