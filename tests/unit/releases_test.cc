// The registry of releases is data the whole walk and every format trust: its rows must be in
// order, each backed by the table generated for its minor version, and agree with what the
// _Py_DebugOffsets reader knows.
#include <gtest/gtest.h>

#include <set>
#include <utility>

#include "cpython/debug_offsets.h"
#include "cpython/releases.h"

namespace pystack {
namespace {

TEST(Releases, RowsAreInOrderAndEachMinorStartsAtItsFirstRelease) {
  std::set<std::pair<int, int>> minors;
  const Release* previous = nullptr;
  for (const Release& row : all_releases()) {
    if (previous != nullptr) {
      const PythonVersion version{row.major, row.minor, row.first_micro, 0};
      const bool after =
          version.at_least(previous->major, previous->minor, previous->first_micro + 1);
      EXPECT_TRUE(after) << row.major << "." << row.minor << "." << row.first_micro;
    }
    if (minors.insert({row.major, row.minor}).second) {
      EXPECT_EQ(row.first_micro, 0) << row.major << "." << row.minor;
    }
    ASSERT_NE(row.layout, nullptr);
    EXPECT_EQ(row.layout->major, row.major);
    EXPECT_EQ(row.layout->minor, row.minor);
    previous = &row;
  }
}

TEST(Releases, TheNewestIsTheNewestDebugOffsetsKnown) {
  EXPECT_EQ(newest_known_debug_offsets(),
            std::make_pair(newest_release().major, newest_release().minor));
}

TEST(Releases, PatchRowsAreFoundByMicro) {
  EXPECT_EQ(find_release({3, 13, 9, 0})->faulthandler.invalid_frame, nullptr);
  EXPECT_NE(find_release({3, 13, 10, 0})->faulthandler.invalid_frame, nullptr);
  EXPECT_FALSE(find_release({3, 14, 0, 0})->faulthandler.counts_skipped_frames);
  EXPECT_TRUE(find_release({3, 14, 1, 0})->faulthandler.counts_skipped_frames);
  // A micro the version did not tell (found by the file's name) is the minor's first row.
  EXPECT_EQ(find_release({3, 10, -1, 0})->minor, 10);
}

TEST(Releases, AnUnknownReleaseHasNoRow) {
  EXPECT_EQ(find_release({3, 5, 0, 0}), nullptr);
  EXPECT_EQ(find_release({3, 16, 0, 0}), nullptr);
  EXPECT_EQ(find_release({4, 0, 0, 0}), nullptr);
  // Only what is shown by hand meets the newest row before it.
  EXPECT_EQ(&release_at_or_before({3, 16, 0, 0}), &newest_release());
}

TEST(Releases, ASnapshotReadAsAnOlderReleaseIsShownAsThatRelease) {
  Snapshot snapshot;
  snapshot.version = {3, 16, 0, 0};
  snapshot.read_as = PythonVersion{3, 15, -1, 0};
  EXPECT_EQ(&release_shown(snapshot), find_release({3, 15, 0, 0}));
}

TEST(Releases, SupportedVersionsNameEachMinorOnce) {
  EXPECT_EQ(supported_versions(),
            "2.7, 3.6, 3.7, 3.8, 3.9, 3.10, 3.11, 3.12, 3.13, 3.14, 3.15");
}

}  // namespace
}  // namespace pystack
