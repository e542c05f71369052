#include "format/json_writer.h"

#include <cstdio>

#include "format/python_text.h"

namespace pystack {

void append_json_string(std::string& out, std::u32string_view text) {
  out += '"';
  for (char32_t c : text) {
    switch (c) {
      case U'"': out += "\\\""; break;
      case U'\\': out += "\\\\"; break;
      case U'\b': out += "\\b"; break;
      case U'\f': out += "\\f"; break;
      case U'\n': out += "\\n"; break;
      case U'\r': out += "\\r"; break;
      case U'\t': out += "\\t"; break;
      default:
        if (c < 0x20 || (c >= 0xd800 && c <= 0xdfff)) {
          char escape[8];
          std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(c));
          out += escape;
        } else if (c > 0x10ffff) {
          out += "\\ufffd";  // not a code point (corrupt memory): U+FFFD REPLACEMENT CHARACTER
        } else {
          append_utf8_code_point(out, c);
        }
    }
  }
  out += '"';
}

void JsonWriter::newline_and_indent() {
  if (one_line_) return;
  out_ += '\n';
  out_.append(2 * has_members_.size(), ' ');
}

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (has_members_.empty()) return;  // the top-level value
  if (has_members_.back()) out_ += one_line_ ? ", " : ",";
  has_members_.back() = true;
  newline_and_indent();
}

void JsonWriter::begin_object() {
  before_value();
  out_ += '{';
  has_members_.push_back(false);
}

void JsonWriter::end_object() {
  const bool had_members = has_members_.back();
  has_members_.pop_back();
  if (had_members) newline_and_indent();
  out_ += '}';
}

void JsonWriter::begin_array() {
  before_value();
  out_ += '[';
  has_members_.push_back(false);
}

void JsonWriter::end_array() {
  const bool had_members = has_members_.back();
  has_members_.pop_back();
  if (had_members) newline_and_indent();
  out_ += ']';
}

void JsonWriter::key(std::string_view utf8) {
  before_value();
  append_json_string(out_, decode_utf8_surrogateescape(utf8));
  out_ += ": ";
  after_key_ = true;
}

void JsonWriter::string(std::u32string_view text) {
  before_value();
  append_json_string(out_, text);
}

void JsonWriter::string_utf8(std::string_view utf8) {
  before_value();
  append_json_string(out_, decode_utf8_surrogateescape(utf8));
}

void JsonWriter::number(int64_t value) {
  before_value();
  out_ += std::to_string(value);
}

void JsonWriter::unsigned_number(uint64_t value) {
  before_value();
  out_ += std::to_string(value);
}

void JsonWriter::boolean(bool value) {
  before_value();
  out_ += value ? "true" : "false";
}

void JsonWriter::null() {
  before_value();
  out_ += "null";
}

std::string JsonWriter::finish() {
  out_ += '\n';
  return std::move(out_);
}

}  // namespace pystack
