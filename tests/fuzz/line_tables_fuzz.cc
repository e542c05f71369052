// The line tables of every version (co_lnotab with unsigned and signed deltas, 3.10's
// co_linetable, 3.11+'s location table) decoded from hostile bytes at any offset.
#include <cstddef>
#include <cstdint>

#include "cpython/line_table.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pystack::fuzz::FuzzInput in(data, size);
  const uint8_t format = in.take<uint8_t>();
  const int first_line = in.take<int32_t>();
  const int byte_offset = in.take<int32_t>();
  const std::string_view table = in.rest();
  switch (format % 4) {
    case 0: pystack::line_from_lnotab(table, first_line, byte_offset, false); break;
    case 1: pystack::line_from_lnotab(table, first_line, byte_offset, true); break;
    case 2: pystack::line_from_line_table_310(table, first_line, byte_offset); break;
    case 3: pystack::line_from_location_table(table, first_line, byte_offset); break;
  }
  return 0;
}
