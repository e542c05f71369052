// The table `pystack-dump top` shows: per Python function, the samples that were in it (total)
// and those that were in it and nowhere deeper (own), as a pure function of a Profile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "snapshot/profile.h"

namespace pystack {

enum class TopSort { kOwn, kTotal };

// One function, its lines merged: the key is (function, filename).
struct TopRow {
  std::string function;
  std::string filename;
  int64_t own = 0;    // samples whose leaf frame is this function
  int64_t total = 0;  // samples with this function anywhere in the stack, once per stack
};

// Every function of the profile's stacks, sorted by `sort` (descending), then by the other
// count (descending), then by function and filename.
std::vector<TopRow> top_rows(const Profile& profile, TopSort sort);

// The table's lines (no newlines): a header, then at most `max_rows` rows of
// `%Own  %Total  OwnSamples  TotalSamples  Function (file)`, percentages of
// profile.thread_samples with one decimal. Each line is cut to `width` characters (code points;
// 0: not cut).
std::vector<std::string> format_top(const Profile& profile, TopSort sort, size_t max_rows,
                                    size_t width);

}  // namespace pystack
