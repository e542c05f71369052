#include "format/profile_pprof.h"

#include <zlib.h>

#include <cmath>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "format/profile_labels.h"

namespace pystack {
namespace {

// ---- protobuf wire format ----

enum WireType : uint32_t { kVarint = 0, kLengthDelimited = 2 };

void put_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out += static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out += static_cast<char>(value);
}

void put_key(std::string& out, uint32_t field, WireType type) {
  put_varint(out, (uint64_t{field} << 3) | type);
}

// int64 and uint64 fields alike: a negative int64 is its two's complement, ten bytes.
void put_int(std::string& out, uint32_t field, int64_t value) {
  put_key(out, field, kVarint);
  put_varint(out, static_cast<uint64_t>(value));
}

void put_bytes(std::string& out, uint32_t field, std::string_view bytes) {
  put_key(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out += bytes;
}

// A packed repeated int64/uint64 field (proto3's default encoding for them).
void put_packed(std::string& out, uint32_t field, const std::vector<uint64_t>& values) {
  std::string packed;
  for (uint64_t v : values) put_varint(packed, v);
  put_bytes(out, field, packed);
}

// ---- profile.proto's field numbers ----

namespace field {
constexpr uint32_t kSampleType = 1, kSample = 2, kLocation = 4, kFunction = 5, kStringTable = 6,
                   kTimeNanos = 9, kDurationNanos = 10, kPeriodType = 11, kPeriod = 12;
constexpr uint32_t kValueTypeType = 1, kValueTypeUnit = 2;
constexpr uint32_t kSampleLocationId = 1, kSampleValue = 2, kSampleLabel = 3;
constexpr uint32_t kLabelKey = 1, kLabelStr = 2, kLabelNum = 3;
constexpr uint32_t kLocationId = 1, kLocationLine = 4;
constexpr uint32_t kLineFunctionId = 1, kLineLine = 2;
constexpr uint32_t kFunctionId = 1, kFunctionName = 2, kFunctionSystemName = 3,
                   kFunctionFilename = 4, kFunctionStartLine = 5;
}  // namespace field

class StringTable {
 public:
  StringTable() { index(""); }  // string_table[0] must be ""

  int64_t index(std::string_view text) {
    std::string valid = valid_utf8(text);
    auto [it, added] = indices_.try_emplace(valid, static_cast<int64_t>(strings_.size()));
    if (added) strings_.push_back(std::move(valid));
    return it->second;
  }

  void encode(std::string& out) const {
    for (const std::string& s : strings_) put_bytes(out, field::kStringTable, s);
  }

 private:
  absl::flat_hash_map<std::string, int64_t> indices_;
  std::vector<std::string> strings_;
};

std::string value_type(StringTable& strings, std::string_view type, std::string_view unit) {
  std::string out;
  put_int(out, field::kValueTypeType, strings.index(type));
  put_int(out, field::kValueTypeUnit, strings.index(unit));
  return out;
}

// Functions and locations, in the order of their ids (from 1).
class Symbols {
 public:
  explicit Symbols(StringTable& strings) : strings_(strings) {}

  uint64_t function(const std::string& name, const std::string& filename, int64_t start_line) {
    auto [it, added] = functions_.try_emplace(std::make_tuple(name, filename, start_line),
                                              functions_.size() + 1);
    if (added) {
      std::string f;
      put_int(f, field::kFunctionId, static_cast<int64_t>(it->second));
      put_int(f, field::kFunctionName, strings_.index(name));
      put_int(f, field::kFunctionSystemName, strings_.index(name));
      put_int(f, field::kFunctionFilename, strings_.index(filename));
      put_int(f, field::kFunctionStartLine, start_line);
      put_bytes(encoded_, field::kFunction, f);
    }
    return it->second;
  }

  uint64_t location(uint64_t function_id, int64_t line) {
    const uint64_t id = ++locations_;
    std::string l, loc;
    put_int(l, field::kLineFunctionId, static_cast<int64_t>(function_id));
    put_int(l, field::kLineLine, line);
    put_int(loc, field::kLocationId, static_cast<int64_t>(id));
    put_bytes(loc, field::kLocationLine, l);
    put_bytes(encoded_, field::kLocation, loc);
    return id;
  }

  // A root (thread or process): a location of its own function, named by its label.
  uint64_t root(const std::string& label) { return location(function(label, "", 0), 0); }

  const std::string& encoded() const { return encoded_; }

 private:
  StringTable& strings_;
  absl::flat_hash_map<std::tuple<std::string, std::string, int64_t>, uint64_t> functions_;
  uint64_t locations_ = 0;
  std::string encoded_;  // the Function and Location messages, in any order (ids link them)
};

struct Roots {
  std::vector<uint64_t> thread;   // by thread index
  std::vector<uint64_t> process;  // by process index; empty with a single process
};

Roots root_locations(const Profile& profile, Symbols& symbols) {
  Roots roots;
  if (shows_process_roots(profile)) {
    for (const ProfileProcess& p : profile.processes) {
      roots.process.push_back(symbols.root(process_label(p)));
    }
  }
  for (const ProfileThread& t : profile.threads) roots.thread.push_back(symbols.root(thread_label(t)));
  return roots;
}

std::string label(StringTable& strings, std::string_view key, const std::string* str,
                  int64_t num) {
  std::string out;
  put_int(out, field::kLabelKey, strings.index(key));
  if (str) {
    put_int(out, field::kLabelStr, strings.index(*str));
  } else {
    put_int(out, field::kLabelNum, num);
  }
  return out;
}

std::string sample(const Profile& profile, const ProfileStack& stack,
                   const std::vector<uint64_t>& frame_locations, const Roots& roots,
                   int64_t period, StringTable& strings) {
  std::vector<uint64_t> locations;
  for (auto f = stack.frames.rbegin(); f != stack.frames.rend(); ++f) {
    if (*f < frame_locations.size()) locations.push_back(frame_locations[*f]);
  }
  const ProfileThread* thread =
      stack.thread < profile.threads.size() ? &profile.threads[stack.thread] : nullptr;
  if (thread) {
    locations.push_back(roots.thread[stack.thread]);
    if (thread->process < roots.process.size()) locations.push_back(roots.process[thread->process]);
  }
  std::string out;
  put_packed(out, field::kSampleLocationId, locations);
  put_packed(out, field::kSampleValue,
             {static_cast<uint64_t>(stack.count), static_cast<uint64_t>(stack.count * period)});
  if (thread) {
    const std::string name = thread_label(*thread);
    put_bytes(out, field::kSampleLabel, label(strings, "thread", &name, 0));
    put_bytes(out, field::kSampleLabel,
              label(strings, "thread_id", nullptr, static_cast<int64_t>(thread->native_id)));
    if (thread->process < profile.processes.size()) {
      put_bytes(out, field::kSampleLabel,
                label(strings, "pid", nullptr, profile.processes[thread->process].pid));
    }
  }
  return out;
}

std::string encode_profile(const Profile& profile) {
  StringTable strings;
  Symbols symbols(strings);
  const int64_t period =
      profile.rate_hz > 0 ? static_cast<int64_t>(std::llround(1e9 / profile.rate_hz)) : 0;

  std::string out;
  put_bytes(out, field::kSampleType, value_type(strings, "samples", "count"));
  put_bytes(out, field::kSampleType, value_type(strings, "wall", "nanoseconds"));

  std::vector<uint64_t> frame_locations;
  for (const ProfileFrame& f : profile.frames) {
    const uint64_t function = symbols.function(f.function, f.filename, f.first_line);
    frame_locations.push_back(symbols.location(function, std::max(f.line, 0)));
  }
  const Roots roots = root_locations(profile, symbols);
  for (const ProfileStack& stack : profile.stacks) {
    if (stack.count <= 0) continue;
    put_bytes(out, field::kSample, sample(profile, stack, frame_locations, roots, period, strings));
  }
  out += symbols.encoded();
  put_int(out, field::kTimeNanos, profile.start_unix_nanos);
  put_int(out, field::kDurationNanos, profile.duration_nanos);
  put_bytes(out, field::kPeriodType, value_type(strings, "wall", "nanoseconds"));
  put_int(out, field::kPeriod, period);
  strings.encode(out);  // last: every string above is in it by now
  return out;
}

absl::StatusOr<std::string> gzip(std::string_view data) {
  z_stream z{};
  // windowBits 15 + 16: a gzip header and trailer around the deflate stream.
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return absl::InternalError(absl::StrCat("zlib: deflateInit2 failed: ", z.msg ? z.msg : ""));
  }
  std::string out(deflateBound(&z, data.size()) + 32, '\0');  // + the gzip header's room
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&z, Z_FINISH);
  const std::string message = z.msg ? z.msg : "";
  out.resize(z.total_out);
  deflateEnd(&z);
  if (result != Z_STREAM_END) {
    return absl::InternalError(absl::StrCat("zlib: deflate failed (", result, ") ", message));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> format_pprof(const Profile& profile) {
  const std::string encoded = encode_profile(profile);
  if (encoded.size() > 0xffffffffu / 2) return absl::InternalError("pprof: profile too large");
  return gzip(encoded);
}

}  // namespace pystack
