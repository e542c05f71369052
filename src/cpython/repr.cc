#include "cpython/repr.h"

#include <charconv>
#include <cmath>
#include <cstring>

#include "absl/strings/str_format.h"
#include "common/utf8.h"
#include "cpython/unicode_printable.h"

namespace pystack {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

void append_hex(std::string& out, uint32_t value, int width) {
  for (int shift = (width - 1) * 4; shift >= 0; shift -= 4) out.push_back(kHexDigits[(value >> shift) & 0xf]);
}

// CPython's choice of quote for str and bytes: ' unless the text holds ' and no ".
template <typename Text>
char choose_quote(const Text& text) {
  bool single = false, dbl = false;
  for (auto c : text) {
    if (c == U'\'') single = true;
    if (c == U'"') dbl = true;
  }
  return single && !dbl ? '"' : '\'';
}

// Common to every repr: the quote and the backslash escaped, then \t \n \r. True when handled.
bool append_common_escape(std::string& out, char32_t c, char quote) {
  switch (c) {
    case U'\t': out += "\\t"; return true;
    case U'\n': out += "\\n"; return true;
    case U'\r': out += "\\r"; return true;
    case U'\\': out += "\\\\"; return true;
    default: break;
  }
  if (c == static_cast<char32_t>(quote)) {
    out.push_back('\\');
    out.push_back(quote);
    return true;
  }
  return false;
}

// \xNN, \uNNNN or \UNNNNNNNN, the shortest that holds `c`.
void append_escape(std::string& out, char32_t c) {
  if (c <= 0xff) {
    out += "\\x";
    append_hex(out, c, 2);
  } else if (c <= 0xffff) {
    out += "\\u";
    append_hex(out, c, 4);
  } else {
    out += "\\U";
    append_hex(out, c, 8);
  }
}

// A byte, or a code point below 0x100, as every repr writes it: the common escapes, printable
// ASCII as is, the rest as \xNN.
void append_byte(std::string& out, char32_t c, char quote) {
  if (append_common_escape(out, c, quote)) return;
  if (c < U' ' || c >= 0x7f) {
    append_escape(out, c);
  } else {
    out.push_back(static_cast<char>(c));
  }
}

}  // namespace

std::string to_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  append_utf8_backslashreplace(out, text);
  return out;
}

std::string unreadable_marker(uint64_t address) {
  return absl::StrFormat("<unreadable 0x%x>", address);
}

std::string pointer_text(uint64_t address) { return absl::StrFormat("0x%x", address); }

// PyOS_double_to_string(value, 'r', 0, Py_DTSF_ADD_DOT_0): the shortest digits that round-trip
// (std::to_chars gives the same digits as CPython's dtoa mode 0), in exponent form when the
// decimal point position is <= -4 or > 16, else positional with at least one digit after the
// point.
std::string float_repr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  std::to_chars_result result =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  const std::string_view text(buffer, result.ptr - buffer);
  const size_t e = text.find('e');
  std::string_view mantissa = text.substr(0, e);
  const int exponent = std::atoi(std::string(text.substr(e + 1)).c_str());
  std::string out;
  if (!mantissa.empty() && mantissa[0] == '-') {
    out.push_back('-');
    mantissa.remove_prefix(1);
  }
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  const int ndigits = static_cast<int>(digits.size());
  const int decpt = exponent + 1;  // value = 0.DIGITS * 10**decpt
  if (decpt <= -4 || decpt > 16) {
    out.push_back(digits[0]);
    if (ndigits > 1) {
      out.push_back('.');
      out.append(digits, 1, std::string::npos);
    }
    const int exp = decpt - 1;
    out += absl::StrFormat("e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
  } else if (decpt <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-decpt), '0');
    out += digits;
  } else if (decpt >= ndigits) {
    out += digits;
    out.append(static_cast<size_t>(decpt - ndigits), '0');
    out += ".0";
  } else {
    out.append(digits, 0, decpt);
    out.push_back('.');
    out.append(digits, decpt, std::string::npos);
  }
  return out;
}

// Schoolbook conversion: divides the number by 10**9 until it is zero. Quadratic, which the
// callers' bound on the digit count keeps small.
std::string digits_to_decimal(const std::vector<uint32_t>& digits, int shift) {
  std::vector<uint32_t> number(digits.rbegin(), digits.rend());  // most significant first
  const uint64_t mask = shift >= 32 ? 0xffffffffULL : (uint64_t{1} << shift) - 1;
  for (uint32_t& d : number) d = static_cast<uint32_t>(d & mask);
  std::vector<uint32_t> chunks;  // base 10**9, least significant first
  constexpr uint32_t kChunk = 1000000000;
  size_t start = 0;
  while (start < number.size() && number[start] == 0) ++start;
  while (start < number.size()) {
    uint64_t remainder = 0;
    for (size_t i = start; i < number.size(); ++i) {
      const uint64_t current = (remainder << shift) | number[i];
      number[i] = static_cast<uint32_t>(current / kChunk);
      remainder = current % kChunk;
    }
    chunks.push_back(static_cast<uint32_t>(remainder));
    while (start < number.size() && number[start] == 0) ++start;
  }
  if (chunks.empty()) return "0";
  std::string out = absl::StrFormat("%u", chunks.back());
  for (size_t i = chunks.size() - 1; i-- > 0;) out += absl::StrFormat("%09u", chunks[i]);
  return out;
}

// unicode_repr (Objects/unicodeobject.c, 3.x).
std::string str_repr(std::u32string_view text, int major, int minor) {
  const char quote = choose_quote(text);
  std::string out(1, quote);
  for (char32_t c : text) {
    if (c < 0x80) {
      append_byte(out, c, quote);
    } else if (unicode_is_printable(c, major, minor)) {
      append_utf8_backslashreplace(out, std::u32string_view(&c, 1));
    } else {
      append_escape(out, c);
    }
  }
  out.push_back(quote);
  return out;
}

// PyBytes_Repr (3.x) and PyString_Repr (2.7), both with smart quotes.
std::string bytes_repr(std::string_view bytes, bool b_prefix) {
  const char quote = choose_quote(bytes);
  std::string out = b_prefix ? "b" : "";
  out.push_back(quote);
  for (char byte : bytes) append_byte(out, static_cast<unsigned char>(byte), quote);
  out.push_back(quote);
  return out;
}

// unicodeescape_string(..., quotes=1) of 2.7 (a UCS4 build): nothing past 0x7e kept.
std::string unicode_repr_py2(std::u32string_view text) {
  const char quote = choose_quote(text);
  std::string out = "u";
  out.push_back(quote);
  for (char32_t c : text) {
    if (c < 0x100) {
      append_byte(out, c, quote);
    } else {
      append_escape(out, c);
    }
  }
  out.push_back(quote);
  return out;
}

}  // namespace pystack
