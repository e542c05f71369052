// The collapsed-stack ("folded") format that flamegraph.pl, inferno and speedscope read: one line
// per distinct stack, `ROOT;FRAME;FRAME COUNT`, roots and labels as in profile_labels.h.
#pragma once

#include <string>

#include "snapshot/profile.h"

namespace pystack {

// Stacks that give the same labels are merged (their counts summed) and stacks with no samples
// left out; lines are sorted bytewise, so the same profile always gives the same text. The
// format has no escape: inside a label, ';' (the separator) becomes ':', and each control
// character (bytes 0x00-0x1f and 0x7f: a newline would end the line) becomes '?'.
std::string format_folded(const Profile& profile);

}  // namespace pystack
