#include "cpython/layout.h"

namespace pystack {
namespace {

// One entry per generated file; see scripts/gen-layouts.
const std::vector<Layout> kLayouts = {
    Layout
#include "cpython/layout_2_7.inc"
    ,
    Layout
#include "cpython/layout_3_6.inc"
    ,
    Layout
#include "cpython/layout_3_7.inc"
    ,
    Layout
#include "cpython/layout_3_8.inc"
    ,
    Layout
#include "cpython/layout_3_9.inc"
    ,
    Layout
#include "cpython/layout_3_10.inc"
    ,
    Layout
#include "cpython/layout_3_11.inc"
    ,
    Layout
#include "cpython/layout_3_12.inc"
    ,
    Layout
#include "cpython/layout_3_13.inc"
    ,
    Layout
#include "cpython/layout_3_14.inc"
    ,
    Layout
#include "cpython/layout_3_15.inc"
    ,
};

}  // namespace

const Layout* find_layout(int major, int minor) {
  for (const Layout& layout : kLayouts) {
    if (layout.major == major && layout.minor == minor) return &layout;
  }
  return nullptr;
}

const std::vector<Layout>& all_layouts() { return kLayouts; }

}  // namespace pystack
