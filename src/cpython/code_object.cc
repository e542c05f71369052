#include "cpython/code_object.h"

#include "cpython/image.h"

#include <cstring>

#include "cpython/line_table.h"

namespace pystack {
namespace {

// A name or filename that is not readable is shown like a missing one, not as an error.
std::optional<PyText> text_or_none(const ObjectReader& objects, uint64_t address) {
  absl::StatusOr<std::optional<PyText>> text = objects.read_text(address);
  return text.ok() ? *text : std::nullopt;
}

}  // namespace

int code_line_at(const CodeObject& code, const Release& release, int byte_offset) {
  switch (release.line_table) {
    case LineTable::kLocationTable:
      return line_from_location_table(code.line_table, code.first_line, byte_offset);
    case LineTable::kLineTable310:
      return line_from_line_table_310(code.line_table, code.first_line, byte_offset);
    case LineTable::kLnotabSigned:
    case LineTable::kLnotabUnsigned:
      break;
  }
  return line_from_lnotab(code.line_table, code.first_line, byte_offset,
                          /*signed_deltas=*/release.line_table == LineTable::kLnotabSigned);
}

absl::StatusOr<const CodeObject*> CodeCache::get(uint64_t address) {
  absl::StatusOr<Fingerprint> fingerprint = read_fingerprint(address);
  if (!fingerprint.ok()) return fingerprint.status();
  auto it = codes_.find(address);
  if (it != codes_.end() && it->second.fingerprint == *fingerprint) return &it->second.code;
  Entry entry{*fingerprint, decode(address, *fingerprint)};
  entry.code.id = next_id_++;
  if (it != codes_.end()) {
    it->second = std::move(entry);
    return &it->second.code;
  }
  return &codes_.emplace(address, std::move(entry)).first->second.code;
}

// One read of the object's head, which the walk's page cache already holds most of the time.
absl::StatusOr<CodeCache::Fingerprint> CodeCache::read_fingerprint(uint64_t address) const {
  const Layout& layout = objects_.layout();
  uint8_t header[512];
  const int64_t fields_end =
      std::max({layout.object.type, layout.code.filename, layout.code.name, layout.code.qualname,
                layout.code.linetable, layout.code.firstlineno}) + 8;
  if (fields_end > static_cast<int64_t>(sizeof header)) {
    return absl::InternalError("code object layout too large");
  }
  if (absl::Status s = objects_.memory().read(address, header, fields_end); !s.ok()) return s;
  auto field = [&](int64_t offset) { return offset >= 0 ? load_u64(header + offset) : 0; };
  return Fingerprint{field(layout.object.type),   field(layout.code.filename),
                     field(layout.code.name),     field(layout.code.qualname),
                     field(layout.code.linetable),
                     static_cast<uint32_t>(load_i32(header + layout.code.firstlineno))};
}

CodeObject CodeCache::decode(uint64_t address, const Fingerprint& fingerprint) const {
  const Layout& layout = objects_.layout();
  CodeObject code;
  code.filename = text_or_none(objects_, fingerprint[1]);
  code.name = text_or_none(objects_, fingerprint[2]);
  if (layout.code.qualname >= 0) code.qualname = text_or_none(objects_, fingerprint[3]);
  code.first_line = static_cast<int32_t>(static_cast<uint32_t>(fingerprint[5]));
  if (objects_.release().instruction_position == InstructionPosition::kInstructionPointer) {
    code.first_instruction = address + layout.code.adaptive;
  }
  if (const uint64_t table = fingerprint[4]; table != 0) {
    absl::StatusOr<std::string> bytes = objects_.read_bytes(table);
    if (bytes.ok()) code.line_table = *std::move(bytes);
  }
  return code;
}

uint64_t frame_first_instruction(const RemoteMemory& memory, const Layout& layout,
                                 const CodeObject& code, uint64_t code_address,
                                 int32_t tlbc_index) {
  if (layout.code.tlbc < 0 || tlbc_index == 0) return code.first_instruction;
  constexpr int64_t kMaxCopies = 1 << 20;  // one per thread that ran the code at once
  if (tlbc_index < 0 || tlbc_index >= kMaxCopies) return 0;
  absl::StatusOr<uint64_t> array = read_value<uint64_t>(memory, code_address + layout.code.tlbc);
  if (!array.ok() || *array == 0) return 0;
  absl::StatusOr<int64_t> size = read_value<int64_t>(memory, *array);  // _PyCodeArray.size
  if (!size.ok() || tlbc_index >= *size || *size > kMaxCopies) return 0;
  absl::StatusOr<uint64_t> entry =
      read_value<uint64_t>(memory, *array + 8 + 8 * static_cast<uint64_t>(tlbc_index));
  return entry.ok() ? *entry : 0;
}

uint64_t frame_first_instruction_at(const RemoteMemory& memory, const Layout& layout,
                                    const CodeObject& code, uint64_t code_address,
                                    uint64_t frame) {
  int32_t tlbc_index = 0;
  if (layout.iframe.tlbc_index >= 0) {
    absl::StatusOr<int32_t> index = read_value<int32_t>(memory, frame + layout.iframe.tlbc_index);
    if (!index.ok()) return 0;
    tlbc_index = *index;
  }
  return frame_first_instruction(memory, layout, code, code_address, tlbc_index);
}

}  // namespace pystack
