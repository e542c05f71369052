#include "symbols/getter_code.h"

#include <cstring>

namespace pystack {
namespace {

constexpr std::string_view kEndbr64("\xf3\x0f\x1e\xfa", 4);
constexpr std::string_view kMovRaxRipRelative("\x48\x8b\x05", 3);
constexpr std::string_view kRet("\xc3", 1);
constexpr std::string_view kRepzRet("\xf3\xc3", 2);
constexpr uint64_t kMovLength = 7;  // opcode bytes and a 32-bit displacement

bool take(std::string_view& code, std::string_view prefix) {
  if (!code.starts_with(prefix)) return false;
  code.remove_prefix(prefix.size());
  return true;
}

}  // namespace

std::optional<uint64_t> global_read_by_getter(std::string_view code, uint64_t address) {
  uint64_t mov_at = address;
  if (take(code, kEndbr64)) mov_at += kEndbr64.size();
  if (code.size() < kMovLength || !take(code, kMovRaxRipRelative)) return std::nullopt;
  int32_t displacement;
  std::memcpy(&displacement, code.data(), sizeof displacement);
  code.remove_prefix(sizeof displacement);
  if (!code.starts_with(kRet) && !code.starts_with(kRepzRet)) return std::nullopt;
  // rip-relative: from the end of the mov. Unsigned wrap-around gives a negative displacement.
  return mov_at + kMovLength + static_cast<uint64_t>(static_cast<int64_t>(displacement));
}

}  // namespace pystack
