// An interactive flame graph as one self-contained SVG file (inline CSS and JavaScript, nothing
// fetched), in the manner of flamegraph.pl's output.
#pragma once

#include <string>

#include "snapshot/profile.h"

namespace pystack {

// The merged call tree of every stack, drawn root at the bottom (a flame graph, not an icicle):
// "all", then the process roots (several processes only), the thread roots and the frames, boxes
// named as in profile_labels.h, each as wide as its share of the samples (1200 px wide, 16 px
// rows). Each box is a `<g class="frame" data-name="LABEL" data-samples="N">` holding a <title>
// (the tooltip: label, samples, percentage), a <rect> and a <text> that shows the function's name
// cut to the box (frame boxes also carry it as data-fn). A box narrower than 0.1 px is not drawn,
// nor anything above it: its samples still count in its parent's width, and a zoom cannot bring
// it back (flamegraph.pl's --minwidth does the same).
//
// Clicking a box zooms on it ("Reset Zoom", top left, undoes it); "Search" (top right) asks for a
// regular expression, colours the matching boxes and shows the share of samples they cover
// ("Matched: P%", bottom right; a click on "Reset Search" clears it); the line at the bottom
// left shows the box under the pointer. Frames are coloured with warm hues from a hash of their
// function name, the same name always the same colour; the roots are grey.
std::string format_flamegraph_svg(const Profile& profile);

}  // namespace pystack
