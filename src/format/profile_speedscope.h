// speedscope's own file format (https://www.speedscope.app/file-format-schema.json): one
// "sampled" profile per thread, frames shared between them.
#pragma once

#include <string>
#include <string_view>

#include "snapshot/profile.h"

namespace pystack {

// The JSON document, `exporter` "pystack-dump VERSION". Each thread with samples is one profile,
// named by its thread label (after its process label when the profile covers several processes);
// the busiest thread's profile is the one speedscope opens. A frame's name is its label
// (profile_labels.h), so that the boxes read as in the other formats, with its file and line
// (when known) as speedscope's own fields. Thread and process roots are not frames here: the
// profile's name stands for them.
//
// Samples are the thread's distinct label paths, root first, in the folded format's order. The
// weights are wall time in "nanoseconds" (count x round(1e9 / rate_hz), pprof's "wall" values):
// speedscope shows time units as "120.00ms" in its tooltips and tables, where "none" shows bare
// counts, and integers keep every sum exact (endValue = the sum of the weights). Without a rate
// (rate_hz <= 0) the weights are the counts, unit "none".
std::string format_speedscope(const Profile& profile, std::string_view version);

}  // namespace pystack
