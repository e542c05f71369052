#include "sources/linecache.h"

#include <algorithm>
#include <cctype>

#include "common/utf8.h"

namespace pystack {
namespace {

constexpr std::string_view kUtf8Bom = "\xef\xbb\xbf";

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// One line as the binary buffer's readline() gives it: up to and including the first "\n".
std::string_view first_line(std::string_view bytes) {
  size_t newline = bytes.find('\n');
  return newline == std::string_view::npos ? bytes : bytes.substr(0, newline + 1);
}

// tokenize._get_normal_name: only the first 12 characters, lower case, "_" as "-".
std::string normal_name(const std::string& original) {
  std::string enc = original.substr(0, 12);
  for (char& c : enc) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (c == '_') c = '-';
  }
  if (enc == "utf-8" || starts_with(enc, "utf-8-")) return "utf-8";
  for (const char* latin : {"latin-1", "iso-8859-1", "iso-latin-1"}) {
    if (enc == latin || starts_with(enc, std::string(latin) + "-")) return "iso-8859-1";
  }
  return original;
}

// codecs.lookup's name normalization: lower case, then encodings.normalize_encoding (runs of
// characters other than letters, digits and "." become one "_", none at either end).
std::string lookup_name(const std::string& name) {
  std::string out;
  bool punct = false;
  for (char raw : name) {
    const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(raw)));
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.') {
      if (punct && !out.empty()) out += '_';
      out += c;
      punct = false;
    } else {
      punct = true;
    }
  }
  return out;
}

// The native codec a name finds through Lib/encodings/aliases.py, or kOther.
SourceCodec native_codec(const std::string& name, const PythonVersion& version) {
  std::string norm = lookup_name(name);
  std::string underscored = norm;
  std::replace(underscored.begin(), underscored.end(), '.', '_');
  const auto is_one_of = [&](std::initializer_list<const char*> names) {
    for (const char* n : names) {
      if (norm == n || underscored == n) return true;
    }
    return false;
  };
  if (is_one_of({"utf_8", "u8", "utf", "utf8", "utf8_ucs2", "utf8_ucs4"})) return SourceCodec::kUtf8;
  // The alias cp65001 -> utf_8 exists from 3.8 on (before, a Windows-only codec).
  if (version.at_least(3, 8) && is_one_of({"cp65001"})) return SourceCodec::kUtf8;
  if (is_one_of({"utf_8_sig"})) return SourceCodec::kUtf8Sig;
  if (is_one_of({"latin_1", "iso8859_1", "8859", "cp819", "csisolatin1", "ibm819", "iso8859",
                 "iso_8859_1", "iso_8859_1_1987", "iso_ir_100", "l1", "latin", "latin1"})) {
    return SourceCodec::kLatin1;
  }
  if (is_one_of({"ascii", "646", "ansi_x3.4_1968", "ansi_x3.4_1986", "ansi_x3_4_1968", "cp367",
                 "csascii", "ibm367", "iso646_us", "iso_646.irv_1991", "iso_ir_6", "us",
                 "us_ascii"})) {
    return SourceCodec::kAscii;
  }
  return SourceCodec::kOther;
}

bool is_word_char(unsigned char c) { return std::isalnum(c) || c == '_'; }

// cookie_re = r'^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)' (re.ASCII) on a line that is valid
// UTF-8: "." matches anything but "\n", so the search may run over non-ASCII bytes.
std::optional<std::string> match_cookie(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\f')) ++i;
  if (i >= line.size() || line[i] != '#') return std::nullopt;
  // The lazy ".*?" (any character but "\n", which only ends the line): the first position
  // from which the rest matches.
  for (size_t start = i + 1; start < line.size() && line[start] != '\n'; ++start) {
    std::string_view rest = line.substr(start);
    if (!starts_with(rest, "coding") || rest.size() < 7 || (rest[6] != ':' && rest[6] != '=')) {
      continue;
    }
    size_t j = 7;
    while (j < rest.size() && (rest[j] == ' ' || rest[j] == '\t')) ++j;
    const size_t name_start = j;
    while (j < rest.size() && (is_word_char(static_cast<unsigned char>(rest[j])) ||
                               rest[j] == '-' || rest[j] == '.')) {
      ++j;
    }
    if (j > name_start) return std::string(rest.substr(name_start, j - name_start));
  }
  return std::nullopt;
}

// blank_re = br'^[ \t\f]*(?:[#\r\n]|$)'
bool is_blank_or_comment(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\f')) ++i;
  return i == line.size() || line[i] == '#' || line[i] == '\r' || line[i] == '\n';
}

// find_cookie's outcome: no cookie, a codec, or SyntaxError.
struct CookieResult {
  bool error = false;
  std::optional<SourceEncoding> encoding;
};

CookieResult find_cookie(std::string_view line, bool bom_found, const PythonVersion& version,
                         const std::function<bool(const std::string&)>& known) {
  std::u32string ignored;
  if (!decode_utf8_strict(line, ignored)) return {true, std::nullopt};
  std::optional<std::string> cookie = match_cookie(line);
  if (!cookie) return {};
  SourceEncoding encoding;
  encoding.name = normal_name(*cookie);
  encoding.codec = native_codec(encoding.name, version);
  if (encoding.codec == SourceCodec::kOther && !(known && known(encoding.name))) {
    return {true, std::nullopt};  // codecs.lookup raised LookupError
  }
  if (bom_found) {
    if (encoding.name != "utf-8") return {true, std::nullopt};
    encoding.name += "-sig";
    encoding.codec = SourceCodec::kUtf8Sig;
  }
  return {false, encoding};
}

}  // namespace

bool linecache_skips(std::u32string_view filename) {
  return filename.empty() || (filename.front() == U'<' && filename.back() == U'>');
}

std::optional<SourceEncoding> detect_source_encoding(
    std::string_view bytes, const PythonVersion& version,
    const std::function<bool(const std::string& codec)>& known) {
  SourceEncoding fallback{SourceCodec::kUtf8, "utf-8"};
  bool bom_found = false;
  std::string_view first = first_line(bytes);
  std::string_view after_first = bytes.substr(first.size());
  if (starts_with(first, kUtf8Bom)) {
    bom_found = true;
    first.remove_prefix(kUtf8Bom.size());
    fallback = {SourceCodec::kUtf8Sig, "utf-8-sig"};
  }
  if (first.empty()) return fallback;
  CookieResult cookie = find_cookie(first, bom_found, version, known);
  if (cookie.error) return std::nullopt;
  if (cookie.encoding) return cookie.encoding;
  if (!is_blank_or_comment(first)) return fallback;
  std::string_view second = first_line(after_first);
  if (second.empty()) return fallback;
  cookie = find_cookie(second, bom_found, version, known);
  if (cookie.error) return std::nullopt;
  if (cookie.encoding) return cookie.encoding;
  return fallback;
}

std::optional<std::u32string> decode_source(std::string_view bytes, SourceCodec codec) {
  std::u32string text;
  switch (codec) {
    case SourceCodec::kUtf8Sig:
      if (starts_with(bytes, kUtf8Bom)) bytes.remove_prefix(kUtf8Bom.size());
      [[fallthrough]];
    case SourceCodec::kUtf8:
      if (!decode_utf8_strict(bytes, text)) return std::nullopt;
      return text;
    case SourceCodec::kLatin1:
      for (char b : bytes) text.push_back(static_cast<unsigned char>(b));
      return text;
    case SourceCodec::kAscii:
      for (char b : bytes) {
        if (static_cast<unsigned char>(b) >= 0x80) return std::nullopt;
        text.push_back(static_cast<unsigned char>(b));
      }
      return text;
    case SourceCodec::kOther:
      break;
  }
  return std::nullopt;
}

std::vector<std::u32string> split_universal_lines(std::u32string_view text) {
  std::vector<std::u32string> lines;
  std::u32string current;
  for (size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    if (c == U'\r' || c == U'\n') {
      if (c == U'\r' && i + 1 < text.size() && text[i + 1] == U'\n') ++i;
      current += U'\n';
      lines.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) lines.push_back(current + U'\n');
  return lines;
}

std::optional<std::vector<std::u32string>> linecache_lines(std::string_view bytes,
                                                           const PythonVersion& version,
                                                           const ForeignCodecCheck& foreign_known,
                                                           const ForeignDecoder& foreign) {
  if (version.major == 2) {
    std::u32string raw;
    raw.reserve(bytes.size());
    for (char b : bytes) raw.push_back(static_cast<unsigned char>(b));
    return split_universal_lines(raw);
  }
  std::optional<SourceEncoding> encoding = detect_source_encoding(bytes, version, foreign_known);
  if (!encoding) return std::nullopt;
  std::optional<std::u32string> text = encoding->codec == SourceCodec::kOther
                                           ? (foreign ? foreign(bytes, encoding->name) : std::nullopt)
                                           : decode_source(bytes, encoding->codec);
  if (!text) return std::nullopt;
  return split_universal_lines(*text);
}

}  // namespace pystack
