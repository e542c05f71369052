// UTF-8 and code points: the one encoder and decoders, for the repr rules (cpython/) and the output formats
// (format/). Python 3 text read from a target may hold lone surrogates (filenames decoded with
// surrogateescape, code renamed by code.replace()) and, from corrupt memory, values past
// U+10FFFF; which of these each caller lets through is its choice.
#pragma once

#include <string>
#include <string_view>

namespace pystack {

// Appends one code point as UTF-8 (surrogates too, as 3 bytes: callers decide what to do with
// them first; past U+10FFFF, the 4-byte pattern of its low 21 bits).
void append_utf8_code_point(std::string& out, char32_t c);

// Appends `text` as UTF-8, as print() writes a str to a UTF-8 stream opened with
// errors='backslashreplace': a lone surrogate (which UTF-8 cannot encode) becomes \udXXX, and a
// value past U+10FFFF (corrupt memory) \UXXXXXXXX.
void append_utf8_backslashreplace(std::string& out, std::u32string_view text);

// Decodes UTF-8 the way os.fsdecode() does (errors='surrogateescape'): each byte of an invalid
// sequence becomes U+DC80 + byte. Overlong forms, surrogates and values past U+10FFFF are
// invalid, as in CPython's strict UTF-8 decoder.
std::u32string decode_utf8_surrogateescape(std::string_view bytes);

// Decodes UTF-8 strictly (CPython's 'utf-8' codec); false on the first invalid sequence.
bool decode_utf8_strict(std::string_view bytes, std::u32string& out);

// The inverse of decode_utf8_surrogateescape (os.fsencode): U+DC80..U+DCFF become the byte
// they escape; false for any other surrogate (CPython raises UnicodeEncodeError).
bool encode_utf8_surrogateescape(std::u32string_view text, std::string& out);

}  // namespace pystack
