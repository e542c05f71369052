// Reading a libFuzzer input a piece at a time: every fuzz target takes its choices (a version, a
// format, an offset) from the front of the input and the hostile bytes from the rest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace pystack::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  // The next `sizeof(T)` bytes as a T (zeros past the end).
  template <typename T>
  T take() {
    T value{};
    const size_t n = size_ < sizeof value ? size_ : sizeof value;
    std::memcpy(&value, data_, n);
    data_ += n;
    size_ -= n;
    return value;
  }
  // At most `max` of the next bytes.
  std::string_view bytes(size_t max) {
    const size_t n = size_ < max ? size_ : max;
    std::string_view out(reinterpret_cast<const char*>(data_), n);
    data_ += n;
    size_ -= n;
    return out;
  }
  std::string_view rest() { return bytes(size_); }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_;
  size_t size_;
};

}  // namespace pystack::fuzz
