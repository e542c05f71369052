// What the target's linecache makes of a source file's bytes (Lib/linecache.py updatecache):
// Python 3 reads through tokenize.open (PEP 263 coding cookie or UTF-8 BOM, else UTF-8; strict
// decoding; universal newlines), Python 2 reads raw bytes in 'rU' mode. Pure functions: the
// caller reads the file (sources/source_reader).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/snapshot.h"

namespace pystack {

// The codecs decoded here; anything else is decoded by the caller (or not at all).
enum class SourceCodec { kUtf8, kUtf8Sig, kLatin1, kAscii, kOther };

struct SourceEncoding {
  SourceCodec codec = SourceCodec::kUtf8;
  std::string name;  // the codec name tokenize settles on (lower case, "-sig" added after a BOM)
};

// linecache returns no line for these names without looking at the file system: the empty
// name and names like "<string>" (in 2.7 and every 3.x).
bool linecache_skips(std::u32string_view filename);

// tokenize.detect_encoding: the BOM, a cookie on line 1 (or on line 2 after a blank or comment
// line 1), else UTF-8. nullopt where it raises SyntaxError: a first line (or a looked-at second
// line) that is not UTF-8, an unknown codec name (when `known` says so), a BOM with a cookie
// other than "utf-8". `known` is asked about names outside the native codecs.
std::optional<SourceEncoding> detect_source_encoding(
    std::string_view bytes, const PythonVersion& version,
    const std::function<bool(const std::string& codec)>& known);

// Decodes with a native codec (strict, as CPython's codecs); nullopt on a decoding error.
std::optional<std::u32string> decode_source(std::string_view bytes, SourceCodec codec);

// Splits text into lines as readlines() does in universal-newlines mode: "\r\n", "\r" and "\n"
// end a line and become "\n". Like linecache, a last line without a newline gets one.
std::vector<std::u32string> split_universal_lines(std::u32string_view text);

// Decodes `bytes` with a codec that is not native; nullopt when it cannot.
using ForeignDecoder =
    std::function<std::optional<std::u32string>(std::string_view bytes, const std::string& codec)>;

// Asks whether a non-native codec name is known (codecs.lookup succeeds).
using ForeignCodecCheck = std::function<bool(const std::string& codec)>;

// linecache's lines for a file holding `bytes` in the target's `version`; nullopt where it has
// none (undecodable: 3.10+ return [], 3.6..3.9 raise out of format_stack, and both show no
// line). Python 2 lines are the raw bytes as code points 0..255. `foreign`/`foreign_known` may
// be empty: then only the native codecs are read.
std::optional<std::vector<std::u32string>> linecache_lines(std::string_view bytes,
                                                           const PythonVersion& version,
                                                           const ForeignCodecCheck& foreign_known,
                                                           const ForeignDecoder& foreign);

}  // namespace pystack
