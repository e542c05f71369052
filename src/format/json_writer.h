// A small writer of pretty-printed JSON (two-space indent) or of one line (JSON Lines), enough for format_json: objects,
// arrays, strings, integers, booleans and null, with commas and indentation kept right.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pystack {

// Appends `text` as a JSON string literal: ", \ and control characters escaped (\n, \t, ... or
// \u00XX), lone surrogates as \udXXX (Python's json accepts them; strict parsers may not),
// everything else as UTF-8.
void append_json_string(std::string& out, std::u32string_view text);

class JsonWriter {
 public:
  // `one_line`: no newline or indent inside the document (JSON Lines), ", " and ": " between.
  explicit JsonWriter(bool one_line = false) : one_line_(one_line) {}

  void begin_object();
  void end_object();
  void begin_array();
  void end_array();
  // The key of the next value inside an object (UTF-8; other bytes as surrogateescape does).
  void key(std::string_view utf8);

  void string(std::u32string_view text);
  void string_utf8(std::string_view utf8);  // bytes that are not UTF-8: as surrogateescape does
  void number(int64_t value);
  void unsigned_number(uint64_t value);
  void boolean(bool value);
  void null();

  // The document, with a final newline.
  std::string finish();

 private:
  void before_value();
  void newline_and_indent();

  std::string out_;
  // One entry per open object/array: whether it has a member yet.
  std::vector<bool> has_members_;
  bool after_key_ = false;
  bool one_line_ = false;
};

}  // namespace pystack
