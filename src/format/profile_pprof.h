// pprof's profile format (github.com/google/pprof, proto/profile.proto), gzipped as `go tool
// pprof` and the other readers expect it. The protobuf encoding is written here by hand: a few
// varints and length-delimited fields do not need a protobuf library.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "snapshot/profile.h"

namespace pystack {

// The encoded, gzipped Profile message:
// - sample_type [samples/count, wall/nanoseconds]: each stack's count, and count x period;
//   period_type wall/nanoseconds, period round(1e9 / rate_hz) (0 without a rate); time_nanos and
//   duration_nanos the profile's;
// - one Function per distinct (function, filename, first_line): name = system_name = the
//   function, its filename and start_line;
// - one Location per ProfileFrame (ids from 1), with one Line (its function, its line, 0 when
//   unknown); then one Location per thread root and per process root (several processes only),
//   each with a Function named by the root's label and filename "": so a flame graph of this
//   file has the same roots as the other formats;
// - one Sample per stack, location ids leaf first (pprof's order) down to the thread and process
//   roots, labelled "thread" (the thread's label), "thread_id" (its native id) and "pid".
// Strings are made valid UTF-8 (U+FFFD for invalid bytes). Fails only when zlib does.
absl::StatusOr<std::string> format_pprof(const Profile& profile);

}  // namespace pystack
